/**
 * Issue 12.9: many concurrent calls sharing one AbortSignal add one listener to it, not one each, so Node
 * prints no MaxListenersExceededWarning; aborting still rejects every one of them with the signal's reason.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientCredentialsClient } from '../../src/index.js';
import { ENDPOINT, fakeTokenEndpoint } from '../helpers/token-endpoint.js';

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);

beforeEach(() => {
  warnings.length = 0;
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});

function makeClient() {
  const endpoint = fakeTokenEndpoint({ latencyMs: 200 });
  const client = new ClientCredentialsClient({
    tokenEndpoint: ENDPOINT,
    clientId: 'svc',
    clientSecret: 'abort-secret',
    fetch: endpoint.fetch,
    retry: false,
  });
  return { client, endpoint };
}

describe('one AbortSignal shared by many waiting calls (issue 12.9)', () => {
  it.each([
    ['one key', (_: number) => ({})],
    ['50 keys', (i: number) => ({ audience: `urn:api:${i}` })],
  ])(
    '50 concurrent misses for %s: no MaxListenersExceededWarning; abort rejects all with its reason',
    async (_, options) => {
      const { client } = makeClient();
      const controller = new AbortController();
      const calls = Array.from({ length: 50 }, (_, i) =>
        client.getToken({ ...options(i), signal: controller.signal }).then(
          () => 'resolved',
          (error: unknown) => error,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      const reason = new Error('caller gave up');
      controller.abort(reason);
      const results = await Promise.all(calls);
      expect(results.every((r) => r === reason)).toBe(true);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    },
  );

  it('calls that finish before the abort leave nothing behind and resolve normally', async () => {
    const { client, endpoint } = makeClient();
    const controller = new AbortController();
    for (let round = 0; round < 3; round++) {
      const tokens = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          client.getToken({ audience: `urn:r${round}:${i % 4}`, signal: controller.signal }),
        ),
      );
      expect(tokens).toHaveLength(20);
    }
    controller.abort();
    expect(endpoint.count).toBe(12);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).toEqual([]);
  });
});
