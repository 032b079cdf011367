/**
 * Client authentication on the wire (RFC 6749 2.3.1, RFC 7523, Auth0's JSON body): what the token
 * endpoint receives for each method, asserted through msw on the global fetch. Assertions are
 * verified with jose against the public key.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  formUrlEncodeCredential,
} from '../src/index.js';
import {
  certificateThumbprint,
  getTestCertificates,
  haveOpenssl,
  opensslMissingMessage,
} from './helpers/certs.js';
import { testClient } from './helpers/clients.js';
import { type MswRequest, mswTokenEndpoints } from './helpers/msw-token-endpoints.js';
import { thrownBy } from './helpers/outcomes.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

type Received = MswRequest;

const endpoints = mswTokenEndpoints('idp');

function form(r: Received): URLSearchParams {
  return new URLSearchParams(r.body);
}

/** Decodes a Basic header as a conforming server does: base64, split at the first ':', form-decode. */
function decodeBasic(header: string | null): {
  id: string;
  secret: string;
  rawId: string;
  rawSecret: string;
} {
  expect(header).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
  const decoded = Buffer.from((header as string).slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const rawId = decoded.slice(0, colon);
  const rawSecret = decoded.slice(colon + 1);
  const formDecode = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));
  return { id: formDecode(rawId), secret: formDecode(rawSecret), rawId, rawSecret };
}

function client(options: Partial<ClientCredentialsClientOptions> & { tokenEndpoint: string }) {
  return testClient({ clientId: 'client-1', cache: false, ...options });
}

function only<T>(items: T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}

// ---------------------------------------------------------------------------------------------

