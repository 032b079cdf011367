/**
 * The fetch wrapper behind `client.fetch()` and `client.createFetch()`: a fetch-compatible function that
 * sends the client's access token to a protected API (RFC 6750 2.1, or RFC 9449 7.1 with DPoP).
 *
 * - A caller's own `Authorization` header is left alone and no token is fetched.
 * - A 401 is answered by the one 401 policy of every integration (unauthorized-policy.ts): the refused
 *   token is dropped (only that one), a new one obtained and the request sent once more; a second 401 is
 *   returned. Forced refreshes are rate-limited per cache key (FORCED_REFRESH_INTERVAL_MS): inside the
 *   window its refresh is shared, and a 401 for the newest token is returned as it is.
 * - No error thrown here carries a header value (ours or the caller's): see withoutHeaderValues.
 * - Redirects are followed here, hop by hop, with `redirect: 'manual'` underneath (the fetch standard's
 *   HTTP-redirect fetch, 4.4): every hop is checked against `allowedOrigins`, and once a hop leaves the
 *   first origin no credential header travels any more.
 */
import { ConfigurationError, OriginNotAllowedError } from '../errors.js';
import type { DpopProofSource } from '../http/token-request.js';
import type { SelectedTokens, TokenSource } from '../internal.js';
import { CREATE_FETCH_OPTIONS, checkCallOptions } from '../options/keys.js';
import { withoutHeaderValues } from '../redact/index.js';
import type { Token } from '../types.js';
import {
  BODY_HEADERS,
  CREDENTIAL_HEADERS,
  firstHop,
  type Hop,
  nextHop,
  REDIRECT_STATUSES,
} from './redirects.js';
import {
  allowedOriginSet,
  type Credentials,
  credentialsFor,
  isReplayableBody,
  type OriginAllowlist,
  replacedByOurs,
  type SentScheme,
  type TokenSelection,
  tokenSelection,
} from './shared.js';
import { type AnswerHead, type Exchange, sendWithToken } from './unauthorized-policy.js';

/** Options of `client.createFetch()`: which token, where it may go, and the fetch that sends. */
export interface CreateFetchOptions extends TokenSelection, OriginAllowlist {
  /** The fetch that sends API requests; default: the client's `fetch` option, else the global fetch. */
  fetch?: typeof globalThis.fetch;
}

const HTTP_URL = /^https?:\/\//i;
/** Fetch standard 4.4: the most redirects one fetch follows. */
const MAX_REDIRECTS = 20;
/** Fetch standard method normalisation: these six are upper-cased, every other method is sent as given. */
const NORMALIZED_METHODS: ReadonlySet<string> = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

type FetchInit = RequestInit & { dispatcher?: unknown; duplex?: string };

/** One call, read once from the arguments. */
interface Call {
  readonly input: string | URL | Request;
  readonly init: FetchInit | undefined;
  /** The URL as given; parsed only when needed (allowlist, DPoP, redirects): parsing costs on the hot path. */
  readonly href: string;
  /** The parsed URL, when it was needed already. */
  readonly url: URL | undefined;
  readonly method: string;
  /** The caller's headers (init.headers, else the Request's); copied for every request, never changed. */
  readonly headers: HeadersInit | undefined;
  /** The body to send when it has to be given explicitly (redirect hops; a Request's buffered body). */
  readonly body: BodyInit | null | undefined;
  /** A Request's body was read into `body` and must be passed in init. */
  readonly bufferedRequestBody: boolean;
  /** The body can be sent again (no body, or one that is not a stream). */
  readonly replayable: boolean;
  readonly signal: AbortSignal | undefined;
  /** redirect: 'follow' (followed here) or the caller's 'manual' / 'error' (left to fetch). */
  readonly redirect: RequestRedirect;
}

/** What one send got: the last response of its redirect chain. */
class Sent implements AnswerHead {
  readonly response: Response;
  /** The scheme our token went with on the request that produced `response`; undefined when not sent. */
  readonly scheme: SentScheme | undefined;
  readonly redirected: boolean;

  constructor(response: Response, scheme: SentScheme | undefined, redirected: boolean) {
    this.response = response;
    this.scheme = scheme;
    this.redirected = redirected;
  }

  get status(): number {
    return this.response.status;
  }

  header(name: string): string | null {
    return this.response.headers.get(name);
  }
}

/**
 * Builds the fetch of `client.createFetch(options)`. Options are validated and resolved here, once, so
 * that a call costs a cache lookup and a copy of the caller's headers on top of the fetch itself.
 *
 * @throws {ConfigurationError} bad `allowedOrigins`, `fetch`, or token options
 */
export function createAuthorizedFetch(
  source: TokenSource,
  options: CreateFetchOptions = {},
): typeof globalThis.fetch {
  checkCallOptions(options, CREATE_FETCH_OPTIONS);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new ConfigurationError('fetch', 'must be a fetch-compatible function');
  }
  const wrapper = new AuthorizedFetch(
    source,
    source.select(tokenSelection(options)),
    options.fetch ?? source.fetch,
    allowedOriginSet(options.allowedOrigins),
  );
  const authorizedFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
    wrapper.fetch(input, init);
  return authorizedFetch as typeof globalThis.fetch;
}

