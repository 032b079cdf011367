/**
 * A loopback token endpoint (on test/helpers/loopback-server.ts): issues opaque tokens tok-1, tok-2, ...
 * (Bearer, one hour) to every request, records what it received, and answers otherwise when told.
 *
 *   const tokens = await startTokenServer();
 *   tokens.url                 'http://127.0.0.1:PORT/token'
 *   tokens.count               token requests received
 *   tokens.countFor(audience)  token requests for one audience
 *   tokens.requests            [{ method, path, headers, body, params, audience, at }]
 *   tokens.answer((request, n) => (n === 1 ? { status: 400, json: { error: 'invalid_grant' } } : undefined))
 *                              undefined: a token as usual; 'hold': never answered
 *   tokens.reset()             forgets the requests and the answer (between tests)
 *   await tokens.close()
 */
import { type Answer, type ReceivedRequest, startLoopbackServer } from './loopback-server.js';

export type { Answer } from './loopback-server.js';

export interface TokenRequest extends ReceivedRequest {
  /** The form (or JSON) body's parameters. */
  readonly params: URLSearchParams;
  readonly audience: string | undefined;
}

export interface TokenServerOptions {
  /** expires_in of each token, seconds. Default 3600. */
  readonly expiresIn?: number;
  /** token_type of each token. Default 'Bearer'. */
  readonly tokenType?: string;
  /** The access token for request n. Default `tok-${n}`. */
  readonly token?: (n: number, request: TokenRequest) => string;
  /** Delay before each token is sent, ms (real time). Default 0. */
  readonly delayMs?: number;
}

/** Another answer for request n, or undefined for a token. */
export type TokenAnswer = (request: TokenRequest, n: number) => Answer | 'hold' | undefined;

export interface TokenServer {
  /** The token endpoint: `${origin}/token`. */
  readonly url: string;
  readonly origin: string;
  readonly requests: readonly TokenRequest[];
  /** Token requests received since the start or the last reset(). */
  readonly count: number;
  /** Token requests for `audience` (undefined: those without one) since the start or the last reset(). */
  countFor(audience: string | undefined): number;
  /** token_type of the tokens issued from now on. */
  tokenType: string;
  /** Answers later requests with `answer` where it returns something, else with a token. */
  answer(answer: TokenAnswer | undefined): void;
  /** Forgets the requests, the answer and a changed tokenType. */
  reset(): void;
  close(): Promise<void>;
}

function paramsOf(request: ReceivedRequest): URLSearchParams {
  if (!String(request.headers['content-type']).includes('json')) return new URLSearchParams(request.body);
  try {
    const json = JSON.parse(request.body) as Record<string, unknown>;
    return new URLSearchParams(Object.entries(json).map(([name, value]) => [name, String(value)]));
  } catch {
    return new URLSearchParams();
  }
}

/** The number n of a token `tok-n` this server issued. */
export function generationOf(token: string): number {
  return Number(token.slice('tok-'.length));
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  let scripted: TokenAnswer | undefined;
  const issue = (request: TokenRequest, n: number): Answer => ({
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    json: {
      access_token: options.token ? options.token(n, request) : `tok-${n}`,
      token_type: state.tokenType,
      expires_in: options.expiresIn ?? 3600,
    },
  });
  const delayMs = options.delayMs ?? 0;
  const server = await startLoopbackServer<TokenRequest>(
    async (request, n) => {
      const answer = scripted?.(request, n);
      if (answer !== undefined) return answer;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return issue(request, n);
    },
    (request) => {
      const params = paramsOf(request);
      return { ...request, params, audience: params.get('audience') ?? undefined };
    },
  );
  const state: TokenServer = {
    url: `${server.origin}/token`,
    origin: server.origin,
    requests: server.requests,
    get count() {
      return server.requests.length;
    },
    countFor: (audience) => server.requests.filter((r) => r.audience === audience).length,
    tokenType: options.tokenType ?? 'Bearer',
    answer(answer) {
      scripted = answer;
    },
    reset() {
      server.forget();
      scripted = undefined;
      state.tokenType = options.tokenType ?? 'Bearer';
    },
    close: () => server.close(),
  };
  return state;
}
