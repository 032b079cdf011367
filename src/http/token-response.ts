/**
 * Judges a token endpoint's answer: a Token (RFC 6749 5.1), an OAuthError (5.2) or an HttpError.
 */
import * as z from 'zod/mini';
import { ErrorCode, HttpError, OAuthError } from '../errors.js';
import {
  clip,
  combine,
  knownValues,
  type Redactor,
  redactJson,
  scrub,
  scrubAndClip,
  sensitiveValues,
} from '../redact/index.js';
import type { Token } from '../types.js';
import { decodeJwtClaims } from './jwt-claims.js';
import { parseJsonObject } from './read-body.js';
import { type RequestContext, tokenRequestHint, withClientId } from './token-errors.js';

/** `expires_in` above this (one year) is capped: no cache should trust a token longer. */
export const MAX_EXPIRES_IN_SECONDS = 365 * 24 * 3600;

/** Lengths of the server text shown in errors, each cut only after redaction (src/redact/). */
export const SHOWN_LENGTH = {
  error: 200,
  errorDescription: 1000,
  errorUri: 1000,
  tokenType: 40,
  bodySnippet: 200,
} as const;

/**
 * An access token the client can use: RFC 6749 Appendix A.12, access-token = 1*VSCHAR (VSCHAR =
 * %x20-7E), that neither begins nor ends with a space, since a header value cannot (RFC 9110 5.5: fetch
 * trims it, and the API would receive another token than the one issued).
 */
const ACCESS_TOKEN = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/;

/** Whether `value` is an access token the client can use and send ({@link ACCESS_TOKEN}). */
export function isUsableAccessToken(value: string): boolean {
  return ACCESS_TOKEN.test(value);
}

const errorBodySchema = z.looseObject({
  error: z.string().check(z.minLength(1)),
  error_description: z.optional(z.string()),
  error_uri: z.optional(z.string()),
});

const tokenBodySchema = z.looseObject({
  access_token: z
    .string()
    .check(
      z.minLength(1, 'access_token must be a non-empty string'),
      z.regex(ACCESS_TOKEN, 'access_token must be 1*VSCHAR, with no space at either end'),
    ),
  token_type: z.string().check(z.minLength(1, 'token_type must be a non-empty string')),
  // null is read as absent; a scope that is not a string is ignored (it stays in raw).
  expires_in: z.optional(z.nullable(z.union([z.number(), z.string()]))),
  scope: z.optional(z.unknown()),
});

/** Result of a successful token request, before it is cached. */
export interface ParsedToken {
  readonly token: Token;
}

export interface ParseContext {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  /** Epoch ms when the request was sent: `expires_in` counts from here. */
  readonly sentAt: number;
  /** Accepted token types, lower-case ('bearer', and 'dpop' when DPoP is on). */
  readonly acceptedTokenTypes: ReadonlySet<string>;
  /** Removes this client's own credentials (and those sent with this request) from shown text. */
  readonly redact: Redactor;
  /** Where the request went and who sent it: named in error messages, with hints. */
  readonly request?: RequestContext;
}

