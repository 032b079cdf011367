/**
 * client.fetch() / client.createFetch(): the token on API requests, the 401 rule and its rate limit,
 * body replay, redirects and the origin allowlist. Against real node:http servers on loopback (an API
 * shaped like the World Mappers API: 200 with a valid token, 401 otherwise), the example auth server
 * and API for key rotation, and msw for https origins.
 */
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { type AuthServer, startAuthServer } from '../examples/auth-server/server.js';
import { startWorldMappersApi, type WorldMappersApi } from '../examples/worldmappers-api/server.js';
import {
  type CachedToken,
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  FORCED_REFRESH_INTERVAL_MS,
  OAuthError,
  OriginNotAllowedError,
  type TokenCache,
} from '../src/index.js';
import { DEFAULT_RETRY, testClient } from './helpers/clients.js';
import { JtiReplayCache, verifyDpopProof } from './helpers/dpop-resource-server.js';
import {
  type Answer,
  type Api,
  bearerOf,
  INVALID_TOKEN,
  startApi,
  worldMappers,
} from './helpers/loopback-api.js';
import { thrownBy } from './helpers/outcomes.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';
import { generationOf, startTokenServer, type TokenServer } from './helpers/token-server.js';

// ---------------------------------------------------------------------------------------------
// Loopback servers

// ---------------------------------------------------------------------------------------------

let tokens: TokenServer;
let api: Api;
let other: Api;

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
  await Promise.all([tokens.close(), api.close(), other.close()]);
});

afterEach(() => {
  vi.useRealTimers();
  tokens.reset();
  api.arrivals.length = 0;
  api.respond = worldMappers(() => true);
  other.arrivals.length = 0;
});

