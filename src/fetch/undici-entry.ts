/**
 * m2m-token/undici: `bearerInterceptor(client, options)`, an undici 7 interceptor for
 * `Dispatcher.compose()` that gives `undici.request()` (and every other undici API going through the
 * composed dispatcher) what `client.fetch()` gives fetch users:
 *
 * - `Authorization: Bearer <token>` (or `DPoP <token>` with a fresh proof) unless the request has its own;
 * - one retry after a 401 that refuses the token, for bodies that can be sent again (the 401 is held back
 *   meanwhile and handed over unchanged when there is no retry);
 * - the `allowedOrigins` allowlist, checked before anything is sent.
 *
 * Redirects: compose undici's redirect interceptor after this one (`agent.compose(bearerInterceptor(c),
 * interceptors.redirect())`), so that every hop passes through here: each hop is checked against the
 * allowlist and gets the token only while it stays on the first request's origin. Requests that carry
 * our token are dispatched with `maxRedirections: 0`, so a redirect interceptor composed *inside* this one
 * never follows them with our credentials: the 3xx is returned instead. undici's `fetch()` follows
 * redirects itself, each hop a new request here: use it with `allowedOrigins` (else a warning, once).
 *
 * @example
 * ```ts
 * import { Agent, interceptors, request } from 'undici';
 * import { bearerInterceptor } from 'm2m-token/undici';
 *
 * const api = new Agent().compose(
 *   bearerInterceptor(client, { audience: 'urn:worldmappers', allowedOrigins: ['https://api.example.com'] }),
 *   interceptors.redirect({ maxRedirections: 3 }),
 * );
 * const { statusCode, body } = await request('https://api.example.com/api/routes', { dispatcher: api });
 * ```
 * @module
 */
import type { Dispatcher } from 'undici';
import type { ClientCredentialsClient } from '../client.js';
import { OriginNotAllowedError } from '../errors.js';
import type { DpopProofSource } from '../http/token-request.js';
import { type SelectedTokens, tokenSourceOf } from '../internal.js';
import { checkCallOptions, INTERCEPTOR_OPTIONS } from '../options/keys.js';
import { withoutHeaderValues } from '../redact/index.js';
import type { Token } from '../types.js';
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
import { isUnauthorized, UnauthorizedPolicy } from './unauthorized-policy.js';

/** Options of {@link bearerInterceptor}: which token, and where it may go. */
export interface BearerInterceptorOptions extends TokenSelection, OriginAllowlist {}

/** The largest 401 body held back while deciding on a retry; a longer one is handed over, not retried. */
const MAX_HELD_BYTES = 64 * 1024;

type Dispatch = Dispatcher.Dispatch;
type DispatchOptions = Dispatcher.DispatchOptions;
type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type IncomingHeaders = Parameters<NonNullable<Handler['onResponseStart']>>[2];

/**
 * An undici interceptor that authorizes requests with the client's access token.
 *
 * @param client the ClientCredentialsClient whose tokens are used (its cache, single-flight and
 *   rate-limited forced refreshes are shared with `client.fetch()`)
 * @throws {ConfigurationError} bad `allowedOrigins` or token options
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function bearerInterceptor(
  client: ClientCredentialsClient,
  options: BearerInterceptorOptions = {},
): Dispatcher.DispatcherComposeInterceptor {
  const source = tokenSourceOf(client);
  checkCallOptions(options, INTERCEPTOR_OPTIONS);
  const shared: Shared = {
    tokens: source.select(tokenSelection(options)),
    allowed: allowedOriginSet(options.allowedOrigins),
    dpop: source.dpop,
    firstOrigin: new WeakMap(),
    warnedOfFetch: false,
  };
  return (dispatch: Dispatch): Dispatch =>
    function bearerIntercept(opts: DispatchOptions, handler: Handler): boolean {
      new AuthorizedRequest(shared, dispatch, opts, handler).start();
      return true;
    };
}

interface Shared {
  readonly tokens: SelectedTokens;
  readonly allowed: ReadonlySet<string> | undefined;
  readonly dpop: DpopProofSource | undefined;
  /**
   * The origin each handler was first dispatched to, and whether a later dispatch left it. A redirect
   * interceptor composed outside this one dispatches every hop with the same handler, so a hop to another
   * origin is recognised here; once the chain has left the first origin, no hop gets the token again.
   */
  readonly firstOrigin: WeakMap<object, { readonly origin: string; left: boolean }>;
  /** The warning about fetch() without allowedOrigins was given (once per interceptor). */
  warnedOfFetch: boolean;
}

