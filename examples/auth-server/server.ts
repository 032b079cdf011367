/**
 * ============================================================================================
 *  DEVELOPMENT ONLY. A tiny local OAuth 2.0 authorization server for trying m2m-token without
 *  an account anywhere. It keeps its signing key in memory, reads secrets from a plain JSON file,
 *  has no rate limiting, no persistence and no admin API. Never expose it beyond localhost and
 *  never use it to protect anything real.
 * ============================================================================================
 *
 * It speaks the parts of Auth0's protocol that machine-to-machine clients use (and, for workload
 * identity federation, accepts a trusted issuer's tokens as client assertions of federated clients):
 *
 *   POST /oauth/token                             client credentials grant, `audience` + `scope`
 *   GET  /.well-known/jwks.json                   the RS256 public key that signs access tokens
 *   GET  /.well-known/openid-configuration        metadata (also at /.well-known/oauth-authorization-server)
 *
 * Run it: `npx tsx examples/auth-server/server.ts` (PORT, HOST and AUTH_SERVER_CONFIG may be set).
 * Or start it from code with {@link startAuthServer}.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, isMainModule, listen, sendJson } from '../shared/http.js';
import { ASSERTION_ALGORITHMS } from './client-auth.js';
import {
  type AuthServerConfig,
  DEFAULT_CONFIG_PATH,
  loadConfig,
  scopeNames,
  type TrustedIssuerConfig,
  validateConfig,
} from './config.js';
import { OAuthErrorResponse } from './oauth-error.js';
import { SigningKeys } from './signing-keys.js';
import { createTokenEndpoint, type TokenIssuedEvent } from './token-endpoint.js';

export type { AuthServerConfig } from './config.js';
export type { TokenIssuedEvent } from './token-endpoint.js';

export interface AuthServerOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The configuration itself; otherwise it is read from `configPath`. */
  config?: AuthServerConfig;
  /** Default examples/auth-server/config.json. */
  configPath?: string;
  /** Lifetime of every access token, overriding the config (handy to demonstrate expiry). */
  tokenLifetimeSeconds?: number;
  /** Called after each issued token. */
  onTokenIssued?: (event: TokenIssuedEvent) => void;
  /**
   * Issuers whose tokens federated clients present as client assertions (workload identity), with
   * their JWKS; added to the config's `trustedIssuers` (an issuer named in both: this one wins). A
   * cluster started next to the server is known only once it listens, hence an option.
   */
  trustedIssuers?: TrustedIssuerConfig[];
  /** Where to write log lines; default console.log. `false` for silence. Secrets are never logged. */
  log?: ((line: string) => void) | false;
}

export interface AuthServerStats {
  /** Every request to the token endpoint, whatever its outcome. */
  tokenRequests: number;
  tokensIssued: number;
  tokenErrors: number;
  jwksRequests: number;
}

export interface AuthServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `http://127.0.0.1:PORT/`, with the trailing slash, as Auth0 writes it (also the `iss` of tokens). */
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
  /** Live counters. */
  readonly stats: Readonly<AuthServerStats>;
  /** Replaces the signing key. Tokens signed before no longer verify against the JWKS. */
  rotateKeys(): Promise<void>;
  close(): Promise<void>;
}

