/**
 * Error classes. Every error thrown by m2m-token extends {@link M2MTokenError} and carries a stable
 * `code` (see {@link ErrorCode}); messages may change, codes do not.
 *
 * No error message, property or `cause` ever holds a client secret, a private key, a client assertion
 * or an access token: errors are safe to log.
 */

/** Stable error codes. Branch on these (or on the class), not on messages. */
export const ErrorCode = {
  /** Bad options: see {@link ConfigurationError.option}. */
  CONFIGURATION: 'M2M_INVALID_CONFIGURATION',
  /** The authorization server answered with an RFC 6749 5.2 error body. */
  OAUTH: 'M2M_OAUTH_ERROR',
  /** A non-2xx answer without an OAuth error body, or a 2xx body that is not a valid token response. */
  HTTP: 'M2M_HTTP_ERROR',
  /** A 3xx from the token endpoint: redirects are never followed, so credentials never go elsewhere. */
  REDIRECT: 'M2M_UNEXPECTED_REDIRECT',
  /** The token endpoint asked us (429/503 + Retry-After) to come back later than this call can wait. */
  RETRY_LATER: 'M2M_RETRY_LATER',
  /** The token response (or discovery document) was larger than the size cap, counted in decoded bytes. */
  RESPONSE_TOO_LARGE: 'M2M_RESPONSE_TOO_LARGE',
  /**
   * The token endpoint or the discovery document could not be reached (connection refused or reset, DNS,
   * TLS): an M2MTokenError naming the endpoint, with the runtime's error as `cause`. Retried like a 5xx.
   */
  NETWORK: 'M2M_NETWORK_ERROR',
  /**
   * The token endpoint or the discovery document did not answer within `timeoutMs` (per attempt): an
   * M2MTokenError naming the endpoint, the timeout and the attempts, with the runtime's TimeoutError as
   * `cause`. Retried like a 5xx.
   */
  TIMEOUT: 'M2M_TIMEOUT',
  /** Issuer metadata was missing or invalid. */
  DISCOVERY: 'M2M_DISCOVERY_FAILED',
  /** The fetch wrapper refused a request to an origin outside `allowedOrigins`. */
  ORIGIN_NOT_ALLOWED: 'M2M_ORIGIN_NOT_ALLOWED',
  /**
   * The client was closed (`client.close()` or `await using`): calls made after it, and calls still
   * waiting for a token request when it was closed, reject with this code.
   */
  CLIENT_CLOSED: 'M2M_CLIENT_CLOSED',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The brand: on each class's prototype, the class chain by literal names (`['OAuthError',
 * 'M2MTokenError']`). Literal, so that minifiers (which rename classes) change neither `err.name` nor
 * `instanceof`; under `Symbol.for`, so that `instanceof` works across two copies of the package.
 */
const kBrand = Symbol.for('m2m-token.error.chain');

/**
 * Gives a class its brand: its literal name, then its parent's chain. Every error class of the package
 * calls it in a static block (internal: not exported from the entry points); a class without one (a user's subclass) is not branded: its `name` is
 * its constructor's and `instanceof` is the ordinary prototype check.
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
  static {
    brand(M2MTokenError, 'M2MTokenError');
  }

  /** A stable machine-readable code from {@link ErrorCode}. */
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = brandedName(new.target) ?? new.target.name;
    this.code = code;
  }

  // `this` is the class `instanceof` was asked about (a subclass included): that is the point here.
  // biome-ignore-start lint/complexity/noThisInStatic: see above
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

/**
 * Bad options, thrown synchronously by the constructor (or on first use for a key that cannot be
 * parsed). `option` names the option, e.g. `clientSecret` or `retry.retries`.
 */
export class ConfigurationError extends M2MTokenError {
  static {
    brand(ConfigurationError, 'ConfigurationError');
  }

  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`options.${option}: ${message}`, ErrorCode.CONFIGURATION, options);
    this.option = option;
  }
}

/**
 * The authorization server answered with an error body as in RFC 6749 section 5.2
 * (`invalid_client`, `invalid_scope`, `unauthorized_client`, ...).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class OAuthError extends M2MTokenError {
  static {
    brand(OAuthError, 'OAuthError');
  }

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

/**
 * An HTTP answer that is not usable: a non-2xx without a valid OAuth error body, a 2xx body that is not
 * a valid token response, a redirect, a body over the size cap, or a fail-fast while the server asked
 * us to wait (`code` tells which). `bodySnippet` is a short, redacted start of the body.
 */
export class HttpError extends M2MTokenError {
  static {
    brand(HttpError, 'HttpError');
  }

  /** The HTTP status of the answer. */
  readonly status: number;
  /** A short start of the body (at most 200 characters), redacted before it was cut. */
  declare readonly bodySnippet?: string;
  /** When the server asked to wait (Retry-After): the epoch milliseconds after which to come back. */
  declare readonly retryAt?: number;
  /** What to check, when m2m-token can tell (see {@link OAuthError.hint}). Also at the end of the message. */
  declare readonly hint?: string;

  constructor(
    message: string,
    init: {
      status: number;
      bodySnippet?: string;
      retryAt?: number;
      code?: string;
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

/** Issuer metadata (RFC 8414 / OpenID Connect discovery) was missing or invalid. */
export class DiscoveryError extends M2MTokenError {
  static {
    brand(DiscoveryError, 'DiscoveryError');
  }

  readonly issuer: string;
  constructor(issuer: string, message: string, options?: { cause?: unknown }) {
    super(`discovery of ${issuer} failed: ${message}`, ErrorCode.DISCOVERY, options);
    this.issuer = issuer;
  }
}

/** The fetch wrapper refused to send a request (and its token) to an origin outside `allowedOrigins`. */
export class OriginNotAllowedError extends M2MTokenError {
  static {
    brand(OriginNotAllowedError, 'OriginNotAllowedError');
  }

  readonly origin: string;
  constructor(origin: string) {
    super(`requests to ${origin} are not allowed by allowedOrigins`, ErrorCode.ORIGIN_NOT_ALLOWED);
    this.origin = origin;
  }
}
