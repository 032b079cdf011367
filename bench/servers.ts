/**
 * The benchmark's local servers: an OAuth 2.0 token endpoint and a protected resource, both on
 * 127.0.0.1 with a port chosen by the OS.
 *
 * They run in a child process (see server-process.ts and startServerProcess below) so that the
 * server's own CPU time is not charged to the client being measured. The harness reads and resets
 * the request counters over HTTP (`/_stats`, `/_reset`, `/_config`), which also lets the Redis
 * figure's worker processes share one counter.
 */
import { fork } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const BENCH_CLIENT_ID = 'bench-client';
// Not a real secret: a fixed credential for the loopback bench server only.
export const BENCH_CLIENT_SECRET = 'bench-secret-0123456789';
export const DEFAULT_AUDIENCE = 'urn:bench:api';
export const TOKEN_PATH = '/oauth/token';
export const TOKEN_LIFETIME_SECONDS = 3600;

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface ServerStats {
  /** token requests answered with a token */
  total: number;
  /** token requests per `aud=<audience> scope=<scope>` */
  byKey: Record<string, number>;
  /** token requests per client authentication method seen by the server */
  byMethod: Record<string, number>;
  /** token requests refused (bad client authentication, bad grant) */
  rejected: number;
  /** resource requests: accepted and refused */
  resourceOk: number;
  resourceUnauthorized: number;
}

interface TokenServerState {
  latencyMs: number;
  stats: ServerStats;
  issued: Set<string>;
  jti: number;
}

function emptyStats(): ServerStats {
  return { total: 0, byKey: {}, byMethod: {}, rejected: 0, resourceOk: 0, resourceUnauthorized: 0 };
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 64 * 1024) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** RFC 6749 2.3.1 / Appendix B: Basic credentials are form-urlencoded before base64. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

interface ClientAuthResult {
  method: string;
  clientId: string;
}

/**
 * Authenticates the client (RFC 6749 2.3). Exactly one method may be used per request.
 * private_key_jwt / client_secret_jwt assertions (RFC 7523 3) are checked for shape, iss, sub, aud
 * and exp, but their signatures are not verified: the bench measures clients, and verifying would
 * only add the same server cost to every peer.
 */
function authenticate(
  req: IncomingMessage,
  params: Record<string, string>,
  audiences: string[],
): ClientAuthResult | undefined {
  const methods: ClientAuthResult[] = [];
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const id = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    if (id !== BENCH_CLIENT_ID || secret !== BENCH_CLIENT_SECRET) return undefined;
    methods.push({ method: 'client_secret_basic', clientId: id });
  }
  if (params.client_secret !== undefined) {
    if (params.client_id !== BENCH_CLIENT_ID || params.client_secret !== BENCH_CLIENT_SECRET)
      return undefined;
    const json = (req.headers['content-type'] ?? '').includes('json');
    methods.push({ method: json ? 'client_secret_json' : 'client_secret_post', clientId: params.client_id });
  }
  if (params.client_assertion !== undefined) {
    if (params.client_assertion_type !== JWT_BEARER) return undefined;
    const parts = params.client_assertion.split('.');
    if (parts.length !== 3) return undefined;
    let header: { alg?: string };
    let claims: { iss?: string; sub?: string; aud?: string | string[]; exp?: number; jti?: string };
    try {
      header = JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (
      claims.iss !== BENCH_CLIENT_ID ||
      claims.sub !== BENCH_CLIENT_ID ||
      (params.client_id !== undefined && params.client_id !== BENCH_CLIENT_ID) ||
      !aud.some((a) => a !== undefined && audiences.includes(a)) ||
      typeof claims.exp !== 'number' ||
      claims.exp * 1000 < Date.now() ||
      typeof claims.jti !== 'string'
    ) {
      return undefined;
    }
    const method = header.alg?.startsWith('HS') ? 'client_secret_jwt' : `private_key_jwt:${header.alg}`;
    methods.push({ method, clientId: BENCH_CLIENT_ID });
  }
  // RFC 6749 2.3: the client MUST NOT use more than one authentication method per request.
  if (methods.length !== 1) return undefined;
  return methods[0];
}

export interface RunningServers {
  tokenEndpoint: string;
  issuer: string;
  resourceUrl: string;
  close(): Promise<void>;
}

