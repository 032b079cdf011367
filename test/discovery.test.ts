/**
 * Issuer discovery (RFC 8414, then OpenID Connect Discovery 1.0): where the metadata is looked for, what
 * makes a document unusable, how the token endpoint and client authentication are chosen from it, and
 * how the document is cached. First against a scripted loopback server, then against oidc-provider.
 */
import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  DiscoveryError,
  ErrorCode,
} from '../src/index.js';
import { haveOpenssl, opensslMissingMessage } from './helpers/certs.js';
import { testClient } from './helpers/clients.js';
import { type LoopbackServer, type ReceivedRequest, startLoopbackServer } from './helpers/loopback-server.js';
import { type OidcProviderHarness, startOidcProvider } from './helpers/oidc-provider.js';
import { thrownBy } from './helpers/outcomes.js';
import { getFreePort } from './helpers/ports.js';

// ---------------------------------------------------------------------------------------------
// A scripted authorization server on loopback: a handler per path, every request recorded.

type Seen = ReceivedRequest;

interface Answer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

type Route = (request: Seen) => Answer;

const routes = new Map<string, Route>();
let tokenCount = 0;
let server: LoopbackServer;
/** Every request the server received, in order. */
let requests: Seen[] = [];
let origin = '';

const tokenRoute: Route = () => ({
  body: { access_token: `token-${++tokenCount}`, token_type: 'Bearer', expires_in: 3600 },
});

/** How long a fetched metadata document is used: an hour (docs/discovery.md). */
const DISCOVERY_TTL_MS = 60 * 60 * 1000;
/** How long an expired document is still used while its refreshes fail: a day. */
const DISCOVERY_MAX_STALE_MS = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;

/**
 * Fakes the two clocks only (sockets and their timers stay real): `elapse` moves both, as time passing
 * does; vi.setSystemTime moves the wall clock alone, as setting the system clock does.
 */
function fakeClocks(): void {
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
}
const elapse = (ms: number) => vi.advanceTimersByTime(ms);

function metadata(issuer: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { issuer, token_endpoint: `${origin}/token`, ...extra };
}

/** Serves `document` (a JSON object, or a string served as text/html) at `path`. */
function serve(path: string, document: unknown, status = 200): void {
  routes.set(path, () => ({ status, body: document }));
}

const paths = () => requests.map((r) => r.path);
const metadataRequests = () => requests.filter((r) => r.path.includes('/.well-known/'));
const tokenRequests = () => requests.filter((r) => r.path === '/token');

