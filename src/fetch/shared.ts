/**
 * Pieces shared by the HTTP-client integrations (the fetch wrapper, the undici interceptor and axios):
 * the token selection and the origin allowlist of their options, how a token becomes request headers
 * (credentialsFor), and which request bodies can be sent a second time. What fetch or undici throw is
 * made safe to hand over by src/redact/errors.ts (withoutHeaderValues).
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
    return { scheme: 'bearer', pairs: [['authorization', authorizationFor(token, 'bearer')]] };
  }
  return dpopCredentials(token, dpop, method, target);
}

/**
 * The Authorization value of `token` sent with `scheme`: `Bearer <token>` spelled so whatever case the
 * token type came in (RFC 6750 2.1), or `DPoP <token>` (RFC 9449 7.1, with a proof beside it).
 */
export function authorizationFor(token: Token, scheme: SentScheme): string {
  return `${scheme === 'dpop' ? 'DPoP' : 'Bearer'} ${token.accessToken}`;
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
      ['authorization', authorizationFor(token, 'dpop')],
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
