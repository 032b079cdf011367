/**
 * Redis down or slow never breaks getToken(): calls go on through the local layer and direct token
 * requests, the faults are reported, and sharing resumes when Redis is back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientCredentialsClient, type TokenEvent } from '../src/index.js';
import { RedisTokenCache } from '../src/redis/index.js';
import { startLatencyProxy } from './helpers/latency-proxy.js';
import { connectRedis, DRIVERS, type Driver, type RedisConnection } from './helpers/redis-clients.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from './helpers/redis-server.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

type Fault = Extract<TokenEvent, { type: 'cache_fault' }>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let prefixes = 0;
const freshPrefix = () => `m2m-outage-${process.pid}-${++prefixes}:`;

/** Polls `check` every 50 ms until it holds; fails after `timeoutMs`. */
async function until(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe.skipIf(!haveRedisServer)(
  `RedisTokenCache when Redis fails (${haveRedisServer ? 'redis-server found' : redisServerMissingMessage})`,
  () => {
    let server: RedisServer;
    let tokens: TokenServer;
    const connections: RedisConnection[] = [];

    beforeAll(async () => {
      [server, tokens] = await Promise.all([startRedisServer(), startTokenServer({ expiresIn: 3600 })]);
    });
    afterEach(async () => {
      await Promise.all(connections.splice(0).map((c) => c.quit()));
    });
    afterAll(async () => {
      await tokens?.close();
      await server?.stop();
    });

    /** A "process": its own connection, cache, client, and the faults reported to it. */
    async function startProcess(
      driver: Driver,
      keyPrefix: string,
      cacheOptions: { timeoutMs: number; localTtlMs?: number },
      url = server.url,
    ) {
      const conn = await connectRedis(driver, url);
      connections.push(conn);
      const faults: Fault[] = [];
      const record = (event: TokenEvent) => {
        if (event.type === 'cache_fault') faults.push(event);
      };
      const cache = new RedisTokenCache({ client: conn.client, keyPrefix, onEvent: record, ...cacheOptions });
      const client = new ClientCredentialsClient({
        tokenEndpoint: tokens.url,
        clientId: 'outage-client',
        clientSecret: 'outage-secret',
        retry: false,
        timeoutMs: 5_000,
        cache,
        onEvent: record,
      });
      return { conn, cache, client, faults };
    }

    it('redis-server stopped and started while calls go on: no call fails, faults are reported, sharing resumes', async () => {
      const keyPrefix = freshPrefix();
      const fleet = await Promise.all(
        (['redis', 'ioredis', 'redis'] as const).map((driver) =>
          // 1 s: long enough that a busy CI machine does not time out calls while Redis is up (a timeout there
          // would be a legitimate fallback request, but would blur the counts); the CLIENT PAUSE test below
          // covers short timeouts.
          startProcess(driver, keyPrefix, { timeoutMs: 1_000, localTtlMs: 200 }),
        ),
      );
      tokens.reset();

      // Calls go on all the time: every 20 ms each process asks for one of its audiences.
      type Phase = 'before' | 'outage' | 'after';
      let phase = 'before' as Phase;
      let running = true;
      const failures: unknown[] = [];
      const latencies: Record<Phase, number[]> = { before: [], outage: [], after: [] };
      /** Calls each process has made in each phase (a busy machine may start one process late). */
      const callsOf = fleet.map(() => ({ before: 0, outage: 0, after: 0 }));
      const loops = fleet.map(async (p, index) => {
        for (let i = 0; running; i++) {
          const audiences =
            phase === 'outage' ? ['urn:o:0', 'urn:o:1', 'urn:o:during'] : ['urn:o:0', 'urn:o:1'];
          const audience = audiences[(i + index) % audiences.length] as string;
          const started = Date.now();
          const current = phase;
          try {
            await p.client.getToken({ audience });
            latencies[current].push(Date.now() - started);
            (callsOf[index] as Record<Phase, number>)[current] += 1;
          } catch (error) {
            failures.push(error);
          }
          await sleep(20);
        }
      });

      // Every process has asked for both audiences (and holds their tokens) before Redis goes away.
      await until('calls with Redis up', 8_000, () => callsOf.every((c) => c.before >= 4));
      const faultsBefore = fleet.flatMap((p) => p.faults.map((f) => `${f.operation}: ${f.error.code}`));
      expect({ requests: tokens.count, faults: faultsBefore }).toEqual({ requests: 2, faults: [] }); // shared: one request per audience for the three processes
      await server.stop();
      const faultsAtOutage = fleet.map((p) => p.faults.length);
      phase = 'outage'; // only now: the new audience must be first asked for while Redis is gone
      // At least 1.5 s, and until every process has made 12 calls (each of them asks for the new audience).
      await sleep(1_500);
      await until('calls during the outage', 10_000, () => callsOf.every((c) => c.outage >= 12));
      const requestsDuringOutage = tokens.count - 2;
      const outageCalls = callsOf.reduce((sum, c) => sum + c.outage, 0);
      const outageReads = fleet.flatMap((p, i) =>
        p.faults.slice(faultsAtOutage[i]).filter((f) => f.operation === 'get'),
      ).length;
      phase = 'after';
      await server.restart();
      // The drivers reconnect by themselves; the caches use Redis again after their next successful call.
      await until('the clients to reconnect', 8_000, async () =>
        (await Promise.all(fleet.map((p) => p.conn.ping()))).every(Boolean),
      );
      await until('the caches to be healthy', 8_000, () => fleet.every((p) => p.cache.healthy));
      running = false;
      await Promise.all(loops);

      expect(failures).toEqual([]);
      expect(latencies.outage.length).toBeGreaterThan(30);
      // Most calls did not try Redis at all: the local layer answered while Redis was away (a read of a
      // Redis that is down is a reported fault; after one, the cache leaves Redis alone for a while).
      expect(outageReads).toBeGreaterThanOrEqual(1);
      expect(outageReads).toBeLessThanOrEqual(outageCalls / 4);
      // A hung or absent Redis costs a call at most about one cache timeout (1 s) plus a token request.
      expect(Math.max(...latencies.outage)).toBeLessThan(2_500);
      // The local layer kept serving the two known audiences; only the new one needed requests, at most one
      // per process (in-process single-flight).
      expect(requestsDuringOutage).toBeGreaterThanOrEqual(1);
      expect(requestsDuringOutage).toBeLessThanOrEqual(3);
      expect(tokens.countFor('urn:o:during')).toBe(requestsDuringOutage);
      // The faults were reported: by the client for what the cache threw, by the cache for what it absorbed.
      const operations = new Set(fleet.flatMap((p) => p.faults.map((f) => f.operation)));
      expect(operations.has('get')).toBe(true);
      expect([...operations].some((op) => op === 'lock' || op === 'set')).toBe(true);
      const codes = new Set(fleet.flatMap((p) => p.faults.map((f) => f.error.code)));
      expect([...codes].every((c) => c === 'M2M_REDIS_TIMEOUT' || c === 'M2M_REDIS_UNAVAILABLE')).toBe(true);

      // Sharing resumed: a new audience asked by all three processes at once costs one token request.
      tokens.reset();
      const results = await Promise.all(
        fleet.flatMap((p) =>
          Array.from({ length: 10 }, () => p.client.getToken({ audience: 'urn:o:resumed' })),
        ),
      );
      expect(tokens.count).toBe(1);
      expect(new Set(results.map((t) => t.accessToken)).size).toBe(1);
      const keys = (await fleet[0]?.conn.command('KEYS', `${keyPrefix}*:token`)) as string[];
      expect(keys.length).toBeGreaterThanOrEqual(1);
    });

    describe.each(DRIVERS)('with %s', (driver) => {
      it('a Redis that stops answering costs a call one cache timeout, never an error', async () => {
        // The process reaches Redis through a proxy that, from now on, holds every reply for a minute.
        const proxy = await startLatencyProxy({ targetPort: server.port, replyDelayMs: 0 });
        try {
          const p = await startProcess(driver, freshPrefix(), { timeoutMs: 100 }, proxy.url);
          proxy.replyDelayMs = 60_000;
          tokens.reset();
          const started = Date.now();
          const token = await p.client.getToken({ audience: 'urn:slow' });
          expect(token.accessToken).toMatch(/^tok-/);
          expect(tokens.count).toBe(1);
          // It waited for one cache timeout, reported it, then asked the token endpoint: never for Redis.
          expect(Date.now() - started).toBeGreaterThanOrEqual(90);
          expect(Date.now() - started).toBeLessThan(10_000);
          expect(p.faults.map((f) => `${f.operation}: ${f.error.code}`)).toContain('get: M2M_REDIS_TIMEOUT');
          // While Redis is left alone after the failure, calls do not wait for it: no read is tried (one
          // would time out and be reported) and the token comes from this process.
          const faults = p.faults.length;
          expect((await p.client.getToken({ audience: 'urn:slow' })).accessToken).toBe(token.accessToken);
          expect(p.faults).toHaveLength(faults);
          expect(tokens.count).toBe(1);
        } finally {
          await proxy.close();
        }
      });

      it('a lock given up on after a timeout is freed when the late command finally runs', async () => {
        const keyPrefix = freshPrefix();
        const p = await startProcess(driver, keyPrefix, { timeoutMs: 100 });
        const admin = await connectRedis('redis', server.url);
        connections.push(admin);
        const evals = async () =>
          Number(
            /cmdstat_eval:calls=(\d+)/.exec(String(await admin.command('INFO', 'commandstats')))?.[1] ?? 0,
          );
        const evalsBefore = await evals();
        await admin.command('CLIENT', 'PAUSE', '500', 'WRITE');
        const key = JSON.stringify(['http://127.0.0.1/token', 'c', 'urn:late-lock', [], [], [], null]);
        await expect(p.cache.acquireLock(key, 60_000)).rejects.toMatchObject({ code: 'M2M_REDIS_TIMEOUT' });
        // After the pause, the SET NX runs and takes the lock; the cache sees the late OK and deletes it.
        await until('the late lock to be freed', 3_000, async () => (await evals()) > evalsBefore);
        await until(
          'no lock key',
          5_000,
          async () => ((await admin.command('KEYS', `${keyPrefix}*:lock`)) as string[]).length === 0,
        );
        // So the key is free for the next process at once, not after the 60 s TTL.
        const other = await startProcess(driver, keyPrefix, { timeoutMs: 1_000 });
        const release = await other.cache.acquireLock(key, 60_000);
        expect(release).toBeDefined();
        await release?.();
      });
    });
  },
);
