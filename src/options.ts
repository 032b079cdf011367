/**
 * Client options: the public option type, the defaults (in one place) and `normalizeOptions()`, which
 * validates synchronously and throws a {@link ConfigurationError} naming the bad option.
 */
import * as z from 'zod/mini';
import { ConfigurationError } from './errors.js';
import { checkKnownKeys } from './option-keys.js';
import {
  ASYMMETRIC_ALGORITHMS,
  type AsymmetricAlgorithm,
  AUTH_METHODS,
  type AuthMethod,
  type PrivateKeyInput,
  SYMMETRIC_ALGORITHMS,
  type SymmetricAlgorithm,
  type TokenCache,
  type TokenEvent,
} from './types.js';
import { isLoopbackHost, toArray } from './util.js';

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
   * long, and `retryAt` in `M2M_RETRY_LATER` errors is never later than now + maxPauseMs.
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
  /** The public key, when `privateKey` is a non-extractable CryptoKey. */
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
   * The token endpoint URL. Give this or `issuer`. `https:`, or `http:` to a loopback host (or with
   * `allowInsecureHttp`).
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
   * @default { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 5000, randomize: true, maxRetryAfterMs: 10000 }
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

/** Parameters a caller may not set through extraParams (RFC 6749 4.4.2, 2.3; RFC 7521 4.2). */
const CLIENT_SET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'dpop', 'content-type', 'accept']);

export const RESERVED_PARAMS: ReadonlySet<string> = new Set([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'scope',
  'audience',
  'resource',
]);

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

const nonNegative = z.number().check(z.gte(0));
const nonEmpty = z.string().check(z.minLength(1, 'must be a non-empty string'));
const stringOrList = z.union([z.string(), z.array(z.string())]);
const isFunction = (v: unknown) => typeof v === 'function';
const isNonEmptyStringOrFunction = (v: unknown) =>
  (typeof v === 'string' && v.length > 0) || typeof v === 'function';

const retrySchema = z.object({
  retries: z.optional(z.int().check(z.gte(0), z.lte(10))),
  factor: z.optional(z.number().check(z.gte(1))),
  minTimeout: z.optional(nonNegative),
  maxTimeout: z.optional(nonNegative),
  randomize: z.optional(z.boolean()),
  maxRetryAfterMs: z.optional(nonNegative),
  maxPauseMs: z.optional(nonNegative),
});

const schema = z.object({
  tokenEndpoint: z.optional(nonEmpty),
  issuer: z.optional(nonEmpty),
  clientId: nonEmpty,
  authMethod: z.optional(z.enum(AUTH_METHODS)),
  clientSecret: z.optional(
    z.custom(isNonEmptyStringOrFunction, 'must be a non-empty string, or a function returning one'),
  ),
  privateKey: z.optional(z.unknown()),
  clientAssertion: z.optional(
    z.custom(isNonEmptyStringOrFunction, 'must be a non-empty string (a JWT), or a function returning one'),
  ),
  clientAssertionFile: z.optional(nonEmpty),
  keyId: z.optional(nonEmpty),
  signingAlgorithm: z.optional(z.enum([...ASYMMETRIC_ALGORITHMS, ...SYMMETRIC_ALGORITHMS])),
  certificate: z.optional(
    z.string().check(z.includes('-----BEGIN CERTIFICATE-----', 'must be a PEM certificate')),
  ),
  assertionAudience: z.optional(nonEmpty),
  assertionTypHeader: z.optional(z.boolean()),
  assertionLifetimeSeconds: z.optional(z.number().check(z.gte(1), z.lte(120))),
  clockSkewSeconds: z.optional(z.number().check(z.gte(0), z.lte(60))),
  basicAuthEncoding: z.optional(z.union([z.enum(['form-urlencoded', 'none']), z.custom(isFunction)])),
  audience: z.optional(nonEmpty),
  scope: z.optional(stringOrList),
  resource: z.optional(stringOrList),
  extraParams: z.optional(z.record(z.string(), z.string())),
  expiryBufferSeconds: z.optional(nonNegative),
  defaultLifetimeSeconds: z.optional(z.number().check(z.gt(0))),
  refreshAheadSeconds: z.optional(nonNegative),
  cache: z.optional(z.unknown()),
  fetch: z.optional(z.custom(isFunction, 'must be a fetch-compatible function')),
  dispatcher: z.optional(
    z.custom(
      (v) =>
        typeof v === 'object' && v !== null && typeof (v as { dispatch?: unknown }).dispatch === 'function',
      'must be an undici Dispatcher (an object with a dispatch function), e.g. new Agent()',
    ),
  ),
  timeoutMs: z.optional(z.number().check(z.gt(0))),
  allowInsecureHttp: z.optional(z.boolean()),
  retry: z.optional(z.union([z.literal(false), retrySchema])),
  headers: z.optional(z.record(z.string(), z.string())),
  dpop: z.optional(
    z.custom(
      (v) => typeof v === 'boolean' || (typeof v === 'object' && v !== null && !Array.isArray(v)),
      'must be true, false or { privateKey?, publicKey?, algorithm? }',
    ),
  ),
  onEvent: z.optional(z.custom(isFunction, 'must be a function')),
});

