/**
 * Where an entry lives in Redis, and the scripts that touch it in one round trip each.
 *
 * Keys (version 2): `<prefix>{<digest>}:token` and `<prefix>{<digest>}:lock`, where digest is the SHA-256 of
 * the cache key (base64url): short, fixed length, no secret. The braces are a Redis Cluster hash tag, so
 * both keys of an entry are in one hash slot and every script below is cluster-safe. Whatever the prefix
 * holds, the part that decides the slot (the first `{...}`) ends at or before our closing brace, so the
 * `:token`/`:lock` suffix never moves a key to another slot.
 *
 * Scripts run with EVAL (the body is small; Redis caches it compiled), which needs no per-node SCRIPT LOAD
 * on a cluster. Lua: `redis.call('get', k)` is `false` when the key is absent.
 *
 * No entry is ever read whole without a cap: the plain read is `GETRANGE key 0 <max>` (at most one byte
 * more than the cap, so that an entry over it shows; an absent key reads as ''), and the lock script
 * checks STRLEN before its GET. The other scripts compare values inside Redis and send none back.
 */
import { createHash } from 'node:crypto';
import { type CommandReply, replyText } from './driver.js';

export interface EntryKeys {
  readonly token: string;
  readonly lock: string;
}

export function entryKeys(keyPrefix: string, cacheKey: string): EntryKeys {
  const tag = `${keyPrefix}{${createHash('sha256').update(cacheKey, 'utf8').digest('base64url')}}`;
  return { token: `${tag}:token`, lock: `${tag}:lock` };
}

/**
 * A miss in one round trip: read the entry and, when there is none, take the lock.
 *
 * KEYS: token, lock. ARGV: owner, ttl ms, declined head ('' or the start of a stored value the caller has
 * already seen and did not want: a token due for refresh, or one an API refused), the most bytes an
 * entry may have.
 * Returns `{taken (1|0), entry or nil, the lock's remaining ms (-2: the lock was not tried), the size of
 * an entry refused for being over the cap (else 0)}`.
 * An entry is returned without touching the lock unless it is the declined one: the caller reads the
 * token, so nobody needs the lock (a fleet waking up to a stored token takes no lock and releases none),
 * while a caller that wants a newer token than the one stored still gets the lock on its next call.
 * An entry over the cap is never sent (whoever can write to Redis could leave gigabytes there): it counts
 * as absent, so the lock is tried and the holder's store replaces it.
 */
export const ACQUIRE = `local size = redis.call('strlen', KEYS[1])
local entry = false
if size <= tonumber(ARGV[4]) then entry = redis.call('get', KEYS[1]); size = 0 end
if entry and (ARGV[3] == '' or string.sub(entry, 1, string.len(ARGV[3])) ~= ARGV[3]) then return {0, entry, -2, 0} end
if redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return {1, entry, tonumber(ARGV[2]), size} end
return {0, entry, redis.call('pttl', KEYS[2]), size}`;

/** {@link ACQUIRE}'s `lockMs` when it returned the entry without trying the lock. */
export const LOCK_NOT_TRIED = -2;

/** {@link ACQUIRE}'s reply. */
export interface AcquireReply {
  readonly taken: boolean;
  /** The stored value (null: none, or one over the cap). */
  readonly text: string | null;
  /** The lock's remaining ms, or {@link LOCK_NOT_TRIED}. */
  readonly lockMs: number;
  /** The size of a stored value refused for being over the cap, else 0. */
  readonly refusedBytes: number;
}

/** Reads {@link ACQUIRE}'s reply; an odd one is "not taken, no entry, no lock". */
export function acquireReply(reply: CommandReply): AcquireReply {
  if (!Array.isArray(reply)) return { taken: false, text: null, lockMs: 0, refusedBytes: 0 };
  const number = (value: unknown) => (Number.isFinite(Number(value)) ? Number(value) : 0);
  return {
    taken: Number(reply[0]) === 1,
    text: replyText(reply[1]),
    lockMs: number(reply[2]),
    refusedBytes: number(reply[3]),
  };
}

/**
 * The lock holder's store in one round trip: write the entry, then delete the lock while it still holds
 * this owner's value (never a lock taken over by another process after ours expired).
 *
 * KEYS: token, lock. ARGV: value, ttl ms, owner.
 */
export const STORE_AND_UNLOCK = `redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('get', KEYS[2]) == ARGV[3] then redis.call('del', KEYS[2]) end
return 1`;

/** Deletes the lock only while it holds this owner's value. KEYS: lock. ARGV: owner. */
export const UNLOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`;

/**
 * Deletes the entry only while it holds the access token with this fingerprint (see codec.ts: the
 * fingerprint sits in clear at a fixed place of the stored value, also when the rest is encrypted).
 *
 * KEYS: token. ARGV: the value's expected head (`<format>:<fingerprint>:`). Returns 1 when deleted.
 */
export const DELETE_IF = `local entry = redis.call('get', KEYS[1])
if entry and string.sub(entry, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`;
