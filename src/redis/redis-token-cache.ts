/**
 * RedisTokenCache: a fleet of processes shares its tokens (and one token request per key) through Redis.
 *
 *   getToken() ── local layer (fresh? answer without a round trip)
 *               └─ Redis GET (one per key at a time) ── hit: remember locally
 *                                                   └─ miss: acquireLock, one script: the entry if it is
 *                                                      there (read locally next), else the lock (SET NX PX);
 *                                                      the holder requests, then set() stores and unlocks
 *                                                      in one script (release() is then a no-op)
 *
 * So a miss costs two round trips before the token request, and a process waiting on another's lock one
 * per poll: each round trip is latency every replica pays on a miss. Both keys of an entry share a Redis Cluster hash slot (scripts.ts).
 *
 * Redis is never allowed to break getToken(): every call has its own timeout, counted in time this process
 * was free to read the answer (loop-clock.ts: a busy replica is not a Redis outage); a real failure makes
 * the cache fail fast for a short, growing pause (channel.ts); the local layer keeps serving the tokens it
 * holds, and the client turns whatever is thrown into a `cache_fault` event and asks the token endpoint.
 */
import { randomBytes } from 'node:crypto';
import { keyInfoOfCacheKey } from '../cache/cache-key.js';
import { isUsable } from '../cache/lifetime.js';
import { Lru } from '../cache/lru.js';
import { systemClock } from '../clock.js';
import { EventSink } from '../events.js';
import { describeError } from '../redact/index.js';
import type { CachedToken, TokenCache } from '../types.js';
import { RedisChannel } from './channel.js';
import { EntryCodec, HEAD_CHARS } from './codec.js';
import { type CommandReply, replyText } from './driver.js';
import { RedisCacheError, RedisErrorCode } from './errors.js';
import { Answers, LocalLayer } from './local-layer.js';
import { LockWaits } from './lock-waits.js';
import { type RedisTokenCacheOptions, resolveOptions } from './options.js';
import {
  ACQUIRE,
  acquireReply,
  DELETE_IF,
  type EntryKeys,
  entryKeys,
  LOCK_NOT_TRIED,
  STORE_AND_UNLOCK,
  UNLOCK,
} from './scripts.js';

interface Read {
  readonly promise: Promise<CachedToken | undefined>;
  /** False once a set() or delete() for the key came after this read started: its answer is not kept. */
  current: boolean;
}

/** A lock this process holds: set() stores and unlocks in one script, after which release() has no work. */
interface Hold {
  readonly owner: string;
  released: boolean;
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
  /** The most bytes an entry may have, read or written. */
  readonly maxEntryBytes: number;
  readonly #channel: RedisChannel;
  readonly #codec: EntryCodec;
  readonly #local: LocalLayer;
  readonly #answers: Answers;
  readonly #held: Lru<Hold>;
  /**
   * Keys for which acquireLock answered "an entry exists" without trying the lock: that entry's head and
   * when (monotonic ms). A call that comes back wants a newer token, so the lock is tried unless the entry
   * has changed meanwhile.
   */
  readonly #declined: Lru<{ readonly head: string; readonly at: number }>;
  readonly #waits: LockWaits;
  readonly #reads = new Map<string, Read>();
  readonly #events: EventSink;
  /** Lock owners: a random prefix per cache and a counter (unique, and cheaper than random bytes per lock). */
  readonly #ownerPrefix = `${randomBytes(12).toString('base64url')}.`;
  #owners = 0;

