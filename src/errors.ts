/**
 * Error classes. Every error thrown by m2m-token extends {@link M2MTokenError} and carries a stable
 * `code` (see {@link ErrorCode}); messages may change, codes do not.
 *
 * No error message, property or `cause` ever holds a client secret, a private key, a client assertion
 * or an access token: errors are safe to log.
 */
import type { RedisErrorCode } from './redis/errors.js';

/**
 * Bad options: the constructor (or a per-call option, or a key that cannot be imported on first use)
 * refused them. Thrown as {@link ConfigurationError}, whose `option` names the option.
 */
export const M2M_INVALID_CONFIGURATION = 'M2M_INVALID_CONFIGURATION';

/**
 * The authorization server refused the token request with an error body (`invalid_client`,
 * `invalid_scope`, ...). Thrown as {@link OAuthError}.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export const M2M_OAUTH_ERROR = 'M2M_OAUTH_ERROR';

/**
 * An answer that is not usable: a non-2xx without a valid OAuth error body, or a 2xx body that is not a
 * valid token response (not JSON, no `access_token` or `token_type`, a token type the client does not
 * understand). Thrown as {@link HttpError}.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export const M2M_HTTP_ERROR = 'M2M_HTTP_ERROR';

/**
 * The token endpoint answered with a redirect (3xx). Redirects are never followed from the token
 * endpoint, so credentials never reach another URL. Thrown as {@link HttpError}.
 */
export const M2M_UNEXPECTED_REDIRECT = 'M2M_UNEXPECTED_REDIRECT';

/**
 * The token endpoint asked the client (429 or 503 with `Retry-After`) to come back later than a call
 * may wait: calls fail fast until {@link HttpError.retryAt}. Thrown as {@link HttpError}.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export const M2M_RETRY_LATER = 'M2M_RETRY_LATER';

/**
 * A token response (or discovery document) was larger than the size cap, counted in decoded bytes
 * whatever Content-Length and Content-Encoding say. Thrown as {@link HttpError}.
 */
export const M2M_RESPONSE_TOO_LARGE = 'M2M_RESPONSE_TOO_LARGE';

/**
 * The token endpoint or the discovery document could not be reached (connection refused or reset, DNS,
 * TLS): an {@link M2MTokenError} naming the endpoint, with the runtime's error as `cause`. Retried like
 * a 5xx. (Calls through `client.fetch()` keep fetch's own errors for the API request itself.)
 */
export const M2M_NETWORK_ERROR = 'M2M_NETWORK_ERROR';

/**
 * The token endpoint or the discovery document did not answer within `timeoutMs` (per attempt): an
 * {@link M2MTokenError} naming the endpoint, the timeout and the attempts, with the runtime's
 * TimeoutError as `cause`. Retried like a 5xx.
 */
export const M2M_TIMEOUT = 'M2M_TIMEOUT';

/**
 * The issuer's metadata was missing or invalid (RFC 8414, then OpenID Connect discovery). Thrown as
 * {@link DiscoveryError}.
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export const M2M_DISCOVERY_FAILED = 'M2M_DISCOVERY_FAILED';

/**
 * An HTTP-client integration (the fetch wrapper, the undici interceptor or axios' `attachBearer`)
 * refused to send a request, or a redirect hop, to an origin outside `allowedOrigins`; nothing was sent
 * there. Thrown as {@link OriginNotAllowedError}.
 */
export const M2M_ORIGIN_NOT_ALLOWED = 'M2M_ORIGIN_NOT_ALLOWED';

/**
 * The client was closed (`client.close()` or `await using`): calls made after it, and calls still
 * waiting for a token request when it was closed, reject with this code (an {@link M2MTokenError}).
 */
export const M2M_CLIENT_CLOSED = 'M2M_CLIENT_CLOSED';

/**
 * A {@link TokenCache} gave back something that is not a cached token (a wrong shape, or an access
 * token that is not printable ASCII): it is treated as a miss and reported as a `cache_fault` event
 * with this code; callers never see it.
 */
export const M2M_CACHE_ENTRY_INVALID = 'M2M_CACHE_ENTRY_INVALID';

/**
 * The codes of the main entry, grouped: `ErrorCode.RETRY_LATER === M2M_RETRY_LATER`. Branch on these
 * (or on the class), not on messages, which may change. Each code is documented as its own constant.
 */
