/** The default TokenCache: an in-process LRU of token entries (the cache folder's stores, keys and lifetime rules). */
import { ConfigurationError } from '../errors.js';
import { checkKnownKeys } from '../options/keys.js';
import type { CachedToken, TokenCache } from '../types.js';
import { Lru } from './lru.js';

const OPTION_KEYS: ReadonlySet<string> = new Set(['maxEntries']);

/** Options of {@link MemoryTokenCache}. */
export interface MemoryTokenCacheOptions {
  /**
   * Most entries kept (a positive integer); the least recently used is dropped first.
   * @default 1000
   */
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
  /** The most entries kept. */
  readonly maxEntries: number;
  readonly #slots: Lru<Slot>;

  /** @throws {ConfigurationError} `maxEntries` is not a positive integer, or an option is unknown */
  constructor(options: MemoryTokenCacheOptions = {}) {
    checkKnownKeys(options, OPTION_KEYS, 'MemoryTokenCache', '', true);
    const maxEntries = options.maxEntries ?? 1000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new ConfigurationError('maxEntries', 'must be a positive integer');
    }
    this.maxEntries = maxEntries;
    this.#slots = new Lru(maxEntries);
  }

  /** Number of entries held (expired ones included until they are touched or evicted). */
  get size(): number {
    return this.#slots.size;
  }

  /** The entry under `key`, unless it has expired. */
  get(key: string): CachedToken | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.expiresAt <= Date.now()) {
      this.#slots.delete(key);
      return undefined;
    }
    return slot.value;
  }

  /** Stores `value` for `ttlMs` (a ttl of 0 or less drops the entry instead). */
  set(key: string, value: CachedToken, ttlMs: number): void {
    if (!(ttlMs > 0)) {
      this.#slots.delete(key);
      return;
    }
    this.#slots.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  /** Drops the entry under `key`. */
  delete(key: string): void {
    this.#slots.delete(key);
  }

  /** Deletes the entry only while it holds `accessToken`; true when it did. */
  deleteIf(key: string, accessToken: string): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined || slot.value.token.accessToken !== accessToken) return false;
    this.#slots.delete(key);
    return true;
  }

  /** Drops every entry. */
  clear(): void {
    this.#slots.clear();
  }
}