/** The option names, from the schema: one list for validation and the did-you-mean. */
const OPTION_KEYS: ReadonlySet<string> = new Set(Object.keys(schema.shape));
const RETRY_KEYS: ReadonlySet<string> = new Set(Object.keys(retrySchema.shape));
const DPOP_KEYS: ReadonlySet<string> = new Set(['privateKey', 'publicKey', 'algorithm']);

// The schema and the public option type name the same keys (a compile error when one gains a key alone).
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : { readonly missing: Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A> };
const optionKeysMatch: SameKeys<ClientCredentialsClientOptions, typeof schema.shape> = true;
const retryKeysMatch: SameKeys<RetryOptions, typeof retrySchema.shape> = true;
const dpopKeysMatch: SameKeys<DpopOptions, Record<'privateKey' | 'publicKey' | 'algorithm', unknown>> = true;
void [optionKeysMatch, retryKeysMatch, dpopKeysMatch];

/**
 * Unknown keys first: a misspelt option is the cause of what else looks wrong (`clientID` makes
 * `clientId` missing), so it is what the error names.
 */
function checkOptionKeys(input: object): void {
  checkKnownKeys(input, OPTION_KEYS, 'ClientCredentialsClient');
  const { retry, dpop } = input as { retry?: unknown; dpop?: unknown };
  if (isPlainObject(retry)) checkKnownKeys(retry, RETRY_KEYS, 'retry', 'retry.', true);
  // A misspelt member (privatekey) must not silently fall back to a generated key.
  if (isPlainObject(dpop)) checkKnownKeys(dpop, DPOP_KEYS, 'dpop', 'dpop.', true);
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates options and fills in defaults. Throws ConfigurationError naming the first bad option. */
export function normalizeOptions(input: ClientCredentialsClientOptions): NormalizedOptions {
  if (typeof input !== 'object' || input === null) {
    throw new ConfigurationError('(options)', 'an options object is required');
  }
  checkOptionKeys(input);
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const { path, message } = describeIssue(parsed.error.issues[0] as SchemaIssue | undefined, []);
    const option = path.length ? path.map(String).join('.') : '(options)';
    throw new ConfigurationError(option, message);
  }
  const o = input;

  if (o.tokenEndpoint && o.issuer) {
    throw new ConfigurationError('tokenEndpoint', 'give either tokenEndpoint or issuer, not both');
  }
  if (!o.tokenEndpoint && !o.issuer) {
    throw new ConfigurationError('tokenEndpoint', 'one of tokenEndpoint or issuer is required');
  }
  const allowInsecureHttp = o.allowInsecureHttp ?? false;
  if (o.tokenEndpoint) checkEndpointUrl('tokenEndpoint', o.tokenEndpoint, allowInsecureHttp);
  if (o.issuer) checkEndpointUrl('issuer', o.issuer, allowInsecureHttp);

  checkAssertionOptions(o);
  const authMethod = resolveAuthMethod(o);
  checkCredentials(o, authMethod);
  if (typeof o.dpop === 'object') checkDpopOptions(o.dpop);

  checkSelection(o.audience, o.scope, o.resource, o.extraParams);
  const extraParams = { ...(o.extraParams ?? {}) };
  for (const name of Object.keys(extraParams)) {
    if (RESERVED_PARAMS.has(name)) {
      throw new ConfigurationError(
        `extraParams.${name}`,
        `may not set ${name}: grant_type and client authentication are set by the client, and scope, audience and resource have options of their own`,
      );
    }
  }

  for (const name of Object.keys(o.headers ?? {})) {
    // Set by the client: client authentication (exactly one method), the body's type, the DPoP proof,
    // and Accept: application/json (RFC 6749 5.1).
    if (CLIENT_SET_HEADERS.has(name.toLowerCase())) {
      throw new ConfigurationError(`headers.${name}`, 'is set by the client for token requests');
    }
  }

  const retry: NormalizedRetry =
    o.retry === false ? false : { ...DEFAULTS.retry, ...stripUndefined(o.retry ?? {}) };
  if (retry && retry.maxTimeout < retry.minTimeout) {
    throw new ConfigurationError('retry.maxTimeout', 'must not be smaller than retry.minTimeout');
  }

  return Object.freeze({
    tokenEndpoint: o.tokenEndpoint,
    issuer: o.issuer,
    clientId: o.clientId,
    authMethod,
    audience: o.audience,
    scope: Object.freeze(splitScope(o.scope)),
    resource: Object.freeze(toArray(o.resource)),
    extraParams: Object.freeze(extraParams),
    expiryBufferMs: (o.expiryBufferSeconds ?? DEFAULTS.expiryBufferSeconds) * 1000,
    defaultLifetimeMs: (o.defaultLifetimeSeconds ?? DEFAULTS.defaultLifetimeSeconds) * 1000,
    refreshAheadMs: (o.refreshAheadSeconds ?? DEFAULTS.refreshAheadSeconds) * 1000,
    timeoutMs: o.timeoutMs ?? DEFAULTS.timeoutMs,
    allowInsecureHttp,
    retry,
    headers: Object.freeze({ ...(o.headers ?? {}) }),
    maxResponseBytes: DEFAULTS.maxResponseBytes,
    maxPauseMs: retry ? retry.maxPauseMs : DEFAULTS.retry.maxPauseMs,
  });
}

