/**
 * A loopback API that records every request it receives (method, path, headers, body) and answers
 * through a replaceable responder. Shared by the fetch wrapper and the undici interceptor tests.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback } from './ports.js';

export interface Arrival {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type Responder = (arrival: Arrival) => Answer | Promise<Answer>;

export interface Api {
  url: string;
  arrivals: Arrival[];
  respond: Responder;
  close(): Promise<void>;
}

/** An API recording every request it receives. */
export async function startApi(respond: Responder): Promise<Api> {
  const api: Api = { url: '', arrivals: [], respond, close: () => closeServer(server) };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const arrival: Arrival = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      api.arrivals.push(arrival);
      void Promise.resolve(api.respond(arrival)).then((answer) => {
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body ?? JSON.stringify({ status: answer.status }));
      });
    });
  });
  api.url = `http://127.0.0.1:${await listenOnLoopback(server)}`;
  return api;
}