  /**
   * @throws {ConfigurationError} no usable `client`, an `encryptionKey` that is not 32 bytes, a bad number,
   *   or an unknown option (a misspelt `encryptionKey` must not leave tokens in plaintext), named by `option`
   */
  constructor(options: RedisTokenCacheOptions) {
    const { send, keyPrefix, encryptionKey, timeoutMs, localTtlMs, localMaxEntries, maxEntryBytes, onEvent } =
      resolveOptions(options);
    this.keyPrefix = keyPrefix;
    this.timeoutMs = timeoutMs;
    this.localTtlMs = localTtlMs;
    this.maxEntryBytes = maxEntryBytes;
    this.#channel = new RedisChannel(send, timeoutMs);
    this.#codec = new EntryCodec(encryptionKey);
    this.#local = new LocalLayer(localMaxEntries);
    this.#answers = new Answers();
    this.#held = new Lru(localMaxEntries);
    this.#declined = new Lru(localMaxEntries);
    this.#waits = new LockWaits(localMaxEntries);
    this.#events = new EventSink(onEvent);
  }

  /** True when entries are sealed with AES-256-GCM. */
  get encrypted(): boolean {
    return this.#codec.encrypted;
  }

  /**
   * False after a Redis failure (no answer within `timeoutMs` while this process was free to read it, a
   * refused or reset connection, Redis answering LOADING/CLUSTERDOWN/READONLY/...), until a call succeeds
   * again. While false, calls skip Redis for a short, growing pause (250 ms doubling to 5 s) before the
   * next attempt.
   */
  get healthy(): boolean {
    return this.#channel.healthy;
  }

