/**
 * Shared pieces of the hardening tests: the scripted loopback server (test/helpers/scripted-server.ts),
 * a streaming compressor for decompression bombs, a peak-RSS probe, what a logger could print of an
 * error, a search for 12-character runs of a credential, and the CLI run in this process.
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export { exposures, leakedRuns } from '../helpers/leaks.js';
export {
  type ReceivedRequest,
  type ScriptedAnswer,
  type ScriptedServer,
  startScriptedServer,
} from '../helpers/scripted-server.js';

/**
 * Compresses `prefix + size zero-or-`fill` bytes + suffix` with `compressor`, streaming, so that a
 * 256 MiB bomb costs a few hundred KB of memory to make.
 */
export async function compressStream(
  compressor: NodeJS.ReadWriteStream,
  size: number,
  options: { prefix?: string; suffix?: string; fill?: number } = {},
): Promise<Buffer> {
  const chunk = Buffer.alloc(1 << 20, options.fill ?? 0);
  async function* source() {
    if (options.prefix) yield Buffer.from(options.prefix);
    for (let sent = 0; sent < size; sent += chunk.length)
      yield chunk.subarray(0, Math.min(chunk.length, size - sent));
    if (options.suffix) yield Buffer.from(options.suffix);
  }
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(source()),
    compressor,
    new Writable({
      write(data: Buffer, _encoding, callback) {
        out.push(data);
        callback();
      },
    }),
  );
  return Buffer.concat(out);
}

export interface Measured<T> {
  readonly value?: T;
  readonly error?: unknown;
  /** Highest RSS seen during the call (sampled every 5 ms and at the end) minus RSS before it. */
  readonly rssGrowthBytes: number;
  readonly elapsedMs: number;
}

/** Runs `fn`, recording its outcome, the elapsed time and the growth of the process's peak RSS. */
export async function measure<T>(fn: () => Promise<T>): Promise<Measured<T>> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 5);
  const started = performance.now();
  let outcome: { value?: T; error?: unknown };
  try {
    outcome = { value: await fn() };
  } catch (error) {
    outcome = { error };
  } finally {
    clearInterval(timer);
  }
  const elapsedMs = performance.now() - started;
  sample();
  return { ...outcome, rssGrowthBytes: peak - before, elapsedMs };
}

export const MiB = 1024 * 1024;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the m2m-token command line in this process (src/cli/run.ts), with only `env` as environment. */
export async function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  const { run } = await import('../../src/cli/run.js');
  let stdout = '';
  let stderr = '';
  const out = new PassThrough().setEncoding('utf8');
  const err = new PassThrough().setEncoding('utf8');
  out.on('data', (d: string) => {
    stdout += d;
  });
  err.on('data', (d: string) => {
    stderr += d;
  });
  const code = await run(args, { env, stdin: Readable.from([]), stdout: out, stderr: err });
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout, stderr };
}
