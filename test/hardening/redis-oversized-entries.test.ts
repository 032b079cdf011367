/**
 * Whoever can write to a shared Redis can leave huge values under the cache's keys (SETRANGE builds one
 * of any size inside Redis without sending it). Measured before: 4 keys x 250 MB cost 864 MB of RSS in
 * the reading process, and a 3 GB value crashed it after getToken() had already succeeded (the driver
 * kept reading after the read timed out). Every read of an entry (the plain read and the lock script) is
 * capped at `maxEntryBytes`: an entry over it is a miss reported as a `cache_fault` with code
 * `M2M_REDIS_ENTRY_TOO_LARGE`, and Redis never sends it. What Redis sent is counted by Redis itself
 * (INFO stats total_net_output_bytes), so the test cannot be fooled by a timeout on our side.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CachedToken, ClientCredentialsClient, type TokenEvent } from '../../src/index.js';
import { RedisTokenCache, type RedisTokenCacheOptions } from '../../src/redis/index.js';
import { connectRedis, DRIVERS, type Driver, type RedisConnection } from '../helpers/redis-clients.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from '../helpers/redis-server.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';
import { testToken } from '../helpers/tokens.js';

type Fault = Extract<TokenEvent, { type: 'cache_fault' }>;
const PLANTED_BYTES = 32 * 1024 * 1024;
const MiB = 1024 * 1024;
let prefixes = 0;
const freshPrefix = () => `m2m-big-${process.pid}-${++prefixes}:`;

function entry(accessToken: string, raw: Record<string, unknown> = {}): CachedToken {
  const now = Date.now();
  return {
    token: testToken({
      accessToken,
      tokenType: 'Bearer',
      expiresAt: now + 60_000,
      raw: { access_token: accessToken, ...raw },
    }),
    obtainedAt: now,
    refreshAt: now + 30_000,
    usableUntil: now + 59_000,
  };
}

describe.skipIf(!haveRedisServer)(
  `oversized Redis entries (${haveRedisServer ? 'redis-server found' : redisServerMissingMessage})`,
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
      await Promise.all(connections.splice(0).map((c) => c.quit()));
      await admin.command('FLUSHALL');
    });
    afterAll(async () => {
      await admin?.quit();
      await tokens?.close();
      await server?.stop();
    });

    /** Bytes Redis has written to all its clients so far. */
    const sentByRedis = async () =>
      Number(/total_net_output_bytes:(\d+)/.exec(String(await admin.command('INFO', 'stats')))?.[1]);
    /** Grows the value under `redisKey` to `bytes` inside Redis (nothing crosses the network). */
    const plant = async (redisKey: string, bytes: number) => {
      await admin.command('SETRANGE', redisKey, String(bytes - 1), 'x');
      expect(Number(await admin.command('STRLEN', redisKey))).toBe(bytes);
    };
    const tokenKeys = async (prefix: string) => (await admin.command('KEYS', `${prefix}*:token`)) as string[];
    const lockKeys = async (prefix: string) => (await admin.command('KEYS', `${prefix}*:lock`)) as string[];

    async function startProcess(
      driver: Driver,
      keyPrefix: string,
      options: Partial<RedisTokenCacheOptions> = {},
    ) {
      const conn = await connectRedis(driver, server.url);
      connections.push(conn);
      const faults: Fault[] = [];
      const record = (event: TokenEvent) => {
        if (event.type === 'cache_fault') faults.push(event);
      };
      const cache = new RedisTokenCache({ client: conn.client, keyPrefix, onEvent: record, ...options });
      const client = new ClientCredentialsClient({
        tokenEndpoint: tokens.url,
        clientId: 'big-client',
        clientSecret: 'big-secret',
        retry: false,
        cache,
        onEvent: record,
      });
      return { cache, client, faults };
    }

    describe.each(DRIVERS)('with %s', (driver) => {
      it('an entry far over maxEntryBytes is a reported miss, and Redis never sends it', async () => {
        const keyPrefix = freshPrefix();
        const writer = await startProcess(driver, keyPrefix);
        await writer.client.getToken({ audience: 'urn:big' });
        await writer.client.close(); // the store is done
        const [redisKey] = (await tokenKeys(keyPrefix)) as [string];
        await plant(redisKey, PLANTED_BYTES);

        const reader = await startProcess(driver, keyPrefix, { timeoutMs: 5_000 });
        const before = { sent: await sentByRedis(), requests: tokens.count };
        const token = await reader.client.getToken({ audience: 'urn:big' });
        await reader.client.close();
        expect(token.accessToken).toMatch(/^tok-/);
        expect(tokens.count - before.requests).toBe(1);
        expect((await sentByRedis()) - before.sent).toBeLessThan(MiB);
        const tooLarge = reader.faults.filter((f) => f.error.code === 'M2M_REDIS_ENTRY_TOO_LARGE');
        expect(tooLarge.map((f) => f.operation)).toContain('get');
        expect(tooLarge[0]?.key).toMatchObject({ clientId: 'big-client', audience: 'urn:big' });
        expect(tooLarge[0]?.error.message).toMatch(/maxEntryBytes/);
        // The new token replaced the planted value: the next process shares it again.
        expect(Number(await admin.command('STRLEN', redisKey))).toBeLessThan(64 * 1024);
        const next = await startProcess(driver, keyPrefix);
        expect((await next.client.getToken({ audience: 'urn:big' })).accessToken).toBe(token.accessToken);
        expect(next.faults).toEqual([]);
      });

      it('the lock script reads the entry under the same cap: over it, the entry counts as absent and the lock is taken', async () => {
        const keyPrefix = freshPrefix();
        const { cache, faults } = await startProcess(driver, keyPrefix, { timeoutMs: 5_000 });
        const key = JSON.stringify(['http://127.0.0.1/token', 'big-client', 'urn:lock', [], [], [], null]);
        await cache.set(key, entry('tok-stored'), 60_000);
        const [redisKey] = (await tokenKeys(keyPrefix)) as [string];
        await plant(redisKey, PLANTED_BYTES);

        const sentBefore = await sentByRedis();
        const release = await cache.acquireLock(key, 10_000);
        expect(typeof release).toBe('function');
        expect(await lockKeys(keyPrefix)).toHaveLength(1);
        expect(await cache.get(key)).toBeUndefined(); // answered from what the lock script read
        expect((await sentByRedis()) - sentBefore).toBeLessThan(MiB);
        expect(faults.map((f) => [f.operation, f.error.code])).toContainEqual([
          'lock',
          'M2M_REDIS_ENTRY_TOO_LARGE',
        ]);
        await release?.();
        expect(await lockKeys(keyPrefix)).toEqual([]);
      });

      it('an entry just over a small cap is refused, one at the cap is read', async () => {
        const keyPrefix = freshPrefix();
        const { cache, faults } = await startProcess(driver, keyPrefix, {
          maxEntryBytes: 4096,
          localTtlMs: 0,
        });
        const key = JSON.stringify(['http://127.0.0.1/token', 'big-client', 'urn:edge', [], [], [], null]);
        await cache.set(key, entry('tok-edge'), 60_000);
        const [redisKey] = (await tokenKeys(keyPrefix)) as [string];
        const stored = String(await admin.command('GET', redisKey));
        // Pad the JSON with spaces (still the same entry) to exactly the cap, then one byte over it.
        const padded = (bytes: number) => `${stored.slice(0, -1)}${' '.repeat(bytes - stored.length)}}`;
        await admin.command('SET', redisKey, padded(4096), 'PX', '60000');
        expect((await cache.get(key))?.token.accessToken).toBe('tok-edge');
        expect(faults).toEqual([]);
        await admin.command('SET', redisKey, padded(4097), 'PX', '60000');
        expect(await cache.get(key)).toBeUndefined();
        expect(faults.map((f) => [f.operation, f.error.code])).toEqual([
          ['get', 'M2M_REDIS_ENTRY_TOO_LARGE'],
        ]);
      });

      it('a token whose entry would be over maxEntryBytes is handed out but not stored, and the lock is released', async () => {
        const keyPrefix = freshPrefix();
        const { client, faults } = await startProcess(driver, keyPrefix, { maxEntryBytes: 1024 });
        tokens.answer(() => ({
          json: {
            access_token: 'tok-huge',
            token_type: 'Bearer',
            expires_in: 3600,
            claims: 'c'.repeat(2048),
          },
        }));
        try {
          expect((await client.getToken({ audience: 'urn:huge' })).accessToken).toBe('tok-huge');
          await client.close(); // the store attempt and the release are done
        } finally {
          tokens.answer(undefined);
        }
        expect(await tokenKeys(keyPrefix)).toEqual([]);
        expect(await lockKeys(keyPrefix)).toEqual([]);
        const set = faults.find((f) => f.operation === 'set');
        expect(set?.error).toMatchObject({ code: 'M2M_REDIS_ENTRY_TOO_LARGE' });
        expect(set?.error.message).toMatch(/maxEntryBytes \(1024\)/);
        expect(JSON.stringify(faults)).not.toContain('tok-huge');
      });
    });
  },
);