class AuthorizedFetch implements Exchange<Call, Sent> {
  readonly #source: TokenSource;
  readonly tokens: SelectedTokens;
  readonly #fetch: typeof globalThis.fetch;
  readonly #allowed: ReadonlySet<string> | undefined;
  readonly #dpop: DpopProofSource | undefined;
  #dispatcher: unknown;
  #dispatcherKnown = false;

  constructor(
    source: TokenSource,
    tokens: SelectedTokens,
    fetch: typeof globalThis.fetch,
    allowed: ReadonlySet<string> | undefined,
  ) {
    this.#source = source;
    this.tokens = tokens;
    this.#fetch = fetch;
    this.#allowed = allowed;
    this.#dpop = source.dpop;
  }

  async fetch(input: string | URL | Request, rawInit: RequestInit | undefined): Promise<Response> {
    const init = rawInit as FetchInit | undefined;
    const request = isRequest(input) ? input : undefined;
    const href = request ? request.url : typeof input === 'string' ? input : String(input);
    let url: URL | undefined;
    if (this.#allowed !== undefined || !HTTP_URL.test(href)) {
      url = new URL(href); // a relative or invalid URL: TypeError, as from fetch, before any token request
      if (this.#allowed !== undefined && !this.#allowed.has(url.origin))
        throw new OriginNotAllowedError(url.origin);
      // data:, blob:, file: ... have no server to authorize with: plain fetch, no token.
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        return this.#sendOnce(input, init, init?.headers);
    }

    const headers = init?.headers !== undefined ? init.headers : request?.headers;
    const callerAuthorization = hasAuthorization(headers);
    // The caller authenticates itself: nothing to add and nothing to follow by hand.
    if (callerAuthorization && this.#allowed === undefined) return this.#sendOnce(input, init, headers);

    const signal = init !== undefined && 'signal' in init ? (init.signal ?? undefined) : request?.signal;
    // As fetch: an aborted signal rejects at once, before a token request is started for nothing.
    signal?.throwIfAborted();
    let token: Token | undefined;
    if (!callerAuthorization) token = await this.tokens.token(signal);
    if (!this.#dispatcherKnown) {
      this.#dispatcher = await this.#source.dispatcher();
      this.#dispatcherKnown = true;
    }

    let body: BodyInit | null | undefined = init?.body;
    let bufferedRequestBody = false;
    if (body == null && request !== undefined && request.body !== null) {
      // A Request's body is a stream that the first request consumes: read it once so that a redirect
      // or the retry after a 401 can send it again. (A ReadableStream given as init.body is not read.)
      body = await request.arrayBuffer();
      bufferedRequestBody = true;
    }
    const call: Call = {
      input,
      init,
      href,
      url,
      method: normalizeMethod(init?.method ?? request?.method ?? 'GET'),
      headers,
      body,
      bufferedRequestBody,
      replayable: isReplayableBody(body),
      signal,
      redirect: init?.redirect ?? request?.redirect ?? 'follow',
    };
    // The caller's own Authorization (under allowedOrigins): sent as it is, its redirects checked here.
    if (token === undefined) return finish(await this.send(call, undefined));
    return finish(await sendWithToken(this, call, token));
  }

  /** Sends the call once, following redirects by hand when the caller asked fetch to follow them. */
  async send(call: Call, token: Token | undefined): Promise<Sent> {
    // The hop a redirect led to; undefined for the first request (whose URL is parsed only when needed).
    let hop: Hop | undefined;
    for (;;) {
      const crossOrigin = hop?.crossOrigin ?? false;
      const method = hop?.method ?? call.method;
      let credentials: Credentials | undefined;
      if (!crossOrigin && token !== undefined) {
        // A DPoP proof is for this hop's method and URL (parsed only then).
        const target = this.#dpop === undefined ? undefined : (hop?.url ?? call.url ?? new URL(call.href));
        const found = credentialsFor(token, this.#dpop, method, target);
        credentials = found instanceof Promise ? await found : found;
      }
      const scheme = credentials?.scheme;
      const headers = requestHeaders(call.headers, credentials, crossOrigin, hop?.dropBody ?? false);

      let response: Response;
      if (hop === undefined) {
        const init: FetchInit = {
          ...call.init,
          headers,
          redirect: call.redirect === 'follow' ? 'manual' : call.redirect,
        };
        if (call.bufferedRequestBody) init.body = call.body;
        if (this.#dispatcher !== undefined && init.dispatcher === undefined)
          init.dispatcher = this.#dispatcher;
        response = await this.#sendOnce(call.input, init, headers);
      } else {
        const init: FetchInit = {
          ...call.init,
          method,
          headers,
          body: hop.dropBody ? null : call.body,
          redirect: 'manual',
          signal: call.signal ?? null,
        };
        if (this.#dispatcher !== undefined && init.dispatcher === undefined)
          init.dispatcher = this.#dispatcher;
        response = await this.#sendOnce(hop.url.href, init, headers);
      }

      if (scheme === 'dpop') {
        const nonce = response.headers.get('dpop-nonce');
        if (nonce) this.#dpop?.rememberNonce((hop?.url ?? call.url ?? new URL(call.href)).origin, nonce);
      }
      if (call.redirect !== 'follow' || !REDIRECT_STATUSES.has(response.status))
        return new Sent(response, scheme, hop !== undefined);
      const location = response.headers.get('location');
      if (location === null) return new Sent(response, scheme, hop !== undefined);

      discard(response);
      hop = nextHop(hop ?? firstHop(call.url ?? new URL(call.href), call.method), response.status, location, {
        maxRedirects: MAX_REDIRECTS,
        allowed: this.#allowed,
        streamBody: !call.replayable,
        failure: 'fetch failed',
      });
    }
  }

  discard(sent: Sent): void {
    discard(sent.response);
  }

  /** One fetch; what it throws never carries a header value. */
  async #sendOnce(
    input: string | URL | Request,
    init: FetchInit | undefined,
    headers: HeadersInit | undefined,
  ): Promise<Response> {
    try {
      return await this.#fetch(input, init);
    } catch (error) {
      throw withoutHeaderValues(error, pairsOf(headers, input));
    }
  }
}

/** The header pairs of a request: ours and the caller's (also those of a Request given as input). */
function pairsOf(headers: HeadersInit | undefined, input: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (source: unknown) => {
    if (source == null || typeof source !== 'object') return;
    if (typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const pair of source as Iterable<readonly [unknown, unknown]>) {
        out.push([String(pair[0]), String(pair[1])]);
      }
      return;
    }
    for (const [name, value] of Object.entries(source)) out.push([name, String(value)]);
  };
  add(headers);
  if (isRequest(input)) add(input.headers);
  return out;
}

function finish(sent: Sent): Response {
  // The hops were separate fetches: tell the caller, as fetch would, that the response was redirected.
  if (sent.redirected)
    Object.defineProperty(sent.response, 'redirected', { value: true, configurable: true });
  return sent.response;
}

/** Frees the connection of a response that is not handed to the caller. */
function discard(response: Response): void {
  response.body?.cancel().catch(() => undefined);
}

/** A Request from any fetch implementation (the global one, undici's, a polyfill). */
function isRequest(input: unknown): input is Request {
  return (
    typeof input === 'object' &&
    input !== null &&
    !(input instanceof URL) &&
    typeof (input as Request).url === 'string' &&
    typeof (input as Request).method === 'string' &&
    typeof (input as Request).arrayBuffer === 'function'
  );
}

function normalizeMethod(method: string): string {
  if (method === 'GET' || method === 'POST') return method;
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/**
 * The headers of one request: the caller's, without the ones this hop must not carry and those ours
 * replace, plus ours. Plain data (a record or [name, value] pairs) that fetch turns into its Headers once:
 * building a Headers object here as well would double the cost on the hot path.
 */
function requestHeaders(
  source: HeadersInit | undefined,
  credentials: Credentials | undefined,
  crossOrigin: boolean,
  dropBodyHeaders: boolean,
): HeadersInit {
  const ours = credentials?.pairs;
  if (source == null) {
    const out: Record<string, string> = {};
    if (ours !== undefined) for (const [name, value] of ours) out[name] = value;
    return out;
  }
  const isPlainRecord =
    typeof (source as Headers).has !== 'function' &&
    typeof (source as Iterable<unknown>)[Symbol.iterator] !== 'function';
  if (isPlainRecord) {
    const out: Record<string, string> = {};
    for (const name of Object.keys(source)) {
      if (!dropped(name, crossOrigin, dropBodyHeaders, credentials))
        out[name] = (source as Record<string, string>)[name] as string;
    }
    if (ours !== undefined) for (const [name, value] of ours) out[name] = value;
    return out;
  }
  const out: Array<[string, string]> = [];
  for (const [name, value] of source as Iterable<readonly [string, string]>) {
    if (!dropped(String(name), crossOrigin, dropBodyHeaders, credentials)) out.push([name, value]);
  }
  if (ours !== undefined) for (const [name, value] of ours) out.push([name, value]);
  return out;
}

function dropped(
  name: string,
  crossOrigin: boolean,
  dropBodyHeaders: boolean,
  credentials: Credentials | undefined,
): boolean {
  if (!crossOrigin && !dropBodyHeaders && credentials === undefined) return false;
  const lower = name.toLowerCase();
  return (
    (crossOrigin && CREDENTIAL_HEADERS.has(lower)) ||
    (dropBodyHeaders && BODY_HEADERS.has(lower)) ||
    replacedByOurs(credentials, lower)
  );
}

/** Whether HeadersInit (Headers, [name, value] pairs or a record) has an Authorization header. */
function hasAuthorization(headers: HeadersInit | undefined): boolean {
  if (headers == null) return false;
  if (typeof (headers as Headers).has === 'function') return (headers as Headers).has('authorization');
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<readonly [string, string]>) {
      if (String(pair[0]).toLowerCase() === 'authorization') return true;
    }
    return false;
  }
  for (const name of Object.keys(headers)) if (name.toLowerCase() === 'authorization') return true;
  return false;
}
