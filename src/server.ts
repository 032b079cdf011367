/**
 * Where token requests go and how the client authenticates there: fixed when `tokenEndpoint` is
 * configured, discovered (and the method chosen from the server's list) when `issuer` is.
 */
import { type ClientAuthenticator, createAuthenticator } from './auth/index.js';
import { importPrivateKey } from './auth/keys.js';
import type { ClientCredentials } from './credentials/index.js';
import { type AuthorizationServerMetadata, MetadataCache } from './discovery.js';
import { ConfigurationError, DiscoveryError } from './errors.js';
import type { EventSink } from './events.js';
import type { ClientCredentialsClientOptions, NormalizedOptions } from './options/index.js';
import {
  ASYMMETRIC_ALGORITHMS,
  type AuthMethod,
  type PrivateKeyInput,
  SYMMETRIC_ALGORITHMS,
} from './types.js';

export interface ServerInfo {
  readonly tokenEndpoint: string;
  /** The issuer identifier when known: the default audience of client assertions. */
  readonly issuer?: string;
  readonly auth: ClientAuthenticator;
  /** The server's token_endpoint_auth_methods_supported, when discovered and listed (RFC 8414 2). */
  readonly listedAuthMethods?: readonly string[];
}

/**
 * With a secret, the order of preference among the methods a server lists. client_secret_basic comes
 * first: RFC 6749 2.3.1 makes it the one every server must support, and servers such as oidc-provider
 * accept only the method a client was registered with, which for secrets is nearly always basic.
 * client_secret_json (Auth0's JSON body) is never listed in metadata, so it is never chosen here.
 */
const SECRET_METHODS: readonly AuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
];
const CERT_METHODS: readonly AuthMethod[] = ['tls_client_auth', 'self_signed_tls_client_auth'];

/**
 * The methods the configured credentials allow, best first. The method the client would use with a
 * fixed token endpoint (`fallback`, from normalizeOptions) always comes first.
 */
function allowedAuthMethods(options: ClientCredentialsClientOptions, fallback: AuthMethod): AuthMethod[] {
  const methods: AuthMethod[] = [fallback];
  if (options.clientSecret !== undefined) {
    methods.push(...SECRET_METHODS);
  } else if (options.clientAssertion !== undefined || options.clientAssertionFile !== undefined) {
    // An assertion made elsewhere is sent as private_key_jwt, and only so.
    methods.push('private_key_jwt');
  } else {
    if (options.privateKey !== undefined) methods.push('private_key_jwt');
    // tls_client_auth needs the certificate's key too, unless a dispatcher presents the certificate.
    if (
      options.certificate !== undefined &&
      (options.privateKey !== undefined || options.dispatcher !== undefined)
    ) {
      methods.push(...CERT_METHODS);
    }
  }
  return [...new Set(methods)];
}

/**
 * The methods to try, in order, when `authMethod` was not given: those the credentials allow that the
 * server lists in token_endpoint_auth_methods_supported (RFC 8414 2).
 */
function candidateAuthMethods(
  metadata: AuthorizationServerMetadata,
  options: ClientCredentialsClientOptions,
  fallback: AuthMethod,
): AuthMethod[] {
  const allowed = allowedAuthMethods(options, fallback);
  const listed = metadata.token_endpoint_auth_methods_supported;
  // RFC 8414 2: when omitted, the default is client_secret_basic (which `fallback` is for a secret).
  // A client holding other credentials still tries its own method: the token endpoint has the last word.
  if (listed === undefined || listed.length === 0) return [fallback];
  const candidates = allowed.filter((method) => listed.includes(method));
  if (candidates.length === 0) {
    throw new DiscoveryError(
      metadata.issuer,
      `the server lists token_endpoint_auth_methods_supported [${listed.join(', ')}], none of which the given credentials allow (${allowed.join(', ')}); set authMethod to override`,
    );
  }
  return candidates;
}

type AlgorithmChoice =
  | { readonly ok: true; readonly alg?: string }
  | { readonly ok: false; readonly reason: string };

/**
 * The assertion algorithm for client_secret_jwt / private_key_jwt, checked against
 * token_endpoint_auth_signing_alg_values_supported (RFC 8414 2). An explicit `signingAlgorithm` is used
 * as given; otherwise the key's default algorithm when the server lists it, else the first listed
 * algorithm the key can sign with. Other methods sign nothing.
 */
async function chooseSigningAlgorithm(
  metadata: AuthorizationServerMetadata,
  options: ClientCredentialsClientOptions,
  method: AuthMethod,
  credentials: ClientCredentials,
): Promise<AlgorithmChoice> {
  if (method !== 'private_key_jwt' && method !== 'client_secret_jwt') return { ok: true };
  // An assertion made elsewhere is signed by its issuer, with its own algorithm.
  if (credentials.assertion !== undefined) return { ok: true };
  const requested = options.signingAlgorithm;
  const listed = metadata.token_endpoint_auth_signing_alg_values_supported;
  if (requested !== undefined || listed === undefined || listed.length === 0)
    return { ok: true, alg: requested };
  if (method === 'client_secret_jwt') {
    const alg = SYMMETRIC_ALGORITHMS.find((a) => listed.includes(a));
    return alg
      ? { ok: true, alg }
      : {
          ok: false,
          reason: `client_secret_jwt signs with HS256/384/512; the server accepts [${listed.join(', ')}]`,
        };
  }
  // The key's algorithm is only known once it is imported (a ConfigurationError for a bad key propagates).
  // A key given as a function: its current value (the function is called once, then kept).
  const key =
    credentials.privateKey !== undefined
      ? await credentials.privateKey.current()
      : (options.privateKey as PrivateKeyInput);
  const { alg: keyDefault } = await importPrivateKey('privateKey', key);
  if (listed.includes(keyDefault)) return { ok: true, alg: keyDefault };
  for (const alg of listed) {
    if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) continue;
    try {
      await importPrivateKey('privateKey', key, alg);
      return { ok: true, alg };
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
    }
  }
  return {
    ok: false,
    reason: `the private key signs ${keyDefault}; the server accepts [${listed.join(', ')}] for private_key_jwt`,
  };
}

