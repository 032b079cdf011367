/**
 * How often a process waiting on another process's lock asks Redis again.
 *
 * The client polls `acquireLock` with a short backoff (20 ms doubling to 250 ms) while another process
 * holds the lock. At fleet scale that is a storm: 1,000 replicas x 20 audiences waking up together are
 * 20,000 waiters, 80,000 polls a second, and the polls themselves slow down the one process that is
 * fetching the token (its Redis calls and its token response wait behind them). So a waiter also paces
 * itself by how busy things are: before asking again it waits {@link PACE_FACTOR} times the round trip
 * its previous poll took (a fraction of a millisecond on a quiet system; seconds when the event loop or
 * Redis is saturated), with jitter, at most {@link PACE_MAX_MS}, and never past the moment the holder's
 * lock expires (when the holder died, a waiter takes over at once).
 *
 * With W waiters each spending a round trip r polling and 3r pacing, about W/4 polls are in flight at a
 * time: the queue the holder's own calls wait behind is a quarter of what it would be, and W waiters
 * that a process (or Redis) can serve T polls a second settle at a cycle of about W/T. The cap must be
 * above that cycle, else the polls keep everything saturated. Measured with the in-process simulation
 * (test/fixtures/fleet-sim.ts), 1,000 replicas x 20 audiences with 2 CPU-burner processes running: with a
 * cap of 1 s the polls kept the process saturated until the lock waits ran out (2,230 token requests,
 * 1 failed call); with 4 s, 20 token requests and 3 Redis commands per getToken().
 */
import { Lru } from '../cache/lru.js';
import { systemClock } from '../clock.js';

export const PACE_FACTOR = 3;
export const PACE_MAX_MS = 4_000;

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
    this.#waits.set(key, { rttMs, lockUntil: systemClock.monotonic() + Math.max(0, lockMs) });
  }

  /** The wait for `key` is over (the lock was taken, or the entry found). */
  done(key: string): void {
    this.#waits.delete(key);
  }

  /** How long to wait before polling for `key` again, ms (0: poll now). */
  delayFor(key: string): number {
    const wait = this.#waits.get(key);
    if (wait === undefined) return 0;
    const pace = Math.min(PACE_MAX_MS, PACE_FACTOR * wait.rttMs * (0.5 + Math.random()));
    return Math.max(0, Math.min(pace, wait.lockUntil - systemClock.monotonic()));
  }
}
