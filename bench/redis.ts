/**
 * Figure 7 (optional): processes sharing one RedisTokenCache. Runs only when src/redis/index.ts
 * exists and a `redis-server` binary is on PATH; it starts its own redis-server on a free loopback
 * port with persistence off, forks the worker processes, and counts token requests at the server.
 */
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { nowNs } from './lib/measure.js';
import { type BenchServers, childExecArgv } from './servers.js';

export interface RedisResult {
  processes: number;
  audiences: number;
  tokenRequests?: number;
  wallMs?: number;
  errors?: number;
  skipped?: string;
  error?: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function hasRedisServer(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore', timeout: 5_000 });
  return r.status === 0;
}

async function startRedis(): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start within 10 s')), 10_000);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
      if (out.length > 100_000) out = out.slice(-1000);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with code ${code}`));
    });
  });
  return { url: `redis://127.0.0.1:${port}`, process: child };
}

export async function runRedisFigure(
  servers: BenchServers,
  env: { tokenEndpoint: string; clientId: string; clientSecret: string },
  cfg: { processes: number; audiences: number; latencyMs: number; deadlineMs: number },
  log: (m: string) => void,
): Promise<RedisResult> {
  const base = { processes: cfg.processes, audiences: cfg.audiences };
  if (!existsSync(new URL('../src/redis/index.ts', import.meta.url))) {
    return { ...base, skipped: 'src/redis/index.ts does not exist' };
  }
  if (!hasRedisServer()) return { ...base, skipped: 'no redis-server binary on PATH' };
  let redis: { url: string; process: ChildProcess } | undefined;
  const workers: ChildProcess[] = [];
  const timer = setTimeout(() => {
    for (const w of workers) w.kill('SIGKILL');
  }, cfg.deadlineMs);
  try {
    redis = await startRedis();
    log(`  redis: ${cfg.processes} processes x ${cfg.audiences} audiences`);
    await servers.setLatency(cfg.latencyMs);
    await servers.reset();
    const ready: Array<Promise<void>> = [];
    const done: Array<Promise<{ errors: number; error?: string }>> = [];
    for (let i = 0; i < cfg.processes; i++) {
      const w = fork(new URL('./redis-worker.ts', import.meta.url), [], {
        execArgv: childExecArgv(),
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: {
          ...process.env,
          BENCH_REDIS_URL: redis.url,
          BENCH_TOKEN_ENDPOINT: env.tokenEndpoint,
          BENCH_CLIENT_ID: env.clientId,
          BENCH_CLIENT_SECRET: env.clientSecret,
          BENCH_AUDIENCES: String(cfg.audiences),
        },
      });
      workers.push(w);
      ready.push(
        new Promise((resolve, reject) => {
          w.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(String(m)))));
          w.once('exit', (code) => reject(new Error(`redis worker exited (${code})`)));
        }),
      );
    }
    await Promise.all(ready);
    for (const w of workers) {
      done.push(
        new Promise((resolve) => {
          w.once('message', (m) => resolve(m as { errors: number; error?: string }));
          w.once('exit', (code) => resolve({ errors: cfg.audiences, error: `exited (${code})` }));
        }),
      );
    }
    // All processes start together: the cross-process lock is what keeps the count at one per audience.
    const start = nowNs();
    for (const w of workers) w.send('go');
    const results = await Promise.all(done);
    const wallMs = Number(nowNs() - start) / 1e6;
    const stats = await servers.stats();
    const firstError = results.find((r) => r.error)?.error;
    return {
      ...base,
      tokenRequests: stats.total,
      wallMs,
      errors: results.reduce((n, r) => n + r.errors, 0),
      ...(firstError ? { error: firstError } : {}),
    };
  } catch (err) {
    return { ...base, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
    for (const w of workers) if (w.exitCode === null) w.kill();
    redis?.process.kill();
    await servers.setLatency(0);
  }
}
