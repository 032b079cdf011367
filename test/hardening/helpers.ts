/**
 * Shared pieces of the hardening tests: a loopback server that answers each request with whatever the
 * test scripted (raw bytes and headers, so it can lie about Content-Length and Content-Encoding), a
 * streaming compressor for decompression bombs, and a peak-RSS probe.
 */
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { closeServer, listenOnLoopback } from '../helpers/ports.js';

export interface ScriptedAnswer {
  readonly status?: number;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: Buffer | string;
}

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface ScriptedServer {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly requests: ReceivedRequest[];
  /** Answers every request (by path) from now on. */
  answer(respond: (request: ReceivedRequest) => ScriptedAnswer): void;
  close(): Promise<void>;
}

/** A loopback HTTP server whose answers are written by the test, byte for byte. */
export async function startScriptedServer(): Promise<ScriptedServer> {
  const requests: ReceivedRequest[] = [];
  let respond: (request: ReceivedRequest) => ScriptedAnswer = () => ({ status: 404 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(received);
      const answer = respond(received);
      // writeHead with a raw header object: no Content-Length is added unless the test set one.
      res.writeHead(answer.status ?? 200, answer.headers ?? {});
      // A client that stopped reading (over the cap) resets the connection: that is expected here.
      res.on('error', () => undefined);
      res.end(answer.body ?? '');
    });
  });
  const port = await listenOnLoopback(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    answer(next) {
      respond = next;
    },
    close: () => closeServer(server),
  };
}

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
