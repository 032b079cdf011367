/**
 * One scenario table run against every HTTP-client integration (the fetch wrapper, the undici
 * interceptor and axios: one entry each in INTEGRATIONS), with one set of fixtures: a loopback
 * token endpoint issuing tok-1, tok-2, ... and a loopback API shaped like the World Mappers API. What is
 * specific to one integration (fetch's Request objects and redirects, undici's composition and held-back
 * 401s, DPoP) stays in fetch-wrapper.test.ts and undici-interceptor.test.ts.
 */
import { Readable } from 'node:stream';
import axios from 'axios';
import { decodeJwt } from 'jose';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { attachBearer } from '../src/axios/index.js';
import { bearerInterceptor } from '../src/fetch/undici-entry.js';
import {
  type ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  FORCED_REFRESH_INTERVAL_MS,
  OAuthError,
  OriginNotAllowedError,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { type Api, bearerOf, INVALID_TOKEN, startApi, worldMappers } from './helpers/loopback-api.js';
import { generationOf, startTokenServer, type TokenServer } from './helpers/token-server.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

let tokens: TokenServer;
let api: Api;
let other: Api;
const agents: Agent[] = [];

/** A client of this file's token server, for the World Mappers API. */
function makeClient(extra: Partial<ClientCredentialsClientOptions> = {}): ClientCredentialsClient {
  return testClient({ tokenEndpoint: tokens.url, audience: 'urn:worldmappers', ...extra });
}

beforeAll(async () => {
  tokens = await startTokenServer();
  api = await startApi(worldMappers(() => true));
  other = await startApi(() => ({ status: 200, body: '{"other":true}' }));
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await Promise.all([tokens.close(), api.close(), other.close()]);
});

afterEach(() => {
  vi.useRealTimers();
  tokens.reset();
  api.arrivals.length = 0;
  api.respond = worldMappers(() => true);
  other.arrivals.length = 0;
});

// ---------------------------------------------------------------------------------------------
// The integrations, behind one shape

type Body = string | Uint8Array | 'stream';

interface Call {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Body;
  readonly signal?: AbortSignal;
}

interface Answered {
  readonly status: number;
  readonly text: string;
}

interface Integration {
  readonly name: string;
  /** A sender bound to the client with these integration options (as a user would set it up once). */
  bind(
    client: ClientCredentialsClient,
    options?: { audience?: string; allowedOrigins?: readonly string[] },
  ): (url: string, call?: Call) => Promise<Answered>;
}

const streamOf = () => Readable.from([Buffer.from('str'), Buffer.from('eam')]);

const INTEGRATIONS: readonly Integration[] = [
  {
    name: 'fetch wrapper',
    bind(client, options = {}) {
      const apiFetch = client.createFetch({
        ...options,
        fetch: (input, init) => globalThis.fetch(input, init),
      });
      return async (url, call = {}) => {
        const body =
          call.body === 'stream'
            ? (Readable.toWeb(streamOf()) as unknown as ReadableStream)
            : (call.body as BodyInit | undefined);
        const init: RequestInit & { duplex?: string } = {
          method: call.method ?? 'GET',
          ...(call.headers ? { headers: call.headers } : {}),
          ...(body !== undefined ? { body } : {}),
          ...(call.body === 'stream' ? { duplex: 'half' } : {}),
          ...(call.signal ? { signal: call.signal } : {}),
        };
        const res = await apiFetch(url, init);
        return { status: res.status, text: await res.text() };
      };
    },
  },
  {
    name: 'undici interceptor',
    bind(client, options = {}) {
      const agent = new Agent();
      agents.push(agent);
      const dispatcher = agent.compose(bearerInterceptor(client, options));
      return async (url, call = {}) => {
        const res = await request(url, {
          dispatcher,
          method: (call.method ?? 'GET') as 'GET',
          ...(call.headers ? { headers: call.headers } : {}),
          ...(call.body !== undefined ? { body: call.body === 'stream' ? streamOf() : call.body } : {}),
          ...(call.signal ? { signal: call.signal } : {}),
        });
        return { status: res.statusCode, text: await res.body.text() };
      };
    },
  },
  {
    name: 'axios',
    bind(client, options = {}) {
      const instance = axios.create();
      attachBearer(instance, client, options);
      return async (url, call = {}) => {
        const res = await instance.request<string>({
          url,
          method: call.method ?? 'GET',
          ...(call.headers ? { headers: call.headers } : {}),
          ...(call.body !== undefined ? { data: call.body === 'stream' ? streamOf() : call.body } : {}),
          ...(call.signal ? { signal: call.signal } : {}),
          // Every status is an answer here, as with fetch and undici (axios rejects non-2xx by default).
          validateStatus: () => true,
          responseType: 'text',
        });
        return { status: res.status, text: res.data };
      };
    },
  },
];

// ---------------------------------------------------------------------------------------------
// The scenarios, each run against every integration

describe.each(INTEGRATIONS)('$name', (integration) => {
  it('sends Authorization: Bearer <token>, one token for many requests, the caller headers kept', async () => {
    const send = integration.bind(makeClient());
    const a = await send(`${api.url}/api/routes?limit=1`, { headers: { 'x-trace': '7' } });
    const b = await send(`${api.url}/api/routes`);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(JSON.parse(a.text)).toEqual({ ok: true, path: '/api/routes?limit=1' });
    expect(api.arrivals.map(bearerOf)).toEqual(['Bearer tok-1', 'Bearer tok-1']);
    expect(api.arrivals[0]?.headers['x-trace']).toBe('7');
    expect(tokens.count).toBe(1);
  });

  it("leaves a caller's own Authorization alone and asks for no token", async () => {
    const send = integration.bind(makeClient());
    const res = await send(`${api.url}/x`, { headers: { authorization: 'Bearer mine' } });
    expect(res.status).toBe(200);
    expect(api.arrivals.map(bearerOf)).toEqual(['Bearer mine']);
    expect(tokens.count).toBe(0);
  });

  it('a token request that fails rejects the call with that error; nothing reaches the API', async () => {
    tokens.answer(() => ({ status: 401, json: { error: 'invalid_client' } }));
    const send = integration.bind(makeClient());
    const error = await send(`${api.url}/x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_client');
    expect(api.arrivals).toHaveLength(0);
  });

  it('401 after a key rotation: the refused token is replaced and the request repeated once, body and all', async () => {
    const client = makeClient();
    const send = integration.bind(client);
    await client.getToken(); // tok-1 cached
    api.respond = worldMappers((t) => generationOf(t) >= 2);
    const res = await send(`${api.url}/api/routes`, { method: 'POST', body: '{"from":"a","to":"b"}' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ ok: true, path: '/api/routes' });
    expect(api.arrivals.map(bearerOf)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(api.arrivals.map((a) => a.body.toString())).toEqual([
      '{"from":"a","to":"b"}',
      '{"from":"a","to":"b"}',
    ]);
    expect(tokens.count).toBe(2);
  });

  it('a Uint8Array body is sent again byte for byte', async () => {
    api.respond = worldMappers((t) => generationOf(t) >= 2);
    const send = integration.bind(makeClient());
    const res = await send(`${api.url}/up`, { method: 'PUT', body: new Uint8Array([9, 8, 7, 0, 255]) });
    expect(res.status).toBe(200);
    expect(api.arrivals).toHaveLength(2);
    expect([...(api.arrivals[1]?.body ?? [])]).toEqual([9, 8, 7, 0, 255]);
  });

  it('a stream body is not repeated: the 401 is the answer', async () => {
    api.respond = worldMappers((t) => generationOf(t) >= 2);
    const send = integration.bind(makeClient());
    const res = await send(`${api.url}/up`, { method: 'POST', body: 'stream' });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toEqual({ error: 'invalid_token' });
    expect(api.arrivals.map((a) => a.body.toString())).toEqual(['stream']);
    expect(tokens.count).toBe(1);
  });

  it('200 concurrent requests that all get a 401 cause exactly one token refresh, and all succeed', async () => {
    api.respond = worldMappers((t) => generationOf(t) >= 2);
    const send = integration.bind(makeClient());
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => send(`${api.url}/r/${i}`)));
    expect(results.map((r) => r.status)).toEqual(Array(200).fill(200));
    expect(tokens.count).toBe(2);
    expect(api.arrivals).toHaveLength(400);
  });

  it('a second 401 is the answer; inside the refresh limit later calls send one request; after it, one refresh', async () => {
    // The clocks are frozen ("inside the refresh limit" for sure); timers stay real for the servers.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    api.respond = () => INVALID_TOKEN;
    const send = integration.bind(makeClient());
    const first = await send(`${api.url}/x`);
    expect(first.status).toBe(401);
    expect(JSON.parse(first.text)).toEqual({ error: 'invalid_token' });
    expect(api.arrivals).toHaveLength(2); // the 401, and the repeat with a new token
    expect(tokens.count).toBe(2);
    for (let i = 0; i < 3; i++) expect((await send(`${api.url}/x`)).status).toBe(401);
    expect(api.arrivals).toHaveLength(5);
    expect(tokens.count).toBe(2);
    vi.advanceTimersByTime(FORCED_REFRESH_INTERVAL_MS + 1);
    expect((await send(`${api.url}/x`)).status).toBe(401);
    expect(api.arrivals).toHaveLength(7);
    expect(tokens.count).toBe(3);
  });

  it.each([
    ['insufficient_scope', 'Bearer error="insufficient_scope"'],
    ['invalid_request', 'Bearer realm="api", error="invalid_request"'],
  ])('a 401 with error="%s" is not repeated and costs no token request', async (_, challenge) => {
    api.respond = () => ({ status: 401, headers: { 'www-authenticate': challenge } });
    const send = integration.bind(makeClient());
    expect((await send(`${api.url}/x`)).status).toBe(401);
    expect(api.arrivals).toHaveLength(1);
    expect(tokens.count).toBe(1);
  });

  it('a 403 is returned as it is', async () => {
    api.respond = () => ({
      status: 403,
      headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
    });
    const send = integration.bind(makeClient());
    expect((await send(`${api.url}/x`)).status).toBe(403);
    expect(api.arrivals).toHaveLength(1);
    expect(tokens.count).toBe(1);
  });

  it('allowedOrigins: a request to another origin fails before anything is sent, no token request either', async () => {
    const send = integration.bind(makeClient(), { allowedOrigins: [api.url] });
    const error = await send(`${other.url}/x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OriginNotAllowedError);
    expect(other.arrivals).toHaveLength(0);
    expect(tokens.count).toBe(0);
    expect((await send(`${api.url}/x`)).status).toBe(200);
  });

  it.each([
    ['https://svc:S3cr3tPassw0rd@api.example.com', 'has user info'],
    ['https://api.example.com/S3cr3tPassw0rd', 'has a path'],
    ['https://api.example.com?S3cr3tPassw0rd', 'has a query'],
    ['https://api.example.com#S3cr3tPassw0rd', 'has a fragment'],
    ['ftp://S3cr3tPassw0rd.example.com', 'is not an http: or https: URL'],
    ['S3cr3tPassw0rd', 'is not a URL'],
  ])('allowedOrigins: %s is named by its position and problem (%s), never shown', (entry, problem) => {
    let error: unknown;
    try {
      integration.bind(makeClient(), { allowedOrigins: [api.url, entry] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe('allowedOrigins');
    expect((error as Error).message).toContain(`allowedOrigins[1] ${problem}`);
    expect((error as Error).message).not.toContain('S3cr3t');
  });

  it("a caller's DPoP header goes as it is beside a Bearer token; with a DPoP token our proof replaces it", async () => {
    const bearer = integration.bind(makeClient());
    await bearer(`${api.url}/x`, { headers: { dpop: 'callers-proof' } });
    expect(api.arrivals[0]?.headers.dpop).toBe('callers-proof');
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');

    tokens.tokenType = 'DPoP';
    api.respond = () => ({ status: 200 });
    const bound = integration.bind(makeClient({ dpop: true }));
    await bound(`${api.url}/y`, { headers: { DPoP: 'callers-proof' } });
    expect(bearerOf(api.arrivals[1])).toBe('DPoP tok-2');
    expect(api.arrivals[1]?.headers.dpop).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    // With the caller's own Authorization nothing is added, and nothing of theirs is dropped.
    await bound(`${api.url}/z`, { headers: { authorization: 'DPoP mine', dpop: 'callers-proof' } });
    expect(bearerOf(api.arrivals[2])).toBe('DPoP mine');
    expect(api.arrivals[2]?.headers.dpop).toBe('callers-proof');
  });

  it('DPoP: a use_dpop_nonce 401 is repeated once with the nonce it sent, not for an empty DPoP-Nonce', async () => {
    tokens.tokenType = 'DPoP';
    let nonce = '';
    api.respond = (arrival) =>
      nonce !== '' && decodeJwt(String(arrival.headers.dpop)).nonce === nonce
        ? { status: 200 }
        : {
            status: 401,
            headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': nonce },
          };
    const send = integration.bind(makeClient({ dpop: true }));
    expect((await send(`${api.url}/x`)).status).toBe(401);
    expect(api.arrivals).toHaveLength(1);
    nonce = 'n-1';
    expect((await send(`${api.url}/x`)).status).toBe(200);
    expect(api.arrivals).toHaveLength(3);
    expect(tokens.count).toBe(1);
  });

  it("the caller's abort ends the call while the API is slow", async () => {
    api.respond = () => new Promise((resolve) => setTimeout(() => resolve({ status: 200 }), 2_000));
    const send = integration.bind(makeClient());
    const controller = new AbortController();
    const pending = send(`${api.url}/slow`, { signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(api.arrivals).toHaveLength(1));
    controller.abort();
    const error = await pending;
    expect(error).toBeInstanceOf(Error);
    // fetch and undici: AbortError; axios reports a caller's abort as its CanceledError.
    expect((error as Error).name).toMatch(/AbortError|CanceledError/);
  });
});