describe('every token request', () => {
  it('is a POST with grant_type=client_credentials, Accept: application/json, redirect manual, nothing in the URL', async () => {
    const { url, requests: received } = endpoints.add();
    const secret = 'sec/ret+value';
    await client({ tokenEndpoint: url, clientSecret: secret }).getToken();
    const r = only(received);
    expect(r.method).toBe('POST');
    expect(r.url.href).toBe(url);
    expect(r.url.search).toBe('');
    expect(r.headers.get('accept')).toBe('application/json');
    expect(r.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(r.redirect).toBe('manual');
    expect(form(r).get('grant_type')).toBe('client_credentials');
    expect(form(r).getAll('grant_type')).toHaveLength(1);
  });

  it('joins scopes with spaces, repeats resource (RFC 8707), adds audience and extraParams', async () => {
    const { url, requests: received } = endpoints.add();
    await client({
      tokenEndpoint: url,
      clientSecret: 'secret-1',
      audience: 'urn:worldmappers',
      scope: ['geocode:location', 'read:routes'],
      resource: ['https://api.example.test/a', 'https://api.example.test/b'],
      extraParams: { organization: 'org_1' },
    }).getToken();
    const body = form(only(received));
    expect(body.get('scope')).toBe('geocode:location read:routes');
    expect(body.getAll('resource')).toEqual(['https://api.example.test/a', 'https://api.example.test/b']);
    expect(body.get('audience')).toBe('urn:worldmappers');
    expect(body.get('organization')).toBe('org_1');
  });

  it('takes a space-separated scope string and per-call overrides', async () => {
    const { url, requests: received } = endpoints.add();
    const c = client({ tokenEndpoint: url, clientSecret: 'secret-1', scope: 'a b', audience: 'aud-1' });
    await c.getToken({ scope: ['c', 'd', 'c'], audience: 'aud-2', resource: 'https://r.example.test/' });
    const body = form(only(received));
    expect(body.get('scope')).toBe('c d');
    expect(body.get('audience')).toBe('aud-2');
    expect(body.getAll('resource')).toEqual(['https://r.example.test/']);
  });

  it.each(['grant_type', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type'])(
    'refuses extraParams.%s (it would override grant_type or client authentication)',
    async (name) => {
      const { url, requests: received } = endpoints.add();
      const make = () =>
        client({ tokenEndpoint: url, clientSecret: 'secret-1', extraParams: { [name]: 'x' } });
      expect(make).toThrow(ConfigurationError);
      expect(make).toThrow(
        expect.objectContaining({ option: `extraParams.${name}`, code: 'M2M_INVALID_CONFIGURATION' }),
      );
      // The same on a per-call override: nothing is sent.
      const c = client({ tokenEndpoint: url, clientSecret: 'secret-1' });
      await expect(c.getToken({ extraParams: { [name]: 'x' } })).rejects.toMatchObject({
        name: 'ConfigurationError',
        option: `extraParams.${name}`,
      });
      expect(received).toHaveLength(0);
    },
  );
});

// ---------------------------------------------------------------------------------------------

describe('client_secret_basic (RFC 6749 2.3.1)', () => {
  it('is the default method for a secret, and sends the secret only in the header', async () => {
    const { url, requests: received } = endpoints.add();
    await client({ tokenEndpoint: url, clientSecret: 'plain-secret' }).getToken();
    const r = only(received);
    expect(decodeBasic(r.headers.get('authorization'))).toMatchObject({
      id: 'client-1',
      secret: 'plain-secret',
    });
    expect(form(r).has('client_secret')).toBe(false);
    expect(form(r).has('client_assertion')).toBe(false);
  });

  const SPECIAL = " -._~:+/=%&!*'()";
  it('form-urlencodes the id and secret before base64 (Appendix B): unreserved kept, the rest percent-encoded', async () => {
    const { url, requests: received } = endpoints.add();
    const id = `svc${SPECIAL}id`;
    const secret = `s3${SPECIAL}cr3t`;
    await client({ tokenEndpoint: url, clientId: id, clientSecret: secret }).getToken();
    const basic = decodeBasic(only(received).headers.get('authorization'));
    expect(basic.id).toBe(id);
    expect(basic.secret).toBe(secret);
    expect(basic.rawId).toBe('svc+-._~%3A%2B%2F%3D%25%26%21%2A%27%28%29id');
    expect(basic.rawSecret).toBe('s3+-._~%3A%2B%2F%3D%25%26%21%2A%27%28%29cr3t');
    // The only ':' left in the decoded header is the separator.
    expect(Buffer.from(only(received).headers.get('authorization')!.slice(6), 'base64').toString()).toMatch(
      /^[^:]*:[^:]*$/,
    );
  });

  it('leaves typical ids and secrets unchanged', async () => {
    const { url, requests: received } = endpoints.add();
    await client({ tokenEndpoint: url, clientId: 'my-client.v2_x~', clientSecret: 'AbC123-._~' }).getToken();
    const basic = decodeBasic(only(received).headers.get('authorization'));
    expect(basic.rawId).toBe('my-client.v2_x~');
    expect(basic.rawSecret).toBe('AbC123-._~');
  });

  it.each([
    ['a b', 'a+b'],
    ['-._~', '-._~'],
    ['AZaz09', 'AZaz09'],
    ["!*'()", '%21%2A%27%28%29'],
    [':/?#[]@', '%3A%2F%3F%23%5B%5D%40'],
    ['$&+,;=%', '%24%26%2B%2C%3B%3D%25'],
    ['"<>\\^`{|}', '%22%3C%3E%5C%5E%60%7B%7C%7D'],
    ['é', '%C3%A9'],
    ['Ünïcödé', '%C3%9Cn%C3%AFc%C3%B6d%C3%A9'],
    ['日本', '%E6%97%A5%E6%9C%AC'],
    ['🔑', '%F0%9F%94%91'],
    ['\t\n', '%09%0A'],
  ])('formUrlEncodeCredential(%j) = %j (UTF-8, space as +)', (input, expected) => {
    expect(formUrlEncodeCredential(input)).toBe(expected);
    // And a form decoder gets the value back.
    expect(new URLSearchParams(`v=${expected}`).get('v')).toBe(input);
  });

  it('basicAuthEncoding "none" sends the raw values', async () => {
    const { url, requests: received } = endpoints.add();
    await client({ tokenEndpoint: url, clientSecret: 'a+b/c=', basicAuthEncoding: 'none' }).getToken();
    const basic = decodeBasic(only(received).headers.get('authorization'));
    expect(basic.rawSecret).toBe('a+b/c=');
  });

  it('basicAuthEncoding as a function encodes both values', async () => {
    const { url, requests: received } = endpoints.add();
    const encode = vi.fn((v: string) => encodeURIComponent(v));
    await client({ tokenEndpoint: url, clientSecret: "it's (x)", basicAuthEncoding: encode }).getToken();
    expect(encode).toHaveBeenCalledWith('client-1');
    expect(encode).toHaveBeenCalledWith("it's (x)");
    expect(decodeBasic(only(received).headers.get('authorization')).rawSecret).toBe("it's%20(x)");
  });

  it('basicAuthEncoding "none" refuses an id holding ":" (it would move the separator)', () => {
    expect(() =>
      client({
        tokenEndpoint: 'https://a.localhost/t',
        clientId: 'a:b',
        clientSecret: 's',
        basicAuthEncoding: 'none',
      }),
    ).toThrow(expect.objectContaining({ option: 'basicAuthEncoding' }));
  });

  it.each([
    ['clientSecret', 'secret\n', 6],
    ['clientSecret', 'tab\there', 3],
    ['clientSecret', 'next\u0085line', 4],
    ['clientSecret', 'half\ud83dpair', 4],
    ['clientId', 'client\t', 6],
    ['clientId', 'line\u2028sep', 4],
  ] as const)(
    'refuses the %s %j (a control character or half a surrogate pair) up front, naming the option and the position %i',
    (option, value, position) => {
      const opts =
        option === 'clientId'
          ? { clientId: value, clientSecret: 'fine-secret' }
          : { clientId: 'fine-id', clientSecret: value };
      const caught = thrownBy(
        () => new ClientCredentialsClient({ tokenEndpoint: 'https://a.localhost/t', ...opts }),
      );
      expect(caught).toBeInstanceOf(ConfigurationError);
      const error = caught as ConfigurationError;
      expect(error.option).toBe(option);
      expect(error.message).toContain(`options.${option}`);
      expect(error.message).toContain(`position ${position}`);
      expect(error.message).not.toContain(value);
    },
  );

  it.each([
    ['a secret with an accent', 'fine-id', 'sécret', 'fine-id:s%C3%A9cret'],
    ['a secret with a smart quote', 'fine-id', 'smart’quote', 'fine-id:smart%E2%80%99quote'],
    ['a secret with an emoji', 'fine-id', '🔑key', 'fine-id:%F0%9F%94%91key'],
    ['an id with a diaeresis', 'clïent', 'fine-secret', 'cl%C3%AFent:fine-secret'],
  ])(
    'sends %s as form-urlencoded UTF-8 in the Basic header (RFC 6749 2.3.1, Appendix B)',
    async (_, id, secret, expected) => {
      const { url, requests: received } = endpoints.add();
      await client({ tokenEndpoint: url, clientId: id, clientSecret: secret }).getToken();
      const header = only(received).headers.get('authorization') as string;
      expect(Buffer.from(header.slice(6), 'base64').toString('utf8')).toBe(expected);
    },
  );

  it('a refused client with a character outside printable ASCII gets a hint naming the option and position', async () => {
    const { url } = endpoints.add(() => HttpResponse.json({ error: 'invalid_client' }, { status: 401 }));
    const error = (await client({ tokenEndpoint: url, clientId: 'fine-id', clientSecret: 'smart’quote' })
      .getToken()
      .catch((e: unknown) => e)) as { hint?: string; message: string };
    expect(error.hint).toContain(
      'options.clientSecret has a character outside printable ASCII at position 5',
    );
    expect(error.message).not.toContain('smart’quote');
  });
});

// ---------------------------------------------------------------------------------------------

describe('client_secret_post and client_secret_json', () => {
  it('client_secret_post sends client_id and client_secret in the form body, no Authorization header', async () => {
    const { url, requests: received } = endpoints.add();
    const secret = "p@ss w0rd&x=1+'y'";
    await client({ tokenEndpoint: url, clientSecret: secret, authMethod: 'client_secret_post' }).getToken();
    const r = only(received);
    expect(r.headers.get('authorization')).toBeNull();
    expect(form(r).get('client_id')).toBe('client-1');
    expect(form(r).get('client_secret')).toBe(secret);
    expect(form(r).getAll('client_secret')).toHaveLength(1);
    expect(r.url.search).toBe('');
  });

  it('client_secret_json sends one JSON object (Auth0 style)', async () => {
    const { url, requests: received } = endpoints.add();
    await client({
      tokenEndpoint: url,
      clientSecret: 'json-secret',
      authMethod: 'client_secret_json',
      audience: 'urn:worldmappers',
      scope: ['geocode:location', 'read:routes'],
      resource: ['https://a.example.test/', 'https://b.example.test/'],
      extraParams: { organization: 'org_1' },
    }).getToken();
    const r = only(received);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.headers.get('accept')).toBe('application/json');
    expect(r.headers.get('authorization')).toBeNull();
    expect(JSON.parse(r.body)).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-1',
      client_secret: 'json-secret',
      audience: 'urn:worldmappers',
      scope: 'geocode:location read:routes',
      resource: ['https://a.example.test/', 'https://b.example.test/'],
      organization: 'org_1',
    });
  });
});

