/**
 * POST /oauth/token for the client credentials grant (RFC 6749 section 4.4), Auth0 style: the API is
 * chosen with `audience`, and a client gets only the scopes its client grant allows.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BodyTooLargeError, mediaType, readBody } from '../shared/http.js';
import { type ClientAuthMethod, createClientAuthenticator } from './client-auth.js';
import type {
  AuthServerConfig,
  ClientGrantConfig,
  ResourceServerConfig,
  TrustedIssuerConfig,
} from './config.js';
import { invalidRequest, OAuthErrorResponse } from './oauth-error.js';
import type { SigningKeys } from './signing-keys.js';

export const MAX_TOKEN_REQUEST_BYTES = 64 * 1024;
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 86_400; // Auth0's default for APIs

/** RFC 6749 section 5.1 */
export interface TokenResponseBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
}

/** Reported for each issued token. Carries no secret and not the token itself. */
export interface TokenIssuedEvent {
  clientId: string;
  authMethod: ClientAuthMethod;
  audience: string;
  scope: string;
  jti: string;
  expiresIn: number;
  /** A federated client: the issuer and subject of the token it presented, and that token's id. */
  federated?: { issuer: string; subject: string; tokenId?: string };
}

export interface TokenEndpointOptions {
  config: AuthServerConfig;
  issuer: string;
  tokenEndpoint: string;
  keys: SigningKeys;
  /** Overrides every lifetime in the config. */
  tokenLifetimeSeconds?: number;
  /** Issuers whose tokens federated clients present (config.trustedIssuers and the server's option). */
  trustedIssuers?: TrustedIssuerConfig[];
}

/** Parameters this endpoint reads; RFC 6749 3.2 forbids repeating them. Others are ignored. */
const KNOWN_PARAMETERS = new Set([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'audience',
  'scope',
]);

/**
 * Returns a function that answers one token request, or throws an {@link OAuthErrorResponse}.
 */
export function createTokenEndpoint(options: TokenEndpointOptions) {
  const { config, issuer, keys } = options;
  const authenticator = createClientAuthenticator({
    clients: config.clients,
    assertionAudiences: [issuer, options.tokenEndpoint],
    trustedIssuers: options.trustedIssuers ?? config.trustedIssuers ?? [],
  });
  const resourceServers = new Map<string, ResourceServerConfig>(
    config.resourceServers.map((server) => [server.identifier, server]),
  );
  const grants = new Map<string, ClientGrantConfig>(
    config.clientGrants.map((grant) => [`${grant.clientId} ${grant.audience}`, grant]),
  );

  return async function issueToken(
    req: IncomingMessage,
  ): Promise<{ body: TokenResponseBody; event: TokenIssuedEvent }> {
    const { params, json } = await readParameters(req);
    const { client, method, federated } = await authenticator.authenticate(
      req.headers.authorization,
      params,
      json,
    );

    if (!params.grant_type) throw invalidRequest('grant_type is missing');
    if (params.grant_type !== 'client_credentials') {
      throw new OAuthErrorResponse(400, 'unsupported_grant_type', 'Only client_credentials is supported');
    }

    const audience = params.audience || client.defaultAudience;
    if (!audience) throw invalidRequest('audience is required: this client has no default audience');
    const server = resourceServers.get(audience);
    // Auth0 answers 403 access_denied both for an unknown API and for one the client may not use.
    if (!server) throw new OAuthErrorResponse(403, 'access_denied', `Service not found: ${audience}`);
    const grant = grants.get(`${client.clientId} ${audience}`);
    if (!grant) {
      throw new OAuthErrorResponse(
        403,
        'access_denied',
        `Client is not authorized to access ${audience}: it has no client grant for this API`,
      );
    }

    // RFC 6749 3.3: scope is a list of space-delimited tokens; no scope means everything granted.
    const requested = [...new Set((params.scope ?? '').split(' ').filter(Boolean))];
    const scopes = requested.length > 0 ? requested : grant.scope;
    const notGranted = scopes.filter((scope) => !grant.scope.includes(scope));
    if (notGranted.length > 0) {
      throw new OAuthErrorResponse(
        400,
        'invalid_scope',
        `Scope not granted to this client for ${audience}: ${notGranted.join(' ')}`,
      );
    }

    const lifetime =
      options.tokenLifetimeSeconds ??
      server.tokenLifetimeSeconds ??
      config.tokenLifetimeSeconds ??
      DEFAULT_TOKEN_LIFETIME_SECONDS;
    const now = Math.floor(Date.now() / 1000);
    const jti = randomUUID();
    const scope = scopes.join(' ');
    const accessToken = await keys.sign({
      iss: issuer,
      sub: `${client.clientId}@clients`, // Auth0's subject for client credentials tokens
      aud: audience,
      azp: client.clientId,
      ...(scope ? { scope } : {}),
      gty: 'client-credentials',
      iat: now,
      exp: now + lifetime,
      jti,
    });

    return {
      body: {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: lifetime,
        ...(scope ? { scope } : {}),
      },
      event: {
        clientId: client.clientId,
        authMethod: method,
        audience,
        scope,
        jti,
        expiresIn: lifetime,
        ...(federated ? { federated } : {}),
      },
    };
  };
}

/** Reads the body as a form (RFC 6749 4.4.2) or as a JSON object (what Auth0 also accepts). */
async function readParameters(
  req: IncomingMessage,
): Promise<{ params: Record<string, string>; json: boolean }> {
  const type = mediaType(req);
  const json = type === 'application/json';
  if (!json && type !== 'application/x-www-form-urlencoded') {
    throw invalidRequest('Content-Type must be application/x-www-form-urlencoded or application/json');
  }

  let text: string;
  try {
    text = (await readBody(req, MAX_TOKEN_REQUEST_BYTES)).toString('utf8');
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      throw new OAuthErrorResponse(
        413,
        'invalid_request',
        `Request body is larger than ${error.limitBytes} bytes`,
      );
    }
    throw error;
  }

  const params: Record<string, string> = Object.create(null);
  if (!json) {
    for (const [name, value] of new URLSearchParams(text)) {
      if (!KNOWN_PARAMETERS.has(name)) continue;
      // RFC 6749 3.2: "Request and response parameters MUST NOT be included more than once."
      if (name in params) throw invalidRequest(`Parameter ${name} is repeated`);
      params[name] = value;
    }
    return { params, json };
  }

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalidRequest('Body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('JSON body must be an object');
  }
  for (const [name, value] of Object.entries(body)) {
    if (!KNOWN_PARAMETERS.has(name)) continue;
    if (typeof value !== 'string') throw invalidRequest(`Parameter ${name} must be a string`);
    params[name] = value;
  }
  return { params, json };
}
