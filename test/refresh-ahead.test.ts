import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HttpError, type TokenEvent } from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
// A one-hour token: usable until 3540 s (60 s buffer); refresh-ahead from 3240 s (300 s before).
const REFRESH_AT = T0 + 3_240_000;
const USABLE_UNTIL = T0 + 3_540_000;

/** Resolves when `promise` settles within the current microtask flush, without advancing timers. */
async function settledWithoutTimers<T>(promise: Promise<T>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < 20; i++) await Promise.resolve();
  return settled;
}

describe('refresh-ahead', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns the cached token at once and starts one background refresh', async () => {
    const events: TokenEvent[] = [];
    const endpoint = fakeTokenEndpoint({ latencyMs: 1_000 });
    const client = testClient({
      fetch: endpoint.fetch,
      onEvent: (e) => events.push(e),
    });
    const first = client.getToken();
    await vi.advanceTimersByTimeAsync(1_000);
    await first;

    vi.setSystemTime(REFRESH_AT - 1);
    expect((await client.getToken()).accessToken).toBe('token-1');
    expect(endpoint.count).toBe(1);

    vi.setSystemTime(REFRESH_AT);
    // Many callers during the refresh: all served at once from the cache, one request in all.
    const during = Array.from({ length: 50 }, () => client.getToken());
    for (const call of during) expect(await settledWithoutTimers(call)).toBe(true);
    expect((await Promise.all(during)).every((t) => t.accessToken === 'token-1')).toBe(true);
    expect(endpoint.count).toBe(2);
    expect(events.filter((e) => e.type === 'refresh_ahead_start')).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1_000);
    expect((await client.getToken()).accessToken).toBe('token-2');
    expect(endpoint.count).toBe(2);
  });

  it('under continuous load with a slow token endpoint, no caller waits on the network', async () => {
    const endpoint = fakeTokenEndpoint({ latencyMs: 5_000, expiresIn: 600 });
    const client = testClient({
      fetch: endpoint.fetch,
    });
    const first = client.getToken();
    await vi.advanceTimersByTimeAsync(5_000);
    await first;
    // Three hours of one call per second: every call resolves without any timer advancing.
    let waited = 0;
    for (let second = 0; second < 3 * 3600; second += 1) {
      await vi.advanceTimersByTimeAsync(1_000);
      const call = client.getToken();
      if (!(await settledWithoutTimers(call))) waited++;
      await call;
    }
    expect(waited).toBe(0);
    // 600 s tokens refreshed ahead of time: about one request per ~510 s, never one per call.
    expect(endpoint.count).toBeGreaterThan(10);
    expect(endpoint.count).toBeLessThan(30);
  });

  it('with the token endpoint down, keeps the valid token until it truly expires, then gives the error', async () => {
    const events: TokenEvent[] = [];
    let down = false;
    const endpoint = fakeTokenEndpoint({
      respond: () => (down ? new Response('down', { status: 503 }) : undefined),
    });
    const client = testClient({
      fetch: endpoint.fetch,
      retry: false,
      onEvent: (e) => events.push(e),
    });
    await client.getToken();
    down = true;

    vi.setSystemTime(REFRESH_AT);
    expect((await client.getToken()).accessToken).toBe('token-1');
    await vi.advanceTimersByTimeAsync(0);
    const failures = events.filter((e) => e.type === 'refresh_ahead_failure');
    expect(failures).toHaveLength(1);
    expect(endpoint.count).toBe(2);

    // Not retried on every call: only after the backoff.
    expect((await client.getToken()).accessToken).toBe('token-1');
    await vi.advanceTimersByTimeAsync(0);
    expect(endpoint.count).toBe(2);
    const retryAt = (failures[0] as Extract<TokenEvent, { type: 'refresh_ahead_failure' }>).retryAt;
    // The retry schedule runs on the monotonic clock: time has to pass, not only the wall clock.
    await vi.advanceTimersByTimeAsync(retryAt - Date.now());
    expect((await client.getToken()).accessToken).toBe('token-1');
    await vi.advanceTimersByTimeAsync(0);
    expect(endpoint.count).toBe(3);

    // Past the usable end, callers get the error itself.
    vi.setSystemTime(USABLE_UNTIL);
    await expect(client.getToken()).rejects.toBeInstanceOf(HttpError);
  });

  it('a background refresh that fails is never an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      let down = false;
      const endpoint = fakeTokenEndpoint({
        respond: () => (down ? new Response('x', { status: 500 }) : undefined),
      });
      const client = testClient({
        fetch: endpoint.fetch,
        retry: false,
      });
      await client.getToken();
      down = true;
      vi.setSystemTime(REFRESH_AT);
      await client.getToken();
      await vi.advanceTimersByTimeAsync(10);
      vi.useRealTimers();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('refreshAheadSeconds: 0 turns refresh-ahead off', async () => {
    const endpoint = fakeTokenEndpoint();
    const client = testClient({
      fetch: endpoint.fetch,
      refreshAheadSeconds: 0,
    });
    await client.getToken();
    vi.setSystemTime(USABLE_UNTIL - 1);
    await client.getToken();
    await vi.advanceTimersByTimeAsync(0);
    expect(endpoint.count).toBe(1);
  });
});