describe('the token on API requests', () => {
  it('is typed as fetch and sends Authorization: Bearer <token> for a string, a URL and a Request', async () => {
    const client = makeClient();
    const f = client.createFetch();
    expectTypeOf(f).toEqualTypeOf<typeof fetch>();
    expectTypeOf(client.fetch).parameters.toEqualTypeOf<Parameters<typeof fetch>>();

    const a = await client.fetch(`${api.url}/api/location/geocode?address=Seattle`);
    const b = await f(new URL('/api/routes', api.url), { headers: { 'x-trace': '1' } });
    const c = await f(new Request(`${api.url}/api/routes`, { headers: { accept: 'application/json' } }));
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
    expect(a).toBeInstanceOf(Response);
    expect(await a.json()).toEqual({ ok: true, path: '/api/location/geocode?address=Seattle' });
    expect(api.arrivals.map(bearerOf)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1']);
    expect(api.arrivals[1]!.headers['x-trace']).toBe('1');
    expect(api.arrivals[2]!.headers.accept).toBe('application/json');
    expect(api.arrivals.map((r) => r.path)).toEqual([
      '/api/location/geocode?address=Seattle',
      '/api/routes',
      '/api/routes',
    ]);
    // One token for all three: client.fetch and createFetch() with the same options share the cache.
    expect(tokens.count).toBe(1);
  });

  it('normalises the scheme to Bearer whatever case the token endpoint used', async () => {
    tokens.tokenType = 'bearer';
    const res = await makeClient().fetch(`${api.url}/x`);
    expect(res.status).toBe(200);
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
  });

  it('createFetch() asks for its own audience and scope', async () => {
    const seen: URLSearchParams[] = [];
    const endpoint = fakeTokenEndpoint({
      token: (n, params) => {
        seen.push(params);
        return `tok-${n}`;
      },
    });
    const client = testClient({ fetch: endpoint.fetch, retry: DEFAULT_RETRY });
    const geo = client.createFetch({
      audience: 'urn:worldmappers',
      scope: ['geocode:location'],
      fetch: (input, init) => globalThis.fetch(input, init),
    });
    expect((await geo(`${api.url}/api/location/geocode?address=x`)).status).toBe(200);
    expect(seen[0]!.get('audience')).toBe('urn:worldmappers');
    expect(seen[0]!.get('scope')).toBe('geocode:location');
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
  });

  it('works with undici’s own fetch as the fetch option', async () => {
    const f = makeClient().createFetch({ fetch: undiciFetch as unknown as typeof fetch });
    const res = await f(`${api.url}/api/routes`, { method: 'POST', body: '{"from":"a","to":"b"}' });
    expect(res.status).toBe(200);
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
    expect(api.arrivals[0]!.body.toString()).toBe('{"from":"a","to":"b"}');
  });

  it('an aborted signal rejects with AbortError and sends nothing (no token request either)', async () => {
    const failure = await makeClient()
      .fetch(`${api.url}/x`, { signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect((failure as Error).name).toBe('AbortError');
    expect(api.arrivals).toHaveLength(0);
    expect(tokens.count).toBe(0);
  });

  it('rejects a relative URL like fetch does (TypeError), without a token request', async () => {
    await expect(makeClient().fetch('/relative')).rejects.toBeInstanceOf(TypeError);
    expect(tokens.count).toBe(0);
  });

  it('a data: URL is fetched without a token', async () => {
    const res = await makeClient().fetch('data:text/plain,hello');
    expect(await res.text()).toBe('hello');
    expect(tokens.count).toBe(0);
  });
});

describe('401: drop the token, get a new one, repeat once', () => {
  it('with an asynchronous cache (as Redis), 200 concurrent 401s still cause one refresh and all succeed', async () => {
    const store = new Map<string, CachedToken>();
    const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
    const cache: TokenCache = {
      get: async (key) => {
        await tick();
        return store.get(key);
      },
      set: async (key, value) => {
        await tick();
        store.set(key, value);
      },
      delete: async (key) => {
        await tick();
        store.delete(key);
      },
    };
    const client = makeClient({ cache });
    api.respond = worldMappers((t) => generationOf(t) >= 2);
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => client.fetch(`${api.url}/r/${i}`)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(200));
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    expect(tokens.count).toBe(2);
  });

  it('drops only the token it used: a newer token another request already got is kept', async () => {
    const client = makeClient();
    let releaseSlow: () => void = () => {};
    const slowHeld = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    api.respond = async (arrival) => {
      const token = /^Bearer (\S+)$/.exec(arrival.headers.authorization ?? '')?.[1] ?? '';
      if (generationOf(token) >= 2) return { status: 200 };
      if (arrival.path === '/slow') await slowHeld; // its 401 arrives after the other call refreshed
      return INVALID_TOKEN;
    };
    await client.getToken(); // tok-1
    const slow = client.fetch(`${api.url}/slow`);
    const fast = await client.fetch(`${api.url}/fast`);
    expect(fast.status).toBe(200);
    expect(tokens.count).toBe(2);
    releaseSlow();
    const late = await slow;
    // The slow call's 401 was for tok-1: it uses tok-2 from the cache instead of dropping it.
    expect(late.status).toBe(200);
    expect(tokens.count).toBe(2);
    expect((await client.getToken()).accessToken).toBe('tok-2');
    expect(api.arrivals.filter((a) => a.path === '/slow').map(bearerOf)).toEqual([
      'Bearer tok-1',
      'Bearer tok-2',
    ]);
  });

  it('1,000 requests against an API that always answers 401 cause a small, bounded number of token requests', async () => {
    const client = makeClient();
    api.respond = () => INVALID_TOKEN;
    const started = Date.now();
    for (let batch = 0; batch < 10; batch++) {
      const responses = await Promise.all(Array.from({ length: 100 }, () => client.fetch(`${api.url}/x`)));
      expect(responses.every((r) => r.status === 401)).toBe(true);
      await Promise.all(responses.map((r) => r.arrayBuffer()));
    }
    // The first token plus at most one forced refresh per interval that has begun (2 at any normal speed).
    const windows = Math.floor((Date.now() - started) / FORCED_REFRESH_INTERVAL_MS) + 1;
    expect(tokens.count).toBeGreaterThanOrEqual(2);
    expect(tokens.count).toBeLessThanOrEqual(1 + windows);
    expect(api.arrivals.length).toBeLessThanOrEqual(1000 + 100 * windows);
  });

  describe('WWW-Authenticate decides (RFC 6750 3.1)', () => {
    const cases: Array<[string, string | undefined, boolean]> = [
      ['error="invalid_token"', 'Bearer realm="api", error="invalid_token"', true],
      ['no error attribute', 'Bearer realm="api"', true],
      ['no WWW-Authenticate at all', undefined, true],
      [
        'several challenges, quoted commas',
        'Basic realm="a, b", Bearer error_description="x, y", error="invalid_token"',
        true,
      ],
      ['lower-case scheme and token value', 'bearer error=invalid_token', true],
      [
        'error="insufficient_scope"',
        'Bearer realm="api", error="insufficient_scope", scope="read:routes"',
        false,
      ],
      ['error="invalid_request"', 'Bearer error="invalid_request"', false],
      [
        'another scheme with invalid_token-like text only',
        'Basic realm="invalid_token", Bearer error="invalid_request"',
        false,
      ],
    ];
    for (const [name, header, refreshes] of cases) {
      it(`${name}: ${refreshes ? 'refreshes and repeats' : 'returns the 401 without a refresh'}`, async () => {
        const client = makeClient();
        api.respond = (arrival): Answer =>
          bearerOf(arrival) === 'Bearer tok-2'
            ? { status: 200 }
            : { status: 401, headers: header === undefined ? {} : { 'www-authenticate': header } };
        const res = await client.fetch(`${api.url}/x`);
        expect(res.status).toBe(refreshes ? 200 : 401);
        expect(api.arrivals).toHaveLength(refreshes ? 2 : 1);
        expect(tokens.count).toBe(refreshes ? 2 : 1);
      });
    }

    it('a 403 insufficient_scope is returned as it is', async () => {
      api.respond = () => ({
        status: 403,
        headers: { 'www-authenticate': 'Bearer error="insufficient_scope"' },
      });
      const res = await makeClient().fetch(`${api.url}/x`);
      expect(res.status).toBe(403);
      expect(api.arrivals).toHaveLength(1);
      expect(tokens.count).toBe(1);
    });
  });

  it('a refresh that fails rejects the call with the token error', async () => {
    const client = makeClient();
    api.respond = worldMappers((t) => generationOf(t) >= 2);
    tokens.answer((_, n) => (n === 2 ? { status: 400, json: { error: 'invalid_client' } } : undefined));
    const failure = await client.fetch(`${api.url}/x`).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OAuthError);
    expect(api.arrivals).toHaveLength(1);
  });
});

describe('request bodies on the repeat', () => {
  /** An API that refuses tok-1 and echoes what it received. */
  function rotatingEcho(): void {
    api.respond = (arrival) => {
      if (bearerOf(arrival) !== 'Bearer tok-2') return INVALID_TOKEN;
      return { status: 200, body: JSON.stringify({ ok: true }) };
    };
  }

  const bytes = new TextEncoder().encode('binary\u0000body\u00ff');
  const bodies: Array<[string, () => BodyInit]> = [
    ['string', () => '{"from":"Seattle","to":"Bellevue"}'],
    ['URLSearchParams', () => new URLSearchParams({ from: 'Seattle', to: 'Bellevue & Co' })],
    ['Blob', () => new Blob([bytes], { type: 'application/x-test' })],
    ['ArrayBuffer', () => bytes.slice().buffer],
    ['Uint8Array', () => bytes.slice()],
    ['DataView (typed array view)', () => new DataView(bytes.slice().buffer)],
    ['Buffer', () => Buffer.from(bytes)],
  ];
  for (const [name, make] of bodies) {
    it(`${name}: sent again, byte for byte, with the same Content-Type`, async () => {
      rotatingEcho();
      const res = await makeClient().fetch(`${api.url}/api/routes`, { method: 'POST', body: make() });
      expect(res.status).toBe(200);
      expect(api.arrivals).toHaveLength(2);
      const [first, second] = api.arrivals;
      expect(first!.body.length).toBeGreaterThan(0);
      expect(second!.body.equals(first!.body)).toBe(true);
      expect(second!.headers['content-type']).toBe(first!.headers['content-type']);
      expect(bearerOf(second)).toBe('Bearer tok-2');
    });
  }

  it('FormData: sent again with the same fields (a new multipart boundary is fine)', async () => {
    rotatingEcho();
    const form = new FormData();
    form.set('from', 'Seattle');
    form.set('file', new Blob(['route data'], { type: 'text/plain' }), 'route.txt');
    const res = await makeClient().fetch(`${api.url}/api/routes`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const parsed = await Promise.all(
      api.arrivals.map((a) =>
        new Response(new Uint8Array(a.body), {
          headers: { 'content-type': a.headers['content-type']! },
        }).formData(),
      ),
    );
    for (const received of parsed) {
      expect(received.get('from')).toBe('Seattle');
      expect(await (received.get('file') as File).text()).toBe('route data');
    }
  });

  it('a Request object with a body: its body is sent again', async () => {
    rotatingEcho();
    const request = new Request(`${api.url}/api/routes`, {
      method: 'PUT',
      body: 'request body',
      headers: { 'content-type': 'text/plain' },
    });
    const res = await makeClient().fetch(request);
    expect(res.status).toBe(200);
    expect(api.arrivals.map((a) => [a.method, a.body.toString(), a.headers['content-type']])).toEqual([
      ['PUT', 'request body', 'text/plain'],
      ['PUT', 'request body', 'text/plain'],
    ]);
  });
});

describe('redirects', () => {
  it('a same-origin redirect keeps the token; the final Response says redirected', async () => {
    api.respond = (arrival) =>
      arrival.path === '/old'
        ? { status: 302, headers: { location: '/new?x=1' } }
        : worldMappers(() => true)(arrival);
    const res = await makeClient().fetch(`${api.url}/old`);
    expect(res.status).toBe(200);
    expect(res.redirected).toBe(true);
    expect(res.url).toBe(`${api.url}/new?x=1`);
    expect(api.arrivals.map((a) => [a.path, bearerOf(a)])).toEqual([
      ['/old', 'Bearer tok-1'],
      ['/new?x=1', 'Bearer tok-1'],
    ]);
  });

  it('a cross-origin redirect to a second loopback server carries no token and no credential header', async () => {
    api.respond = () => ({ status: 307, headers: { location: `${other.url}/landing?q=1` } });
    const res = await makeClient().fetch(`${api.url}/start`, {
      method: 'POST',
      body: 'payload',
      headers: { 'x-trace': 'abc', cookie: 'session=1', 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ other: true });
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
    // What arrived at the other origin:
    expect(other.arrivals).toHaveLength(1);
    const landed = other.arrivals[0]!;
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
      arrival.path === '/a' ? { status: 302, headers: { location: `${other.url}/b` } } : { status: 200 };
    other.respond = () => ({ status: 302, headers: { location: `${api.url}/c` } });
    try {
      const res = await makeClient().fetch(`${api.url}/a`);
      expect(res.status).toBe(200);
      expect(api.arrivals.map((a) => [a.path, bearerOf(a)])).toEqual([
        ['/a', 'Bearer tok-1'],
        ['/c', undefined],
      ]);
    } finally {
      other.respond = () => ({ status: 200, body: '{"other":true}' });
    }
  });

  it('DPoP: a fresh proof for each same-origin hop (htu of that hop); nothing of it crosses origins', async () => {
    tokens.tokenType = 'DPoP';
    const replay = new JtiReplayCache();
    const checked: string[] = [];
    api.respond = async (arrival) => {
      if (arrival.path === '/a') return { status: 302, headers: { location: '/b?page=2' } };
      if (arrival.path === '/c') return { status: 307, headers: { location: `${other.url}/elsewhere` } };
      const token = /^DPoP (\S+)$/.exec(arrival.headers.authorization ?? '')?.[1];
      const proof = await verifyDpopProof(arrival.headers.dpop, {
        htm: arrival.method,
        htu: `${api.url}${arrival.path}`,
        accessToken: token!,
        replay,
      });
      checked.push(proof.payload.htu);
      return { status: 200 };
    };
    const client = makeClient({ dpop: true });
    expect((await client.fetch(`${api.url}/a`)).status).toBe(200);
    expect(checked).toEqual([`${api.url}/b`]);
    const hops = api.arrivals.map((a) => a.headers.dpop);
    expect(hops[0]).toBeDefined();
    expect(hops[1]).not.toBe(hops[0]);
    expect(api.arrivals.map((a) => a.headers.authorization)).toEqual(['DPoP tok-1', 'DPoP tok-1']);

    expect((await client.fetch(`${api.url}/c`)).status).toBe(200);
    const landed = other.arrivals[0]!;
    expect(landed.headers.authorization).toBeUndefined();
    expect(landed.headers.dpop).toBeUndefined();
  });

  it('303 after POST, and 302 after POST, continue as GET without the body', async () => {
    for (const status of [303, 302]) {
      api.arrivals.length = 0;
      api.respond = (arrival) =>
        arrival.path === '/submit' ? { status, headers: { location: '/result' } } : { status: 200 };
      const res = await makeClient().fetch(`${api.url}/submit`, {
        method: 'POST',
        body: 'form=1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(200);
      const [start, hop] = api.arrivals;
      expect([start!.method, start!.body.toString()]).toEqual(['POST', 'form=1']);
      expect([hop!.method, hop!.body.length, hop!.headers['content-type'], bearerOf(hop)]).toEqual([
        'GET',
        0,
        undefined,
        bearerOf(start),
      ]);
    }
  });

  it("honours redirect: 'manual' and 'error'", async () => {
    api.respond = () => ({ status: 302, headers: { location: `${other.url}/x` } });
    const client = makeClient();
    const manual = await client.fetch(`${api.url}/a`, { redirect: 'manual' });
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe(`${other.url}/x`);
    await expect(client.fetch(`${api.url}/a`, { redirect: 'error' })).rejects.toBeInstanceOf(TypeError);
    expect(other.arrivals).toHaveLength(0);
  });

  it('stops after 20 redirects with a TypeError', async () => {
    api.respond = (arrival) => ({
      status: 302,
      headers: { location: `/loop/${api.arrivals.indexOf(arrival) + 1}` },
    });
    await expect(makeClient().fetch(`${api.url}/loop/0`)).rejects.toThrow(/more than 20 redirects/);
    expect(api.arrivals).toHaveLength(21);
  });

  it('a redirect that repeats a ReadableStream body cannot be followed (TypeError, as fetch)', async () => {
    api.respond = () => ({ status: 307, headers: { location: '/again' } });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array([1, 2, 3]));
        c.close();
      },
    });
    const failure = await makeClient()
      .fetch(`${api.url}/up`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TypeError);
    expect(api.arrivals).toHaveLength(1);
  });

  it('follows redirects the same way with undici’s own fetch', async () => {
    api.respond = () => ({ status: 308, headers: { location: `${other.url}/moved` } });
    const f = makeClient().createFetch({ fetch: undiciFetch as unknown as typeof fetch });
    const res = await f(`${api.url}/x`);
    expect(res.status).toBe(200);
    expect(bearerOf(api.arrivals[0])).toBe('Bearer tok-1');
    expect(other.arrivals[0]!.headers.authorization).toBeUndefined();
  });
});

describe('allowedOrigins', () => {
  it('checks every redirect hop: a redirect to an origin outside the list is rejected, nothing reaches it', async () => {
    api.respond = () => ({ status: 302, headers: { location: `${other.url}/x` } });
    const f = makeClient().createFetch({ allowedOrigins: [api.url] });
    await expect(f(`${api.url}/a`)).rejects.toBeInstanceOf(OriginNotAllowedError);
    expect(api.arrivals).toHaveLength(1);
    expect(other.arrivals).toHaveLength(0);
  });

  it('also applies to requests carrying their own Authorization', async () => {
    const f = makeClient().createFetch({ allowedOrigins: [api.url] });
    await expect(f(`${other.url}/x`, { headers: { authorization: 'Bearer mine' } })).rejects.toBeInstanceOf(
      OriginNotAllowedError,
    );
    expect(other.arrivals).toHaveLength(0);
  });

  it('validates the entries (ConfigurationError naming allowedOrigins)', () => {
    const client = makeClient();
    for (const bad of [
      [],
      ['api.example.com'],
      ['https://api.example.com/v1'],
      ['https://api.example.com?x'],
      ['ftp://api.example.com'],
      ['https://user:pw@api.example.com'],
      [42],
      'https://api.example.com',
    ]) {
      const error = thrownBy(() => client.createFetch({ allowedOrigins: bad as string[] }));
      expect(error, JSON.stringify(bad)).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).option).toBe('allowedOrigins');
    }
    expect(() =>
      client.createFetch({ allowedOrigins: ['https://api.example.com', 'http://127.0.0.1:8080'] }),
    ).not.toThrow();
  });
});

