/**
 * The client's side of cross-process single-flight, against an in-memory TokenCache with acquireLock
 * (the Redis cache has its own tests against a real redis-server).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CachedToken, TokenCache, TokenEvent } from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';
import { testEntry } from './helpers/tokens.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A cache whose lock is held by "another process" until `release()` of the test's choosing. */
function sharedCache() {
  const store = new Map<string, CachedToken>();
  let lockedByOther = true;
  const locks: string[] = [];
  const cache: TokenCache = {
    get: async (key) => store.get(key),
    set: async (key, value) => {
      store.set(key, value);
    },
    delete: async (key) => {
      store.delete(key);
    },
    acquireLock: async (key) => {
      locks.push(key);
      if (lockedByOther) return undefined;
      lockedByOther = true;
      return async () => {
        lockedByOther = false;
      };
    },
  };
  return {
    cache,
    store,
    locks,
    freeLock() {
      lockedByOther = false;
    },
  };
}

describe('cross-process single-flight through TokenCache.acquireLock', () => {
  it('waits for the token the lock holder stores, makes no request, and reports lock_wait', async () => {
    const events: TokenEvent[] = [];
    const endpoint = fakeTokenEndpoint();
    const shared = sharedCache();
    const client = testClient({
      fetch: endpoint.fetch,
      cache: shared.cache,
      onEvent: (e) => events.push(e),
    });
    vi.useFakeTimers();
    const pending = Promise.all(Array.from({ length: 20 }, () => client.getToken()));
    // The holder (another process) stores its token 60 ms later.
    await vi.advanceTimersByTimeAsync(60);
    for (const key of new Set(shared.locks)) shared.store.set(key, testEntry('from-the-holder'));
    await vi.advanceTimersByTimeAsync(5_000);
    const tokens = await pending;
    expect(tokens.every((t) => t.accessToken === 'from-the-holder')).toBe(true);
    expect(endpoint.count).toBe(0);
    const wait = events.find((e) => e.type === 'lock_wait') as Extract<TokenEvent, { type: 'lock_wait' }>;
    expect(wait.outcome).toBe('token');
    expect(wait.waitedMs).toBeGreaterThanOrEqual(60);
  });

  it('takes over when the holder dies (its lock expires) and requests the token itself', async () => {
    const endpoint = fakeTokenEndpoint();
    const shared = sharedCache();
    const client = testClient({
      fetch: endpoint.fetch,
      cache: shared.cache,
    });
    vi.useFakeTimers();
    const pending = client.getToken();
    await vi.advanceTimersByTimeAsync(60);
    shared.freeLock(); // the dead holder's lock runs out
    await vi.advanceTimersByTimeAsync(5_000);
    expect((await pending).accessToken).toBe('token-1');
    expect(endpoint.count).toBe(1);
    expect(shared.store.size).toBe(1);
  });

  it('asks the token endpoint directly when acquireLock fails, and reports the fault', async () => {
    const events: TokenEvent[] = [];
    const endpoint = fakeTokenEndpoint();
    const shared = sharedCache();
    const client = testClient({
      fetch: endpoint.fetch,
      cache: { ...shared.cache, acquireLock: () => Promise.reject(new Error('redis down')) },
      onEvent: (e) => events.push(e),
    });
    expect((await client.getToken()).accessToken).toBe('token-1');
    expect(events.some((e) => e.type === 'cache_fault' && e.operation === 'lock')).toBe(true);
  });
});
