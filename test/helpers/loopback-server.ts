/**
 * A loopback HTTP server that records every request it receives and answers as the test says, byte for
 * byte if need be (it may lie about Content-Length and Content-Encoding), never, or a byte at a time.
 * The token server and the API of the other helpers are built on it.
 *
 *   const server = await startLoopbackServer((request, n) => ({ status: 200, json: { ok: true } }));
 *   server.origin            'http://127.0.0.1:PORT'
 *   server.requests          [{ method, path, headers, body, bytes, at }] in arrival order
 *   server.answer(respond)   answers every later request with `respond`
 *   await server.close()     ends held and trickling answers too
 *
 * An answer is { status, statusText, headers, body | json, trickleMs }, 'hold' (never answered: a server that
 * accepted the request and went silent), or a promise of either.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { closeServer, listenOnLoopback } from './ports.js';

export interface ReceivedRequest {
  readonly method: string;
  /** The request target as sent: path and query. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  readonly body: string;
  /** The body as received. */
  readonly bytes: Buffer;
  /** Date.now() on arrival. */
  readonly at: number;
}

export interface Answer {
  /** Default 200. */
  readonly status?: number;
  /** The reason phrase of the status line; default Node's for the status. */
  readonly statusText?: string;
  /** Written as given: no Content-Length or Content-Type is added unless set here (or by `json`). */
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: Buffer | string;
  /** A JSON body, with `content-type: application/json` unless `headers` sets one. */
  readonly json?: unknown;
  /** Sends the headers and `body`, then one space every `trickleMs`, never ending. */
  readonly trickleMs?: number;
}

export type Respond<R = ReceivedRequest> = (
  request: R,
  n: number,
) => Answer | 'hold' | Promise<Answer | 'hold'>;

export interface LoopbackServer<R = ReceivedRequest> {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly requests: R[];
  /** Bytes sent so far by trickling answers (after their `body`). */
  readonly trickled: number;
  /** Answers every later request (n counts from 1 since the start or the last `forget()`). */
  answer(respond: Respond<R>): void;
  /** Forgets the requests received so far (n starts again from 1). */
  forget(): void;
  close(): Promise<void>;
}

/**
 * Starts a recording server. `record` may extend each request (the token server adds its form
 * parameters) before it is stored and answered.
 */
export async function startLoopbackServer<R = ReceivedRequest>(
  respond: Respond<R> = () => ({ status: 404 }),
  record: (request: ReceivedRequest) => R = (request) => request as R,
): Promise<LoopbackServer<R>> {
  const requests: R[] = [];
  const open = new Set<ServerResponse>();
  let current = respond;
  let trickled = 0;
  const onTrickle = () => {
    trickled++;
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const bytes = Buffer.concat(chunks);
      const request = record({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: bytes.toString('utf8'),
        bytes,
        at: Date.now(),
      });
      requests.push(request);
      open.add(res);
      res.on('close', () => open.delete(res));
      // A client that stopped reading (over a size cap) resets the connection: expected here.
      res.on('error', () => undefined);
      void Promise.resolve(current(request, requests.length)).then((answer) => send(res, answer, onTrickle));
    });
  });
  const port = await listenOnLoopback(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    get trickled() {
      return trickled;
    },
    answer(next) {
      current = next;
    },
    forget() {
      requests.length = 0;
    },
    async close() {
      for (const res of open) res.destroy();
      await closeServer(server);
    },
  };
}

function send(res: ServerResponse, answer: Answer | 'hold', onTrickle: () => void): void {
  if (answer === 'hold' || res.destroyed) return;
  const headers: OutgoingHttpHeaders = { ...answer.headers };
  let body = answer.body ?? '';
  if (answer.json !== undefined) {
    body = JSON.stringify(answer.json);
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  }
  if (answer.statusText === undefined) res.writeHead(answer.status ?? 200, headers);
  else res.writeHead(answer.status ?? 200, answer.statusText, headers);
  if (answer.trickleMs === undefined) {
    res.end(body);
    return;
  }
  res.write(body);
  const timer = setInterval(() => {
    res.write(' ');
    onTrickle();
  }, answer.trickleMs);
  res.on('close', () => clearInterval(timer));
}
