/**
 * A loopback HTTP server whose answers are scripted by the test, byte for byte (it may lie about
 * Content-Length and Content-Encoding), and which records every request it received.
 *
 *   const server = await startScriptedServer();
 *   server.answer((request) => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{}' }));
 *   server.origin      'http://127.0.0.1:PORT'
 *   server.requests    [{ method, path, headers, body }]
 *   await server.close();
 */
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { closeServer, listenOnLoopback } from './ports.js';

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
