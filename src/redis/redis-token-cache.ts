/**
 * RedisTokenCache: a fleet of processes shares its tokens (and one token request per key) through Redis.
 *
 *   getToken() ── local layer (fresh? answer without a round trip)
 *               └─ Redis GET (one per key at a time) ── hit: remember locally
 *                                                   └─ miss: the client takes the lock (SET NX PX), requests,
 *                                                      stores (SET PX), releases (compare-and-delete)
 *
 * Redis is never allowed to break getToken(): every call has its own short timeout, a failure makes the
 * cache fail fast for a short, growing pause (so an outage costs no call more than one timeout), the
 * local layer keeps serving the tokens it holds, and the client turns whatever is thrown into a
 * `cache_fault` event and asks the token endpoint itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isUsable } from '../cache/lifetime.js';
import { ConfigurationError } from '../errors.js';
import { EventSink } from '../events.js';
import type { CachedToken, TokenCache, TokenEvent, TokenKeyInfo } from '../types.js';
import { describeError } from '../util.js';
import { EntryCodec } from './codec.js';
import { commandSender, isReplyError, type RedisClientLike, replyText, type SendCommand } from './driver.js';
import { RedisCacheError, RedisErrorCode } from './errors.js';
import { LocalLayer } from './local-layer.js';

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
   * How long an entry read from (or written to) Redis is served from this process's memory without asking
   * Redis again, ms. Bounds how late an invalidate() in another process is seen here. Default 5000; 0 asks
   * Redis on every call. Never past the entry's refresh point, so a token refreshed elsewhere is seen at once.
   */
  localTtlMs?: number;
  /** Most entries in the local layer (least recently used dropped first). Default 1000. */
  localMaxEntries?: number;
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
});

/** After a failed call, Redis is left alone for 250 ms, doubling on each further failure up to 5 s. */
const FIRST_PAUSE_MS = 250;
const MAX_PAUSE_MS = 5_000;

/** Deletes the lock only while it still holds this owner's value: never a lock taken over by another. */
const UNLOCK_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

interface Read {
  readonly promise: Promise<CachedToken | undefined>;
  /** False once a set() or delete() for the key came after this read started: its answer is not kept. */
  current: boolean;
}

const noop = () => {};

/**
 * A {@link TokenCache} shared through Redis, with cross-process single-flight and a local layer.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis';
 * import { ClientCredentialsClient } from 'm2m-token';
 * import { RedisTokenCache } from 'm2m-token/redis';
 *
 * const redis = await createClient({ url: process.env.REDIS_URL }).on('error', log).connect();
 * const client = new ClientCredentialsClient({
 *   tokenEndpoint, clientId, clientSecret,
 *   cache: new RedisTokenCache({ client: redis, encryptionKey: Buffer.from(process.env.CACHE_KEY!, 'base64') }),
 * });
 * ```
 */
export class RedisTokenCache implements TokenCache {
  /** The prefix of every key this cache writes. */
  readonly keyPrefix: string;
  /** The timeout of each Redis call, ms. */
  readonly timeoutMs: number;
  /** How long an entry is served from this process's memory without asking Redis, ms. */
  readonly localTtlMs: number;
  readonly #send: SendCommand;
  readonly #codec: EntryCodec;
  readonly #local: LocalLayer;
  readonly #reads = new Map<string, Read>();
  readonly #events: EventSink;
  /** Consecutive failed calls, and until when Redis is left alone. */
  #failures = 0;
  #pausedUntil = 0;

