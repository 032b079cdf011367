/**
 * Issue 12.3: wall-clock jumps neither stretch nor end an interval. Pauses, the 401 forced-refresh limit
 * and the refresh-ahead retry schedule run on the monotonic clock; only token expiry reads the wall clock.
 * (vi.setSystemTime moves the wall clock alone; advancing timers moves both.)
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, HttpError, type TokenEvent } from '../../src/index.js';
import { testClient } from '../helpers/clients.js';
import { fakeTokenEndpoint } from '../helpers/token-endpoint.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const HOUR = 3_600_000;

describe('wall-clock jumps (issue 12.3)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ['back 1 min', -60_000],
    ['back 2 h', -2 * HOUR],
    ['forward 2 h', 2 * HOUR],
  ])('a Retry-After: 2 pause lasts 2 s when the clock is set %s', async (_, jump) => {
    const endpoint = fakeTokenEndpoint({
      respond: (n) =>
        n === 1 ? new Response('', { status: 503, headers: { 'retry-after': '2' } }) : undefined,
    });
    const c = testClient({ fetch: endpoint.fetch });
    await expect(c.getToken()).rejects.toBeInstanceOf(HttpError);
    vi.setSystemTime(Date.now() + jump);
    const during = await c.getToken().catch((e: unknown) => e);
    expect(during).toMatchObject({ code: ErrorCode.RETRY_LATER });
    // retryAt is now + what is left of the pause, whatever the wall clock says.
    expect((during as HttpError).retryAt).toBeLessThanOrEqual(Date.now() + 2_000);
    expect(endpoint.count).toBe(1);
    await vi.advanceTimersByTimeAsync(2_001);
    expect((await c.getToken()).accessToken).toBe('token-2');
  });

  it.each([
    ['back 30 s', -30_000],
    ['forward 30 min', HOUR / 2],
  ])('the 401 forced-refresh limit lasts its 5 s when the clock is set %s', async (_, jump) => {
    const endpoint = fakeTokenEndpoint();
    const c = testClient({ fetch: endpoint.fetch });
    const apiFetch = c.createFetch({
      fetch: (async () =>
        new Response('', {
          status: 401,
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        })) as typeof fetch,
    });
    expect((await apiFetch('https://api.example.com/a')).status).toBe(401);
    expect(endpoint.count).toBe(2); // the first token and one forced refresh
    vi.setSystemTime(Date.now() + jump);
    // Inside the 5 s, whatever the wall clock says: limited.
    await vi.advanceTimersByTimeAsync(4_000);
    expect((await apiFetch('https://api.example.com/b')).status).toBe(401);
    expect(endpoint.count).toBe(2);
    // After it: one more refresh.
    await vi.advanceTimersByTimeAsync(1_001);
    expect((await apiFetch('https://api.example.com/c')).status).toBe(401);
    expect(endpoint.count).toBe(3);
  });

  it('the refresh-ahead retry schedule ignores a forward jump of the wall clock past it', async () => {
    const events: TokenEvent[] = [];
    let down = false;
    const endpoint = fakeTokenEndpoint({
      respond: () => (down ? new Response('down', { status: 500 }) : undefined),
    });
    const c = testClient({ fetch: endpoint.fetch, onEvent: (e: TokenEvent) => events.push(e) });
    await c.getToken();
    down = true;
    // Into the refresh-ahead window (the token is usable for 3540 s, refresh from 3240 s).
    await vi.advanceTimersByTimeAsync(3_240_000);
    await c.getToken();
    await vi.advanceTimersByTimeAsync(0);
    expect(endpoint.count).toBe(2);
    const failure = events.find((e) => e.type === 'refresh_ahead_failure');
    expect(failure).toBeDefined();
    // The wall clock jumps 60 s forward (the token is still usable): the retry (30 s) is not yet due.
    vi.setSystemTime(Date.now() + 60_000);
    await c.getToken();
    await vi.advanceTimersByTimeAsync(0);
    expect(endpoint.count).toBe(2);
  });
});