export const ErrorCode = {
  /** {@link M2M_INVALID_CONFIGURATION} */
  CONFIGURATION: M2M_INVALID_CONFIGURATION,
  /** {@link M2M_OAUTH_ERROR} */
  OAUTH: M2M_OAUTH_ERROR,
  /** {@link M2M_HTTP_ERROR} */
  HTTP: M2M_HTTP_ERROR,
  /** {@link M2M_UNEXPECTED_REDIRECT} */
  REDIRECT: M2M_UNEXPECTED_REDIRECT,
  /** {@link M2M_RETRY_LATER} */
  RETRY_LATER: M2M_RETRY_LATER,
  /** {@link M2M_RESPONSE_TOO_LARGE} */
  RESPONSE_TOO_LARGE: M2M_RESPONSE_TOO_LARGE,
  /** {@link M2M_NETWORK_ERROR} */
  NETWORK: M2M_NETWORK_ERROR,
  /** {@link M2M_TIMEOUT} */
  TIMEOUT: M2M_TIMEOUT,
  /** {@link M2M_DISCOVERY_FAILED} */
  DISCOVERY: M2M_DISCOVERY_FAILED,
  /** {@link M2M_ORIGIN_NOT_ALLOWED} */
  ORIGIN_NOT_ALLOWED: M2M_ORIGIN_NOT_ALLOWED,
  /** {@link M2M_CLIENT_CLOSED} */
  CLIENT_CLOSED: M2M_CLIENT_CLOSED,
  /** {@link M2M_CACHE_ENTRY_INVALID} */
  CACHE_ENTRY_INVALID: M2M_CACHE_ENTRY_INVALID,
} as const;

/**
 * Every code an {@link M2MTokenError} can carry (those of `RedisErrorCode` in `m2m-token/redis` too), as
 * a union of literals: a typo such as `case 'M2M_RETRY_LATRE':` in a `switch (error.code)` does not
 * compile.
 */
export type ErrorCodeValue =
  | (typeof ErrorCode)[keyof typeof ErrorCode]
  | (typeof RedisErrorCode)[keyof typeof RedisErrorCode];

/**
 * The brand: on each class's prototype, the class chain by literal names (`['OAuthError',
 * 'M2MTokenError']`). Literal, so that minifiers (which rename classes) change neither `err.name` nor
 * `instanceof`; under `Symbol.for`, so that `instanceof` works across two copies of the package.
 */
const kBrand = Symbol.for('m2m-token.error.chain');

/**
 * Gives a class its brand: its literal name, then its parent's chain. Every error class of the package
 * is branded by a call right after its declaration (not in a static block naming the class: esbuild emits
 * a class that names itself in its body as `class _Name`, and `constructor.name` shows the underscore).
 * Internal: not exported from the entry points. A class without a brand (a user's subclass) keeps its
 * constructor's `name` and the ordinary prototype check for `instanceof`.
 */
export function brand(ctor: abstract new (...args: never[]) => Error, name: string): void {
  const parent = (Object.getPrototypeOf(ctor.prototype) as Record<symbol, unknown>)[kBrand];
  const chain = Object.freeze([name, ...(Array.isArray(parent) ? parent : [])]);
  Object.defineProperty(ctor.prototype, kBrand, { value: chain });
}

/** The literal name a class was branded with, if it was branded itself (not only through a parent). */
function brandedName(ctor: { prototype: object }): string | undefined {
  if (!Object.hasOwn(ctor.prototype, kBrand)) return undefined;
  return (ctor.prototype as Record<symbol, readonly string[] | undefined>)[kBrand]?.[0];
}

/**
 * Base class of every error m2m-token throws.
 *
 * `instanceof` works across duplicate installs of the package (a `Symbol.for` brand), as in undici.
 */
export class M2MTokenError extends Error {
  /**
   * A stable machine-readable code (see {@link ErrorCode}): branch on it, not on the message, which
   * may change.
   */
  readonly code: ErrorCodeValue;

  /**
   * @param message what failed; never a secret, key, assertion or token
   * @param code the stable code
   * @param options `cause`: the underlying error, kept as the standard `cause`
   */
  constructor(message: string, code: ErrorCodeValue, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = brandedName(new.target) ?? new.target.name;
    this.code = code;
  }

  // `this` is the class `instanceof` was asked about (a subclass included): that is the point here.
  // biome-ignore-start lint/complexity/noThisInStatic: see above
  /**
   * `instanceof` by brand: true for errors of this class made by any copy of the package (two installs,
   * or its ESM and CommonJS builds), as undici does.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    const own = brandedName(this);
    // A class that is not branded (a user's subclass): the ordinary prototype check.
    if (own === undefined) return Function.prototype[Symbol.hasInstance].call(this, value);
    if (typeof value !== 'object' || value === null) return false;
    const chain = (value as Record<symbol, unknown>)[kBrand];
    return Array.isArray(chain) && chain.includes(own);
  }
  // biome-ignore-end lint/complexity/noThisInStatic: see above
}
brand(M2MTokenError, 'M2MTokenError');

/**
 * Bad options, thrown synchronously by the constructor (or on first use for a key that cannot be
 * parsed). `option` names the option, e.g. `clientSecret` or `retry.retries`.
 */
export class ConfigurationError extends M2MTokenError {
  /** The option at fault, e.g. `clientSecret`, `retry.retries` or `extraParams.grant_type` (never its value). */
  readonly option: string;
  /**
   * @param option the option at fault
   * @param message what is wrong with it (never the value, which may be a secret)
   * @param options `cause`: the underlying error
   */
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`options.${option}: ${message}`, ErrorCode.CONFIGURATION, options);
    this.option = option;
  }
}
brand(ConfigurationError, 'ConfigurationError');

