/**
 * A Map-backed LRU, the one bounded map of the package (bounded maps evict the oldest, never reset all):
 * `get` moves an entry to the most recent end (skipped when it already is, the hot path of one key),
 * `set` drops the least recently used entries beyond `maxEntries`, `peek` reads without moving (the
 * entries then go in the order they were set). Every bounded map of the package is one:
 * the caches and their local layers, the manager's per-key state, selection memos, lock waits, open
 * spans, Retry-After pauses and DPoP nonces.
 */
export class Lru<V> {
  readonly #slots = new Map<string, V>();
  readonly #maxEntries: number;
  #lastKey: string | undefined;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#slots.size;
  }

  get(key: string): V | undefined {
    const slot = this.#slots.get(key);
    if (slot !== undefined && this.#lastKey !== key) {
      this.#slots.delete(key);
      this.#slots.set(key, slot);
      this.#lastKey = key;
    }
    return slot;
  }

  set(key: string, slot: V): void {
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    this.#lastKey = key;
    while (this.#slots.size > this.#maxEntries) {
      const oldest = this.#slots.keys().next().value as string;
      this.#slots.delete(oldest);
    }
  }

  /** The entry without making it the most recent (eviction then goes by insertion order). */
  peek(key: string): V | undefined {
    return this.#slots.get(key);
  }

  /** Like `set`, but a no-op when `key` is already the most recent (the repeated-key hot path). */
  touch(key: string, slot: V): void {
    if (this.#lastKey === key && this.#slots.has(key)) return;
    this.set(key, slot);
  }

  /** Entries from the least to the most recently used. */
  entries(): IterableIterator<[string, V]> {
    return this.#slots.entries();
  }

  values(): IterableIterator<V> {
    return this.#slots.values();
  }

  delete(key: string): void {
    this.#slots.delete(key);
    if (this.#lastKey === key) this.#lastKey = undefined;
  }

  clear(): void {
    this.#slots.clear();
    this.#lastKey = undefined;
  }
}
