/**
 * What every interop test file shares: registering one test per matrix cell, and the scenarios that
 * are the same whatever the server (cache, 401 retry, refused client), driven through the public API.
 *
 *   registerMatrix('glewlwyd', { basic: async (cell) => { ... }, ... });  // one `it` per feature
 *   await expectCell(cell, () => client.getToken(), { token: verify, refusal: (error) => ... });
 *   const wire = recordingFetch(tokenEndpoint);  // the token requests a client really sends
 *   const api = await startProtectedApi(verifyAccessToken);  // a resource server checking the server's tokens
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { expect, it } from 'vitest';
import { type ClientCredentialsClient, M2MTokenError, type Token } from '../../src/index.js';
import { closeServer, listenOnLoopback } from '../helpers/ports.js';
import { type Cell, FEATURES, type FeatureId, MATRIX, type ServerId } from './matrix.js';

export type CellTest = (cell: Cell) => Promise<void>;

/** The installed version of an npm dev dependency (to check it against the matrix's). */
export function packageVersion(name: string): string {
  const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/**
 * One test per feature of the matrix, titled with what the matrix claims; `cases` must cover every
 * feature (the type says so), and each case must prove its cell (see expectCell). `skip` names the
 * cells that cannot run here, with the plain reason (a missing system binary).
 */
export function registerMatrix(
  server: ServerId,
  cases: { readonly [F in FeatureId]: CellTest },
  skip: { readonly [F in FeatureId]?: string | undefined } = {},
): void {
  for (const feature of FEATURES) {
    const cell = MATRIX[server].cells[feature.id];
    const claim = {
      works: 'works',
      unchecked: 'a token without any check of the credentials',
      unsupported: 'not supported by the server',
    }[cell.status];
    const title = `${feature.label}: ${claim}${cell.note ? ` (${cell.note})` : ''}`;
    const reason = skip[feature.id];
    if (reason !== undefined) it.skip(`${title} — skipped: ${reason}`, () => undefined);
    else it(title, () => cases[feature.id](cell));
  }
}

/**
 * Proves a cell: when it says `works` (or `unchecked`), the attempt must give a token and `token`
 * checks it (against the server's keys or its own token check); when it says `unsupported`, the attempt
 * must fail with an M2MTokenError (never a crash or a hang) that `refusal` checks.
 */
export async function expectCell(
  cell: Cell,
  attempt: () => Promise<Token>,
  check: { token: (token: Token) => unknown; refusal: (error: unknown) => void },
): Promise<void> {
  if (cell.status !== 'unsupported') {
    await check.token(await attempt());
    return;
  }
  const outcome = await attempt().then(
    (token) => ({ token }),
    (error: unknown) => ({ error }),
  );
  expect(outcome, 'the matrix says the server does not support this, yet a token was issued').toHaveProperty(
    'error',
  );
  const { error } = outcome as { error: unknown };
  expect(error).toBeInstanceOf(M2MTokenError);
  check.refusal(error);
}

/** One token request as the client sent it. */
export interface SentTokenRequest {
  readonly headers: Headers;
  readonly body: string;
}

/**
 * A fetch that records the token requests (POSTs to the token endpoint) the client really sends, for
 * servers that keep no record of their own.
 */
export function recordingFetch(tokenEndpoint: string, inner: typeof globalThis.fetch = globalThis.fetch) {
  const sent: SentTokenRequest[] = [];
  const fetch = ((input: string | URL | Request, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === tokenEndpoint && init?.method === 'POST') {
      sent.push({ headers: new Headers(init.headers), body: String(init.body ?? '') });
    }
    return inner(input, init);
  }) as typeof globalThis.fetch;
  return {
    fetch,
    sent,
    get tokenRequests() {
      return sent.length;
    },
  };
}

export interface ProtectedApi {
  url: string;
  /** Access tokens that reached the API, in order, with the status each got. */
  seen: Array<{ token: string; status: number }>;
  /** From now on this token is answered with 401 invalid_token (as after a revocation). */
  revoke(accessToken: string): void;
  close(): Promise<void>;
}

/**
 * A resource server on loopback that accepts `Authorization: Bearer <token>` only when `verify` (the
 * authorization server's JWKS or introspection) accepts the token and it was not revoked; otherwise
 * 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 3.1).
 */
export async function startProtectedApi(
  verify: (accessToken: string) => Promise<boolean>,
): Promise<ProtectedApi> {
  const revoked = new Set<string>();
  const seen: ProtectedApi['seen'] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const header = req.headers.authorization ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1] ?? '';
    void (async () => {
      const ok = token !== '' && !revoked.has(token) && (await verify(token).catch(() => false));
      seen.push({ token, status: ok ? 200 : 401 });
      if (ok) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      } else {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
        res.end();
      }
    })();
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/orders`,
    seen,
    revoke: (accessToken) => revoked.add(accessToken),
    close: () => closeServer(server),
  };
}

/** Many calls, one token request: 20 concurrent getToken() and 5 more after, same token. */
export async function expectOneRequestForManyCalls(
  client: ClientCredentialsClient,
  wire: { readonly tokenRequests: number },
): Promise<Token> {
  const before = wire.tokenRequests;
  const concurrent = await Promise.all(Array.from({ length: 20 }, () => client.getToken()));
  const later: Token[] = [];
  for (let i = 0; i < 5; i++) later.push(await client.getToken());
  const first = concurrent[0] as Token;
  for (const token of [...concurrent, ...later]) expect(token.accessToken).toBe(first.accessToken);
  expect(wire.tokenRequests - before).toBe(1);
  return first;
}

/**
 * The 401 rule against a resource server that checks the authorization server's tokens: the API
 * accepts the first token; once it is revoked, the next call gets a 401, the client drops that token,
 * gets one new token and retries once; the API accepts the new one.
 */
export async function expectRetryAfter401(
  client: ClientCredentialsClient,
  api: ProtectedApi,
  wire: { readonly tokenRequests: number },
  revoke: (accessToken: string) => Promise<void> | void = (token) => api.revoke(token),
): Promise<void> {
  const before = wire.tokenRequests;
  const first = await client.fetch(api.url);
  expect(first.status).toBe(200);
  await first.arrayBuffer();
  const firstToken = api.seen.at(-1)?.token as string;
  await revoke(firstToken);
  const second = await client.fetch(api.url);
  expect(second.status).toBe(200);
  await second.arrayBuffer();
  const last = api.seen.slice(-2);
  expect(last.map((s) => s.status)).toEqual([401, 200]);
  expect(last[0]?.token).toBe(firstToken);
  expect(last[1]?.token).not.toBe(firstToken);
  expect(wire.tokenRequests - before).toBe(2);
}

/**
 * A refused client's error says where and who, and what to check (API.md Round 2): the token endpoint,
 * the client id, and the hint naming the method that was used (`options.authMethod`).
 */
export function expectRefusedClientHint(
  error: unknown,
  expected: { endpoint: string; clientId: string; method: string },
): void {
  expect(error).toBeInstanceOf(M2MTokenError);
  const { message } = error as Error;
  expect(message).toContain(expected.endpoint);
  expect(message).toContain(`client id "${expected.clientId}"`);
  expect(message).toMatch(/Check the client id/);
  expect(message).toContain(`this request used ${expected.method} (options.authMethod)`);
}