// ---------------------------------------------------------------------------------------------

type Alg = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

interface KeyCase {
  alg: Alg;
  format: string;
  privateKey: () => Promise<unknown> | unknown;
  publicKey: KeyObject;
  signingAlgorithm?: Alg;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const ed = generateKeyPairSync('ed25519');

const pem = (key: KeyObject, type: 'pkcs8' | 'pkcs1' | 'sec1') =>
  key.export({ format: 'pem', type }) as string;

const KEY_CASES: KeyCase[] = [
  {
    alg: 'RS256',
    format: 'PKCS#8 PEM',
    privateKey: () => pem(rsa.privateKey, 'pkcs8'),
    publicKey: rsa.publicKey,
  },
  {
    alg: 'RS256',
    format: 'PKCS#1 PEM',
    privateKey: () => pem(rsa.privateKey, 'pkcs1'),
    publicKey: rsa.publicKey,
  },
  {
    alg: 'RS256',
    format: 'JWK',
    privateKey: () => rsa.privateKey.export({ format: 'jwk' }),
    publicKey: rsa.publicKey,
  },
  { alg: 'RS256', format: 'KeyObject', privateKey: () => rsa.privateKey, publicKey: rsa.publicKey },
  {
    alg: 'PS256',
    format: 'PKCS#8 PEM',
    privateKey: () => pem(rsa.privateKey, 'pkcs8'),
    publicKey: rsa.publicKey,
    signingAlgorithm: 'PS256',
  },
  {
    alg: 'ES256',
    format: 'PKCS#8 PEM',
    privateKey: () => pem(p256.privateKey, 'pkcs8'),
    publicKey: p256.publicKey,
  },
  {
    alg: 'ES256',
    format: 'SEC1 PEM',
    privateKey: () => pem(p256.privateKey, 'sec1'),
    publicKey: p256.publicKey,
  },
  {
    alg: 'ES256',
    format: 'JWK',
    privateKey: () => p256.privateKey.export({ format: 'jwk' }),
    publicKey: p256.publicKey,
  },
  {
    alg: 'ES384',
    format: 'SEC1 PEM',
    privateKey: () => pem(p384.privateKey, 'sec1'),
    publicKey: p384.publicKey,
  },
  {
    alg: 'ES512',
    format: 'PKCS#8 PEM',
    privateKey: () => pem(p521.privateKey, 'pkcs8'),
    publicKey: p521.publicKey,
  },
  { alg: 'ES512', format: 'KeyObject', privateKey: () => p521.privateKey, publicKey: p521.publicKey },
  {
    alg: 'EdDSA',
    format: 'PKCS#8 PEM',
    privateKey: () => pem(ed.privateKey, 'pkcs8'),
    publicKey: ed.publicKey,
  },
  {
    alg: 'EdDSA',
    format: 'JWK',
    privateKey: () => ed.privateKey.export({ format: 'jwk' }),
    publicKey: ed.publicKey,
  },
];

async function verifyAssertion(
  assertion: string,
  publicKey: KeyObject | CryptoKey | Uint8Array,
  expected: { alg: string; audience: string; clientId?: string },
) {
  const clientId = expected.clientId ?? 'client-1';
  const { payload, protectedHeader } = await jwtVerify(assertion, publicKey, {
    algorithms: [expected.alg],
    issuer: clientId,
    subject: clientId,
    audience: expected.audience,
  });
  return { payload, protectedHeader };
}

function assertionOf(r: Received): string {
  const body = form(r);
  expect(body.get('client_assertion_type')).toBe(ASSERTION_TYPE);
  const assertion = body.get('client_assertion');
  expect(assertion).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  return assertion as string;
}

function checkTimes(payload: JWTPayload, before: number, after: number) {
  const { iat, exp } = payload as { iat: number; exp: number };
  expect(iat).toBeLessThanOrEqual(Math.ceil(after / 1000));
  expect(exp).toBeGreaterThan(Math.floor(before / 1000));
  // RFC 7523 3 / rfc7523bis: short-lived, no more than about two minutes.
  expect(exp - iat).toBeGreaterThan(0);
  expect(exp - iat).toBeLessThanOrEqual(120);
}

describe('private_key_jwt (RFC 7523)', () => {
  it.each(KEY_CASES.map((c) => [`${c.alg} from ${c.format}`, c] as const))(
    'signs a verifiable assertion: %s',
    async (_name, keyCase) => {
      const { url, requests: received } = endpoints.add();
      const before = Date.now();
      await client({
        tokenEndpoint: url,
        privateKey: (await keyCase.privateKey()) as ClientCredentialsClientOptions['privateKey'],
        ...(keyCase.signingAlgorithm ? { signingAlgorithm: keyCase.signingAlgorithm } : {}),
      }).getToken();
      const r = only(received);
      expect(form(r).get('client_id')).toBe('client-1');
      expect(form(r).has('client_secret')).toBe(false);
      expect(r.headers.get('authorization')).toBeNull();
      const { payload, protectedHeader } = await verifyAssertion(assertionOf(r), keyCase.publicKey, {
        alg: keyCase.alg,
        // No issuer known: the token endpoint.
        audience: url,
      });
      expect(protectedHeader.alg).toBe(keyCase.alg);
      expect(protectedHeader.typ).toBe('client-authentication+jwt');
      expect(typeof payload.aud).toBe('string');
      expect(payload.jti).toMatch(/^[\w-]{16,}$/);
      checkTimes(payload, before, Date.now());
    },
  );

  it('signs with a Web Crypto CryptoKey (ES256 and RS256)', async () => {
    for (const alg of ['ES256', 'RS256'] as const) {
      const { publicKey, privateKey } = await generateKeyPair(alg);
      const { url, requests: received } = endpoints.add();
      await client({ tokenEndpoint: url, privateKey }).getToken();
      const { protectedHeader } = await verifyAssertion(assertionOf(only(received)), publicKey, {
        alg,
        audience: url,
      });
      expect(protectedHeader.alg).toBe(alg);
    }
  });

  it('is the default method for a key; kid when given; typ left out with assertionTypHeader:false', async () => {
    const { url, requests: received } = endpoints.add();
    await client({
      tokenEndpoint: url,
      privateKey: pem(p256.privateKey, 'pkcs8'),
      keyId: 'kid-2025',
      assertionTypHeader: false,
    }).getToken();
    const assertion = assertionOf(only(received));
    const header = decodeProtectedHeader(assertion);
    expect(header).toEqual({ alg: 'ES256', kid: 'kid-2025' });
    await verifyAssertion(assertion, p256.publicKey, { alg: 'ES256', audience: url });
  });

  it("a private JWK's own kid is the default keyId; an explicit keyId wins; no kid from a PEM", async () => {
    const jwk = { ...(p256.privateKey.export({ format: 'jwk' }) as JWK), kid: 'jwk-own-kid' };
    const headerSent = async (options: Partial<ClientCredentialsClientOptions>) => {
      const { url, requests: received } = endpoints.add();
      await client({ tokenEndpoint: url, ...options }).getToken();
      const assertion = assertionOf(only(received));
      await verifyAssertion(assertion, p256.publicKey, { alg: 'ES256', audience: url });
      return decodeProtectedHeader(assertion);
    };
    expect((await headerSent({ privateKey: jwk })).kid).toBe('jwk-own-kid');
    expect((await headerSent({ privateKey: jwk, keyId: 'explicit' })).kid).toBe('explicit');
    const { kid: _dropped, ...withoutKid } = jwk;
    expect(await headerSent({ privateKey: withoutKid })).not.toHaveProperty('kid');
    expect(await headerSent({ privateKey: pem(p256.privateKey, 'pkcs8') })).not.toHaveProperty('kid');
  });

  it('assertionAudience overrides the audience, which stays a single string', async () => {
    const { url, requests: received } = endpoints.add();
    await client({
      tokenEndpoint: url,
      privateKey: p256.privateKey,
      assertionAudience: 'https://idp.example.test/',
    }).getToken();
    const { payload } = await verifyAssertion(assertionOf(only(received)), p256.publicKey, {
      alg: 'ES256',
      audience: 'https://idp.example.test/',
    });
    expect(payload.aud).toBe('https://idp.example.test/');
  });

  it('uses the issuer as the audience when it is known (discovery)', async () => {
    let issuer = '';
    const { url, requests } = endpoints.add((request) =>
      request.url.pathname === '/.well-known/oauth-authorization-server'
        ? HttpResponse.json({
            issuer,
            token_endpoint: `${issuer}/oauth2/token`,
            token_endpoint_auth_methods_supported: ['private_key_jwt'],
          })
        : undefined,
    );
    issuer = new URL(url).origin;
    await new ClientCredentialsClient({
      issuer,
      clientId: 'client-1',
      privateKey: p256.privateKey,
      cache: false,
    }).getToken();
    const received = requests.filter((r) => r.url.pathname === '/oauth2/token');
    const { payload } = await verifyAssertion(assertionOf(only(received)), p256.publicKey, {
      alg: 'ES256',
      audience: issuer,
    });
    expect(payload.aud).toBe(issuer);
  });

  it('clockSkewSeconds back-dates iat; exp stays within two minutes of iat', async () => {
    const { url, requests: received } = endpoints.add();
    const c = client({ tokenEndpoint: url, privateKey: p256.privateKey, clockSkewSeconds: 30, retry: false });
    const before = Math.floor(Date.now() / 1000);
    await c.getToken();
    const after = Math.ceil(Date.now() / 1000);
    const { payload } = await verifyAssertion(assertionOf(only(received)), p256.publicKey, {
      alg: 'ES256',
      audience: url,
    });
    const iat = payload.iat as number;
    expect(iat).toBeGreaterThanOrEqual(before - 30);
    expect(iat).toBeLessThanOrEqual(after - 30);
    checkTimes(payload, before * 1000, after * 1000);
  });

  it('keeps exp - iat within two minutes even with the longest lifetime and a skew allowance', async () => {
    const { url, requests: received } = endpoints.add();
    await client({
      tokenEndpoint: url,
      privateKey: p256.privateKey,
      assertionLifetimeSeconds: 120,
      clockSkewSeconds: 30,
    }).getToken();
    const { payload } = await verifyAssertion(assertionOf(only(received)), p256.publicKey, {
      alg: 'ES256',
      audience: url,
    });
    expect((payload.exp as number) - (payload.iat as number)).toBeLessThanOrEqual(120);
    expect(payload.exp as number).toBeGreaterThan(Date.now() / 1000 + 60);
  });

  it('a fresh jti for every request, retries included', async () => {
    const { url, requests: received } = endpoints.add((_, n) =>
      n === 1
        ? HttpResponse.json({ error: 'temporarily_unavailable' }, { status: 503 })
        : HttpResponse.json({ access_token: `at-${n}`, token_type: 'Bearer', expires_in: 3600 }),
    );
    const c = client({
      tokenEndpoint: url,
      privateKey: p256.privateKey,
      retry: { retries: 2, minTimeout: 1, maxTimeout: 1, randomize: false },
    });
    await c.getToken();
    await c.getToken({ forceRefresh: true });
    expect(received).toHaveLength(3);
    const jtis = await Promise.all(
      received.map(async (r) => {
        const { payload } = await verifyAssertion(assertionOf(r), p256.publicKey, {
          alg: 'ES256',
          audience: url,
        });
        return payload.jti;
      }),
    );
    expect(new Set(jtis).size).toBe(3);
    expect(new Set(received.map((r) => form(r).get('client_assertion'))).size).toBe(3);
  });

  describe.skipIf(!haveOpenssl)(
    `with a certificate${haveOpenssl ? '' : ` (${opensslMissingMessage})`}`,
    () => {
      it('adds x5t#S256, the SHA-256 thumbprint of the certificate (RFC 7515 4.1.8)', async () => {
        const certs = await getTestCertificates();
        const { url, requests: received } = endpoints.add();
        await client({
          tokenEndpoint: url,
          authMethod: 'private_key_jwt',
          privateKey: certs.client.key,
          certificate: certs.client.cert,
        }).getToken();
        const assertion = assertionOf(only(received));
        const header = decodeProtectedHeader(assertion);
        expect(header['x5t#S256']).toBe(certificateThumbprint(certs.client.cert));
        await verifyAssertion(assertion, createPublicKey(certs.client.cert), { alg: 'ES256', audience: url });
      });
    },
  );

  it('signs every request with the PEM key it was given: each assertion new and verifying (the import cost is in bench figure 5)', async () => {
    const { url, requests: received } = endpoints.add();
    const c = client({ tokenEndpoint: url, privateKey: pem(rsa.privateKey, 'pkcs1') });
    for (let i = 0; i < 4; i++) await c.getToken({ forceRefresh: true });
    expect(received).toHaveLength(4);
    const assertions = received.map(assertionOf);
    expect(new Set(assertions.map((a) => decodeJwt(a).jti)).size).toBe(4);
    for (const assertion of assertions) {
      await verifyAssertion(assertion, rsa.publicKey, { alg: 'RS256', audience: url });
    }
  });

  it('imports a JWK once per client, not per request (its private part is read only at import)', async () => {
    const { url, requests: received } = endpoints.add();
    const jwk = p256.privateKey.export({ format: 'jwk' });
    let reads = 0;
    const d = jwk.d;
    const counted = { ...jwk };
    Object.defineProperty(counted, 'd', {
      enumerable: true,
      get() {
        reads++;
        return d;
      },
    });
    const c = client({ tokenEndpoint: url, privateKey: counted });
    await c.getToken();
    const readsAfterFirst = reads;
    expect(readsAfterFirst).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await c.getToken({ forceRefresh: true });
    expect(received).toHaveLength(4);
    expect(reads).toBe(readsAfterFirst);
  });

  it('an unreadable key is a ConfigurationError naming privateKey, without key material', async () => {
    const { url, requests: received } = endpoints.add();
    const broken =
      '-----BEGIN PRIVATE KEY-----\nTUlJQ2VBSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NBbUl3Z2dKZUFnRUFBb0dCQUxvbmc=\n-----END PRIVATE KEY-----\n';
    const c = client({ tokenEndpoint: url, privateKey: broken });
    const error = await c.getToken().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ option: 'privateKey' });
    expect((error as Error).message).not.toContain('TUlJQ2VB');
    expect(received).toHaveLength(0);
  });

