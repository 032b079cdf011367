/**
 * Where token requests go and how the client authenticates there: fixed when `tokenEndpoint` is
 * configured, discovered (and the method chosen from the server's list) when `issuer` is.
 */
import { type ClientAuthenticator, createAuthenticator } from './auth/index.js';
import { type AuthorizationServerMetadata, MetadataCache } from './discovery.js';
import { DiscoveryError } from './errors.js';
import type { ClientCredentialsClientOptions, NormalizedOptions } from './options.js';
import type { AuthMethod } from './types.js';

export interface ServerInfo {
  readonly tokenEndpoint: string;
  /** The issuer identifier when known: the default audience of client assertions. */
  readonly issuer?: string;
  readonly auth: ClientAuthenticator;
}

/**
 * With a secret, the order of preference among the methods a server lists. client_secret_basic comes
 * first: RFC 6749 2.3.1 makes it the one every server must support, and servers such as oidc-provider
 * accept only the method a client was registered with, which for secrets is nearly always basic.
 */
const SECRET_METHODS: readonly AuthMethod[] = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt'];
const CERT_METHODS: readonly AuthMethod[] = ['tls_client_auth', 'self_signed_tls_client_auth'];

/** Picks the method when `authMethod` was not given, from what the server lists (RFC 8414 2). */
export function selectAuthMethod(
  metadata: AuthorizationServerMetadata,
  options: ClientCredentialsClientOptions,
  fallback: AuthMethod,
): AuthMethod {
  if (options.authMethod) return options.authMethod;
  // RFC 8414 2: when omitted, the default is client_secret_basic.
  const listed = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
  const candidates: readonly AuthMethod[] =
    options.privateKey !== undefined && options.certificate === undefined
      ? ['private_key_jwt']
      : options.clientSecret !== undefined
        ? SECRET_METHODS
        : options.certificate !== undefined
          ? CERT_METHODS
          : [fallback];
  const chosen = candidates.find((m) => listed.includes(m));
  if (!chosen) {
    throw new DiscoveryError(
      metadata.issuer,
      `the server lists token_endpoint_auth_methods_supported [${listed.join(', ')}], none of which the given credentials allow (${candidates.join(', ')}); set authMethod to override`,
    );
  }
  return chosen;
}

export function resolveServer(
  options: ClientCredentialsClientOptions,
  normalized: NormalizedOptions,
  auth: ClientAuthenticator | undefined,
  http: { fetch: typeof globalThis.fetch; dispatcher?: unknown },
): () => ServerInfo | Promise<ServerInfo> {
  if (normalized.tokenEndpoint !== undefined && auth !== undefined) {
    const info: ServerInfo = Object.freeze({ tokenEndpoint: normalized.tokenEndpoint, auth });
    return () => info;
  }
  const issuer = normalized.issuer as string;
  const metadataCache = new MetadataCache(issuer, {
    fetch: http.fetch,
    dispatcher: http.dispatcher,
    timeoutMs: normalized.timeoutMs,
    allowInsecureHttp: normalized.allowInsecureHttp,
  });
  let current: { metadata: AuthorizationServerMetadata; info: ServerInfo } | undefined;
  const build = (metadata: AuthorizationServerMetadata): ServerInfo => {
    if (current?.metadata === metadata) return current.info;
    const method = selectAuthMethod(metadata, options, normalized.authMethod);
    // Reuse the authenticator (and its imported key) when the method did not change.
    const authenticator = current?.info.auth.method === method ? current.info.auth : createAuthenticator(options, method);
    const isMtls = method === 'tls_client_auth' || method === 'self_signed_tls_client_auth';
    // RFC 8705 5: with mutual TLS, use the mtls_endpoint_aliases token endpoint when there is one.
    const tokenEndpoint = (isMtls && metadata.mtls_endpoint_aliases?.token_endpoint) || metadata.token_endpoint;
    const info: ServerInfo = Object.freeze({ tokenEndpoint, issuer: metadata.issuer, auth: authenticator });
    current = { metadata, info };
    return info;
  };
  return () => {
    const metadata = metadataCache.get();
    return metadata instanceof Promise ? metadata.then(build) : build(metadata);
  };
}
