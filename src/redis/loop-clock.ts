/**
 * Timeouts that measure Redis, not this process.
 *
 * A Redis call's timeout must fire when Redis did not answer, not when this process was too busy to read
 * the answer. When the event loop is stalled (a long synchronous task, a saturated loop working through a
 * backlog, a process descheduled on a starved CPU), a plain timer fires late and a reply already in the
 * socket, or one that will be read a few turns later, looks like a Redis that did not answer: the cache
 * then reports an outage and sends every miss to the token endpoint, exactly when the fleet is busiest.
 *
 * So a timeout here counts "free time" only: while deadlines are pending, one ticker per process runs every
 * {@link TICK_MS} on the monotonic clock and advances the free-time clock by the time since the previous
 * tick, unless that tick came late (more than {@link STALL_MS} after the previous one): then only TICK_MS
 * counts and the rest was a stall of this process. A deadline is due when its `timeoutMs` of free time
 * has passed; it then lets one more turn of the loop go by (`setImmediate`: pending I/O is read before it
 * runs) so that a reply already received wins.
 *
 * Cost: one timer every 20 ms while some Redis call is in flight, none otherwise (the timer is unref'd).
 */
import { systemClock } from '../clock.js';

/** How often the ticker runs while deadlines are pending, ms. */
export const TICK_MS = 20;
/** A tick later than this after the previous one means the loop was stalled in between. */
export const STALL_MS = 2 * TICK_MS;

interface Deadline {
  readonly at: number;
  readonly fire: () => void;
}

class LoopClock {
  /** Free time so far, ms (advanced on each tick). */
  #free = 0;
  /** Monotonic time of the previous tick. */
  #last = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Pending deadlines by timeout length: in each lane they were added in free-time order, so each tick only
   * looks at the front of each lane (a Set keeps insertion order and deletes in O(1)).
   */
  readonly #lanes = new Map<number, Set<Deadline>>();

  /**
   * Calls `fire` once `timeoutMs` of free time has passed and one more loop turn has gone by. Returns a
   * function that cancels it.
   */
  after(timeoutMs: number, fire: () => void): () => void {
    if (this.#timer === undefined) {
      this.#last = systemClock.monotonic();
      this.#schedule();
    }
    const deadline: Deadline = { at: this.#now() + timeoutMs, fire };
    let lane = this.#lanes.get(timeoutMs);
    if (lane === undefined) {
      lane = new Set();
      this.#lanes.set(timeoutMs, lane);
    }
    lane.add(deadline);
    return () => {
      lane.delete(deadline);
    };
  }

  /** Free time now: what the ticks counted, plus the time since the last tick when that is no stall. */
  #now(): number {
    return this.#free + Math.min(Math.max(0, systemClock.monotonic() - this.#last), TICK_MS);
  }

  #schedule(): void {
    const timer = setTimeout(() => this.#tick(), TICK_MS);
    (timer as { unref?: () => void }).unref?.();
    this.#timer = timer;
  }

  #tick(): void {
    const now = systemClock.monotonic();
    const elapsed = now - this.#last;
    this.#last = now;
    this.#free += elapsed <= STALL_MS ? Math.max(0, elapsed) : TICK_MS;
    let pending = 0;
    for (const [timeoutMs, lane] of this.#lanes) {
      for (const deadline of lane) {
        if (deadline.at > this.#free) break;
        lane.delete(deadline);
        // One more turn: I/O already received is read in this turn's poll phase, before the check phase.
        setImmediate(deadline.fire);
      }
      if (lane.size === 0) this.#lanes.delete(timeoutMs);
      else pending += lane.size;
    }
    if (pending > 0) this.#schedule();
    else this.#timer = undefined;
  }
}

/** The process's one loop clock (shared by every RedisTokenCache). */
export const loopClock = new LoopClock();
