/**
 * The token manager: when a token is reused and when one is obtained. It knows keys, cache entries,
 * single-flight (normal, refresh-ahead and forced flights), the cross-process lock, refresh-ahead and
 * its retry schedule, cache faults, invalidate/clear/close, and the events about all of this; forced
 * refreshes after a rejection and their per-key rate limit are in rejection.ts. How a token is obtained for a key is a
 * function it is given ({@link ObtainToken}), as golang.org/x/oauth2's ReuseTokenSource wraps a
 * TokenSource: the client passes a token request, unit tests a fake.
 */
import { entryFromCache } from '../cache/entry.js';
import { isUsable, type LifetimeSettings, toCachedToken, ttlOf } from '../cache/lifetime.js';
import { Lru } from '../cache/lru.js';
import { MemoryTokenCache } from '../cache/memory-cache.js';
import { type Clock, systemClock } from '../clock.js';
import { M2M_CACHE_ENTRY_INVALID, M2MTokenError } from '../errors.js';
import type { EventSink } from '../events.js';
import { isMadeToken } from '../http/token-response.js';
import { describeError } from '../redact/index.js';
import type { ResolvedRequest } from '../selection.js';
import type { CachedToken, Token, TokenCache, TokenKeyInfo, TokenRequestTrigger } from '../types.js';
import { raceSignal } from '../util.js';
import {
  accepts,
  closedError,
  type Flight,
  knownKeysBound,
  MAX_KEY_STATE,
  type Mode,
  NORMAL,
  REFRESH,
} from './flight.js';
import { Rejections } from './rejection.js';
import { type LockContext, type LockRelease, lockOrWait } from './shared-lock.js';

const tokenOf = (entry: CachedToken): Token => entry.token;
const ignore = (): void => undefined;

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | undefined)?.then === 'function';
}

/** A token as obtained, with the moment its request was sent (epoch ms: `expires_in` counts from it). */
export interface ObtainedToken {
  readonly token: Token;
  readonly sentAt: number;
}

/**
 * How to obtain a token for a key: one token request with its retries. `signal` aborts when the
 * manager closes; its reason is then what the obtain function should reject with. `trigger` says why
 * the token is requested (for events).
 */
export type ObtainToken = (
  request: ResolvedRequest,
  signal: AbortSignal,
  trigger: TokenRequestTrigger,
) => Promise<ObtainedToken>;

export interface TokenManagerOptions {
  readonly obtain: ObtainToken;
  /** Where entries are kept; undefined: caching off (single-flight still holds). */
  readonly cache: TokenCache | undefined;
  /**
   * The cache was made for this manager alone (the client's default MemoryTokenCache): nobody else can
   * change it, so the hot key's entry may live in a field, and clear() empties it whole.
   */
  readonly ownsCache: boolean;
  readonly lifetime: LifetimeSettings;
  readonly events: EventSink;
  /** How long a cross-process lock may be held (the worst-case token request, plus a margin). */
  readonly lockTtlMs: number;
  /** The key kept in the hot slot when the cache is owned (the client's default selection). */
  readonly hotKey?: string;
  /** A forced refresh after a rejection at most once per key in this interval, ms. */
  readonly forcedRefreshIntervalMs: number;
  readonly clock?: Clock;
}

/** Caches, coalesces and refreshes the tokens of one client. */
export class TokenManager {
  readonly #obtain: ObtainToken;
  readonly #cache: TokenCache | undefined;
  readonly #ownsCache: boolean;
  readonly #lifetime: LifetimeSettings;
  readonly #events: EventSink;
  readonly #clock: Clock;
  readonly #hotKey: string | undefined;
  readonly #lock: LockContext | undefined;
  /** The hot key's entry when the cache is owned: the hot path then costs no cache lookup. */
  #hot: CachedToken | undefined;
  readonly #flights = new Map<string, Flight>();
  /** Keys this manager used or stored (a shared cache only), for clear(); bounded like the cache. */
  readonly #known: Lru<TokenKeyInfo>;
  /** Per key: when (monotonic) refresh-ahead may be tried again after a failure. */
  readonly #refreshRetryAt = new Lru<number>(MAX_KEY_STATE);
  /** Forced refreshes after rejections, and their per-key windows. */
  readonly #rejections: Rejections;
  /** Background stores and lock releases, awaited by close(). */
  readonly #pending = new Set<Promise<void>>();
  readonly #closing = new AbortController();
  #isClosed = false;
  #closed: Promise<void> | undefined;