/**
 * The controller handed to the caller's handler: stable across attempts, it forwards to the current
 * attempt's controller and remembers an abort that arrives between two attempts.
 */
class AttemptController implements Controller {
  #target: Controller | undefined;
  #paused = false;
  #aborted = false;
  #reason: Error | null = null;
  rawHeaders?: Controller['rawHeaders'];
  rawTrailers?: Controller['rawTrailers'];

  set target(target: Controller) {
    this.#target = target;
    if (this.#aborted) target.abort(this.#reason ?? new Error('aborted'));
    else if (this.#paused) target.pause();
  }

  get aborted(): boolean {
    return this.#aborted || (this.#target?.aborted ?? false);
  }

  get paused(): boolean {
    return this.#paused;
  }

  get reason(): Error | null {
    return this.#reason ?? this.#target?.reason ?? null;
  }

  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#target?.abort(reason);
  }

  pause(): void {
    this.#paused = true;
    this.#target?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#target?.resume();
  }
}

/** A 401 held back until we know whether the request is repeated. */
interface Held {
  readonly statusCode: number;
  readonly headers: IncomingHeaders;
  readonly statusMessage: string | undefined;
  readonly chunks: Buffer[];
  size: number;
  /** The token to repeat the request with (the 401 policy's answer, started at once). */
  readonly next: Promise<Token | undefined>;
}

/** One request through the interceptor: its attempts and what the caller's handler sees. */
class AuthorizedRequest {
  readonly #shared: Shared;
  readonly #dispatch: Dispatch;
  readonly #opts: DispatchOptions;
  readonly #handler: Handler;
  readonly #controller = new AttemptController();
  #origin = '';
  /** The 401 policy of this request (what was repeated already), made on its first 401. */
  #policy: UnauthorizedPolicy | undefined;
  /** The response (or an error) went to the caller's handler: no more attempts. */
  #delivered = false;
  /** The headers of the last attempt, to keep their values out of errors. */
  #sentHeaders: readonly string[] = [];

  constructor(shared: Shared, dispatch: Dispatch, opts: DispatchOptions, handler: Handler) {
    this.#shared = shared;
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#handler = handler;
  }

