/**
 * Errors from the fetch and dispatcher stack, passed on only when nothing in them shows a credential.
 * They used to be judged by `.message` alone: undici's `interceptors.responseError()` puts the response
 * body (which may echo the secret) in `cause.body`, a custom fetch's error may hold the request init (its
 * headers, its body) in a property, and errors that were not TypeErrors went into events unchanged.
 *
 * Now one policy (src/redact/): an error, or a cause, is kept only when a bounded walk of its own
 * properties (at any depth, causes, Headers and bytes included) finds no known credential and nothing
 * credential-shaped; otherwise a plain Error with its name and redacted message stands in for it. And
 * an error that carries an HTTP `statusCode` is judged by that status, not as a network failure: a 401
 * invalid_client is not retried (it sent the secret three times).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent, interceptors } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorCode, HttpError, type TokenCache, type TokenEvent } from '../../src/index.js';
import { FAST_RETRY, testClient } from '../helpers/clients.js';
import { exposures, leakedRuns } from '../helpers/leaks.js';
import { type LoopbackServer, startLoopbackServer } from '../helpers/loopback-server.js';
import { rejectionOf } from '../helpers/outcomes.js';
import { refusedUrl } from '../helpers/ports.js';
import { fakeTokenEndpoint } from '../helpers/token-endpoint.js';

const SECRET = 'cause-S3cr3t-0123456789-abcdefghijkl';
const ACCESS_TOKEN = 'cause-AccessToken-9876543210-zyxwvuts';
const basicOf = (secret: string) => Buffer.from(`svc:${secret}`).toString('base64');

let server: LoopbackServer;
const channel: unknown[] = [];
const onChannel = (message: unknown) => channel.push(message);
beforeAll(async () => {
  server = await startLoopbackServer();
  subscribe('m2m-token', onChannel);
});
afterAll(async () => {
  unsubscribe('m2m-token', onChannel);
  await server.close();
});

/** Everything a failed call shows: the error (causes included), its events and the channel's. */
function shown(error: unknown, events: readonly TokenEvent[]): string {
  return `${exposures(error)}\n${JSON.stringify(events)}\n${JSON.stringify(channel)}`;
}

function expectNoCredential(text: string): void {
  for (const value of [SECRET, basicOf(SECRET), ACCESS_TOKEN]) expect(leakedRuns(text, value)).toEqual([]);
}

describe("undici's responseError interceptor", () => {
  const agents: Agent[] = [];
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
  });
  const throwingAgent = () => {
    const agent = new Agent();
    agents.push(agent);
    return agent.compose(interceptors.responseError());
  };

  it('a 401 invalid_client echoing the secret: HttpError 401, sent once, the echo nowhere', async () => {
    server.forget();
    server.answer((request) => ({
      status: 401,
      json: { error: 'invalid_client', error_description: `received ${decodeURIComponent(request.body)}` },
    }));
    const events: TokenEvent[] = [];
    channel.length = 0;
    const error = await rejectionOf(
      testClient({
        tokenEndpoint: `${server.origin}/token`,
        clientSecret: SECRET,
        authMethod: 'client_secret_post',
        dispatcher: throwingAgent(),
        retry: FAST_RETRY,
        onEvent: (e) => events.push(e),
      }).getToken(),
    );
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 401, code: ErrorCode.HTTP });
    expect(server.requests).toHaveLength(1);
    expectNoCredential(shown(error, events));
  });

  it('discovery through it: a 404 at the first well-known URL is a miss, the second is asked', async () => {
    server.forget();
    server.answer((request) =>
      request.path === '/.well-known/openid-configuration'
        ? { json: { issuer: server.origin, token_endpoint: `${server.origin}/token` } }
        : request.path === '/token'
          ? { json: { access_token: 'discovered', token_type: 'Bearer', expires_in: 60 } }
          : { status: 404, json: { error: 'not_found' } },
    );
    const client = testClient({ issuer: server.origin, dispatcher: throwingAgent() });
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: 'discovered' });
    expect(server.requests.map((r) => r.path)).toEqual([
      '/.well-known/oauth-authorization-server',
      '/.well-known/openid-configuration',
      '/token',
    ]);
  });

  it('a 503 through it is still retried (judged by its status)', async () => {
    server.forget();
    server.answer(() => ({ status: 503, json: { error: 'temporarily_unavailable' } }));
    const error = await rejectionOf(
      testClient({
        tokenEndpoint: `${server.origin}/token`,
        dispatcher: throwingAgent(),
        retry: FAST_RETRY,
      }).getToken(),
    );
    expect(error).toMatchObject({ name: 'HttpError', status: 503 });
    expect(server.requests).toHaveLength(3);
  });
});

