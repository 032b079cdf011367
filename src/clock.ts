/**
 * The clock, in one place. Two kinds of time, never mixed:
 *
 * - the wall clock (`Date.now()`, epoch ms) for token expiry only: `expires_in`, JWT `exp`, `expiresAt`,
 *   with the jump rules of cache/lifetime.ts;
 * - a monotonic clock (`performance.now()`) for every interval: Retry-After pauses, backoff, the 401
 *   forced-refresh limit, the refresh-ahead retry schedule, lock waits, the Redis failure pause, the
 *   discovery metadata's TTL and stale window, the durations in events. Setting the system clock back
 *   or forth never stretches or ends one of these.
 *
 * Both are read through `globalThis` at each call, so fake timers (vitest's `vi.useFakeTimers()` fakes
 * `Date` and `performance`) drive them; the manager, the metadata cache and the obtain function also
 * take a {@link Clock}.
 */

export interface Clock {
  /** Wall clock, epoch ms. For token expiry only. */
  now(): number;
  /** Monotonic ms from an arbitrary origin. For every interval. */
  monotonic(): number;
}

/** The process clocks. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/**
 * An epoch-ms moment for a monotonic deadline, for errors and events (`retryAt`): the wall clock now
 * plus the monotonic time remaining. Never earlier than now.
 */
export function epochOf(clock: Clock, monotonicDeadline: number): number {
  return clock.now() + Math.max(0, monotonicDeadline - clock.monotonic());
}
