/**
 * The World Mappers API: a sample resource server that accepts Bearer access tokens from the
 * development auth server (examples/auth-server) or from Auth0, as in the Auth0 machine-to-machine
 * samples. Tokens are RS256 JWTs for the audience `urn:worldmappers`, checked against the issuer's
 * JWKS; each route needs one scope.
 *
 *   GET  /api/public                        no token needed
 *   GET  /api/location/geocode?address=...  scope geocode:location (FAKE coordinates, see below)
 *   GET  /api/routes                        scope read:routes
 *   POST /api/routes  {"from","to"}         scope write:routes
 *
 * Run it: `npx tsx examples/worldmappers-api/server.ts` (ISSUER, PORT, HOST may be set).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import {
  BodyTooLargeError,
  closeServer,
  isMainModule,
  listen,
  mediaType,
  readBody,
  sendJson,
} from '../shared/http.js';

export interface WorldMappersApiOptions {
  /** The authorization server, e.g. `http://127.0.0.1:4000/` or `https://YOUR_DOMAIN/`. */
  issuer: string;
  /** Default: `<issuer>.well-known/jwks.json`, where Auth0 publishes it. */
  jwksUri?: string;
  /** The `aud` this API accepts. Default `urn:worldmappers`. */
  audience?: string;
  port?: number;
  host?: string;
  /**
   * How long fetched signing keys are trusted before the JWKS is fetched again. Default 0: on every
   * request, so that a key rotation at the development auth server shows at once. A production API
   * keeps jose's default (10 minutes) or more.
   */
  jwksCacheMaxAgeMs?: number;
  /**
   * After a fetch, how long a token with an unknown `kid` does not cause another fetch. Default
   * 1000 ms; jose's default is 30 s, which would make a freshly rotated key fail for that long.
   */
  jwksCooldownMs?: number;
}

export interface WorldMappersApi {
  /** `http://127.0.0.1:PORT` */
  url: string;
  close(): Promise<void>;
}

interface Route {
  id: number;
  from: string;
  to: string;
  createdBy: string;
}

const REALM = 'worldmappers';
const MAX_BODY_BYTES = 16 * 1024;

/** An answer with status, JSON body and headers, thrown to stop handling a request. */
class ApiResponse extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/**
 * RFC 6750 section 3: the Bearer challenge. Without any token there is no `error` (3.1: "the
 * resource server SHOULD NOT include an error code"); attribute values are quoted strings.
 */
function bearerChallenge(
  status: 400 | 401 | 403,
  error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope',
  description?: string,
  scope?: string,
): ApiResponse {
  const attributes = [`realm="${REALM}"`];
  if (error) attributes.push(`error="${error}"`);
  // error_description may not contain '"' or '\' (RFC 6750 3): keep to safe printable ASCII.
  const safeDescription = description?.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "'");
  if (safeDescription) attributes.push(`error_description="${safeDescription}"`);
  if (scope) attributes.push(`scope="${scope}"`);
  const body = error
    ? { error, error_description: safeDescription, ...(scope ? { scope } : {}) }
    : { error: 'unauthorized', error_description: 'A Bearer access token is required' };
  return new ApiResponse(status, body, { 'www-authenticate': `Bearer ${attributes.join(', ')}` });
}

