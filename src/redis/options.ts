/**
 * The options of RedisTokenCache: their types and TSDoc, their defaults, and their checks (all in the
 * constructor, each error naming its option; an unknown option is refused like a bad value).
 */
import { ConfigurationError } from '../errors.js';
import { checkKnownKeys } from '../options/keys.js';
import type { TokenEvent } from '../types.js';
import { commandSender, type RedisClientLike, type SendCommand } from './driver.js';

/** Options of {@link RedisTokenCache}. */
export interface RedisTokenCacheOptions {
  /** A connected node-redis (`redis` v4/v5) or ioredis client (a cluster client of either works too). */
  client: RedisClientLike;
  /** Prefix of every key this cache writes. Default `'m2m-token:'`. */
  keyPrefix?: string;
  /**
   * 32 bytes: entries are sealed with AES-256-GCM (fresh IV per write, the cache key as additional data).
   * An entry that does not open is a miss, reported through `onEvent`.
   */
  encryptionKey?: Uint8Array;
  /** Timeout of each Redis call, ms. Default 250. */
  timeoutMs?: number;
  /**
   * How long an entry read from (or written to) Redis is served from this process's memory before it is read
   * again, ms (less up to a fifth, at random, so that replicas spread their reads). The read after that runs
   * in the background while callers keep getting the entry they hold, so this bounds how late an
   * invalidate() in another process is seen here (plus one read). Default 5000; 0 reads Redis on every call
   * (the caller waits for it). A token refreshed ahead of time elsewhere is seen by this process's own
   * refresh-ahead, whose lock call reads Redis.
   */
  localTtlMs?: number;
  /** Most entries in the local layer (least recently used dropped first). Default 1000. */
  localMaxEntries?: number;
  /**
   * The most bytes a stored entry may have (a positive integer). Reads never take more from Redis: an entry
   * over it (whoever can write to Redis could leave gigabytes under a key) is a miss reported as a
   * `cache_fault` with code `M2M_REDIS_ENTRY_TOO_LARGE`, and the token that replaces it is stored as usual.
   * A token whose entry would be larger is handed out but not stored (the same fault, `operation: 'set'`):
   * other processes then ask for their own. An entry holds the token and the token response (`raw`), a
   * third more when encrypted: about 2.5 KiB for a 1 KiB JWT. Default 65536 (64 KiB).
   */
  maxEntryBytes?: number;
  /**
   * Receives the faults this cache absorbs itself: an entry that does not open (`operation: 'decrypt'`) and
   * a failed Redis read answered from the local layer (`'get'`). Faults it throws are reported by the
   * client's own `onEvent`; pass the same handler to both.
   */
  onEvent?: (event: TokenEvent) => void;
}

/** The defaults of {@link RedisTokenCacheOptions} (read-only). */
export const REDIS_CACHE_DEFAULTS = Object.freeze({
  /** {@link RedisTokenCacheOptions.keyPrefix} */
  keyPrefix: 'm2m-token:',
  /** {@link RedisTokenCacheOptions.timeoutMs} */
  timeoutMs: 250,
  /** {@link RedisTokenCacheOptions.localTtlMs} */
  localTtlMs: 5_000,
  /** {@link RedisTokenCacheOptions.localMaxEntries} */
  localMaxEntries: 1_000,
  /** {@link RedisTokenCacheOptions.maxEntryBytes} */
  maxEntryBytes: 65_536,
});

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'client',
  'keyPrefix',
  'encryptionKey',
  'timeoutMs',
  'localTtlMs',
  'localMaxEntries',
  'maxEntryBytes',
  'onEvent',
]);

/** The options, checked, with their defaults. */
export interface ResolvedOptions {
  readonly send: SendCommand;
  readonly keyPrefix: string;
  readonly encryptionKey: Uint8Array | undefined;
  readonly timeoutMs: number;
  readonly localTtlMs: number;
  readonly localMaxEntries: number;
  readonly maxEntryBytes: number;
  readonly onEvent: ((event: TokenEvent) => void) | undefined;
}

/**
 * Checks the options and fills in the defaults.
 * @throws {ConfigurationError} a bad or unknown option, named by `option`
 */
export function resolveOptions(options: RedisTokenCacheOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('client', 'RedisTokenCache needs options with a client');
  }
  // A misspelt option must not be ignored: `encryption_key` would store tokens in plaintext.
  checkKnownKeys(options, OPTION_KEYS, 'RedisTokenCache', '', true);
  const send = commandSender(options.client);
  if (send === undefined) {
    throw new ConfigurationError(
      'client',
      'must be a connected node-redis (redis) or ioredis client, or a cluster of either',
    );
  }
  const keyPrefix = options.keyPrefix ?? REDIS_CACHE_DEFAULTS.keyPrefix;
  if (typeof keyPrefix !== 'string') throw new ConfigurationError('keyPrefix', 'must be a string');
  const encryptionKey = options.encryptionKey;
  if (
    encryptionKey !== undefined &&
    (!(encryptionKey instanceof Uint8Array) || encryptionKey.byteLength !== 32)
  ) {
    throw new ConfigurationError(
      'encryptionKey',
      'must be 32 bytes (a Uint8Array or Buffer) for AES-256-GCM',
    );
  }
  const timeoutMs = options.timeoutMs ?? REDIS_CACHE_DEFAULTS.timeoutMs;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigurationError('timeoutMs', 'must be a positive number of milliseconds');
  }
  const localTtlMs = options.localTtlMs ?? REDIS_CACHE_DEFAULTS.localTtlMs;
  if (typeof localTtlMs !== 'number' || !Number.isFinite(localTtlMs) || localTtlMs < 0) {
    throw new ConfigurationError('localTtlMs', 'must be a non-negative number');
  }
  const localMaxEntries = options.localMaxEntries ?? REDIS_CACHE_DEFAULTS.localMaxEntries;
  if (!Number.isInteger(localMaxEntries) || localMaxEntries < 1) {
    throw new ConfigurationError('localMaxEntries', 'must be a positive integer');
  }
  const maxEntryBytes = options.maxEntryBytes ?? REDIS_CACHE_DEFAULTS.maxEntryBytes;
  if (!Number.isSafeInteger(maxEntryBytes) || maxEntryBytes < 1) {
    throw new ConfigurationError('maxEntryBytes', 'must be a positive integer (bytes)');
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new ConfigurationError('onEvent', 'must be a function');
  }
  return {
    send,
    keyPrefix,
    encryptionKey,
    timeoutMs,
    localTtlMs,
    localMaxEntries,
    maxEntryBytes,
    onEvent: options.onEvent,
  };
}
