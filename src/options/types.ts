/**
 * The public option types of {@link ClientCredentialsClient} (each option documented once, here), their
 * defaults in one object, and the normalized form the rest of the package reads.
 */
import type {
  AsymmetricAlgorithm,
  AuthMethod,
  PrivateKeyInput,
  SymmetricAlgorithm,
  TokenCache,
  TokenEvent,
} from '../types.js';

/**
 * Retry policy for token requests (a subset of p-retry's options). Network errors, timeouts, 408, 429
 * and 5xx are retried; OAuth errors and other answers are not.
 */
export interface RetryOptions {
  /**
   * Retries after the first attempt (0 to 10).
   * @default 2
   */
  retries?: number;
  /**
   * Exponential factor of the delay between attempts (at least 1).
   * @default 2
   */
  factor?: number;
  /**
   * Delay before the first retry, ms.
   * @default 200
   */
  minTimeout?: number;
  /**
   * Largest delay between two attempts, ms (not smaller than `minTimeout`).
   * @default 5000
   */
  maxTimeout?: number;
  /**
   * Jitter: multiply each delay by a random factor between 1 and 2.
   * @default true
   */
  randomize?: boolean;
  /**
   * The longest `Retry-After` a call will wait for, ms. A server asking for longer makes calls fail fast
   * with `HttpError` code `M2M_RETRY_LATER` and `retryAt`.
   * @default 10000
   * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
   */
  maxRetryAfterMs?: number;
  /**
   * The longest fail-fast pause any `Retry-After` can impose, ms (default 60 000). However long a server
   * asks for (`Retry-After: 86400`, a date in 2100), token requests are tried again after at most this
   * long, and `retryAt` in `M2M_RETRY_LATER` errors is never later than now + maxPauseMs. Whether calls
   * wait or fail fast is decided by what the server asked (against `maxRetryAfterMs`), not by the capped
   * pause: with a cap under `maxRetryAfterMs`, a day's Retry-After still fails fast, for the cap.
   * @default 60000
   */
  maxPauseMs?: number;
}

/**
 * DPoP options: sender-constrained tokens, bound to a key whose proofs go with every token request and
 * API request.
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */
export interface DpopOptions {
  /** The proof key (PEM, private JWK, KeyObject or CryptoKey). Omit to generate an ES256 key pair in memory. */
  privateKey?: PrivateKeyInput;
  /**
   * The public key of a `privateKey` given as a non-extractable CryptoKey, which does not reveal it (an
   * extractable CryptoKey's is exported; other key forms carry theirs).
   */
  publicKey?: JsonWebKey | CryptoKey;
  /**
   * JWS algorithm of the proofs (asymmetric only, RFC 9449 4.2).
   * @default from the key type: RS256, ES256/384/512 or EdDSA
   */
  algorithm?: AsymmetricAlgorithm;
}

/**
 * How client_secret_basic encodes the id and the secret before base64: `'form-urlencoded'` as RFC 6749
 * 2.3.1 requires, `'none'` for servers that decode them raw, or your own function.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export type BasicAuthEncoding = 'form-urlencoded' | 'none' | ((value: string) => string);

/**
 * Options of {@link ClientCredentialsClient}. Validated synchronously by the constructor: a bad value,
 * and a key that is not one of these (with a did-you-mean, e.g. `audiance` -> `audience`), throw a
 * {@link ConfigurationError} whose `option` names it.
 */