/** Errors a custom fetch (a logging or instrumentation wrapper) may throw, holding the request. */
const THROWERS: ReadonlyArray<readonly [string, (url: string, init: RequestInit) => never]> = [
  [
    'an Error whose message quotes the request headers',
    (url, init) => {
      throw new Error(`POST ${url} failed, request headers ${JSON.stringify(init.headers)}`);
    },
  ],
  [
    'an Error with the request init as a property (its message clean)',
    (url, init) => {
      throw Object.assign(new Error('upstream connect error'), { request: { url, ...init } });
    },
  ],
  [
    'a TypeError with the init as a property and a clean cause',
    (_url, init) => {
      const cause = Object.assign(new Error('ECONNRESET'), { code: 'ECONNRESET' });
      throw Object.assign(new TypeError('fetch failed', { cause }), { options: { ...init } });
    },
  ],
  [
    'a TypeError whose cause is a plain object holding headers and body',
    (_url, init) => {
      throw new TypeError('fetch failed', {
        cause: { code: 'UND_ERR', headers: init.headers, body: init.body },
      });
    },
  ],
  [
    'a TypeError whose cause holds the headers as a Headers object',
    (_url, init) => {
      throw new TypeError('fetch failed', { cause: { headers: new Headers(init.headers) } });
    },
  ],
];

describe('a custom fetch whose error holds the request (token requests)', () => {
  for (const authMethod of ['client_secret_basic', 'client_secret_post'] as const) {
    it.each(THROWERS)(`${authMethod}: %s`, async (_name, thrower) => {
      const events: TokenEvent[] = [];
      channel.length = 0;
      const error = await rejectionOf(
        testClient({
          clientSecret: SECRET,
          authMethod,
          basicAuthEncoding: 'none',
          fetch: async (url, init) => thrower(String(url), init ?? {}),
          onEvent: (e) => events.push(e),
        }).getToken(),
      );
      expect(error).toBeInstanceOf(Error);
      expectNoCredential(shown(error, events));
    });
  }

  it('a cause that showed a credential is replaced by a plain Error with its name and redacted message', async () => {
    const error = await rejectionOf(
      testClient({
        clientSecret: SECRET,
        fetch: async (_url, init) => {
          const cause = Object.assign(new RangeError('socket reset'), { sent: init?.headers });
          throw new TypeError('fetch failed', { cause });
        },
      }).getToken(),
    );
    expect(error).toMatchObject({ code: ErrorCode.NETWORK });
    const cause = (error as Error).cause as Error;
    expect(cause).toBeInstanceOf(TypeError);
    expect(cause.message).toBe('fetch failed');
    expect(cause.cause).toBeUndefined();
    expect(Object.keys(cause)).toEqual([]);
  });

  it('a clean network error is kept as the cause, as it was thrown', async () => {
    const error = await rejectionOf(testClient({ tokenEndpoint: await refusedUrl() }).getToken());
    expect(error).toMatchObject({ code: ErrorCode.NETWORK });
    const cause = (error as Error).cause as Error & { cause?: { code?: string } };
    expect(cause).toBeInstanceOf(TypeError);
    expect(cause.cause?.code).toBe('ECONNREFUSED');
  });
});

describe('the fetch wrapper', () => {
  it.each(THROWERS)('%s: no piece of the token', async (_name, thrower) => {
    const client = testClient({ fetch: fakeTokenEndpoint({ token: () => ACCESS_TOKEN }).fetch });
    const apiFetch = client.createFetch({ fetch: async (url, init) => thrower(String(url), init ?? {}) });
    const error = await rejectionOf(apiFetch('https://api.example/x', { method: 'POST', body: 'x' }));
    expect(error).toBeInstanceOf(Error);
    expectNoCredential(exposures(error));
  });

  it('a clean error is handed over as it was thrown', async () => {
    const thrown = new TypeError('fetch failed', { cause: new Error('other side closed') });
    const client = testClient({ fetch: fakeTokenEndpoint({ token: () => ACCESS_TOKEN }).fetch });
    const apiFetch = client.createFetch({
      fetch: async () => {
        throw thrown;
      },
    });
    expect(await rejectionOf(apiFetch('https://api.example/x'))).toBe(thrown);
  });
});

describe('events', () => {
  it('a cache error whose message holds a token: the cache_fault event does not show it', async () => {
    const cache: TokenCache = {
      get: () => undefined,
      set: () => {
        throw new Error(
          `SET failed for {"access_token":"${ACCESS_TOKEN}"} (Authorization: Bearer ${ACCESS_TOKEN})`,
        );
      },
      delete: () => undefined,
    };
    const events: TokenEvent[] = [];
    const client = testClient({
      fetch: fakeTokenEndpoint({ token: () => ACCESS_TOKEN }).fetch,
      cache,
      onEvent: (e) => events.push(e),
    });
    await expect(client.getToken()).resolves.toMatchObject({ accessToken: ACCESS_TOKEN });
    await vi.waitFor(() => expect(events.some((e) => e.type === 'cache_fault')).toBe(true));
    expect(leakedRuns(JSON.stringify(events), ACCESS_TOKEN)).toEqual([]);
  });

  it('an error that is not an M2MTokenError reaches events with its message scrubbed', async () => {
    const events: TokenEvent[] = [];
    await rejectionOf(
      testClient({
        clientSecret: SECRET,
        fetch: async () => {
          throw new Error(`proxy refused: Authorization: Bearer ${ACCESS_TOKEN}`);
        },
        onEvent: (e) => events.push(e),
      }).getToken(),
    );
    const failure = events.find((e) => e.type === 'token_request_failure');
    expect(failure).toBeDefined();
    expect(leakedRuns(JSON.stringify(events), ACCESS_TOKEN)).toEqual([]);
  });
});
