/**
 * Figure 7 (optional): a fleet sharing one RedisTokenCache (issues 19 and 12.8). Runs when a `redis-server`
 * binary is on PATH; starts its own redis-server on a free loopback port (persistence off) for each row and
 * counts token requests at the bench token endpoint (a separate process, answering after `latencyMs`).
 *
 * - In-process rows: R replicas x A audiences in one child process, each replica a ClientCredentialsClient
 *   with its own node-redis connection and RedisTokenCache, all R x A getToken() calls at once (cold), then
 *   the same calls every `steadyIntervalMs` for `steadyMs` (steady state: the local layer).
 * - Process rows: N forked processes (half node-redis, half ioredis), each asking `perAudience` times for
 *   each of A audiences at once, with and without CPU-burner processes running (CPU starvation).
 * - Slow Redis: one client through a proxy that delays every Redis reply by `replyDelayMs`: the latency
 *   of a miss and its round trips.
 *
 * Reported per row: token requests vs ideal (one per audience), wall time of the cold phase, Redis commands
 * per getToken() (counted as the clients send them) cold and at steady state, p99 getToken() latency, failed
 * calls and cache faults.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { startFleet } from '../test/fixtures/fleet.js';
import type { FleetSimResult } from '../test/fixtures/fleet-sim.js';
import { percentile } from '../test/fixtures/fleet-sim.js';
import { startLatencyProxy } from '../test/helpers/latency-proxy.js';
import { haveRedisServer, type RedisServer, startRedisServer } from '../test/helpers/redis-server.js';
import type { BenchConfig } from './config.js';
import { BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, type BenchServers, childExecArgv } from './servers.js';

export interface FleetRow {
  kind: 'in-process' | 'processes';
  /** Replicas (in-process) or processes. */
  replicas: number;
  audiences: number;
  /** CPU-burner processes running meanwhile. */
  burners: number;
  calls?: number;
  tokenRequests?: number;
  /** One token request per audience. */
  ideal: number;
  wallMs?: number;
  coldCommandsPerCall?: number;
  steadyCommandsPerCall?: number;
  p99Ms?: number;
  steadyP99Ms?: number;
  failed?: number;
  faults?: number;
  /** The cache faults by `operation: code`. */
  faultKinds?: Record<string, number>;
  error?: string;
}

export interface SlowRedisResult {
  replyDelayMs: number;
  misses: number;
  p50Ms?: number;
  p99Ms?: number;
  /** Redis round trips per miss, the store and release included. */
  roundTripsPerMiss?: number;
  error?: string;
}

export interface FleetResult {
  rows: FleetRow[];
  slowRedis?: SlowRedisResult;
  skipped?: string;
}

type FleetConfig = BenchConfig['fleet'];
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

function countKinds(kinds: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of kinds) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

function perCall(commands: number | undefined, calls: number | undefined): number | undefined {
  return commands === undefined || !calls ? undefined : commands / calls;
}

