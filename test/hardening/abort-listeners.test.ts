/**
 * Issue 12.9: many concurrent calls sharing one AbortSignal add one listener to it, not one each, so Node
 * prints no MaxListenersExceededWarning; aborting still rejects every one of them with the signal's reason.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { testClient } from '../helpers/clients.js';
import { fakeTokenEndpoint } from '../helpers/token-endpoint.js';

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);

beforeEach(() => {
  warnings.length = 0;
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
  vi.useRealTimers();
});

describe('one AbortSignal shared by many waiting calls (issue 12.9)', () => {
  it.each([
    ['one key', 1, (_: number) => ({})],
    ['50 keys', 50, (i: number) => ({ audience: `urn:api:${i}` })],
  ])(
    '50 concurrent misses for %s: no MaxListenersExceededWarning; abort rejects all with its reason',
    async (_, requests, options) => {
      vi.useFakeTimers();
      const endpoint = fakeTokenEndpoint({ latencyMs: 200 });
      const client = testClient({ fetch: endpoint.fetch });
      const controller = new AbortController();
      const calls = Array.from({ length: 50 }, (_, i) =>
        client.getToken({ ...options(i), signal: controller.signal }).then(
          () => 'resolved',
          (error: unknown) => error,
        ),
      );
      // Every token request is under way (200 ms of latency, none answered yet).
      await vi.advanceTimersByTimeAsync(20);
      expect(endpoint.count).toBe(requests);
      const reason = new Error('caller gave up');
      controller.abort(reason);
      const results = await Promise.all(calls);
      expect(results.every((r) => r === reason)).toBe(true);
      // Warnings are emitted on the next tick.
      vi.useRealTimers();
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    },
  );

  it('calls that finish before the abort leave nothing behind and resolve normally', async () => {
    vi.useFakeTimers();
    const endpoint = fakeTokenEndpoint({ latencyMs: 200 });
    const client = testClient({ fetch: endpoint.fetch });
    const controller = new AbortController();
    for (let round = 0; round < 3; round++) {
      const tokens = Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          client.getToken({ audience: `urn:r${round}:${i % 4}`, signal: controller.signal }),
        ),
      );
      await vi.advanceTimersByTimeAsync(200);
      expect(await tokens).toHaveLength(20);
    }
    controller.abort();
    expect(endpoint.count).toBe(12);
    vi.useRealTimers();
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).toEqual([]);
  });
});
