/**
 * The token manager on its own: a fake obtain function and a fake clock, no HTTP. What it promises:
 * one flight per key, the modes of a flight, generations (stale flights are not cached), stores in the
 * background, the per-key limit of forced refreshes on the monotonic clock, bounded state, close().
 */
import { describe, expect, it } from 'vitest';
import { MemoryTokenCache } from '../src/cache/memory-cache.js';
import type { Clock } from '../src/clock.js';
import { ErrorCode } from '../src/errors.js';
import { EventSink } from '../src/events.js';
import { type ObtainToken, TokenManager } from '../src/manager/token-manager.js';
import type { ResolvedRequest } from '../src/selection.js';
import type { CachedToken, Token, TokenCache } from '../src/types.js';
import { testToken } from './helpers/tokens.js';

const HOUR = 3_600_000;

function fakeClock(): Clock & { wall: number; mono: number } {
  const clock = {
    wall: Date.UTC(2026, 0, 1),
    mono: 1_000,
    now: () => clock.wall,
    monotonic: () => clock.mono,
  };
  return clock;
}

function key(name: string): ResolvedRequest {
  return {
    key: name,
    info: { endpoint: 'https://idp.test/token', clientId: 'c', audience: name },
    params: [],
  };
}

/** An obtain function whose calls the test settles by hand. */
function manualObtain(clock: Clock) {
  const calls: Array<{
    key: string;
    signal: AbortSignal;
    resolve: (name: string) => void;
    reject: (e: unknown) => void;
  }> = [];
  const obtain: ObtainToken = (request, signal) =>
    new Promise((resolve, reject) => {
      calls.push({
        key: request.key,
        signal,
        resolve: (name) => {
          const token: Token = testToken({
            accessToken: name,
            tokenType: 'Bearer',
            expiresAt: clock.now() + HOUR,
            raw: {},
          });
          resolve({ token, sentAt: clock.now() });
        },
        reject,
      });
    });
  return { obtain, calls };
}

