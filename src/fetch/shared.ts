/**
 * Pieces shared by the HTTP-client integrations (the fetch wrapper, the undici interceptor and axios):
 * the token selection and the origin allowlist of their options, how a token becomes request headers
 * (credentialsFor), which request bodies can be sent a second time, and withoutHeaderValues, which keeps
 * header values out of what fetch or undici throw.
 */

import type { OriginNotAllowedError } from '../errors.js';
import { ConfigurationError } from '../errors.js';
import type { DpopProofSource } from '../http/token-request.js';
import type { Token, TokenSelection } from '../types.js';

export type { TokenSelection } from '../types.js';

/** The origin allowlist of the HTTP-client integrations (fetch wrapper, undici interceptor, axios). */
export interface OriginAllowlist {
  /**
   * Origins the token may be sent to, e.g. `['https://api.example.com']`. A request (or a redirect hop)
   * to any other origin fails with {@link OriginNotAllowedError} before anything is sent. Strongly
   * advised for a shared dispatcher or axios instance: without it every request through it carries the
   * token.
   */
  allowedOrigins?: readonly string[];
}

/** Only the options that are set, so that unset ones fall back to the client's defaults. */
export function tokenSelection(options: TokenSelection): TokenSelection {
  const selection: TokenSelection = {};
  if (options.audience !== undefined) selection.audience = options.audience;
  if (options.scope !== undefined) selection.scope = options.scope;
  if (options.resource !== undefined) selection.resource = options.resource;
  if (options.extraParams !== undefined) selection.extraParams = options.extraParams;
  return selection;
}

/** Only scheme://host[:port][/] is an origin ('https://api.example.com?' parses with an empty search). */
const ORIGIN_SYNTAX = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]+\/?$/i;

/**
 * Validates `allowedOrigins` (origins such as `https://api.example.com` or `http://127.0.0.1:8080`)
 * and returns them serialised as `URL#origin` serialises them (lower-case host, no default port).
 * A bad entry is named by its position and its problem, never shown: it may hold a password.
 */
export function allowedOriginSet(value: unknown): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const hint = 'must be a non-empty array of origins such as https://api.example.com';
  if (!Array.isArray(value) || value.length === 0) throw new ConfigurationError('allowedOrigins', hint);
  const origins = new Set<string>();
  for (const [i, entry] of value.entries()) {
    const url = typeof entry === 'string' ? parsedUrl(entry) : null;
    const problem = originProblem(entry, url);
    if (problem !== undefined || url === null) {
      throw new ConfigurationError(
        'allowedOrigins',
        `allowedOrigins[${i}] ${problem ?? 'is not a URL'} (not shown); each entry must be an origin (scheme, host and optional port) such as https://api.example.com`,
      );
    }
    origins.add(url.origin);
  }
  return origins;
}

/** The URL, or null when `text` is not one (URL.parse, which not every runtime has yet). */
function parsedUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** What keeps an allowedOrigins entry from being an origin, in words that never quote it. */
function originProblem(entry: unknown, url: URL | null): string | undefined {
  if (typeof entry !== 'string') return 'is not a string';
  if (url === null) return 'is not a URL';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'is not an http: or https: URL';
  if (url.username !== '' || url.password !== '') return 'has user info';
  if (url.pathname !== '/') return 'has a path';
  if (url.search !== '' || (!ORIGIN_SYNTAX.test(entry) && entry.includes('?'))) return 'has a query';
  if (url.hash !== '' || (!ORIGIN_SYNTAX.test(entry) && entry.includes('#'))) return 'has a fragment';
  if (!ORIGIN_SYNTAX.test(entry)) return 'is not written scheme://host[:port]';
  return undefined;
}

/** The scheme our token went with: `Bearer` (RFC 6750) or `DPoP` (RFC 9449). */
export type SentScheme = 'bearer' | 'dpop';

/** The credential headers one request carries with our token. */
export interface Credentials {
  readonly scheme: SentScheme;
  /** `[name, value]`, names in lower case: `authorization`, and `dpop` with the DPoP scheme. */
  readonly pairs: ReadonlyArray<readonly [string, string]>;
}

/** Where a request goes, for its DPoP proof: the origin (as `URL#origin` serialises it) and the path. */
export interface RequestTarget {
  readonly origin: string;
  /** The path; a query in it is left out of the proof's `htu`. */
  readonly pathname: string;
}

/**
 * The credential headers of one request with `token`, the one place every integration gets them from:
 * `Authorization: Bearer <token>` (RFC 6750 2.1; the scheme is written so whatever case the token type
 * came in, RFC 6749 5.1, since some servers compare it case-sensitively), or, for a DPoP-bound token
 * with DPoP on, `Authorization: DPoP <token>` and a fresh proof for this method and target (RFC 9449
 * 7.1: one per request, redirect hop and repeat).
 *
 * Ours replace the caller's headers of the same names ({@link replacedByOurs}): a `DPoP` header of the
 * caller's gives way to our proof, and stays when our token goes as Bearer. A request with the caller's
 * own `Authorization` gets none of this: each integration passes it through as it is.
 *
 * @param method the method exactly as the request sends it (`htm`)
 * @param target read for DPoP only
 */
