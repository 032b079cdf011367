/**
 * Pieces shared by the fetch wrapper and the undici interceptor: the origin allowlist, how a token
 * becomes request headers, and which request bodies can be sent a second time.
 */
import { ConfigurationError } from '../errors.js';
import type { DpopProofSource } from '../http/token-request.js';
import type { GetTokenOptions, Token } from '../types.js';

/** What selects the token: the same per-call options as getToken(). */
export type TokenSelection = Pick<GetTokenOptions, 'audience' | 'scope' | 'resource' | 'extraParams'>;

/** Only the options that are set, so that unset ones fall back to the client's defaults. */
export function tokenSelection(options: TokenSelection): TokenSelection {
  const selection: TokenSelection = {};
  if (options.audience !== undefined) selection.audience = options.audience;
  if (options.scope !== undefined) selection.scope = options.scope;
  if (options.resource !== undefined) selection.resource = options.resource;
  if (options.extraParams !== undefined) selection.extraParams = options.extraParams;
  return selection;
}

/**
 * Validates `allowedOrigins` (origins such as `https://api.example.com` or `http://127.0.0.1:8080`)
 * and returns them serialised as `URL#origin` serialises them (lower-case host, no default port).
 */
export function allowedOriginSet(value: unknown): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const hint = 'must be a non-empty array of origins such as https://api.example.com';
  if (!Array.isArray(value) || value.length === 0) throw new ConfigurationError('allowedOrigins', hint);
  const origins = new Set<string>();
  for (const entry of value) {
    let url: URL | undefined;
    try {
      url = typeof entry === 'string' ? new URL(entry) : undefined;
    } catch {
      url = undefined;
    }
    if (
      url === undefined ||
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.username !== '' ||
      url.password !== '' ||
      url.pathname !== '/' ||
      url.search !== '' ||
      url.hash !== '' ||
      // 'https://api.example.com/x?' leaves an empty search: only scheme://host[:port][/] is an origin.
      !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]+\/?$/i.test(String(entry))
    ) {
      throw new ConfigurationError(
        'allowedOrigins',
        `${hint}; got ${JSON.stringify(String(entry)).slice(0, 120)}`,
      );
    }
    origins.add(url.origin);
  }
  return origins;
}

/** True when the token is to be sent with the DPoP scheme and a proof (RFC 9449 7.1). */
export function usesDpop(token: Token, dpop: DpopProofSource | undefined): dpop is DpopProofSource {
  return dpop !== undefined && token.tokenType.toLowerCase() === 'dpop';
}

/**
 * The Authorization value. A Bearer token's type may come in any case (RFC 6749 5.1: case-insensitive),
 * but the scheme is always written `Bearer`, as RFC 6750 2.1 spells it, since some servers compare it
 * case-sensitively.
 */
export function authorizationValue(token: Token, dpop: boolean): string {
  return `${dpop ? 'DPoP' : 'Bearer'} ${token.accessToken}`;
}

/** RFC 9449 4.2: `htu` is the target URI without query and fragment. */
export function targetUri(origin: string, path: string): string {
  let end = path.length;
  const q = path.indexOf('?');
  if (q !== -1) end = q;
  const h = path.indexOf('#');
  if (h !== -1 && h < end) end = h;
  return origin + path.slice(0, end);
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
