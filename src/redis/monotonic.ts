/**
 * The monotonic clock of the Redis cache: every interval here (per-call timeouts, the failure pause, the
 * local layer's freshness) is measured on it, so setting the system clock back or forth never stretches or
 * ends one (issue 12.3). Token expiry stays on the wall clock (`Date.now()`), as everywhere in m2m-token.
 *
 * Read through `globalThis.performance` at each call, so fake timers drive it.
 */
export function monotonic(): number {
  return performance.now();
}
