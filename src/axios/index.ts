/**
 * m2m-token/axios: `attachBearer(axiosInstance, client, options)`, the fetch wrapper's rules for axios.
 *
 * - `Authorization: Bearer <token>` (or `DPoP <token>` and a fresh proof) unless the request has its own
 *   Authorization (a header, or axios' `auth` option);
 * - a 401 that refuses the token is answered by the one 401 policy of every integration
 *   (fetch/unauthorized-policy.ts): the refused token is dropped, one coalesced refresh (rate-limited
 *   per cache key) and one repeat, for bodies that can be sent again; a second 401 is the answer;
 * - `allowedOrigins` is checked before anything is sent, on every redirect hop too;
 * - redirects of requests that carry the token are followed here, hop by hop (axios underneath with
 *   `maxRedirects: 0`): once a hop leaves the first origin, no credential header travels any more
 *   (follow-redirects would keep `DPoP`, and `Authorization` for a subdomain).
 *
 * It wraps the instance's adapter (the last step before the network, as the undici interceptor wraps a
 * dispatcher): the request it sees is final (interceptors applied, body serialised), so a repeat sends
 * exactly the same bytes and runs no interceptor or transform twice. axios is an optional peer
 * dependency: only this entry imports it.
 *
 * @example
 * ```ts
 * import axios from 'axios';
 * import { ClientCredentialsClient } from 'm2m-token';
 * import { attachBearer } from 'm2m-token/axios';
 *
 * const client = new ClientCredentialsClient({
 *   tokenEndpoint: 'https://idp.example.com/oauth/token',
 *   clientId: 'gift-deliveries',
 *   clientSecret: 'secret',
 * });
 * const api = axios.create({ baseURL: 'https://api.example.com' });
 * const eject = attachBearer(api, client, {
 *   audience: 'urn:worldmappers',
 *   allowedOrigins: ['https://api.example.com'],
 * });
 * const { data } = await api.get('/api/routes');
 * eject(); // requests through `api` no longer get a token
 * ```
 * @module
 */
