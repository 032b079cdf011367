/**
 * The in-process layer in front of Redis: a small LRU of entries with a freshness bound. A fresh entry is
 * served without a Redis round trip; a stale but still usable one is kept as the fallback for when Redis
 * fails.
 */
import { Lru } from '../cache/lru.js';
import type { CachedToken } from '../types.js';

export interface LocalSlot {
  readonly value: CachedToken;
  /** Epoch ms until which the entry is served without asking Redis. */
  readonly freshUntil: number;
}

/** The local layer's LRU (`localMaxEntries`). */
export class LocalLayer extends Lru<LocalSlot> {}
