/**
 * A fleet of processes shares its tokens through Redis: real redis-server, real child processes (half on
 * node-redis, half on ioredis), one counting token endpoint; and the same fleet across a real 3-master
 * Redis Cluster (node-redis `createCluster`, ioredis `Cluster`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountingTokenServer, startCountingTokenServer } from './fixtures/counting-token-server.js';
import { type Fleet, startFleet } from './fixtures/fleet.js';
import { connectRedis } from './fixtures/redis-clients.js';
import {
  haveRedisCluster,
  haveRedisServer,
  type RedisCluster,
  type RedisServer,
  redisClusterMissingMessage,
  redisServerMissingMessage,
  startRedisCluster,
  startRedisServer,
} from './helpers/redis-server.js';

const FLEET_SIZE = 8;
const audiencesOf = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `urn:api:${tag}:${i}`);

describe.skipIf(!haveRedisServer)(
  `RedisTokenCache fleet (${haveRedisServer ? 'redis-server found' : redisServerMissingMessage})`,
  () => {
    let redis: RedisServer;
    let tokens: CountingTokenServer;
    let fleet: Fleet;
    let cluster: RedisCluster | undefined;

    beforeAll(async () => {
      [redis, tokens, cluster] = await Promise.all([
        startRedisServer(),
        startCountingTokenServer({ expiresIn: 3600 }),
        haveRedisCluster ? startRedisCluster() : undefined,
      ]);
      fleet = await startFleet({ size: FLEET_SIZE, redisUrl: redis.url, tokenEndpoint: tokens.url });
    });

    afterAll(async () => {
      await fleet?.stop();
      await tokens?.close();
      await redis?.stop();
      await cluster?.stop();
    });

    it.skipIf(!haveRedisCluster)(
      `across a 3-master Redis Cluster: 8 processes x 20 audiences make exactly 20 token requests (${
        haveRedisCluster ? 'redis-cli found' : redisClusterMissingMessage
      })`,
      async () => {
        const nodes = (cluster as RedisCluster).rootNodes;
        tokens.reset();
        const audiences = audiencesOf(20, 'cluster');
        const keyPrefix = `fleet-cluster-${process.pid}:`;
        const results = await fleet.run({
          audiences,
          concurrency: 20,
          shared: true,
          cluster: nodes,
          keyPrefix,
        });
        expect(results).toHaveLength(FLEET_SIZE);
        expect(results.flatMap((r) => r.errors)).toEqual([]);
        expect(results.flatMap((r) => r.faults)).toEqual([]);
        expect(tokens.total).toBe(20);
        for (const audience of audiences) {
          expect(tokens.count(audience)).toBe(1);
          expect(new Set(results.flatMap((r) => r.tokens[audience] ?? [])).size).toBe(1);
        }
        // The 20 entries are spread over the masters (each entry with its lock in its own slot).
        const perNode = await Promise.all(
          (cluster as RedisCluster).urls.map(async (url) => {
            const conn = await connectRedis('redis', url);
            try {
              return ((await conn.command('KEYS', `${keyPrefix}*`)) as string[]).length;
            } finally {
              await conn.quit();
            }
          }),
        );
        expect(perNode.reduce((a, b) => a + b, 0)).toBe(20);
        expect(perNode.filter((n) => n > 0).length).toBeGreaterThan(1);
      },
    );

    it('8 processes x 50 concurrent getToken() for one audience make exactly 1 token request', async () => {
      tokens.reset();
      const results = await fleet.run({ audiences: ['urn:api:one'], concurrency: 50, shared: true });
      expect(results).toHaveLength(FLEET_SIZE);
      expect(results.flatMap((r) => r.errors)).toEqual([]);
      expect(results.flatMap((r) => r.faults)).toEqual([]);
      expect(tokens.total).toBe(1);
      // Every one of the 400 calls got that one token.
      const seen = new Set(results.flatMap((r) => r.tokens['urn:api:one'] ?? []));
      expect(seen.size).toBe(1);
    });

    it('with 20 audiences: exactly 20 token requests, one per audience, shared by all processes', async () => {
      tokens.reset();
      const audiences = audiencesOf(20, 'shared');
      const results = await fleet.run({ audiences, concurrency: 50, shared: true });
      expect(results).toHaveLength(FLEET_SIZE);
      expect(results.flatMap((r) => r.errors)).toEqual([]);
      expect(results.flatMap((r) => r.faults)).toEqual([]);
      expect(tokens.total).toBe(20);
      for (const audience of audiences) {
        expect(tokens.count(audience)).toBe(1);
        const seen = new Set(results.flatMap((r) => r.tokens[audience] ?? []));
        expect(seen.size).toBe(1);
      }
    });

    it('without the shared cache the same fleet asks once per process and audience (the baseline: 160)', async () => {
      tokens.reset();
      const audiences = audiencesOf(20, 'baseline');
      const results = await fleet.run({ audiences, concurrency: 5, shared: false });
      expect(results.flatMap((r) => r.errors)).toEqual([]);
      expect(tokens.total).toBe(FLEET_SIZE * 20);
    });

    it('a lock holder killed mid-request: the others get a token within the lock TTL plus one request', async () => {
      tokens.reset();
      const timeoutMs = 2_000;
      const lockTtlMs = timeoutMs + 2_000; // client: timeoutMs * (retries + 1) + 2 s, with retry: false
      let killedAt = 0;
      let victim: number | undefined;
      tokens.onRequest = (request) => {
        if (victim !== undefined) return undefined;
        // The first request comes from the lock holder: hold it and kill its process.
        victim = Number(request.worker);
        killedAt = Date.now();
        fleet.workers.find((w) => w.pid === victim)?.child.kill('SIGKILL');
        return 'hold';
      };
      try {
        const results = await fleet.run({
          audiences: ['urn:api:crash'],
          concurrency: 10,
          shared: true,
          timeoutMs,
        });
        const doneAt = Date.now();
        expect(victim).toBeDefined();
        expect(results.map((r) => r.pid)).not.toContain(victim);
        expect(results).toHaveLength(FLEET_SIZE - 1);
        expect(results.flatMap((r) => r.errors)).toEqual([]);
        // One request by the victim, one by the process that took the expired lock: no stampede.
        expect(tokens.total).toBe(2);
        expect(new Set(results.flatMap((r) => r.tokens['urn:api:crash'] ?? [])).size).toBe(1);
        // The others waited for the lock to expire, then got the token with one more request.
        const waited = doneAt - killedAt;
        expect(waited).toBeGreaterThanOrEqual(lockTtlMs - 300);
        expect(waited).toBeLessThan(lockTtlMs + timeoutMs);
      } finally {
        tokens.onRequest = undefined;
      }
    });
  },
);
