/**
 * An in-memory token endpoint behind the client's injectable `fetch`: counts requests, records what it
 * received, and answers with configurable tokens, lifetimes, latency and failures.
 */
export interface RecordedRequest {
  readonly url: string;
  readonly headers: Headers;
  readonly params: URLSearchParams;
}

export interface FakeEndpointOptions {
  /** expires_in to send (number, string, or undefined to omit). Default 3600. */
  expiresIn?: number | string | undefined | (() => number | string | undefined);
  /** Delay before answering, ms (real or fake timers). */
  latencyMs?: number;
  /** Builds the access token for request n (1-based). */
  token?: (n: number, params: URLSearchParams) => string;
  /** When it returns a Response, that is sent instead of a token. */
  respond?: (n: number, params: URLSearchParams) => Response | undefined;
}

export function fakeTokenEndpoint(options: FakeEndpointOptions = {}) {
  const requests: RecordedRequest[] = [];
  let count = 0;
  const state = { ...options };
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input);
    const params = new URLSearchParams(String(init?.body ?? ''));
    requests.push({ url, headers: new Headers(init?.headers), params });
    const n = ++count;
    if (state.latencyMs) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, state.latencyMs);
        init?.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(init.signal?.reason);
        });
      });
    }
    const custom = state.respond?.(n, params);
    if (custom) return custom;
    const expiresIn =
      typeof state.expiresIn === 'function'
        ? state.expiresIn()
        : 'expiresIn' in state
          ? state.expiresIn
          : 3600;
    const body: Record<string, unknown> = {
      access_token: state.token ? state.token(n, params) : `token-${n}`,
      token_type: 'Bearer',
    };
    if (expiresIn !== undefined) body.expires_in = expiresIn;
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
  return {
    fetch: fetch as typeof globalThis.fetch,
    requests,
    get count() {
      return count;
    },
    set(update: Partial<FakeEndpointOptions>) {
      Object.assign(state, update);
    },
  };
}

/** An unsigned JWT with the given claims (only its exp is read by the client, never verified). */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(claims)}.`;
}

export const ENDPOINT = 'https://idp.example.com/oauth/token';