/** The parts of a zod issue used for messages (zod/mini ships no English messages: they are built here). */
interface SchemaIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly expected?: string;
  readonly minimum?: number | bigint;
  readonly maximum?: number | bigint;
  readonly inclusive?: boolean;
  readonly values?: readonly unknown[];
  readonly errors?: readonly (readonly SchemaIssue[])[];
}

const EXPECTED: Readonly<Record<string, string>> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  record: 'an object',
};

/**
 * A message saying what is expected, from the schema alone: never from the input, which may be a secret.
 * For a union (e.g. `retry: false | {...}`), the branch that got furthest names the option.
 */
function describeIssue(
  issue: SchemaIssue | undefined,
  prefix: readonly PropertyKey[],
): { path: readonly PropertyKey[]; message: string } {
  if (!issue) return { path: prefix, message: 'is invalid' };
  const path = [...prefix, ...issue.path];
  if (issue.message && issue.message !== 'Invalid input') return { path, message: issue.message };
  switch (issue.code) {
    case 'invalid_union': {
      const firsts = (issue.errors ?? [])
        .map((branch) => branch[0])
        .filter((i): i is SchemaIssue => i !== undefined);
      const deepest = firsts.reduce<SchemaIssue | undefined>(
        (best, i) => (best === undefined || i.path.length > best.path.length ? i : best),
        undefined,
      );
      if (deepest && deepest.path.length > 0) return describeIssue(deepest, path);
      const expected = [...new Set(firsts.map((i) => describeIssue(i, []).message.replace(/^must be /, '')))];
      return { path, message: expected.length ? `must be ${expected.join(' or ')}` : 'is invalid' };
    }
    case 'invalid_type':
      return { path, message: `must be ${EXPECTED[issue.expected ?? ''] ?? issue.expected ?? 'valid'}` };
    case 'invalid_value':
      return { path, message: `must be ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(' or ')}` };
    case 'too_small':
      return {
        path,
        message: `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${issue.minimum}`,
      };
    case 'too_big':
      return {
        path,
        message: `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${issue.maximum}`,
      };
    default:
      return { path, message: 'is invalid' };
  }
}

/** Splits a scope option (string with spaces, or array) into scope tokens (RFC 6749 3.3). */
export function splitScope(scope: string | readonly string[] | undefined): string[] {
  if (scope === undefined) return [];
  const parts = typeof scope === 'string' ? scope.split(' ') : scope.flatMap((s) => s.split(' '));
  return parts.filter((s) => s.length > 0);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Only https, or http to a loopback host, unless allowInsecureHttp (RFC 6749 3.2: TLS is required). */
export function checkEndpointUrl(option: string, value: string, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(option, 'must be an absolute URL');
  }
  if (url.username || url.password) {
    throw new ConfigurationError(option, 'must not contain credentials');
  }
  if (url.protocol === 'http:') {
    if (!allowInsecureHttp && !isLoopbackHost(url.hostname)) {
      throw new ConfigurationError(
        option,
        'http: is only allowed for loopback hosts; use https, or set allowInsecureHttp when TLS is added outside the process',
      );
    }
  } else if (url.protocol !== 'https:') {
    throw new ConfigurationError(option, `unsupported protocol ${url.protocol}`);
  }
  return url;
}

