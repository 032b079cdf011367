/**
 * Flights: one attempt to obtain a token for a key, and what it accepts from a cache that another
 * process fills (its mode).
 */
import { isUsable } from '../cache/lifetime.js';
import { ErrorCode, M2MTokenError } from '../errors.js';
import type { CachedToken, TokenCache } from '../types.js';

/** What a flight accepts from a cache another process fills. */
export type Mode =
  /** A plain miss: any usable token will do. */
  | { readonly kind: 'normal' }
  /** Refresh-ahead: only a token fresher than the refresh point will do. */
  | { readonly kind: 'refresh' }
  /**
   * forceRefresh: only a token obtained from `notBefore` (epoch ms, when the call began) on; after a
   * rejection: any token but the rejected one.
   */
  | { readonly kind: 'force'; readonly notBefore: number; readonly rejected?: string };

export const NORMAL: Mode = { kind: 'normal' };
export const REFRESH: Mode = { kind: 'refresh' };

export interface Flight {
  readonly mode: Mode['kind'];
  result: Promise<CachedToken>;
  /** Resolves once the flight has left the map (after its store, or at once after a failure). */
  ended: Promise<void>;
  /** The background store (and lock release) after success, or the lock release after a failure. */
  store?: Promise<void>;
  /** The result is known (its store may still run). */
  settled: boolean;
  /**
   * invalidate()/clear() ran while the flight was out: its result still reaches the callers waiting for
   * it, but is never cached (a token obtained before a rotation must not come back after clear()).
   */
  stale: boolean;
}

/** When the cache does not say how many entries it keeps: the most keys remembered for clear(). */
const DEFAULT_KNOWN_KEYS = 10_000;
/** Most keys with a refresh-ahead retry time or a forced-refresh window; the oldest go first. */
export const MAX_KEY_STATE = 10_000;

/**
 * Refreshes forced by 401s (a resource server refusing the token) are allowed at most once per cache key
 * in this interval, ms, on the monotonic clock; inside it the refresh of the window is shared, and a 401
 * that still refuses the token is handed over as it is (manager/rejection.ts).
 */
export const FORCED_REFRESH_INTERVAL_MS = 5_000;

export function closedError(): M2MTokenError {
  return new M2MTokenError(
    'the client is closed (close() was called): create a new ClientCredentialsClient',
    ErrorCode.CLIENT_CLOSED,
  );
}

export function accepts(entry: CachedToken, mode: Mode, now: number): boolean {
  if (!isUsable(entry, now)) return false;
  switch (mode.kind) {
    case 'normal':
      return true;
    case 'refresh':
      return now < entry.refreshAt;
    case 'force':
      return mode.rejected !== undefined
        ? entry.token.accessToken !== mode.rejected
        : entry.obtainedAt >= mode.notBefore;
  }
}

/** The cache's own bound when it states one (MemoryTokenCache's maxEntries), else DEFAULT_KNOWN_KEYS. */
export function knownKeysBound(cache: TokenCache | undefined): number {
  const max = (cache as { maxEntries?: unknown } | undefined)?.maxEntries;
  return typeof max === 'number' && Number.isInteger(max) && max > 0 ? max : DEFAULT_KNOWN_KEYS;
}
