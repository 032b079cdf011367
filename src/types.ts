/** Public types shared by the modules of m2m-token. */

/**
 * How the client authenticates to the token endpoint.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2
 */
export type AuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_json'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth';

/** A JWS algorithm for `private_key_jwt` assertions and DPoP proofs. */
export type AsymmetricAlgorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA';

/** A JWS algorithm for `client_secret_jwt` assertions (an HMAC keyed with the client secret). */
export type SymmetricAlgorithm = 'HS256' | 'HS384' | 'HS512';

/** `true` when `List` names every member of `T` (the lists below are checked against their types). */
type ListsAll<T extends string, List extends readonly T[]> = [Exclude<T, List[number]>] extends [never]
  ? true
  : { readonly missing: Exclude<T, List[number]> };

/** Client authentication methods (RFC 6749 2.3, RFC 7523, RFC 8705, and Auth0's JSON body). */
export const AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_json',
  'client_secret_jwt',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
] as const satisfies readonly AuthMethod[];
true satisfies ListsAll<AuthMethod, typeof AUTH_METHODS>;

/** Algorithms accepted for `private_key_jwt` assertions (and DPoP proofs). */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const satisfies readonly AsymmetricAlgorithm[];
true satisfies ListsAll<AsymmetricAlgorithm, typeof ASYMMETRIC_ALGORITHMS>;

/** Algorithms accepted for `client_secret_jwt` assertions. */
export const SYMMETRIC_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
] as const satisfies readonly SymmetricAlgorithm[];
true satisfies ListsAll<SymmetricAlgorithm, typeof SYMMETRIC_ALGORITHMS>;

/** A private key: PEM (PKCS#8, PKCS#1 or SEC1), a private JWK, a Node.js KeyObject or a Web Crypto CryptoKey. */
export type PrivateKeyInput = string | JsonWebKey | CryptoKey | KeyObjectLike;

/** The shape of a Node.js `KeyObject`, as far as the type of {@link PrivateKeyInput} needs it. */
export interface KeyObjectLike {
  /** `'private'` for a private key. */
  readonly type: string;
  /** `'rsa'`, `'ec'`, `'ed25519'`, ... */
  readonly asymmetricKeyType?: string;
}

/**
 * An access token as handed to callers. Frozen: it may be shared by many callers.
 *
 * Safe to log: `util.inspect(token)` and `JSON.stringify(token)` (so JSON loggers such as pino) show
 * `accessToken` and the credential members of `raw` as `[redacted]`. Read `token.accessToken` for the
 * value; a spread (`{ ...token }`) copies the data without the redacting hooks.
 */
export interface Token {
  /** The access token itself. Treat it as a secret. */
  readonly accessToken: string;
  /** The token type as the server sent it ('Bearer', 'DPoP', ...). */
  readonly tokenType: string;
  /** Epoch milliseconds; from `expires_in` (counted from when the request was sent), else the JWT `exp`. */
  readonly expiresAt?: number;
  /** The granted scope, when the server returned one. */
  readonly scope?: string;
  /** The whole parsed token response (`refresh_token` removed: RFC 6749 4.4.3). */
  readonly raw: Readonly<Record<string, unknown>>;
  /**
   * What `JSON.stringify(token)` writes: the token with `accessToken` and the credential members of
   * `raw` (`access_token`, ...) redacted, as `util.inspect` shows it, so that JSON loggers never print
   * the token.
   */
  toJSON(): Record<string, unknown>;
}

/**
 * What a {@link TokenCache} stores: the token and the three moments of its life in the cache.
 * `JSON.stringify(entry)` gives its storable form, plain JSON data that holds the access token (only the
 * Token inside redacts itself, for loggers): a cache that stores JSON stores that, and gives it back
 * parsed. An entry read back is checked (its shape, an access token of printable ASCII) before it is
 * used; one that does not pass is a miss, reported as a `cache_fault`. Treat stored entries as secrets.
 */
export interface CachedToken {
  /** The token handed to callers. */
  readonly token: Token;
  /** Epoch ms when the token request was sent. */
  readonly obtainedAt: number;
  /** Epoch ms from which a background refresh is started (refresh-ahead). */
  readonly refreshAt: number;
  /** Epoch ms after which the token is no longer handed out (expiry minus the buffer). */
  readonly usableUntil: number;
}

