/**
 * Option validation: the constructor checks options synchronously and throws a ConfigurationError that
 * names the option (and never echoes a value); defaults are settled in one place.
 */
import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  DEFAULTS,
  ErrorCode,
} from '../src/index.js';
import { thrownBy } from './helpers/outcomes.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';

const ENDPOINT = 'https://idp.auth.localhost/oauth/token';
const base = { tokenEndpoint: ENDPOINT, clientId: 'opt-client', clientSecret: 'opt-secret' };
const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecPem = ecKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

function configError(options: unknown): ConfigurationError {
  const error = thrownBy(() => new ClientCredentialsClient(options as ClientCredentialsClientOptions));
  expect(error).toBeInstanceOf(ConfigurationError);
  expect((error as ConfigurationError).code).toBe(ErrorCode.CONFIGURATION);
  return error as ConfigurationError;
}

/** The authMethod a client settled on (util.inspect shows the non-secret configuration). */
function methodOf(options: ClientCredentialsClientOptions): string | undefined {
  return /authMethod: '([a-z_]+)'/.exec(inspect(new ClientCredentialsClient(options)))?.[1];
}

describe('ConfigurationError names the bad option', () => {
  it.each<[string, unknown, string]>([
    ['no options at all', undefined, '(options)'],
    ['options that are not an object', 'https://idp', '(options)'],
    ['a missing clientId', { tokenEndpoint: ENDPOINT, clientSecret: 's' }, 'clientId'],
    ['an empty clientId', { ...base, clientId: '' }, 'clientId'],
    ['a clientId that is not a string', { ...base, clientId: 42 }, 'clientId'],
    ['both tokenEndpoint and issuer', { ...base, issuer: 'https://idp.auth.localhost/' }, 'tokenEndpoint'],
    ['neither tokenEndpoint nor issuer', { clientId: 'c', clientSecret: 's' }, 'tokenEndpoint'],
    ['a relative tokenEndpoint', { ...base, tokenEndpoint: '/oauth/token' }, 'tokenEndpoint'],
    [
      'a tokenEndpoint with another protocol',
      { ...base, tokenEndpoint: 'ftp://idp.auth.localhost/t' },
      'tokenEndpoint',
    ],
    [
      'an http: tokenEndpoint that is not loopback',
      { ...base, tokenEndpoint: 'http://idp.example.test/t' },
      'tokenEndpoint',
    ],
    [
      'an http: issuer that is not loopback',
      { clientId: 'c', clientSecret: 's', issuer: 'http://idp.example.test/' },
      'issuer',
    ],
    [
      'credentials in the tokenEndpoint URL',
      { ...base, tokenEndpoint: 'https://u:p@idp.auth.localhost/t' },
      'tokenEndpoint',
    ],
    [
      'a fragment in the tokenEndpoint URL (RFC 6749 3.2)',
      { ...base, tokenEndpoint: 'https://idp.auth.localhost/t#x' },
      'tokenEndpoint',
    ],
    ['no credentials at all', { tokenEndpoint: ENDPOINT, clientId: 'c' }, 'clientSecret'],
    ['an empty clientSecret', { ...base, clientSecret: '' }, 'clientSecret'],
    ['a secret and a key without authMethod', { ...base, privateKey: ecPem }, 'authMethod'],
    ['an unknown authMethod', { ...base, authMethod: 'client_secret_magic' }, 'authMethod'],
    [
      'no secret for client_secret_post',
      { tokenEndpoint: ENDPOINT, clientId: 'c', authMethod: 'client_secret_post' },
      'clientSecret',
    ],
    [
      'no secret for client_secret_json',
      { tokenEndpoint: ENDPOINT, clientId: 'c', authMethod: 'client_secret_json' },
      'clientSecret',
    ],
    [
      'no secret for client_secret_jwt',
      { tokenEndpoint: ENDPOINT, clientId: 'c', authMethod: 'client_secret_jwt' },
      'clientSecret',
    ],
    [
      'a key for a secret method',
      { ...base, authMethod: 'client_secret_basic', privateKey: ecPem },
      'privateKey',
    ],
    [
      'no key for private_key_jwt',
      { tokenEndpoint: ENDPOINT, clientId: 'c', authMethod: 'private_key_jwt' },
      'privateKey',
    ],
    [
      'a secret for private_key_jwt',
      { ...base, authMethod: 'private_key_jwt', privateKey: ecPem },
      'clientSecret',
    ],
    [
      'a key that is not a key',
      { tokenEndpoint: ENDPOINT, clientId: 'c', privateKey: 'not a pem' },
      'privateKey',
    ],
    ['a key that is a number', { tokenEndpoint: ENDPOINT, clientId: 'c', privateKey: 42 }, 'privateKey'],
    [
      'a key that is not a key, with an issuer',
      { issuer: 'https://idp.auth.localhost/', clientId: 'c', privateKey: 'not a pem' },
      'privateKey',
    ],
    [
      'a tls_client_auth key that is not a key, with an issuer',
      {
        issuer: 'https://idp.auth.localhost/',
        clientId: 'c',
        authMethod: 'tls_client_auth',
        certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
        privateKey: { kty: 'EC' },
      },
      'privateKey',
    ],
    [
      'an encrypted PEM key',
      {
        tokenEndpoint: ENDPOINT,
        clientId: 'c',
        privateKey: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----',
      },
      'privateKey',
    ],
    [
      'an HS algorithm for private_key_jwt',
      { tokenEndpoint: ENDPOINT, clientId: 'c', privateKey: ecPem, signingAlgorithm: 'HS256' },
      'signingAlgorithm',
    ],
    [
      'an RS algorithm for client_secret_jwt',
      { ...base, authMethod: 'client_secret_jwt', signingAlgorithm: 'RS256' },
      'signingAlgorithm',
    ],
    [
      'an unknown signingAlgorithm',
      { tokenEndpoint: ENDPOINT, clientId: 'c', privateKey: ecPem, signingAlgorithm: 'none' },
      'signingAlgorithm',
    ],
    [
      'a certificate that is not PEM',
      { tokenEndpoint: ENDPOINT, clientId: 'c', privateKey: ecPem, certificate: 'MIIB...' },
      'certificate',
    ],
    [
      'an assertion lifetime over 120 s',
      { ...base, authMethod: 'client_secret_jwt', assertionLifetimeSeconds: 121 },
      'assertionLifetimeSeconds',
    ],
    [
      'an assertion lifetime of 0',
      { ...base, authMethod: 'client_secret_jwt', assertionLifetimeSeconds: 0 },
      'assertionLifetimeSeconds',
    ],
    [
      'a clock skew over 60 s',
      { ...base, authMethod: 'client_secret_jwt', clockSkewSeconds: 61 },
      'clockSkewSeconds',
    ],
    [
      'a negative clock skew',
      { ...base, authMethod: 'client_secret_jwt', clockSkewSeconds: -1 },
      'clockSkewSeconds',
    ],
    ['an unknown basicAuthEncoding', { ...base, basicAuthEncoding: 'base64' }, 'basicAuthEncoding'],
    ['an empty audience', { ...base, audience: '' }, 'audience'],
    ['a scope that is a number', { ...base, scope: 5 }, 'scope'],
    ['a resource list with a number', { ...base, resource: ['https://a/', 5] }, 'resource.1'],
    ['extraParams with a non-string value', { ...base, extraParams: { a: 1 } }, 'extraParams.a'],
    [
      'extraParams.grant_type',
      { ...base, extraParams: { grant_type: 'password' } },
      'extraParams.grant_type',
    ],
    ['extraParams.client_id', { ...base, extraParams: { client_id: 'x' } }, 'extraParams.client_id'],
    [
      'extraParams.client_secret',
      { ...base, extraParams: { client_secret: 'x' } },
      'extraParams.client_secret',
    ],
    [
      'extraParams.client_assertion',
      { ...base, extraParams: { client_assertion: 'x' } },
      'extraParams.client_assertion',
    ],
    [
      'extraParams.client_assertion_type',
      { ...base, extraParams: { client_assertion_type: 'x' } },
      'extraParams.client_assertion_type',
    ],
    ['extraParams.scope (has its own option)', { ...base, extraParams: { scope: 'x' } }, 'extraParams.scope'],
    [
      'extraParams.audience (has its own option)',
      { ...base, extraParams: { audience: 'x' } },
      'extraParams.audience',
    ],
    [
      'extraParams.resource (has its own option)',
      { ...base, extraParams: { resource: 'x' } },
      'extraParams.resource',
    ],
    ['a negative expiryBufferSeconds', { ...base, expiryBufferSeconds: -1 }, 'expiryBufferSeconds'],
    ['a zero defaultLifetimeSeconds', { ...base, defaultLifetimeSeconds: 0 }, 'defaultLifetimeSeconds'],
    ['a zero timeoutMs', { ...base, timeoutMs: 0 }, 'timeoutMs'],
    ['a timeoutMs that is a string', { ...base, timeoutMs: '1000' }, 'timeoutMs'],
    ['allowInsecureHttp that is not a boolean', { ...base, allowInsecureHttp: 'yes' }, 'allowInsecureHttp'],
    ['retry that is true', { ...base, retry: true }, 'retry'],
    ['too many retries', { ...base, retry: { retries: 50 } }, 'retry.retries'],
    ['negative retries', { ...base, retry: { retries: -1 } }, 'retry.retries'],
    ['fractional retries', { ...base, retry: { retries: 1.5 } }, 'retry.retries'],
    ['a retry factor below 1', { ...base, retry: { factor: 0.5 } }, 'retry.factor'],
    [
      'maxTimeout below minTimeout',
      { ...base, retry: { minTimeout: 100, maxTimeout: 10 } },
      'retry.maxTimeout',
    ],
    ['a negative maxRetryAfterMs', { ...base, retry: { maxRetryAfterMs: -1 } }, 'retry.maxRetryAfterMs'],
    ['a header value that is not a string', { ...base, headers: { 'x-a': 1 } }, 'headers.x-a'],
    ['an Authorization header', { ...base, headers: { Authorization: 'Bearer x' } }, 'headers.Authorization'],
    ['a Content-Type header', { ...base, headers: { 'Content-Type': 'text/plain' } }, 'headers.Content-Type'],
    ['an Accept header', { ...base, headers: { accept: 'text/html' } }, 'headers.accept'],
    ['a fetch that is not a function', { ...base, fetch: {} }, 'fetch'],
    ['an onEvent that is not a function', { ...base, onEvent: 'log' }, 'onEvent'],
    ['a cache that is not a TokenCache', { ...base, cache: { get() {} } }, 'cache'],
  ])('%s', (_name, options, option) => {
    const error = configError(options);
    expect(error.option).toBe(option);
    expect(error.message.startsWith(`options.${option}: `)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['options.clientId: must be a string', { ...base, clientId: 42 }],
    ['options.clientId: must be a non-empty string', { ...base, clientId: '' }],
    ['options.retry: must be false or an object', { ...base, retry: true }],
    ['options.retry.retries: must be an integer', { ...base, retry: { retries: 1.5 } }],
    ['options.retry.retries: must be at most 10', { ...base, retry: { retries: 11 } }],
    ['options.timeoutMs: must be greater than 0', { ...base, timeoutMs: 0 }],
    ['options.clockSkewSeconds: must be at most 60', { ...base, clockSkewSeconds: 61 }],
    ['options.authMethod: must be "client_secret_basic" or', { ...base, authMethod: 'basic' }],
    ['options.fetch: must be a fetch-compatible function', { ...base, fetch: 1 }],
    ['options.tokenEndpoint: is not an absolute URL', { ...base, tokenEndpoint: '/oauth/token' }],
    [
      'options.tokenEndpoint: uses the unsupported protocol ftp:',
      { ...base, tokenEndpoint: 'ftp://idp.auth.localhost/t' },
    ],
    [
      'options.tokenEndpoint: must not contain a fragment (RFC 6749 3.2)',
      { ...base, tokenEndpoint: 'https://idp.auth.localhost/t#x' },
    ],
    [
      'options.tokenEndpoint: http: is only allowed for loopback hosts, not idp.example.test; use https',
      { ...base, tokenEndpoint: 'http://idp.example.test/t' },
    ],
  ])('says what is expected: %s', (message, options) => {
    expect(configError(options).message.startsWith(message)).toBe(true);
  });

  it('never echoes the bad value in the message', () => {
    const cases: Array<[unknown, string]> = [
      [{ ...base, tokenEndpoint: 'https://user:hunter2-pass@idp.auth.localhost/t' }, 'hunter2-pass'],
      [{ ...base, clientSecret: 'super-secret-value\n' }, 'super-secret-value'],
      [{ ...base, clientSecret: 12345678 }, '12345678'],
      [
        { tokenEndpoint: ENDPOINT, clientId: 'c', privateKey: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC' },
        'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
      ],
      [{ ...base, extraParams: { grant_type: 'password-grant-secret' } }, 'password-grant-secret'],
    ];
    for (const [options, value] of cases) {
      const error = configError(options);
      expect(error.message).not.toContain(value);
      expect(inspect(error, { showHidden: true, depth: 10 })).not.toContain(value);
    }
  });
});

describe('headers: names and values a token request can carry (RFC 9110 5.1, 5.5)', () => {
  const SECRET = 'k3y-Very-Secret-Value';
  it.each<[string, string, number, string]>([
    ['a line feed', 'k3y-Very\nSecret-Value', 8, 'U+000A'],
    ['a carriage return', 'k3y-Very-Secret\r', 15, 'U+000D'],
    ['a NUL', '\u0000k3y-Very-Secret-Value', 0, 'U+0000'],
    ['a unit separator', 'k3y\u001fVery-Secret-Value', 3, 'U+001F'],
    ['a DEL', 'k3y-Very-Secret-Value\u007f', 21, 'U+007F'],
    ['a character above U+00FF', 'k3y-Very-Secret-Value\u20ac', 21, 'U+20AC'],
  ])(
    'a value with %s: ConfigurationError naming the header and the position, never the value',
    (_n, value, at, code) => {
      const error = configError({ ...base, headers: { 'x-api-key': value } });
      expect(error.option).toBe('headers.x-api-key');
      expect(error.message).toContain(`position ${at}`);
      expect(error.message).toContain(code);
      const shown = `${error.message}\n${inspect(error, { showHidden: true, depth: 10 })}\n${JSON.stringify(error)}`;
      for (const part of SECRET.split('-')) if (part.length >= 4) expect(shown).not.toContain(part);
      expect(shown).not.toContain('k3y-Very');
    },
  );

  it.each<[string, string]>([
    ['a space', 'x api key'],
    ['a colon', 'x-api-key:'],
    ['an empty name', ''],
    ['a line feed', 'x-api\nkey'],
  ])('a name with %s: ConfigurationError naming headers', (_n, name) => {
    const error = configError({ ...base, headers: { [name]: 'v' } });
    expect(error.option.startsWith('headers')).toBe(true);
    expect(error.message).toContain('RFC 9110');
    expect(error.option).not.toMatch(/[\r\n]/);
  });

  it('a value with a tab, spaces and Latin-1 (obs-text) reaches the token endpoint as given', async () => {
    const endpoint = fakeTokenEndpoint();
    const c = new ClientCredentialsClient({
      ...base,
      headers: { 'x-tenant': 'a\tb c', 'x-city': 'Z\u00fcrich' },
      fetch: endpoint.fetch,
    } as ClientCredentialsClientOptions);
    await c.getToken();
    expect(endpoint.requests[0]?.headers.get('x-tenant')).toBe('a\tb c');
    expect(endpoint.requests[0]?.headers.get('x-city')).toBe('Z\u00fcrich');
  });
});

describe('accepted options and defaults', () => {
  it('DEFAULTS holds the documented defaults', () => {
    expect(DEFAULTS).toMatchObject({
      timeoutMs: 10_000,
      expiryBufferSeconds: 60,
      defaultLifetimeSeconds: 300,
      maxResponseBytes: 256 * 1024,
      retry: { retries: 2, factor: 2, randomize: true, maxRetryAfterMs: 10_000 },
    });
  });

  it('defaults authMethod to client_secret_basic with a secret and private_key_jwt with a key', () => {
    expect(methodOf(base)).toBe('client_secret_basic');
    expect(methodOf({ tokenEndpoint: ENDPOINT, clientId: 'c', privateKey: ecPem })).toBe('private_key_jwt');
    expect(methodOf({ tokenEndpoint: ENDPOINT, clientId: 'c', privateKey: ecKey.privateKey })).toBe(
      'private_key_jwt',
    );
    expect(methodOf({ ...base, authMethod: 'client_secret_post' })).toBe('client_secret_post');
  });

  it.each([
    ['http loopback endpoints', { ...base, tokenEndpoint: 'http://127.0.0.1:4000/oauth/token' }],
    ['http localhost', { ...base, tokenEndpoint: 'http://localhost:4000/oauth/token' }],
    ['http [::1]', { ...base, tokenEndpoint: 'http://[::1]:4000/oauth/token' }],
    [
      'http behind a mesh with allowInsecureHttp',
      { ...base, tokenEndpoint: 'http://idp.mesh.test/t', allowInsecureHttp: true },
    ],
    [
      'an issuer instead of a tokenEndpoint',
      { clientId: 'c', clientSecret: 's', issuer: 'https://idp.auth.localhost/' },
    ],
    ['retry: false', { ...base, retry: false }],
    ['a partial retry object', { ...base, retry: { retries: 0 } }],
    ['cache: false', { ...base, cache: false }],
    ['scope as a string', { ...base, scope: 'a b c' }],
    ['resource as a string', { ...base, resource: 'https://api.example.test/' }],
    ['basicAuthEncoding as a function', { ...base, basicAuthEncoding: (v: string) => v }],
    ['a user-agent header', { ...base, headers: { 'user-agent': 'svc/1.0' } }],
    [
      'a secret with every printable ASCII character',
      { ...base, clientSecret: ' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~' },
    ],
    [
      'the longest assertion lifetime and skew',
      { ...base, authMethod: 'client_secret_jwt', assertionLifetimeSeconds: 120, clockSkewSeconds: 60 },
    ],
  ] as const)('accepts %s', (_name, options) => {
    expect(() => new ClientCredentialsClient(options as ClientCredentialsClientOptions)).not.toThrow();
  });

  it('does not keep a reference to a mutable options object: changes after the constructor reach no request', async () => {
    const endpoint = fakeTokenEndpoint();
    const options = {
      tokenEndpoint: ENDPOINT,
      clientId: 'opt-client',
      clientSecret: 'opt-secret',
      audience: 'urn:api',
      scope: ['a'],
      resource: ['https://api.example.test/'],
      extraParams: { organization: 'org_1' } as Record<string, string>,
      headers: { 'x-tenant': 't1' } as Record<string, string>,
      fetch: endpoint.fetch,
    };
    const c = new ClientCredentialsClient(options);
    options.tokenEndpoint = 'https://elsewhere.auth.localhost/oauth/token';
    options.clientSecret = 'changed-secret';
    options.audience = 'urn:other';
    options.scope.push('b');
    options.resource.push('https://other.example.test/');
    options.extraParams.organization = 'org_2';
    options.extraParams.grant_type = 'password';
    options.headers['x-tenant'] = 't2';
    options.headers['x-added'] = 'yes';

    // The defaults, and a per-call selection resolved against them after the change.
    await c.getToken();
    await c.getToken({ audience: 'urn:per-call' });
    expect(endpoint.requests).toHaveLength(2);
    for (const [i, sent] of endpoint.requests.entries()) {
      expect(sent.url).toBe(ENDPOINT);
      expect(sent.headers.get('authorization')).toBe(`Basic ${btoa('opt-client:opt-secret')}`);
      expect(Object.fromEntries(sent.params)).toEqual({
        grant_type: 'client_credentials',
        audience: i === 0 ? 'urn:api' : 'urn:per-call',
        scope: 'a',
        resource: 'https://api.example.test/',
        organization: 'org_1',
      });
      expect(sent.headers.get('x-tenant')).toBe('t1');
      expect(sent.headers.has('x-added')).toBe(false);
    }
    // Per-call resolution still validates against the original defaults.
    await expect(c.getToken({ extraParams: { grant_type: 'x' } })).rejects.toMatchObject({
      option: 'extraParams.grant_type',
    });
  });
});
