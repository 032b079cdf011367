/**
 * The loopback authorization server and API the CLI tests talk to (test/cli.test.ts in process,
 * test/cli-bin.test.ts through the built bin). It records every request it receives.
 *
 *   const server = await startCliServer();   // server.origin, server.hangingPort
 *   server.seen / server.issued / server.tokenRequests()
 *   server.reset()                           // between tests
 *   await server.close()
 *
 * Routes: discovery (/.well-known/oauth-authorization-server), /token (client_secret_basic in either
 * Basic form, client_secret_post, client_secret_json, any client assertion; DPoP tokens when a proof
 * comes), /token-broken (an HTML 500), /token-flaky (a 503 first, then as /token),
 * /api/data (needs an issued token), /api/echo, /api/forbidden (403), /api/flaky (answers from
 * `flaky`), /api/big (1 MiB), /api/whoami (the scheme and whether a DPoP proof came).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { SignJWT } from 'jose';
import { closeServer, listenOnLoopback } from './ports.js';

export const CLIENT_ID = 'cli-client';
export const SECRET = 'cli-s3cret:/+=value';
const JWT_KEY = new TextEncoder().encode('a-test-signing-key-of-at-least-32-bytes!');

export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface CliServer {
  readonly origin: string;
  /** A port that accepts connections and never answers. */
  readonly hangingPort: number;
  readonly seen: Seen[];
  /** Access tokens issued, in order. */
  readonly issued: string[];
  /** Answers of /api/flaky, consumed one by one. */
  flaky: number[];
  tokenRequests(): Seen[];
  reset(): void;
  close(): Promise<void>;
}

/** The id and secret of a Basic header, decoded as RFC 6749 2.3.1 says, and raw. */
export function basicCredentials(
  header: string | undefined,
): { id: string; secret: string; raw: string } | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const raw = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const at = raw.indexOf(':');
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return { id: decode(raw.slice(0, at)), secret: decode(raw.slice(at + 1)), raw };
}

export function formOf(request: Seen | undefined): URLSearchParams {
  return new URLSearchParams(request?.body ?? '');
}

export async function startCliServer(): Promise<CliServer> {
  const seen: Seen[] = [];
  const issued: string[] = [];
  let origin = '';
  let flakyTokens = 0;
  const state = { flaky: [] as number[] };

  async function issue(form: URLSearchParams, dpop: boolean): Promise<Record<string, unknown>> {
    const audience = form.get('audience') ?? undefined;
    const scope = form.get('scope') ?? undefined;
    let accessToken: string;
    if (audience === 'opaque') {
      accessToken = `opaque-${issued.length + 1}-${'x'.repeat(20)}`;
    } else {
      const jwt = new SignJWT({ client_id: CLIENT_ID, ...(scope ? { scope } : {}) })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'test-key' })
        .setIssuer(origin)
        .setSubject(CLIENT_ID)
        .setIssuedAt()
        .setJti(`jti-${issued.length + 1}`)
        .setExpirationTime('10m');
      if (audience) jwt.setAudience(audience);
      accessToken = await jwt.sign(JWT_KEY);
    }
    issued.push(accessToken);
    return {
      access_token: accessToken,
      token_type: dpop ? 'DPoP' : 'Bearer',
      expires_in: 600,
      ...(scope ? { scope } : {}),
    };
  }

  function clientOk(request: Seen): boolean {
    const json = request.headers['content-type']?.includes('json')
      ? (JSON.parse(request.body || '{}') as Record<string, string>)
      : undefined;
    const form = formOf(request);
    const basic = basicCredentials(request.headers.authorization);
    const id = basic?.id ?? json?.client_id ?? form.get('client_id');
    const secret = json?.client_secret ?? form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (id !== CLIENT_ID) return false;
    if (basic) return basic.secret === SECRET || basic.raw === `${CLIENT_ID}:${SECRET}`;
    return secret === SECRET || (assertion !== null && secret === null);
  }

  async function respond(
    request: Seen,
  ): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    const path = request.path.split('?')[0];
    const authorization = request.headers.authorization ?? '';
    const bearer = /^(Bearer|DPoP) (.+)$/.exec(authorization)?.[2];
    switch (path) {
      case '/.well-known/oauth-authorization-server':
        return {
          status: 200,
          body: {
            issuer: origin,
            token_endpoint: `${origin}/token`,
            token_endpoint_auth_methods_supported: [
              'client_secret_basic',
              'client_secret_post',
              'private_key_jwt',
            ],
          },
        };
      case '/token-flaky':
        // No Retry-After: the client waits its own backoff (an unref'd timer) before the next attempt.
        if (flakyTokens++ === 0) return { status: 503, body: { error: 'busy' } };
        return respond({ ...request, path: '/token' });
      case '/token': {
        if (!clientOk(request)) {
          return {
            status: 401,
            body: { error: 'invalid_client', error_description: 'Client authentication failed' },
          };
        }
        const form = request.headers['content-type']?.includes('json')
          ? new URLSearchParams(JSON.parse(request.body) as Record<string, string>)
          : formOf(request);
        return { status: 200, body: await issue(form, request.headers.dpop !== undefined) };
      }
      case '/token-broken':
        return {
          status: 500,
          body: '<html>Internal Server Error</html>',
          headers: { 'content-type': 'text/html' },
        };
      case '/api/data':
        if (!bearer || !issued.includes(bearer)) return { status: 401, body: { error: 'invalid_token' } };
        return {
          status: 200,
          body: { data: 'Here is the protected data.' },
          headers: { 'x-request-id': 'req-1' },
        };
      case '/api/whoami':
        return {
          status: 200,
          body: {
            scheme: authorization.split(' ')[0] ?? null,
            known: bearer !== undefined && issued.includes(bearer),
            proof: request.headers.dpop !== undefined,
          },
        };
      case '/api/echo':
        return {
          status: 200,
          body: {
            method: request.method,
            contentType: request.headers['content-type'] ?? null,
            body: request.body,
            bearer: bearer !== undefined && issued.includes(bearer),
          },
        };
      case '/api/forbidden':
        return { status: 403, body: 'no access to this resource', headers: { 'content-type': 'text/plain' } };
      case '/api/big':
        return { status: 200, body: 'x'.repeat(1024 * 1024), headers: { 'content-type': 'text/plain' } };
      case '/api/flaky': {
        const status = state.flaky.shift() ?? 200;
        return status === 401
          ? {
              status: 401,
              body: { error: 'invalid_token' },
              headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
            }
          : { status, body: { ok: true } };
      }
      default:
        return { status: 404, body: { error: 'not_found' } };
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: Seen = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      void respond(request).then(({ status, body, headers }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      });
    });
  });
  const hanging = createServer(() => undefined);
  const [port, hangingPort] = await Promise.all([listenOnLoopback(server), listenOnLoopback(hanging)]);
  origin = `http://127.0.0.1:${port}`;

  return {
    origin,
    hangingPort,
    seen,
    issued,
    get flaky() {
      return state.flaky;
    },
    set flaky(value: number[]) {
      state.flaky = value;
    },
    tokenRequests: () => seen.filter((r) => r.path === '/token' || r.path === '/token-flaky'),
    reset() {
      seen.length = 0;
      issued.length = 0;
      state.flaky = [];
      flakyTokens = 0;
    },
    close: () => Promise.all([closeServer(server), closeServer(hanging)]).then(() => undefined),
  };
}
