/**
 * One case per row of the errors table in docs/errors.md, in the
 * same order: bad responses, bad transports and bad configurations, each with its class, code and
 * fields. The first test checks that the table and these cases list the same situations.
 */
import { readFileSync } from 'node:fs';
import { HttpResponse, http } from 'msw';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  DiscoveryError,
  ErrorCode,
  HttpError,
  M2MTokenError,
  OAuthError,
  OriginNotAllowedError,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { type LoopbackServer, startLoopbackServer } from './helpers/loopback-server.js';
import { mswTokenEndpoints } from './helpers/msw-token-endpoints.js';
import { rejectionOf, thrownBy } from './helpers/outcomes.js';
import { refusedUrl } from './helpers/ports.js';

const endpoints = mswTokenEndpoints('table');
const servers: LoopbackServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** A token endpoint answering attempt n with `respond(n)`; `count()` is the attempts so far. */
function endpoint(respond: (attempt: number) => Response | Promise<Response>) {
  const { url, requests } = endpoints.add((_, n) => respond(n));
  return { url, count: () => requests.length };
}

function client(url: string, options: Partial<ClientCredentialsClientOptions> = {}) {
  return testClient({
    tokenEndpoint: url,
    clientId: 'table-client',
    clientSecret: 'table-secret-value',
    cache: false,
    ...options,
  });
}

const json = (body: unknown, status = 200, headers?: Record<string, string>) =>
  HttpResponse.json(body as Record<string, unknown>, { status, headers });
const text = (body: string, status: number, type = 'text/plain') =>
  new HttpResponse(body, { status, headers: { 'content-type': type } });

/** Requests a token from an endpoint answering `response` once and returns the error. */
async function answer(response: () => Response, options: Partial<ClientCredentialsClientOptions> = {}) {
  const { url } = endpoint(response);
  return rejectionOf(client(url, options).getToken());
}

function expectHttpError(error: unknown, status: number, code: string = ErrorCode.HTTP): HttpError {
  expect(error).toBeInstanceOf(HttpError);
  expect(error).toBeInstanceOf(M2MTokenError);
  expect(error).toMatchObject({ name: 'HttpError', status, code });
  return error as HttpError;
}

function expectConfig(error: unknown, option: string): void {
  expect(error).toBeInstanceOf(ConfigurationError);
  expect(error).toMatchObject({ name: 'ConfigurationError', code: ErrorCode.CONFIGURATION, option });
}

const tokenBody = { access_token: 'table-access-token', token_type: 'Bearer', expires_in: 60 };

type Case = readonly [situation: string, run: () => Promise<void>];

