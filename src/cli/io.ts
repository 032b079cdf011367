/** The process's streams and environment, passed around so that nothing else touches `process`. */
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { UsageError } from './args.js';

export interface Io {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export function nodeIo(): Io {
  return { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

/** Writes one line to stderr, prefixed with the program name. */
export function warn(io: Io, message: string): void {
  io.stderr.write(`m2m-token: ${message}\n`);
}

/** Reads a whole file named by `what` (e.g. `--private-key`); a failure is a usage error naming it. */
export async function readNamedFile(what: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    throw new UsageError(`cannot read ${what} ${path} (${code})`);
  }
}

/** Reads all of standard input. */
export async function readStdin(io: Io): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Drops one trailing newline (`echo secret > file` adds one). */
export function chompNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}
