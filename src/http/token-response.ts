/**
 * Judges a token endpoint's answer: a Token (RFC 6749 5.1), an OAuthError (5.2) or an HttpError.
 */
import { decodeJwt } from 'jose';
import * as z from 'zod/mini';
import { ErrorCode, HttpError, OAuthError } from '../errors.js';
import type { Token } from '../types.js';

/** `expires_in` above this (one year) is capped: no cache should trust a token longer. */
export const MAX_EXPIRES_IN_SECONDS = 365 * 24 * 3600;

const SNIPPET_LENGTH = 200;

const errorBodySchema = z.looseObject({
  error: z.string().check(z.minLength(1)),
  error_description: z.optional(z.string()),
  error_uri: z.optional(z.string()),
});

const tokenBodySchema = z.looseObject({
  access_token: z.string().check(z.minLength(1, 'access_token must be a non-empty string')),
  token_type: z.string().check(z.minLength(1, 'token_type must be a non-empty string')),
  // null is read as absent; a scope that is not a string is ignored (it stays in raw).
  expires_in: z.optional(z.nullable(z.union([z.number(), z.string()]))),
  scope: z.optional(z.unknown()),
});

/** Result of a successful token request, before it is cached. */
export interface ParsedToken {
  readonly token: Token;
  /** Lifetime in ms as the server stated it (expires_in), or as derived from the JWT exp. */
  readonly expiresInMs?: number;
}

export interface ParseContext {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  /** Epoch ms when the request was sent: `expires_in` counts from here. */
  readonly sentAt: number;
  /** Accepted token types, lower-case ('bearer', and 'dpop' when DPoP is on). */
  readonly acceptedTokenTypes: ReadonlySet<string>;
  /** Removes this client's own secret from a snippet. */
  readonly redact: (text: string) => string;
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
      // The fields come from the server, which may echo what it received: scrub them like a snippet.
      const clean = (text: string | undefined) => (text === undefined ? undefined : scrub(text, ctx.redact));
      throw new OAuthError({
        error: clean(error.data.error.slice(0, 200)) as string,
        errorDescription: clean(error.data.error_description?.slice(0, 1000)),
        errorUri: clean(error.data.error_uri?.slice(0, 1000)),
        status,
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
    throw new HttpError(`token endpoint answered ${status} with ${kind}`, {
      status,
      bodySnippet: snippet(ctx.body, ctx.redact),
    });
  }
  if (json === undefined) {
    const kind = ctx.body.trim() === '' ? 'an empty body' : 'a body that is not a JSON object';
    throw invalid(ctx, `token endpoint answered ${status} with ${kind}`);
  }

  const parsed = tokenBodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path[0] !== undefined ? String(issue.path[0]) : 'body';
    const what = field in json ? `has an invalid ${field}` : `is missing ${field}`;
    throw invalid(ctx, `token response ${what} (RFC 6749 5.1)`);
  }
  const body = parsed.data;

  // RFC 6749 7.1: a client must not use a token whose type it does not understand.
  const tokenType = body.token_type;
  if (!ctx.acceptedTokenTypes.has(tokenType.toLowerCase())) {
    throw invalid(
      ctx,
      `token_type "${scrub(tokenType.slice(0, 40), ctx.redact)}" cannot be used by this client (RFC 6749 7.1)`,
    );
  }

  let expiresInMs: number | undefined;
  if (body.expires_in !== undefined && body.expires_in !== null) {
    const seconds = typeof body.expires_in === 'number' ? body.expires_in : parseNumeric(body.expires_in);
    if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
      throw invalid(
        ctx,
        'token response has an invalid expires_in (expected a non-negative number of seconds)',
      );
    }
    expiresInMs = Math.min(seconds, MAX_EXPIRES_IN_SECONDS) * 1000;
  }

  let expiresAt = expiresInMs === undefined ? undefined : ctx.sentAt + expiresInMs;
  if (expiresAt === undefined) {
    // No expires_in: learn the expiry from a JWT access token's exp (decoded, not verified).
    const exp = jwtExpiry(body.access_token);
    if (exp !== undefined) {
      expiresAt = Math.min(exp, ctx.sentAt + MAX_EXPIRES_IN_SECONDS * 1000);
      expiresInMs = Math.max(0, expiresAt - ctx.sentAt);
    }
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
    expiresInMs,
  };
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

type Inspect = (value: unknown, options: unknown) => string;

/*
 * `util.inspect` (and so console.log) shows tokens and raw responses with the secrets redacted.
 * Tokens stay plain frozen objects (so they compare and serialise like data); the inspect hook is a
 * non-enumerable property holding one shared function, not a per-token closure, so a cached entry
 * stays small. JSON serialisation keeps everything, since shared caches must store it.
 */