export async function startAuthServer(options: AuthServerOptions = {}): Promise<AuthServer> {
  const config = options.config
    ? validateConfig(options.config)
    : await loadConfig(options.configPath ?? DEFAULT_CONFIG_PATH);
  const log = options.log === false ? () => {} : (options.log ?? console.log);
  const keys = await SigningKeys.create();
  const stats: AuthServerStats = { tokenRequests: 0, tokensIssued: 0, tokenErrors: 0, jwksRequests: 0 };

  // The issuer contains the port, which is known only once listening: routes read these when called.
  let issuer = '';
  let issueToken: ReturnType<typeof createTokenEndpoint>;
  let metadata: Record<string, unknown>;

  const handleToken = async (req: IncomingMessage, res: ServerResponse) => {
    stats.tokenRequests++;
    // RFC 6749 5.1 and 5.2: token responses must not be cached.
    const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };
    try {
      if (req.method !== 'POST') {
        throw new OAuthErrorResponse(405, 'invalid_request', 'Use POST', { allow: 'POST' });
      }
      const { body, event } = await issueToken(req);
      stats.tokensIssued++;
      log(
        `[auth-server] token issued: client ${event.clientId} (${event.authMethod}) -> ${event.audience} [${event.scope}]`,
      );
      try {
        options.onTokenIssued?.(event);
      } catch (error) {
        log(`[auth-server] onTokenIssued threw: ${String(error)}`);
      }
      sendJson(res, 200, body, noStore);
    } catch (error) {
      if (!(error instanceof OAuthErrorResponse)) throw error;
      stats.tokenErrors++;
      log(`[auth-server] token refused: ${error.status} ${error.error}: ${error.description}`);
      sendJson(res, error.status, error, { ...noStore, ...error.headers });
    }
  };

  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const route = async () => {
      if (pathname === '/oauth/token') return handleToken(req, res);
      if (req.method === 'GET' && pathname === '/.well-known/jwks.json') {
        stats.jwksRequests++;
        return sendJson(res, 200, keys.jwks(), { 'content-type': 'application/jwk-set+json' });
      }
      if (
        req.method === 'GET' &&
        (pathname === '/.well-known/openid-configuration' ||
          pathname === '/.well-known/oauth-authorization-server')
      ) {
        return sendJson(res, 200, metadata);
      }
      sendJson(res, 404, { error: 'not_found', error_description: `No route for ${req.method} ${pathname}` });
    };
    route().catch((error: unknown) => {
      log(`[auth-server] internal error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      else res.destroy();
    });
  });

  const url = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  issuer = `${url}/`;
  const tokenEndpoint = `${url}/oauth/token`;
  const jwksUri = `${url}/.well-known/jwks.json`;
  const trusted = new Map<string, TrustedIssuerConfig>();
  for (const entry of [...(config.trustedIssuers ?? []), ...(options.trustedIssuers ?? [])]) {
    trusted.set(entry.issuer, entry);
  }
  for (const client of config.clients) {
    const fc = client.federatedCredential;
    if (fc && !trusted.has(fc.issuer)) {
      log(
        `[auth-server] client ${client.clientId} trusts ${fc.issuer}, which has no JWKS configured: it cannot authenticate`,
      );
    }
  }
  issueToken = createTokenEndpoint({
    config,
    issuer,
    tokenEndpoint,
    keys,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds,
    trustedIssuers: [...trusted.values()],
  });
  // RFC 8414 section 2 (and OpenID Connect Discovery 1.0 section 3, minus what needs end users).
  metadata = {
    issuer,
    token_endpoint: tokenEndpoint,
    jwks_uri: jwksUri,
    grant_types_supported: ['client_credentials'],
    response_types_supported: [], // no authorization endpoint: client credentials only
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    scopes_supported: [...new Set(config.resourceServers.flatMap(scopeNames))],
  };

  log(`[auth-server] DEVELOPMENT ONLY - do not expose or use for anything real. Issuer: ${issuer}`);
  return {
    url,
    issuer,
    tokenEndpoint,
    jwksUri,
    stats,
    rotateKeys: async () => {
      await keys.rotate();
      log('[auth-server] signing key rotated; tokens issued before no longer verify');
    },
    close: () => closeServer(server),
  };
}

async function main(): Promise<void> {
  const server = await startAuthServer({
    port: Number(process.env.PORT ?? 4000),
    host: process.env.HOST ?? '127.0.0.1',
    configPath: process.env.AUTH_SERVER_CONFIG,
  });
  console.log(`[auth-server] listening on ${server.url}`);
  console.log(`[auth-server] token endpoint: ${server.tokenEndpoint}`);
  const stop = () => {
    server.close().then(
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
