/**
 * ClientCredentialsClient: wires options, client authentication, the token cache and the HTTP layer.
 * Data flows one way: options -> client -> (cache -> single-flight -> auth + http) -> Token.
 */

import { BasicAutoDetect } from './auth/basic-auto-detect.js';
import { type ClientAuthenticator, createAuthenticator } from './auth/index.js';
import { checkPrivateKeyShape } from './auth/keys.js';
import { cacheKey, type KeyParts, keyInfo } from './cache/cache-key.js';
import { isUsable, toCachedToken, ttlOf } from './cache/lifetime.js';
import { MemoryTokenCache } from './cache/memory-cache.js';
import { createDpopProofSource } from './dpop.js';
import { ConfigurationError } from './errors.js';
import { EventSink } from './events.js';
import { type CreateFetchOptions, createAuthorizedFetch } from './fetch/fetch-wrapper.js';
import { isScopeReduced } from './http/granted-scope.js';
import { BackoffGate } from './http/retry-policy.js';
import {
  type AttemptCounter,
  type DpopProofSource,
  requestToken,
  type TokenRequestSettings,
} from './http/token-request.js';
import { type ClientInternals, kInternals, type ResolvedRequest } from './internal.js';
import { checkCallOptions, GET_TOKEN_OPTIONS, INVALIDATE_OPTIONS } from './option-keys.js';
import {
  type ClientCredentialsClientOptions,
  type NormalizedOptions,
  normalizeOptions,
  RESERVED_PARAMS,
  splitScope,
} from './options.js';
import { resolveServer, type ServerInfo } from './server.js';
import type { CachedToken, GetTokenOptions, Token, TokenCache, TokenKeyInfo } from './types.js';
import { describeError, raceSignal, sleep, toArray } from './util.js';

/** Forced refreshes after a 401 are allowed at most once per key in this interval. */
export const FORCED_REFRESH_INTERVAL_MS = 5_000;

type AcquireMode =
  /** A plain miss: any usable token will do. */
  | { readonly kind: 'normal' }
  /** Refresh-ahead: only a token fresher than the refresh point will do. */
  | { readonly kind: 'refresh' }
  /** forceRefresh, or a token rejected by a resource server: never that token again. */
  | { readonly kind: 'force'; readonly rejected?: string };

const NORMAL: AcquireMode = { kind: 'normal' };
const REFRESH: AcquireMode = { kind: 'refresh' };

const tokenOf = (entry: CachedToken): Token => entry.token;

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | undefined)?.then === 'function';
}