function inspectRaw(
  this: Record<string, unknown>,
  _depth: number,
  options: unknown,
  inspect: Inspect,
): string {
  return inspect(redactedView(this), options);
}

function inspectToken(this: Token, _depth: number, options: unknown, inspect: Inspect): string {
  return `Token ${inspect({ ...this, accessToken: '[redacted]', raw: redactedView(this.raw) }, options)}`;
}

/** Builds a frozen Token (its `raw` frozen too) whose inspect output hides the token. */
export function makeToken(
  accessToken: string,
  tokenType: string,
  expiresAt: number | undefined,
  scope: string | undefined,
  raw: Record<string, unknown>,
): Token {
  const rawCopy: Record<string, unknown> = { ...raw };
  Object.defineProperty(rawCopy, INSPECT, { value: inspectRaw });
  const token: { -readonly [K in keyof Token]: Token[K] } = {
    accessToken,
    tokenType,
    raw: Object.freeze(rawCopy),
  };
  if (expiresAt !== undefined) token.expiresAt = expiresAt;
  if (scope !== undefined) token.scope = scope;
  Object.defineProperty(token, INSPECT, { value: inspectToken });
  return Object.freeze(token);
}

function redactedView(raw: Record<string, unknown>): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    view[name] =
      /^(access_token|refresh_token|id_token|issued_token)$|secret|assertion/i.test(name) &&
      typeof value === 'string'
        ? '[redacted]'
        : value;
  }
  return view;
}

function withBodyCredentials(
  redact: (text: string) => string,
  json: Record<string, unknown> | undefined,
): (text: string) => string {
  const values = ['access_token', 'refresh_token', 'id_token']
    .map((name) => json?.[name])
    .filter((v): v is string => typeof v === 'string' && v.length >= 8);
  if (values.length === 0) return redact;
  return (text) => values.reduce((t, v) => t.split(v).join('[redacted]'), redact(text));
}

function parseNumeric(value: string): number | undefined {
  return /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : undefined;
}

function jwtExpiry(accessToken: string): number | undefined {
  if (accessToken.split('.').length !== 3) return undefined;
  try {
    const { exp } = decodeJwt(accessToken);
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Any body that parses as a JSON object is accepted whatever its Content-Type: servers that send
 * `text/plain` or `text/html` with a valid token body exist, and the body itself is validated.
 */
function parseJsonObject(body: string): Record<string, unknown> | undefined {
  const trimmed = body.trimStart();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function invalid(ctx: ParseContext, message: string): HttpError {
  return new HttpError(message, {
    status: ctx.status,
    bodySnippet: snippet(ctx.body, ctx.redact),
    code: ErrorCode.HTTP,
  });
}

// The closing quote is optional: a body cut at the read limit may end inside the value.
const SENSITIVE_FIELD =
  /("(?:access_?token|refresh_?token|id_?token|client_?secret|client_?assertion|assertion|password|secret|token)"\s*:\s*)"(?:[^"\\]|\\.)*"?/gi;
/** The same fields in a form-encoded echo of the request (`client_secret=...&`). */
const SENSITIVE_FORM_FIELD =
  /\b((?:access_?token|refresh_?token|id_?token|client_?secret|client_?assertion|assertion|password|secret|token)=)[^&\s"'<>]*/gi;
/** A Basic or Bearer credential in an echoed header (base64-like: holds a digit, '+', '/' or '='). */
const CREDENTIAL_HEADER = /\b(Basic|Bearer|DPoP)\s+(?=[\w+/=.~-]*[\d+/=])[\w+/=.~-]{8,}/g;
const JWT_LIKE = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;

/** Removes this client's secret, credential-looking fields and JWTs from text the server sent. */
export function scrub(text: string, redact: (text: string) => string): string {
  return redact(text)
    .replace(SENSITIVE_FIELD, '$1"[redacted]"')
    .replace(SENSITIVE_FORM_FIELD, '$1[redacted]')
    .replace(CREDENTIAL_HEADER, '$1 [redacted]')
    .replace(JWT_LIKE, '[redacted-jwt]');
}

/** A short, redacted start of a body, for error messages and `bodySnippet`. */
export function snippet(body: string, redact: (text: string) => string): string | undefined {
  if (body.length === 0) return undefined;
  const cleaned = scrub(body.slice(0, 4096), redact).replace(/\s+/g, ' ').trim();
  return cleaned.length > SNIPPET_LENGTH ? `${cleaned.slice(0, SNIPPET_LENGTH)}…` : cleaned;
}