/** Turns the answer into a Token or throws OAuthError / HttpError. Never includes a token in an error. */
export function parseTokenResponse(input: ParseContext): ParsedToken {
  const { status } = input;
  const json = parseJsonObject(input.body);
  // Credentials this very body carries are removed wherever else they appear (an error_description or
  // token_type that repeats the access token), not only from their own fields.
  const ctx: ParseContext = { ...input, redact: withBodyCredentials(input.redact, json) };

  // Only a body with an `error` member can be an error body: skip the schema otherwise (hot path).
  if (json !== undefined && 'error' in json) {
    const error = errorBodySchema.safeParse(json);
    // RFC 6749 5.2: an error body. A 2xx that carries `error` is a failure too.
    if (error.success) {
      // The fields come from the server, which may echo what it received: redacted whole, then cut.
      const shown = (text: string | undefined, max: number) =>
        text === undefined ? undefined : scrubAndClip(text, max, ctx.redact);
      const code = shown(error.data.error, SHOWN_LENGTH.error) as string;
      throw new OAuthError({
        error: code,
        errorDescription: shown(error.data.error_description, SHOWN_LENGTH.errorDescription),
        errorUri: shown(error.data.error_uri, SHOWN_LENGTH.errorUri),
        status,
        ...(ctx.request
          ? {
              endpoint: ctx.request.endpoint,
              clientId: ctx.request.auth.clientId,
              hint: tokenRequestHint(status, code, ctx.request),
            }
          : {}),
      });
    }
  }
  if (status < 200 || status >= 300) {
    const kind =
      json === undefined
        ? ctx.body.trim() === ''
          ? 'an empty body'
          : 'a body that is not JSON'
        : 'a JSON body without an OAuth error';
    throw new HttpError(withRequest(ctx, `${where(ctx)} answered ${status} with ${kind}`), {
      status,
      bodySnippet: snippet(ctx.body, json, ctx.redact),
      hint: ctx.request && tokenRequestHint(status, undefined, ctx.request),
    });
  }
  if (json === undefined) {
    const kind = ctx.body.trim() === '' ? 'an empty body' : 'a body that is not a JSON object';
    throw invalid(ctx, `${where(ctx)} answered ${status} with ${kind}`);
  }

  const parsed = tokenBodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path[0] !== undefined ? String(issue.path[0]) : 'body';
    if (field === 'access_token' && typeof json.access_token === 'string' && json.access_token !== '') {
      // Never shown: it may be a real token carrying CR, LF or NUL (a header injection, or a
      // broken server), and it is not cached.
      throw invalid(
        ctx,
        `${where(ctx)} answered with an access_token that is not 1*VSCHAR (printable ASCII, RFC 6749 Appendix A.12) or begins or ends with a space (a header value cannot); its value is not shown`,
      );
    }
    const what = field in json ? `an invalid ${field}` : `no ${field}`;
    throw invalid(ctx, `${where(ctx)} answered with a token response that has ${what} (RFC 6749 5.1)`);
  }
  const body = parsed.data;

  // RFC 6749 7.1: a client must not use a token whose type it does not understand.
  const tokenType = body.token_type;
  if (!ctx.acceptedTokenTypes.has(tokenType.toLowerCase())) {
    throw invalid(
      ctx,
      `${where(ctx)} answered with token_type "${scrubAndClip(tokenType, SHOWN_LENGTH.tokenType, ctx.redact)}", which this client cannot use (RFC 6749 7.1)`,
    );
  }

  let expiresAt: number | undefined;
  if (body.expires_in !== undefined && body.expires_in !== null) {
    const seconds = typeof body.expires_in === 'number' ? body.expires_in : parseNumeric(body.expires_in);
    if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
      throw invalid(
        ctx,
        `${where(ctx)} answered with an invalid expires_in (expected a non-negative number of seconds)`,
      );
    }
    expiresAt = ctx.sentAt + Math.min(seconds, MAX_EXPIRES_IN_SECONDS) * 1000;
  } else {
    // No expires_in: learn the expiry from a JWT access token's exp (decoded, not verified).
    const exp = jwtExpiry(body.access_token);
    if (exp !== undefined) expiresAt = Math.min(exp, ctx.sentAt + MAX_EXPIRES_IN_SECONDS * 1000);
  }

  // RFC 6749 4.4.3: no refresh token should be issued; one that is, is ignored and not kept.
  const { refresh_token: _ignored, ...raw } = json;
  return {
    token: makeToken(
      body.access_token,
      tokenType,
      expiresAt,
      typeof body.scope === 'string' ? body.scope : undefined,
      raw,
    ),
  };
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

type Inspect = (value: unknown, options: unknown) => string;

/*
 * `util.inspect` (and so console.log) and `JSON.stringify` (and so JSON loggers such as pino) show
 * tokens and raw responses with the credentials redacted: members named like credentials at any depth,
 * and the values of those (the access token first) wherever else they are in the token or its raw
 * response, whatever the member's name (`jwt: <the token>`). Tokens stay plain frozen objects (so they
 * compare like data); the hooks are non-enumerable properties holding shared functions, not per-token
 * closures, so a cached entry stays small, and a spread (`{ ...token }`) copies the data without them.
 * Code that must store the real token (a shared cache) serialises its fields explicitly: see
 * src/redis/codec.ts.
 */
function inspectRaw(
  this: Record<string, unknown>,
  _depth: number,
  options: unknown,
  inspect: Inspect,
): string {
  return inspect(rawToJSON.call(this), options);
}

function inspectToken(this: Token, _depth: number, options: unknown, inspect: Inspect): string {
  return `Token ${inspect(tokenToJSON.call(this), options)}`;
}

/**
 * What a token response shows: every credential member ([redacted] by name, at any depth), and their
 * values (the access token, an id_token...) removed from every other string, by value.
 */
function rawToJSON(this: Record<string, unknown>): Record<string, unknown> {
  return redactJson(
    this,
    redactorOf(this, () => sensitiveValues(this)),
  ) as Record<string, unknown>;
}

/** The same for a Token: its access token is known by value too (and `accessToken` is redacted by name). */
function tokenToJSON(this: Token): Record<string, unknown> {
  const redact = redactorOf(this, () => [this.accessToken, ...sensitiveValues(this.raw)]);
  return redactJson({ ...this }, redact) as Record<string, unknown>;
}

