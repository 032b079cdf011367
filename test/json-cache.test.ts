/**
 * A TokenCache of one's own that stores entries as JSON (a Workers KV, a database, a file): what it
 * stores is the entry's storable form with the real access token, although Token.toJSON() redacts the
 * token for loggers; what it gives back is checked before it is used.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CachedToken, TokenCache, TokenEvent } from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { type Api, startApi } from './helpers/loopback-api.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

/** A cache that keeps only JSON text, as a remote store would. */
function jsonCache(): TokenCache & { readonly store: Map<string, string> } {
  const store = new Map<string, string>();
  return {
    store,
    get: async (key) => {
      const text = store.get(key);
      return text === undefined ? undefined : (JSON.parse(text) as CachedToken);
    },
    set: async (key, value) => {
      store.set(key, JSON.stringify(value));
    },
    delete: async (key) => {
      store.delete(key);
    },
  };
}

describe('a TokenCache that stores JSON', () => {
  let server: TokenServer;
  let api: Api;
  beforeAll(async () => {
    server = await startTokenServer();
    api = await startApi(() => ({ status: 200 }));
  });
  afterAll(async () => {
    await server.close();
    await api.close();
  });

  it('stores the real token, and a second client reads it back and sends it (one token request)', async () => {
    server.reset();
    const cache = jsonCache();
    const a = testClient({ tokenEndpoint: server.url, cache });
    const b = testClient({ tokenEndpoint: server.url, cache });
    const first = await a.getToken();
    await a.close(); // stores are awaited by close()
    expect([...cache.store.values()].join()).toContain(first.accessToken);

    const second = await b.getToken();
    expect(second.accessToken).toBe(first.accessToken);
    await b.fetch(`${api.url}/data`);
    expect(api.arrivals.at(-1)?.headers.authorization).toBe(`Bearer ${first.accessToken}`);
    expect(server.count).toBe(1);
    // What the cache gave back is a Token like any other: it redacts itself when logged.
    expect(JSON.stringify(second)).not.toContain(first.accessToken);
    await b.close();
  });

  it('an entry that is not a cached token is a miss and a cache_fault, never a token', async () => {
    server.reset();
    const cache = jsonCache();
    const events: TokenEvent[] = [];
    const client = testClient({ tokenEndpoint: server.url, cache, onEvent: (e) => events.push(e) });
    const now = Date.now();
    const planted = (accessToken: unknown) =>
      JSON.stringify({
        token: { accessToken, tokenType: 'Bearer', expiresAt: now + 3_600_000, raw: {} },
        obtainedAt: now,
        refreshAt: now + 3_000_000,
        usableUntil: now + 3_540_000,
      });
    await client.getToken();
    await vi.waitFor(() => expect(cache.store.size).toBe(1));
    const key = [...cache.store.keys()][0] as string;
    for (const bad of ['line\r\nbreak', '', 42, 'nul\u0000']) {
      await client.clear();
      cache.store.set(key, planted(bad));
      events.length = 0;
      const token = await client.getToken();
      expect(token.accessToken).toMatch(/^tok-\d+$/);
      expect(
        events.some(
          (e) =>
            e.type === 'cache_fault' && e.operation === 'get' && e.error.code === 'M2M_CACHE_ENTRY_INVALID',
        ),
      ).toBe(true);
    }
    expect(server.count).toBe(5);
    await client.close();
  });

  it('JSON.stringify(entry) of a stored entry holds the token; JSON.stringify(token) does not', async () => {
    server.reset();
    let stored: CachedToken | undefined;
    const client = testClient({
      tokenEndpoint: server.url,
      cache: {
        get: () => undefined,
        set: (_key, value) => {
          stored = value;
        },
        delete: () => undefined,
      },
    });
    const token = await client.getToken();
    await client.close();
    expect(JSON.stringify(stored)).toContain(token.accessToken);
    expect(JSON.stringify(stored?.token)).not.toContain(token.accessToken);
    expect(JSON.stringify(token)).not.toContain(token.accessToken);
    expect(token.toJSON()).toMatchObject({ accessToken: '[redacted]' });
  });
});
