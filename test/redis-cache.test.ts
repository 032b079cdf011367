/**
 * RedisTokenCache against a real redis-server, through both node-redis and ioredis: what is stored where,
 * for how long, the local layer, invalidate(), the lock, and the options.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CachedToken,
  ClientCredentialsClient,
  ConfigurationError,
  MemoryTokenCache,
  type TokenEvent,
} from '../src/index.js';
import { RedisTokenCache, type RedisTokenCacheOptions } from '../src/redis/index.js';
import { thrownBy } from './helpers/outcomes.js';
import { connectRedis, DRIVERS, type Driver, type RedisConnection } from './helpers/redis-clients.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from './helpers/redis-server.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';
import { clientKey, testToken } from './helpers/tokens.js';

const CLIENT_SECRET = 's3cr3t-value-never-stored';
let prefixes = 0;
const freshPrefix = () => `m2m-test-${process.pid}-${++prefixes}:`;

function entry(accessToken: string, lifetimeMs = 60_000): CachedToken {
  const now = Date.now();
  return {
    token: testToken({
      accessToken,
      tokenType: 'Bearer',
      expiresAt: now + lifetimeMs,
      raw: { access_token: accessToken },
    }),
    obtainedAt: now,
    refreshAt: now + lifetimeMs / 2,
    usableUntil: now + lifetimeMs - 1_000,
  };
}

/** A key shaped like the client's (see src/cache/cache-key.ts). */

describe('RedisTokenCache options (no server needed)', () => {
  const fakeClient = { sendCommand: async () => null };

  it('rejects a client that is neither node-redis nor ioredis, naming the option', () => {
    expect(() => new RedisTokenCache({ client: {} as RedisTokenCacheOptions['client'] })).toThrow(
      ConfigurationError,
    );
    const error = thrownBy(
      () =>
        new RedisTokenCache({ client: { get: () => null } as unknown as RedisTokenCacheOptions['client'] }),
    );
    expect(error).toMatchObject({ option: 'client', code: 'M2M_INVALID_CONFIGURATION' });
  });

  it('rejects an encryption key that is not 32 bytes, and bad numbers', () => {
    const option = (options: Partial<RedisTokenCacheOptions>) => {
      try {
        new RedisTokenCache({ client: fakeClient, ...options });
      } catch (error) {
        return (error as ConfigurationError).option;
      }
      return undefined;
    };
    expect(option({ encryptionKey: new Uint8Array(16) })).toBe('encryptionKey');
    expect(option({ encryptionKey: 'k'.repeat(32) as unknown as Uint8Array })).toBe('encryptionKey');
    expect(option({ timeoutMs: 0 })).toBe('timeoutMs');
    expect(option({ localTtlMs: -1 })).toBe('localTtlMs');
    expect(option({ localMaxEntries: 0 })).toBe('localMaxEntries');
    expect(option({ maxEntryBytes: 0 })).toBe('maxEntryBytes');
    expect(option({ maxEntryBytes: 1.5 })).toBe('maxEntryBytes');
    expect(option({ encryptionKey: new Uint8Array(32) })).toBeUndefined();
  });

  it('a misspelt option is a ConfigurationError, never silently ignored (encryption_key would store tokens in plaintext)', () => {
    const misspelt = thrownBy(
      () =>
        new RedisTokenCache({
          client: fakeClient,
          encryption_key: new Uint8Array(32),
        } as unknown as RedisTokenCacheOptions),
    );
    expect(misspelt).toBeInstanceOf(ConfigurationError);
    expect(misspelt).toMatchObject({
      option: 'encryption_key',
      message: expect.stringContaining('did you mean encryptionKey?'),
    });
    const far = thrownBy(
      () => new RedisTokenCache({ client: fakeClient, colour: 'blue' } as unknown as RedisTokenCacheOptions),
    );
    expect(far).toMatchObject({
      option: 'colour',
      message: expect.stringContaining('RedisTokenCache takes'),
    });
    // Every documented option is accepted.
    const all: Required<RedisTokenCacheOptions> = {
      client: fakeClient,
      keyPrefix: 'p:',
      encryptionKey: new Uint8Array(32),
      timeoutMs: 100,
      localTtlMs: 0,
      localMaxEntries: 10,
      maxEntryBytes: 1024,
      onEvent: () => {},
    };
    expect(new RedisTokenCache(all).encrypted).toBe(true);
  });

  it('messages name the option once (no "options.timeoutMs: RedisTokenCache options.timeoutMs ...")', () => {
    const redis = thrownBy(() => new RedisTokenCache({ client: fakeClient, timeoutMs: -1 }));
    expect(redis).toMatchObject({ option: 'timeoutMs' });
    expect((redis as Error).message.match(/timeoutMs/g)).toHaveLength(1);
    const memory = thrownBy(() => new MemoryTokenCache({ maxEntries: 0 }));
    expect(memory).toMatchObject({ option: 'maxEntries' });
    expect((memory as Error).message.match(/maxEntries/g)).toHaveLength(1);
  });

  it('never shows the encryption key when inspected or serialised', () => {
    const key = Buffer.alloc(32, 0xab);
    const cache = new RedisTokenCache({ client: fakeClient, encryptionKey: key });
    const shown = inspect(cache) + JSON.stringify(cache);
    expect(shown).toContain('encrypted: true');
    expect(shown).not.toContain(key.toString('hex'));
    expect(shown).not.toContain(key.toString('base64'));
  });

  it('the main entry never imports the redis entry nor a Redis client package', () => {
    // Follows every relative import from src/index.ts: the graph must not reach src/redis, and no module in
    // it may name `redis` or `ioredis`, so installing neither package is fine for users of the main entry.
    // Type-only imports (`import type`, erased from the build) load nothing and are not followed.
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(
        /(?:import|export)(?!\s+type\s)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
      )) {
        const spec = (match[1] ?? match[2]) as string;
        if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
        else bare.add(spec);
      }
    };
    visit(join(root, 'index.ts'));
    expect(seen.size).toBeGreaterThan(3);
    expect([...seen].map((f) => relative(root, f)).filter((f) => f.startsWith('redis'))).toEqual([]);
    expect([...bare].filter((s) => s === 'redis' || s === 'ioredis' || s.startsWith('@redis/'))).toEqual([]);
  });
});

