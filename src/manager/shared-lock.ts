/**
 * The cross-process lock protocol (TokenCache.acquireLock, e.g. RedisTokenCache): before a token request,
 * take the key's lock, or wait (polling with backoff, bounded by the lock's TTL) for the token its holder
 * stores. A holder that died frees the lock when its TTL ends; the next poll then takes it.
 */
import type { Clock } from '../clock.js';
import type { EventSink } from '../events.js';
import type { ResolvedRequest } from '../selection.js';
import type { CachedToken, TokenCache } from '../types.js';
import { sleep } from '../util.js';

export type LockRelease = () => Promise<void>;

export interface LockContext {
  readonly cache: TokenCache & { acquireLock: NonNullable<TokenCache['acquireLock']> };
  /** How long a lock is held at most (derived from the worst-case token request, see retry-policy.ts). */
  readonly ttlMs: number;
  readonly clock: Clock;
  readonly events: EventSink;
  /** Reads the key from the cache (a fault is reported and read as no entry). */
  get(request: ResolvedRequest): Promise<CachedToken | undefined>;
  fault(request: ResolvedRequest, operation: 'lock', error: unknown): void;
}

/**
 * Either an entry stored by another process that `accepts` takes (with a lock that this process may
 * happen to hold, to release), or the lock to hold while requesting (`release`), or neither: the lock
 * could not be had (the shared cache failed, or the wait ran out): ask the token endpoint directly.
 */
export interface LockOutcome {
  readonly entry?: CachedToken;
  readonly release?: LockRelease;
}

/** First and largest pause between two lock attempts, ms. */
const FIRST_POLL_MS = 20;
const MAX_POLL_MS = 250;

/**
 * Takes the lock or waits for the holder's token. `lock_wait` is reported only when an attempt was
 * refused (another process held the lock), never when the lock was had at once. Waits run on the
 * monotonic clock and end early when `signal` aborts (the client closing).
 */
export async function lockOrWait(
  ctx: LockContext,
  request: ResolvedRequest,
  accepts: (entry: CachedToken, now: number) => boolean,
  signal: AbortSignal,
): Promise<LockOutcome> {
  const { clock, events } = ctx;
  const start = clock.monotonic();
  const deadline = start + ctx.ttlMs + 1_000;
  let delay = FIRST_POLL_MS;
  let refused = false;
  for (;;) {
    let release: LockRelease | undefined;
    try {
      release = await ctx.cache.acquireLock(request.key, ctx.ttlMs);
    } catch (error) {
      ctx.fault(request, 'lock', error);
      return {}; // The shared cache is unwell: ask the token endpoint directly.
    }
    // Holding the lock or not, a token stored meanwhile by another process may do.
    const entry = await ctx.get(request);
    if (entry && accepts(entry, clock.now())) {
      if (refused && events.active) {
        events.emit({
          type: 'lock_wait',
          key: request.info,
          waitedMs: Math.round(clock.monotonic() - start),
          outcome: 'token',
        });
      }
      return release ? { entry, release } : { entry };
    }
    if (release) return { release };
    refused = true;
    const now = clock.monotonic();
    if (now >= deadline) {
      if (events.active) {
        events.emit({
          type: 'lock_wait',
          key: request.info,
          waitedMs: Math.round(now - start),
          outcome: 'timeout',
        });
      }
      return {};
    }
    await sleep(Math.min(delay, Math.max(1, deadline - now)), signal);
    delay = Math.min(delay * 2, MAX_POLL_MS);
  }
}