describe('with msw (https origins)', () => {
  const seen: Array<{ url: string; authorization: string | null }> = [];
  const msw = setupServer(
    http.all('https://api.example.com/*', ({ request }) => {
      seen.push({ url: request.url, authorization: request.headers.get('authorization') });
      if (new URL(request.url).pathname === '/moved') {
        return new HttpResponse(null, {
          status: 302,
          headers: { location: 'https://evil.example.com/collect' },
        });
      }
      return request.headers.get('authorization') === 'Bearer tok-1'
        ? HttpResponse.json({ ok: true })
        : HttpResponse.json({ error: 'invalid_token' }, { status: 401 });
    }),
    http.all('https://evil.example.com/*', ({ request }) => {
      seen.push({ url: request.url, authorization: request.headers.get('authorization') });
      return HttpResponse.json({ stolen: false });
    }),
  );
  beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
  afterAll(() => msw.close());
  afterEach(() => {
    seen.length = 0;
  });

  function mswClient() {
    const endpoint = fakeTokenEndpoint({ token: (n) => `tok-${n}` });
    const client = testClient({ fetch: endpoint.fetch, retry: DEFAULT_RETRY });
    const f = client.createFetch({
      audience: 'urn:api',
      allowedOrigins: ['https://api.example.com'],
      fetch: (input, init) => globalThis.fetch(input, init),
    });
    return { f, endpoint };
  }

  it('sends the token to the allowed origin and refuses another one', async () => {
    const { f, endpoint } = mswClient();
    expect((await f('https://api.example.com/v1/items')).status).toBe(200);
    await expect(f('https://evil.example.com/collect')).rejects.toBeInstanceOf(OriginNotAllowedError);
    await expect(f('http://api.example.com/v1/items')).rejects.toBeInstanceOf(OriginNotAllowedError); // scheme differs
    expect(seen).toEqual([{ url: 'https://api.example.com/v1/items', authorization: 'Bearer tok-1' }]);
    expect(endpoint.count).toBe(1);
  });

  it('refuses a redirect out of the allowlist', async () => {
    const { f } = mswClient();
    const failure = await f('https://api.example.com/moved').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OriginNotAllowedError);
    expect((failure as OriginNotAllowedError).origin).toBe('https://evil.example.com');
    expect(seen.map((s) => s.url)).toEqual(['https://api.example.com/moved']);
  });
});