async function inProcessRow(
  servers: BenchServers,
  redis: RedisServer,
  replicas: number,
  audiences: number,
  cfg: FleetConfig,
): Promise<FleetRow> {
  const row: FleetRow = { kind: 'in-process', replicas, audiences, burners: 0, ideal: audiences };
  await servers.reset();
  const child = fork(new URL('./fleet-sim-process.ts', import.meta.url), [], {
    execArgv: childExecArgv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      FLEET_REDIS_URL: redis.url,
      FLEET_STATS_URL: `${servers.issuer}/_stats`,
      FLEET_TOKEN_ENDPOINT: servers.tokenEndpoint,
      FLEET_CLIENT_ID: BENCH_CLIENT_ID,
      FLEET_CLIENT_SECRET: BENCH_CLIENT_SECRET,
      FLEET_REPLICAS: String(replicas),
      FLEET_AUDIENCES: String(audiences),
      FLEET_STEADY_MS: String(cfg.steadyMs),
      FLEET_STEADY_INTERVAL_MS: String(cfg.steadyIntervalMs),
    },
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), cfg.deadlineMs);
  try {
    const message = await new Promise<{ result?: FleetSimResult; error?: string }>((resolve) => {
      child.once('message', (m) => resolve(m as { result?: FleetSimResult; error?: string }));
      child.once('exit', (code, signal) => resolve({ error: `exited (${signal ?? code})` }));
    });
    const r = message.result;
    if (r === undefined) return { ...row, error: message.error ?? 'no result' };
    return {
      ...row,
      calls: r.cold.calls,
      tokenRequests: r.cold.tokenRequests,
      wallMs: r.cold.wallMs,
      coldCommandsPerCall: perCall(r.cold.redisCommands, r.cold.calls),
      steadyCommandsPerCall: perCall(r.steady?.redisCommands, r.steady?.calls),
      p99Ms: r.cold.p99Ms,
      steadyP99Ms: r.steady?.p99Ms,
      failed: r.cold.failed + (r.steady?.failed ?? 0),
      faults: Object.values(r.faults).reduce((a, b) => a + b, 0),
      faultKinds: r.faults,
      ...(r.errors.length ? { error: r.errors[0] } : {}),
    };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Processes that keep both cores busy: CPU starvation for everything else on the machine. */
function startBurners(count: number): ChildProcess[] {
  return Array.from({ length: count }, () => {
    const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    burner.on('error', () => {});
    return burner;
  });
}

async function processRows(
  servers: BenchServers,
  redis: RedisServer,
  size: number,
  cfg: FleetConfig,
  log: (m: string) => void,
): Promise<FleetRow[]> {
  const fleet = await startFleet({
    size,
    redisUrl: redis.url,
    tokenEndpoint: servers.tokenEndpoint,
    execArgv: childExecArgv(),
    startTimeoutMs: 120_000,
    env: { FLEET_CLIENT_ID: BENCH_CLIENT_ID, FLEET_CLIENT_SECRET: BENCH_CLIENT_SECRET },
  });
  const rows: FleetRow[] = [];
  try {
    for (const burners of cfg.burners) {
      log(`  fleet: ${size} processes x ${cfg.audiences} audiences, ${burners} CPU burners`);
      const row: FleetRow = {
        kind: 'processes',
        replicas: size,
        audiences: cfg.audiences,
        burners,
        ideal: cfg.audiences,
      };
      const running = startBurners(burners);
      try {
        await servers.reset();
        const started = performance.now();
        const results = await fleet.run({
          audiences: Array.from(
            { length: cfg.audiences },
            (_, i) => `urn:bench:fleet:${size}:${burners}:${i}`,
          ),
          concurrency: cfg.perAudience,
          shared: true,
          timeoutMs: 10_000,
          cacheTimeoutMs: 'default',
          retries: 2,
          steadyMs: cfg.steadyMs,
          steadyIntervalMs: cfg.steadyIntervalMs,
        });
        const stats = await servers.stats();
        const cold = results.flatMap((r) => r.cold?.latencies ?? []).sort((a, b) => a - b);
        const steady = results.flatMap((r) => r.steady?.latencies ?? []).sort((a, b) => a - b);
        const sum = (pick: (r: (typeof results)[number]) => number) =>
          results.reduce((n, r) => n + pick(r), 0);
        const coldCalls = size * cfg.audiences * cfg.perAudience;
        const errors = results.flatMap((r) => r.errors);
        rows.push({
          ...row,
          calls: coldCalls,
          tokenRequests: stats.total,
          // The cold phase ends when the slowest process's first round does (its latencies' maximum).
          wallMs: cold.length ? (cold[cold.length - 1] as number) : performance.now() - started,
          coldCommandsPerCall: perCall(
            sum((r) => r.cold?.commands ?? 0),
            coldCalls,
          ),
          steadyCommandsPerCall: perCall(
            sum((r) => r.steady?.commands ?? 0),
            steady.length,
          ),
          p99Ms: percentile(cold, 99),
          steadyP99Ms: percentile(steady, 99),
          failed: errors.length,
          faults: sum((r) => r.faults.length),
          faultKinds: countKinds(results.flatMap((r) => r.faults)),
          ...(results.length < size
            ? { error: `${size - results.length} processes did not answer` }
            : errors.length
              ? { error: errors[0] }
              : {}),
        });
      } catch (error) {
        rows.push({ ...row, error: errorText(error) });
      } finally {
        for (const burner of running) burner.kill('SIGKILL');
      }
    }
  } finally {
    await fleet.stop();
  }
  return rows;
}

async function slowRedis(
  servers: BenchServers,
  redis: RedisServer,
  cfg: FleetConfig,
): Promise<SlowRedisResult> {
  const { replyDelayMs, misses } = cfg.slowRedis;
  const result: SlowRedisResult = { replyDelayMs, misses };
  const proxy = await startLatencyProxy({ targetPort: redis.port, replyDelayMs });
  const { createClient } = await import('redis');
  const { ClientCredentialsClient } = await import('../src/index.js');
  const { RedisTokenCache } = await import('../src/redis/index.js');
  const conn = createClient({ url: proxy.url });
  conn.on('error', () => {});
  try {
    await conn.connect();
    const client = new ClientCredentialsClient({
      tokenEndpoint: servers.tokenEndpoint,
      clientId: BENCH_CLIENT_ID,
      clientSecret: BENCH_CLIENT_SECRET,
      cache: new RedisTokenCache({ client: conn, keyPrefix: `bench-slow-${process.pid}:` }),
    });
    const latencies: number[] = [];
    const before = proxy.requests;
    for (let i = 0; i < misses; i++) {
      const t0 = performance.now();
      await client.getToken({ audience: `urn:bench:slow:${i}` });
      latencies.push(performance.now() - t0);
      // Let the store and release (maybe still in flight) finish before the next miss.
      await new Promise((resolve) => setTimeout(resolve, replyDelayMs * 2));
    }
    latencies.sort((a, b) => a - b);
    return {
      ...result,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      roundTripsPerMiss: (proxy.requests - before) / misses,
    };
  } catch (error) {
    return { ...result, error: errorText(error) };
  } finally {
    conn.destroy();
    await proxy.close();
  }
}

export async function runFleetFigure(
  servers: BenchServers,
  cfg: FleetConfig,
  log: (m: string) => void,
): Promise<FleetResult> {
  if (!haveRedisServer) return { rows: [], skipped: 'no redis-server binary on PATH' };
  const rows: FleetRow[] = [];
  const result: FleetResult = { rows };
  await servers.setLatency(cfg.latencyMs);
  try {
    for (const [replicas, audiences] of cfg.inProcess) {
      log(`  fleet: ${replicas} in-process replicas x ${audiences} audiences`);
      const redis = await startRedisServer();
      try {
        rows.push(await inProcessRow(servers, redis, replicas, audiences, cfg));
      } catch (error) {
        rows.push({
          kind: 'in-process',
          replicas,
          audiences,
          burners: 0,
          ideal: audiences,
          error: errorText(error),
        });
      } finally {
        await redis.stop();
      }
    }
    for (const size of cfg.processes) {
      const redis = await startRedisServer();
      try {
        rows.push(...(await processRows(servers, redis, size, cfg, log)));
      } catch (error) {
        for (const burners of cfg.burners) {
          rows.push({
            kind: 'processes',
            replicas: size,
            audiences: cfg.audiences,
            burners,
            ideal: cfg.audiences,
            error: errorText(error),
          });
        }
      } finally {
        await redis.stop();
      }
    }
    log(`  fleet: misses through a Redis answering ${cfg.slowRedis.replyDelayMs} ms late`);
    const redis = await startRedisServer();
    try {
      result.slowRedis = await slowRedis(servers, redis, cfg);
    } finally {
      await redis.stop();
    }
  } finally {
    await servers.setLatency(0);
  }
  return result;
}