  constructor(options: RedisTokenCacheOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ConfigurationError('client', 'RedisTokenCache needs options with a client');
    }
    const send = commandSender(options.client);
    if (send === undefined) {
      throw new ConfigurationError('client', 'must be a connected node-redis (redis) or ioredis client');
    }
    const keyPrefix = options.keyPrefix ?? REDIS_CACHE_DEFAULTS.keyPrefix;
    if (typeof keyPrefix !== 'string') throw new ConfigurationError('keyPrefix', 'must be a string');
    const key = options.encryptionKey;
    if (key !== undefined && (!(key instanceof Uint8Array) || key.byteLength !== 32)) {
      throw new ConfigurationError(
        'encryptionKey',
        'must be 32 bytes (a Uint8Array or Buffer) for AES-256-GCM',
      );
    }
    const timeoutMs = options.timeoutMs ?? REDIS_CACHE_DEFAULTS.timeoutMs;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new ConfigurationError(
        'timeoutMs',
        'RedisTokenCache options.timeoutMs must be a positive number',
      );
    }
    const localTtlMs = options.localTtlMs ?? REDIS_CACHE_DEFAULTS.localTtlMs;
    if (typeof localTtlMs !== 'number' || !Number.isFinite(localTtlMs) || localTtlMs < 0) {
      throw new ConfigurationError('localTtlMs', 'must be a non-negative number');
    }
    const localMaxEntries = options.localMaxEntries ?? REDIS_CACHE_DEFAULTS.localMaxEntries;
    if (!Number.isInteger(localMaxEntries) || localMaxEntries < 1) {
      throw new ConfigurationError('localMaxEntries', 'must be a positive integer');
    }
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
      throw new ConfigurationError('onEvent', 'must be a function');
    }
    this.keyPrefix = keyPrefix;
    this.timeoutMs = timeoutMs;
    this.localTtlMs = localTtlMs;
    this.#send = send;
    this.#codec = new EntryCodec(key);
    this.#local = new LocalLayer(localMaxEntries);
    this.#events = new EventSink(options.onEvent);
  }

  /** True when entries are sealed with AES-256-GCM. */
  get encrypted(): boolean {
    return this.#codec.encrypted;
  }

  /**
   * False after a Redis call failed (timed out, connection lost), until one succeeds again. While false,
   * calls skip Redis for a short, growing pause (250 ms doubling to 5 s) before the next attempt.
   */
  get healthy(): boolean {
    return this.#failures === 0;
  }

  /**
   * A fresh local entry is returned synchronously (no promise, no round trip). Otherwise Redis is read, one
   * read per key at a time. While Redis is failing, a usable local entry is returned at once.
   */
  get(key: string): CachedToken | undefined | Promise<CachedToken | undefined> {
    const now = Date.now();
    let slot = this.#local.get(key);
    if (slot !== undefined) {
      if (now < slot.freshUntil) return slot.value;
      if (!isUsable(slot.value, now)) {
        this.#local.delete(key);
        slot = undefined;
      }
    }
    if (now < this.#pausedUntil) {
      // Redis failed a moment ago: serve what this process holds, or fail fast (the client then asks the
      // token endpoint itself).
      return slot !== undefined ? slot.value : Promise.reject(this.#unavailable('GET'));
    }
    if (slot !== undefined && this.#failures > 0) {
      // Redis failed recently and may still be away: answer from memory at once, and let a read in the
      // background find out whether it is back (one at a time per key), so that no call waits on a probe.
      this.#startRead(key).catch(noop);
      return slot.value;
    }
    return this.#startRead(key);
  }

  #startRead(key: string): Promise<CachedToken | undefined> {
    const pending = this.#reads.get(key);
    if (pending !== undefined) return pending.promise;
    const read: { promise?: Promise<CachedToken | undefined>; current: boolean } = { current: true };
    const promise = this.#read(key, read);
    read.promise = promise;
    this.#reads.set(key, read as Read);
    const done = () => {
      if (this.#reads.get(key) === read) this.#reads.delete(key);
    };
    promise.then(done, done);
    return promise;
  }

  /** Stores the entry locally and in Redis, where it expires after `ttlMs` (when it stops being usable). */
  async set(key: string, value: CachedToken, ttlMs: number): Promise<void> {
    this.#supersedeReads(key);
    if (!(ttlMs > 0)) {
      this.#local.delete(key);
      return;
    }
    this.#remember(key, value, Date.now(), ttlMs);
    this.#checkAvailable('SET');
    const redisKey = this.#tokenKey(key);
    await this.#command(
      ['SET', redisKey, this.#codec.encode(key, value), 'PX', String(Math.ceil(ttlMs))],
      redisKey,
    );
  }

  /** Drops the entry from this process at once, and from Redis (other processes: within `localTtlMs`). */
  async delete(key: string): Promise<void> {
    this.#supersedeReads(key);
    this.#local.delete(key);
    this.#checkAvailable('DEL');
    const redisKey = this.#tokenKey(key);
    await this.#command(['DEL', redisKey], redisKey);
  }

  /**
   * Cross-process single-flight: `SET lock owner NX PX ttl` with a random owner. Resolves to the release
   * function when this process holds the lock, or to undefined when another one does. The lock expires by
   * itself after `ttlMs`, so a holder that dies blocks the key no longer than that.
   */
  async acquireLock(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    this.#checkAvailable('SET');
    const lockKey = this.#lockKey(key);
    const owner = randomBytes(16).toString('base64url');
    const args = ['SET', lockKey, owner, 'PX', String(Math.max(1, Math.ceil(ttlMs))), 'NX'];
    const { result, raw } = this.#call(args, lockKey);
    let reply: unknown;
    try {
      reply = await this.#settle(result, 'SET');
    } catch (error) {
      // A lock given up on may still be taken later (a command queued while Redis was away): free it as
      // soon as it is, rather than blocking the key for its whole TTL.
      raw.then((late) => {
        if (replyText(late) === 'OK') this.#unlock(lockKey, owner).catch(noop);
      }, noop);
      throw error;
    }
    if (replyText(reply) !== 'OK') return undefined;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await this.#unlock(lockKey, owner);
    };
  }

  /** Forgets every entry of the local layer (Redis is left as it is). */
  clearLocal(): void {
    for (const read of this.#reads.values()) read.current = false;
    this.#reads.clear();
    this.#local.clear();
  }

  /** Shows the configuration only: never the encryption key. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RedisTokenCache { keyPrefix: '${this.keyPrefix}', encrypted: ${this.encrypted}, timeoutMs: ${this.timeoutMs}, localTtlMs: ${this.localTtlMs} }`;
  }

  /** The configuration for JSON loggers (never the encryption key). */
  toJSON(): Record<string, unknown> {
    return {
      keyPrefix: this.keyPrefix,
      encrypted: this.encrypted,
      timeoutMs: this.timeoutMs,
      localTtlMs: this.localTtlMs,
    };
  }

  // ---------------------------------------------------------------------------------------------

  async #read(key: string, read: { current: boolean }): Promise<CachedToken | undefined> {
    const redisKey = this.#tokenKey(key);
    let text: string | null;
    try {
      text = replyText(await this.#command(['GET', redisKey], redisKey));
    } catch (error) {
      const slot = this.#local.get(key);
      if (slot !== undefined && isUsable(slot.value, Date.now())) {
        // Redis failed but this process holds a usable token: the caller gets it and never sees the fault.
        this.#emitFault(key, 'get', error);
        return slot.value;
      }
      throw error;
    }
    if (text === null) {
      // Redis is the truth while it answers: gone there (expired, or invalidated by another process) is gone.
      if (read.current) this.#local.delete(key);
      return undefined;
    }
    let entry: CachedToken;
    try {
      entry = this.#codec.decode(key, text);
    } catch (error) {
      // Wrong key, tampering or garbage: a miss, never an exception for the caller.
      this.#emitFault(key, 'decrypt', error);
      if (read.current) this.#local.delete(key);
      return undefined;
    }
    if (read.current) this.#remember(key, entry, Date.now(), entry.usableUntil - Date.now());
    return entry;
  }

  #remember(key: string, value: CachedToken, now: number, ttlMs: number): void {
    // Fresh for at most localTtlMs, never past the refresh point (from there on a token refreshed by another
    // process must be seen) nor past the entry's own end in Redis.
    const freshUntil = Math.min(now + this.localTtlMs, value.refreshAt, now + ttlMs);
    this.#local.set(key, { value, freshUntil });
  }

  #supersedeReads(key: string): void {
    const read = this.#reads.get(key);
    if (read !== undefined) {
      read.current = false;
      this.#reads.delete(key);
    }
  }

  async #unlock(lockKey: string, owner: string): Promise<void> {
    await this.#command(['EVAL', UNLOCK_SCRIPT, '1', lockKey, owner], lockKey);
  }

  /** Sends a command with the timeout; `raw` is the client's own promise, which may settle later. */
  #call(args: readonly string[], routingKey: string): { result: Promise<unknown>; raw: Promise<unknown> } {
    const controller = new AbortController();
    let raw: Promise<unknown>;
    try {
      raw = this.#send(args, routingKey, controller.signal);
    } catch (error) {
      raw = Promise.reject(error);
    }
    raw.catch(noop); // A reply that comes after the timeout is nobody's concern.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // One more turn of the event loop before giving up: after a stall of this process (a long
        // synchronous task), timers run before pending I/O, and a reply already received must win.
        setImmediate(() => {
          controller.abort();
          reject(
            new RedisCacheError(
              `Redis did not answer ${args[0]} within ${this.timeoutMs} ms`,
              RedisErrorCode.TIMEOUT,
            ),
          );
        });
      }, this.timeoutMs);
      (timer as { unref?: () => void }).unref?.();
    });
    const result = Promise.race([raw, timeout]).finally(() => clearTimeout(timer));
    return { result, raw };
  }

  async #command(args: readonly string[], routingKey: string): Promise<unknown> {
    return this.#settle(this.#call(args, routingKey).result, args[0] as string);
  }

  /** Keeps the health state: a success ends a pause; a failure that is not the server's answer starts one. */
  async #settle(result: Promise<unknown>, command: string): Promise<unknown> {
    try {
      const reply = await result;
      this.#failures = 0;
      this.#pausedUntil = 0;
      return reply;
    } catch (error) {
      if (isReplyError(error)) throw error; // The server answered: Redis is up.
      this.#failures += 1;
      this.#pausedUntil = Date.now() + Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (this.#failures - 1));
      if (error instanceof RedisCacheError) throw error;
      const e = error as { code?: unknown; name?: unknown };
      const reason = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'error';
      // The original error stays as `cause`; the message carries no part of it (it could name a URL).
      throw new RedisCacheError(`Redis ${command} failed (${reason})`, RedisErrorCode.UNAVAILABLE, {
        cause: error,
      });
    }
  }

  #checkAvailable(command: string): void {
    if (Date.now() < this.#pausedUntil) throw this.#unavailable(command);
  }

  #unavailable(command: string): RedisCacheError {
    const ms = Math.max(0, this.#pausedUntil - Date.now());
    return new RedisCacheError(
      `Redis ${command} skipped: Redis failed recently, next attempt in ${ms} ms`,
      RedisErrorCode.UNAVAILABLE,
    );
  }

  /** Keys carry the prefix and a SHA-256 of the cache key: short, fixed length, and no secret. */
  #tokenKey(key: string): string {
    return `${this.keyPrefix}token:${digest(key)}`;
  }

  #lockKey(key: string): string {
    return `${this.keyPrefix}lock:${digest(key)}`;
  }

  #emitFault(key: string, operation: 'get' | 'decrypt', error: unknown): void {
    if (this.#events.active) {
      this.#events.emit({ type: 'cache_fault', key: keyInfoOf(key), operation, error: describeError(error) });
    }
  }
}

function digest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64url');
}

/**
 * The non-secret parts of a client cache key (a JSON array, see src/cache/cache-key.ts), for events. A key
 * of another shape (a caller using the cache directly) gives empty fields.
 */
function keyInfoOf(key: string): TokenKeyInfo {
  try {
    const parts: unknown = JSON.parse(key);
    if (Array.isArray(parts) && typeof parts[0] === 'string' && typeof parts[1] === 'string') {
      const [endpoint, clientId, audience, scope, resource] = parts as [
        string,
        string,
        unknown,
        unknown,
        unknown,
      ];
      const strings = (value: unknown): string[] =>
        Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
      const scopes = strings(scope);
      const resources = strings(resource);
      return Object.freeze({
        endpoint,
        clientId,
        ...(typeof audience === 'string' ? { audience } : {}),
        ...(scopes.length ? { scope: scopes.join(' ') } : {}),
        ...(resources.length ? { resource: Object.freeze(resources) } : {}),
      });
    }
  } catch {
    // Not a client cache key.
  }
  return Object.freeze({ endpoint: '', clientId: '' });
}