export function credentialsFor(
  token: Token,
  dpop: DpopProofSource | undefined,
  method: string,
  target: RequestTarget | undefined,
): Credentials | Promise<Credentials> {
  if (dpop === undefined || token.tokenType.toLowerCase() !== dpop.tokenType) {
    return { scheme: 'bearer', pairs: [['authorization', `Bearer ${token.accessToken}`]] };
  }
  return dpopCredentials(token, dpop, method, target);
}

async function dpopCredentials(
  token: Token,
  dpop: DpopProofSource,
  method: string,
  target: RequestTarget | undefined,
): Promise<Credentials> {
  if (target === undefined) throw new TypeError('m2m-token: DPoP needs the request origin (opts.origin)');
  const proof = await dpop.proof(method, target.origin, target.pathname, token.accessToken);
  return {
    scheme: 'dpop',
    pairs: [
      ['authorization', `DPoP ${token.accessToken}`],
      ['dpop', proof],
    ],
  };
}

/** Whether our credentials replace the caller's header `name` (lower case): it has the name of one of ours. */
export function replacedByOurs(credentials: Credentials | undefined, name: string): boolean {
  if (credentials === undefined) return false;
  for (const [ours] of credentials.pairs) if (ours === name) return true;
  return false;
}

/** `Symbol.toStringTag` of an object (works for classes from another copy of undici or another realm). */
function tagOf(value: object): unknown {
  return (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
}

/**
 * Bodies that can be sent again as they are: fetch and undici read them afresh for every request.
 * Streams and (async) iterables are consumed by the first request and cannot.
 */
export function isReplayableBody(body: unknown): boolean {
  if (body === null || body === undefined || typeof body === 'string') return true;
  if (typeof body !== 'object') return false;
  if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer) return true;
  const tag = tagOf(body);
  return (
    tag === 'URLSearchParams' ||
    tag === 'FormData' ||
    tag === 'Blob' ||
    tag === 'File' ||
    tag === 'ArrayBuffer' ||
    tag === 'SharedArrayBuffer'
  );
}

/**
 * True for a character no header value may hold (RFC 9110 5.5: field-value is VCHAR, obs-text, SP and
 * HTAB; fetch and undici refuse CR, LF and NUL, and a ByteString cannot hold code points above U+00FF).
 */
function isInvalidFieldChar(c: number): boolean {
  return (c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff;
}

/** The value's runs between invalid characters, and whether there was one. */
function fieldValueRuns(value: string): { runs: string[]; invalid: boolean } {
  const runs: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (isInvalidFieldChar(value.charCodeAt(i))) {
      runs.push(value.slice(start, i));
      start = i + 1;
    }
  }
  if (start === 0) return { runs: [value], invalid: false };
  runs.push(value.slice(start), value);
  return { runs, invalid: true };
}

/** Values at least this long are looked for in error messages (shorter ones would match by chance). */
const MIN_LOOKED_FOR = 8;

function messagesOf(error: unknown): string[] {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error || typeof current === 'object') {
      const e = current as { message?: unknown; stack?: unknown; cause?: unknown };
      if (typeof e.message === 'string') out.push(e.message);
      if (typeof e.stack === 'string') out.push(e.stack);
      current = e.cause;
    } else {
      out.push(String(current));
      break;
    }
  }
  return out;
}

/**
 * What fetch or undici threw while sending a request, made safe to hand over: no header value (our
 * token or DPoP proof, or a header of the caller's) may travel in an error (issue 12.5). fetch says
 * `Headers.append: "Bearer <token>" is an invalid header value`; such an error becomes a TypeError that
 * names the header, not its value, and the original is kept as `cause` only when no value is in it.
 * Any other error is handed over unchanged.
 */
export function withoutHeaderValues(
  error: unknown,
  headers: ReadonlyArray<readonly [string, string]>,
): unknown {
  const texts = messagesOf(error);
  const leaks = (value: string) =>
    value.length >= MIN_LOOKED_FOR && texts.some((text) => text.includes(value));
  let invalid: string | undefined;
  let leaked: string | undefined;
  for (const [name, value] of headers) {
    // A value that fetch echoes may be cut at an invalid character: look for each of its parts too.
    const { runs, invalid: bad } = fieldValueRuns(value);
    if (invalid === undefined && bad) invalid = name;
    if (leaked === undefined && runs.some(leaks)) leaked = name;
  }
  const name = invalid ?? leaked;
  if (name === undefined) return error;
  const safeCause = leaked === undefined && !/invalid header value|header value/i.test(texts.join('\n'));
  return new TypeError(
    `fetch failed: the ${name.toLowerCase()} header has a value that cannot be sent (RFC 9110 5.5: no CR, LF, NUL or other control characters); the value is not shown`,
    safeCause ? { cause: error } : undefined,
  );
}
