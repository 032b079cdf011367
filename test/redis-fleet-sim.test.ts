/**
 * Fleet at scale, in one process (issue 19): 100 replicas, each a ClientCredentialsClient with its own Redis
 * connection and RedisTokenCache, x 20 audiences, all 2,000 getToken() calls at once, against a token
 * endpoint answering in 20 ms. The event loop is saturated by design, and in one case stalled on purpose:
 * that must not look like a Redis outage. Counts only (one token request per audience, no failed call, no
 * fault); never timing. The fleets of 200 to 1,000 replicas are the bench's fleet figure (bench/fleet.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateFleet } from './fixtures/fleet-sim.js';
import { connectRedis, DRIVERS, stallingClient } from './helpers/redis-clients.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from './helpers/redis-server.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

describe.skipIf(!haveRedisServer)(
  `a fleet of 100 replicas in one process (${haveRedisServer ? 'redis-server found' : redisServerMissingMessage})`,
  () => {
    let server: RedisServer;
    let tokens: TokenServer;

    beforeAll(async () => {
      [server, tokens] = await Promise.all([
        startRedisServer(),
        startTokenServer({ expiresIn: 3600, delayMs: 20 }),
      ]);
    });
    afterAll(async () => {
      await tokens?.close();
      await server?.stop();
    });

    it.each(DRIVERS)(
      '100 replicas (%s) x 20 audiences at once: 20 token requests, no failed call, no cache fault; then the local layer answers',
      async (driver) => {
        tokens.reset();
        const result = await simulateFleet({
          replicas: 100,
          audiences: 20,
          tokenEndpoint: tokens.url,
          connect: () => connectRedis(driver, server.url),
          tokenRequests: () => tokens.count,
          steadyMs: 300,
          steadyIntervalMs: 100,
          // Long enough that no local entry goes stale during a cold phase slowed by a busy machine.
          cacheOptions: { localTtlMs: 120_000 },
        });
        expect(result.errors).toEqual([]);
        expect(result.cold.failed).toBe(0);
        expect(result.faults).toEqual({});
        expect(result.cold.tokenRequests).toBe(20);
        expect(result.tokensPerAudience).toBe(1);
        for (let i = 0; i < 20; i++) expect(tokens.countFor(`urn:fleet:${i}`)).toBe(1);
        // Steady state: every call answered by each replica's local layer, without Redis.
        expect(result.steady?.failed).toBe(0);
        expect(result.steady?.tokenRequests).toBe(0);
        expect(result.steady?.redisCommands).toBe(0);
      },
    );

    it('busy replicas (5 Redis replies, 200 apart, come after a 300 ms synchronous task and 5 more loop turns): still 20 requests, no fault', async () => {
      tokens.reset();
      let replies = 0;
      let stalls = 0;
      const result = await simulateFleet({
        replicas: 50,
        audiences: 20,
        tokenEndpoint: tokens.url,
        connect: async () => {
          const conn = await connectRedis('redis', server.url);
          return {
            client: stallingClient(conn.client, {
              stallMs: 300,
              turns: 5,
              when: () => ++replies % 200 === 0 && ++stalls <= 5,
            }),
            quit: () => conn.quit(),
          };
        },
        tokenRequests: () => tokens.count,
      });
      expect(stalls).toBeGreaterThanOrEqual(5);
      expect(result.errors).toEqual([]);
      expect(result.faults).toEqual({});
      expect(result.cold.tokenRequests).toBe(20);
      expect(result.tokensPerAudience).toBe(1);
    });
  },
);
