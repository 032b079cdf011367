/**
 * m2m-token/axios beyond the shared scenario table (test/http-integrations.test.ts): real redirects
 * between two loopback origins (axios in Node follows redirects with follow-redirects; here they are
 * followed hop by hop so that no credential crosses origins), DPoP, both of axios' Node adapters, axios'
 * own error shapes (and that logging them shows no token), baseURL and params, eject, and bad arguments.
 */
import { inspect } from 'node:util';
import axios, { type AxiosError, type AxiosInstance } from 'axios';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachBearer } from '../src/axios/index.js';
import {
  type ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  OriginNotAllowedError,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { JtiReplayCache, verifyDpopProof } from './helpers/dpop-resource-server.js';
import { type Api, type Arrival, bearerOf, startApi } from './helpers/loopback-api.js';
import { getFreePort } from './helpers/ports.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

let tokens: TokenServer;
let api: Api;
let other: Api;

const OK = () => ({ status: 200, body: '{"ok":true}' });
/** A client of this file's token server, for the World Mappers API. */
function makeClient(extra: Partial<ClientCredentialsClientOptions> = {}): ClientCredentialsClient {
  return testClient({ tokenEndpoint: tokens.url, audience: 'urn:worldmappers', ...extra });
}

/** An axios instance with the client attached (adapter: axios' default for Node, or 'fetch'). */
function attached(
  client: ClientCredentialsClient,
  options: Parameters<typeof attachBearer>[2] = {},
  adapter?: 'fetch' | 'http',
): AxiosInstance {
  const instance = axios.create(adapter ? { adapter } : {});
  attachBearer(instance, client, options);
  return instance;
}

beforeAll(async () => {
  tokens = await startTokenServer();
  api = await startApi(OK);
  other = await startApi(() => ({ status: 200, body: '{"other":true}' }));
});

afterAll(async () => {
  await Promise.all([tokens.close(), api.close(), other.close()]);
});

afterEach(() => {
  tokens.reset();
  api.arrivals.length = 0;
  api.respond = OK;
  other.arrivals.length = 0;
  other.respond = () => ({ status: 200, body: '{"other":true}' });
});

describe.each(['http', 'fetch'] as const)('redirects (axios %s adapter)', (adapter) => {
  it('a same-origin redirect keeps the token', async () => {
    api.respond = (arrival) =>
      arrival.path === '/old' ? { status: 302, headers: { location: '/new?x=1' } } : OK();
    const res = await attached(makeClient(), {}, adapter).get(`${api.url}/old`);
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ ok: true });
    expect(api.arrivals.map((a) => [a.path, bearerOf(a)])).toEqual([
      ['/old', 'Bearer tok-1'],
      ['/new?x=1', 'Bearer tok-1'],
    ]);
  });

  it('a cross-origin redirect to a second loopback server carries no token and no credential header', async () => {
    api.respond = () => ({ status: 307, headers: { location: `${other.url}/landing?q=1` } });
    const res = await attached(makeClient(), {}, adapter).post(`${api.url}/start`, 'payload', {
      headers: { 'x-trace': 'abc', cookie: 'session=1', 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ other: true });
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
    expect(other.arrivals).toHaveLength(1);
    const landed = other.arrivals[0] as Arrival;
    expect(landed.path).toBe('/landing?q=1');
    expect(landed.headers.authorization).toBeUndefined();
    expect(landed.headers.dpop).toBeUndefined();
    expect(landed.headers.cookie).toBeUndefined();
    expect(JSON.stringify(landed.headers)).not.toContain('tok-1');
    // 307 keeps method and body; other headers travel.
    expect([landed.method, landed.body.toString(), landed.headers['x-trace']]).toEqual([
      'POST',
      'payload',
      'abc',
    ]);
  });

  it('once the chain left the origin, no token even when it comes back', async () => {
    api.respond = (arrival) =>
      arrival.path === '/a' ? { status: 302, headers: { location: `${other.url}/b` } } : OK();
    other.respond = () => ({ status: 302, headers: { location: `${api.url}/c` } });
    const res = await attached(makeClient(), {}, adapter).get(`${api.url}/a`);
    expect(res.status).toBe(200);
    expect(api.arrivals.map((a) => [a.path, bearerOf(a)])).toEqual([
      ['/a', 'Bearer tok-1'],
      ['/c', undefined],
    ]);
  });

  it('allowedOrigins: a redirect to another origin fails before anything is sent there', async () => {
    api.respond = () => ({ status: 302, headers: { location: `${other.url}/x` } });
    const instance = attached(makeClient(), { allowedOrigins: [api.url] }, adapter);
    const error = await instance.get(`${api.url}/a`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OriginNotAllowedError);
    expect((error as OriginNotAllowedError).code).toBe('M2M_ORIGIN_NOT_ALLOWED');
    expect(other.arrivals).toHaveLength(0);
    expect(api.arrivals).toHaveLength(1);
  });

  it('303 after POST continues as GET without the body or its headers', async () => {
    api.respond = (arrival) =>
      arrival.path === '/submit' ? { status: 303, headers: { location: '/result' } } : OK();
    const res = await attached(makeClient(), {}, adapter).post(`${api.url}/submit`, 'form=1', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(200);
    const [start, hop] = api.arrivals;
    expect([start?.method, start?.body.toString()]).toEqual(['POST', 'form=1']);
    expect([hop?.method, hop?.path, hop?.body.length, hop?.headers['content-type']]).toEqual([
      'GET',
      '/result',
      0,
      undefined,
    ]);
    expect(bearerOf(hop)).toBe('Bearer tok-1');
  });

  it('maxRedirects: 0 hands the 3xx over without following it', async () => {
    api.respond = () => ({ status: 302, headers: { location: `${other.url}/x` } });
    const res = await attached(makeClient(), {}, adapter).get(`${api.url}/a`, {
      maxRedirects: 0,
      validateStatus: () => true,
    });
    expect(res.status).toBe(302);
    expect(other.arrivals).toHaveLength(0);
  });

  it('more redirects than maxRedirects: an error, and the chain stops', async () => {
    api.respond = (arrival) => ({ status: 302, headers: { location: `${arrival.path}x` } });
    const error = await attached(makeClient(), {}, adapter)
      .get(`${api.url}/a`, { maxRedirects: 3 })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/more than 3 redirects/);
    expect(api.arrivals).toHaveLength(4);
  });
});