/** Options that configure assertions this client signs, or a credential of its own. */
const OWN_CREDENTIAL_OPTIONS = [
  'clientSecret',
  'privateKey',
  'certificate',
  'keyId',
  'signingAlgorithm',
  'assertionAudience',
  'assertionTypHeader',
  'assertionLifetimeSeconds',
  'clockSkewSeconds',
  'basicAuthEncoding',
] as const;

/**
 * `clientAssertion` / `clientAssertionFile`: one of them, sent as private_key_jwt, and nothing that
 * would be a second credential or would configure an assertion this client signs (a client uses one
 * authentication method per request, RFC 6749 2.3; the assertion's claims are its issuer's).
 */
function checkAssertionOptions(o: ClientCredentialsClientOptions): void {
  const option =
    o.clientAssertion !== undefined
      ? 'clientAssertion'
      : o.clientAssertionFile !== undefined
        ? 'clientAssertionFile'
        : undefined;
  if (option === undefined) return;
  if (o.clientAssertion !== undefined && o.clientAssertionFile !== undefined) {
    throw new ConfigurationError(
      'clientAssertionFile',
      'give either clientAssertion or clientAssertionFile, not both',
    );
  }
  for (const other of OWN_CREDENTIAL_OPTIONS) {
    if (o[other] !== undefined) {
      throw new ConfigurationError(
        option,
        `cannot be combined with ${other}: a client assertion made elsewhere is the client's only credential, and its claims (iss, sub, aud, exp) are set by its issuer`,
      );
    }
  }
  if (o.authMethod !== undefined && o.authMethod !== 'private_key_jwt') {
    throw new ConfigurationError(
      'authMethod',
      `${option} is sent as private_key_jwt (RFC 7523 2.2); remove authMethod or set it to 'private_key_jwt'`,
    );
  }
}

function resolveAuthMethod(o: ClientCredentialsClientOptions): AuthMethod {
  if (o.authMethod) return o.authMethod;
  if (o.clientAssertion !== undefined || o.clientAssertionFile !== undefined) return 'private_key_jwt';
  if (o.clientSecret !== undefined && o.privateKey !== undefined) {
    throw new ConfigurationError(
      'authMethod',
      'both clientSecret and privateKey are given: name the authMethod to use',
    );
  }
  if (o.privateKey !== undefined) return 'private_key_jwt';
  if (o.clientSecret !== undefined) return 'client_secret_basic';
  if (o.certificate !== undefined) return 'tls_client_auth';
  throw new ConfigurationError(
    'clientSecret',
    'a clientSecret, a privateKey, a certificate, or a clientAssertion / clientAssertionFile is required',
  );
}

// RFC 6749 Appendix A: client_id and client_secret are VSCHAR (%x20-7E).
const VSCHAR = /^[\x20-\x7e]*$/;

/**
 * The checks of a client secret, for the constructor and for each value a `clientSecret` function
 * returns (`where` then says so): a non-empty string of printable ASCII. Messages give a position,
 * never the value.
 */
export function checkClientSecret(value: unknown, where = ''): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigurationError('clientSecret', `must be a non-empty string${where}`);
  }
  const bad = firstNonVschar(value);
  if (bad !== -1) {
    throw new ConfigurationError(
      'clientSecret',
      `contains a character outside printable ASCII at position ${bad}${where} (RFC 6749 Appendix A allows only %x20-7E); check for a trailing newline, smart quotes or a non-ASCII letter`,
    );
  }
  return value;
}