/**
 * A token store. Any method may be sync or async. A cache that throws or rejects never breaks token
 * acquisition: the client falls back to a token request and reports a `cache_fault` event.
 */
export interface TokenCache {
  /** The entry stored under `key`, or `undefined`. The client checks its usability itself. */
  get(key: string): Promise<CachedToken | undefined> | CachedToken | undefined;
  /** Stores `value` under `key`; it may be dropped after `ttlMs` (when it stops being usable). */
  set(key: string, value: CachedToken, ttlMs: number): Promise<void> | void;
  /** Drops the entry under `key` (nothing when there is none). */
  delete(key: string): Promise<void> | void;
  /**
   * Optional delete-if-equal: deletes the entry only while it holds this access token, in one step (the
   * client drops a token a resource server refused, never a newer one another process stored meanwhile).
   * Without it the client reads, compares and deletes, which leaves that window open for shared caches.
   * Resolves to whether an entry was deleted (or to nothing).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: the signature is the contract (an implementation may return nothing)
  deleteIf?(key: string, accessToken: string): Promise<boolean | void> | boolean | void;
  /**
   * Optional cross-process single-flight: resolves to a release function when this process holds the
   * lock for `key`, or to `undefined` when another process does.
   */
  acquireLock?(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
}

/**
 * Which token: the token request parameters that override the client's defaults (each unset one falls
 * back to the client's option of the same name). Each distinct set is cached on its own. Taken by
 * `getToken()`, `invalidate()`, `createFetch()`, `bearerInterceptor()` and `attachBearer()`.
 */
export interface TokenSelection {
  /** The `audience` parameter; default: the client's `audience`. */
  audience?: string;
  /**
   * The scope: a space-separated string or an array (order and duplicates do not matter); default: the
   * client's `scope`.
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.3
   */
  scope?: string | readonly string[];
  /**
   * Resource indicator(s): absolute URIs without a fragment; default: the client's `resource`.
   * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
   */
  resource?: string | readonly string[];
  /** More token request parameters, on top of the client's `extraParams`. */
  extraParams?: Readonly<Record<string, string>>;
}

/**
 * Per-call options of `getToken()`: the {@link TokenSelection} for this call, plus how to get it.
 * Unknown keys are a {@link ConfigurationError}.
 */
export interface GetTokenOptions extends TokenSelection {
  /**
   * Skip the cached token: the token returned was obtained after this call began (a forced request
   * already in flight is joined; a normal one is not).
   * @default false
   */
  forceRefresh?: boolean;
  /** Abandons this caller's wait only (rejecting with the signal's reason); the shared request goes on for the others. */
  signal?: AbortSignal;
}

/** The non-secret parts of a cache key, as carried by events. */
export interface TokenKeyInfo {
  /**
   * The token endpoint, or the issuer before discovery has run: origin and path (no query string, which
   * may carry something private).
   */
  readonly endpoint: string;
  /** The client id. */
  readonly clientId: string;
  /** The `audience` asked for, if any. */
  readonly audience?: string;
  /** The scope asked for (space-separated, sorted), if any. */
  readonly scope?: string;
  /** The resource indicators asked for, if any. */
  readonly resource?: readonly string[];
}

/**
 * How a token request authenticated, as `auth_fallback` events name it: the method and, for Basic,
 * whether the id and secret were form-urlencoded (RFC 6749 2.3.1) or sent raw.
 */
export type AuthFallbackForm =
  | 'client_secret_basic (form-urlencoded)'
  | 'client_secret_basic (raw)'
  | 'client_secret_post';

/** A plain description of an error inside an event (never a secret). */
export interface EventError {
  /** The error's class name, e.g. `OAuthError`. */
  readonly name: string;
  /** Its `code`, when it has one (an m2m-token code, or a runtime's such as `ECONNREFUSED`). */
  readonly code?: string;
  /** Its message (redacted, as every m2m-token message is). */
  readonly message: string;
  /** The HTTP status, when the error came from an answer. */
  readonly status?: number;
}

/** What every {@link TokenEvent} carries: its type and the token it is about. */
export interface TokenEventBase<Type extends string> {
  /** The kind of event: switch on it. */
  readonly type: Type;
  /** The token (cache key) the event is about, without any secret. */
  readonly key: TokenKeyInfo;
}

/** A usable token was found in the cache. */
export interface CacheHitEvent extends TokenEventBase<'cache_hit'> {
  /** When the token expires (epoch ms), when known. */
  readonly expiresAt?: number;
}

/** No usable token was in the cache: a token request follows (or is joined). */
export interface CacheMissEvent extends TokenEventBase<'cache_miss'> {
  /** Nothing cached, only an expired token, `forceRefresh`, or caching turned off (`cache: false`). */
  readonly reason: 'absent' | 'expired' | 'forced' | 'disabled';
}

/**
 * Why a token request is made: no usable cached token (`miss`), a background refresh before expiry
 * (`refresh_ahead`), `getToken({ forceRefresh: true })` (`forced`), or a resource server refused the
 * token (`rejected`: the 401 policy of `client.fetch()` and the integrations).
 */
export type TokenRequestTrigger = 'miss' | 'refresh_ahead' | 'forced' | 'rejected';

/** A token request is being sent. */
export interface TokenRequestStartEvent extends TokenEventBase<'token_request_start'> {
  /** The client authentication method used. */
  readonly authMethod: AuthMethod;
  /**
   * Names this token request in its other events (success or failure, retries, auth fallbacks,
   * credential rotations): unique within the process, so that a listener can match an end to its start
   * (as `m2m-token/otel` does for spans).
   */
  readonly requestId: string;
  /** The token endpoint the request goes to (origin and path; the discovered one with `issuer`). */
  readonly endpoint: string;
  /** Why the token is requested. */
  readonly trigger: TokenRequestTrigger;
}

/** A token request succeeded. */
export interface TokenRequestSuccessEvent extends TokenEventBase<'token_request_success'> {
  /** The request, as named by its `token_request_start`. */
  readonly requestId: string;
  /** The client authentication method that worked. */
  readonly authMethod: AuthMethod;
  /** From the first attempt to the parsed answer, ms (retries and their waits included). */
  readonly durationMs: number;
  /** The HTTP status of the answer. */
  readonly status: number;
  /** Attempts made (1 without retries). */
  readonly attempts: number;
  /** When the new token expires (epoch ms), when known. */
  readonly expiresAt?: number;
}

/** A token request failed (after its retries). */
export interface TokenRequestFailureEvent extends TokenEventBase<'token_request_failure'> {
  /** The request, as named by its `token_request_start`. */
  readonly requestId: string;
  /** The client authentication method used. */
  readonly authMethod: AuthMethod;
  /** From the first attempt to the failure, ms. */
  readonly durationMs: number;
  /** The HTTP status of the last answer, when there was one. */
  readonly status?: number;
  /** Attempts made. */
  readonly attempts: number;
  /** What went wrong. */
  readonly error: EventError;
}

/** A token request attempt failed and will be retried after `delayMs`. */
export interface TokenRequestRetryEvent extends TokenEventBase<'token_request_retry'> {
  /** The request, as named by its `token_request_start`. */
  readonly requestId: string;
  /** The attempt that failed (1 for the first). */
  readonly attempt: number;
  /** The wait before the next attempt, ms. */
  readonly delayMs: number;
  /** What went wrong. */
  readonly error: EventError;
}

/** A background refresh of a token nearing its end started. */
export type RefreshAheadStartEvent = TokenEventBase<'refresh_ahead_start'>;

/** A background refresh failed; the valid token is kept and the refresh tried again at `retryAt`. */
export interface RefreshAheadFailureEvent extends TokenEventBase<'refresh_ahead_failure'> {
  /** What went wrong. */
  readonly error: EventError;
  /** When the next background refresh may start (epoch ms). */
  readonly retryAt: number;
}

/** The token cache failed; the client carried on without it (a cache never breaks token acquisition). */
export interface CacheFaultEvent extends TokenEventBase<'cache_fault'> {
  /** The cache operation that failed. */
  readonly operation: 'get' | 'set' | 'delete' | 'lock' | 'unlock' | 'decrypt';
  /** What went wrong. */
  readonly error: EventError;
}

/**
 * Basic auto-detection: the server refused the client with the form `from`, and the client tries `to`
 * once (see `basicAuthEncoding`). No credential is part of the event.
 */
export interface AuthFallbackEvent extends TokenEventBase<'auth_fallback'> {
  /** The token request in which it happened, as named by its `token_request_start`. */
  readonly requestId: string;
  /** The refused form. */
  readonly from: AuthFallbackForm;
  /** The form tried next. */
  readonly to: AuthFallbackForm;
}

/**
 * The server granted less than was asked for: a requested scope token is missing from the response's
 * `scope`. The token is still cached under the requested scope.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.3
 */
export interface ScopeReducedEvent extends TokenEventBase<'scope_reduced'> {
  /** The scope sent, space-separated. */
  readonly requested: string;
  /** The scope granted (the response's `scope`). */
  readonly granted: string;
}

/** Another process held the shared cache's lock for this token: this one waited for its result. */
export interface LockWaitEvent extends TokenEventBase<'lock_wait'> {
  /** How long this process waited, ms. */
  readonly waitedMs: number;
  /** The other process's token arrived, or the wait timed out (and this process asked itself). */
  readonly outcome: 'token' | 'timeout';
}

/**
 * The server refused the client, its secret or key (given as a function) was asked for again and had
 * changed: the request is repeated once with the new value. No value is part of the event.
 */
export interface CredentialRotatedEvent extends TokenEventBase<'credential_rotated'> {
  /** The token request in which it happened, as named by its `token_request_start`. */
  readonly requestId: string;
  /** The option whose function returned a new value. */
  readonly credential: 'clientSecret' | 'privateKey';
}

/**
 * Discovery of the issuer's metadata (RFC 8414, then OpenID Connect Discovery) begins. `key` names the
 * issuer (as `endpoint`) and the client id.
 */
export interface DiscoveryStartEvent extends TokenEventBase<'discovery_start'> {
  /** Names this discovery in its end event (unique within the process). */
  readonly requestId: string;
  /** The configured issuer. */
  readonly issuer: string;
}

/** Discovery found the issuer's metadata. */
export interface DiscoverySuccessEvent extends TokenEventBase<'discovery_success'> {
  /** As in `discovery_start`. */
  readonly requestId: string;
  /** The configured issuer. */
  readonly issuer: string;
  /** The well-known URL whose document was used. */
  readonly url: string;
  /** Its HTTP status. */
  readonly status: number;
  /** From the first fetch to the validated document, ms. */
  readonly durationMs: number;
  /** The token endpoint the document names: origin and path (no query string). */
  readonly tokenEndpoint: string;
}

/** Discovery failed (the next call tries again). */
export interface DiscoveryFailureEvent extends TokenEventBase<'discovery_failure'> {
  /** As in `discovery_start`. */
  readonly requestId: string;
  /** The configured issuer. */
  readonly issuer: string;
  /** The last well-known URL that answered, when one did. */
  readonly url?: string;
  /** Its HTTP status. */
  readonly status?: number;
  /** From the first fetch to the failure, ms. */
  readonly durationMs: number;
  /** What went wrong. */
  readonly error: EventError;
}

/**
 * Events published through the `onEvent` option and the `m2m-token` diagnostics channel. Switch on
 * `type`; no event carries a secret, an assertion or a whole token.
 */
export type TokenEvent =
  | CacheHitEvent
  | CacheMissEvent
  | TokenRequestStartEvent
  | TokenRequestSuccessEvent
  | TokenRequestFailureEvent
  | TokenRequestRetryEvent
  | RefreshAheadStartEvent
  | RefreshAheadFailureEvent
  | CacheFaultEvent
  | AuthFallbackEvent
  | ScopeReducedEvent
  | LockWaitEvent
  | DiscoveryStartEvent
  | DiscoverySuccessEvent
  | DiscoveryFailureEvent
  | CredentialRotatedEvent;