describe('DPoP', () => {
  it('a fresh proof per hop for its own htu, and none across origins', async () => {
    tokens.tokenType = 'DPoP';
    const replay = new JtiReplayCache();
    const checked: string[] = [];
    api.respond = async (arrival) => {
      if (arrival.path === '/a') return { status: 302, headers: { location: '/b?page=2' } };
      if (arrival.path === '/c') return { status: 307, headers: { location: `${other.url}/elsewhere` } };
      const token = /^DPoP (\S+)$/.exec(arrival.headers.authorization ?? '')?.[1] as string;
      const proof = await verifyDpopProof(arrival.headers.dpop, {
        htm: arrival.method,
        htu: `${api.url}${arrival.path}`,
        accessToken: token,
        replay,
      });
      checked.push(proof.payload.htu as string);
      return OK();
    };
    const instance = attached(makeClient({ dpop: true }));
    expect((await instance.get(`${api.url}/a`)).status).toBe(200);
    expect(checked).toEqual([`${api.url}/b`]);
    const [first, second] = api.arrivals.map((a) => a.headers.dpop);
    expect(first).toBeDefined();
    expect(second).not.toBe(first);
    expect(api.arrivals.map(bearerOf)).toEqual(['DPoP tok-1', 'DPoP tok-1']);

    expect((await instance.post(`${api.url}/c`, 'x')).status).toBe(200);
    const landed = other.arrivals[0] as Arrival;
    expect(landed.headers.authorization).toBeUndefined();
    expect(landed.headers.dpop).toBeUndefined();
  });
});