  it('refuses a public key, a symmetric JWK and an algorithm the key cannot sign with', async () => {
    expect(() =>
      client({ tokenEndpoint: 'https://a.localhost/t', privateKey: rsa.publicKey as never }),
    ).toThrow(expect.objectContaining({ option: 'privateKey' }));
    expect(() =>
      client({
        tokenEndpoint: 'https://a.localhost/t',
        privateKey: { kty: 'oct', k: 'c2VjcmV0' } as JsonWebKey,
      }),
    ).toThrow(expect.objectContaining({ option: 'privateKey' }));
    const publicJwk = await exportJWK(p256.publicKey);
    expect(() =>
      client({ tokenEndpoint: 'https://a.localhost/t', privateKey: publicJwk as JsonWebKey }),
    ).toThrow(expect.objectContaining({ option: 'privateKey' }));
  });

  it('a signingAlgorithm the key cannot sign with is refused by the constructor, whatever the key form', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const webKey = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const forms: Array<[string, unknown]> = [
      ['CryptoKey', webKey.privateKey],
      ['KeyObject', privateKey],
      ['JWK', privateKey.export({ format: 'jwk' })],
      ['PKCS#8 PEM', privateKey.export({ format: 'pem', type: 'pkcs8' })],
      ['SEC1 PEM', privateKey.export({ format: 'pem', type: 'sec1' })],
    ];
    for (const [form, key] of forms) {
      expect(
        () =>
          client({
            tokenEndpoint: 'https://a.localhost/t',
            privateKey: key as JsonWebKey,
            signingAlgorithm: 'RS256',
          }),
        form,
      ).toThrow(expect.objectContaining({ name: 'ConfigurationError', option: 'signingAlgorithm' }));
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('client_secret_jwt (RFC 7523 2.2)', () => {
  it('signs an HS256 assertion with the secret; the secret itself is not sent', async () => {
    const { url, requests: received } = endpoints.add();
    const secret = 'a-shared-secret-of-at-least-32-bytes!!';
    const before = Date.now();
    await client({
      tokenEndpoint: url,
      clientSecret: secret,
      authMethod: 'client_secret_jwt',
      keyId: 'k1',
    }).getToken();
    const r = only(received);
    expect(r.headers.get('authorization')).toBeNull();
    expect(r.body).not.toContain(encodeURIComponent(secret));
    expect(form(r).get('client_id')).toBe('client-1');
    expect(form(r).has('client_secret')).toBe(false);
    const { payload, protectedHeader } = await verifyAssertion(
      assertionOf(r),
      new TextEncoder().encode(secret),
      {
        alg: 'HS256',
        audience: url,
      },
    );
    expect(protectedHeader).toMatchObject({ alg: 'HS256', kid: 'k1', typ: 'client-authentication+jwt' });
    checkTimes(payload, before, Date.now());
  });

  it('HS512 when asked; an asymmetric algorithm is refused', async () => {
    const { url, requests: received } = endpoints.add();
    const secret = 'another-shared-secret-that-is-long-enough-for-hs512-0123456789abcdef';
    await client({
      tokenEndpoint: url,
      clientSecret: secret,
      authMethod: 'client_secret_jwt',
      signingAlgorithm: 'HS512',
    }).getToken();
    await verifyAssertion(assertionOf(only(received)), new TextEncoder().encode(secret), {
      alg: 'HS512',
      audience: url,
    });
    expect(() =>
      client({
        tokenEndpoint: url,
        clientSecret: secret,
        authMethod: 'client_secret_jwt',
        signingAlgorithm: 'ES256',
      }),
    ).toThrow(expect.objectContaining({ option: 'signingAlgorithm' }));
  });
});
