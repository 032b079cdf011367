/**
 * A server binary run by a test (redis-server, Glewlwyd) that never outlives the test process:
 *
 *   const running = spawnServer('redis-server', ['--port', '6390'], { outputChars: 2_000 });
 *   running.output()   the last `outputChars` characters it wrote to stdout and stderr
 *   await running.exited
 *   await stopServer(running)            SIGTERM (or the signal given), SIGKILL after 3 s
 *
 * Three guards: stopServer() in afterAll, a process 'exit' hook that SIGKILLs every live server, and a
 * watchdog `sh` per server that waits on its stdin and SIGKILLs the server when the pipe closes, that
 * is when this process dies without running exit hooks (a crashed or killed vitest worker). Neither
 * the server nor the watchdog keeps the event loop alive.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

export interface RunningServer {
  child: ChildProcess;
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

export function spawnServer(
  command: string,
  args: readonly string[],
  { outputChars }: { outputChars: number },
): RunningServer {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-outputChars);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  live.add(child);
  installExitHook();

  const watchdog = spawn(
    'sh',
    ['-c', 'read _unused; kill -9 "$1" 2>/dev/null', 'server-watchdog', String(child.pid)],
    { stdio: ['pipe', 'ignore', 'ignore'] },
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
  for (const stream of [child.stdout, child.stderr, watchdog.stdin]) (stream as Socket | null)?.unref?.();
  return { child, exited, output: () => output };
}

/** Sends `signal` (SIGTERM by default) unless it has exited, and waits; SIGKILL after 3 s. */
export async function stopServer(running: RunningServer, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = running;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  try {
    await running.exited;
  } finally {
    clearTimeout(timer);
  }
}
