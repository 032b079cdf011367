/**
 * The cache-state races of issue 18 (items 1-7), each reproduced through the public API: a result from
 * before clear()/invalidate() is never cached, forceRefresh never takes an older flight's token, a
 * rejected token is deleted only while it is still the stored one, lock_wait only after a refused
 * lock, a lock TTL that covers the whole request, bounded per-key state.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type CachedToken,
  type ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  MemoryTokenCache,
  type TokenCache,
  type TokenEvent,
} from '../src/index.js';
import { DEFAULT_RETRY, testClient } from './helpers/clients.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';
import { testToken } from './helpers/tokens.js';

function entry(accessToken: string, obtainedAt = Date.now()): CachedToken {
  return {
    token: testToken({ accessToken, tokenType: 'Bearer', expiresAt: obtainedAt + 3_600_000, raw: {} }),
    obtainedAt,
    refreshAt: obtainedAt + 3_000_000,
    usableUntil: obtainedAt + 3_540_000,
  };
}

/** An async shared cache ("Redis") with a lock that another process may hold; records what it does. */
function sharedCache() {
  const store = new Map<string, CachedToken>();
  const deleted: string[] = [];
  const lockTtls: number[] = [];
  const lockKeys: string[] = [];
  let lockedByOther = false;
  const cache: TokenCache = {
    get: async (key) => store.get(key),
    set: async (key, value) => {
      store.set(key, value);
    },
    delete: async (key) => {
      const held = store.get(key);
      if (held) deleted.push(held.token.accessToken);
      store.delete(key);
    },
    acquireLock: async (key, ttlMs) => {
      lockTtls.push(ttlMs);
      lockKeys.push(key);
      if (lockedByOther) return undefined;
      return async () => undefined;
    },
  };
  return {
    cache,
    store,
    deleted,
    lockTtls,
    lockKeys,
    lockByOther(held: boolean) {
      lockedByOther = held;
    },
  };
}