/**
 * An OAuth 2.0 client credentials client (RFC 6749 4.4).
 *
 * @example
 * ```ts
 * const client = new ClientCredentialsClient({
 *   tokenEndpoint: 'https://idp.example.com/oauth/token',
 *   clientId: process.env.CLIENT_ID!,
 *   clientSecret: process.env.CLIENT_SECRET!,
 *   audience: 'urn:worldmappers',
 * });
 * const { accessToken } = await client.getToken();
 * const res = await client.fetch('https://api.example.com/geocode?address=Berlin');
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export class ClientCredentialsClient {
  readonly #options: NormalizedOptions;
  readonly #cache: TokenCache | undefined;
  readonly #events: EventSink;
  readonly #fetch: typeof globalThis.fetch;
  readonly #dispatcher: unknown;
  readonly #server: () => Promise<ServerInfo> | ServerInfo;
  readonly #http: TokenRequestSettings;
  readonly #defaultRequest: ResolvedRequest;
  readonly #endpointForKey: string;
  readonly #inflight = new Map<string, Promise<CachedToken>>();
  readonly #refreshRetryAt = new Map<string, number>();
  /** Per key: when the last 401-forced refresh started, and its outcome (shared by the 401s of that window). */
  readonly #lastForcedRefresh = new Map<
    string,
    { readonly at: number; readonly token: Promise<Token | undefined> }
  >();
  readonly #knownKeys = new Set<string>();
  /**
   * The default key's entry, kept in a field when the client owns its MemoryTokenCache (nobody else
   * can change that cache behind its back): the hot path then costs no Map lookup. Set on store,
   * cleared on delete; always re-checked for usability.
   */
  #hotDefault: CachedToken | undefined;
  readonly #ownsCache: boolean;
  readonly #resolved = new Map<string, ResolvedRequest>();
  readonly #resolvedByScope = new Map<string, ResolvedRequest>();
  readonly #lockTtlMs: number;
  #defaultFetch: typeof globalThis.fetch | undefined;
  readonly #dpop: DpopProofSource | undefined;
  /** The DPoP key's identity in cache keys (dpop.ts: its RFC 7638 thumbprint, or a per-client id). */
  readonly #keyBinding: string | undefined;
  /** Basic auto-detection and its memory of what worked (auth/basic-auto-detect.ts). */
  readonly #basicAutoDetect: BasicAutoDetect;

  constructor(options: ClientCredentialsClientOptions) {
    const normalized = normalizeOptions(options);
    this.#options = normalized;
    if (options.cache !== undefined && options.cache !== false && !isTokenCache(options.cache)) {
      throw new ConfigurationError('cache', 'must be a TokenCache (get, set, delete) or false');
    }
    this.#cache = options.cache === false ? undefined : (options.cache ?? new MemoryTokenCache());
    this.#ownsCache = options.cache === undefined;
    this.#events = new EventSink(options.onEvent);
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#dispatcher = options.dispatcher;
    const dpop = options.dpop ? createDpopProofSource(options.dpop) : undefined;
    this.#dpop = dpop;
    this.#keyBinding = dpop?.keyBinding;

    if (options.privateKey !== undefined && normalized.authMethod === 'private_key_jwt') {
      checkPrivateKeyShape('privateKey', options.privateKey);
    }
    const auth = options.tokenEndpoint ? createAuthenticator(options, normalized.authMethod) : undefined;
    this.#basicAutoDetect = new BasicAutoDetect(options);
    this.#server = resolveServer(options, normalized, auth, {
      fetch: this.#fetch,
      dispatcher: options.dispatcher,
    });
    this.#http = {
      fetch: this.#fetch,
      dispatcher: options.dispatcher,
      timeoutMs: normalized.timeoutMs,
      maxResponseBytes: normalized.maxResponseBytes,
      retry: normalized.retry,
      headers: normalized.headers,
      dpop: this.#dpop,
      gate: new BackoffGate(),
    };
    const retries = normalized.retry ? normalized.retry.retries : 0;
    // Long enough for one request with its retries; a holder that dies frees the key after this.
    this.#lockTtlMs = Math.min(120_000, normalized.timeoutMs * (retries + 1) + 2_000);
    this.#endpointForKey = normalized.tokenEndpoint ?? (normalized.issuer as string);
    this.#defaultRequest = this.#build({});
  }

  /**
   * Returns an access token for the default (or given) audience, scope and resource: from the cache when
   * one is usable, else from one token request shared by every concurrent caller. Tokens near their end
   * are refreshed in the background, so in a steady state no caller waits on the network.
   *
   * @throws {OAuthError} the server refused (RFC 6749 5.2)
   * @throws {HttpError} an unusable answer
   * @throws {ConfigurationError} bad per-call options or an unreadable key
   */
  getToken(options?: GetTokenOptions): Promise<Token> {
    if (options === undefined) return this.#tokenFor(this.#defaultRequest, undefined);
    let request: ResolvedRequest;
    try {
      checkCallOptions(options, GET_TOKEN_OPTIONS);
      request = this.#resolve(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (options.forceRefresh) {
      if (this.#events.active) this.#events.emit({ type: 'cache_miss', key: request.info, reason: 'forced' });
      return this.#acquire(request, { kind: 'force' }, options.signal).then(tokenOf);
    }
    return this.#tokenFor(request, options.signal);
  }

  /** getToken() for a resolved request. The hot path: a synchronous cache hit costs one promise. */
  #tokenFor(request: ResolvedRequest, signal: AbortSignal | undefined): Promise<Token> {
    // The default key's entry in a field when the client owns its cache: no Map lookup.
    const hot = this.#hotDefault;
    if (hot !== undefined && request === this.#defaultRequest) {
      const token = this.#hit(request, hot);
      if (token !== undefined) return Promise.resolve(token);
      this.#hotDefault = undefined;
    }
    const cache = this.#cache;
    if (cache !== undefined) {
      let got: ReturnType<TokenCache['get']>;
      try {
        got = cache.get(request.key);
      } catch (error) {
        this.#fault(request, 'get', error);
        return this.#missed(request, undefined, signal);
      }
      if (!isThenable<CachedToken | undefined>(got)) {
        const token = got === undefined ? undefined : this.#hit(request, got);
        if (token !== undefined && this.#ownsCache && request === this.#defaultRequest)
          this.#hotDefault = got;
        return token !== undefined ? Promise.resolve(token) : this.#missed(request, got, signal);
      }
      return got.then(
        (entry) =>
          (entry === undefined ? undefined : this.#hit(request, entry)) ??
          this.#missed(request, entry, signal),
        (error: unknown) => {
          this.#fault(request, 'get', error);
          return this.#missed(request, undefined, signal);
        },
      );
    }
    return this.#missed(request, undefined, signal);
  }

  /** Drops the cached token for these (or the default) parameters. */
  async invalidate(options: Omit<GetTokenOptions, 'forceRefresh' | 'signal'> = {}): Promise<void> {
    checkCallOptions(options, INVALIDATE_OPTIONS);
    const request = this.#resolve(options);
    this.#knownKeys.delete(request.key);
    await this.#safeDelete(request);
  }

  /** Drops every token this client has cached. */
  async clear(): Promise<void> {
    const keys = [...this.#knownKeys];
    this.#knownKeys.clear();
    this.#hotDefault = undefined;
    this.#refreshRetryAt.clear();
    await Promise.all(keys.map((key) => this.#safeDelete({ key, info: this.#infoOfKey(key), params: [] })));
  }

  /**
   * A fetch that sends `Authorization: Bearer <token>` for the default audience/scope, retries once on a
   * 401, and never sends the token to another origin on a redirect. Same arguments as `fetch`.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    this.#defaultFetch ??= createAuthorizedFetch(this[kInternals], {});
    return this.#defaultFetch(input, init);
  }

  /** A fetch-compatible function bound to an audience/scope/resource, with an optional origin allowlist. */
  createFetch(options: CreateFetchOptions = {}): typeof globalThis.fetch {
    return createAuthorizedFetch(this[kInternals], options);
  }

  /** @internal */
  get [kInternals](): ClientInternals {
    return {
      resolve: (options) => this.#resolve(options),
      token: (request, signal) => this.#tokenFor(request, signal),
      tokenAfterRejection: (request, rejected, signal) =>
        this.#tokenAfterRejection(request, rejected, signal),
      fetch: this.#fetch,
      dispatcher: async () => this.#dispatcher ?? (await this.#serverInfo()).auth.dispatcher?.(),
      dpop: this.#dpop,
    };
  }

  /** Shows the non-secret configuration only. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const o = this.#options;
    return `ClientCredentialsClient { endpoint: '${this.#endpointForKey}', clientId: '${o.clientId}', authMethod: '${o.authMethod}' }`;
  }

  toJSON(): Record<string, unknown> {
    return {
      endpoint: this.#endpointForKey,
      clientId: this.#options.clientId,
      authMethod: this.#options.authMethod,
    };
  }

  // ---------------------------------------------------------------------------------------------

  /** The token of a usable entry (starting refresh-ahead when due), or undefined. */
  #hit(request: ResolvedRequest, entry: CachedToken): Token | undefined {
    const now = Date.now();
    if (!isUsable(entry, now)) return undefined;
    if (now >= entry.refreshAt) this.#refreshAhead(request, entry, now);
    if (this.#events.active)
      this.#events.emit({ type: 'cache_hit', key: request.info, expiresAt: entry.token.expiresAt });
    return entry.token;
  }

  #missed(
    request: ResolvedRequest,
    entry: CachedToken | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Token> {
    if (this.#events.active) {
      const reason = this.#cache === undefined ? 'disabled' : entry ? 'expired' : 'absent';
      this.#events.emit({ type: 'cache_miss', key: request.info, reason });
    }
    return this.#acquire(request, NORMAL, signal).then(tokenOf);
  }

  /** Single-flight: one token request per key at a time; every caller waits on the same promise. */
  #acquire(
    request: ResolvedRequest,
    mode: AcquireMode,
    signal: AbortSignal | undefined,
  ): Promise<CachedToken> {
    // An already-aborted caller starts nothing.
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.#inflight.get(request.key);
    if (flight === undefined) {
      flight = this.#obtain(request, mode);
      this.#inflight.set(request.key, flight);
      const done = () => {
        if (this.#inflight.get(request.key) === flight) this.#inflight.delete(request.key);
      };
      // Handles the rejection for this branch; every caller still gets it through `flight`.
      flight.then(done, done);
    }
    // A caller's signal ends its own wait only; the request goes on for the others.
    return raceSignal(flight, signal);
  }

  /** Gets a token for the key: through a cross-process lock when the cache offers one. */
  async #obtain(request: ResolvedRequest, mode: AcquireMode): Promise<CachedToken> {
    const cache = this.#cache;
    let release: (() => Promise<void>) | undefined;
    if (cache?.acquireLock) {
      const outcome = await this.#lockOrWait(cache, request, mode);
      if (outcome.entry) return outcome.entry;
      release = outcome.release;
    }
    try {
      const entry = await this.#request(request);
      const ttl = ttlOf(entry, Date.now());
      // expires_in: 0 (or a lifetime under the buffer): handed to the waiters, not cached.
      if (cache !== undefined && ttl > 0) {
        this.#knownKeys.add(request.key);
        if (this.#ownsCache && request.key === this.#defaultRequest.key) this.#hotDefault = entry;
        try {
          const stored = cache.set(request.key, entry, ttl);
          if (isThenable(stored)) await stored;
        } catch (error) {
          this.#fault(request, 'set', error);
        }
      }
      return entry;
    } finally {
      if (release) {
        try {
          await release();
        } catch (error) {
          this.#fault(request, 'unlock', error);
        }
      }
    }
  }

  /**
   * Cross-process single-flight (RedisTokenCache): take the lock, or wait (polling with backoff, bounded
   * by the lock's TTL) for the token the holder stores. A holder that died frees the lock when its TTL
   * ends; the next poll then takes it.
   */
  async #lockOrWait(
    cache: TokenCache,
    request: ResolvedRequest,
    mode: AcquireMode,
  ): Promise<{ entry?: CachedToken; release?: () => Promise<void> }> {
    const start = Date.now();
    const deadline = start + this.#lockTtlMs + 1_000;
    let delay = 20;
    for (;;) {
      let release: (() => Promise<void>) | undefined;
      try {
        release = await cache.acquireLock!(request.key, this.#lockTtlMs);
      } catch (error) {
        this.#fault(request, 'lock', error);
        return {}; // The shared cache is unwell: ask the token endpoint directly.
      }
      // Holding the lock or not, a token stored meanwhile by another process may do.
      const entry = await this.#safeGet(request);
      if (entry && this.#accepts(entry, mode, Date.now())) {
        if (release) await release().catch((error: unknown) => this.#fault(request, 'unlock', error));
        if (Date.now() - start > 0 && this.#events.active) {
          this.#events.emit({
            type: 'lock_wait',
            key: request.info,
            waitedMs: Date.now() - start,
            outcome: 'token',
          });
        }
        return { entry };
      }
      if (release) return { release };
      if (Date.now() >= deadline) {
        if (this.#events.active) {
          this.#events.emit({
            type: 'lock_wait',
            key: request.info,
            waitedMs: Date.now() - start,
            outcome: 'timeout',
          });
        }
        return {};
      }
      await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
      delay = Math.min(delay * 2, 250);
    }
  }

  #accepts(entry: CachedToken, mode: AcquireMode, now: number): boolean {
    if (!isUsable(entry, now)) return false;
    switch (mode.kind) {
      case 'normal':
        return true;
      case 'refresh':
        return now < entry.refreshAt;
      case 'force':
        return mode.rejected !== undefined && entry.token.accessToken !== mode.rejected;
    }
  }

  /** One token request with events; returns the entry to cache. */
  async #request(request: ResolvedRequest): Promise<CachedToken> {
    const server = await this.#serverInfo();
    const events = this.#events;
    const started = performance.now();
    const counter: AttemptCounter = { attempts: 0 };
    if (events.active) {
      events.emit({ type: 'token_request_start', key: request.info, authMethod: server.auth.method });
    }
    try {
      const { result, auth } = await this.#basicAutoDetect.send(
        server.auth,
        server.listedAuthMethods,
        (auth) =>
          requestToken(
            { endpoint: server.tokenEndpoint, issuer: server.issuer, params: request.params },
            auth,
            this.#http,
            counter,
            events.active
              ? (notice) =>
                  events.emit({
                    type: 'token_request_retry',
                    key: request.info,
                    attempt: notice.attempt,
                    delayMs: notice.delayMs,
                    error: describeError(notice.error),
                  })
              : undefined,
          ),
        events.active
          ? (notice) => events.emit({ type: 'auth_fallback', key: request.info, ...notice })
          : undefined,
      );
      const entry = toCachedToken(result.token, result.sentAt, this.#options);
      if (events.active) {
        const requested = request.params.find(([name]) => name === 'scope')?.[1];
        if (isScopeReduced(requested, result.token.scope)) {
          events.emit({
            type: 'scope_reduced',
            key: request.info,
            requested: requested as string,
            granted: result.token.scope as string,
          });
        }
        events.emit({
          type: 'token_request_success',
          key: request.info,
          authMethod: auth.method,
          durationMs: performance.now() - started,
          status: result.status,
          attempts: counter.attempts,
          expiresAt: result.token.expiresAt,
        });
      }
      return entry;
    } catch (error) {
      if (events.active) {
        events.emit({
          type: 'token_request_failure',
          key: request.info,
          authMethod: server.auth.method,
          durationMs: performance.now() - started,
          status: counter.status,
          attempts: counter.attempts,
          error: describeError(error),
        });
      }
      throw error;
    }
  }

  /** Starts one background refresh for the key; a failure keeps the valid token and is retried later. */
  #refreshAhead(request: ResolvedRequest, entry: CachedToken, now: number): void {
    if (this.#inflight.has(request.key)) return;
    const retryAt = this.#refreshRetryAt.get(request.key);
    if (retryAt !== undefined && now < retryAt) return;
    if (this.#events.active) this.#events.emit({ type: 'refresh_ahead_start', key: request.info });
    this.#acquire(request, REFRESH, undefined).then(
      () => {
        this.#refreshRetryAt.delete(request.key);
      },
      (error: unknown) => {
        // Try again after a quarter of the remaining usable time (1 s to 30 s).
        const next = Date.now() + Math.min(30_000, Math.max(1_000, (entry.usableUntil - Date.now()) / 4));
        this.#refreshRetryAt.set(request.key, next);
        if (this.#refreshRetryAt.size > 10_000) this.#refreshRetryAt.clear();
        if (this.#events.active) {
          this.#events.emit({
            type: 'refresh_ahead_failure',
            key: request.info,
            error: describeError(error),
            retryAt: next,
          });
        }
      },
    );
  }

  async #tokenAfterRejection(
    request: ResolvedRequest,
    rejected: Token,
    signal: AbortSignal | undefined,
  ): Promise<Token | undefined> {
    // Another request may already have replaced the rejected token: use the newer one.
    const current = await this.#safeGet(request);
    if (current && isUsable(current, Date.now()) && current.token.accessToken !== rejected.accessToken) {
      return current.token;
    }
    const flight = this.#inflight.get(request.key);
    if (flight !== undefined) {
      const entry = await raceSignal(flight, signal);
      if (entry.token.accessToken !== rejected.accessToken) return entry.token;
    }
    // Rate limit: a misconfiguration that makes every call 401 must not flood the token endpoint.
    const now = Date.now();
    const last = this.#lastForcedRefresh.get(request.key);
    if (last !== undefined && now - last.at < FORCED_REFRESH_INTERVAL_MS) {
      // Limited. The refresh forced in this window may still be starting (an async cache delete comes
      // before its flight exists) or may have produced a newer token: use that one; a failed one counts
      // as no token, and the 401 is returned as it is.
      const token = await raceSignal(
        last.token.catch(() => undefined),
        signal,
      );
      return token !== undefined && token.accessToken !== rejected.accessToken ? token : undefined;
    }
    const forced = this.#forceRefresh(request, current, rejected);
    // The caller gets any failure through `forced`; this branch only keeps it from being unhandled.
    forced.catch(() => undefined);
    if (this.#lastForcedRefresh.size >= 10_000) this.#lastForcedRefresh.clear();
    this.#lastForcedRefresh.set(request.key, { at: now, token: forced });
    return raceSignal(forced, signal);
  }

  /** One refresh forced by a 401: drops only the rejected token (never a newer one), then gets another. */
  async #forceRefresh(
    request: ResolvedRequest,
    current: CachedToken | undefined,
    rejected: Token,
  ): Promise<Token | undefined> {
    if (current && current.token.accessToken === rejected.accessToken) await this.#safeDelete(request);
    const entry = await this.#acquire(request, { kind: 'force', rejected: rejected.accessToken }, undefined);
    return entry.token.accessToken === rejected.accessToken ? undefined : entry.token;
  }

  #serverInfo(): Promise<ServerInfo> {
    const info = this.#server();
    return info instanceof Promise ? info : Promise.resolve(info);
  }

  async #safeGet(request: ResolvedRequest): Promise<CachedToken | undefined> {
    if (!this.#cache) return undefined;
    try {
      return await this.#cache.get(request.key);
    } catch (error) {
      this.#fault(request, 'get', error);
      return undefined;
    }
  }

  async #safeDelete(request: ResolvedRequest): Promise<void> {
    if (request.key === this.#defaultRequest.key) this.#hotDefault = undefined;
    if (!this.#cache) return;
    try {
      await this.#cache.delete(request.key);
    } catch (error) {
      this.#fault(request, 'delete', error);
    }
  }

  #fault(
    request: ResolvedRequest,
    operation: 'get' | 'set' | 'delete' | 'lock' | 'unlock',
    error: unknown,
  ): void {
    if (this.#events.active) {
      this.#events.emit({ type: 'cache_fault', key: request.info, operation, error: describeError(error) });
    }
  }

  #infoOfKey(key: string): TokenKeyInfo {
    for (const request of this.#resolved.values()) if (request.key === key) return request.info;
    return { endpoint: this.#endpointForKey, clientId: this.#options.clientId };
  }

  /** Resolves per-call options; memoised by a cheap signature so repeated shapes cost one Map lookup. */
  #resolve(options: Omit<GetTokenOptions, 'forceRefresh' | 'signal'>): ResolvedRequest {
    const { audience, scope, resource, extraParams } = options;
    checkPerCall(scope, resource, extraParams);
    if (
      audience === undefined &&
      scope === undefined &&
      resource === undefined &&
      extraParams === undefined
    ) {
      return this.#defaultRequest;
    }
    if (audience === undefined && resource === undefined && extraParams === undefined) {
      // The common per-call shape (a scope only): one join and one Map lookup.
      const byScope = typeof scope === 'string' ? scope : (scope as readonly string[]).join(' ');
      let memo = this.#resolvedByScope.get(byScope);
      if (memo === undefined) {
        memo = this.#build(options);
        if (this.#resolvedByScope.size >= 1_000) this.#resolvedByScope.clear();
        this.#resolvedByScope.set(byScope, memo);
      }
      return memo;
    }
    let signature: string | undefined;
    if (extraParams === undefined) {
      signature = `${audience ?? '\u0000'}\u0001${typeof scope === 'string' ? scope : (scope?.join(' ') ?? '\u0000')}\u0001${
        typeof resource === 'string' ? resource : (resource?.join('\u0002') ?? '\u0000')
      }`;
      const memo = this.#resolved.get(signature);
      if (memo !== undefined) return memo;
    }
    const request = this.#build(options);
    if (signature !== undefined) {
      if (this.#resolved.size >= 1_000) this.#resolved.clear();
      this.#resolved.set(signature, request);
    }
    return request;
  }

  #build(options: Omit<GetTokenOptions, 'forceRefresh' | 'signal'>): ResolvedRequest {
    const o = this.#options;
    if (options.audience !== undefined && (typeof options.audience !== 'string' || options.audience === '')) {
      throw new ConfigurationError('audience', 'must be a non-empty string');
    }
    const audience = options.audience ?? o.audience;
    const scope = options.scope !== undefined ? dedupe(splitScope(options.scope)) : dedupe(o.scope);
    const resource = options.resource !== undefined ? dedupe(toArray(options.resource)) : dedupe(o.resource);
    for (const r of resource) checkResource(r);
    const extraParams = { ...o.extraParams, ...(options.extraParams ?? {}) };
    for (const name of Object.keys(options.extraParams ?? {})) {
      if (RESERVED_PARAMS.has(name)) {
        throw new ConfigurationError(
          `extraParams.${name}`,
          `may not set ${name}: it is set by the client or has an option of its own`,
        );
      }
    }
    const parts: KeyParts = {
      endpoint: this.#endpointForKey,
      clientId: o.clientId,
      audience,
      scope,
      resource,
      extraParams,
      keyBinding: this.#keyBinding,
    };
    const params: Array<[string, string]> = [];
    if (audience !== undefined) params.push(['audience', audience]);
    if (scope.length > 0) params.push(['scope', scope.join(' ')]);
    // RFC 8707 2: the resource parameter may be repeated.
    for (const r of resource) params.push(['resource', r]);
    for (const [name, value] of Object.entries(extraParams)) params.push([name, value]);
    const key = cacheKey(parts);
    // With a shared cache, known from the first use, so clear() also drops tokens another process stored.
    if (!this.#ownsCache && this.#knownKeys.size < 100_000) this.#knownKeys.add(key);
    return Object.freeze({ key, info: keyInfo(parts), params: Object.freeze(params) });
  }
}

/** Per-call options get the same checks as the constructor's (a cheap typeof walk, no allocation). */
function checkPerCall(scope: unknown, resource: unknown, extraParams: unknown): void {
  if (!isStringList(scope)) throw new ConfigurationError('scope', 'must be a string or an array of strings');
  if (!isStringList(resource)) {
    throw new ConfigurationError('resource', 'must be a string or an array of strings');
  }
  if (extraParams !== undefined) {
    if (typeof extraParams !== 'object' || extraParams === null || Array.isArray(extraParams)) {
      throw new ConfigurationError('extraParams', 'must be an object of string values');
    }
    for (const name in extraParams) {
      if (typeof (extraParams as Record<string, unknown>)[name] !== 'string') {
        throw new ConfigurationError(`extraParams.${name}`, 'must be a string');
      }
    }
  }
}

function isStringList(value: unknown): boolean {
  if (value === undefined || typeof value === 'string') return true;
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false;
  return true;
}

function dedupe(values: readonly string[]): string[] {
  return values.length <= 1 ? values.slice() : [...new Set(values)];
}

/** RFC 8707 2: an absolute URI without a fragment. */
function checkResource(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError('resource', 'must be an absolute URI (RFC 8707 2)');
  }
  if (url.hash) throw new ConfigurationError('resource', 'must not contain a fragment (RFC 8707 2)');
}

function isTokenCache(value: unknown): value is TokenCache {
  const c = value as TokenCache;
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof c.get === 'function' &&
    typeof c.set === 'function' &&
    typeof c.delete === 'function'
  );
}

export type { ClientAuthenticator };