describe('end to end: the example auth server and the World Mappers API', () => {
  let auth: AuthServer;
  let worldMappersApi: WorldMappersApi;
  beforeAll(async () => {
    auth = await startAuthServer({ port: 0, log: false });
    worldMappersApi = await startWorldMappersApi({ issuer: auth.issuer, audience: 'urn:worldmappers' });
  });
  afterAll(async () => {
    await Promise.all([worldMappersApi.close(), auth.close()]);
  });

  it('after a signing key rotation the cached token gets a 401, one new token is fetched and the call succeeds', async () => {
    const client = new ClientCredentialsClient({
      issuer: auth.issuer,
      clientId: 'gift-deliveries',
      clientSecret: 'dev-only-gift-deliveries-secret-do-not-reuse',
      audience: 'urn:worldmappers',
      retry: false,
    });
    const geocode = `${worldMappersApi.url}/api/location/geocode?address=Seattle`;
    const first = await client.fetch(geocode);
    expect(first.status).toBe(200);
    expect(((await first.json()) as { address: string }).address).toBe('Seattle');
    expect(auth.stats.tokensIssued).toBe(1);

    await auth.rotateKeys();
    const second = await client.fetch(geocode);
    expect(second.status).toBe(200);
    expect(auth.stats.tokensIssued).toBe(2);

    // A scope the client was not granted: 403 insufficient_scope, no refresh.
    const forbidden = await client.fetch(`${worldMappersApi.url}/api/routes`, {
      method: 'POST',
      body: JSON.stringify({ from: 'a', to: 'b' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(forbidden.status).toBe(403);
    expect(auth.stats.tokensIssued).toBe(2);
  });
});
