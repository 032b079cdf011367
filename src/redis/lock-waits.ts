/**
 * How often a process waiting on another process's lock asks Redis again (issue 19).
 *
 * The client polls `acquireLock` with a short backoff (20 ms doubling to 250 ms) while another process
 * holds the lock. At fleet scale that is a storm: 1,000 replicas x 20 audiences waking up together are
 * 20,000 waiters, 80,000 polls a second, and the polls themselves slow down the one process that is
 * fetching the token (its Redis calls and its token response wait behind them). So a waiter also paces
 * itself by how busy things are: before asking again it waits {@link PACE_FACTOR} times the round trip
 * its previous poll took (a few ms on a quiet system; up to {@link PACE_MAX_MS} when a poll took long
 * because the event loop or Redis is saturated), with jitter, and never past the moment the holder's
 * lock expires (when the holder died, a waiter takes over at once).
 *
 * With W waiters each spending one round trip r polling and 8r pacing, at most about W/9 polls are in
 * flight at a time, so the holder's own calls wait behind a ninth of the queue they would otherwise.
 */
import { Lru } from '../cache/lru.js';
import { monotonic } from './monotonic.js';

export const PACE_FACTOR = 8;
export const PACE_MAX_MS = 1_000;

interface Wait {
  /** How long the last poll took, ms. */
  readonly rttMs: number;
  /** Monotonic ms when the holder's lock expires. */
  readonly lockUntil: number;
}

export class LockWaits {
  readonly #waits: Lru<Wait>;

  constructor(maxEntries: number) {
    this.#waits = new Lru(maxEntries);
  }

  /** Another process holds the lock for `key` for `lockMs` more; the poll that found it took `rttMs`. */
  held(key: string, rttMs: number, lockMs: number): void {
    this.#waits.set(key, { rttMs, lockUntil: monotonic() + Math.max(0, lockMs) });
  }

  /** The wait for `key` is over (the lock was taken, or the entry found). */
  done(key: string): void {
    this.#waits.delete(key);
  }

  /** How long to wait before polling for `key` again, ms (0: poll now). */
  delayFor(key: string): number {
    const wait = this.#waits.get(key);
    if (wait === undefined) return 0;
    const pace = Math.min(PACE_MAX_MS, PACE_FACTOR * wait.rttMs) * (0.5 + Math.random());
    return Math.max(0, Math.min(pace, wait.lockUntil - monotonic()));
  }
}