  /**
   * A usable local entry is returned synchronously (no promise, no round trip), and so is what a lock call
   * read a moment ago. A local entry older than `localTtlMs` is still returned at once while a read in the
   * background (one per key) brings the local layer up to date: callers wait on Redis only for a key this
   * process holds no usable token for (or, with `localTtlMs: 0`, on every call while Redis is healthy).
   */
  get(key: string): CachedToken | undefined | Promise<CachedToken | undefined> {
    const now = Date.now();
    let slot = this.#local.get(key);
    if (slot !== undefined) {
      if (!isUsable(slot.value, now)) {
        this.#local.delete(key);
        slot = undefined;
      } else if (systemClock.monotonic() < slot.freshUntil) {
        return slot.value;
      }
    }
    if (this.#answers.has(key)) return this.#answers.value(key, now);
    if (this.#channel.paused) {
      // Redis failed a moment ago: serve what this process holds, or fail fast (the client then asks the
      // token endpoint itself).
      return slot !== undefined ? slot.value : Promise.reject(this.#channel.unavailable('GET'));
    }
    if (slot !== undefined && (this.localTtlMs > 0 || !this.#channel.healthy)) {
      // Stale while revalidating: the caller gets the token now; the read finds out whether it changed
      // (refreshed or invalidated by another process) for the next callers. With localTtlMs 0 callers wait
      // for Redis, unless it failed recently (then no call waits on a probe).
      this.#startRead(key).catch(noop);
      return slot.value;
    }
    return this.#startRead(key);
  }

  /**
   * Stores the entry locally and in Redis, where it expires after `ttlMs` (when it stops being usable).
   * When this process holds the key's lock, the same script releases it.
   */
  async set(key: string, value: CachedToken, ttlMs: number): Promise<void> {
    this.#supersede(key);
    if (!(ttlMs > 0)) {
      this.#local.delete(key);
      return;
    }
    this.#remember(key, value, ttlMs);
    this.#channel.checkAvailable('SET');
    const keys = this.#keys(key);
    const stored = this.#codec.encode(key, value);
    const bytes = Buffer.byteLength(stored, 'utf8');
    // Not stored: no process would read it back. The lock this process may hold stays held, so that the
    // client's release() frees it.
    if (bytes > this.maxEntryBytes) throw this.#tooLarge(`${bytes} bytes to store, not stored in Redis`);
    const px = String(Math.ceil(ttlMs));
    const hold = this.#held.get(key);
    if (hold === undefined || hold.released) {
      await this.#channel.command(['SET', keys.token, stored, 'PX', px], keys.token);
      return;
    }
    await this.#channel.command(
      ['EVAL', STORE_AND_UNLOCK, '2', keys.token, keys.lock, stored, px, hold.owner],
      keys.token,
    );
    hold.released = true;
    if (this.#held.get(key) === hold) this.#held.delete(key);
  }

  /** Drops the entry from this process at once, and from Redis (other processes: within `localTtlMs`). */
  async delete(key: string): Promise<void> {
    this.#supersede(key);
    this.#local.delete(key);
    this.#channel.checkAvailable('DEL');
    const keys = this.#keys(key);
    await this.#channel.command(['DEL', keys.token], keys.token);
  }

  /**
   * Drops the entry only while it holds `accessToken` (compare-and-delete in one script, also with
   * encryption: the entry carries a keyed fingerprint of its token). After a 401, a process deletes the
   * token it was refused, never the new one another process has just stored. Resolves to true when the
   * Redis entry was deleted.
   */
  async deleteIf(key: string, accessToken: string): Promise<boolean> {
    const slot = this.#local.get(key);
    if (slot !== undefined && slot.value.token.accessToken === accessToken) this.#local.delete(key);
    this.#supersede(key);
    this.#channel.checkAvailable('EVAL');
    const keys = this.#keys(key);
    const reply = await this.#channel.command(
      ['EVAL', DELETE_IF, '1', keys.token, this.#codec.head(accessToken)],
      keys.token,
    );
    return Number(reply) === 1;
  }

  /**
   * Cross-process single-flight, in one round trip: a script reads the entry and, when there is none,
   * takes the lock (`SET NX PX` with a random owner). Resolves to the release function when this process
   * holds the lock, or to undefined when another one does or when the entry exists (read it with get(),
   * answered from what the script read, without a round trip). A caller that comes back for the key after
   * such an answer did not want that entry (refresh-ahead, a forced refresh, a token an API refused): it
   * then gets the lock even though the entry exists, unless the entry has changed meanwhile. The lock
   * expires by itself after `ttlMs`, so a holder that dies blocks the key no longer than that. While
   * another process holds the lock, calls are paced by how long a round trip takes (lock-waits.ts).
   */
  async acquireLock(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    const delay = this.#waits.delayFor(key);
    if (delay >= 1) await new Promise((resolve) => setTimeout(resolve, delay));
    this.#channel.checkAvailable('EVAL');
    const keys = this.#keys(key);
    const owner = `${this.#ownerPrefix}${(++this.#owners).toString(36)}`;
    const px = Math.max(1, Math.ceil(ttlMs));
    const declined = this.#declined.get(key);
    const declinedHead =
      declined !== undefined && systemClock.monotonic() - declined.at < px ? declined.head : '';
    const { result, raw } = this.#channel.call(
      [
        'EVAL',
        ACQUIRE,
        '2',
        keys.token,
        keys.lock,
        owner,
        String(px),
        declinedHead,
        String(this.maxEntryBytes),
      ],
      keys.token,
    );
    const sentAt = systemClock.monotonic();
    let reply: CommandReply;
    try {
      reply = await result;
    } catch (error) {
      // A lock given up on may still be taken later (a command queued while Redis was away): free it as
      // soon as it is, rather than blocking the key for its whole TTL.
      raw.then((late) => {
        if (acquireReply(late).taken) this.#unlock(keys, owner).catch(noop);
      }, noop);
      throw error;
    }
    const { taken, text, lockMs, refusedBytes } = acquireReply(reply);
    if (refusedBytes > 0) {
      this.#emitFault(key, 'lock', this.#tooLarge(`${refusedBytes} bytes in Redis, read as a miss`));
    }
    const entry = text === null ? undefined : this.#open(key, text);
    this.#supersede(key);
    this.#answers.remember(key, entry);
    if (entry !== undefined) this.#remember(key, entry, entry.usableUntil - Date.now());
    else this.#local.delete(key);
    if (!taken && lockMs > 0) this.#waits.held(key, systemClock.monotonic() - sentAt, lockMs);
    else this.#waits.done(key);
    if (taken) this.#declined.delete(key);
    else if (text !== null && lockMs === LOCK_NOT_TRIED) {
      this.#declined.set(key, { head: text.slice(0, HEAD_CHARS), at: systemClock.monotonic() });
    }
    if (!taken) return undefined;
    const hold: Hold = { owner, released: false };
    this.#held.set(key, hold);
    return async () => {
      if (hold.released) return;
      hold.released = true;
      if (this.#held.get(key) === hold) this.#held.delete(key);
      await this.#unlock(keys, owner);
    };
  }

  /** Forgets every entry of the local layer (Redis is left as it is). */
  clearLocal(): void {
    for (const read of this.#reads.values()) read.current = false;
    this.#reads.clear();
    this.#local.clear();
    this.#answers.clear();
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

  async #read(key: string, read: { current: boolean }): Promise<CachedToken | undefined> {
    const keys = this.#keys(key);
    let text: string | null;
    try {
      // At most one byte over the cap (an absent key reads as ''): an entry over it is never sent whole.
      const range = ['GETRANGE', keys.token, '0', String(this.maxEntryBytes)];
      text = replyText(await this.#channel.command(range, keys.token)) || null;
    } catch (error) {
      const slot = this.#local.get(key);
      if (slot !== undefined && isUsable(slot.value, Date.now())) {
        // Redis failed but this process holds a usable token: the caller gets it and never sees the fault.
        this.#emitFault(key, 'get', error);
        return slot.value;
      }
      throw error;
    }
    if (text !== null && Buffer.byteLength(text, 'utf8') > this.maxEntryBytes) {
      this.#emitFault(key, 'get', this.#tooLarge('larger in Redis, read as a miss'));
      text = null;
    }
    // Redis is the truth while it answers: gone there (expired, or invalidated by another process) is gone.
    const entry = text === null ? undefined : this.#open(key, text);
    if (read.current) {
      if (entry === undefined) this.#local.delete(key);
      else this.#remember(key, entry, entry.usableUntil - Date.now());
    }
    return entry;
  }

  /** Decodes a stored value; one that does not open is a miss, reported (wrong key, tampering, garbage). */
  #open(key: string, text: string): CachedToken | undefined {
    try {
      return this.#codec.decode(key, text);
    } catch (error) {
      this.#emitFault(key, 'decrypt', error);
      return undefined;
    }
  }

  #remember(key: string, value: CachedToken, ttlMs: number): void {
    // Fresh for localTtlMs less up to a fifth (so that replicas that read together do not all read again
    // together), on the monotonic clock; never past the entry's own end in Redis.
    const localMs = this.localTtlMs * (1 - Math.random() / 5);
    this.#local.set(key, { value, freshUntil: systemClock.monotonic() + Math.min(localMs, ttlMs) });
  }

  /** A write or a lock answer for the key: reads in flight and earlier answers no longer count. */
  #supersede(key: string): void {
    this.#answers.delete(key);
    const read = this.#reads.get(key);
    if (read !== undefined) {
      read.current = false;
      this.#reads.delete(key);
    }
  }

  async #unlock(keys: EntryKeys, owner: string): Promise<void> {
    await this.#channel.command(['EVAL', UNLOCK, '1', keys.lock, owner], keys.lock);
  }

  #keys(key: string): EntryKeys {
    return entryKeys(this.keyPrefix, key);
  }

  #tooLarge(detail: string): RedisCacheError {
    return new RedisCacheError(
      `entry over maxEntryBytes (${this.maxEntryBytes}): ${detail}`,
      RedisErrorCode.ENTRY_TOO_LARGE,
    );
  }

  #emitFault(key: string, operation: 'get' | 'lock' | 'decrypt', error: unknown): void {
    if (this.#events.active) {
      this.#events.emit({
        type: 'cache_fault',
        key: keyInfoOfCacheKey(key),
        operation,
        error: describeError(error),
      });
    }
  }
}
