import { ConfigurationError } from '../errors.js';
import type { CachedToken, TokenCache } from '../types.js';

export interface MemoryTokenCacheOptions {
  /** Most entries kept; the least recently used is dropped first. Default 1000. */
  maxEntries?: number;
}

interface Slot {
  readonly value: CachedToken;
  /** Epoch ms after which the entry is never returned. */
  readonly expiresAt: number;
}

/**
 * The default {@link TokenCache}: an in-process LRU bounded by `maxEntries`, whose entries expire with
 * the ttl they were stored with. Synchronous, so a cache hit costs no extra promise.
 */
export class MemoryTokenCache implements TokenCache {
  readonly maxEntries: number;
  readonly #slots = new Map<string, Slot>();
  #lastKey: string | undefined;

  constructor(options: MemoryTokenCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? 1000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new ConfigurationError(
        'maxEntries',
        'MemoryTokenCache options.maxEntries must be a positive integer',
      );
    }
    this.maxEntries = maxEntries;
  }

  /** Number of entries held (expired ones included until they are touched or evicted). */
  get size(): number {
    return this.#slots.size;
  }

  get(key: string): CachedToken | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.expiresAt <= Date.now()) {
      this.#slots.delete(key);
      return undefined;
    }
    // LRU: move to the end, unless it already is the most recent (the hot path of one key).
    if (this.#lastKey !== key) {
      this.#slots.delete(key);
      this.#slots.set(key, slot);
      this.#lastKey = key;
    }
    return slot.value;
  }

  set(key: string, value: CachedToken, ttlMs: number): void {
    this.#slots.delete(key);
    if (!(ttlMs > 0)) return;
    this.#slots.set(key, { value, expiresAt: Date.now() + ttlMs });
    this.#lastKey = key;
    while (this.#slots.size > this.maxEntries) {
      const oldest = this.#slots.keys().next().value as string;
      this.#slots.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#slots.delete(key);
    if (this.#lastKey === key) this.#lastKey = undefined;
  }

  /** Drops every entry. */
  clear(): void {
    this.#slots.clear();
    this.#lastKey = undefined;
  }
}
