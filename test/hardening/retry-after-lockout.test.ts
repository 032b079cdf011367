/**
 * Issue 12.2: one 503 with a huge Retry-After must not lock the client out. The fail-fast pause is capped
 * by retry.maxPauseMs (default 60 s), and retryAt never lies beyond it.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ConfigurationError, ErrorCode, HttpError } from '../../src/index.js';
import { DEFAULT_RETRY, testClient } from '../helpers/clients.js';
import { rejectionOf } from '../helpers/outcomes.js';
import { fakeTokenEndpoint } from '../helpers/token-endpoint.js';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

/** A token endpoint that answers the first request 503 with this Retry-After, then tokens. */
function onceUnavailable(retryAfter: string) {
  return fakeTokenEndpoint({
    respond: (n) =>
      n === 1 ? new Response('busy', { status: 503, headers: { 'retry-after': retryAfter } }) : undefined,
  });
}

async function failure(promise: Promise<unknown>): Promise<HttpError> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(HttpError);
  return error as HttpError;
}

describe('Retry-After lockout (issue 12.2)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([
    ['86400 seconds', '86400'],
    ['999999999 seconds', '999999999'],
    ['a date in 2100', 'Fri, 01 Jan 2100 00:00:00 GMT'],
  ])('Retry-After: %s pauses for at most 60 s (the default maxPauseMs)', async (_, retryAfter) => {
    const endpoint = onceUnavailable(retryAfter);
    const client = testClient({ fetch: endpoint.fetch, retry: DEFAULT_RETRY });
    const first = await failure(client.getToken());
    expect(first.code).toBe(ErrorCode.RETRY_LATER);
    expect(first.retryAt).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(first.retryAt).toBeGreaterThan(Date.now() + 59_000);

    // Inside the pause: fail fast, nothing sent, retryAt still within the cap.
    await vi.advanceTimersByTimeAsync(30_000);
    const during = await failure(client.getToken());
    expect(during.code).toBe(ErrorCode.RETRY_LATER);
    expect(during.retryAt).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(endpoint.count).toBe(1);

    // After the cap, token requests go out again.
    await vi.advanceTimersByTimeAsync(30_001);
    expect((await client.getToken()).accessToken).toBe('token-2');
    expect(endpoint.count).toBe(2);
  });

  it('retry.maxPauseMs sets the cap, also with retries off', async () => {
    const endpoint = onceUnavailable('86400');
    const client = testClient({
      fetch: endpoint.fetch,
      retry: { retries: 0, maxRetryAfterMs: 1_000, maxPauseMs: 5_000 },
    });
    const first = await failure(client.getToken());
    expect(first.retryAt).toBeLessThanOrEqual(Date.now() + 5_000);
    await vi.advanceTimersByTimeAsync(5_001);
    expect((await client.getToken()).accessToken).toBe('token-2');
  });

  it('a maxPauseMs at or under maxRetryAfterMs still fails fast: what the server asked decides, not the cap', async () => {
    // Measured before: the 86400 s ask, capped to 5 s, counted as short enough to wait out, so every
    // call slept 5 s and went back to the server (3 attempts per call) with no M2M_RETRY_LATER.
    const endpoint = fakeTokenEndpoint({
      respond: (n) =>
        n <= 3 ? new Response('busy', { status: 503, headers: { 'retry-after': '86400' } }) : undefined,
    });
    const client = testClient({ fetch: endpoint.fetch, retry: { ...DEFAULT_RETRY, maxPauseMs: 5_000 } });
    const first = await failure(client.getToken());
    expect(first.code).toBe(ErrorCode.RETRY_LATER);
    expect(first.retryAt).toBe(Date.now() + 5_000);
    expect(endpoint.count).toBe(1);
    await vi.advanceTimersByTimeAsync(4_000);
    // The last second of the pause too: fail fast, nothing sent.
    expect((await failure(client.getToken())).code).toBe(ErrorCode.RETRY_LATER);
    expect(endpoint.count).toBe(1);
    await vi.advanceTimersByTimeAsync(1_001);
    expect((await failure(client.getToken())).code).toBe(ErrorCode.RETRY_LATER);
    expect(endpoint.count).toBe(2);
  });

  it('a Retry-After within maxRetryAfterMs is waited out, then the request is sent', async () => {
    const endpoint = onceUnavailable('3');
    const client = testClient({ fetch: endpoint.fetch, retry: { ...DEFAULT_RETRY, maxPauseMs: 2_000 } });
    const token = client.getToken();
    await vi.advanceTimersByTimeAsync(2_000);
    expect((await token).accessToken).toBe('token-2');
    expect(endpoint.count).toBe(2);
  });

  it('a pause shorter than the cap is kept as the server asked', async () => {
    const endpoint = onceUnavailable('20');
    const client = testClient({
      fetch: endpoint.fetch,
      retry: false,
    });
    const first = await failure(client.getToken());
    expect(first.retryAt).toBe(Date.now() + 20_000);
    await vi.advanceTimersByTimeAsync(19_000);
    expect((await failure(client.getToken())).code).toBe(ErrorCode.RETRY_LATER);
    await vi.advanceTimersByTimeAsync(1_001);
    expect((await client.getToken()).accessToken).toBe('token-2');
  });

  it.each([
    ['a negative number', -1],
    ['a string', '60000'],
  ])('retry.maxPauseMs as %s is a ConfigurationError naming it', (_, value) => {
    expect(() =>
      testClient({
        retry: { maxPauseMs: value as number },
      }),
    ).toThrow(expect.objectContaining({ option: 'retry.maxPauseMs' }) as ConfigurationError);
  });
});
