/**
 * The in-process layer in front of Redis: a small LRU of entries with a freshness bound. A fresh entry is
 * served without a Redis round trip; a stale but still usable one is kept as the fallback for when Redis
 * fails.
 */
import type { CachedToken } from '../types.js';

export interface LocalSlot {
  readonly value: CachedToken;
  /** Epoch ms until which the entry is served without asking Redis. */
  readonly freshUntil: number;
}

export class LocalLayer {
  readonly #slots = new Map<string, LocalSlot>();
  readonly #maxEntries: number;
  #lastKey: string | undefined;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get(key: string): LocalSlot | undefined {
    const slot = this.#slots.get(key);
    // LRU: move to the end, unless it already is the most recent (the hot path of one key).
    if (slot !== undefined && this.#lastKey !== key) {
      this.#slots.delete(key);
      this.#slots.set(key, slot);
      this.#lastKey = key;
    }
    return slot;
  }

  set(key: string, slot: LocalSlot): void {
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    this.#lastKey = key;
    while (this.#slots.size > this.#maxEntries) {
      const oldest = this.#slots.keys().next().value as string;
      this.#slots.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#slots.delete(key);
    if (this.#lastKey === key) this.#lastKey = undefined;
  }

  clear(): void {
    this.#slots.clear();
    this.#lastKey = undefined;
  }

  get size(): number {
    return this.#slots.size;
  }
}
