/**
 * m2m-token/undici: what is specific to bearerInterceptor() with undici 7's Dispatcher.compose() and
 * undici.request(), against real node:http servers on loopback: Dispatcher.request() of a composed agent,
 * the held-back 401 for replayable bodies of every kind, redirects composed outside and inside, DPoP.
 * The scenarios every integration shares are in http-integrations.test.ts.
 */
import { createServer, type Socket } from 'node:net';
import { decodeJwt } from 'jose';
import {
  Agent,
  Client,
  type Dispatcher,
  interceptors,
  request,
  FormData as UndiciFormData,
  fetch as undiciFetch,
} from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { bearerInterceptor } from '../src/fetch/undici-entry.js';
import {
  type ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  OriginNotAllowedError,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { JtiReplayCache, verifyDpopProof } from './helpers/dpop-resource-server.js';
import { type Api, bearerOf, INVALID_TOKEN, startApi, worldMappers } from './helpers/loopback-api.js';
import { closeServer, listenOnLoopback } from './helpers/ports.js';
import { generationOf, startTokenServer, type TokenServer } from './helpers/token-server.js';

// ---------------------------------------------------------------------------------------------
// Loopback servers

// ---------------------------------------------------------------------------------------------

let tokens: TokenServer;
let api: Api;
let other: Api;
const agents: Agent[] = [];

/** A client of this file's token server, for the World Mappers API. */
function makeClient(extra: Partial<ClientCredentialsClientOptions> = {}): ClientCredentialsClient {
  return testClient({ tokenEndpoint: tokens.url, audience: 'urn:worldmappers', ...extra });
}

/** A fresh Agent composed with the given interceptors (closed after all tests). */
function agent(...chain: Dispatcher.DispatcherComposeInterceptor[]): Dispatcher {
  const a = new Agent();
  agents.push(a);
  return a.compose(...chain);
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

describe('bearerInterceptor', () => {
  it('also authorizes Dispatcher.request() of the composed agent, with its own audience', async () => {
    const dispatcher = agent(
      bearerInterceptor(makeClient(), { audience: 'urn:routes', scope: 'read:routes' }),
    );
    const res = await dispatcher.request({ origin: api.url, path: '/x', method: 'GET' });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
  });

  it('rejects a non-client and bad allowedOrigins synchronously', () => {
    expect(() => bearerInterceptor({} as ClientCredentialsClient)).toThrow(ConfigurationError);
    expect(() => bearerInterceptor(makeClient(), { allowedOrigins: ['https://x.example.com/path'] })).toThrow(
      expect.objectContaining({ option: 'allowedOrigins' }),
    );
  });
});

describe('401 retry', () => {
  const bodies: Array<[string, () => Dispatcher.DispatchOptions['body']]> = [
    ['Buffer', () => Buffer.from([0, 1, 2, 255])],
    ['Uint8Array', () => new Uint8Array([9, 8, 7])],
    [
      'FormData',
      () => {
        const form = new UndiciFormData();
        form.set('from', 'Seattle');
        return form as never;
      },
    ],
    ['Blob', () => new Blob(['blob body']) as never],
  ];
  for (const [name, make] of bodies) {
    it(`${name} bodies are sent again`, async () => {
      api.respond = worldMappers((t) => generationOf(t) >= 2);
      const dispatcher = agent(bearerInterceptor(makeClient()));
      const res = await request(`${api.url}/up`, { dispatcher, method: 'PUT', body: make() });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      expect(api.arrivals).toHaveLength(2);
      expect(api.arrivals[0]!.body.length).toBeGreaterThan(0);
      if (name === 'FormData') {
        expect(api.arrivals.every((a) => a.body.toString().includes('Seattle'))).toBe(true);
      } else {
        expect(api.arrivals[1]!.body.equals(api.arrivals[0]!.body)).toBe(true);
      }
    });
  }

  it('a 401 with error="insufficient_scope" (or another error) is not retried', async () => {
    api.respond = () => ({
      status: 401,
      headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
    });
    const dispatcher = agent(bearerInterceptor(makeClient()));
    const res = await request(`${api.url}/x`, { dispatcher });
    await res.body.dump();
    expect(res.statusCode).toBe(401);
    expect(api.arrivals).toHaveLength(1);
    expect(tokens.count).toBe(1);
  });

  it('a 401 with a large body is handed over as it is, not held back', async () => {
    const big = JSON.stringify({ error: 'invalid_token', padding: 'x'.repeat(100_000) });
    api.respond = () => ({ ...INVALID_TOKEN, body: big });
    const dispatcher = agent(bearerInterceptor(makeClient()));
    const res = await request(`${api.url}/x`, { dispatcher });
    expect(res.statusCode).toBe(401);
    expect(await res.body.text()).toBe(big);
    // The refresh its headers started still runs; let it end here, not in the next test.
    await vi.waitFor(() => expect(tokens.count).toBe(2));
  });
});

describe('origins and redirects', () => {
  it('redirect interceptor composed after it: same-origin hops keep the token, a cross-origin hop gets none', async () => {
    api.respond = (arrival) => {
      if (arrival.path === '/a') return { status: 302, headers: { location: '/b' } };
      if (arrival.path === '/b') return { status: 307, headers: { location: `${other.url}/landing` } };
      return { status: 200 };
    };
    const dispatcher = agent(bearerInterceptor(makeClient()), interceptors.redirect({ maxRedirections: 5 }));
    const res = await request(`${api.url}/a`, {
      dispatcher,
      method: 'PUT',
      body: 'data',
      headers: { 'x-trace': 't' },
    });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ other: true });
    expect(api.arrivals.map((a) => [a.path, bearerOf(a)])).toEqual([
      ['/a', 'Bearer tok-1'],
      ['/b', 'Bearer tok-1'],
    ]);
    const landed = other.arrivals[0]!;
    expect(landed.headers.authorization).toBeUndefined();
    expect(landed.headers.dpop).toBeUndefined();
    expect(JSON.stringify(landed.headers)).not.toContain('tok-1');
    expect(landed.headers['x-trace']).toBe('t');
  });

  it('redirect interceptor composed after it: once the chain left the origin, coming back gets no token', async () => {
    api.respond = (arrival) =>
      arrival.path === '/a' ? { status: 302, headers: { location: `${other.url}/b` } } : { status: 200 };
    other.respond = () => ({ status: 302, headers: { location: `${api.url}/c` } });
    try {
      const dispatcher = agent(
        bearerInterceptor(makeClient()),
        interceptors.redirect({ maxRedirections: 5 }),
      );
      const res = await request(`${api.url}/a`, { dispatcher });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      expect(api.arrivals.map((a) => [a.path, bearerOf(a)])).toEqual([
        ['/a', 'Bearer tok-1'],
        ['/c', undefined],
      ]);
      expect(other.arrivals[0]!.headers.authorization).toBeUndefined();
    } finally {
      other.respond = () => ({ status: 200, body: '{"other":true}' });
    }
  });

  it('a Client composed with it: requests without an origin in their options are refused by allowedOrigins', async () => {
    const pool = new Client(api.url);
    try {
      const open = pool.compose(bearerInterceptor(makeClient()));
      const res = await open.request({ path: '/x', method: 'GET' });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
      const guarded = pool.compose(bearerInterceptor(makeClient(), { allowedOrigins: [api.url] }));
      await expect(guarded.request({ path: '/x', method: 'GET' })).rejects.toBeInstanceOf(
        OriginNotAllowedError,
      );
      const withOrigin = await guarded.request({ origin: api.url, path: '/y', method: 'GET' });
      await withOrigin.body.dump();
      expect(withOrigin.statusCode).toBe(200);
      expect(api.arrivals.map((a) => a.path)).toEqual(['/x', '/y']);
    } finally {
      await pool.close();
    }
  });

  it('redirect interceptor composed after it: every hop is checked against allowedOrigins', async () => {
    api.respond = () => ({ status: 302, headers: { location: `${other.url}/x` } });
    const dispatcher = agent(
      bearerInterceptor(makeClient(), { allowedOrigins: [api.url] }),
      interceptors.redirect({ maxRedirections: 5 }),
    );
    await expect(request(`${api.url}/a`, { dispatcher })).rejects.toBeInstanceOf(OriginNotAllowedError);
    expect(other.arrivals).toHaveLength(0);
  });

  it('undici fetch over the composed dispatcher: allowedOrigins refuses a redirect hop to another origin', async () => {
    // fetch follows redirects itself: each hop reaches the interceptor as a new request (see docs).
    api.respond = () => ({ status: 302, headers: { location: `${other.url}/x` } });
    const dispatcher = agent(bearerInterceptor(makeClient(), { allowedOrigins: [api.url] }));
    const failure = await undiciFetch(`${api.url}/a`, { dispatcher }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TypeError);
    expect((failure as Error).cause).toBeInstanceOf(OriginNotAllowedError);
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
    expect(other.arrivals).toHaveLength(0);
  });

  it('an origin that is not a URL is refused by allowedOrigins without being shown (it may hold a password)', async () => {
    const dispatcher = agent(bearerInterceptor(makeClient(), { allowedOrigins: [api.url] }));
    const failure = await dispatcher
      .request({ origin: 'https://svc:S3cr3tPassw0rd@[not-a-host', path: '/x', method: 'GET' })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OriginNotAllowedError);
    expect((failure as OriginNotAllowedError).origin).toBe('(not a URL)');
    expect((failure as Error).message).not.toContain('S3cr3t');
    expect(tokens.count).toBe(0);
  });

  it('undici fetch (or the global fetch) without allowedOrigins: one warning per interceptor, as fetch follows redirects itself', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const client = makeClient();
    try {
      const viaUndici = agent(bearerInterceptor(client));
      for (let i = 0; i < 2; i++) await (await undiciFetch(`${api.url}/x`, { dispatcher: viaUndici })).text();
      expect(warn).toHaveBeenCalledTimes(1);
      const [message, options] = warn.mock.calls[0] as [string, { code?: string }];
      expect(message).toMatch(/allowedOrigins/);
      expect(options.code).toBe('M2M_UNDICI_FETCH_REDIRECTS');
      const viaGlobal = agent(bearerInterceptor(client));
      const init = { dispatcher: viaGlobal } as RequestInit;
      await (await globalThis.fetch(`${api.url}/x`, init)).text();
      expect(warn).toHaveBeenCalledTimes(2);
      // No warning with allowedOrigins, nor for request(), whose hops the interceptor sees.
      const guarded = agent(bearerInterceptor(client, { allowedOrigins: [api.url] }));
      await (await undiciFetch(`${api.url}/x`, { dispatcher: guarded })).text();
      const direct = agent(bearerInterceptor(client), interceptors.redirect({ maxRedirections: 2 }));
      await (await request(`${api.url}/x`, { dispatcher: direct })).body.text();
      expect(warn).toHaveBeenCalledTimes(2);
      expect(api.arrivals.map(bearerOf)).toEqual(Array(5).fill('Bearer tok-1'));
    } finally {
      warn.mockRestore();
    }
  });

  it('redirect interceptor composed inside it: requests carrying the token are not followed (the 3xx is returned)', async () => {
    api.respond = () => ({ status: 302, headers: { location: `${other.url}/x` } });
    const dispatcher = agent(interceptors.redirect({ maxRedirections: 5 }), bearerInterceptor(makeClient()));
    const res = await request(`${api.url}/a`, { dispatcher });
    await res.body.dump();
    expect(res.statusCode).toBe(302);
    expect(other.arrivals).toHaveLength(0);
  });
});

