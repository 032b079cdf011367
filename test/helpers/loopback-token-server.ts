/**
 * A loopback token endpoint issuing opaque tokens tok-1, tok-2, ... (Bearer, one hour), with a request
 * counter and a switch to answer request n with an error instead. Shared by the fetch wrapper and the
 * undici interceptor tests.
 */
import { createServer } from 'node:http';
import { closeServer, listenOnLoopback } from './ports.js';

export interface TokenServer {
  endpoint: string;
  /** Token requests received. */
  readonly count: number;
  /** When set, answers request n with this instead of a token. */
  fail?: (n: number) => { status: number; body: unknown } | undefined;
  tokenType: string;
  reset(): void;
  close(): Promise<void>;
}

export async function startTokenServer(): Promise<TokenServer> {
  let count = 0;
  const state: TokenServer = {
    endpoint: '',
    get count() {
      return count;
    },
    tokenType: 'Bearer',
    reset() {
      count = 0;
      state.fail = undefined;
      state.tokenType = 'Bearer';
    },
    close: () => closeServer(server),
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const n = ++count;
      const failure = state.fail?.(n);
      const [status, body] = failure
        ? [failure.status, failure.body]
        : [200, { access_token: `tok-${n}`, token_type: state.tokenType, expires_in: 3600 }];
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    });
  });
  state.endpoint = `http://127.0.0.1:${await listenOnLoopback(server)}/oauth/token`;
  return state;
}
