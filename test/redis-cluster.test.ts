/**
 * RedisTokenCache on a real 3-master Redis Cluster on loopback (issue 12.8), through node-redis
 * `createCluster` and ioredis `Cluster`: the keys of one entry share a hash slot, so every script runs
 * (no CROSSSLOT), and a fleet across the cluster makes one token request per key.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEvent } from '../src/index.js';
import { RedisTokenCache } from '../src/redis/index.js';
import { simulateFleet } from './fixtures/fleet-sim.js';
import { connectRedis, connectRedisCluster, DRIVERS, type RedisConnection } from './helpers/redis-clients.js';
import {
  haveRedisCluster,
  type RedisCluster,
  redisClusterMissingMessage,
  startRedisCluster,
} from './helpers/redis-server.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';
import { clientKey, testEntry } from './helpers/tokens.js';

type Fault = Extract<TokenEvent, { type: 'cache_fault' }>;
let prefixes = 0;
const freshPrefix = () => `m2m-cluster-${process.pid}-${++prefixes}:`;

describe.skipIf(!haveRedisCluster)(
  `RedisTokenCache on a Redis Cluster (${haveRedisCluster ? 'redis-server and redis-cli found' : redisClusterMissingMessage})`,
  () => {
    let cluster: RedisCluster;
    let tokens: TokenServer;
    const connections: RedisConnection[] = [];

    beforeAll(async () => {
      [cluster, tokens] = await Promise.all([
        startRedisCluster(),
        startTokenServer({ expiresIn: 3600, delayMs: 20 }),
      ]);
    });
    afterEach(async () => {
      await Promise.all(connections.splice(0).map((c) => c.quit()));
    });
    afterAll(async () => {
      await tokens?.close();
      await cluster?.stop();
    });

    /** Every key under `prefix` on every master, with the master's port. */
    const keysOnNodes = async (prefix: string) => {
      const found: { key: string; port: number }[] = [];
      for (const node of cluster.nodes) {
        const conn = await connectRedis('redis', node.url);
        try {
          for (const key of (await conn.command('KEYS', `${prefix}*`)) as string[])
            found.push({ key, port: node.port });
        } finally {
          await conn.quit();
        }
      }
      return found;
    };

    describe.each(DRIVERS)('with %s', (driver) => {
      const connect = async () => {
        const conn = await connectRedisCluster(driver, cluster.rootNodes);
        connections.push(conn);
        return conn;
      };

      it('the whole protocol runs on the cluster: lock, store-and-unlock, read, compare-and-delete, delete', async () => {
        // A prefix with braces of its own must not split an entry across slots either.
        for (const keyPrefix of [freshPrefix(), `odd{${freshPrefix()}`, `{tenant-${prefixes}}:`]) {
          const faults: Fault[] = [];
          const onEvent = (e: TokenEvent) => e.type === 'cache_fault' && faults.push(e);
          const [a, b] = [await connect(), await connect()];
          const here = new RedisTokenCache({ client: a.client, keyPrefix, onEvent });
          const there = new RedisTokenCache({ client: b.client, keyPrefix, onEvent });
          const key = clientKey(`urn:cluster:${keyPrefix}`);

          const release = await here.acquireLock(key, 10_000);
          expect(typeof release).toBe('function');
          expect(await there.acquireLock(key, 10_000)).toBeUndefined();
          const held = await keysOnNodes(keyPrefix);
          expect(held).toHaveLength(1);
          await here.set(key, testEntry('cluster-token'), 60_000);
          // Stored, and the lock gone, in the same script: token and lock are in one slot, on one master.
          const stored = await keysOnNodes(keyPrefix);
          expect(stored.map((k) => k.key.endsWith(':token'))).toEqual([true]);
          expect(stored[0]?.port).toBe(held[0]?.port);
          const slots = await Promise.all(
            [held[0]?.key, stored[0]?.key].map((k) => a.command('CLUSTER', 'KEYSLOT', k as string)),
          );
          expect(slots[0]).toBe(slots[1]);
          await release?.();

          expect((await there.get(key))?.token.accessToken).toBe('cluster-token');
          expect(await there.acquireLock(key, 10_000)).toBeUndefined(); // the entry is there: no lock needed
          expect(await there.deleteIf(key, 'another-token')).toBe(false);
          expect(await there.deleteIf(key, 'cluster-token')).toBe(true);
          await here.set(key, testEntry('again'), 60_000);
          await there.delete(key);
          expect(await keysOnNodes(keyPrefix)).toEqual([]);
          expect(faults).toEqual([]);
          expect(here.healthy && there.healthy).toBe(true);
        }
      });
    });

    it('an in-process fleet across the cluster (40 replicas, both drivers, 10 audiences): one token request per audience, the entries spread over the masters', async () => {
      tokens.reset();
      let replicas = 0;
      const keyPrefix = freshPrefix();
      const result = await simulateFleet({
        replicas: 40,
        audiences: 10,
        tokenEndpoint: tokens.url,
        connect: () => connectRedisCluster(DRIVERS[replicas++ % 2] as 'redis', cluster.rootNodes),
        tokenRequests: () => tokens.count,
        connectConcurrency: 10,
        keyPrefix,
      });
      expect(result.cold.failed).toBe(0);
      expect(result.errors).toEqual([]);
      expect(result.cold.tokenRequests).toBe(10);
      expect(result.tokensPerAudience).toBe(1);
      expect(result.faults).toEqual({});
      // Each entry (with its lock) in its own slot: the 10 are spread over more than one master.
      const stored = await keysOnNodes(keyPrefix);
      expect(stored).toHaveLength(10);
      expect(new Set(stored.map((k) => k.port)).size).toBeGreaterThan(1);
    });
  },
);
