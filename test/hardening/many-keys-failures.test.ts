/**
 * Issue 12, "keep what held": 10,000 calls over 1,000 keys with 20% of token requests failing all
 * settle, each with a token or a typed error, and nothing becomes an unhandled rejection.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { HttpError } from '../../src/index.js';
import { testClient } from '../helpers/clients.js';
import { fakeTokenEndpoint } from '../helpers/token-endpoint.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

it('10,000 calls over 1,000 keys, 20% of token requests failing: all settle, none unhandled', async () => {
  // Every fifth token request fails with a 503 (no Retry-After: no pause), the rest issue a token.
  const endpoint = fakeTokenEndpoint({
    respond: (n) => (n % 5 === 0 ? new Response('busy', { status: 503 }) : undefined),
  });
  const client = testClient({ fetch: endpoint.fetch });
  const calls = Array.from({ length: 10_000 }, (_, i) =>
    client.getToken({ audience: `urn:api:${i % 1_000}`, ...(i % 3 === 0 ? { forceRefresh: true } : {}) }),
  );
  const outcomes = await Promise.allSettled(calls);
  const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  expect(outcomes).toHaveLength(10_000);
  expect(rejected.length).toBeGreaterThan(0);
  expect(outcomes.length - rejected.length).toBeGreaterThan(0);
  for (const { reason } of rejected) expect(reason).toBeInstanceOf(HttpError);
  // Let anything left over run, then check nothing escaped.
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(unhandled).toEqual([]);
  // Every failed key recovers on the next call.
  const again = await Promise.allSettled(
    Array.from({ length: 1_000 }, (_, i) => client.getToken({ audience: `urn:api:${i}` })),
  );
  expect(again.filter((o) => o.status === 'rejected').length).toBeLessThan(1_000);
});