export async function startWorldMappersApi(options: WorldMappersApiOptions): Promise<WorldMappersApi> {
  const issuer = options.issuer;
  const audience = options.audience ?? 'urn:worldmappers';
  const jwksUri = new URL(options.jwksUri ?? new URL('.well-known/jwks.json', issuer));
  // jose caches the key set, refetches it when it is older than cacheMaxAge, and on a token with an
  // unknown `kid` refetches it unless the last fetch is younger than cooldownDuration.
  const jwks = createRemoteJWKSet(jwksUri, {
    cacheMaxAge: options.jwksCacheMaxAgeMs ?? 0,
    cooldownDuration: options.jwksCooldownMs ?? 1000,
  });
  const routes: Route[] = [
    { id: 1, from: 'Seattle, WA', to: 'Bellevue, WA', createdBy: 'seed' },
    { id: 2, from: 'Portland, OR', to: 'Salem, OR', createdBy: 'seed' },
  ];

  /** Verifies the Bearer token of a request and checks that it carries `scope`. */
  async function authorize(req: IncomingMessage, scope: string): Promise<JWTPayload> {
    const header = req.headers.authorization;
    // Another scheme (or none) is "no Bearer authentication information": challenge without error.
    if (!header || !/^bearer(?: |$)/i.test(header)) throw bearerChallenge(401);
    const token = header.slice('bearer'.length).trim();
    // RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
      throw bearerChallenge(400, 'invalid_request', 'Malformed Authorization header');
    }

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer, audience, algorithms: ['RS256'] }));
    } catch (error) {
      if (isKeySetUnavailable(error)) {
        // Not the client's fault: a 401 would only make it fetch new tokens in vain.
        throw new ApiResponse(503, { error: 'temporarily_unavailable' }, { 'retry-after': '1' });
      }
      throw bearerChallenge(401, 'invalid_token', describeInvalidToken(error));
    }

    const granted = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!granted.includes(scope)) {
      throw bearerChallenge(403, 'insufficient_scope', `This route needs the scope ${scope}`, scope);
    }
    return payload;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method} ${url.pathname}`;

    switch (route) {
      case 'GET /api/public':
        return sendJson(res, 200, { message: 'Hello from the World Mappers API. No token needed here.' });

      case 'GET /api/location/geocode': {
        await authorize(req, 'geocode:location');
        const address = url.searchParams.get('address')?.trim();
        if (!address) throw new ApiResponse(400, { error: 'missing_address', message: 'Pass ?address=...' });
        return sendJson(res, 200, { address, ...fakeGeocode(address) });
      }

      case 'GET /api/routes':
        await authorize(req, 'read:routes');
        return sendJson(res, 200, { routes });

      case 'POST /api/routes': {
        const claims = await authorize(req, 'write:routes');
        const input = await readJson(req);
        if (typeof input.from !== 'string' || typeof input.to !== 'string' || !input.from || !input.to) {
          throw new ApiResponse(400, {
            error: 'invalid_route',
            message: 'Send {"from": "...", "to": "..."}',
          });
        }
        const created: Route = {
          id: routes.length + 1,
          from: input.from,
          to: input.to,
          createdBy: String(claims.azp ?? claims.sub),
        };
        routes.push(created);
        return sendJson(res, 201, created, { location: `/api/routes/${created.id}` });
      }
    }

    const knownPath = ['/api/public', '/api/location/geocode', '/api/routes'].includes(url.pathname);
    if (knownPath) {
      const allow = url.pathname === '/api/routes' ? 'GET, POST' : 'GET';
      throw new ApiResponse(405, { error: 'method_not_allowed' }, { allow });
    }
    throw new ApiResponse(404, { error: 'not_found' });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof ApiResponse) return sendJson(res, error.status, error.body, error.headers);
      console.error(`[worldmappers-api] ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal_error' });
      else res.destroy();
    });
  });
  const url = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return { url, close: () => closeServer(server) };
}

/**
 * FAKE geocoding for the sample: the same address always gives the same coordinates, derived from
 * a SHA-256 hash of the address. They are not the real location of anything.
 */
export function fakeGeocode(address: string): { lat: number; lng: number; fake: true } {
  const hash = createHash('sha256').update(address.toLowerCase()).digest();
  const scale = (offset: number, range: number) =>
    (hash.readUInt32BE(offset) / 0xffffffff) * range - range / 2;
  const round = (n: number) => Math.round(n * 1e6) / 1e6;
  return { lat: round(scale(0, 180)), lng: round(scale(4, 360)), fake: true };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (mediaType(req) !== 'application/json') {
    throw new ApiResponse(415, { error: 'unsupported_media_type', message: 'Send application/json' });
  }
  let value: unknown;
  try {
    value = JSON.parse((await readBody(req, MAX_BODY_BYTES)).toString('utf8'));
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new ApiResponse(413, { error: 'body_too_large' });
    throw new ApiResponse(400, { error: 'invalid_json' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiResponse(400, { error: 'invalid_json', message: 'Expected a JSON object' });
  }
  return value as Record<string, unknown>;
}

function isKeySetUnavailable(error: unknown): boolean {
  // A JWKS fetch that failed, timed out, or did not answer 200 with JSON.
  if (error instanceof errors.JWKSTimeout) return true;
  if (error instanceof TypeError) return true; // fetch() network failure
  return error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC';
}

function describeInvalidToken(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The access token expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `The access token is not accepted: ${error.message}`;
  if (error instanceof errors.JWKSNoMatchingKey) return 'The access token was signed by an unknown key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The access token signature is invalid';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The access token signing algorithm is not allowed';
  return 'The access token is malformed';
}

async function main(): Promise<void> {
  const issuer = process.env.ISSUER ?? 'http://127.0.0.1:4000/';
  const api = await startWorldMappersApi({
    issuer,
    port: Number(process.env.PORT ?? 4001),
    host: process.env.HOST ?? '127.0.0.1',
  });
  console.log(`[worldmappers-api] listening on ${api.url}, accepting tokens from ${issuer}`);
  console.log(`[worldmappers-api] try: curl ${api.url}/api/public`);
  const stop = () => {
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (isMainModule(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
