/**
 * The lifetime rules of a cached token, in one place.
 *
 *   sentAt ........ refreshAt ...... usableUntil .. expiresAt
 *   |-- handed out --|-- handed out + one background refresh --|-- buffer: never handed out --|
 *
 * - buffer = expiryBufferMs, but never more than half the lifetime (a 30 s token is reused for 15 s);
 * - refresh-ahead starts refreshAheadMs before usableUntil, but never earlier than 3/4 of the way;
 * - a token without a known expiry is used for defaultLifetimeMs.
 */
import type { CachedToken, Token } from '../types.js';
import { makeEntry } from './entry.js';

export interface LifetimeSettings {
  readonly expiryBufferMs: number;
  readonly defaultLifetimeMs: number;
  readonly refreshAheadMs: number;
}

/** A clock that went back further than this since the token was obtained makes the entry suspect. */
const BACKWARD_CLOCK_TOLERANCE_MS = 60_000;

export function toCachedToken(token: Token, sentAt: number, settings: LifetimeSettings): CachedToken {
  let usableUntil: number;
  if (token.expiresAt === undefined) {
    usableUntil = sentAt + settings.defaultLifetimeMs;
  } else {
    const lifetime = Math.max(0, token.expiresAt - sentAt);
    const buffer = Math.min(settings.expiryBufferMs, lifetime / 2);
    usableUntil = token.expiresAt - buffer;
  }
  const window = Math.max(0, usableUntil - sentAt);
  const refreshAt = usableUntil - Math.min(settings.refreshAheadMs, window / 4);
  return makeEntry(token, sentAt, refreshAt, usableUntil);
}

/** How long a shared cache should keep the entry, ms (0 or less: do not store). */
export function ttlOf(entry: CachedToken, now: number): number {
  return entry.usableUntil - now;
}

/** True while the entry may be handed out. */
export function isUsable(entry: CachedToken, now: number): boolean {
  return now < entry.usableUntil && now >= entry.obtainedAt - BACKWARD_CLOCK_TOLERANCE_MS;
}