function checkCredentials(o: ClientCredentialsClientOptions, method: AuthMethod): void {
  const badIdChar = firstNonVschar(o.clientId);
  if (badIdChar !== -1) {
    throw new ConfigurationError(
      'clientId',
      `contains a character outside printable ASCII at position ${badIdChar} (RFC 6749 Appendix A allows only %x20-7E); check for a stray newline or a copy-paste artefact`,
    );
  }
  switch (method) {
    case 'client_secret_basic':
    case 'client_secret_post':
    case 'client_secret_json':
    case 'client_secret_jwt': {
      if (o.clientSecret === undefined) {
        throw new ConfigurationError('clientSecret', `is required for ${method}`);
      }
      // A function's values are checked as it returns them.
      if (typeof o.clientSecret === 'string') checkClientSecret(o.clientSecret);
      if (o.privateKey !== undefined) {
        throw new ConfigurationError(
          'privateKey',
          `is not used by ${method}; remove it or choose private_key_jwt`,
        );
      }
      if (method === 'client_secret_jwt' && o.signingAlgorithm && !o.signingAlgorithm.startsWith('HS')) {
        throw new ConfigurationError(
          'signingAlgorithm',
          'client_secret_jwt signs with HS256, HS384 or HS512',
        );
      }
      if (o.basicAuthEncoding === 'none' && method === 'client_secret_basic' && o.clientId.includes(':')) {
        throw new ConfigurationError('basicAuthEncoding', "'none' cannot send a client id that contains ':'");
      }
      break;
    }
    case 'private_key_jwt': {
      if (o.clientAssertion !== undefined || o.clientAssertionFile !== undefined) break;
      if (o.privateKey === undefined) {
        throw new ConfigurationError(
          'privateKey',
          'is required for private_key_jwt (or a clientAssertion / clientAssertionFile made elsewhere)',
        );
      }
      if (typeof o.privateKey === 'function' && o.certificate !== undefined) {
        throw new ConfigurationError(
          'certificate',
          "cannot be combined with a privateKey function: the certificate's x5t#S256 would no longer match a rotated key",
        );
      }
      if (o.clientSecret !== undefined) {
        throw new ConfigurationError(
          'clientSecret',
          'is not used by private_key_jwt; remove it or choose a client_secret_* method',
        );
      }
      if (o.signingAlgorithm?.startsWith('HS')) {
        throw new ConfigurationError('signingAlgorithm', 'private_key_jwt needs an asymmetric algorithm');
      }
      break;
    }
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth': {
      if (o.certificate === undefined && o.dispatcher === undefined) {
        throw new ConfigurationError(
          'certificate',
          `is required for ${method} (or a dispatcher that presents it)`,
        );
      }
      if (o.certificate !== undefined && o.privateKey === undefined && o.dispatcher === undefined) {
        throw new ConfigurationError('privateKey', `the certificate's private key is required for ${method}`);
      }
      if (typeof o.privateKey === 'function') {
        throw new ConfigurationError(
          'privateKey',
          `a function is taken for private_key_jwt only; for ${method} pass the key itself (the TLS client is made once), or a dispatcher that presents the certificate`,
        );
      }
      if (o.clientSecret !== undefined) {
        throw new ConfigurationError('clientSecret', `is not used by ${method}`);
      }
      break;
    }
  }
}

const DPOP_ALGORITHMS: ReadonlySet<string> = new Set(ASYMMETRIC_ALGORITHMS);

/** The shape of `dpop: {...}`; the keys themselves are checked by dpop.ts. */
function checkDpopOptions(dpop: DpopOptions): void {
  if (dpop.algorithm !== undefined && !DPOP_ALGORITHMS.has(dpop.algorithm)) {
    throw new ConfigurationError(
      'dpop.algorithm',
      `must be one of ${[...DPOP_ALGORITHMS].join(', ')} (RFC 9449 4.2: asymmetric)`,
    );
  }
}

/** The index of the first control character (U+0000-U+001F, U+007F) in `value`, or -1. */
export function firstControlCharacter(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return i;
  }
  return -1;
}

function refuseControlCharacters(option: string, value: string): void {
  const at = firstControlCharacter(value);
  if (at !== -1) {
    // The position, never the value: it may be pasted from somewhere secret.
    throw new ConfigurationError(
      option,
      `contains a control character (U+${value.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0')}) at position ${at}; audience, scope, resource and extraParams values may not contain U+0000-U+001F or U+007F`,
    );
  }
}

/**
 * The token selection (audience, scope, resource, extraParams values) has no control characters: the
 * constructor's defaults and every per-call option alike. Types are checked before this is called.
 */
export function checkSelection(
  audience: unknown,
  scope: unknown,
  resource: unknown,
  extraParams: unknown,
): void {
  if (typeof audience === 'string') refuseControlCharacters('audience', audience);
  if (typeof scope === 'string') refuseControlCharacters('scope', scope);
  else if (Array.isArray(scope)) for (const s of scope) refuseControlCharacters('scope', String(s));
  if (typeof resource === 'string') refuseControlCharacters('resource', resource);
  else if (Array.isArray(resource)) for (const r of resource) refuseControlCharacters('resource', String(r));
  if (typeof extraParams === 'object' && extraParams !== null) {
    for (const name of Object.keys(extraParams)) {
      const value = (extraParams as Record<string, unknown>)[name];
      if (typeof value === 'string') refuseControlCharacters(`extraParams.${name}`, value);
    }
  }
}

function firstNonVschar(value: string): number {
  if (VSCHAR.test(value)) return -1;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return i;
  }
  return -1;
}
