/**
 * Route Planner: a client that authenticates with a private key instead of a shared secret
 * (private_key_jwt, RFC 7523 section 2.2 and OpenID Connect Core section 9). It signs a short-lived
 * JWT assertion for each token request; the authorization server checks it against the public key
 * registered for the client, so no secret is ever sent.
 */
import { ClientCredentialsClient, type TokenEvent } from 'm2m-token';

export interface RoutePlannerConfig {
  /** The authorization server's issuer: the token endpoint is discovered (RFC 8414, then OIDC). */
  issuer: string;
  clientId: string;
  /** PKCS#8, PKCS#1 or SEC1 PEM. */
  privateKeyPem: string;
  /** The `kid` of the registered public key, so the server knows which one to check against. */
  keyId?: string;
  audience: string;
  scope?: string;
  onEvent?: (event: TokenEvent) => void;
  /** The fetch for discovery and token requests (and, by default, API calls). Default: the global fetch. */
  fetch?: typeof globalThis.fetch;
}

export function createRoutePlannerClient(config: RoutePlannerConfig): ClientCredentialsClient {
  return new ClientCredentialsClient({
    issuer: config.issuer,
    clientId: config.clientId,
    // A private key makes private_key_jwt the default method; RS256 follows from the RSA key.
    privateKey: config.privateKeyPem,
    ...(config.keyId ? { keyId: config.keyId } : {}),
    audience: config.audience,
    ...(config.scope ? { scope: config.scope } : {}),
    ...(config.onEvent ? { onEvent: config.onEvent } : {}),
    ...(config.fetch ? { fetch: config.fetch } : {}),
  });
}
