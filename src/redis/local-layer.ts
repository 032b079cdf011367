/**
 * The in-process layers in front of Redis.
 *
 * LocalLayer: a small LRU of entries with a freshness bound. Every usable entry is served without a Redis
 * round trip; one past its freshness is read again in the background, and kept as the fallback for when
 * Redis fails.
 *
 * Answers: what Redis said about a key a moment ago (an entry, or none) in a lock script, so that the
 * client's read that follows `acquireLock` is answered without a second round trip.
 */

import { isUsable } from '../cache/lifetime.js';
import { Lru } from '../cache/lru.js';
import type { CachedToken } from '../types.js';

export interface LocalSlot {
  readonly value: CachedToken;
  /** Monotonic ms until which the entry is served without asking Redis (`localTtlMs` after it was seen). */
  readonly freshUntil: number;
}

/** The local layer's LRU (`localMaxEntries`). */
export class LocalLayer extends Lru<LocalSlot> {}

/**
 * What a lock script read, standing in for the read the client makes right after `acquireLock` (in the same
 * turn of the event loop: its continuation runs as a microtask). The answers are dropped at the end of the
 * turn, so a later read, in this process or after another process wrote, always asks again.
 */
export class Answers {
  readonly #answers = new Map<string, CachedToken | undefined>();
  #clearing = false;

  remember(key: string, value: CachedToken | undefined): void {
    this.#answers.set(key, value);
    if (!this.#clearing) {
      this.#clearing = true;
      setImmediate(() => {
        this.#clearing = false;
        this.#answers.clear();
      });
    }
  }

  /** True when a lock script answered for `key` in this turn; `value(key)` is then its answer. */
  has(key: string): boolean {
    return this.#answers.has(key);
  }

  value(key: string, now: number): CachedToken | undefined {
    const value = this.#answers.get(key);
    return value !== undefined && isUsable(value, now) ? value : undefined;
  }

  delete(key: string): void {
    this.#answers.delete(key);
  }

  clear(): void {
    this.#answers.clear();
  }
}