function manager(options: { cache?: TokenCache; ownsCache?: boolean; obtain: ObtainToken; clock: Clock }) {
  return new TokenManager({
    obtain: options.obtain,
    cache: options.cache ?? new MemoryTokenCache(),
    ownsCache: options.ownsCache ?? true,
    lifetime: { expiryBufferMs: 60_000, defaultLifetimeMs: 300_000, refreshAheadMs: 300_000 },
    events: new EventSink(undefined),
    lockTtlMs: 10_000,
    hotKey: 'default',
    forcedRefreshIntervalMs: 5_000,
    clock: options.clock,
  });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('TokenManager', () => {
  it('one flight per key; every caller gets its result; the next call is a cache hit', async () => {
    const clock = fakeClock();
    const { obtain, calls } = manualObtain(clock);
    const m = manager({ obtain, clock });
    const waiting = Array.from({ length: 10 }, () => m.get(key('default')));
    await tick();
    expect(calls).toHaveLength(1);
    calls[0]?.resolve('t1');
    expect((await Promise.all(waiting)).map((t) => t.accessToken)).toEqual(Array(10).fill('t1'));
    expect((await m.get(key('default'))).accessToken).toBe('t1');
    expect(calls).toHaveLength(1);
  });

  it('invalidate() during a flight: its waiters get the token, the cache and the hot slot do not', async () => {
    const clock = fakeClock();
    const { obtain, calls } = manualObtain(clock);
    const m = manager({ obtain, clock });
    const first = m.get(key('default'));
    await tick();
    await m.invalidate(key('default'));
    calls[0]?.resolve('pre-rotation');
    expect((await first).accessToken).toBe('pre-rotation');
    const second = m.get(key('default'));
    await tick();
    expect(calls).toHaveLength(2);
    calls[1]?.resolve('post-rotation');
    expect((await second).accessToken).toBe('post-rotation');
  });

  it('callers get the token before a slow store ends; a caller during the store joins, no second obtain', async () => {
    const clock = fakeClock();
    const { obtain, calls } = manualObtain(clock);
    let endStore: () => void = () => undefined;
    const store = new Map<string, CachedToken>();
    const cache: TokenCache = {
      get: async (k) => store.get(k),
      set: (k, v) =>
        new Promise<void>((resolve) => {
          endStore = () => {
            store.set(k, v);
            resolve();
          };
        }),
      delete: async (k) => {
        store.delete(k);
      },
    };
    const m = manager({ obtain, clock, cache, ownsCache: false });
    const first = m.get(key('a'));
    await tick();
    calls[0]?.resolve('t1');
    expect((await first).accessToken).toBe('t1');
    expect(store.size).toBe(0);
    expect((await m.get(key('a'))).accessToken).toBe('t1');
    expect(calls).toHaveLength(1);
    endStore();
    await m.close();
    expect(store.get('a')?.token.accessToken).toBe('t1');
  });

  it('a forced refresh never joins a normal flight: it starts after it, with its own obtain', async () => {
    const clock = fakeClock();
    const { obtain, calls } = manualObtain(clock);
    const m = manager({ obtain, clock });
    const normal = m.get(key('a'));
    await tick();
    const forced = m.refresh(key('a'));
    const forcedToo = m.refresh(key('a'));
    await tick();
    expect(calls).toHaveLength(1);
    calls[0]?.resolve('normal');
    expect((await normal).accessToken).toBe('normal');
    await tick();
    expect(calls).toHaveLength(2);
    calls[1]?.resolve('forced');
    expect((await forced).accessToken).toBe('forced');
    expect((await forcedToo).accessToken).toBe('forced');
  });

  it('the forced-refresh limit runs on the monotonic clock and is per key', async () => {
    const clock = fakeClock();
    let n = 0;
    const obtain: ObtainToken = async () => ({
      token: testToken({
        accessToken: `t${++n}`,
        tokenType: 'Bearer',
        expiresAt: clock.now() + HOUR,
        raw: {},
      }),
      sentAt: clock.now(),
    });
    const m = manager({ obtain, clock });
    const t1 = await m.get(key('a'));
    const t2 = await m.replaceRejected(key('a'), t1);
    expect(t2?.accessToken).toBe('t2');
    // Rejected again inside the window: limited, whatever the wall clock does.
    clock.wall -= 2 * HOUR;
    clock.mono += 4_000;
    expect(await m.replaceRejected(key('a'), t2 as Token)).toBeUndefined();
    // Another key has its own window.
    const b1 = await m.get(key('b'));
    expect((await m.replaceRejected(key('b'), b1))?.accessToken).toBe('t4');
    clock.mono += 1_001;
    expect((await m.replaceRejected(key('a'), t2 as Token))?.accessToken).toBe('t5');
  });

  it('10,001 keys with a forced-refresh window: the oldest goes, the others keep theirs', async () => {
    const clock = fakeClock();
    let n = 0;
    const obtain: ObtainToken = async (request) => ({
      token: testToken({
        accessToken: `${request.key}#${++n}`,
        tokenType: 'Bearer',
        expiresAt: clock.now() + HOUR,
        raw: {},
      }),
      sentAt: clock.now(),
    });
    const m = manager({ obtain, clock, cache: undefined, ownsCache: false });
    const firsts: Token[] = [];
    for (let i = 0; i <= 10_000; i++) {
      const first = await m.get(key(`k${i}`));
      firsts.push(first);
      await m.replaceRejected(key(`k${i}`), first);
    }
    const before = n;
    // k5000 is still inside its window: limited (no obtain); k0 was evicted: a refresh is allowed.
    expect(
      await m.replaceRejected(key('k5000'), { ...(firsts[5000] as Token), accessToken: 'other' }),
    ).toBeDefined();
    expect(n).toBe(before);
    await m.replaceRejected(key('k0'), firsts[0] as Token);
    expect(n).toBe(before + 1);
  });

  it('close(): the obtain under way sees its signal abort; waiters and later calls get M2M_CLIENT_CLOSED', async () => {
    const clock = fakeClock();
    const { obtain, calls } = manualObtain(clock);
    const m = manager({ obtain, clock });
    const waiting = m.get(key('a'));
    await tick();
    await m.close();
    expect(calls[0]?.signal.aborted).toBe(true);
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.CLIENT_CLOSED });
    await expect(m.get(key('a'))).rejects.toMatchObject({ code: ErrorCode.CLIENT_CLOSED });
  });
});