function client(
  options: Partial<ClientCredentialsClientOptions> & { issuer: string },
): ClientCredentialsClient {
  return testClient({ clientSecret: 'discovery-secret', ...options });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const formOf = (seen: Seen | undefined) => new URLSearchParams(seen?.body ?? '');

beforeAll(async () => {
  server = await startLoopbackServer(async (seen) => {
    const route = routes.get(seen.path.split('?')[0] ?? '/');
    const answer: Answer = route ? route(seen) : { status: 404, body: { error: 'not_found' } };
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
    const type = typeof answer.body === 'string' ? 'text/html' : 'application/json';
    return { status: answer.status ?? 200, headers: { 'content-type': type, ...answer.headers }, body };
  });
  origin = server.origin;
  requests = server.requests;
});
afterAll(() => server.close());
beforeEach(() => {
  server.forget();
  tokenCount = 0;
  routes.clear();
  routes.set('/token', tokenRoute);
});
afterEach(() => {
  vi.useRealTimers();
});

// ---------------------------------------------------------------------------------------------

describe('well-known locations', () => {
  it.each([
    ['no path', '', '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'],
    ['a trailing slash', '/', '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'],
    [
      'a path',
      '/tenant-a',
      '/.well-known/oauth-authorization-server/tenant-a',
      '/tenant-a/.well-known/openid-configuration',
    ],
    [
      'a nested path with a trailing slash',
      '/realms/x/',
      '/.well-known/oauth-authorization-server/realms/x',
      '/realms/x/.well-known/openid-configuration',
    ],
    [
      'a percent-encoded path',
      '/a%20b',
      '/.well-known/oauth-authorization-server/a%20b',
      '/a%20b/.well-known/openid-configuration',
    ],
  ])(
    'an issuer with %s: RFC 8414 3.1 inserts the segment, then OpenID Connect appends it',
    async (_name, path, rfc8414, oidc) => {
      const issuer = `${origin}${path}`;
      // No RFC 8414 document: the server sees that request, then the OpenID Connect one.
      serve(oidc, metadata(issuer));
      await client({ issuer }).getToken();
      expect(paths()).toEqual([rfc8414, oidc, '/token']);
    },
  );

  it('an issuer with a query or fragment is a ConfigurationError (RFC 8414 2)', () => {
    for (const issuer of ['https://as.example/?tenant=a', 'https://as.example/#x']) {
      const error = thrownBy(() => client({ issuer }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).option).toBe('issuer');
    }
  });
});

describe('discovery against a scripted server', () => {
  it('reads the RFC 8414 document of an issuer without a path and sends the token request to its token_endpoint', async () => {
    serve('/.well-known/oauth-authorization-server', metadata(origin));
    const token = await client({ issuer: origin }).getToken();
    expect(token.accessToken).toBe('token-1');
    expect(paths()).toEqual(['/.well-known/oauth-authorization-server', '/token']);
    expect(tokenRequests()[0]?.headers.authorization).toMatch(/^Basic /);
  });

  it('inserts the well-known segment before the path of an issuer with a path (RFC 8414 3.1)', async () => {
    const issuer = `${origin}/tenant-a`;
    serve('/.well-known/oauth-authorization-server/tenant-a', metadata(issuer));
    serve('/tenant-a/.well-known/oauth-authorization-server', metadata(issuer));
    await client({ issuer }).getToken();
    expect(paths()).toEqual(['/.well-known/oauth-authorization-server/tenant-a', '/token']);
  });

  it('falls back to OpenID Connect discovery when the RFC 8414 location answers 404', async () => {
    const issuer = `${origin}/tenant-a/`;
    serve('/tenant-a/.well-known/openid-configuration', metadata(issuer));
    await client({ issuer }).getToken();
    expect(paths()).toEqual([
      '/.well-known/oauth-authorization-server/tenant-a',
      '/tenant-a/.well-known/openid-configuration',
      '/token',
    ]);
    expect(requests[0]?.headers.accept).toBe('application/json');
  });

  it('falls back when the RFC 8414 location serves an HTML page (a catch-all route)', async () => {
    serve('/.well-known/oauth-authorization-server', '<!doctype html><title>app</title>');
    serve('/.well-known/openid-configuration', metadata(origin));
    expect((await client({ issuer: origin }).getToken()).accessToken).toBe('token-1');
    expect(paths()).toEqual([
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
      '/token',
    ]);
  });

  it('does not follow a redirect to another metadata document', async () => {
    routes.set('/.well-known/oauth-authorization-server', () => ({
      status: 302,
      headers: { location: `${origin}/elsewhere` },
    }));
    serve('/elsewhere', metadata(origin, { token_endpoint: `${origin}/elsewhere-token` }));
    serve('/.well-known/openid-configuration', metadata(origin));
    await client({ issuer: origin }).getToken();
    expect(paths()).not.toContain('/elsewhere');
    expect(paths().at(-1)).toBe('/token');
  });

  it('rejects a document that names another issuer, without looking further (RFC 8414 3.3)', async () => {
    serve('/.well-known/oauth-authorization-server', metadata('https://evil.example'));
    serve('/.well-known/openid-configuration', metadata(origin));
    const error = await rejection(client({ issuer: origin }).getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as DiscoveryError).code).toBe(ErrorCode.DISCOVERY);
    expect((error as DiscoveryError).issuer).toBe(origin);
    expect((error as Error).message).toContain('https://evil.example');
    expect((error as Error).message).toContain('RFC 8414 3.3');
    expect(paths()).toEqual(['/.well-known/oauth-authorization-server']);
  });

  it('names a trailing-slash mismatch', async () => {
    serve('/.well-known/oauth-authorization-server', metadata(`${origin}/`));
    const error = await rejection(client({ issuer: origin }).getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toContain('trailing slash');
    expect(tokenRequests()).toHaveLength(0);
  });

  it('rejects metadata without a token_endpoint', async () => {
    serve('/.well-known/oauth-authorization-server', { issuer: origin, jwks_uri: `${origin}/jwks` });
    const error = await rejection(client({ issuer: origin }).getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toMatch(/no token_endpoint/);
  });

  it('rejects metadata whose fields have the wrong type', async () => {
    serve(
      '/.well-known/oauth-authorization-server',
      metadata(origin, { token_endpoint_auth_methods_supported: 'client_secret_basic' }),
    );
    const error = await rejection(client({ issuer: origin }).getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toMatch(/invalid token_endpoint_auth_methods_supported/);
  });

  it('fails when neither location returns a JSON object', async () => {
    serve('/.well-known/oauth-authorization-server', '{"issuer": "trunc');
    serve('/.well-known/openid-configuration', '["not", "an", "object"]');
    const error = await rejection(client({ issuer: origin }).getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toContain(
      '/.well-known/oauth-authorization-server did not return a JSON object',
    );
    expect((error as Error).message).toContain(
      '/.well-known/openid-configuration did not return a JSON object',
    );
    expect(tokenRequests()).toHaveLength(0);
  });

  it('fails with both locations named when neither exists', async () => {
    const error = await rejection(client({ issuer: origin }).getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toMatch(
      /oauth-authorization-server answered 404.*openid-configuration answered 404/,
    );
  });

  it('rejects an http token_endpoint on a host that is not loopback', async () => {
    serve(
      '/.well-known/oauth-authorization-server',
      metadata(origin, { token_endpoint: 'http://idp.example.com/token' }),
    );
    const error = await rejection(client({ issuer: origin }).getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toMatch(
      /token_endpoint: http: is only allowed for loopback hosts, not idp\.example\.com; use https/,
    );
    expect(paths()).toEqual(['/.well-known/oauth-authorization-server']);
  });

  it.each([
    [
      'an http mtls_endpoint_aliases token endpoint',
      { mtls_endpoint_aliases: { token_endpoint: 'http://mtls.example/token' } },
      /mtls_endpoint_aliases\.token_endpoint: http: is only allowed for loopback hosts, not mtls\.example/,
    ],
    [
      'an ftp token_endpoint',
      { token_endpoint: 'ftp://as.example/token' },
      /token_endpoint: uses the unsupported protocol ftp:/,
    ],
    [
      'credentials in token_endpoint',
      { token_endpoint: 'https://user:pw@as.example/token' },
      /token_endpoint: must not contain credentials/,
    ],
    [
      'a fragment in token_endpoint',
      { token_endpoint: 'https://as.example/token#x' },
      /token_endpoint: must not contain a fragment \(RFC 6749 3\.2\)/,
    ],
    ['a relative token_endpoint', { token_endpoint: '/token' }, /token_endpoint: is not an absolute URL/],
  ])('refuses metadata with %s: DiscoveryError, no token request', async (_name, extra, message) => {
    serve('/.well-known/oauth-authorization-server', metadata(origin, extra));
    const error = await rejection(client({ issuer: origin }).getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toMatch(message);
    expect(tokenRequests()).toHaveLength(0);
  });

  it('allowInsecureHttp (behind a service mesh) lets an http token_endpoint through; loopback http needs no flag', async () => {
    // The mesh host is reached through the client's fetch, which sends it to this loopback server.
    const mesh = 'http://as.mesh.internal.test';
    const meshFetch: typeof fetch = (input, init) =>
      fetch(String(input instanceof Request ? input.url : input).replace(mesh, origin), init);
    serve('/.well-known/oauth-authorization-server', metadata(origin, { token_endpoint: `${mesh}/token` }));
    const refused = await rejection(client({ issuer: origin, fetch: meshFetch }).getToken());
    expect((refused as Error).message).toMatch(
      /token_endpoint: http: is only allowed for loopback hosts, not as\.mesh\.internal\.test/,
    );
    expect(tokenRequests()).toHaveLength(0);
    await expect(
      client({ issuer: origin, fetch: meshFetch, allowInsecureHttp: true }).getToken(),
    ).resolves.toMatchObject({ accessToken: 'token-1' });
    // Loopback http (this server) needs no flag; unknown fields in the document do no harm.
    serve(
      '/.well-known/oauth-authorization-server',
      metadata(origin, { registration_endpoint: 'https://as.example/reg' }),
    );
    await expect(client({ issuer: origin }).getToken()).resolves.toMatchObject({ accessToken: 'token-2' });
    expect(tokenRequests()).toHaveLength(2);
  });

  it('a 5xx fails discovery without trying the fallback; the failure is not cached', async () => {
    let broken = true;
    routes.set('/.well-known/oauth-authorization-server', () =>
      broken ? { status: 503, body: 'maintenance' } : { body: metadata(origin) },
    );
    serve('/.well-known/openid-configuration', metadata(origin));
    const c = client({ issuer: origin });
    const error = await rejection(c.getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toContain('answered 503');
    expect(paths()).toEqual(['/.well-known/oauth-authorization-server']);

    broken = false;
    expect((await c.getToken()).accessToken).toBe('token-1');
    expect(metadataRequests()).toHaveLength(2);
  });

  it('an unreachable issuer is M2M_NETWORK_ERROR naming the metadata URL, as for token requests (issue 15.1)', async () => {
    const port = await getFreePort();
    const error = await rejection(client({ issuer: `http://127.0.0.1:${port}` }).getToken());
    expect(error).toMatchObject({ name: 'M2MTokenError', code: ErrorCode.NETWORK });
    expect(error).not.toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toContain(
      `discovery document http://127.0.0.1:${port}/.well-known/oauth-authorization-server`,
    );
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it('a metadata URL that does not answer within timeoutMs is M2M_TIMEOUT (issue 15.1)', async () => {
    routes.set('/.well-known/oauth-authorization-server', () => ({ body: metadata(origin), delayMs: 2_000 }));
    const error = await rejection(client({ issuer: origin, timeoutMs: 100 }).getToken());
    expect(error).toMatchObject({ name: 'M2MTokenError', code: ErrorCode.TIMEOUT });
    expect((error as Error).message).toContain('timeoutMs 100');
    expect(((error as Error).cause as Error).name).toBe('TimeoutError');
  });
});

describe('caching of metadata', () => {
  it('N concurrent getToken calls make one metadata request (single-flight)', async () => {
    routes.set('/.well-known/oauth-authorization-server', () => ({ body: metadata(origin), delayMs: 100 }));
    const c = client({ issuer: origin });
    const tokens = await Promise.all(
      Array.from({ length: 12 }, (_, i) => c.getToken({ audience: `urn:api:${i}` })),
    );
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(12);
    expect(metadataRequests()).toHaveLength(1);
    expect(tokenRequests()).toHaveLength(12);
  });

  it('concurrent callers share one failed discovery; the next call fetches again', async () => {
    let attempt = 0;
    routes.set('/.well-known/oauth-authorization-server', () =>
      ++attempt === 1 ? { status: 500, body: 'oops', delayMs: 50 } : { body: metadata(origin) },
    );
    const c = client({ issuer: origin });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => c.getToken({ audience: `a${i}` })),
    );
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof DiscoveryError)).toBe(true);
    expect(metadataRequests()).toHaveLength(1);

    await c.getToken({ audience: 'a0' });
    expect(metadataRequests()).toHaveLength(2);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('metadata is used for the TTL, then fetched again', async () => {
    fakeClocks();
    serve('/.well-known/oauth-authorization-server', metadata(origin));
    const c = client({ issuer: origin, cache: false });
    await c.getToken();
    await c.getToken();
    expect(metadataRequests()).toHaveLength(1);

    elapse(DISCOVERY_TTL_MS - 1_000);
    await c.getToken();
    expect(metadataRequests()).toHaveLength(1);

    elapse(2_000);
    await c.getToken();
    expect(metadataRequests()).toHaveLength(2);
    expect(tokenRequests()).toHaveLength(4);
  });

  it('a failed refresh of expired metadata keeps using the previous document and tries again next time', async () => {
    fakeClocks();
    let broken = false;
    routes.set('/.well-known/oauth-authorization-server', () =>
      broken ? { status: 502, body: 'bad gateway' } : { body: metadata(origin) },
    );
    const c = client({ issuer: origin, cache: false });
    await c.getToken();
    broken = true;
    elapse(DISCOVERY_TTL_MS + 1_000);
    expect((await c.getToken()).accessToken).toBe('token-2');
    expect((await c.getToken()).accessToken).toBe('token-3');
    expect(metadataRequests()).toHaveLength(3);

    broken = false;
    await c.getToken();
    await c.getToken();
    expect(metadataRequests()).toHaveLength(4);
  });

  it.each([
    ['back 2 h', -2 * HOUR],
    ['forward 2 h', 2 * HOUR],
    ['forward 2 days', 48 * HOUR],
  ])(
    'the metadata hour runs on the monotonic clock: a wall clock set %s neither ends nor stretches it',
    async (_n, jump) => {
      fakeClocks();
      serve('/.well-known/oauth-authorization-server', metadata(origin));
      const c = client({ issuer: origin, cache: false });
      await c.getToken();
      vi.setSystemTime(Date.now() + jump);
      elapse(DISCOVERY_TTL_MS - 1_000);
      await c.getToken();
      expect(metadataRequests()).toHaveLength(1);
      elapse(2_000);
      await c.getToken();
      expect(metadataRequests()).toHaveLength(2);
    },
  );

  it.each([
    ['back 2 days', -48 * HOUR],
    ['forward 2 days', 48 * HOUR],
  ])(
    'the day of stale use runs on the monotonic clock: a wall clock set %s neither ends nor stretches it',
    async (_n, jump) => {
      fakeClocks();
      let broken = false;
      routes.set('/.well-known/oauth-authorization-server', () =>
        broken ? { status: 502, body: 'bad gateway' } : { body: metadata(origin) },
      );
      const c = client({ issuer: origin, cache: false });
      await c.getToken();
      broken = true;
      vi.setSystemTime(Date.now() + jump);
      elapse(DISCOVERY_TTL_MS + DISCOVERY_MAX_STALE_MS - 1_000);
      expect((await c.getToken()).accessToken).toBe('token-2');
      elapse(2_000);
      expect(await rejection(c.getToken())).toBeInstanceOf(DiscoveryError);
      expect(tokenRequests()).toHaveLength(2);
    },
  );

  it('changed metadata takes effect after the TTL', async () => {
    fakeClocks();
    let endpoint = '/token';
    routes.set('/token-v2', tokenRoute);
    routes.set('/.well-known/oauth-authorization-server', () => ({
      body: metadata(origin, { token_endpoint: `${origin}${endpoint}` }),
    }));
    const c = client({ issuer: origin, cache: false });
    await c.getToken();
    endpoint = '/token-v2';
    elapse(DISCOVERY_TTL_MS + 1);
    await c.getToken();
    expect(paths().filter((p) => p.startsWith('/token'))).toEqual(['/token', '/token-v2']);
  });
});

describe('client authentication chosen from the metadata', () => {
  const pem = { type: 'pkcs8', format: 'pem' } as const;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export(pem).toString();
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export(pem).toString();

  function withMethods(methods: string[] | undefined, extra: Record<string, unknown> = {}): void {
    serve(
      '/.well-known/oauth-authorization-server',
      metadata(origin, methods ? { token_endpoint_auth_methods_supported: methods, ...extra } : extra),
    );
  }

  it('a secret prefers client_secret_basic when the server lists it', async () => {
    withMethods(['client_secret_post', 'client_secret_jwt', 'client_secret_basic']);
    await client({ issuer: origin }).getToken();
    const seen = tokenRequests()[0];
    expect(seen?.headers.authorization).toBe(`Basic ${btoa('svc:discovery-secret')}`);
    expect(formOf(seen).has('client_secret')).toBe(false);
  });

  it('a secret uses client_secret_post when that is what the server lists', async () => {
    withMethods(['client_secret_post', 'private_key_jwt']);
    await client({ issuer: origin }).getToken();
    const seen = tokenRequests()[0];
    expect(seen?.headers.authorization).toBeUndefined();
    expect(formOf(seen).get('client_id')).toBe('svc');
    expect(formOf(seen).get('client_secret')).toBe('discovery-secret');
  });

  it('a secret uses client_secret_jwt with an HMAC algorithm the server lists', async () => {
    withMethods(['client_secret_jwt', 'private_key_jwt'], {
      token_endpoint_auth_signing_alg_values_supported: ['RS256', 'HS512'],
    });
    await client({ issuer: origin }).getToken();
    const assertion = formOf(tokenRequests()[0]).get('client_assertion') ?? '';
    expect(decodeProtectedHeader(assertion).alg).toBe('HS512');
    expect(decodeJwt(assertion).aud).toBe(origin);
  });

  it('without token_endpoint_auth_methods_supported the RFC 8414 default, client_secret_basic, is used', async () => {
    withMethods(undefined);
    await client({ issuer: origin }).getToken();
    expect(tokenRequests()[0]?.headers.authorization).toMatch(/^Basic /);
  });

  it('credentials the server lists no method for are a DiscoveryError before any token request', async () => {
    withMethods(['private_key_jwt', 'tls_client_auth']);
    const error = await rejection(client({ issuer: origin }).getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toContain(
      'token_endpoint_auth_methods_supported [private_key_jwt, tls_client_auth]',
    );
    expect((error as Error).message).not.toContain('discovery-secret');
    expect(tokenRequests()).toHaveLength(0);
  });

  it('an explicit authMethod is used even when the server does not list it', async () => {
    withMethods(['client_secret_basic']);
    await client({ issuer: origin, authMethod: 'client_secret_post' }).getToken();
    expect(formOf(tokenRequests()[0]).get('client_secret')).toBe('discovery-secret');
  });

  it('private_key_jwt: the issuer is the assertion audience', async () => {
    withMethods(['private_key_jwt'], {
      token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256'],
    });
    const issuer = origin;
    await client({ issuer, clientSecret: undefined, privateKey: ec, keyId: 'k1' }).getToken();
    const form = formOf(tokenRequests()[0]);
    const assertion = form.get('client_assertion') ?? '';
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES256', kid: 'k1' });
    expect(decodeJwt(assertion)).toMatchObject({ iss: 'svc', sub: 'svc', aud: issuer });
  });

  it('private_key_jwt: an RSA key signs with the algorithm the server lists (PS256 instead of RS256)', async () => {
    withMethods(['private_key_jwt'], {
      token_endpoint_auth_signing_alg_values_supported: ['ES256', 'PS256'],
    });
    await client({ issuer: origin, clientSecret: undefined, privateKey: rsa }).getToken();
    const assertion = formOf(tokenRequests()[0]).get('client_assertion') ?? '';
    expect(decodeProtectedHeader(assertion).alg).toBe('PS256');
  });

  it('private_key_jwt: a key that cannot sign any listed algorithm is a DiscoveryError', async () => {
    withMethods(['private_key_jwt'], {
      token_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256'],
    });
    const error = await rejection(
      client({ issuer: origin, clientSecret: undefined, privateKey: ec }).getToken(),
    );
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toContain(
      'the private key signs ES256; the server accepts [RS256, PS256]',
    );
    expect(tokenRequests()).toHaveLength(0);
  });

  it('private_key_jwt: an explicit signingAlgorithm is used as given', async () => {
    withMethods(['private_key_jwt'], { token_endpoint_auth_signing_alg_values_supported: ['PS256'] });
    await client({
      issuer: origin,
      clientSecret: undefined,
      privateKey: rsa,
      signingAlgorithm: 'RS384',
    }).getToken();
    const assertion = formOf(tokenRequests()[0]).get('client_assertion') ?? '';
    expect(decodeProtectedHeader(assertion).alg).toBe('RS384');
  });

  it('tls_client_auth goes to mtls_endpoint_aliases.token_endpoint (RFC 8705 5); other methods do not', async () => {
    const mtlsMetadata = {
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'tls_client_auth'],
      mtls_endpoint_aliases: { token_endpoint: `${origin}/mtls/token` },
    };
    routes.set('/mtls/token', tokenRoute);
    withMethods(undefined, mtlsMetadata);
    // The dispatcher stands in for the one presenting the certificate (this server speaks plain http).
    const dispatcher = new Agent();
    try {
      await client({
        issuer: origin,
        clientSecret: undefined,
        certificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
        dispatcher,
        fetch: undiciFetch as unknown as typeof fetch,
      }).getToken();
    } finally {
      await dispatcher.close();
    }
    expect(paths().at(-1)).toBe('/mtls/token');
    expect(formOf(requests.at(-1)).get('client_id')).toBe('svc');

    requests.length = 0;
    await client({ issuer: origin }).getToken();
    expect(paths().at(-1)).toBe('/token');
  });
});

// ---------------------------------------------------------------------------------------------
// oidc-provider's real metadata.

describe('interop: oidc-provider metadata', () => {
  let plain: OidcProviderHarness;
  let pathWithRfc8414: OidcProviderHarness;
  let pathOidcOnly: OidcProviderHarness;

  beforeAll(async () => {
    [plain, pathWithRfc8414, pathOidcOnly] = await Promise.all([
      startOidcProvider(),
      startOidcProvider({ issuerPath: '/tenant-a', oauthMetadata: true }),
      startOidcProvider({ issuerPath: '/tenant-b' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([plain?.close(), pathWithRfc8414?.close(), pathOidcOnly?.close()]);
  });

  const metadataPaths = (op: OidcProviderHarness) =>
    op.requests.filter((r) => r.path.includes('/.well-known/')).map((r) => `${r.path} ${r.status}`);

  it('client_secret_basic: discovers the token endpoint of an issuer without a path', async () => {
    const basic = plain.clients.basic;
    const c = new ClientCredentialsClient({
      issuer: plain.issuer,
      clientId: basic.clientId,
      clientSecret: basic.clientSecret,
    });
    const token = await c.getToken({ resource: plain.resources.jwt, scope: 'api:read' });
    expect(token.tokenType).toBe('Bearer');
    expect(decodeJwt(token.accessToken)).toMatchObject({ iss: plain.issuer, client_id: basic.clientId });
    expect(metadataPaths(plain)).toEqual(['/.well-known/oauth-authorization-server 200']);
    const seen = plain.lastRequest();
    expect(seen?.path).toBe('/token');
    expect(seen?.headers.authorization).toMatch(/^Basic /);
  });

  it('private_key_jwt (ES256 and RS256): assertions addressed to the discovered issuer are accepted', async () => {
    for (const registered of [plain.clients.privateKeyJwtEs256, plain.clients.privateKeyJwtRs256]) {
      const key = registered.key!;
      const c = new ClientCredentialsClient({
        issuer: plain.issuer,
        clientId: registered.clientId,
        privateKey: key.privateKeyPem,
        keyId: key.kid,
      });
      const token = await c.getToken();
      expect(token.accessToken.length).toBeGreaterThan(10);
      const assertion = String(plain.lastRequest()?.body?.client_assertion);
      expect(decodeJwt(assertion).aud).toBe(plain.issuer);
      expect(decodeProtectedHeader(assertion).alg).toBe(key.alg);
    }
  });

  it('a secret client registered for client_secret_jwt needs authMethod (the server lists every method)', async () => {
    const registered = plain.clients.secretJwt;
    const options = {
      issuer: plain.issuer,
      clientId: registered.clientId,
      clientSecret: registered.clientSecret,
    };
    // Chosen from the list: client_secret_basic, which this client was not registered for.
    const auto = new ClientCredentialsClient({ ...options, retry: false });
    await expect(auto.getToken()).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
    expect(plain.lastRequest()?.headers.authorization).toMatch(/^Basic /);

    const explicit = new ClientCredentialsClient({ ...options, authMethod: 'client_secret_jwt' });
    expect((await explicit.getToken()).tokenType).toBe('Bearer');
    const assertion = String(plain.lastRequest()?.body?.client_assertion);
    expect(decodeProtectedHeader(assertion).alg).toBe('HS256');
    expect(decodeJwt(assertion).aud).toBe(plain.issuer);
  });

  it('a path issuer: the RFC 8414 location (well-known segment inserted) is used when served', async () => {
    const basic = pathWithRfc8414.clients.basic;
    const c = new ClientCredentialsClient({
      issuer: pathWithRfc8414.issuer,
      clientId: basic.clientId,
      clientSecret: basic.clientSecret,
    });
    await c.getToken();
    expect(metadataPaths(pathWithRfc8414)).toEqual(['/.well-known/oauth-authorization-server/tenant-a 200']);
    expect(pathWithRfc8414.lastRequest()?.path).toBe('/tenant-a/token');
  });

  it('a path issuer without RFC 8414 metadata: falls back to OpenID Connect discovery', async () => {
    const basic = pathOidcOnly.clients.basic;
    const c = new ClientCredentialsClient({
      issuer: pathOidcOnly.issuer,
      clientId: basic.clientId,
      clientSecret: basic.clientSecret,
    });
    await c.getToken();
    // The 404 of the RFC 8414 location comes from the harness's router, before oidc-provider records it.
    expect(metadataPaths(pathOidcOnly)).toEqual(['/tenant-b/.well-known/openid-configuration 200']);
    expect(pathOidcOnly.lastRequest()?.path).toBe('/tenant-b/token');
  });

  it('an issuer configured with a trailing slash the server does not use is refused (RFC 8414 3.3)', async () => {
    const basic = plain.clients.basic;
    const c = new ClientCredentialsClient({
      issuer: `${plain.issuer}/`,
      clientId: basic.clientId,
      clientSecret: basic.clientSecret,
    });
    const error = await rejection(c.getToken());
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toContain('trailing slash');
  });
});

describe.skipIf(!haveOpenssl)(
  `interop: oidc-provider with mutual TLS (RFC 8705)${haveOpenssl ? '' : ` (${opensslMissingMessage})`}`,
  () => {
    let op: OidcProviderHarness;
    const agents: Agent[] = [];
    beforeAll(async () => {
      op = await startOidcProvider({ mtls: true });
    });
    afterAll(async () => {
      await Promise.all(agents.map((agent) => agent.close()));
      await op?.close();
    });

    it('tls_client_auth is chosen from the metadata and sent to mtls_endpoint_aliases.token_endpoint', async () => {
      const registered = op.clients.tlsClientAuth!;
      const agent = new Agent({
        connect: { ca: op.ca, cert: registered.certificate, key: registered.certificateKey },
      });
      agents.push(agent);
      const c = new ClientCredentialsClient({
        issuer: op.issuer,
        clientId: registered.clientId,
        certificate: registered.certificate,
        dispatcher: agent,
        fetch: undiciFetch as unknown as typeof fetch,
      });
      const token = await c.getToken({ resource: op.resources.jwt });
      expect(decodeJwt(token.accessToken).cnf).toBeDefined();
      const seen = op.lastRequest();
      expect(seen?.via).toBe('mtls');
      expect(seen?.clientCertificate).toBe(true);
      expect(op.mtlsTokenEndpoint).toContain(seen?.path ?? '?');
    });
  },
);
