/**
 * Forced refreshes after a rejection: a resource server refused a token (a 401 asking for a new one,
 * fetch/unauthorized-policy.ts). Which token to hand out instead, the per-key limit on forcing a refresh
 * (one per FORCED_REFRESH_INTERVAL_MS on the monotonic clock, so that a misconfiguration answering every
 * call with a 401 cannot flood the token endpoint), and dropping the refused token only (delete-if-equal).
 */
import { isUsable } from '../cache/lifetime.js';
import { Lru } from '../cache/lru.js';
import type { Clock } from '../clock.js';
import type { ResolvedRequest } from '../selection.js';
import type { CachedToken, Token, TokenCache, TokenKeyInfo } from '../types.js';
import { raceSignal } from '../util.js';
import { type Flight, MAX_KEY_STATE, type Mode } from './flight.js';

const ignore = (): void => undefined;

/** What the rejection rules need of the token manager. */
export interface RejectionContext {
  readonly clock: Clock;
  /** A forced refresh after a rejection at most once per key in this interval, ms. */
  readonly intervalMs: number;
  readonly cache: TokenCache | undefined;
  /** The key's cache entry (a failing cache reads as a miss). */
  get(request: ResolvedRequest): Promise<CachedToken | undefined>;
  /** The key's flight under way, if any. */
  flight(key: string): Flight | undefined;
  /** The key's token through a flight of this mode (single-flight). */
  acquire(request: ResolvedRequest, mode: Mode): Promise<CachedToken>;
  /** Empties the hot slot when it holds this key's `accessToken`. */
  dropHot(key: string, accessToken: string): void;
  fault(info: TokenKeyInfo, operation: 'delete', error: unknown): void;
}

/** The forced refreshes after rejections of one token manager, and their per-key windows. */
export class Rejections {
  readonly #context: RejectionContext;
  /** Per key: when (monotonic) the last forced refresh after a rejection started, and its outcome. */
  readonly #forced = new Lru<{ readonly at: number; readonly token: Promise<Token | undefined> }>(
    MAX_KEY_STATE,
  );

  constructor(context: RejectionContext) {
    this.#context = context;
  }

  /**
   * A newer token than `rejected` when another call already has one, else one forced refresh that drops
   * the rejected token (only it) and obtains another. When the key's window is still open, the refresh
   * of that window is shared: its token if it is not the rejected one, else `undefined`.
   */
  async replace(request: ResolvedRequest, rejected: Token, signal?: AbortSignal): Promise<Token | undefined> {
    const context = this.#context;
    const current = await context.get(request);
    if (
      current &&
      isUsable(current, context.clock.now()) &&
      current.token.accessToken !== rejected.accessToken
    ) {
      return current.token;
    }
    const flight = context.flight(request.key);
    if (flight !== undefined) {
      const entry = await raceSignal(flight.result, signal);
      if (entry.token.accessToken !== rejected.accessToken) return entry.token;
    }
    const now = context.clock.monotonic();
    const last = this.#forced.get(request.key);
    if (last !== undefined && now - last.at < context.intervalMs) {
      // The refresh forced in this window may still run or may have produced a newer token: use that
      // one; a failed one counts as no token, and the 401 is returned as it is.
      const token = await raceSignal(last.token.catch(ignore), signal);
      return token !== undefined && token.accessToken !== rejected.accessToken ? token : undefined;
    }
    const forced = this.#force(request, rejected.accessToken);
    // The caller gets any failure through `forced`; this branch only keeps it from being unhandled.
    forced.catch(ignore);
    this.#forced.set(request.key, { at: now, token: forced });
    return raceSignal(forced, signal);
  }

  /** Forgets the key's window (invalidate()). */
  forget(key: string): void {
    this.#forced.delete(key);
  }

  /** Forgets every window (clear(), close()). */
  clear(): void {
    this.#forced.clear();
  }

  /** One refresh forced by a rejection: drops only the rejected token (never a newer one), then gets another. */
  async #force(request: ResolvedRequest, rejected: string): Promise<Token | undefined> {
    await this.#deleteIfHolds(request, rejected);
    const mode: Mode = { kind: 'force', notBefore: this.#context.clock.now(), rejected };
    const entry = await this.#context.acquire(request, mode);
    return entry.token.accessToken === rejected ? undefined : entry.token;
  }

  /**
   * Delete-if-equal: with `TokenCache.deleteIf` in one step (Redis: a compare-and-delete script), else by
   * reading and comparing first (a newer token stored in between is then at risk only for caches without
   * deleteIf).
   */
  async #deleteIfHolds(request: ResolvedRequest, accessToken: string): Promise<void> {
    const context = this.#context;
    context.dropHot(request.key, accessToken);
    const cache = context.cache;
    if (cache === undefined) return;
    try {
      if (cache.deleteIf !== undefined) {
        await cache.deleteIf(request.key, accessToken);
        return;
      }
      const current = await cache.get(request.key);
      if (current?.token.accessToken === accessToken) await cache.delete(request.key);
    } catch (error) {
      context.fault(request.info, 'delete', error);
    }
  }
}