/**
 * The authorization server answered with an error body as in RFC 6749 section 5.2
 * (`invalid_client`, `invalid_scope`, `unauthorized_client`, ...).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class OAuthError extends M2MTokenError {
  /** The `error` code the server sent, e.g. `invalid_client`. */
  readonly error: string;
  // `declare`: no own property unless the server sent one (so util.inspect shows no `undefined` fields).
  /** The `error_description` the server sent (redacted, at most 1000 characters). */
  declare readonly errorDescription?: string;
  /** The `error_uri` the server sent (redacted, at most 1000 characters). */
  declare readonly errorUri?: string;
  /**
   * What to check, when m2m-token can tell (a refused client: the id, secret or key, the method, the
   * assertion `aud` and the `assertionAudience` option, the `basicAuthEncoding` option...). Also at
   * the end of the message.
   */
  declare readonly hint?: string;
  /** The HTTP status of the answer. */
  readonly status: number;

  /** @param init the fields of the error body, the status, and what the message names */
  constructor(init: {
    error: string;
    errorDescription?: string;
    errorUri?: string;
    status: number;
    /** The token endpoint, named in the message (not kept as a field). */
    endpoint?: string;
    /** The client id, named in the message (not kept as a field). */
    clientId?: string;
    hint?: string;
  }) {
    const detail = init.errorDescription ? `: ${init.errorDescription}` : '';
    const where = init.endpoint ? `token endpoint ${init.endpoint}` : 'token endpoint';
    const client = init.clientId === undefined ? '' : ` (client id ${JSON.stringify(init.clientId)})`;
    super(
      `${where} answered ${init.status} ${init.error}${detail}${client}${init.hint ? `. ${init.hint}` : ''}`,
      ErrorCode.OAUTH,
    );
    if (init.hint !== undefined) this.hint = init.hint;
    this.error = init.error;
    this.status = init.status;
    if (init.errorDescription !== undefined) this.errorDescription = init.errorDescription;
    if (init.errorUri !== undefined) this.errorUri = init.errorUri;
  }
}
brand(OAuthError, 'OAuthError');

/**
 * An HTTP answer that is not usable: a non-2xx without a valid OAuth error body, a 2xx body that is not
 * a valid token response, a redirect, a body over the size cap, or a fail-fast while the server asked
 * us to wait (`code` tells which). `bodySnippet` is a short, redacted start of the body.
 */
export class HttpError extends M2MTokenError {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** A short start of the body (at most 200 characters), redacted before it was cut. */
  declare readonly bodySnippet?: string;
  /** When the server asked to wait (Retry-After): the epoch milliseconds after which to come back. */
  declare readonly retryAt?: number;
  /** What to check, when m2m-token can tell (see {@link OAuthError.hint}). Also at the end of the message. */
  declare readonly hint?: string;

  /**
   * @param message what was wrong with the answer
   * @param init the status, the redacted body start, `retryAt`, the code (default `M2M_HTTP_ERROR`), the
   *   cause and a hint
   */
  constructor(
    message: string,
    init: {
      status: number;
      bodySnippet?: string;
      retryAt?: number;
      code?: ErrorCodeValue;
      cause?: unknown;
      hint?: string;
    },
  ) {
    super(init.hint ? `${message}. ${init.hint}` : message, init.code ?? ErrorCode.HTTP, {
      cause: init.cause,
    });
    if (init.hint !== undefined) this.hint = init.hint;
    this.status = init.status;
    if (init.bodySnippet !== undefined) this.bodySnippet = init.bodySnippet;
    if (init.retryAt !== undefined) this.retryAt = init.retryAt;
  }
}
brand(HttpError, 'HttpError');

/** Issuer metadata (RFC 8414 / OpenID Connect discovery) was missing or invalid. */
export class DiscoveryError extends M2MTokenError {
  /** The issuer whose metadata could not be used. */
  readonly issuer: string;
  /**
   * @param issuer the issuer
   * @param message what was wrong
   * @param options `cause`: the underlying error
   */
  constructor(issuer: string, message: string, options?: { cause?: unknown }) {
    super(`discovery of ${issuer} failed: ${message}`, ErrorCode.DISCOVERY, options);
    this.issuer = issuer;
  }
}
brand(DiscoveryError, 'DiscoveryError');

/**
 * An HTTP-client integration (the fetch wrapper, the undici interceptor or axios' `attachBearer`) refused
 * to send a request or a redirect hop (and its token) to an origin outside `allowedOrigins`.
 */
export class OriginNotAllowedError extends M2MTokenError {
  /**
   * The origin the request was for (scheme, host and port: no user info, path or query), or
   * `(no origin)` / `(not a URL)` when an undici request named none or one that does not parse.
   */
  readonly origin: string;
  /** @param origin the refused origin */
  constructor(origin: string) {
    super(`requests to ${origin} are not allowed by allowedOrigins`, ErrorCode.ORIGIN_NOT_ALLOWED);
    this.origin = origin;
  }
}
brand(OriginNotAllowedError, 'OriginNotAllowedError');