const CASES: readonly Case[] = [
  [
    'the server refuses with an RFC 6749 5.2 error body (e.g. 401 `invalid_client`)',
    async () => {
      const error = await answer(() =>
        json(
          {
            error: 'invalid_client',
            error_description: 'Client authentication failed',
            error_uri: 'https://d.test/e',
          },
          401,
          { 'www-authenticate': 'Basic realm="token"' },
        ),
      );
      expect(error).toBeInstanceOf(OAuthError);
      expect(error).toMatchObject({
        code: ErrorCode.OAUTH,
        error: 'invalid_client',
        errorDescription: 'Client authentication failed',
        errorUri: 'https://d.test/e',
        status: 401,
      });
    },
  ],
  [
    'a 2xx answer whose body carries `error`',
    async () => {
      const error = await answer(() =>
        json({ error: 'access_denied', error_description: 'not granted' }, 200),
      );
      expect(error).toBeInstanceOf(OAuthError);
      expect(error).toMatchObject({ error: 'access_denied', errorDescription: 'not granted', status: 200 });
      expect((error as OAuthError).errorUri).toBeUndefined();
    },
  ],
  [
    'a 5xx HTML page from a gateway, still failing after the retries',
    async () => {
      const { url, count } = endpoint(() =>
        text('<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>', 502, 'text/html'),
      );
      const error = expectHttpError(
        await rejectionOf(client(url, { retry: { retries: 2, minTimeout: 1, maxTimeout: 1 } }).getToken()),
        502,
      );
      expect(count()).toBe(3);
      expect(error.bodySnippet).toContain('502 Bad Gateway');
      expect(error.bodySnippet!.length).toBeLessThanOrEqual(201);
    },
  ],
  [
    'a non-2xx with an empty body',
    async () => {
      const error = expectHttpError(await answer(() => new HttpResponse(null, { status: 400 })), 400);
      expect(error.bodySnippet).toBeUndefined();
    },
  ],
  [
    "a 401 or 403 without an OAuth error body (e.g. Glewlwyd's empty 403): a refused client",
    async () => {
      const error = expectHttpError(await answer(() => new HttpResponse(null, { status: 403 })), 403);
      expect(error.message).toContain('answered 403 with an empty body');
      expect(error.message).toContain('client id "table-client"');
      expect(error.hint).toMatch(/^Check the client id, the client secret, and the authentication method/);
      expect(error.message).toContain(error.hint as string);
    },
  ],
  [
    'a non-2xx JSON body without `error`',
    async () => {
      const error = expectHttpError(await answer(() => json({ message: 'Forbidden' }, 403)), 403);
      expect(error.bodySnippet).toBe('{"message":"Forbidden"}');
      // A 403 to the token request is a refused client: the hint says what to check.
      expect(error.hint).toMatch(/client id/);
    },
  ],
  [
    'a 2xx with an empty body',
    async () => {
      const error = expectHttpError(await answer(() => new HttpResponse(null, { status: 200 })), 200);
      expect(error.bodySnippet).toBeUndefined();
    },
  ],
  [
    'a 2xx with a body that is not JSON',
    async () => {
      const error = expectHttpError(
        await answer(() => text('{"access_token": "x", oops', 200, 'application/json')),
        200,
      );
      expect(error.bodySnippet).toContain('oops');
    },
  ],
  [
    'a 2xx with a JSON array',
    async () => {
      const error = expectHttpError(
        await answer(() => text('[{"token_type":"Bearer"}]', 200, 'application/json')),
        200,
      );
      expect(error.bodySnippet).toBe('[{"token_type":"Bearer"}]');
    },
  ],
  [
    'a 2xx without `access_token`',
    async () => {
      const error = expectHttpError(await answer(() => json({ token_type: 'Bearer', expires_in: 60 })), 200);
      expect(error.message).toMatch(/access_token/);
      expect(error.bodySnippet).toContain('token_type');
    },
  ],
  [
    'a 2xx with an empty or non-string `access_token`',
    async () => {
      expectHttpError(await answer(() => json({ access_token: '', token_type: 'Bearer' })), 200);
      const error = expectHttpError(
        await answer(() => json({ access_token: 12345, token_type: 'Bearer' })),
        200,
      );
      expect(error.message).toMatch(/access_token/);
    },
  ],
  [
    'a 2xx with an `access_token` that is not 1*VSCHAR (CR, LF, NUL, non-ASCII) or begins or ends with a space',
    async () => {
      const error = expectHttpError(
        await answer(() => json({ access_token: 'table\r\ninjected-token', token_type: 'Bearer' })),
        200,
      );
      expect(error.message).toMatch(/VSCHAR/);
      expect(JSON.stringify(error)).not.toContain('injected-token');
      const spaced = expectHttpError(
        await answer(() => json({ access_token: ' spaced-token-value', token_type: 'Bearer' })),
        200,
      );
      expect(spaced.message).toMatch(/space/);
      expect(JSON.stringify(spaced)).not.toContain('spaced-token-value');
    },
  ],
  [
    'a 2xx without `token_type`',
    async () => {
      const error = expectHttpError(await answer(() => json({ access_token: 'table-access-token' })), 200);
      expect(error.message).toMatch(/token_type/);
      expect(error.bodySnippet).not.toContain('table-access-token');
    },
  ],
  [
    'a token type the client cannot use (not Bearer)',
    async () => {
      const error = expectHttpError(await answer(() => json({ ...tokenBody, token_type: 'mac' })), 200);
      expect(error.message).toMatch(/token_type "mac"/);
    },
  ],
  [
    'token type `DPoP` while DPoP is off',
    async () => {
      const error = expectHttpError(await answer(() => json({ ...tokenBody, token_type: 'DPoP' })), 200);
      expect(error.message).toMatch(/token_type "DPoP"/);
    },
  ],
  [
    'a negative `expires_in`',
    async () => {
      const error = expectHttpError(await answer(() => json({ ...tokenBody, expires_in: -5 })), 200);
      expect(error.message).toMatch(/expires_in/);
    },
  ],
  [
    'a non-numeric `expires_in`',
    async () => {
      expectHttpError(await answer(() => json({ ...tokenBody, expires_in: 'one hour' })), 200);
      const error = expectHttpError(await answer(() => json({ ...tokenBody, expires_in: true })), 200);
      expect(error.message).toMatch(/expires_in/);
    },
  ],
  [
    'a valid token body with a wrong Content-Type (`text/plain`)',
    async () => {
      const { url } = endpoint(() => text(JSON.stringify(tokenBody), 200, 'text/plain'));
      const token = await client(url).getToken();
      expect(token.accessToken).toBe('table-access-token');
      expect(token.tokenType).toBe('Bearer');
    },
  ],
  [
    'a body over the size cap (256 KiB)',
    async () => {
      const big = JSON.stringify({ ...tokenBody, padding: 'x'.repeat(256 * 1024) });
      const error = expectHttpError(
        await answer(() => text(big, 200, 'application/json')),
        200,
        ErrorCode.RESPONSE_TOO_LARGE,
      );
      expect(error.bodySnippet).toBeUndefined();
    },
  ],
  [
    'a body over the cap once decoded (a gzip or brotli bomb), whatever its headers say',
    async () => {
      const { gzipSync } = await import('node:zlib');
      const bomb = gzipSync(JSON.stringify({ ...tokenBody, padding: 'x'.repeat(1024 * 1024) }));
      const error = expectHttpError(
        await answer(
          () =>
            new HttpResponse(bomb, {
              headers: {
                'content-type': 'application/json',
                'content-encoding': 'gzip',
                'content-length': String(bomb.length),
              },
            }),
        ),
        200,
        ErrorCode.RESPONSE_TOO_LARGE,
      );
      expect(error.bodySnippet).toBeUndefined();
    },
  ],
  [
    'a redirect (3xx) from the token endpoint: not followed',
    async () => {
      let followed = 0;
      endpoints.server.use(
        http.all('https://elsewhere.auth.localhost/*', () => {
          followed++;
          return json(tokenBody);
        }),
      );
      const error = expectHttpError(
        await answer(
          () =>
            new HttpResponse(null, {
              status: 302,
              headers: { location: 'https://elsewhere.auth.localhost/t' },
            }),
          {
            retry: { retries: 2, minTimeout: 1 },
          },
        ),
        302,
        ErrorCode.REDIRECT,
      );
      expect(error.message).toMatch(/redirect/);
      expect(followed).toBe(0);
    },
  ],
  [
    '429/503 with a `Retry-After` beyond `retry.maxRetryAfterMs`',
    async () => {
      const before = Date.now();
      const { url, count } = endpoint(() => json({ error: 'slow_down' }, 429, { 'retry-after': '120' }));
      const error = expectHttpError(
        await rejectionOf(client(url, { retry: { retries: 2, maxPauseMs: 300_000 } }).getToken()),
        429,
        ErrorCode.RETRY_LATER,
      );
      expect(count()).toBe(1);
      expect(error.retryAt).toBeGreaterThanOrEqual(before + 120_000);
      expect(error.retryAt).toBeLessThanOrEqual(Date.now() + 120_000);
    },
  ],
  [
    'a new request from that client while the pause is in force',
    async () => {
      const { url, count } = endpoint(() => text('busy', 503, 'text/plain'));
      endpoints.server.use(
        http.post(url, () => new HttpResponse('busy', { status: 503, headers: { 'retry-after': '600' } }), {
          once: true,
        }),
      );
      const paused = client(url);
      const first = expectHttpError(await rejectionOf(paused.getToken()), 503, ErrorCode.RETRY_LATER);
      // The same client's next call fails fast, without a request.
      const second = expectHttpError(await rejectionOf(paused.getToken()), 503, ErrorCode.RETRY_LATER);
      expect(second.retryAt).toBe(first.retryAt);
      expect(count()).toBe(0);
    },
  ],
  [
    'no answer, or a body that trickles, within `timeoutMs` (each attempt)',
    async () => {
      const url = await trickleServer();
      const error = await rejectionOf(client(url, { timeoutMs: 500 }).getToken());
      expect(error).toBeInstanceOf(M2MTokenError);
      expect(error).toMatchObject({ name: 'M2MTokenError', code: ErrorCode.TIMEOUT });
      expect((error as Error).message).toContain(url);
      expect(((error as Error).cause as DOMException).name).toBe('TimeoutError');
    },
  ],
  [
    'the connection fails (refused, reset, DNS)',
    async () => {
      const url = await refusedUrl();
      const error = await rejectionOf(client(url).getToken());
      expect(error).toBeInstanceOf(M2MTokenError);
      expect(error).toMatchObject({ name: 'M2MTokenError', code: ErrorCode.NETWORK });
      expect((error as Error).message).toContain(url);
      expect((error as Error).cause).toBeInstanceOf(TypeError);
    },
  ],
  [
    "the caller's `signal` aborts",
    async () => {
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const controller = new AbortController();
      const { url } = endpoint(async () => {
        controller.abort();
        await held;
        return json(tokenBody);
      });
      const error = await rejectionOf(
        client(url, { timeoutMs: 20_000 }).getToken({ signal: controller.signal }),
      );
      release();
      expect(error).toBe(controller.signal.reason);
      expect(error).toBeInstanceOf(DOMException);
      expect((error as DOMException).name).toBe('AbortError');
    },
  ],
  [
    'no `clientId`',
    async () => {
      expectConfig(
        thrownBy(
          () =>
            new ClientCredentialsClient({
              tokenEndpoint: 'https://a.localhost/t',
              clientSecret: 's',
            } as never),
        ),
        'clientId',
      );
    },
  ],
  [
    'both `tokenEndpoint` and `issuer`, or neither',
    async () => {
      expectConfig(
        thrownBy(
          () =>
            new ClientCredentialsClient({
              tokenEndpoint: 'https://a.localhost/t',
              issuer: 'https://a.localhost/',
              clientId: 'c',
              clientSecret: 's',
            }),
        ),
        'tokenEndpoint',
      );
      expectConfig(
        thrownBy(() => new ClientCredentialsClient({ clientId: 'c', clientSecret: 's' })),
        'tokenEndpoint',
      );
    },
  ],
  [
    'an `http:` endpoint that is not loopback (without `allowInsecureHttp`)',
    async () => {
      const error = thrownBy(() => client('http://idp.example.test/oauth/token'));
      expectConfig(error, 'tokenEndpoint');
      expect((error as Error).message).toMatch(/allowInsecureHttp/);
    },
  ],
  [
    'no secret for a `client_secret_*` method',
    async () => {
      expectConfig(
        thrownBy(
          () =>
            new ClientCredentialsClient({
              tokenEndpoint: 'https://a.localhost/t',
              clientId: 'c',
              authMethod: 'client_secret_post',
            }),
        ),
        'clientSecret',
      );
    },
  ],
  [
    'a secret (or id) with a control character',
    async () => {
      const error = thrownBy(() => client('https://a.localhost/t', { clientSecret: 'tab\tsecret' }));
      expectConfig(error, 'clientSecret');
      expect((error as Error).message).toContain('position 3');
      expect((error as Error).message).not.toContain('tab\tsecret');
    },
  ],
  [
    'no key for `private_key_jwt`',
    async () => {
      expectConfig(
        thrownBy(
          () =>
            new ClientCredentialsClient({
              tokenEndpoint: 'https://a.localhost/t',
              clientId: 'c',
              authMethod: 'private_key_jwt',
            }),
        ),
        'privateKey',
      );
    },
  ],
  [
    'a key that cannot be imported (thrown by the first `getToken`)',
    async () => {
      const { url, count } = endpoint(() => json(tokenBody));
      const c = new ClientCredentialsClient({
        tokenEndpoint: url,
        clientId: 'c',
        privateKey: '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n',
      });
      expectConfig(await rejectionOf(c.getToken()), 'privateKey');
      expect(count()).toBe(0);
    },
  ],
  [
    'a `signingAlgorithm` the key cannot sign with',
    async () => {
      const { url } = endpoint(() => json(tokenBody));
      const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
        'sign',
      ]);
      // Known from the key itself: the constructor refuses it, nothing is sent.
      const error = thrownBy(
        () =>
          new ClientCredentialsClient({
            tokenEndpoint: url,
            clientId: 'c',
            privateKey,
            signingAlgorithm: 'PS256',
          }),
      );
      expectConfig(error, 'signingAlgorithm');
    },
  ],
  [
    '`extraParams` that would set `grant_type` or client authentication fields',
    async () => {
      expectConfig(
        thrownBy(() => client('https://a.localhost/t', { extraParams: { grant_type: 'password' } })),
        'extraParams.grant_type',
      );
      expectConfig(
        await rejectionOf(client('https://a.localhost/t').getToken({ extraParams: { client_secret: 'x' } })),
        'extraParams.client_secret',
      );
    },
  ],
  [
    'an out-of-range number (e.g. `retry.retries: 50`)',
    async () => {
      expectConfig(
        thrownBy(() => client('https://a.localhost/t', { retry: { retries: 50 } })),
        'retry.retries',
      );
    },
  ],
  [
    "the issuer's metadata is missing or invalid",
    async () => {
      // No body: src/discovery.ts awaits body.cancel(), which never settles on msw's teed responses.
      const issuer = new URL(endpoints.add(() => new HttpResponse(null, { status: 404 })).url).origin;
      const c = new ClientCredentialsClient({
        issuer,
        clientId: 'c',
        clientSecret: 's3cr3t-value',
        cache: false,
      });
      const error = await rejectionOf(c.getToken());
      expect(error).toBeInstanceOf(DiscoveryError);
      expect(error).toMatchObject({ code: ErrorCode.DISCOVERY, issuer });
    },
  ],
  [
    'the fetch wrapper is asked to send a token outside `allowedOrigins`',
    async () => {
      const { url, count } = endpoint(() => json(tokenBody));
      let apiCalls = 0;
      endpoints.server.use(
        http.all('https://evil.auth.localhost/*', () => {
          apiCalls++;
          return new HttpResponse('ok');
        }),
      );
      const apiFetch = client(url).createFetch({ allowedOrigins: ['https://api.auth.localhost'] });
      const error = await rejectionOf(apiFetch('https://evil.auth.localhost/data'));
      expect(error).toBeInstanceOf(OriginNotAllowedError);
      expect(error).toMatchObject({
        code: ErrorCode.ORIGIN_NOT_ALLOWED,
        origin: 'https://evil.auth.localhost',
      });
      expect(apiCalls).toBe(0);
      expect(count()).toBe(0);
    },
  ],
];

/** A loopback token endpoint that sends headers, then one byte of a JSON body every 100 ms, forever. */
async function trickleServer(): Promise<string> {
  const s = await startLoopbackServer(() => ({
    headers: { 'content-type': 'application/json' },
    body: '{',
    trickleMs: 100,
  }));
  servers.push(s);
  return `${s.origin}/token`;
}

function tableSituations(): string[] {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  // The table under "## Every situation".
  const section = doc.slice(doc.indexOf('## Every situation')).split('\n## ')[0] as string;
  const rows = section
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| situation') && !line.startsWith('| ---'));
  return rows.map((row) => row.split(' | ')[0]!.slice(2).trim());
}

describe('errors table (docs/errors.md)', () => {
  it('has one case here per row there, in the same order', () => {
    expect(CASES.map(([situation]) => situation)).toEqual(tableSituations());
  });

  it.each(CASES)('%s', async (_situation, run) => {
    await run();
  });
});
