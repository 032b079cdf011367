/**
 * No error message, property, cause or util.inspect output carries the client secret, a private key, a
 * client assertion or a token: for every failure kind and every authentication method, the error is
 * serialised every way a logger might (message, stack, JSON of own properties, util.inspect with
 * showHidden, the cause chain) and searched for each secret in each of its encodings. The same for
 * events, util.inspect(client) and util.inspect(token).
 */
import { generateKeyPairSync } from 'node:crypto';
import { format, inspect } from 'node:util';
import { HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import {
  type AuthMethod,
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  formUrlEncodeCredential,
  type TokenEvent,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { exposures } from './helpers/leaks.js';
import { type MswRequest, mswTokenEndpoints } from './helpers/msw-token-endpoints.js';
import { thrownBy } from './helpers/outcomes.js';

const endpoints = mswTokenEndpoints('secrets');

const SECRET = 'S3cr3t+Value/With=Specials&Spaces here~!*';
const ACCESS_TOKEN = 'LeakCanaryAccessToken0123456789abcdefXYZ';
const JWT_ACCESS_TOKEN =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnktY2xpZW50Iiwic2NvcGUiOiJhIn0.Q2FuYXJ5U2lnbmF0dXJlUGFydDAxMjM0NTY3ODk';
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEY_PEM = ec.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const KEY_JWK = ec.privateKey.export({ format: 'jwk' });

/** Every form in which a secret could leak: raw, the encodings it is sent in, and pieces of keys. */
function forbiddenStrings(assertions: readonly string[], usesSecret: boolean): string[] {
  const pemBody = KEY_PEM.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const basicPayload = Buffer.from(
    `${formUrlEncodeCredential('secrets-client')}:${formUrlEncodeCredential(SECRET)}`,
  ).toString('base64');
  // With private_key_jwt the client has no secret: SECRET is then just text a server may echo.
  const secretForms = usesSecret
    ? [
        SECRET,
        formUrlEncodeCredential(SECRET),
        encodeURIComponent(SECRET),
        new URLSearchParams({ s: SECRET }).toString().slice(2),
        JSON.stringify(SECRET).slice(1, -1),
        basicPayload,
      ]
    : [];
  return [
    ...secretForms,
    ACCESS_TOKEN,
    JWT_ACCESS_TOKEN,
    JWT_ACCESS_TOKEN.split('.')[2]!,
    pemBody.slice(20, 60),
    pemBody.slice(-40),
    KEY_JWK.d!,
    ...assertions.flatMap((a) => [a, a.split('.')[2]!]),
  ];
}

function expectClean(text: string, assertions: readonly string[], usesSecret = true): void {
  for (const secret of forbiddenStrings(assertions, usesSecret)) {
    expect(text, `leaked ${secret.slice(0, 6)}…`).not.toContain(secret);
  }
}

type Responder = (seen: MswRequest, attempt: number) => Response | Promise<Response>;

const echoHtml: Responder = (seen) =>
  new HttpResponse(
    `<html><body><h1>400 Bad Request</h1><pre>Authorization: ${seen.headers.get('authorization')}\n${seen.body}</pre></body></html>`,
    { status: 400, headers: { 'content-type': 'text/html' } },
  );

/** Every way a token request can fail, several of them by a server echoing what it received. */
const FAILURES: ReadonlyArray<readonly [string, Responder, Partial<ClientCredentialsClientOptions>?]> = [
  [
    'OAuth error whose description and uri echo the secret and the request',
    (seen) =>
      HttpResponse.json(
        {
          error: 'invalid_client',
          error_description: `secret "${SECRET}" is wrong; got ${seen.body}; header ${seen.headers.get('authorization')}`,
          error_uri: `https://idp.test/e?secret=${encodeURIComponent(SECRET)}&body=${encodeURIComponent(seen.body)}`,
        },
        { status: 401 },
      ),
  ],
  ['an HTML error page echoing the request body and Authorization header', echoHtml],
  [
    'a 5xx JSON body echoing the request, after retries',
    (seen) =>
      HttpResponse.json(
        {
          message: 'upstream failed',
          request: { body: seen.body, headers: { authorization: seen.headers.get('authorization') } },
        },
        { status: 502 },
      ),
    { retry: { retries: 1, minTimeout: 1 } },
  ],
  [
    'a 2xx carrying error and an access token',
    () =>
      HttpResponse.json({
        error: 'server_error',
        access_token: ACCESS_TOKEN,
        error_description: ACCESS_TOKEN,
      }),
  ],
  [
    'a 2xx with an unusable token type',
    () => HttpResponse.json({ access_token: ACCESS_TOKEN, token_type: 'mac' }),
  ],
  [
    'a 2xx with a JWT access token and an invalid expires_in',
    () => HttpResponse.json({ token_type: 'Bearer', expires_in: 'soon', access_token: JWT_ACCESS_TOKEN }),
  ],
  [
    'a 2xx whose token type field holds the token',
    () => HttpResponse.json({ access_token: ACCESS_TOKEN, token_type: ACCESS_TOKEN }),
  ],
  [
    'a 2xx form-encoded body (not JSON) holding the token',
    () =>
      new HttpResponse(`access_token=${ACCESS_TOKEN}&token_type=bearer&scope=a`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
  ],
  [
    'a 2xx body cut at the read limit inside a long access token',
    () =>
      new HttpResponse(`{"token_type":"mac","access_token":"${ACCESS_TOKEN.repeat(200)}"}`, {
        headers: { 'content-type': 'application/json' },
      }),
  ],
  [
    'a body over the size cap holding the token',
    () =>
      new HttpResponse(`{"access_token":"${ACCESS_TOKEN}","pad":"${'x'.repeat(300 * 1024)}"}`, {
        headers: { 'content-type': 'application/json' },
      }),
  ],
  [
    'a redirect',
    () =>
      new HttpResponse(null, {
        status: 302,
        headers: { location: `https://other.auth.localhost/?t=${ACCESS_TOKEN}` },
      }),
  ],
  [
    'a Retry-After beyond the cap',
    () => HttpResponse.json({ error: 'slow_down' }, { status: 429, headers: { 'retry-after': '600' } }),
  ],
  ['a network error, after retries', () => HttpResponse.error(), { retry: { retries: 1, minTimeout: 1 } }],
  ['a timeout', () => endpoints.never(), { timeoutMs: 50 }],
];

function credentials(method: AuthMethod): Partial<ClientCredentialsClientOptions> {
  switch (method) {
    case 'private_key_jwt':
      return { authMethod: method, privateKey: KEY_PEM };
    default:
      return { authMethod: method, clientSecret: SECRET };
  }
}

const METHODS: readonly AuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_json',
  'client_secret_jwt',
  'private_key_jwt',
];

/** A token endpoint answering with `respond`; `assertions` collects the client assertions it received. */
function endpoint(respond: Responder): { url: string; assertions: string[] } {
  const assertions: string[] = [];
  const { url } = endpoints.add((request, attempt) => {
    const assertion = request.params.get('client_assertion');
    if (assertion) assertions.push(assertion);
    return respond(request, attempt);
  });
  return { url, assertions };
}

function client(
  url: string,
  method: AuthMethod,
  extra: Partial<ClientCredentialsClientOptions> = {},
  events?: TokenEvent[],
) {
  return testClient({
    tokenEndpoint: url,
    clientId: 'secrets-client',
    cache: false,
    ...(events ? { onEvent: (e: TokenEvent) => events.push(e) } : {}),
    ...credentials(method),
    ...extra,
  });
}

describe.each(METHODS)('%s', (method) => {
  const usesSecret = method !== 'private_key_jwt';
  const failures = FAILURES.map(([name, respond, extra]) => ({ name, respond, extra }));
  it.each(failures)('no secret in the error or the events: $name', async ({ respond, extra }) => {
    const { url, assertions } = endpoint(respond);
    const events: TokenEvent[] = [];
    const error = await client(url, method, extra, events)
      .getToken()
      .then(
        () => {
          throw new Error('expected a failure');
        },
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(Error);
    if (method === 'client_secret_jwt' || method === 'private_key_jwt') {
      // The assertions really were sent, so the search for them means something.
      expect(assertions.length).toBeGreaterThan(0);
    }
    expectClean(exposures(error), assertions, usesSecret);
    expect(events.some((e) => e.type === 'token_request_failure')).toBe(true);
    expectClean(JSON.stringify(events), assertions, usesSecret);
    expectClean(
      inspect(events, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
      assertions,
      usesSecret,
    );
  });

  it('no secret in util.inspect(client), JSON.stringify(client), util.inspect(token) or JSON.stringify(token)', async () => {
    const { url, assertions } = endpoint(() =>
      HttpResponse.json({
        access_token: ACCESS_TOKEN,
        token_type: 'Bearer',
        expires_in: 60,
        id_token: JWT_ACCESS_TOKEN,
      }),
    );
    const c = client(url, method);
    const token = await c.getToken();
    expect(token.accessToken).toBe(ACCESS_TOKEN);
    const text = [
      inspect(c, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
      format('%o %O %s', c, c, c),
      JSON.stringify(c),
      inspect(token),
      inspect(token, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
      inspect({ nested: { token } }, { depth: Number.POSITIVE_INFINITY }),
      inspect(token.raw),
      format('%o %O', token, token),
      // JSON loggers (pino's `logger.info({ token })`) serialise this way (issue 15.5).
      JSON.stringify(token),
      JSON.stringify({ token }),
      JSON.stringify(token.raw),
    ].join('\n');
    expect(text).toContain('secrets-client');
    expect(text).toContain('[redacted]');
    expectClean(text, assertions, usesSecret);
  });
});

describe('configuration errors', () => {
  it('an unreadable or mismatched key never shows key material', async () => {
    const { url } = endpoint(() => HttpResponse.json({ access_token: ACCESS_TOKEN, token_type: 'Bearer' }));
    const broken = KEY_PEM.replace(/\n[A-Za-z0-9+/]{8}/, '\n!!!!!!!!');
    // From the constructor (the key's type is known at once) or from the first token request (the key
    // is imported then): the same rule for both.
    const failure = async (options: Partial<ClientCredentialsClientOptions>): Promise<unknown> => {
      try {
        return await client(url, 'private_key_jwt', options).getToken();
      } catch (error) {
        return error;
      }
    };
    const errors = await Promise.all([
      failure({ privateKey: broken }),
      failure({ signingAlgorithm: 'RS256' }),
      failure({ privateKey: { ...KEY_JWK, crv: 'P-384' } as JsonWebKey }),
    ]);
    for (const error of errors) {
      expect(error).toMatchObject({ name: 'ConfigurationError' });
      expectClean(exposures(error), []);
      expect(exposures(error)).not.toContain(broken.slice(40, 80));
    }
  });

  it('a secret given where it does not belong is not echoed', () => {
    const attempts: Array<() => unknown> = [
      () =>
        new ClientCredentialsClient({
          tokenEndpoint: 'https://a.auth.localhost/t',
          clientId: 'c',
          clientSecret: `${SECRET}\n`,
        }),
      () =>
        new ClientCredentialsClient({
          tokenEndpoint: 'https://a.auth.localhost/t',
          clientId: 'c',
          clientSecret: SECRET,
          extraParams: { client_secret: SECRET },
        }),
      () =>
        new ClientCredentialsClient({
          tokenEndpoint: `https://c:${encodeURIComponent(SECRET)}@a.auth.localhost/t`,
          clientId: 'c',
          clientSecret: SECRET,
        }),
      () =>
        new ClientCredentialsClient({
          tokenEndpoint: 'https://a.auth.localhost/t',
          clientId: 'c',
          clientSecret: SECRET,
          headers: { authorization: `Bearer ${ACCESS_TOKEN}` },
        }),
      () =>
        new ClientCredentialsClient({
          tokenEndpoint: 'https://a.auth.localhost/t',
          clientId: 'c',
          privateKey: KEY_PEM.slice(30),
        }),
    ];
    for (const attempt of attempts) {
      const error = thrownBy(attempt);
      expect(error).toMatchObject({ name: 'ConfigurationError' });
      expectClean(exposures(error), []);
    }
  });
});
