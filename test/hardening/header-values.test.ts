/**
 * Issue 12.5, the wrapper part: no error from the fetch wrapper or the undici interceptor carries a header
 * value: not our token (a token with CR/LF planted in a shared cache), not a caller's own header value.
 */
import { inspect } from 'node:util';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bearerInterceptor } from '../../src/fetch/undici-entry.js';
import type { ClientCredentialsClient, TokenCache } from '../../src/index.js';
import { testClient } from '../helpers/clients.js';
import { type Api, startApi } from '../helpers/loopback-api.js';
import { fakeTokenEndpoint } from '../helpers/token-endpoint.js';
import { testEntry } from '../helpers/tokens.js';

const PLANTED = 'planted-token-value-0123456789\r\nx-injected: yes';
const CALLER_SECRET = 'caller-header-secret-0123456789';

/** A shared cache that hands out a token that is not a valid header value (as a tampered Redis could). */
function plantedCache(): TokenCache {
  const entry = testEntry(PLANTED);
  return { get: async () => entry, set: async () => undefined, delete: async () => undefined };
}

/** The client's fetch for API calls: the real one (the client's own `fetch` option is the fake IdP). */
function apiFetch(client: ClientCredentialsClient) {
  return client.createFetch({ fetch: (input, init) => globalThis.fetch(input, init) });
}

/** Everything an error shows: message, stack, causes, inspect. */
function shown(error: unknown): string {
  return `${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}\n${String((error as Error)?.stack)}`;
}

function expectNoValue(error: unknown, ...values: string[]) {
  expect(error).toBeInstanceOf(Error);
  const text = shown(error);
  for (const value of values) {
    for (const part of value.split(/[\r\n]+/)) if (part.length >= 8) expect(text).not.toContain(part);
  }
}

let api: Api;
beforeAll(async () => {
  api = await startApi(() => ({ status: 200, body: 'ok' }));
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => {
  api.arrivals.length = 0;
});

describe('the fetch wrapper', () => {
  it('a token that is not a valid header value: a TypeError naming authorization, never the token', async () => {
    const error = await apiFetch(testClient({ fetch: fakeTokenEndpoint().fetch, cache: plantedCache() }))(
      `${api.url}/x`,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('authorization');
    expectNoValue(error, PLANTED);
    expect(api.arrivals).toHaveLength(0);
  });

  it.each([
    ['a record', { 'x-api-key': `${CALLER_SECRET}\nx-evil: 1` }],
    ['pairs', [['x-api-key', `${CALLER_SECRET}\u0000`]] as Array<[string, string]>],
  ])("a caller's invalid header value (%s) never appears in the error", async (_, headers) => {
    const error = await apiFetch(testClient({ fetch: fakeTokenEndpoint().fetch }))(`${api.url}/x`, {
      headers,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('x-api-key');
    expectNoValue(error, CALLER_SECRET);
  });

  it("the same with the caller's own Authorization (passed through untouched)", async () => {
    const error = await apiFetch(testClient({ fetch: fakeTokenEndpoint().fetch }))(`${api.url}/x`, {
      headers: { authorization: `Bearer ${CALLER_SECRET}\r\nx-evil: 1` },
    }).catch((e: unknown) => e);
    expectNoValue(error, CALLER_SECRET);
  });

  it('an ordinary network error is handed over as fetch threw it', async () => {
    const error = await apiFetch(testClient({ fetch: fakeTokenEndpoint().fetch }))(
      'http://127.0.0.1:1/x',
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe('fetch failed');
    expect((error as Error).cause).toBeDefined();
  });
});

describe('the undici interceptor', () => {
  it('a token that is not a valid header value: an error that never shows it', async () => {
    const dispatcher = new Agent().compose(
      bearerInterceptor(testClient({ fetch: fakeTokenEndpoint().fetch, cache: plantedCache() })),
    );
    try {
      const error = await request(`${api.url}/x`, { dispatcher }).catch((e: unknown) => e);
      expectNoValue(error, PLANTED);
      expect(api.arrivals).toHaveLength(0);
    } finally {
      await dispatcher.close();
    }
  });

  it("a caller's invalid header value never appears in the error", async () => {
    const dispatcher = new Agent().compose(
      bearerInterceptor(testClient({ fetch: fakeTokenEndpoint().fetch })),
    );
    try {
      const error = await request(`${api.url}/x`, {
        dispatcher,
        headers: { 'x-api-key': `${CALLER_SECRET}\nx-evil: 1` },
      }).catch((e: unknown) => e);
      expectNoValue(error, CALLER_SECRET);
    } finally {
      await dispatcher.close();
    }
  });
});
