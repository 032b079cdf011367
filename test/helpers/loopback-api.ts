/**
 * A loopback API (on test/helpers/loopback-server.ts) that records every request it receives and
 * answers through a replaceable responder; and the World Mappers API's rules as a responder. Shared
 * by the tests of the fetch wrapper, the undici interceptor and the axios integration.
 *
 *   const api = await startApi(worldMappers(() => true));
 *   api.url                  'http://127.0.0.1:PORT'
 *   api.arrivals             [{ method, path, headers, body (bytes) }]
 *   api.respond = () => INVALID_TOKEN;
 *   bearerOf(api.arrivals[0])   its Authorization header
 */
import type { IncomingHttpHeaders } from 'node:http';
import { startLoopbackServer } from './loopback-server.js';

export interface Arrival {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  /** Default: `{"status":<status>}`. */
  body?: string;
}

export type Responder = (arrival: Arrival) => Answer | Promise<Answer>;

export interface Api {
  url: string;
  arrivals: Arrival[];
  respond: Responder;
  close(): Promise<void>;
}

/** An API recording every request it receives; JSON answers unless a Content-Type is given. */
export async function startApi(respond: Responder): Promise<Api> {
  const server = await startLoopbackServer<Arrival>(
    async (arrival) => {
      const answer = await api.respond(arrival);
      return {
        status: answer.status,
        headers: { 'content-type': 'application/json', ...answer.headers },
        body: answer.body ?? JSON.stringify({ status: answer.status }),
      };
    },
    (request) => ({
      method: request.method,
      path: request.path,
      headers: request.headers,
      body: request.bytes,
    }),
  );
  const api: Api = { url: server.origin, arrivals: server.requests, respond, close: () => server.close() };
  return api;
}

/** The World Mappers API's answer to a token it does not accept (RFC 6750 3.1). */
export const INVALID_TOKEN: Answer = {
  status: 401,
  headers: {
    'www-authenticate': 'Bearer realm="worldmappers", error="invalid_token", error_description="bad token"',
  },
  body: JSON.stringify({ error: 'invalid_token' }),
};

/** The World Mappers API's rule: 200 `{ ok, path }` when `accepts` the Bearer token, else INVALID_TOKEN. */
export function worldMappers(accepts: (token: string) => boolean): Responder {
  return (arrival) => {
    const match = /^Bearer (\S+)$/.exec(arrival.headers.authorization ?? '');
    if (!match || !accepts(match[1] as string)) return INVALID_TOKEN;
    return { status: 200, body: JSON.stringify({ ok: true, path: arrival.path }) };
  };
}

/** The Authorization header an arrival carried. */
export function bearerOf(arrival: Arrival | undefined): string | undefined {
  return arrival?.headers.authorization;
}