  constructor(options: TokenManagerOptions) {
    this.#obtain = options.obtain;
    this.#cache = options.cache;
    this.#ownsCache = options.ownsCache;
    this.#lifetime = options.lifetime;
    this.#events = options.events;
    this.#clock = options.clock ?? systemClock;
    this.#hotKey = options.ownsCache ? options.hotKey : undefined;
    this.#known = new Lru(knownKeysBound(options.cache));
    const cache = options.cache;
    this.#rejections = new Rejections({
      clock: this.#clock,
      intervalMs: options.forcedRefreshIntervalMs,
      cache,
      get: (request) => this.#safeGet(request),
      flight: (key) => this.#flights.get(key),
      acquire: (request, mode) => this.#acquire(request, mode, undefined),
      dropHot: (key, accessToken) => {
        if (key === this.#hotKey && this.#hot?.token.accessToken === accessToken) this.#hot = undefined;
      },
      fault: (info, operation, error) => this.#fault(info, operation, error),
    });
    if (cache?.acquireLock) {
      this.#lock = {
        cache: cache as LockContext['cache'],
        ttlMs: options.lockTtlMs,
        clock: this.#clock,
        events: this.#events,
        get: (request) => this.#safeGet(request),
        fault: (request, operation, error) => this.#fault(request.info, operation, error),
      };
    }
  }

  /**
   * A token for the key: from the cache when one is usable (starting refresh-ahead when due), else from
   * the one flight for this key. The hot path: a synchronous cache hit costs one promise.
   */
  get(request: ResolvedRequest, signal?: AbortSignal): Promise<Token> {
    if (this.#isClosed) return Promise.reject(closedError());
    const hot = this.#hot;
    if (hot !== undefined && request.key === this.#hotKey) {
      const token = this.#hit(request, hot);
      if (token !== undefined) return Promise.resolve(token);
      this.#hot = undefined;
    }
    const cache = this.#cache;
    if (cache === undefined) return this.#missed(request, undefined, signal);
    let got: ReturnType<TokenCache['get']>;
    try {
      got = cache.get(request.key);
    } catch (error) {
      this.#fault(request.info, 'get', error);
      return this.#missed(request, undefined, signal);
    }
    if (!isThenable<CachedToken | undefined>(got)) {
      if (got !== undefined && !isMadeToken(got.token)) got = this.#checked(request, got);
      const token = got === undefined ? undefined : this.#hit(request, got);
      if (token === undefined) return this.#missed(request, got, signal);
      if (request.key === this.#hotKey) this.#hot = got;
      else if (!this.#ownsCache) this.#known.touch(request.key, request.info);
      return Promise.resolve(token);
    }
    return got.then(
      (value) => {
        const entry = value === undefined ? undefined : this.#checked(request, value);
        const token = entry === undefined ? undefined : this.#hit(request, entry);
        if (token === undefined) return this.#missed(request, entry, signal);
        this.#known.touch(request.key, request.info);
        return token;
      },
      (error: unknown) => {
        this.#fault(request.info, 'get', error);
        return this.#missed(request, undefined, signal);
      },
    );
  }

  /** `forceRefresh: true`: a token obtained after this call began, never the cached one (still single-flight). */
  refresh(request: ResolvedRequest, signal?: AbortSignal): Promise<Token> {
    if (this.#events.active) this.#events.emit({ type: 'cache_miss', key: request.info, reason: 'forced' });
    return this.#acquire(request, { kind: 'force', notBefore: this.#clock.now() }, signal).then(tokenOf);
  }

  /**
   * A resource server refused `rejected` (a 401 asking for a new token): a newer token when another
   * call already has one, else one forced refresh that drops the rejected token (only it: delete-if-equal)
   * and obtains another. Forced refreshes are rate-limited per key (one per `forcedRefreshIntervalMs`,
   * monotonic); when limited, the refresh of that window is shared, or `undefined` is returned
   * (rejection.ts).
   */
  async replaceRejected(
    request: ResolvedRequest,
    rejected: Token,
    signal?: AbortSignal,
  ): Promise<Token | undefined> {
    if (this.#isClosed) throw closedError();
    return this.#rejections.replace(request, rejected, signal);
  }

  /** Drops the key's token, its flight's right to store, and its refresh state. */
  async invalidate(request: ResolvedRequest): Promise<void> {
    if (this.#isClosed) throw closedError();
    this.#forget(request.key);
    await this.#safeDelete(request.key, request.info);
  }

  /** Drops every token of this manager (its keys in a shared cache), and all per-key state. */
  async clear(): Promise<void> {
    if (this.#isClosed) throw closedError();
    for (const flight of this.#flights.values()) flight.stale = true;
    this.#flights.clear();
    this.#hot = undefined;
    this.#refreshRetryAt.clear();
    this.#rejections.clear();
    if (this.#ownsCache && this.#cache instanceof MemoryTokenCache) {
      this.#cache.clear();
      this.#known.clear();
      return;
    }
    const keys = [...this.#known.entries()];
    this.#known.clear();
    await Promise.all(keys.map(([key, info]) => this.#safeDelete(key, info)));
  }

  /**
   * Closes the manager: calls made later reject with `M2M_CLIENT_CLOSED`; flights still out are
   * abandoned (their token requests, lock waits and Retry-After waits are aborted, and their callers
   * reject with the same code); stores and lock releases already under way are awaited, so that a token
   * obtained before close() is kept in a shared cache and no lock is left behind. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#isClosed = true;
    this.#closing.abort(closedError());
    const flights = [...this.#flights.values()];
    this.#closed = (async () => {
      await Promise.all(flights.map((flight) => flight.result.then(ignore, ignore)));
      while (this.#pending.size > 0) await Promise.all(this.#pending);
      this.#flights.clear();
      this.#hot = undefined;
      this.#refreshRetryAt.clear();
      this.#rejections.clear();
      this.#known.clear();
    })();
    return this.#closed;
  }

  // ---------------------------------------------------------------------------------------------

  /** The token of a usable entry (starting refresh-ahead when due), or undefined. */
  #hit(request: ResolvedRequest, entry: CachedToken): Token | undefined {
    const now = this.#clock.now();
    if (!isUsable(entry, now)) return undefined;
    if (now >= entry.refreshAt) this.#refreshAhead(request, entry);
    if (this.#events.active)
      this.#events.emit({ type: 'cache_hit', key: request.info, expiresAt: entry.token.expiresAt });
    return entry.token;
  }

  #missed(request: ResolvedRequest, entry: CachedToken | undefined, signal: AbortSignal | undefined) {
    if (this.#events.active) {
      const reason = this.#cache === undefined ? 'disabled' : entry ? 'expired' : 'absent';
      this.#events.emit({ type: 'cache_miss', key: request.info, reason });
    }
    return this.#acquire(request, NORMAL, signal).then(tokenOf);
  }

  /**
   * Single-flight: one flight per key; every caller waits on its result. A forced caller joins only a
   * forced flight whose result is still to come; otherwise a new forced flight starts once the current
   * one has ended (one token request per key at a time).
   */
  #acquire(request: ResolvedRequest, mode: Mode, signal: AbortSignal | undefined): Promise<CachedToken> {
    // An already-aborted caller starts nothing.
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#isClosed) return Promise.reject(closedError());
    let flight = this.#flights.get(request.key);
    if (flight === undefined || (mode.kind === 'force' && (flight.mode !== 'force' || flight.settled))) {
      flight = this.#start(request, mode, flight);
    }
    // A caller's signal ends its own wait only; the flight goes on for the others.
    return raceSignal(flight.result, signal);
  }

  #start(request: ResolvedRequest, mode: Mode, previous: Flight | undefined): Flight {
    const key = request.key;
    let end!: () => void;
    const flight: Flight = {
      mode: mode.kind,
      result: undefined as unknown as Promise<CachedToken>,
      ended: new Promise<void>((resolve) => {
        end = resolve;
      }),
      settled: false,
      stale: false,
    };
    flight.result =
      previous === undefined
        ? this.#run(request, mode, flight)
        : previous.ended.then(() => this.#run(request, mode, flight));
    const leave = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
      end();
    };
    flight.result.then(
      () => {
        flight.settled = true;
        // Stays joinable until stored, so that a caller arriving meanwhile gets this token, not a miss.
        if (flight.store === undefined) leave();
        else void flight.store.then(leave);
      },
      () => {
        flight.settled = true;
        leave(); // The next call tries again.
      },
    );
    this.#flights.set(key, flight);
    return flight;
  }

  /** One flight: the cross-process lock when there is one, then obtain, then the store in the background. */
  async #run(request: ResolvedRequest, mode: Mode, flight: Flight): Promise<CachedToken> {
    const signal = this.#closing.signal;
    signal.throwIfAborted();
    let release: LockRelease | undefined;
    if (this.#lock !== undefined) {
      const outcome = await lockOrWait(this.#lock, request, (e, now) => accepts(e, mode, now), signal);
      if (outcome.entry !== undefined) {
        if (outcome.release !== undefined) flight.store = this.#track(this.#unlock(request, outcome.release));
        return outcome.entry;
      }
      release = outcome.release;
    }
    let entry: CachedToken;
    try {
      const obtained = await raceSignal(this.#obtain(request, signal, triggerOf(mode)), signal);
      entry = toCachedToken(obtained.token, obtained.sentAt, this.#lifetime);
    } catch (error) {
      if (release !== undefined) flight.store = this.#track(this.#unlock(request, release));
      throw error;
    }
    // The waiters get the token now; storing it (and releasing the lock) follows in the background.
    flight.store = this.#track(this.#store(request, entry, flight, release));
    return entry;
  }

  async #store(
    request: ResolvedRequest,
    entry: CachedToken,
    flight: Flight,
    release: LockRelease | undefined,
  ): Promise<void> {
    try {
      const cache = this.#cache;
      const ttl = ttlOf(entry, this.#clock.now());
      // expires_in: 0 (or a lifetime under the buffer): handed to the waiters, not cached. A flight made
      // stale by invalidate()/clear() stores nothing (checked before the first await: no interleaving).
      if (cache === undefined || ttl <= 0 || flight.stale) return;
      if (request.key === this.#hotKey) this.#hot = entry;
      if (!this.#ownsCache) this.#known.set(request.key, request.info);
      try {
        const stored = cache.set(request.key, entry, ttl);
        if (isThenable(stored)) await stored;
      } catch (error) {
        this.#fault(request.info, 'set', error);
      }
    } finally {
      if (release !== undefined) await this.#unlock(request, release);
    }
  }

  async #unlock(request: ResolvedRequest, release: LockRelease): Promise<void> {
    try {
      await release();
    } catch (error) {
      this.#fault(request.info, 'unlock', error);
    }
  }

  /** Keeps a background promise (never rejecting) until it settles, for close(). */
  #track(work: Promise<void>): Promise<void> {
    this.#pending.add(work);
    void work.then(() => this.#pending.delete(work));
    return work;
  }

  /** Starts one background refresh for the key; a failure keeps the valid token and is retried later. */
  #refreshAhead(request: ResolvedRequest, entry: CachedToken): void {
    const key = request.key;
    if (this.#flights.has(key)) return;
    const retryAt = this.#refreshRetryAt.get(key);
    if (retryAt !== undefined && this.#clock.monotonic() < retryAt) return;
    if (this.#events.active) this.#events.emit({ type: 'refresh_ahead_start', key: request.info });
    this.#acquire(request, REFRESH, undefined).then(
      () => {
        this.#refreshRetryAt.delete(key);
      },
      (error: unknown) => {
        if (this.#isClosed) return;
        // Try again after a quarter of the remaining usable time (1 s to 30 s).
        const delayMs = Math.min(30_000, Math.max(1_000, (entry.usableUntil - this.#clock.now()) / 4));
        this.#refreshRetryAt.set(key, this.#clock.monotonic() + delayMs);
        if (this.#events.active) {
          this.#events.emit({
            type: 'refresh_ahead_failure',
            key: request.info,
            error: describeError(error),
            retryAt: this.#clock.now() + delayMs,
          });
        }
      },
    );
  }

  /** Forgets the key's state here; a flight still out for it becomes stale. */
  #forget(key: string): void {
    this.#known.delete(key);
    this.#rejections.forget(key);
    this.#refreshRetryAt.delete(key);
    const flight = this.#flights.get(key);
    if (flight !== undefined) {
      flight.stale = true;
      this.#flights.delete(key);
    }
    if (key === this.#hotKey) this.#hot = undefined;
  }

  async #safeGet(request: ResolvedRequest): Promise<CachedToken | undefined> {
    if (this.#cache === undefined) return undefined;
    try {
      const value = await this.#cache.get(request.key);
      return value === undefined ? undefined : this.#checked(request, value);
    } catch (error) {
      this.#fault(request.info, 'get', error);
      return undefined;
    }
  }

  /**
   * An entry as the cache gave it back: one this client made is used as it is; anything else (parsed
   * JSON, another process's value) is checked and rebuilt (cache/entry.ts), and what does not pass is a
   * miss reported as a cache fault.
   */
  #checked(request: ResolvedRequest, value: unknown): CachedToken | undefined {
    const entry = entryFromCache(value);
    if (entry === undefined) {
      this.#fault(
        request.info,
        'get',
        new M2MTokenError('the cache gave back an entry that is not a cached token', M2M_CACHE_ENTRY_INVALID),
      );
    }
    return entry;
  }

  async #safeDelete(key: string, info: TokenKeyInfo): Promise<void> {
    if (this.#cache === undefined) return;
    try {
      await this.#cache.delete(key);
    } catch (error) {
      this.#fault(info, 'delete', error);
    }
  }

  #fault(info: TokenKeyInfo, operation: 'get' | 'set' | 'delete' | 'lock' | 'unlock', error: unknown): void {
    if (this.#events.active) {
      this.#events.emit({ type: 'cache_fault', key: info, operation, error: describeError(error) });
    }
  }
}

/** Why a flight of this mode requests a token (the `trigger` of `token_request_start`). */
function triggerOf(mode: Mode): TokenRequestTrigger {
  if (mode.kind === 'normal') return 'miss';
  if (mode.kind === 'refresh') return 'refresh_ahead';
  return mode.rejected !== undefined ? 'rejected' : 'forced';
}
