/**
 * A fleet of processes shares its tokens through Redis: real redis-server, real child processes (half on
 * node-redis, half on ioredis), one counting token endpoint. A fleet across a Redis Cluster is in
 * redis-cluster.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from './fixtures/fleet.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from './helpers/redis-server.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

/** Processes in the fleet (the bench's fleet figure runs 8 and 16). */
const FLEET_SIZE = 4;
const audiencesOf = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `urn:api:${tag}:${i}`);

describe.skipIf(!haveRedisServer)(
  `RedisTokenCache fleet (${haveRedisServer ? 'redis-server found' : redisServerMissingMessage})`,
  () => {
    let redis: RedisServer;
    let tokens: TokenServer;
    let fleet: Fleet;

    beforeAll(async () => {
      [redis, tokens] = await Promise.all([startRedisServer(), startTokenServer({ expiresIn: 3600 })]);
      fleet = await startFleet({ size: FLEET_SIZE, redisUrl: redis.url, tokenEndpoint: tokens.url });
    });

    afterAll(async () => {
      await fleet?.stop();
      await tokens?.close();
      await redis?.stop();
    });

    it(`${FLEET_SIZE} processes x 50 concurrent getToken() for one audience make exactly 1 token request`, async () => {
      tokens.reset();
      const results = await fleet.run({ audiences: ['urn:api:one'], concurrency: 50, shared: true });
      expect(results).toHaveLength(FLEET_SIZE);
      expect(results.flatMap((r) => r.errors)).toEqual([]);
      expect(results.flatMap((r) => r.faults)).toEqual([]);
      expect(tokens.count).toBe(1);
      // Every one of the calls (50 per process) got that one token.
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
      expect(tokens.count).toBe(20);
      for (const audience of audiences) {
        expect(tokens.countFor(audience)).toBe(1);
        const seen = new Set(results.flatMap((r) => r.tokens[audience] ?? []));
        expect(seen.size).toBe(1);
      }
    });

    it(`without the shared cache the same fleet asks once per process and audience (the baseline: ${FLEET_SIZE * 20})`, async () => {
      tokens.reset();
      const audiences = audiencesOf(20, 'baseline');
      const results = await fleet.run({ audiences, concurrency: 5, shared: false });
      expect(results.flatMap((r) => r.errors)).toEqual([]);
      expect(tokens.count).toBe(FLEET_SIZE * 20);
    });

    it('a lock holder killed mid-request: the others get a token within the lock TTL plus one request', async () => {
      tokens.reset();
      const timeoutMs = 1_000;
      // The client's lock TTL: its longest request (one attempt, with retry: false: timeoutMs for the
      // credential and timeoutMs for the answer) + 2 s.
      const lockTtlMs = 2 * timeoutMs + 2_000;
      let killedAt = 0;
      let victim: number | undefined;
      tokens.answer((request) => {
        if (victim !== undefined) return undefined;
        // The first request comes from the lock holder: hold it and kill its process.
        victim = Number(request.headers['x-fleet-worker']);
        killedAt = Date.now();
        fleet.workers.find((w) => w.pid === victim)?.child.kill('SIGKILL');
        return 'hold';
      });
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
        expect(tokens.count).toBe(2);
        expect(new Set(results.flatMap((r) => r.tokens['urn:api:crash'] ?? [])).size).toBe(1);
        // The others waited for the lock to expire, then got the token with one more request.
        const waited = doneAt - killedAt;
        expect(waited).toBeGreaterThanOrEqual(lockTtlMs - 300);
        expect(waited).toBeLessThan(lockTtlMs + 2_000);
      } finally {
        tokens.answer(undefined);
      }
    });
  },
);