/** An API fetch that answers 401 invalid_token for the tokens in `refused`, else 200 echoing the token. */
function api(refused: Set<string>) {
  const seen: string[] = [];
  const fetch = (async (_input: string | URL | Request, init?: RequestInit) => {
    const token = new Headers(init?.headers).get('authorization')?.slice('Bearer '.length) ?? '';
    seen.push(token);
    if (refused.has(token)) {
      return new Response('{}', {
        status: 401,
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      });
    }
    return new Response(token, { status: 200 });
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('18.1: known keys are bounded by the cache', () => {
  it('1,500 audiences against a cache of 10 entries: clear() sends at most 10 deletes', async () => {
    const endpoint = fakeTokenEndpoint();
    const deletes: string[] = [];
    class CountingCache extends MemoryTokenCache {
      override delete(key: string): void {
        deletes.push(key);
        super.delete(key);
      }
    }
    const client = testClient({ fetch: endpoint.fetch, cache: new CountingCache({ maxEntries: 10 }) });
    for (let i = 0; i < 1_500; i++) await client.getToken({ audience: `urn:tenant:${i}` });
    await client.clear();
    expect(endpoint.count).toBe(1_500);
    expect(deletes.length).toBeLessThanOrEqual(10);
    // The most recent keys are the ones remembered.
    expect(deletes.some((key) => key.includes('urn:tenant:1499'))).toBe(true);
  });

  it('a cache that states no bound: at most 10,000 keys remembered', async () => {
    const endpoint = fakeTokenEndpoint();
    const shared = sharedCache();
    const { acquireLock: _, ...noLock } = shared.cache;
    const client = testClient({ fetch: endpoint.fetch, cache: noLock });
    for (let i = 0; i < 10_050; i++) await client.getToken({ audience: `urn:t:${i}` });
    await client.clear();
    expect(shared.deleted.length).toBe(10_000);
  });
});

describe('18.2: a token request that began before clear()/invalidate() is not cached', () => {
  it.each([
    ['clear()', (c: ClientCredentialsClient) => c.clear()],
    ['invalidate()', (c: ClientCredentialsClient) => c.invalidate()],
  ])(
    '%s during a request: its callers get the token, the next call asks again (hot slot)',
    async (_, drop) => {
      vi.useFakeTimers();
      const endpoint = fakeTokenEndpoint({ latencyMs: 50 });
      const client = testClient({ fetch: endpoint.fetch });
      const first = client.getToken();
      await vi.advanceTimersByTimeAsync(10);
      await drop(client);
      await vi.advanceTimersByTimeAsync(50);
      expect((await first).accessToken).toBe('token-1');
      const second = client.getToken();
      await vi.advanceTimersByTimeAsync(50);
      expect((await second).accessToken).toBe('token-2');
      expect(endpoint.count).toBe(2);
    },
  );

  it('the same with a shared cache: the old token is never stored after clear()', async () => {
    vi.useFakeTimers();
    const endpoint = fakeTokenEndpoint({ latencyMs: 50, token: (n, p) => `${p.get('audience')}#${n}` });
    const shared = sharedCache();
    const client = testClient({ fetch: endpoint.fetch, cache: shared.cache });
    const first = client.getToken({ audience: 'a' });
    await vi.advanceTimersByTimeAsync(10);
    await client.clear();
    await vi.advanceTimersByTimeAsync(60);
    expect((await first).accessToken).toBe('a#1');
    expect([...shared.store.values()]).toEqual([]);
  });
});

describe('18.3: forceRefresh gets a token obtained after the call began', () => {
  it('does not take what an older normal flight found in the shared cache', async () => {
    const endpoint = fakeTokenEndpoint();
    const shared = sharedCache();
    shared.lockByOther(true);
    const client = testClient({ fetch: endpoint.fetch, cache: shared.cache });
    const normal = client.getToken(); // waits for the lock holder
    await vi.waitFor(() => expect(shared.lockTtls.length).toBeGreaterThanOrEqual(1));
    const forced = client.getToken({ forceRefresh: true });
    // The holder stores a token it obtained before the forced call began, and releases the lock.
    await vi.waitFor(() => expect(shared.lockTtls.length).toBeGreaterThanOrEqual(3));
    shared.store.set(shared.lockKeys[0] as string, entry('stale-shared', Date.now() - 60_000));
    shared.lockByOther(false);
    expect((await normal).accessToken).toBe('stale-shared');
    expect((await forced).accessToken).toBe('token-1');
    expect(endpoint.count).toBe(1);
  });

  it('concurrent forced calls still share one request', async () => {
    const endpoint = fakeTokenEndpoint({ latencyMs: 20 });
    const client = testClient({ fetch: endpoint.fetch });
    await client.getToken();
    const forced = await Promise.all([1, 2, 3].map(() => client.getToken({ forceRefresh: true })));
    expect(forced.map((t) => t.accessToken)).toEqual(['token-2', 'token-2', 'token-2']);
    expect(endpoint.count).toBe(2);
  });
});

describe('18.4: a rejected token is deleted only while it is the stored one', () => {
  it('uses TokenCache.deleteIf when the cache has it, never a plain delete', async () => {
    const endpoint = fakeTokenEndpoint();
    const calls: string[] = [];
    class Recording extends MemoryTokenCache {
      override delete(key: string): void {
        calls.push('delete');
        super.delete(key);
      }
      override deleteIf(key: string, accessToken: string): boolean {
        calls.push(`deleteIf ${accessToken}`);
        return super.deleteIf(key, accessToken);
      }
    }
    const client = testClient({ fetch: endpoint.fetch, cache: new Recording() });
    const { fetch, seen } = api(new Set(['token-1']));
    const res = await client.createFetch({ fetch })('https://api.example.com/x');
    expect(res.status).toBe(200);
    expect(seen).toEqual(['token-1', 'token-2']);
    expect(calls).toEqual(['deleteIf token-1']);
  });

  it('without deleteIf: a newer token another process stored meanwhile is not deleted', async () => {
    const endpoint = fakeTokenEndpoint();
    const shared = sharedCache();
    const { acquireLock: _, ...cache } = shared.cache;
    const client = testClient({ fetch: endpoint.fetch, cache });
    await client.getToken();
    const [key] = [...shared.store.keys()] as [string];
    // Another process replaces the token right after the 401 handling reads it (read 1: the API call).
    const get = cache.get;
    let reads = 0;
    cache.get = async (k) => {
      const value = await get(k);
      if (++reads === 2) shared.store.set(key, entry('newer-from-elsewhere'));
      return value;
    };
    const { fetch } = api(new Set(['token-1']));
    await client.createFetch({ fetch })('https://api.example.com/x');
    expect(shared.deleted).not.toContain('newer-from-elsewhere');
  });
});

describe('18.5: lock_wait only after a refused lock attempt', () => {
  it('a lock had at once (the token stored meanwhile by another process) emits no lock_wait', async () => {
    const events: TokenEvent[] = [];
    const endpoint = fakeTokenEndpoint();
    const shared = sharedCache();
    const acquire = shared.cache.acquireLock!;
    shared.cache.acquireLock = async (key, ttl) => {
      // Another process stores its token while this one takes the (free) lock.
      shared.store.set(key, entry('from-elsewhere'));
      await new Promise((r) => setTimeout(r, 5));
      return acquire(key, ttl);
    };
    const client = testClient({ fetch: endpoint.fetch, cache: shared.cache, onEvent: (e) => events.push(e) });
    expect((await client.getToken()).accessToken).toBe('from-elsewhere');
    expect(events.filter((e) => e.type === 'lock_wait')).toEqual([]);
    expect(endpoint.count).toBe(0);
  });
});

describe('18.6: the lock TTL covers the whole token request', () => {
  // Each attempt may wait timeoutMs for its credential (a function, an assertion file) and timeoutMs for
  // the answer.
  it.each([
    ['defaults', {}, 3 * 2 * 10_000 + 3 * 10_000 + 2 * (200 + 400)],
    [
      'retries: 4, factor 3',
      { retry: { retries: 4, factor: 3 } },
      5 * 2 * 10_000 + 5 * 10_000 + 2 * (200 + 600 + 1800 + 5000),
    ],
    ['retry: false', { retry: false as const }, 2 * 10_000],
    [
      'Retry-After waits up to 30 s',
      { retry: { maxRetryAfterMs: 30_000 } },
      3 * 2 * 10_000 + 3 * 30_000 + 2 * (200 + 400),
    ],
    ['a 2 s timeout', { timeoutMs: 2_000 }, 3 * 2 * 2_000 + 3 * 10_000 + 2 * (200 + 400)],
  ])(
    '%s: at least (credential + answer timeouts) x attempts + Retry-After waits + backoff maxima',
    async (_, options, worstCase) => {
      const endpoint = fakeTokenEndpoint();
      const shared = sharedCache();
      const client = testClient({
        fetch: endpoint.fetch,
        cache: shared.cache,
        retry: DEFAULT_RETRY,
        ...options,
      });
      await client.getToken();
      expect(shared.lockTtls).toHaveLength(1);
      expect(shared.lockTtls[0]).toBeGreaterThanOrEqual(worstCase);
      expect(shared.lockTtls[0]).toBeLessThanOrEqual(worstCase + 5_000);
    },
  );

  it('discovery and DPoP nonce repeats count too', async () => {
    const shared = sharedCache();
    const lockTtl = async (options: Partial<ClientCredentialsClientOptions>) => {
      const endpoint = fakeTokenEndpoint();
      const client = testClient({ fetch: endpoint.fetch, cache: shared.cache, retry: false, ...options });
      shared.lockTtls.length = 0;
      await client.getToken().catch(() => undefined);
      return shared.lockTtls[0] as number;
    };
    const plain = await lockTtl({});
    expect(await lockTtl({ dpop: true })).toBeGreaterThanOrEqual(plain + 10_000);
  });
});

describe('18.7: per-key state after a rejection', () => {
  it('clear() drops the forced-refresh window: a 401 after it never brings back a pre-clear token', async () => {
    const endpoint = fakeTokenEndpoint();
    const client = testClient({ fetch: endpoint.fetch });
    const refused = new Set(['token-1']);
    const { fetch, seen } = api(refused);
    const apiFetch = client.createFetch({ fetch });
    expect((await apiFetch('https://api.example.com/a')).status).toBe(200); // token-1 refused, token-2 ok
    await client.clear(); // e.g. after a credential rotation
    refused.add('token-3');
    const after = await apiFetch('https://api.example.com/b');
    expect(seen.slice(0, 2)).toEqual(['token-1', 'token-2']);
    // After clear(): token-3 (new), refused, then a fresh refresh, never token-2 again.
    expect(seen.slice(2)).toEqual(['token-3', 'token-4']);
    expect(after.status).toBe(200);
  });
});
