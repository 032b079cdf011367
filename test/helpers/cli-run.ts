/**
 * The m2m-token command line run in this process (src/cli/run.ts), as a terminal would run it but with
 * only the environment given (never the test's own) and the standard input given.
 *
 *   const { code, stdout, stderr } = await runCli(['token', '--verbose'], { env: { M2M_CLIENT_ID: 'x' }, stdin: 'secret' });
 */
import { Readable, Writable } from 'node:stream';
import { run } from '../../src/cli/run.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function capture(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      callback();
    },
  });
  return Object.assign(stream, { text: () => Buffer.concat(chunks).toString('utf8') });
}

export async function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<CliResult> {
  const stdout = capture();
  const stderr = capture();
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]);
  const code = await run(args, { env: { ...options.env }, stdin, stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