describe('aborts and DPoP', () => {
  it("DPoP: htm is the method as undici sends it (undici does not normalise a method's case)", async () => {
    tokens.tokenType = 'DPoP';
    // node:http refuses a lower-case method; a raw server records the request line as it arrives.
    const lines: string[] = [];
    const proofs: string[] = [];
    const sockets = new Set<Socket>();
    const raw = createServer((socket) => {
      sockets.add(socket);
      let head = '';
      socket.on('data', (chunk) => {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        const [line = '', ...fields] = head.slice(0, end).split('\r\n');
        lines.push(line);
        const dpop = fields.find((f) => f.toLowerCase().startsWith('dpop:'));
        proofs.push(dpop?.slice(5).trim() ?? '');
        head = head.slice(end + 4);
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
      });
    });
    const port = await listenOnLoopback(raw);
    try {
      const dispatcher = agent(bearerInterceptor(makeClient({ dpop: true })));
      for (const method of ['get', 'PATCH']) {
        const res = await request(`http://127.0.0.1:${port}/items?x=1`, {
          dispatcher,
          method: method as 'GET',
        });
        await res.body.dump();
        expect(res.statusCode).toBe(200);
      }
      expect(lines).toEqual(['get /items?x=1 HTTP/1.1', 'PATCH /items?x=1 HTTP/1.1']);
      expect(proofs.map((p) => decodeJwt(p))).toMatchObject([
        { htm: 'get', htu: `http://127.0.0.1:${port}/items` },
        { htm: 'PATCH', htu: `http://127.0.0.1:${port}/items` },
      ]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await closeServer(raw);
    }
  });

  it('DPoP tokens: Authorization: DPoP, a fresh proof per attempt, and one repeat for use_dpop_nonce (RFC 9449 9)', async () => {
    tokens.tokenType = 'DPoP';
    const replay = new JtiReplayCache();
    const nonce = 'server-nonce-1';
    const proofs: Array<{ jti: unknown; nonce: unknown; htm: string; htu: string }> = [];
    api.respond = async (arrival) => {
      const match = /^DPoP (\S+)$/.exec(arrival.headers.authorization ?? '');
      if (!match) return INVALID_TOKEN;
      try {
        const checked = await verifyDpopProof(arrival.headers.dpop, {
          htm: arrival.method,
          htu: `${api.url}${arrival.path}`,
          accessToken: match[1]!,
          replay,
          nonce,
        });
        proofs.push({
          jti: checked.payload.jti,
          nonce: checked.payload.nonce,
          htm: checked.payload.htm,
          htu: checked.payload.htu,
        });
        return { status: 200 };
      } catch (error) {
        const code = (error as { error?: string }).error ?? 'invalid_dpop_proof';
        proofs.push({ jti: undefined, nonce: undefined, htm: '', htu: '' });
        return {
          status: 401,
          headers: {
            'www-authenticate': `DPoP error="${code}"`,
            ...(code === 'use_dpop_nonce' ? { 'dpop-nonce': nonce } : {}),
          },
        };
      }
    };
    const dispatcher = agent(bearerInterceptor(makeClient({ dpop: true })));
    const res = await request(`${api.url}/api/items?x=1`, { dispatcher, method: 'POST', body: 'b' });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect(api.arrivals.map((a) => a.headers.authorization)).toEqual(['DPoP tok-1', 'DPoP tok-1']);
    expect(proofs[1]).toMatchObject({ nonce, htm: 'POST', htu: `${api.url}/api/items` });
    // The nonce is remembered: the next request sends it at once.
    const next = await request(`${api.url}/api/items`, { dispatcher });
    await next.body.dump();
    expect(next.statusCode).toBe(200);
    expect(api.arrivals).toHaveLength(3);
    expect(new Set(proofs.map((p) => p.jti).filter(Boolean)).size).toBe(2);
    expect(tokens.count).toBe(1);
  });
});
