import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TokenEvent } from '../src/index.js';
import { CLIENT_SECRET, testClient } from './helpers/clients.js';
import { ENDPOINT, fakeTokenEndpoint, unsignedJwt } from './helpers/token-endpoint.js';

/** These tests look at the lifetime rules alone; refresh-ahead has its own file. */
const LIFETIME_ONLY = { refreshAheadSeconds: 0 };

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('token lifetime in the cache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('uses expires_in from when the request was sent, until expiry minus the 60 s buffer', async () => {
    const endpoint = fakeTokenEndpoint({ expiresIn: 3600, latencyMs: 2_000 });
    const client = testClient({ fetch: endpoint.fetch, ...LIFETIME_ONLY });
    const pending = client.getToken();
    await vi.advanceTimersByTimeAsync(2_000);
    const token = await pending;
    // Counted from the moment the request was sent (T0), not from when the answer arrived (T0 + 2 s).
    expect(token.expiresAt).toBe(T0 + 3_600_000);

    vi.setSystemTime(T0 + 3_540_000 - 1);
    expect((await client.getToken()).accessToken).toBe('token-1');
    vi.setSystemTime(T0 + 3_540_000);
    const next = client.getToken();
    await vi.advanceTimersByTimeAsync(2_000);
    expect((await next).accessToken).toBe('token-2');
    expect(endpoint.count).toBe(2);
  });

  it('accepts expires_in as a numeric string', async () => {
    const endpoint = fakeTokenEndpoint({ expiresIn: '120' });
    const client = testClient({ fetch: endpoint.fetch, ...LIFETIME_ONLY });
    const token = await client.getToken();
    expect(token.expiresAt).toBe(T0 + 120_000);
    vi.setSystemTime(T0 + 59_999); // buffer = min(60 s, 120 s / 2) = 60 s
    expect((await client.getToken()).accessToken).toBe('token-1');
    vi.setSystemTime(T0 + 60_000);
    expect((await client.getToken()).accessToken).toBe('token-2');
  });

  it("learns the expiry from a JWT access token's exp when expires_in is absent", async () => {
    const exp = Math.floor(T0 / 1000) + 600;
    const endpoint = fakeTokenEndpoint({ expiresIn: undefined, token: (n) => unsignedJwt({ exp, n }) });
    const client = testClient({ fetch: endpoint.fetch, ...LIFETIME_ONLY });
    const token = await client.getToken();
    expect(token.expiresAt).toBe(exp * 1000);
    vi.setSystemTime(exp * 1000 - 60_001);
    await client.getToken();
    expect(endpoint.count).toBe(1);
    vi.setSystemTime(exp * 1000 - 60_000);
    await client.getToken();
    expect(endpoint.count).toBe(2);
  });

  it('caches a token with no known expiry for defaultLifetimeSeconds', async () => {
    const endpoint = fakeTokenEndpoint({ expiresIn: undefined });
    const client = testClient({ fetch: endpoint.fetch, ...LIFETIME_ONLY, defaultLifetimeSeconds: 100 });
    const token = await client.getToken();
    expect(token.expiresAt).toBeUndefined();
    vi.setSystemTime(T0 + 99_999);
    await client.getToken();
    expect(endpoint.count).toBe(1);
    vi.setSystemTime(T0 + 100_000);
    await client.getToken();
    expect(endpoint.count).toBe(2);
  });

  it('never lets the buffer exceed half the lifetime: a 30 s token is reused for 15 s', async () => {
    const endpoint = fakeTokenEndpoint({ expiresIn: 30 });
    const client = testClient({ fetch: endpoint.fetch, ...LIFETIME_ONLY });
    await client.getToken();
    vi.setSystemTime(T0 + 14_999);
    await client.getToken();
    expect(endpoint.count).toBe(1);
    vi.setSystemTime(T0 + 15_000);
    await client.getToken();
    expect(endpoint.count).toBe(2);
  });

  it('uses a token with expires_in 0 once and does not cache it', async () => {
    const endpoint = fakeTokenEndpoint({ expiresIn: 0, latencyMs: 10 });
    const client = testClient({ fetch: endpoint.fetch, ...LIFETIME_ONLY });
    const both = Promise.all([client.getToken(), client.getToken()]);
    await vi.advanceTimersByTimeAsync(10);
    const [a, b] = await both;
    // Concurrent callers still share the one request...
    expect(a.accessToken).toBe('token-1');
    expect(b.accessToken).toBe('token-1');
    expect(endpoint.count).toBe(1);
    // ...but the next call asks again.
    const third = client.getToken();
    await vi.advanceTimersByTimeAsync(10);
    expect((await third).accessToken).toBe('token-2');
  });

  it('treats a clock that jumped forward past expiry as expired', async () => {
    const endpoint = fakeTokenEndpoint({ expiresIn: 3600 });
    const client = testClient({ fetch: endpoint.fetch, ...LIFETIME_ONLY });
    await client.getToken();
    vi.setSystemTime(T0 + 24 * 3_600_000);
    expect((await client.getToken()).accessToken).toBe('token-2');
  });

  it('does not trust a cached token after the clock jumped back more than a minute', async () => {
    const endpoint = fakeTokenEndpoint({ expiresIn: 3600 });
    const client = testClient({ fetch: endpoint.fetch, ...LIFETIME_ONLY });
    await client.getToken();
    vi.setSystemTime(T0 - 30_000); // small steps back (NTP) are tolerated
    expect((await client.getToken()).accessToken).toBe('token-1');
    vi.setSystemTime(T0 - 3_600_000);
    expect((await client.getToken()).accessToken).toBe('token-2');
  });

  it('honours expiryBufferSeconds', async () => {
    const endpoint = fakeTokenEndpoint({ expiresIn: 3600 });
    const client = testClient({ fetch: endpoint.fetch, ...LIFETIME_ONLY, expiryBufferSeconds: 600 });
    await client.getToken();
    vi.setSystemTime(T0 + 3_000_000 - 1);
    await client.getToken();
    expect(endpoint.count).toBe(1);
    vi.setSystemTime(T0 + 3_000_000);
    await client.getToken();
    expect(endpoint.count).toBe(2);
  });

  it('reports hits and misses through onEvent without the token', async () => {
    const events: TokenEvent[] = [];
    const endpoint = fakeTokenEndpoint({ expiresIn: 3600 });
    const client = testClient({
      fetch: endpoint.fetch,
      ...LIFETIME_ONLY,
      onEvent: (e: TokenEvent) => events.push(e),
      audience: 'urn:api',
    });
    await client.getToken();
    await client.getToken();
    expect(events.map((e) => e.type)).toEqual([
      'cache_miss',
      'token_request_start',
      'token_request_success',
      'cache_hit',
    ]);
    const success = events[2] as Extract<TokenEvent, { type: 'token_request_success' }>;
    expect(success.status).toBe(200);
    expect(success.attempts).toBe(1);
    expect(success.key).toMatchObject({ endpoint: ENDPOINT, clientId: 'svc', audience: 'urn:api' });
    expect(JSON.stringify(events)).not.toContain('token-1');
    expect(JSON.stringify(events)).not.toContain(CLIENT_SECRET);
  });
});
