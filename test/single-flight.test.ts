import { describe, expect, it } from 'vitest';
import { HttpError, type TokenEvent } from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';

describe('single-flight', () => {
  it('1,000 concurrent calls for one key make one token request', async () => {
    const endpoint = fakeTokenEndpoint({ latencyMs: 20 });
    const client = testClient({ fetch: endpoint.fetch });
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => client.getToken()));
    expect(endpoint.count).toBe(1);
    expect(new Set(tokens.map((t) => t.accessToken))).toEqual(new Set(['token-1']));
  });

  it('100 keys x 10 concurrent calls make 100 token requests', async () => {
    const endpoint = fakeTokenEndpoint({ latencyMs: 20, token: (n, p) => `${p.get('audience')}#${n}` });
    const client = testClient({ fetch: endpoint.fetch });
    const calls = [];
    for (let a = 0; a < 100; a++) {
      for (let i = 0; i < 10; i++) calls.push(client.getToken({ audience: `urn:api:${a}` }));
    }
    const tokens = await Promise.all(calls);
    expect(endpoint.count).toBe(100);
    // Every caller got the token of its own audience.
    for (const [i, t] of tokens.entries())
      expect(t.accessToken.startsWith(`urn:api:${Math.floor(i / 10)}#`)).toBe(true);
  });

  it('a failing request reaches all 50 waiters, caches nothing, and the next call tries again', async () => {
    let fail = true;
    const endpoint = fakeTokenEndpoint({
      latencyMs: 10,
      respond: () => (fail ? new Response('<html>bad gateway</html>', { status: 502 }) : undefined),
    });
    const client = testClient({ fetch: endpoint.fetch });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => client.getToken()));
    expect(endpoint.count).toBe(1);
    const reasons = new Set(results.map((r) => (r.status === 'rejected' ? r.reason : undefined)));
    expect(reasons.size).toBe(1);
    const [reason] = reasons;
    expect(reason).toBeInstanceOf(HttpError);
    expect((reason as HttpError).status).toBe(502);

    fail = false;
    expect((await client.getToken()).accessToken).toBe('token-2');
    expect(endpoint.count).toBe(2);
  });

  it("one caller's abort ends its own wait only", async () => {
    const endpoint = fakeTokenEndpoint({ latencyMs: 50 });
    const client = testClient({ fetch: endpoint.fetch });
    const controller = new AbortController();
    const aborted = client.getToken({ signal: controller.signal });
    const others = Array.from({ length: 5 }, () => client.getToken());
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    const tokens = await Promise.all(others);
    expect(tokens.every((t) => t.accessToken === 'token-1')).toBe(true);
    expect(endpoint.count).toBe(1);
  });

  it('an already-aborted signal rejects at once without a request', async () => {
    const endpoint = fakeTokenEndpoint();
    const client = testClient({ fetch: endpoint.fetch });
    await expect(client.getToken({ signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    await expect(client.getToken({ signal: AbortSignal.abort(), forceRefresh: true })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(endpoint.count).toBe(0);
  });

  it('forceRefresh skips the cached token but joins a request in flight', async () => {
    const endpoint = fakeTokenEndpoint({ latencyMs: 20 });
    const client = testClient({ fetch: endpoint.fetch });
    await client.getToken();
    const forced = await client.getToken({ forceRefresh: true });
    expect(forced.accessToken).toBe('token-2');
    const [a, b, c] = await Promise.all([
      client.getToken({ forceRefresh: true }),
      client.getToken({ forceRefresh: true }),
      client.getToken({ forceRefresh: true }),
    ]);
    expect(endpoint.count).toBe(3);
    expect(a.accessToken).toBe('token-3');
    expect(b.accessToken).toBe('token-3');
    expect(c.accessToken).toBe('token-3');
    // The forced token is cached for plain calls.
    expect((await client.getToken()).accessToken).toBe('token-3');
  });

  it('invalidate() drops one key; clear() drops every key of this client', async () => {
    const endpoint = fakeTokenEndpoint({ token: (n, p) => `${p.get('audience')}#${n}` });
    const client = testClient({ fetch: endpoint.fetch });
    await client.getToken({ audience: 'a' });
    await client.getToken({ audience: 'b' });
    await client.invalidate({ audience: 'a' });
    expect((await client.getToken({ audience: 'a' })).accessToken).toBe('a#3');
    expect((await client.getToken({ audience: 'b' })).accessToken).toBe('b#2');
    await client.clear();
    expect((await client.getToken({ audience: 'a' })).accessToken).toBe('a#4');
    expect((await client.getToken({ audience: 'b' })).accessToken).toBe('b#5');
  });

  it('cache: false asks every time, but concurrent calls still share one request', async () => {
    const endpoint = fakeTokenEndpoint({ latencyMs: 10 });
    const client = testClient({ fetch: endpoint.fetch, cache: false });
    await Promise.all(Array.from({ length: 20 }, () => client.getToken()));
    expect(endpoint.count).toBe(1);
    await client.getToken();
    await client.getToken();
    expect(endpoint.count).toBe(3);
  });

  it('an async cache works, and a cache that throws or rejects never breaks token acquisition', async () => {
    const endpoint = fakeTokenEndpoint();
    const store = new Map<string, unknown>();
    const asyncCache = {
      get: async (key: string) => store.get(key) as never,
      set: async (key: string, value: unknown) => {
        store.set(key, value);
      },
      delete: async (key: string) => {
        store.delete(key);
      },
    };
    const client = testClient({ fetch: endpoint.fetch, cache: asyncCache });
    await client.getToken();
    await client.getToken();
    expect(endpoint.count).toBe(1);

    const events: TokenEvent[] = [];
    const broken = {
      get: () => {
        throw new Error('cache down');
      },
      set: () => Promise.reject(new Error('cache down')),
      delete: () => Promise.reject(new Error('cache down')),
    };
    const endpoint2 = fakeTokenEndpoint();
    const client2 = testClient({
      fetch: endpoint2.fetch,
      cache: broken,
      onEvent: (e: TokenEvent) => events.push(e),
    });
    expect((await client2.getToken()).accessToken).toBe('token-1');
    await client2.invalidate();
    const faults = events
      .filter((e) => e.type === 'cache_fault')
      .map((e) => (e as { operation: string }).operation);
    expect(faults).toEqual(['get', 'set', 'delete']);
  });

  it('a throwing onEvent never breaks a call', async () => {
    const endpoint = fakeTokenEndpoint();
    const client = testClient({
      fetch: endpoint.fetch,
      onEvent: () => {
        throw new Error('observer bug');
      },
    });
    expect((await client.getToken()).accessToken).toBe('token-1');
    expect((await client.getToken()).accessToken).toBe('token-1');
  });
});
