/**
 * The fetch standard's HTTP-redirect fetch (4.4), one hop at a time, for the integrations that follow
 * redirects themselves so that no hop carries a credential it must not: the fetch wrapper (under
 * `redirect: 'follow'`) and axios (in place of follow-redirects). Where the next hop goes, with which
 * method, whether the body goes with it, and whether the chain has left the first origin. (The undici
 * interceptor leaves redirects to undici's redirect interceptor, and sees its hops one by one.)
 */
import { OriginNotAllowedError } from '../errors.js';

/** The statuses whose Location is followed. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Never sent to another origin: ours (Authorization, DPoP) and the usual credential headers. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'dpop',
  'proxy-authorization',
  'cookie',
]);

/** Fetch standard "request-body-header names", dropped when a redirect turns the request into a GET. */
export const BODY_HEADERS: ReadonlySet<string> = new Set([
  'content-encoding',
  'content-language',
  'content-location',
  'content-type',
  'content-length',
]);

/** A request of a redirect chain: the first one, or a hop a redirect led to. */
export interface Hop {
  readonly url: URL;
  readonly method: string;
  /** A redirect turned the request into a GET: no body and no body header from here on (step 12). */
  readonly dropBody: boolean;
  /**
   * The chain has left the first origin: no credential header (CREDENTIAL_HEADERS) from here on, not
   * even back on the first origin. Step 13 drops Authorization only; we drop every credential.
   */
  readonly crossOrigin: boolean;
  /** Redirects followed to get here. */
  readonly redirects: number;
  readonly firstOrigin: string;
}

/** What a chain may do, fixed per request. */
export interface RedirectRules {
  /** The most redirects followed (fetch: 20; axios: the request's `maxRedirects`). */
  readonly maxRedirects: number;
  /** The option that sets the limit, named in the error (axios: `maxRedirects`). */
  readonly limitOption?: string;
  readonly allowed: ReadonlySet<string> | undefined;
  /** The request's body is a stream, which the first request consumed and which cannot be sent again. */
  readonly streamBody: boolean;
  /** How a refused redirect's TypeError begins: `fetch failed` (as fetch's own), `redirect failed`. */
  readonly failure: string;
}

/** The first request of a chain. */
export function firstHop(url: URL, method: string): Hop {
  return { url, method, dropBody: false, crossOrigin: false, redirects: 0, firstOrigin: url.origin };
}

/**
 * The hop that a redirect answer (`status`, `location`) to `hop` leads to.
 *
 * @throws {TypeError} the Location is not an http(s) URL, more than `maxRedirects` redirects, or a stream
 *   body would have to be sent again (step 11)
 * @throws {OriginNotAllowedError} the next hop's origin is not in `allowedOrigins` (nothing is sent there)
 */
export function nextHop(hop: Hop, status: number, location: string, rules: RedirectRules): Hop {
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch (cause) {
    throw new TypeError(`${rules.failure}: the redirect Location is not a valid URL`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`${rules.failure}: redirect to a ${url.protocol} URL`);
  }
  const redirects = hop.redirects + 1;
  if (redirects > rules.maxRedirects) {
    const option = rules.limitOption === undefined ? '' : ` (${rules.limitOption})`;
    throw new TypeError(`${rules.failure}: more than ${rules.maxRedirects} redirects${option}`);
  }
  if (rules.allowed !== undefined && !rules.allowed.has(url.origin))
    throw new OriginNotAllowedError(url.origin);
  // Step 11: a stream body was consumed by the first request and cannot be sent again.
  if (status !== 303 && !hop.dropBody && rules.streamBody) {
    throw new TypeError(`${rules.failure}: cannot follow a redirect with a stream body`);
  }
  // Step 12: 301/302 after POST and 303 (but for GET and HEAD) become a GET without a body.
  const toGet =
    ((status === 301 || status === 302) && hop.method === 'POST') ||
    (status === 303 && hop.method !== 'GET' && hop.method !== 'HEAD');
  return {
    url,
    method: toGet ? 'GET' : hop.method,
    dropBody: hop.dropBody || toGet,
    crossOrigin: hop.crossOrigin || url.origin !== hop.firstOrigin,
    redirects,
    firstOrigin: hop.firstOrigin,
  };
}
