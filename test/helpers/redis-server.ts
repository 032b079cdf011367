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
 *
 * A Redis Cluster of `masters` primaries (default 3, no replicas) on free loopback ports:
 *
 *   describe.skipIf(!haveRedisCluster)(`cluster (${redisClusterMissingMessage} to run)`, () => { ... });
 *   const cluster = await startRedisCluster();
 *   cluster.nodes        RedisServer of each primary (each with its own data dir and cluster bus port)
 *   cluster.rootNodes    [{ host: '127.0.0.1', port }] for ioredis `new Cluster(rootNodes)`
 *   cluster.urls         ['redis://127.0.0.1:PORT', ...] for node-redis `createCluster({ rootNodes: urls.map(url => ({ url })) })`
 *   await cluster.stop()
 *
 * Each node runs with `--cluster-enabled yes` and an explicit `--cluster-port`; the cluster is formed with
 * `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`, then every node is polled until
 * `CLUSTER INFO` says `cluster_state:ok` and it knows all 16384 slots.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { getFreePort } from './ports.js';
import { type RunningServer as Running, spawnServer, stopServer } from './server-process.js';

const REDIS_SERVER = 'redis-server';

/** True when the `redis-server` binary can be run; use with `describe.skipIf(!haveRedisServer)`. */
export const haveRedisServer: boolean = (() => {
  const result = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore', timeout: 5_000 });
  return result.status === 0;
})();

export const redisServerMissingMessage = 'redis-server not installed: apt-get install -y redis-server';

/** True when both `redis-server` and `redis-cli` can be run (a cluster needs `redis-cli --cluster create`). */
export const haveRedisCluster: boolean =
  haveRedisServer && spawnSync('redis-cli', ['--version'], { stdio: 'ignore', timeout: 5_000 }).status === 0;

export const redisClusterMissingMessage =
  'redis-server and redis-cli not installed: apt-get install -y redis-server redis-tools';

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
  return spawnServer(REDIS_SERVER, args, { outputChars: 2_000 });
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
    if (running) await stopServer(running, signal);
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

export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  readonly rootNodes: readonly { host: string; port: number }[];
  readonly urls: readonly string[];
  stop(): Promise<void>;
}

/** Sends one inline command over a raw socket; resolves to the reply text ('' on error or timeout). */
function rawCommand(port: number, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const finish = (text: string) => {
      socket.destroy();
      resolve(text);
    };
    socket.setTimeout(timeoutMs, () => finish(''));
    socket.once('error', () => finish(''));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      // A bulk string reply: $<length>\r\n<data>\r\n; anything else is one line.
      const header = /^\$(-?\d+)\r\n/.exec(answer);
      if (header) {
        const length = Number(header[1]);
        if (length < 0 || answer.length >= header[0].length + length + 2) finish(answer);
      } else if (answer.includes('\r\n')) finish(answer);
    });
  });
}

async function clusterReady(port: number, masters: number): Promise<boolean> {
  const info = await rawCommand(port, 'CLUSTER INFO', 1_000);
  return (
    info.includes('cluster_state:ok') &&
    info.includes('cluster_slots_assigned:16384') &&
    info.includes(`cluster_known_nodes:${masters}`)
  );
}

/** Starts `masters` cluster-enabled redis-servers and forms a cluster of them (no replicas). */
export async function startRedisCluster(
  options: { masters?: number; readyTimeoutMs?: number } = {},
): Promise<RedisCluster> {
  if (!haveRedisCluster) throw new Error(redisClusterMissingMessage);
  const masters = options.masters ?? 3;
  const dirs: string[] = [];
  const nodes: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'm2m-redis-cluster-'));
      dirs.push(dir);
      const busPort = await getFreePort();
      nodes.push(
        await startRedisServer({
          extraArgs: [
            '--dir',
            dir,
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-port',
            String(busPort),
            '--cluster-node-timeout',
            '5000',
          ],
        }),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: 30_000 },
        (error, stdout, stderr) => {
          if (error)
            reject(new Error(`redis-cli --cluster create failed: ${stderr || stdout || error.message}`));
          else resolve();
        },
      );
    });
    const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
    for (const node of nodes) {
      while (!(await clusterReady(node.port, masters))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${node.port} not ready (cluster_state:ok)`);
        await sleep(100);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes,
    rootNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    urls: nodes.map((node) => node.url),
    stop,
  };
}
