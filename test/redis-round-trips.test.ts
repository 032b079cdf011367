/**
 * Round trips to Redis on a miss (issue 12.8): through a proxy that delays every reply, a miss costs at most
 * two round trips before the token request, and the lock holder's store + release one more; a process
 * waiting on another's lock pays one round trip per poll.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientCredentialsClient, type TokenEvent } from '../src/index.js';
import { RedisTokenCache } from '../src/redis/index.js';
import { type LatencyProxy, startLatencyProxy } from './helpers/latency-proxy.js';
import { connectRedis, DRIVERS, type RedisConnection } from './helpers/redis-clients.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from './helpers/redis-server.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

let prefixes = 0;
const freshPrefix = () => `m2m-rtt-${process.pid}-${++prefixes}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!haveRedisServer)(
  `Redis round trips per miss (${haveRedisServer ? 'redis-server found' : redisServerMissingMessage})`,
  () => {
    let server: RedisServer;
    let proxy: LatencyProxy;
    let tokens: TokenServer;
    let admin: RedisConnection;
    const connections: RedisConnection[] = [];

    beforeAll(async () => {
      [server, tokens] = await Promise.all([startRedisServer(), startTokenServer({ expiresIn: 3600 })]);
      proxy = await startLatencyProxy({ targetPort: server.port, replyDelayMs: 30 });
      admin = await connectRedis('redis', server.url);
    });
    afterEach(async () => {
      tokens.answer(undefined);
      await Promise.all(connections.splice(0).map((c) => c.quit()));
    });
    afterAll(async () => {
      await admin?.quit();
      await proxy?.close();
      await tokens?.close();
      await server?.stop();
    });

    const lockKeys = async (prefix: string) =>
      ((await admin.command('KEYS', `${prefix}*`)) as string[]).filter((k) => k.includes('lock'));

    describe.each(DRIVERS)('with %s', (driver) => {
      it('a miss: at most 2 round trips before the token request, 3 in all with the store and release', async () => {
        const conn = await connectRedis(driver, proxy.url);
        connections.push(conn);
        const keyPrefix = freshPrefix();
        const faults: TokenEvent[] = [];
        const client = new ClientCredentialsClient({
          tokenEndpoint: tokens.url,
          clientId: 'rtt-client',
          clientSecret: 'rtt-secret',
          retry: false,
          onEvent: (e) => e.type === 'cache_fault' && faults.push(e),
          cache: new RedisTokenCache({ client: conn.client, keyPrefix, timeoutMs: 2_000 }),
        });
        const before = proxy.requests;
        let beforeTokenRequest: number | undefined;
        tokens.answer(() => {
          beforeTokenRequest = proxy.requests - before;
          return undefined;
        });
        await client.getToken({ audience: 'urn:rtt' });
        expect(beforeTokenRequest).toBeLessThanOrEqual(2);
        // The store and the release (maybe still in flight when getToken() resolves) cost one more.
        for (let i = 0; i < 250 && (await lockKeys(keyPrefix)).length > 0; i++) await sleep(20);
        expect(await lockKeys(keyPrefix)).toEqual([]);
        expect(proxy.requests - before).toBeLessThanOrEqual(3);
        expect(faults).toEqual([]);
        // A hit from another process: one round trip.
        const other = await connectRedis(driver, proxy.url);
        connections.push(other);
        const reader = new ClientCredentialsClient({
          tokenEndpoint: tokens.url,
          clientId: 'rtt-client',
          clientSecret: 'rtt-secret',
          cache: new RedisTokenCache({ client: other.client, keyPrefix, timeoutMs: 2_000 }),
        });
        const beforeHit = proxy.requests;
        await reader.getToken({ audience: 'urn:rtt' });
        expect(proxy.requests - beforeHit).toBe(1);
        expect(tokens.count).toBeGreaterThanOrEqual(1);
      });
    });
  },
);