describe('axios semantics', () => {
  it('baseURL, a relative url and params: the token goes to the built URL; allowedOrigins checks it', async () => {
    const instance = axios.create({ baseURL: `${api.url}/api/` });
    attachBearer(instance, makeClient(), { allowedOrigins: [api.url] });
    const res = await instance.get('routes', { params: { limit: 2 } });
    expect(res.status).toBe(200);
    expect(api.arrivals.map((a) => [a.path, bearerOf(a)])).toEqual([['/api/routes?limit=2', 'Bearer tok-1']]);
    await expect(instance.get(`${other.url}/x`)).rejects.toBeInstanceOf(OriginNotAllowedError);
    expect(other.arrivals).toHaveLength(0);
  });

  it("a second 401 rejects as axios does (AxiosError with the response); the caller's validateStatus rules", async () => {
    api.respond = () => ({ status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    const error = (await attached(makeClient())
      .get(`${api.url}/x`)
      .catch((e: unknown) => e)) as AxiosError;
    expect(axios.isAxiosError(error)).toBe(true);
    expect(error.response?.status).toBe(401);
    expect(api.arrivals.map(bearerOf)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });

  it('a 401 to a request with a stream response: the first stream is released, the repeat answers', async () => {
    api.respond = (arrival) =>
      bearerOf(arrival) === 'Bearer tok-1'
        ? { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }
        : { status: 200, body: 'streamed' };
    const res = await attached(makeClient()).get(`${api.url}/s`, { responseType: 'stream' });
    const chunks: Buffer[] = [];
    for await (const chunk of res.data as AsyncIterable<Buffer>) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString()).toBe('streamed');
    expect(api.arrivals).toHaveLength(2);
  });

  it('an abort while the token is being fetched is axios’ CanceledError; nothing reaches the API', async () => {
    // A token endpoint that never answers: the call waits for the token until the caller aborts.
    const client = makeClient({ fetch: () => new Promise<Response>(() => undefined) });
    const controller = new AbortController();
    const pending = attached(client)
      .get(`${api.url}/x`, { signal: controller.signal })
      .catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 20);
    const error = await pending;
    expect(axios.isCancel(error)).toBe(true);
    expect((error as Error).name).toBe('CanceledError');
    expect(api.arrivals).toHaveLength(0);
    await client.close();
  });

  it("the caller's auth option is left alone: no token request", async () => {
    const res = await attached(makeClient()).get(`${api.url}/x`, {
      auth: { username: 'user', password: 'pass' },
    });
    expect(res.status).toBe(200);
    expect(bearerOf(api.arrivals[0])).toBe(`Basic ${Buffer.from('user:pass').toString('base64')}`);
    expect(tokens.count).toBe(0);
  });

  it('eject: later requests carry no token and cost no token request', async () => {
    const instance = axios.create();
    const eject = attachBearer(instance, makeClient());
    await instance.get(`${api.url}/a`);
    eject();
    await instance.get(`${api.url}/b`);
    expect(api.arrivals.map((a) => [a.path, bearerOf(a)])).toEqual([
      ['/a', 'Bearer tok-1'],
      ['/b', undefined],
    ]);
    expect(tokens.count).toBe(1);
    eject(); // idempotent
  });

  it('two instances, one client: one token, shared', async () => {
    const client = makeClient();
    await attached(client).get(`${api.url}/a`);
    await attached(client).get(`${api.url}/b`);
    expect(api.arrivals.map(bearerOf)).toEqual(['Bearer tok-1', 'Bearer tok-1']);
    expect(tokens.count).toBe(1);
  });
});

describe('no token in what is handed over', () => {
  it.each([
    ['a 500 answer', async () => api.url, () => ({ status: 500, body: 'boom' })],
    ['a refused connection', async () => `http://127.0.0.1:${await getFreePort()}`, OK],
  ])('%s: the AxiosError, logged or serialised, shows no token', async (_, base, respond) => {
    api.respond = respond;
    const client = makeClient();
    await client.getToken(); // tok-1, cached
    const error = (await attached(client)
      .get(`${await base()}/x`)
      .catch((e: unknown) => e)) as AxiosError;
    expect(axios.isAxiosError(error)).toBe(true);
    expect(inspect(error, { depth: 8 })).not.toContain('tok-1');
    expect(JSON.stringify(error.toJSON())).not.toContain('tok-1');
    // Still reachable for code that needs it.
    expect(error.request).toBeDefined();
  });

  it('a response, logged, shows no token; its config is the request as the caller made it', async () => {
    const res = await attached(makeClient()).get(`${api.url}/x`, { headers: { 'x-trace': '1' } });
    expect(inspect(res, { depth: 8 })).not.toContain('tok-1');
    expect(res.config.headers.get('x-trace')).toBe('1');
    expect(res.config.headers.has('authorization')).toBe(false);
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
  });

  it('repeating a failed request from its config (as axios-retry does) gets a current token', async () => {
    const client = makeClient();
    const instance = attached(client);
    api.respond = () => ({ status: 503 });
    const error = (await instance.get(`${api.url}/x`).catch((e: unknown) => e)) as AxiosError;
    api.respond = OK;
    await client.invalidate();
    const res = await instance.request(error.config as NonNullable<AxiosError['config']>);
    expect(res.status).toBe(200);
    expect(api.arrivals.map(bearerOf)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });
});

describe('bad arguments', () => {
  it.each([
    ['not an axios instance', () => attachBearer({} as AxiosInstance, makeClient()), 'axiosInstance'],
    ['not a client', () => attachBearer(axios.create(), {} as ClientCredentialsClient), 'client'],
    [
      'a misspelt option',
      () => attachBearer(axios.create(), makeClient(), { audiance: 'x' } as never),
      'audiance',
    ],
    [
      'an origin with a path',
      () => attachBearer(axios.create(), makeClient(), { allowedOrigins: ['https://api.example.com/x'] }),
      'allowedOrigins',
    ],
  ])('%s: ConfigurationError naming it', (_, attach, option) => {
    const error = (() => {
      try {
        attach();
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe(option);
  });
});