export interface ClientCredentialsClientOptions {
  /**
   * The token endpoint URL. Give this or `issuer`. `https:`, or `http:` to a loopback host (`localhost`,
   * 127.0.0.0/8 or `[::1]`; a name under `.localhost` is not one), or with `allowInsecureHttp`.
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.2
   */
  tokenEndpoint?: string;
  /**
   * The issuer identifier: the token endpoint is discovered (RFC 8414, then OpenID Connect discovery).
   * Give this or `tokenEndpoint`.
   * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
   */
  issuer?: string;
  /**
   * The client identifier the authorization server issued (printable ASCII, RFC 6749 Appendix A).
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.2
   */
  clientId: string;
  /**
   * How the client authenticates to the token endpoint.
   * @default `client_secret_basic` with a secret, `private_key_jwt` with a key, `tls_client_auth` with a
   * certificate alone; with `issuer`, the first the server lists that the credentials allow
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
   */
  authMethod?: AuthMethod;
  /**
   * For the client_secret_* methods. Kept in a private closure, never logged.
   *
   * Or a function (sync or async) that returns it, for a secret that rotates (a mounted Kubernetes
   * secret, a vault): called on the first token request and its value kept; after the server refuses
   * the client (`invalid_client`, or a 401/403 to the token request) it is called once more and, if the
   * value changed, the request is repeated once (event `credential_rotated`). Each value it returns is
   * checked as the constructor checks a string.
   */
  clientSecret?: string | (() => string | Promise<string>);
  /**
   * For private_key_jwt (and the TLS key of tls_client_auth): PKCS#8/PKCS#1/SEC1 PEM, private JWK,
   * KeyObject or CryptoKey. Imported once.
   *
   * For private_key_jwt, also a function (sync or async) returning one, called and renewed as a
   * `clientSecret` function is (see there).
   * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
   */
  privateKey?: PrivateKeyInput | (() => PrivateKeyInput | Promise<PrivateKeyInput>);
  /**
   * A client assertion made elsewhere (workload identity federation: a CI provider's OIDC token, a
   * SPIFFE JWT-SVID, a token from a metadata service), sent as `client_assertion` with
   * `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and `client_id`.
   * A function (sync or async) is called for every attempt of every token request (an assertion may be
   * single-use); a string is sent as it is. The client then has no secret and no key of its own.
   * @default authMethod `private_key_jwt`
   * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
   */
  clientAssertion?: string | (() => string | Promise<string>);
  /**
   * A file holding the client assertion, read for every attempt of every token request: a Kubernetes
   * projected service-account token (kubelet rotates it by an atomic symlink swap), the file named by
   * `AZURE_FEDERATED_TOKEN_FILE`, a SPIFFE helper's JWT-SVID. Surrounding whitespace is ignored. The file
   * need not exist yet when the client is made (a sidecar may write it later); a token request that
   * cannot read it fails with a ConfigurationError naming this option.
   * @default authMethod `private_key_jwt`
   */
  clientAssertionFile?: string;
  /**
   * JWS `kid` of client assertions. Default: the `kid` of a private JWK given as `privateKey` (servers
   * that hold several keys per client pick the key by it); none for PEM, KeyObject and CryptoKey keys.
   */
  keyId?: string;
  /**
   * Algorithm of client assertions.
   * @default from the key type (RS256, ES256/384/512, EdDSA); HS256 for client_secret_jwt
   */
  signingAlgorithm?: AsymmetricAlgorithm | SymmetricAlgorithm;
  /**
   * PEM certificate: adds `x5t#S256` to assertions; the client certificate for tls_client_auth.
   * @see https://www.rfc-editor.org/rfc/rfc8705#section-2
   */
  certificate?: string;
  /**
   * `aud` of client assertions.
   * @default the issuer when known, else the token endpoint
   */
  assertionAudience?: string;
  /**
   * Send `typ: client-authentication+jwt` in assertions (rfc7523bis); `false` for servers that reject it.
   * @default true
   */
  assertionTypHeader?: boolean;
  /**
   * Lifetime of a client assertion, seconds (1 to 120).
   * @default 60
   */
  assertionLifetimeSeconds?: number;
  /**
   * Clock-skew allowance: assertions' `iat` is set this many seconds in the past (0 to 60).
   * `exp` stays within 120 s of `iat`, so a large allowance shortens the assertion's life.
   * @default 5
   */
  clockSkewSeconds?: number;
  /**
   * Escape hatch for servers that decode Basic credentials differently.
   * @default 'form-urlencoded'
   */
  basicAuthEncoding?: BasicAuthEncoding;

  /** Default `audience` parameter (Auth0 and similar); each call may override it. */
  audience?: string;
  /**
   * Default scope: a space-separated string or an array; each call may override it.
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.3
   */
  scope?: string | readonly string[];
  /**
   * Default resource indicator(s): absolute URIs without a fragment; each call may override them.
   * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
   */
  resource?: string | readonly string[];
  /**
   * More token request parameters (e.g. `{ organization: 'org_1' }`). May not set grant_type, client
   * authentication fields, scope, audience or resource.
   */
  extraParams?: Readonly<Record<string, string>>;

  /**
   * A token is not handed out when it expires sooner than this, seconds (never more than half its life).
   * @default 60
   */
  expiryBufferSeconds?: number;
  /**
   * Cache lifetime of a token whose expiry is unknown (no `expires_in`, no JWT `exp`), seconds.
   * @default 300
   */
  defaultLifetimeSeconds?: number;
  /**
   * Refresh in the background this long before a token stops being handed out, seconds (at most a
   * quarter of its life); 0 turns refresh-ahead off.
   * @default 300
   */
  refreshAheadSeconds?: number;
  /**
   * Where tokens are kept: a {@link TokenCache} (e.g. `RedisTokenCache` from `m2m-token/redis`), or
   * `false` to turn caching off.
   * @default a new MemoryTokenCache
   */
  cache?: TokenCache | false;