interface Configured {
  readonly method: AuthMethod;
  readonly alg: string | undefined;
  readonly info: ServerInfo;
}

/**
 * The token endpoint, client authentication and issuer for one metadata document. `authMethod` when
 * given, else the first candidate method whose signing algorithm (if any) the server accepts.
 * The authenticator of `previous` is reused when method and algorithm did not change.
 */
async function configureFor(
  metadata: AuthorizationServerMetadata,
  options: ClientCredentialsClientOptions,
  normalized: NormalizedOptions,
  previous: Configured | undefined,
  credentials: ClientCredentials,
): Promise<Configured> {
  const methods = options.authMethod
    ? [options.authMethod]
    : candidateAuthMethods(metadata, options, normalized.authMethod);
  const refusals: string[] = [];
  for (const method of methods) {
    const choice = await chooseSigningAlgorithm(metadata, options, method, credentials);
    if (!choice.ok) {
      refusals.push(choice.reason);
      continue;
    }
    const alg = choice.alg;
    const auth =
      previous?.method === method && previous.alg === alg
        ? previous.info.auth
        : createAuthenticator(
            alg === options.signingAlgorithm
              ? options
              : { ...options, signingAlgorithm: alg as ClientCredentialsClientOptions['signingAlgorithm'] },
            method,
            credentials,
          );
    const isMtls = method === 'tls_client_auth' || method === 'self_signed_tls_client_auth';
    // RFC 8705 5: with mutual TLS, use the mtls_endpoint_aliases token endpoint when there is one.
    const tokenEndpoint =
      (isMtls && metadata.mtls_endpoint_aliases?.token_endpoint) || metadata.token_endpoint;
    // The issuer becomes the default audience of client assertions (see auth/jwt-assertion.ts).
    const listed = metadata.token_endpoint_auth_methods_supported;
    const info: ServerInfo = Object.freeze({
      tokenEndpoint,
      issuer: metadata.issuer,
      auth,
      ...(listed?.length ? { listedAuthMethods: listed } : {}),
    });
    return { method, alg, info };
  }
  throw new DiscoveryError(
    metadata.issuer,
    `token_endpoint_auth_signing_alg_values_supported rules out every usable method: ${refusals.join('; ')}; set signingAlgorithm to override`,
  );
}

/**
 * Returns a function giving the current ServerInfo: synchronously when it is known and fresh, else a
 * promise (discovery runs then, once for all concurrent callers).
 */
export function resolveServer(
  options: ClientCredentialsClientOptions,
  normalized: NormalizedOptions,
  auth: ClientAuthenticator | undefined,
  http: { fetch: typeof globalThis.fetch; dispatcher?: unknown; events?: EventSink },
  credentials: ClientCredentials = {},
): () => ServerInfo | Promise<ServerInfo> {
  if (normalized.tokenEndpoint !== undefined && auth !== undefined) {
    const info: ServerInfo = Object.freeze({ tokenEndpoint: normalized.tokenEndpoint, auth });
    return () => info;
  }
  const issuer = normalized.issuer as string;
  const metadataCache = new MetadataCache(
    issuer,
    {
      fetch: http.fetch,
      dispatcher: http.dispatcher,
      timeoutMs: normalized.timeoutMs,
      allowInsecureHttp: normalized.allowInsecureHttp,
    },
    { events: http.events, key: { endpoint: issuer, clientId: normalized.clientId } },
  );
  let current: { metadata: AuthorizationServerMetadata; configured: Configured } | undefined;
  let building: { metadata: AuthorizationServerMetadata; promise: Promise<ServerInfo> } | undefined;
  const build = (metadata: AuthorizationServerMetadata): ServerInfo | Promise<ServerInfo> => {
    if (current?.metadata === metadata) return current.configured.info;
    if (building?.metadata === metadata) return building.promise;
    const promise = configureFor(metadata, options, normalized, current?.configured, credentials).then(
      (configured) => {
        current = { metadata, configured };
        if (building?.promise === promise) building = undefined;
        return configured.info;
      },
      (error: unknown) => {
        // Not kept: the next call configures again (and fails again, unless the metadata changed).
        if (building?.promise === promise) building = undefined;
        throw error;
      },
    );
    building = { metadata, promise };
    return promise;
  };
  return () => {
    const metadata = metadataCache.get();
    return metadata instanceof Promise ? metadata.then(build) : build(metadata);
  };
}