  start(): void {
    const { allowed, firstOrigin } = this.#shared;
    let origin: string | undefined;
    try {
      origin =
        this.#opts.origin === undefined || this.#opts.origin === null
          ? undefined
          : new URL(String(this.#opts.origin)).origin;
    } catch {
      origin = undefined;
    }
    if (allowed !== undefined && (origin === undefined || !allowed.has(origin))) {
      // An origin that does not parse is not shown: it may hold user info.
      const refused = origin ?? (this.#opts.origin == null ? '(no origin)' : '(not a URL)');
      this.#fail(new OriginNotAllowedError(refused));
      return;
    }
    let crossOrigin = false;
    if (origin !== undefined) {
      const first = firstOrigin.get(this.#handler);
      if (first === undefined) firstOrigin.set(this.#handler, { origin, left: false });
      else {
        if (first.origin !== origin) first.left = true;
        crossOrigin = first.left;
      }
    }
    // The caller's own Authorization, or a redirect hop that left the first origin: pass through as is
    // (undici's redirect handler has already removed Authorization, Cookie and Proxy-Authorization).
    if (crossOrigin || hasAuthorization(this.#opts.headers)) {
      this.#passThrough();
      return;
    }
    if (allowed === undefined && !this.#shared.warnedOfFetch && fromFetch(this.#opts)) {
      this.#shared.warnedOfFetch = true;
      warnOfFetchRedirects();
    }
    this.#origin = origin ?? '';
    this.#run().catch((error: unknown) => this.#fail(error));
  }

  #passThrough(): void {
    try {
      this.#dispatch(this.#opts, this.#handler);
    } catch (error) {
      this.#fail(error);
    }
  }

  async #run(): Promise<void> {
    const token = await this.#shared.tokens.token();
    await this.#attempt(token);
  }

  async #attempt(token: Token): Promise<void> {
    if (this.#controller.aborted) {
      this.#fail(this.#controller.reason ?? new Error('aborted'));
      return;
    }
    // A fresh proof for every attempt; htm is the method as undici sends it (undici does not normalise it).
    const target = this.#origin === '' ? undefined : { origin: this.#origin, pathname: this.#opts.path };
    const found = credentialsFor(token, this.#shared.dpop, this.#opts.method ?? 'GET', target);
    const credentials = found instanceof Promise ? await found : found;
    const headers = flatHeaders(this.#opts.headers, credentials);
    this.#sentHeaders = headers;
    const opts = {
      ...this.#opts,
      headers,
      // Nothing inside this interceptor may follow a redirect with our credentials.
      maxRedirections: 0,
    } as DispatchOptions;
    this.#dispatch(opts, new AttemptHandler(this, token, credentials.scheme));
  }

  // --- called by AttemptHandler -------------------------------------------------------------------

  onRequestStart(controller: Controller, context: unknown): void {
    this.#controller.target = controller;
    if (!this.#delivered) this.#handler.onRequestStart?.(this.#controller, context);
  }

  onRequestUpgrade(
    statusCode: number,
    headers: IncomingHeaders,
    socket: Parameters<NonNullable<Handler['onRequestUpgrade']>>[3],
  ): void {
    this.#delivered = true;
    this.#handler.onRequestUpgrade?.(this.#controller, statusCode, headers, socket);
  }

  /**
   * Decides, on a response's headers, whether to hold it back for a repeat (the 401 policy; a refresh
   * starts at once, while the 401's body is still arriving).
   */
  hold(
    statusCode: number,
    headers: IncomingHeaders,
    scheme: SentScheme,
    token: Token,
  ): Promise<Token | undefined> | undefined {
    if (scheme === 'dpop') {
      const nonce = first(headers['dpop-nonce']);
      if (nonce) this.#shared.dpop?.rememberNonce(this.#origin, nonce);
    }
    if (!isUnauthorized(statusCode, scheme)) return undefined;
    this.#policy ??= new UnauthorizedPolicy(this.#shared.tokens, isReplayableBody(this.#opts.body));
    const head = {
      status: statusCode,
      scheme,
      header: (name: string) => {
        const value = headers[name];
        return Array.isArray(value) ? value.join(', ') : value;
      },
    };
    return this.#policy.replayFor(head, token);
  }

  onResponseStart(statusCode: number, headers: IncomingHeaders, statusMessage: string | undefined): void {
    this.#delivered = true;
    this.#handler.onResponseStart?.(this.#controller, statusCode, headers, statusMessage);
  }

  onResponseData(chunk: Buffer): void {
    this.#handler.onResponseData?.(this.#controller, chunk);
  }

  onResponseEnd(trailers: IncomingHeaders): void {
    this.#handler.onResponseEnd?.(this.#controller, trailers);
  }

  onResponseError(error: Error): void {
    this.#fail(error);
  }

  /** The held 401 has ended: repeat the request with the next token, or hand the 401 over. */
  async afterHeld(held: Held, trailers: IncomingHeaders): Promise<void> {
    let next: Token | undefined;
    try {
      next = await held.next;
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (next === undefined || this.#controller.aborted) {
      this.replay(held);
      this.onResponseEnd(trailers);
      return;
    }
    await this.#attempt(next);
  }

  /** Hands a held response's head and body so far to the caller. */
  replay(held: Held): void {
    this.onResponseStart(held.statusCode, held.headers, held.statusMessage);
    for (const chunk of held.chunks) this.onResponseData(chunk);
    held.chunks.length = 0;
  }

  #fail(error: unknown): void {
    this.#delivered = true;
    const safe = withoutHeaderValues(error, pairsOfFlat(this.#sentHeaders, this.#opts.headers));
    this.#handler.onResponseError?.(this.#controller, toError(safe));
  }
}

/** The handler of one attempt: forwards to the caller, or holds a 401 back. */
class AttemptHandler implements Handler {
  readonly #owner: AuthorizedRequest;
  readonly #token: Token;
  readonly #scheme: SentScheme;
  #held: Held | undefined;

  constructor(owner: AuthorizedRequest, token: Token, scheme: SentScheme) {
    this.#owner = owner;
    this.#token = token;
    this.#scheme = scheme;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#owner.onRequestStart(controller, context);
  }

  onRequestUpgrade(
    _controller: Controller,
    statusCode: number,
    headers: IncomingHeaders,
    socket: Parameters<NonNullable<Handler['onRequestUpgrade']>>[3],
  ): void {
    this.#owner.onRequestUpgrade(statusCode, headers, socket);
  }

  onResponseStart(
    _controller: Controller,
    statusCode: number,
    headers: IncomingHeaders,
    statusMessage?: string,
  ): void {
    const next = this.#owner.hold(statusCode, headers, this.#scheme, this.#token);
    if (next === undefined) {
      this.#owner.onResponseStart(statusCode, headers, statusMessage);
      return;
    }
    this.#held = { statusCode, headers, statusMessage, chunks: [], size: 0, next };
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    const held = this.#held;
    if (held === undefined) {
      this.#owner.onResponseData(chunk);
      return;
    }
    held.chunks.push(chunk);
    held.size += chunk.length;
    if (held.size > MAX_HELD_BYTES) {
      // Not a token refusal worth holding a large body for: hand it over and stop holding.
      this.#held = undefined;
      this.#owner.replay(held);
    }
  }

  onResponseEnd(_controller: Controller, trailers: IncomingHeaders): void {
    const held = this.#held;
    if (held === undefined) {
      this.#owner.onResponseEnd(trailers);
      return;
    }
    this.#held = undefined;
    this.#owner
      .afterHeld(held, trailers)
      .catch((error: unknown) => this.#owner.onResponseError(toError(error)));
  }

  onResponseError(_controller: Controller, error: Error): void {
    this.#held = undefined;
    this.#owner.onResponseError(error);
  }
}

/** A dispatch of undici's (or Node's global) fetch(): its header record always has fetch's sec-fetch-mode. */
function fromFetch(opts: DispatchOptions): boolean {
  const headers = opts.headers as Record<string, unknown> | null | undefined;
  return typeof headers === 'object' && headers !== null && typeof headers['sec-fetch-mode'] === 'string';
}

/** fetch() dispatches each redirect hop anew: without allowedOrigins, one to another origin gets the token. */
function warnOfFetchRedirects(): void {
  const host = (globalThis as { process?: { emitWarning?: (message: string, options: object) => void } })
    .process;
  host?.emitWarning?.(
    'm2m-token: bearerInterceptor() without allowedOrigins is used by fetch(), which follows redirects itself: each hop reaches the interceptor as a new request, so a redirect to another origin would get the token. Set allowedOrigins, or use client.createFetch(), or undici.request() with interceptors.redirect() composed after bearerInterceptor().',
    { type: 'M2MTokenWarning', code: 'M2M_UNDICI_FETCH_REDIRECTS' },
  );
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** undici's header shapes: a record, a flat [name, value, ...] array, or an iterable of pairs. */
function headerPairs(headers: DispatchOptions['headers']): Iterable<readonly [string, unknown]> {
  if (headers == null) return [];
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0]))
      return headers as unknown as Array<[string, unknown]>;
    const pairs: Array<[string, unknown]> = [];
    for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([String(headers[i]), headers[i + 1]]);
    return pairs;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return headers as Iterable<[string, unknown]>;
  }
  return Object.entries(headers);
}

/** Header pairs from a flat [name, value, ...] array and the caller's headers, for withoutHeaderValues. */
function pairsOfFlat(flat: readonly string[], callers: DispatchOptions['headers']): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  for (const [name, value] of headerPairs(callers)) {
    if (Array.isArray(value)) for (const item of value) out.push([String(name), String(item)]);
    else if (value !== undefined && value !== null) out.push([String(name), String(value)]);
  }
  return out;
}

function hasAuthorization(headers: DispatchOptions['headers']): boolean {
  for (const [name, value] of headerPairs(headers)) {
    if (value !== undefined && String(name).toLowerCase() === 'authorization') return true;
  }
  return false;
}

/** The caller's headers as a flat array (repeated names kept) but those ours replace, with ours appended. */
function flatHeaders(headers: DispatchOptions['headers'], credentials: Credentials): string[] {
  const out: string[] = [];
  for (const [name, value] of headerPairs(headers)) {
    if (value === undefined || value === null || replacedByOurs(credentials, String(name).toLowerCase()))
      continue;
    if (Array.isArray(value)) for (const item of value) out.push(String(name), String(item));
    else out.push(String(name), String(value));
  }
  for (const [name, value] of credentials.pairs) out.push(name, value);
  return out;
}