import axios, {
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import type { ClientCredentialsClient } from '../client.js';
import { ConfigurationError, OriginNotAllowedError } from '../errors.js';
import {
  BODY_HEADERS,
  CREDENTIAL_HEADERS,
  firstHop,
  nextHop,
  REDIRECT_STATUSES,
  type RedirectRules,
} from '../fetch/redirects.js';
import {
  allowedOriginSet,
  credentialsFor,
  isReplayableBody,
  type OriginAllowlist,
  type SentScheme,
  type TokenSelection,
  tokenSelection,
} from '../fetch/shared.js';
import { type AnswerHead, type Exchange, sendWithToken } from '../fetch/unauthorized-policy.js';
import type { DpopProofSource } from '../http/token-request.js';
import { type SelectedTokens, type TokenSource, tokenSourceOf } from '../internal.js';
import { ATTACH_BEARER_OPTIONS, checkCallOptions, isAbortSignal } from '../options/keys.js';
import type { Token } from '../types.js';

/** Options of {@link attachBearer}: which token, and where it may go. */
export interface AttachBearerOptions extends TokenSelection, OriginAllowlist {}

/** What follow-redirects follows by default (axios' `maxRedirects` when unset). */
const DEFAULT_MAX_REDIRECTS = 21;

/**
 * Authorizes the requests of an axios instance with the client's access tokens (RFC 6750 2.1, or
 * RFC 9449 7.1 with DPoP). Returns `eject`, which detaches it again (requests already under way finish
 * as they started).
 *
 * Works with axios' `http` and `fetch` adapters (Node.js). A request given its own `adapter` bypasses
 * the instance's, and gets no token. With a token, redirects are followed by m2m-token (up to the
 * request's `maxRedirects`, default 21; `maxRedirects: 0` returns the 3xx), so `beforeRedirect` is not
 * called for them. Certificate-bound tokens (tls_client_auth, RFC 8705 3) need the instance's
 * `httpsAgent` to present the same certificate.
 *
 * Errors keep axios' shape (an `AxiosError` for an HTTP or network failure, `CanceledError` for an
 * abort); a failed token request rejects with the client's own error (`OAuthError`, ...). In what is
 * handed back, `config` is the request's own (it never held the token) and `request` is not
 * enumerable, so that logging an error or a response does not print the token.
 *
 * @param axiosInstance an instance from `axios.create()` (or the default `axios`)
 * @param client the ClientCredentialsClient whose tokens are used (its cache, single-flight and
 *   rate-limited forced refreshes are shared with `client.fetch()` and the undici interceptor)
 * @returns `eject()`: stop authorizing the instance's requests
 * @throws {ConfigurationError} not an axios instance, not a ClientCredentialsClient, bad
 *   `allowedOrigins` or token options
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function attachBearer(
  axiosInstance: AxiosInstance,
  client: ClientCredentialsClient,
  options: AttachBearerOptions = {},
): () => void {
  if (!isAxiosInstance(axiosInstance)) {
    throw new ConfigurationError('axiosInstance', 'must be an axios instance (axios.create())');
  }
  const source = tokenSourceOf(client);
  checkCallOptions(options, ATTACH_BEARER_OPTIONS);
  const original = axiosInstance.defaults.adapter;
  const bearer = new AxiosBearer(
    source,
    source.select(tokenSelection(options)),
    allowedOriginSet(options.allowedOrigins),
    original,
  );
  const adapter: AxiosAdapter = (config) => bearer.request(config);
  axiosInstance.defaults.adapter = adapter;
  return () => {
    bearer.ejected = true;
    if (axiosInstance.defaults.adapter === adapter) axiosInstance.defaults.adapter = original;
  };
}

function isAxiosInstance(value: unknown): value is AxiosInstance {
  const candidate = value as Partial<AxiosInstance> | null;
  return (
    (typeof value === 'function' || typeof value === 'object') &&
    candidate !== null &&
    typeof candidate.request === 'function' &&
    typeof candidate.defaults === 'object' &&
    candidate.defaults !== null
  );
}

type Config = InternalAxiosRequestConfig;

/** One request, read once from its config. */
interface Call {
  readonly config: Config;
  readonly inner: AxiosAdapter;
  /** The request's URL (baseURL, url and params). */
  readonly url: URL;
  readonly method: string;
  /** The body can be sent again (a repeat after a 401, a 307/308 hop): anything but a stream. */
  readonly replayable: boolean;
  /** Redirects are followed here (the request did not set `maxRedirects: 0`). */
  readonly follow: boolean;
  readonly redirects: RedirectRules;
  readonly signal: AbortSignal | undefined;
}

/** One answer: a response (axios resolved it, or rejected it with `response`: a non-2xx status). */
class Answer implements AnswerHead {
  readonly response: AxiosResponse;
  /** axios' rejection, when `validateStatus` refused the status; handed over as it is. */
  readonly error: unknown;
  /** The scheme our token went with on the request that got this answer; undefined when not sent. */
  readonly scheme: SentScheme | undefined;

  constructor(response: AxiosResponse, error: unknown, scheme: SentScheme | undefined) {
    this.response = response;
    this.error = error;
    this.scheme = scheme;
  }

  get status(): number {
    return this.response.status;
  }

  header(name: string): string | undefined {
    return headerOf(this.response, name);
  }
}

class AxiosBearer implements Exchange<Call, Answer> {
  readonly tokens: SelectedTokens;
  readonly #allowed: ReadonlySet<string> | undefined;
  readonly #original: InternalAxiosRequestConfig['adapter'];
  readonly #dpop: DpopProofSource | undefined;
  ejected = false;

  constructor(
    source: TokenSource,
    tokens: SelectedTokens,
    allowed: ReadonlySet<string> | undefined,
    original: InternalAxiosRequestConfig['adapter'],
  ) {
    this.tokens = tokens;
    this.#allowed = allowed;
    this.#original = original;
    this.#dpop = source.dpop;
  }

  async request(config: Config): Promise<AxiosResponse> {
    // The adapter the instance had (names such as ['xhr', 'http', 'fetch'] are resolved by axios).
    const inner = axios.getAdapter(this.#original ?? axios.defaults.adapter, config);
    if (this.ejected) return inner(config);
    const url = requestUrl(config);
    // An invalid URL: axios' own error, and no token request for nothing.
    if (url === undefined) return inner(config);
    if (this.#allowed !== undefined && !this.#allowed.has(url.origin)) {
      throw new OriginNotAllowedError(url.origin);
    }
    // data:, file: ... have no server to authorize with.
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return inner(config);
    const callerAuthorization = config.headers.has('authorization') || config.auth != null;
    // The caller authenticates itself: nothing to add, and no hop to check against an allowlist.
    if (callerAuthorization && this.#allowed === undefined) return inner(config);

    const signal = isAbortSignal(config.signal) ? config.signal : undefined;
    const maxRedirects = config.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    const replayable = isReplayableBody(config.data);
    const call: Call = {
      config,
      inner,
      url,
      method: (config.method ?? 'get').toUpperCase(),
      replayable,
      follow: maxRedirects > 0,
      redirects: {
        maxRedirects,
        limitOption: 'maxRedirects',
        allowed: this.#allowed,
        streamBody: !replayable,
        failure: 'redirect failed',
      },
      signal,
    };
    if (callerAuthorization) return this.#handOver(config, await this.send(call, undefined));
    const token = await this.tokens.token(signal);
    return this.#handOver(config, await sendWithToken(this, call, token));
  }

  /**
   * Sends the request once through the instance's adapter, following redirects by hand when the request
   * allows them: every hop is checked against the allowlist, and credentials travel only while the
   * chain stays on the first origin. A failure without a response (network, timeout, abort) is thrown.
   */
  async send(call: Call, token: Token | undefined): Promise<Answer> {
    let hop = firstHop(call.url, call.method);
    for (;;) {
      const headers = new axios.AxiosHeaders(call.config.headers);
      if (hop.crossOrigin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
      if (hop.dropBody) for (const name of BODY_HEADERS) headers.delete(name);
      let scheme: SentScheme | undefined;
      if (!hop.crossOrigin && token !== undefined) {
        const credentials = await credentialsFor(token, this.#dpop, hop.method, hop.url);
        // AxiosHeaders#set replaces a header of the same name, whatever its case (a caller's DPoP).
        for (const [name, value] of credentials.pairs) headers.set(name, value);
        scheme = credentials.scheme;
      }
      const request: Config = {
        ...call.config,
        headers,
        method: hop.method,
        data: hop.dropBody ? undefined : call.config.data,
        // Followed here (below), so that no hop carries a credential it must not.
        ...(call.follow ? { maxRedirects: 0 } : {}),
      };
      if (hop.redirects > 0) {
        request.url = hop.url.href;
        request.baseURL = undefined;
        request.params = undefined;
        if (hop.crossOrigin) request.auth = undefined;
      }

      let response: AxiosResponse;
      let error: unknown;
      try {
        response = await call.inner(request);
      } catch (failure) {
        const answered = (failure as { response?: AxiosResponse } | null)?.response;
        // No response (network, timeout, abort): axios' error, handed over without our credentials.
        if (answered === undefined) throw hideCredentials(failure, call.config);
        response = answered;
        error = failure;
      }

      if (scheme === 'dpop') {
        const nonce = headerOf(response, 'dpop-nonce');
        if (nonce !== undefined) this.#dpop?.rememberNonce(hop.url.origin, nonce);
      }
      if (!call.follow || !REDIRECT_STATUSES.has(response.status)) return new Answer(response, error, scheme);
      const location = headerOf(response, 'location');
      if (location === undefined) return new Answer(response, error, scheme);

      // What follow-redirects does too, with its own limits; the chain's rules are fetch's (redirects.ts).
      discard(response);
      hop = nextHop(hop, response.status, location, call.redirects);
    }
  }

  discard(answer: Answer): void {
    discard(answer.response);
  }

  /** The answer as axios hands it over: the response, or axios' rejection for its status. */
  #handOver(config: Config, answer: Answer): AxiosResponse {
    hideResponseCredentials(answer.response, config);
    if (answer.error !== undefined) throw hideCredentials(answer.error, config);
    return answer.response;
  }
}

/** The request's URL as axios builds it (baseURL, url, params), or undefined when it is not one. */
function requestUrl(config: Config): URL | undefined {
  try {
    return new URL(
      axios.getUri({
        url: config.url,
        baseURL: config.baseURL,
        params: config.params,
        paramsSerializer: config.paramsSerializer,
        allowAbsoluteUrls: config.allowAbsoluteUrls,
      }),
    );
  } catch {
    return undefined;
  }
}

/** A response header (axios gives AxiosHeaders, or a plain record from a custom adapter). */
function headerOf(response: AxiosResponse, name: string): string | undefined {
  const headers = response.headers as { get?: (name: string) => unknown } & Record<string, unknown>;
  const value = typeof headers?.get === 'function' ? headers.get(name) : headers?.[name];
  if (value === undefined || value === null || value === false) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** Frees what a response not handed over holds (a stream when `responseType: 'stream'`). */
function discard(response: AxiosResponse): void {
  const data = response.data as { destroy?: () => void; cancel?: () => Promise<void> } | null | undefined;
  if (data === null || typeof data !== 'object') return;
  if (typeof data.destroy === 'function') data.destroy();
  else if (typeof data.cancel === 'function') data.cancel().catch(() => undefined);
}

/**
 * What is handed over must not show our token when logged: the response's (and the error's) `config`
 * becomes the request's own, which never held it (axios-retry and similar then repeat the request
 * through this adapter, with a current token), and the underlying request object (a ClientRequest whose
 * raw header block holds every header) stays reachable but is no longer enumerable.
 */
function hideResponseCredentials(response: AxiosResponse, config: Config): void {
  response.config = config;
  hideProperty(response, 'request');
}

function hideCredentials(error: unknown, config: Config): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const e = error as { config?: unknown; response?: AxiosResponse };
  if (e.config !== undefined) e.config = config;
  if (e.response !== undefined) hideResponseCredentials(e.response, config);
  hideProperty(e, 'request');
  return error;
}

function hideProperty(target: object, name: string): void {
  const descriptor = Object.getOwnPropertyDescriptor(target, name);
  if (descriptor === undefined || !descriptor.enumerable || !descriptor.configurable) return;
  Object.defineProperty(target, name, { ...descriptor, enumerable: false });
}
