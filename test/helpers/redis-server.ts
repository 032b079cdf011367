/**
 * A real `redis-server` on a free loopback port, for RedisTokenCache interop tests.
 *
 *   import { haveRedisServer, redisServerMissingMessage, startRedisServer } from './helpers/redis-server.js';
 *
 *   describe.skipIf(!haveRedisServer)(`redis (${redisServerMissingMessage} to run)`, () => {
 *     let redis: RedisServer;
 *     beforeAll(async () => { redis = await startRedisServer(); });
 *     afterAll(() => redis.stop());
 *   });
 *
 *   startRedisServer(opts?: { startTimeoutMs?: number; extraArgs?: string[] }): Promise<RedisServer>
 *   RedisServer:
 *     url        'redis://127.0.0.1:PORT'
 *     port       number (kept across restart())
 *     pid        the current server's pid (undefined while stopped)
 *     running    boolean
 *     stop()     SIGTERM, waits for exit (SIGKILL after 3 s); no-op when stopped
 *     restart()  stop() then start again on the same port; data is gone (no persistence)
 *     kill()     SIGKILL (a crash), waits for exit
 *
 * Started with `--bind 127.0.0.1 --save '' --appendonly no`; readiness is a raw `PING` answered with
 * `+PONG`, polled for at most `startTimeoutMs` (default 5000). No process is left behind: stop() in
 * afterAll, a process 'exit' hook, and a watchdog `sh` that SIGKILLs the server when this process
 * dies (its stdin pipe closes) even without running exit hooks.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { getFreePort } from './ports.js';

const REDIS_SERVER = 'redis-server';

/** True when the `redis-server` binary can be run; use with `describe.skipIf(!haveRedisServer)`. */
export const haveRedisServer: boolean = (() => {
  const result = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore', timeout: 5_000 });
  return result.status === 0;
})();

export const redisServerMissingMessage = 'redis-server not installed: apt-get install -y redis-server';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  readonly running: boolean;
  stop(): Promise<void>;
  restart(): Promise<void>;
  kill(): Promise<void>;
}

export interface StartRedisServerOptions {
  startTimeoutMs?: number;
  extraArgs?: string[];
}

interface Running {
  child: ChildProcess;
  watchdog: ChildProcess;
  exited: Promise<void>;
  output: () => string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function spawnRedis(port: number, extraArgs: string[]): Running {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--dir',
    tmpdir(),
    '--loglevel',
    'warning',
    ...extraArgs,
  ];
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-2_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  live.add(child);
  installExitHook();

  // The watchdog waits on its stdin; when this process dies the pipe closes and it kills the server.
  const watchdog = spawn(
    'sh',
    ['-c', 'read _unused; kill -9 "$1" 2>/dev/null', 'redis-watchdog', String(child.pid)],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  watchdog.on('error', () => {});
  live.add(watchdog);

  const exited = new Promise<void>((resolve) => {
    const done = () => {
      live.delete(child);
      watchdog.kill('SIGKILL');
      live.delete(watchdog);
      resolve();
    };
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once('exit', done);
    child.once('error', done);
  });

  for (const handle of [child, watchdog]) handle.unref();
  for (const stream of [child.stdout, child.stderr, watchdog.stdin]) {
    (stream as Socket | null)?.unref?.();
  }

  return { child, watchdog, exited, output: () => output };
}

function ping(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) finish(answer.startsWith('+PONG'));
    });
  });
}

async function waitReady(running: Running, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void running.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`redis-server exited during startup on port ${port}: ${running.output().trim()}`);
    }
    if (await ping(port, 500)) return;
    await sleep(25);
  }
  running.child.kill('SIGKILL');
  await running.exited;
  throw new Error(`redis-server did not answer PING on port ${port} within ${timeoutMs} ms`);
}

async function stopRunning(running: Running, signal: NodeJS.Signals): Promise<void> {
  const { child } = running;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  try {
    await running.exited;
  } finally {
    clearTimeout(timer);
  }
}

export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServer> {
  if (!haveRedisServer) throw new Error(redisServerMissingMessage);
  const startTimeoutMs = options.startTimeoutMs ?? 5_000;
  const extraArgs = options.extraArgs ?? [];

  // getFreePort() can race with another process taking the port: try a few ports.
  let port = 0;
  let current: Running | undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3 && current === undefined; attempt++) {
    port = await getFreePort();
    const running = spawnRedis(port, extraArgs);
    try {
      await waitReady(running, port, startTimeoutMs);
      current = running;
    } catch (error) {
      lastError = error;
    }
  }
  if (current === undefined) throw lastError;

  let state: Running | undefined = current;
  const url = `redis://127.0.0.1:${port}`;

  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    const running = state;
    state = undefined;
    if (running) await stopRunning(running, signal);
  };

  return {
    url,
    port,
    get pid() {
      return state?.child.pid;
    },
    get running() {
      return state !== undefined && state.child.exitCode === null && state.child.signalCode === null;
    },
    stop: () => stop('SIGTERM'),
    kill: () => stop('SIGKILL'),
    async restart() {
      await stop('SIGTERM');
      const running = spawnRedis(port, extraArgs);
      await waitReady(running, port, startTimeoutMs);
      state = running;
    },
  };
}