/** The redactor of a token or its raw response, made on first use and kept with it (both are frozen). */
const redactors = new WeakMap<object, Redactor>();
function redactorOf(owner: object, values: () => string[]): Redactor {
  let redact = redactors.get(owner);
  if (redact === undefined) {
    redact = knownValues(values());
    redactors.set(owner, redact);
  }
  return redact;
}

/** Builds a frozen Token (its `raw` frozen too) whose inspect and JSON output hide the token. */
export function makeToken(
  accessToken: string,
  tokenType: string,
  expiresAt: number | undefined,
  scope: string | undefined,
  raw: Record<string, unknown>,
): Token {
  // Plain frozen objects, so that they compare like data (assert.deepStrictEqual against a literal also
  // compares prototypes); the hooks are non-enumerable own properties holding shared functions. They are
  // defined first, on an empty object, and the data after: every token (and every raw response of one
  // shape) then shares one chain of hidden classes, and costs what its fields cost (a spread of a parsed
  // body followed by defineProperty cost ~3x as much per object).
  const rawCopy = withHooks(inspectRaw, rawToJSON);
  for (const name of Object.keys(raw)) {
    // A member named toJSON would shadow the redaction: the hook stands in for it.
    if (name === 'toJSON') continue;
    // `__proto__` (an own member as JSON.parse made it) is copied as data, never through the setter.
    if (name === '__proto__') {
      Object.defineProperty(rawCopy, name, {
        value: raw[name],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      rawCopy[name] = raw[name];
    }
  }
  const token = withHooks(inspectToken, tokenToJSON) as { -readonly [K in keyof Token]?: Token[K] };
  token.accessToken = accessToken;
  token.tokenType = tokenType;
  token.raw = Object.freeze(rawCopy);
  if (expiresAt !== undefined) token.expiresAt = expiresAt;
  if (scope !== undefined) token.scope = scope;
  return Object.freeze(token as Token);
}

/** An empty plain object with these inspect and toJSON hooks as non-enumerable own properties. */
function withHooks(inspect: (...args: never[]) => string, toJSON: () => unknown): Record<string, unknown> {
  const target: Record<string, unknown> = {};
  Object.defineProperty(target, INSPECT, { value: inspect });
  Object.defineProperty(target, 'toJSON', { value: toJSON });
  return target;
}

/**
 * True for a Token made by {@link makeToken} in this copy of the package (a cache entry holding one needs
 * no check): its own inspect hook is this module's function, which parsed or copied data cannot hold.
 */
export function isMadeToken(value: unknown): value is Token {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.hasOwn(value, INSPECT) &&
    (value as Record<symbol, unknown>)[INSPECT] === inspectToken
  );
}

/** The credentials this very body carries (access, refresh and id tokens), removed wherever they appear. */
function withBodyCredentials(redact: Redactor, json: Record<string, unknown> | undefined): Redactor {
  if (json === undefined) return redact;
  const values = ['access_token', 'refresh_token', 'id_token']
    .map((name) => json[name])
    .filter((v): v is string => typeof v === 'string');
  return values.length === 0 ? redact : combine(redact, knownValues(values));
}

function parseNumeric(value: string): number | undefined {
  return /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : undefined;
}

function jwtExpiry(accessToken: string): number | undefined {
  const exp = decodeJwtClaims(accessToken)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}

/** `token endpoint <url>`, or just `token endpoint` without a request context. */
function where(ctx: ParseContext): string {
  return ctx.request ? `token endpoint ${ctx.request.endpoint}` : 'token endpoint';
}

/** The message with the client id appended. */
function withRequest(ctx: ParseContext, message: string): string {
  return ctx.request ? withClientId(message, ctx.request) : message;
}

function invalid(ctx: ParseContext, message: string): HttpError {
  return new HttpError(withRequest(ctx, message), {
    status: ctx.status,
    bodySnippet: snippet(ctx.body, parseJsonObject(ctx.body), ctx.redact),
    code: ErrorCode.HTTP,
  });
}

/**
 * A short, redacted start of a body, for `bodySnippet`. A JSON body is shown re-serialised with every
 * credential member replaced (whatever its spelling in the text: escapes cannot hide one); any body is
 * then scrubbed whole and only then cut.
 */
export function snippet(
  body: string,
  json: Record<string, unknown> | undefined,
  redact: Redactor,
): string | undefined {
  if (body.trim().length === 0) return undefined;
  const text = json === undefined ? body : JSON.stringify(redactJson(json));
  return clip(scrub(text, redact).replace(/\s+/g, ' ').trim(), SHOWN_LENGTH.bodySnippet);
}