  /**
   * Any fetch-compatible function, for token requests, discovery and `client.fetch()`.
   * @default the global fetch
   */
  fetch?: typeof globalThis.fetch;
  /**
   * An undici Dispatcher (proxy, mTLS, pools), passed to fetch as `dispatcher`: an object with a
   * `dispatch` function, else a {@link ConfigurationError} `dispatcher`.
   */
  dispatcher?: unknown;
  /**
   * Per-attempt timeout of a token request (and of discovery), ms. Covers reading the body.
   * @default 10000
   */
  timeoutMs?: number;
  /**
   * Allow an `http:` token endpoint on a host that is not loopback (behind a service mesh that adds TLS).
   * @default false
   */
  allowInsecureHttp?: boolean;
  /**
   * Retry policy for token requests, or `false` for none.
   * @default { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 5000, randomize: true, maxRetryAfterMs: 10000, maxPauseMs: 60000 }
   */
  retry?: RetryOptions | false;
  /**
   * Extra headers for token requests (e.g. `user-agent`); not `authorization`, `dpop`, `content-type` or
   * `accept`, which the client sets.
   */
  headers?: Readonly<Record<string, string>>;
  /**
   * Sender-constrained tokens: `true` (an ES256 key pair made in memory) or {@link DpopOptions}.
   * @default false
   * @see https://www.rfc-editor.org/rfc/rfc9449
   */
  dpop?: boolean | DpopOptions;
  /**
   * Observability hook, called synchronously with each {@link TokenEvent}; never receives a secret or a
   * whole token. A throwing hook never breaks a call.
   */
  onEvent?: (event: TokenEvent) => void;
}

/** The defaults of {@link ClientCredentialsClientOptions}, in one place (read-only). */
export const DEFAULTS = {
  /** {@link ClientCredentialsClientOptions.timeoutMs} */
  timeoutMs: 10_000,
  /** {@link ClientCredentialsClientOptions.expiryBufferSeconds} */
  expiryBufferSeconds: 60,
  /** {@link ClientCredentialsClientOptions.defaultLifetimeSeconds} */
  defaultLifetimeSeconds: 300,
  /** {@link ClientCredentialsClientOptions.refreshAheadSeconds} */
  refreshAheadSeconds: 300,
  /** {@link ClientCredentialsClientOptions.assertionLifetimeSeconds} */
  assertionLifetimeSeconds: 60,
  /** {@link ClientCredentialsClientOptions.clockSkewSeconds} */
  clockSkewSeconds: 5,
  /** The size cap of token responses and discovery documents, bytes (not an option). */
  maxResponseBytes: 256 * 1024,
  /** {@link ClientCredentialsClientOptions.retry} */
  retry: {
    /** {@link RetryOptions.retries} */
    retries: 2,
    /** {@link RetryOptions.factor} */
    factor: 2,
    /** {@link RetryOptions.minTimeout} */
    minTimeout: 200,
    /** {@link RetryOptions.maxTimeout} */
    maxTimeout: 5_000,
    /** {@link RetryOptions.randomize} */
    randomize: true,
    /** {@link RetryOptions.maxRetryAfterMs} */
    maxRetryAfterMs: 10_000,
    /** {@link RetryOptions.maxPauseMs} */
    maxPauseMs: 60_000,
  },
} as const;

export type NormalizedRetry = Required<RetryOptions> | false;

/** Options after validation and defaults. Secrets stay in the auth closures, not here. */
export interface NormalizedOptions {
  readonly tokenEndpoint?: string;
  readonly issuer?: string;
  readonly clientId: string;
  readonly authMethod: AuthMethod;
  readonly audience?: string;
  readonly scope: readonly string[];
  readonly resource: readonly string[];
  readonly extraParams: Readonly<Record<string, string>>;
  readonly expiryBufferMs: number;
  readonly defaultLifetimeMs: number;
  readonly refreshAheadMs: number;
  readonly timeoutMs: number;
  readonly allowInsecureHttp: boolean;
  readonly retry: NormalizedRetry;
  readonly headers: Readonly<Record<string, string>>;
  readonly maxResponseBytes: number;
  /** retry.maxPauseMs, also when retries are off: the cap of every Retry-After pause. */
  readonly maxPauseMs: number;
}
