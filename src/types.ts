/** Public types shared by the modules of m2m-token. */

/** Client authentication methods (RFC 6749 2.3, RFC 7523, RFC 8705, and Auth0's JSON body). */
export const AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_json',
  'client_secret_jwt',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

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
] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** Algorithms accepted for `client_secret_jwt` assertions. */
export const SYMMETRIC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export type SymmetricAlgorithm = (typeof SYMMETRIC_ALGORITHMS)[number];

/** A private key: PEM (PKCS#8, PKCS#1 or SEC1), a private JWK, a Node.js KeyObject or a Web Crypto CryptoKey. */
export type PrivateKeyInput =
  | string
  | JsonWebKey
  | CryptoKey
  | { readonly type: string; readonly asymmetricKeyType?: string };

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
}

/**
 * What a {@link TokenCache} stores: the token and the three moments of its life in the cache.
 * Plain JSON data, so that shared caches can serialise it.
 */
export interface CachedToken {
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
  get(key: string): Promise<CachedToken | undefined> | CachedToken | undefined;
  set(key: string, value: CachedToken, ttlMs: number): Promise<void> | void;
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

/** Per-call options of `getToken()`; each overrides the client's default. */
export interface GetTokenOptions {
  audience?: string;
  scope?: string | readonly string[];
  resource?: string | readonly string[];
  extraParams?: Readonly<Record<string, string>>;
  /** Skip the cached token (a request already in flight is still joined). */
  forceRefresh?: boolean;
  /** Abandons this caller's wait only; the shared request goes on for the others. */
  signal?: AbortSignal;
}

/** The non-secret parts of a cache key, as carried by events. */
export interface TokenKeyInfo {
  /** The token endpoint, or the issuer before discovery has run. */
  readonly endpoint: string;
  readonly clientId: string;
  readonly audience?: string;
  readonly scope?: string;
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
  readonly name: string;
  readonly code?: string;
  readonly message: string;
  readonly status?: number;
}

/** Events published through `onEvent` and the `m2m-token` diagnostics channel. */
export type TokenEvent =
  | { readonly type: 'cache_hit'; readonly key: TokenKeyInfo; readonly expiresAt?: number }
  | {
      readonly type: 'cache_miss';
      readonly key: TokenKeyInfo;
      readonly reason: 'absent' | 'expired' | 'forced' | 'disabled';
    }
  | { readonly type: 'token_request_start'; readonly key: TokenKeyInfo; readonly authMethod: AuthMethod }
  | {
      readonly type: 'token_request_success';
      readonly key: TokenKeyInfo;
      readonly authMethod: AuthMethod;
      readonly durationMs: number;
      readonly status: number;
      readonly attempts: number;
      readonly expiresAt?: number;
    }
  | {
      readonly type: 'token_request_failure';
      readonly key: TokenKeyInfo;
      readonly authMethod: AuthMethod;
      readonly durationMs: number;
      readonly status?: number;
      readonly attempts: number;
      readonly error: EventError;
    }
  | {
      readonly type: 'token_request_retry';
      readonly key: TokenKeyInfo;
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: EventError;
    }
  | { readonly type: 'refresh_ahead_start'; readonly key: TokenKeyInfo }
  | {
      readonly type: 'refresh_ahead_failure';
      readonly key: TokenKeyInfo;
      readonly error: EventError;
      readonly retryAt: number;
    }
  | {
      readonly type: 'cache_fault';
      readonly key: TokenKeyInfo;
      readonly operation: 'get' | 'set' | 'delete' | 'lock' | 'unlock' | 'decrypt';
      readonly error: EventError;
    }
  | {
      /**
       * Basic auto-detection: the server refused the client with the form `from`, and the client tries
       * `to` once (see `basicAuthEncoding`). No credential is part of the event.
       */
      readonly type: 'auth_fallback';
      readonly key: TokenKeyInfo;
      readonly from: AuthFallbackForm;
      readonly to: AuthFallbackForm;
    }
  | {
      /**
       * The server granted less than was asked for: a requested scope token is missing from the
       * response's `scope` (RFC 6749 3.3). The token is still cached under the requested scope.
       */
      readonly type: 'scope_reduced';
      readonly key: TokenKeyInfo;
      /** The scope sent, space-separated. */
      readonly requested: string;
      /** The scope granted (the response's `scope`). */
      readonly granted: string;
    }
  | {
      readonly type: 'lock_wait';
      readonly key: TokenKeyInfo;
      readonly waitedMs: number;
      readonly outcome: 'token' | 'timeout';
    };