describe.skipIf(!haveRedisServer)(
  `RedisTokenCache on redis-server (${haveRedisServer ? 'redis-server found' : redisServerMissingMessage})`,
  () => {
    let server: RedisServer;
    let tokens: TokenServer;
    let admin: RedisConnection;
    const connections: RedisConnection[] = [];

    beforeAll(async () => {
      [server, tokens] = await Promise.all([startRedisServer(), startTokenServer({ expiresIn: 3600 })]);
      admin = await connectRedis('redis', server.url);
    });
    afterEach(async () => {
      vi.useRealTimers();
      await Promise.all(connections.splice(0).map((c) => c.quit()));
    });
    afterAll(async () => {
      await admin?.quit();
      await tokens?.close();
      await server?.stop();
    });

    const connect = async (driver: Driver) => {
      const conn = await connectRedis(driver, server.url);
      connections.push(conn);
      return conn;
    };
    const keysOf = async (prefix: string) => ((await admin.command('KEYS', `${prefix}*`)) as string[]).sort();
    const lockKeysOf = async (prefix: string) => (await admin.command('KEYS', `${prefix}*:lock`)) as string[];
    /** Reads of an entry outside the scripts (GETRANGE: never more than maxEntryBytes). */
    const getCount = async () => {
      const info = String(await admin.command('INFO', 'commandstats'));
      return Number(/cmdstat_getrange:calls=(\d+)/.exec(info)?.[1] ?? 0);
    };
    const newClient = (
      cache: RedisTokenCache,
      onEvent?: (event: TokenEvent) => void,
      endpoint = tokens.url,
    ) =>
      new ClientCredentialsClient({
        tokenEndpoint: endpoint,
        clientId: 'cache-test-client',
        clientSecret: CLIENT_SECRET,
        retry: false,
        cache,
        ...(onEvent ? { onEvent } : {}),
      });

    describe.each(DRIVERS)('with %s', (driver) => {
      it('stores one entry under the prefix, keyed by a hash (no secret), expiring when it stops being usable', async () => {
        const conn = await connect(driver);
        const keyPrefix = freshPrefix();
        tokens.reset();
        const client = newClient(new RedisTokenCache({ client: conn.client, keyPrefix }));
        const token = await client.getToken({ audience: 'urn:store' });
        expect(tokens.count).toBe(1);
        // The token is stored (and the lock released) in the background; close() waits for both.
        await client.close();

        const keys = await keysOf(keyPrefix);
        expect(keys).toHaveLength(1);
        const [key] = keys as [string];
        // The hash tag ({...}) puts the entry and its lock in one Redis Cluster slot.
        expect(key).toMatch(new RegExp(`^${keyPrefix}\\{[A-Za-z0-9_-]{43}\\}:token$`));
        const value = String(await admin.command('GET', key));
        expect(key + value).not.toContain(CLIENT_SECRET);
        // Usable until expiry minus the 60 s buffer: Redis drops it then.
        const pttl = Number(await admin.command('PTTL', key));
        const expected = (token.expiresAt as number) - 60_000 - Date.now();
        // (The TTL is counted from when the client computed it; the store may reach Redis a little later on a
        // busy machine. Either way the entry ends about 60 s before the token does, not with it.)
        expect(pttl).toBeLessThanOrEqual(expected + 2_000);
        expect(pttl).toBeGreaterThan(expected - 5_000);
        // The lock was released after the token was stored.
        expect(keys.some((k) => k.endsWith(':lock'))).toBe(false);
      });

      it('another process reads the token from Redis: no second request; the token is frozen and redacted', async () => {
        const [a, b] = [await connect(driver), await connect(driver)];
        const keyPrefix = freshPrefix();
        tokens.reset();
        const first = await newClient(new RedisTokenCache({ client: a.client, keyPrefix })).getToken({
          audience: 'urn:share',
        });
        const second = await newClient(new RedisTokenCache({ client: b.client, keyPrefix })).getToken({
          audience: 'urn:share',
        });
        expect(tokens.count).toBe(1);
        expect(second).not.toBe(first); // rebuilt from JSON in the other "process"
        expect(second).toEqual(first);
        expect(Object.isFrozen(second)).toBe(true);
        expect(Object.isFrozen(second.raw)).toBe(true);
        const shown = inspect(second, { depth: 5 });
        expect(shown).toContain('[redacted]');
        expect(shown).not.toContain(second.accessToken);
      });

      it('an entry is given to Redis with its usable time as its TTL, so Redis drops it then', async () => {
        const conn = await connect(driver);
        const keyPrefix = freshPrefix();
        const shortLived = await startTokenServer({ expiresIn: 1 });
        try {
          // expires_in 1 s: the buffer is at most half of it, so the entry is usable (and kept) for 500 ms.
          const client = newClient(
            new RedisTokenCache({ client: conn.client, keyPrefix }),
            undefined,
            shortLived.url,
          );
          await client.getToken();
          await client.close(); // waits for the background store
          // Redis is told to drop it then (Redis's own expiry is not what is tested here).
          const [key] = (await keysOf(keyPrefix)) as [string];
          const pttl = Number(await admin.command('PTTL', key));
          expect(pttl).toBeGreaterThan(0);
          expect(pttl).toBeLessThanOrEqual(500);
        } finally {
          await shortLived.close();
        }
      });

      it('the local layer answers hot calls synchronously, without a Redis round trip', async () => {
        // The monotonic clock (localTtlMs) moves only when the test says: `performance` is faked, Redis
        // I/O and timers stay real.
        vi.useFakeTimers({ toFake: ['performance'] });
        const conn = await connect(driver);
        const cache = new RedisTokenCache({ client: conn.client, keyPrefix: freshPrefix(), localTtlMs: 300 });
        const key = clientKey('urn:local');
        await cache.set(key, entry('local-token'), 60_000);
        const before = await getCount();
        for (let i = 0; i < 100; i++) {
          const hit = cache.get(key);
          expect(hit instanceof Promise).toBe(false);
          expect((hit as CachedToken).token.accessToken).toBe('local-token');
        }
        const client = newClient(cache);
        await Promise.all(Array.from({ length: 100 }, () => client.getToken({ audience: 'urn:hot' })));
        await client.close(); // the store and the lock release follow the burst in the background
        const afterBurst = await getCount();
        // The burst read Redis for its one miss; then 100 more calls (of another client on the same cache)
        // cost nothing.
        const again = newClient(cache);
        await Promise.all(Array.from({ length: 100 }, () => again.getToken({ audience: 'urn:hot' })));
        expect(await getCount()).toBe(afterBurst);
        // The burst: the reads of one miss (the GETRANGE, the lock script's and the store script's), shared by
        // the 100 callers: not one each.
        expect(afterBurst - before).toBeGreaterThanOrEqual(1);
        expect(afterBurst - before).toBeLessThanOrEqual(3);
        // After localTtlMs the caller still gets the entry at once, and one read in the background (however
        // many callers) brings the local layer up to date.
        vi.advanceTimersByTime(350);
        const beforeStale = await getCount();
        for (let i = 0; i < 10; i++) {
          const later = cache.get(key);
          expect(later instanceof Promise).toBe(false);
          expect((later as CachedToken).token.accessToken).toBe('local-token');
        }
        for (let i = 0; i < 500 && (await getCount()) === beforeStale; i++)
          await new Promise((r) => setTimeout(r, 10));
        expect((await getCount()) - beforeStale).toBe(1);
      });

      it('a token invalidated in another process: the next caller here may still get it, the one after does not', async () => {
        const [a, b] = [await connect(driver), await connect(driver)];
        const keyPrefix = freshPrefix();
        const here = new RedisTokenCache({ client: a.client, keyPrefix, localTtlMs: 1 });
        const there = new RedisTokenCache({ client: b.client, keyPrefix });
        const key = clientKey('urn:swr');
        await there.set(key, entry('soon-invalid'), 60_000);
        expect((await here.get(key))?.token.accessToken).toBe('soon-invalid');
        await there.delete(key);
        // Stale while revalidating: the held entry now, and a read in the background that finds it gone.
        expect((here.get(key) as CachedToken | undefined)?.token.accessToken).toBe('soon-invalid');
        let after = here.get(key);
        for (let i = 0; i < 500 && !(after instanceof Promise); i++) {
          await new Promise((r) => setTimeout(r, 10));
          after = here.get(key);
        }
        expect(await after).toBeUndefined();
      });

      it('invalidate(): this process at once, another process within localTtlMs, with no extra request', async () => {
        const [a, b] = [await connect(driver), await connect(driver)];
        const keyPrefix = freshPrefix();
        tokens.reset();
        const clientA = newClient(new RedisTokenCache({ client: a.client, keyPrefix, localTtlMs: 400 }));
        const clientB = newClient(new RedisTokenCache({ client: b.client, keyPrefix, localTtlMs: 400 }));
        // The monotonic clock (localTtlMs) moves only when the test says: `performance` is faked.
        vi.useFakeTimers({ toFake: ['performance'] });
        const t1 = await clientA.getToken({ audience: 'urn:inv' });
        expect((await clientB.getToken({ audience: 'urn:inv' })).accessToken).toBe(t1.accessToken);
        await clientA.invalidate({ audience: 'urn:inv' });
        const t2 = await clientA.getToken({ audience: 'urn:inv' });
        expect(t2.accessToken).not.toBe(t1.accessToken);
        expect(tokens.count).toBe(2);
        // B still serves its local copy within localTtlMs...
        vi.advanceTimersByTime(390);
        expect((await clientB.getToken({ audience: 'urn:inv' })).accessToken).toBe(t1.accessToken);
        // ...and after it reads the new token from Redis (in the background: the call after that has it).
        vi.advanceTimersByTime(20);
        let seen = (await clientB.getToken({ audience: 'urn:inv' })).accessToken;
        // (A generous bound in real time: Redis and timers are real, only `performance` is faked.)
        for (let i = 0; i < 500 && seen !== t2.accessToken; i++) {
          await new Promise((r) => setTimeout(r, 10));
          seen = (await clientB.getToken({ audience: 'urn:inv' })).accessToken;
        }
        expect(seen).toBe(t2.accessToken);
        expect(tokens.count).toBe(2);
      });

      it('refresh-ahead across processes: one background request, and every process moves to the new token', async () => {
        vi.useFakeTimers({ toFake: ['Date', 'performance'] });
        const keyPrefix = freshPrefix();
        // expires_in 4 s: usable for 2 s (buffer = half the life), refreshed ahead from 1.5 s on.
        const shortLived = await startTokenServer({ expiresIn: 4 });
        try {
          const processes = await Promise.all(
            [0, 1, 2].map(async () =>
              newClient(
                new RedisTokenCache({ client: (await connect(driver)).client, keyPrefix }),
                undefined,
                shortLived.url,
              ),
            ),
          );
          const first = await processes[0]!.getToken();
          for (const p of processes) expect((await p.getToken()).accessToken).toBe(first.accessToken);
          // Into the refresh-ahead window, the token still usable: the wall and monotonic clocks jump
          // (only Date and performance are faked; Redis, HTTP and timers stay real).
          vi.advanceTimersByTime(1_600);
          const seen = new Set<string>();
          let last: string[] = [];
          // Steady traffic from all three until each has moved to the new token (or a generous bound).
          for (let round = 0; round < 500; round++) {
            last = (await Promise.all(processes.map((p) => p.getToken()))).map((t) => t.accessToken);
            for (const token of last) seen.add(token);
            if (shortLived.count === 2 && last.every((t) => t !== first.accessToken)) break;
            await new Promise((r) => setTimeout(r, 10));
          }
          expect(shortLived.count).toBe(2); // the first token, and one refresh for the whole fleet
          expect(new Set(last).size).toBe(1);
          expect(last[0]).not.toBe(first.accessToken);
          expect(seen).toEqual(new Set([first.accessToken, last[0]]));
        } finally {
          await shortLived.close();
        }
      });

      it('the lock: one holder at a time, expires by itself, and a late release never frees another owner', async () => {
        const [a, b] = [await connect(driver), await connect(driver)];
        const keyPrefix = freshPrefix();
        const cacheA = new RedisTokenCache({ client: a.client, keyPrefix });
        const cacheB = new RedisTokenCache({ client: b.client, keyPrefix });
        const key = clientKey('urn:lock');

        const releaseA = await cacheA.acquireLock(key, 10_000);
        expect(typeof releaseA).toBe('function');
        expect(await cacheB.acquireLock(key, 10_000)).toBeUndefined();
        const [lockKey] = (await lockKeysOf(keyPrefix)) as [string];
        expect(lockKey).toMatch(new RegExp(`^${keyPrefix}\\{[A-Za-z0-9_-]{43}\\}:lock$`));
        await releaseA?.();
        expect(await lockKeysOf(keyPrefix)).toEqual([]);

        // A holder that never releases: the lock expires after its TTL.
        const stale = await cacheA.acquireLock(key, 150);
        expect(stale).toBeDefined();
        expect(await cacheB.acquireLock(key, 10_000)).toBeUndefined();
        await new Promise((r) => setTimeout(r, 250));
        const releaseB = await cacheB.acquireLock(key, 10_000);
        expect(releaseB).toBeDefined();
        // The first holder wakes up and releases: B's lock stays (compare-and-delete).
        await stale?.();
        expect(await cacheA.acquireLock(key, 10_000)).toBeUndefined();
        await releaseB?.();
        await releaseB?.(); // idempotent
        expect(await lockKeysOf(keyPrefix)).toEqual([]);
      });

      it('acquireLock when the entry is stored: no lock, the read that follows needs no round trip; asked again for that entry, it takes the lock', async () => {
        const [a, b] = [await connect(driver), await connect(driver)];
        const keyPrefix = freshPrefix();
        const writer = new RedisTokenCache({ client: a.client, keyPrefix });
        const cache = new RedisTokenCache({ client: b.client, keyPrefix });
        const key = clientKey('urn:stored');
        await writer.set(key, entry('already-there'), 60_000);
        expect(await cache.acquireLock(key, 10_000)).toBeUndefined();
        expect(await lockKeysOf(keyPrefix)).toEqual([]);
        // The script's read answers the caller's next get(), synchronously: no round trip.
        const read = cache.get(key);
        expect(read instanceof Promise).toBe(false);
        expect((read as CachedToken).token.accessToken).toBe('already-there');
        // Asked again after the entry changed: the new entry, still no lock.
        await writer.set(key, entry('changed'), 60_000);
        expect(await cache.acquireLock(key, 10_000)).toBeUndefined();
        expect((cache.get(key) as CachedToken).token.accessToken).toBe('changed');
        expect(await lockKeysOf(keyPrefix)).toEqual([]);
        // Asked again for the same entry: the caller did not want it (a refresh, a forced refresh, a token an
        // API refused), so it gets the lock.
        const release = await cache.acquireLock(key, 10_000);
        expect(typeof release).toBe('function');
        expect(await lockKeysOf(keyPrefix)).toHaveLength(1);
        // Its set() stores and unlocks in one script; release() then has nothing left to do.
        await cache.set(key, entry('newer'), 60_000);
        expect(await lockKeysOf(keyPrefix)).toEqual([]);
        const evals = async () =>
          Number(
            /cmdstat_eval:calls=(\d+)/.exec(String(await admin.command('INFO', 'commandstats')))?.[1] ?? 0,
          );
        const evalsBefore = await evals();
        await release?.();
        expect(await evals()).toBe(evalsBefore);
        expect((await writer.acquireLock(key, 10_000)) === undefined).toBe(true); // the entry is there
      });

      it('deleteIf: deletes the entry only while it holds that token, here and in Redis', async () => {
        const [a, b] = [await connect(driver), await connect(driver)];
        for (const encryptionKey of [undefined, Buffer.alloc(32, 7)]) {
          const keyPrefix = freshPrefix();
          const options = { keyPrefix, ...(encryptionKey ? { encryptionKey } : {}) };
          const here = new RedisTokenCache({ client: a.client, ...options });
          const there = new RedisTokenCache({ client: b.client, ...options });
          const key = clientKey('urn:delete-if');
          await here.set(key, entry('rejected-token'), 60_000);
          // Another process has meanwhile stored a new token: deleting the rejected one must not touch it.
          await there.set(key, entry('new-token'), 60_000);
          expect(await here.deleteIf(key, 'rejected-token')).toBe(false);
          expect(((await keysOf(keyPrefix)) as string[]).length).toBe(1);
          // The local copy of the rejected token is gone: the next read asks Redis and finds the new one.
          expect((await here.get(key))?.token.accessToken).toBe('new-token');
          expect(await here.deleteIf(key, 'new-token')).toBe(true);
          expect(await keysOf(keyPrefix)).toEqual([]);
          expect(await here.get(key)).toBeUndefined();
          expect(await here.deleteIf(key, 'new-token')).toBe(false);
        }
      });
    });

    it("a fault the cache reports names the key as the client's events do (endpoint without its query)", async () => {
      const [a, b] = [await connect('redis'), await connect('redis')];
      const endpoint = `${tokens.url}?api_key=APIKEY-0123456789abcdef`;
      const selection = { audience: 'urn:key-info', scope: 'b a', resource: 'https://api.example.com/' };
      const secretClient = (cache: RedisTokenCache, onEvent?: (e: TokenEvent) => void) =>
        newClient(cache, onEvent, endpoint);
      // A client whose key also names its certificate (mutual TLS: tokens are bound to it).
      const mtlsClient = (cache: RedisTokenCache, onEvent?: (e: TokenEvent) => void) =>
        new ClientCredentialsClient({
          tokenEndpoint: endpoint,
          clientId: 'cache-test-client',
          authMethod: 'tls_client_auth',
          certificate: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
          dispatcher: { dispatch: () => true },
          fetch: async () =>
            Response.json({ access_token: 'tok-mtls', token_type: 'Bearer', expires_in: 3600 }),
          retry: false,
          cache,
          ...(onEvent ? { onEvent } : {}),
        });
      for (const make of [secretClient, mtlsClient]) {
        const keyPrefix = freshPrefix();
        const writer = make(new RedisTokenCache({ client: a.client, keyPrefix }));
        await writer.getToken(selection);
        await writer.close(); // the store is done
        const [redisKey] = (await admin.command('KEYS', `${keyPrefix}*:token`)) as [string];
        await admin.command('SET', redisKey, '2p:not-a-cached-token', 'PX', '60000');

        const events: TokenEvent[] = [];
        const record = (e: TokenEvent) => events.push(e);
        const reader = make(new RedisTokenCache({ client: b.client, keyPrefix, onEvent: record }), record);
        await reader.getToken(selection);
        const fault = events.find((e) => e.type === 'cache_fault');
        expect(fault).toMatchObject({ operation: 'decrypt' });
        const expected = {
          endpoint: tokens.url,
          clientId: 'cache-test-client',
          audience: 'urn:key-info',
          scope: 'a b',
          resource: ['https://api.example.com/'],
        };
        expect(fault?.key).toEqual(expected);
        expect(events.find((e) => e.type === 'cache_miss')?.key).toEqual(expected);
        expect(JSON.stringify(events)).not.toContain('APIKEY');
      }
    });
  },
);