/** Starts both servers in this process. Used by server-process.ts. */
export async function startServers(): Promise<RunningServers> {
  const state: TokenServerState = { latencyMs: 0, stats: emptyStats(), issued: new Set(), jti: 0 };
  const signingKey = randomBytes(32);
  let issuer = '';
  let tokenEndpoint = '';

  const issue = (clientId: string, audience: string, scope: string | undefined): string => {
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' }));
    const body = b64url(
      JSON.stringify({
        iss: issuer,
        sub: clientId,
        client_id: clientId,
        aud: audience,
        scope,
        iat: now,
        exp: now + TOKEN_LIFETIME_SECONDS,
        jti: (++state.jti).toString(36),
      }),
    );
    const sig = createHmac('sha256', signingKey).update(`${head}.${body}`).digest('base64url');
    const token = `${head}.${body}.${sig}`;
    state.issued.add(token);
    return token;
  };

  const handleToken = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    let params: Record<string, string>;
    if ((req.headers['content-type'] ?? '').includes('application/json')) {
      const parsed = JSON.parse(raw) as Record<string, unknown>;
      params = {};
      for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') params[k] = v;
    } else {
      params = Object.fromEntries(new URLSearchParams(raw));
    }
    if (state.latencyMs > 0) await new Promise((r) => setTimeout(r, state.latencyMs));
    if (params.grant_type !== 'client_credentials') {
      state.stats.rejected++;
      send(res, 400, { error: 'unsupported_grant_type' });
      return;
    }
    const auth = authenticate(req, params, [issuer, tokenEndpoint, `${issuer}/`]);
    if (!auth) {
      state.stats.rejected++;
      // RFC 6749 5.2: invalid_client with 401 when the client tried HTTP Basic.
      send(res, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="bench"' });
      return;
    }
    const audience = params.audience ?? params.resource ?? DEFAULT_AUDIENCE;
    const scope = params.scope === undefined || params.scope === '' ? undefined : params.scope;
    const key = `aud=${audience} scope=${scope ?? ''}`;
    state.stats.total++;
    state.stats.byKey[key] = (state.stats.byKey[key] ?? 0) + 1;
    state.stats.byMethod[auth.method] = (state.stats.byMethod[auth.method] ?? 0) + 1;
    const body: Record<string, unknown> = {
      access_token: issue(auth.clientId, audience, scope),
      token_type: 'Bearer',
      expires_in: TOKEN_LIFETIME_SECONDS,
    };
    if (scope !== undefined) body.scope = scope;
    send(res, 200, body);
  };

  const metadata = () => ({
    issuer,
    token_endpoint: tokenEndpoint,
    authorization_endpoint: `${issuer}/authorize`,
    jwks_uri: `${issuer}/jwks`,
    end_session_endpoint: `${issuer}/logout`,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      'client_secret_jwt',
      'private_key_jwt',
    ],
    token_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256'],
  });

  const tokenServer: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    const fail = (err: unknown) => {
      if (!res.headersSent) send(res, 400, { error: 'invalid_request', error_description: String(err) });
    };
    if (req.method === 'POST' && path === TOKEN_PATH) {
      handleToken(req, res).catch(fail);
    } else if (
      req.method === 'GET' &&
      (path === '/.well-known/openid-configuration' || path === '/.well-known/oauth-authorization-server')
    ) {
      send(res, 200, metadata());
    } else if (req.method === 'GET' && path === '/jwks') {
      send(res, 200, { keys: [] });
    } else if (req.method === 'GET' && path === '/_stats') {
      send(res, 200, state.stats);
    } else if (req.method === 'POST' && path === '/_reset') {
      state.stats = emptyStats();
      send(res, 200, { ok: true });
    } else if (req.method === 'POST' && path === '/_config') {
      const ms = Number(new URL(url, 'http://x').searchParams.get('latencyMs') ?? '0');
      state.latencyMs = Number.isFinite(ms) && ms >= 0 ? Math.min(ms, 10_000) : 0;
      send(res, 200, { latencyMs: state.latencyMs });
    } else {
      send(res, 404, { error: 'not_found' });
    }
  });

  const resourceServer: Server = createServer((req, res) => {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    // Drain any request body before answering so keep-alive sockets stay usable.
    req.resume();
    req.on('end', () => {
      if (token !== undefined && state.issued.has(token)) {
        state.stats.resourceOk++;
        send(res, 200, { ok: true, path: req.url });
      } else {
        state.stats.resourceUnauthorized++;
        // RFC 6750 3.1
        send(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      }
    });
  });

  for (const s of [tokenServer, resourceServer]) {
    s.keepAliveTimeout = 60_000;
    s.headersTimeout = 65_000;
  }
  // A large backlog: 1,000 simultaneous connects must not overflow the default 511 and stall on SYN retries.
  const listen = (s: Server) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () =>
        resolve((s.address() as AddressInfo).port),
      );
    });
  const tokenPort = await listen(tokenServer);
  const resourcePort = await listen(resourceServer);
  issuer = `http://127.0.0.1:${tokenPort}`;
  tokenEndpoint = `${issuer}${TOKEN_PATH}`;

  const closeOne = (s: Server) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  return {
    tokenEndpoint,
    issuer,
    resourceUrl: `http://127.0.0.1:${resourcePort}/data`,
    close: async () => {
      await Promise.all([closeOne(tokenServer), closeOne(resourceServer)]);
    },
  };
}

/** The harness's handle on the server child process. */
export interface BenchServers {
  tokenEndpoint: string;
  issuer: string;
  resourceUrl: string;
  stats(): Promise<ServerStats>;
  reset(): Promise<void>;
  setLatency(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** Node flags of this process that a child must not inherit (profilers, gc exposure). */
export function childExecArgv(extra: string[] = []): string[] {
  return [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof') && a !== '--expose-gc'), ...extra];
}

export async function startServerProcess(): Promise<BenchServers> {
  const child = fork(new URL('./server-process.ts', import.meta.url), [], {
    execArgv: childExecArgv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ tokenEndpoint: string; issuer: string; resourceUrl: string }>(
    (resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server process did not start within 20 s')), 20_000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as { tokenEndpoint: string; issuer: string; resourceUrl: string });
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server process exited with code ${code}`));
      });
    },
  );
  const control = async (path: string, method = 'POST'): Promise<unknown> => {
    const res = await fetch(`${ready.issuer}${path}`, { method, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`bench server ${path}: HTTP ${res.status}`);
    return res.json();
  };
  return {
    ...ready,
    stats: async () => (await control('/_stats', 'GET')) as ServerStats,
    reset: async () => {
      await control('/_reset');
    },
    setLatency: async (ms) => {
      await control(`/_config?latencyMs=${ms}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
        }, 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send('close');
      }),
  };
}
