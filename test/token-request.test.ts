/**
 * The token request's transport rules: retries (what, how often, how long between), Retry-After and
 * the per-endpoint pause, per-attempt timeouts (a trickling body included), the caller's signal,
 * redirects, the size cap, headers and the http: rule.
 */
import { HttpResponse, http } from 'msw';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ClientCredentialsClientOptions,
  ConfigurationError,
  ErrorCode,
  HttpError,
  M2MTokenError,
  OAuthError,
  type TokenEvent,
} from '../src/index.js';
import { FAST_RETRY, testClient } from './helpers/clients.js';
import { startLoopbackServer } from './helpers/loopback-server.js';
import { type MswRequest, mswTokenEndpoints } from './helpers/msw-token-endpoints.js';
import { rejectionOf } from './helpers/outcomes.js';
import { refusedUrl } from './helpers/ports.js';
import { startTokenServer } from './helpers/token-server.js';

const endpoints = mswTokenEndpoints('request');
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});
const servers: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const TOKEN = { access_token: 'request-token', token_type: 'Bearer', expires_in: 300 };

function client(url: string, options: Partial<ClientCredentialsClientOptions> = {}) {
  return testClient({ tokenEndpoint: url, cache: false, retry: FAST_RETRY, ...options });
}

/** Milliseconds between consecutive requests (exact under fake timers). */
function gaps(requests: readonly MswRequest[]): number[] {
  return requests.slice(1).map((a, i) => a.at - requests[i]!.at);
}

const fail = (status: number, body?: Record<string, unknown>, headers?: Record<string, string>) =>
  body
    ? HttpResponse.json(body, { status, headers })
    : new HttpResponse('upstream trouble', { status, headers });

describe('retries', () => {
  it.each([500, 502, 503, 504, 429, 408])('retries a %i and then succeeds', async (status) => {
    const { url, requests } = endpoints.add((_, i) => (i < 3 ? fail(status) : HttpResponse.json(TOKEN)));
    const token = await client(url).getToken();
    expect(token.accessToken).toBe('request-token');
    expect(requests).toHaveLength(3);
  });

  it('retries an OAuth server_error / temporarily_unavailable', async () => {
    const { url, requests } = endpoints.add((_, i) =>
      i === 1
        ? fail(500, { error: 'server_error' })
        : i === 2
          ? fail(503, { error: 'temporarily_unavailable' })
          : HttpResponse.json(TOKEN),
    );
    await client(url).getToken();
    expect(requests).toHaveLength(3);
  });

  it('gives up after retries + 1 attempts with the last error', async () => {
    const { url, requests } = endpoints.add(() => fail(503));
    const error = await rejectionOf(
      client(url, { retry: { retries: 3, minTimeout: 1, randomize: false } }).getToken(),
    );
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 503, code: ErrorCode.HTTP });
    expect(requests).toHaveLength(4);
  });

  it.each([400, 401, 403, 404])('never retries a %i', async (status) => {
    const { url, requests } = endpoints.add(() => fail(status));
    await expect(client(url).getToken()).rejects.toMatchObject({ status });
    expect(requests).toHaveLength(1);
  });

  it.each([
    [401, 'invalid_client'],
    [400, 'invalid_request'],
    [400, 'invalid_scope'],
    [400, 'unauthorized_client'],
    [400, 'invalid_target'],
    // Some servers send invalid_client with a 500: still never retried.
    [500, 'invalid_client'],
    [503, 'unauthorized_client'],
  ])('never retries a %i %s', async (status, code) => {
    const { url, requests } = endpoints.add(() => fail(status, { error: code }));
    const error = await rejectionOf(client(url).getToken());
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: code, status });
    expect(requests).toHaveLength(1);
  });

  it('retries network errors (TypeError from fetch)', async () => {
    const { url, requests } = endpoints.add((_, i) =>
      i < 3 ? HttpResponse.error() : HttpResponse.json(TOKEN),
    );
    await client(url).getToken();
    expect(requests).toHaveLength(3);
  });

  it('a refused connection is retried and then surfaces as M2M_NETWORK_ERROR naming the endpoint (issue 15.1)', async () => {
    const url = await refusedUrl();
    let calls = 0;
    const countingFetch: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const error = await rejectionOf(client(url, { fetch: countingFetch }).getToken());
    expect(error).toBeInstanceOf(M2MTokenError);
    expect(error).toMatchObject({ name: 'M2MTokenError', code: ErrorCode.NETWORK });
    expect((error as Error).message).toContain(`token endpoint ${url}`);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).message).toContain('3 attempts');
    // The runtime's error is kept as the cause.
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(calls).toBe(3);
  });

  it('retry: false makes one attempt', async () => {
    const { url, requests } = endpoints.add(() => fail(503));
    await expect(client(url, { retry: false }).getToken()).rejects.toMatchObject({ status: 503 });
    expect(requests).toHaveLength(1);
  });

  it('backs off exponentially, capped by maxTimeout: the server sees the attempts 21, 63 and 100 ms apart', async () => {
    vi.useFakeTimers();
    const { url, requests } = endpoints.add(() => fail(500));
    const settled = rejectionOf(
      client(url, {
        retry: { retries: 3, minTimeout: 21, factor: 3, maxTimeout: 100, randomize: false },
      }).getToken(),
    );
    await vi.runAllTimersAsync();
    await settled;
    expect(gaps(requests)).toEqual([21, 63, 100]);
  });

  it('adds jitter: each delay is multiplied by a random factor between 1 and 2', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { url, requests } = endpoints.add(() => fail(500));
    const settled = rejectionOf(
      client(url, { retry: { retries: 2, minTimeout: 22, factor: 2, maxTimeout: 1000 } }).getToken(),
    );
    await vi.runAllTimersAsync();
    await settled;
    // randomize defaults to true: 22 * 1.5 and 44 * 1.5.
    expect(gaps(requests)).toEqual([33, 66]);
  });

  it('reports each retry as an event, and the attempts on success', async () => {
    const events: TokenEvent[] = [];
    const { url } = endpoints.add((_, i) => (i < 3 ? fail(502) : HttpResponse.json(TOKEN)));
    await client(url, {
      onEvent: (e) => events.push(e),
      retry: { retries: 2, minTimeout: 1, maxTimeout: 2, randomize: false },
    }).getToken();
    const retries = events.filter((e) => e.type === 'token_request_retry');
    expect(retries.map((e) => e.type === 'token_request_retry' && e.attempt)).toEqual([1, 2]);
    expect(retries.map((e) => e.type === 'token_request_retry' && e.delayMs)).toEqual([1, 2]);
    expect(events.find((e) => e.type === 'token_request_success')).toMatchObject({
      attempts: 3,
      status: 200,
    });
  });
});

describe('Retry-After (RFC 9110 10.2.3)', () => {
  it('waits the given seconds before the next attempt', async () => {
    vi.useFakeTimers();
    const { url, requests } = endpoints.add((_, i) =>
      i === 1 ? fail(503, undefined, { 'retry-after': '3' }) : HttpResponse.json(TOKEN),
    );
    const token = client(url).getToken();
    await vi.advanceTimersByTimeAsync(2_999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(token).resolves.toMatchObject({ accessToken: 'request-token' });
    expect(gaps(requests)).toEqual([3_000]);
  });

  it('waits until an HTTP date', async () => {
    vi.useFakeTimers({ now: new Date('2030-05-01T12:00:00.000Z') });
    const date = new Date('2030-05-01T12:00:04.000Z');
    const { url, requests } = endpoints.add((_, i) =>
      i === 1
        ? fail(429, { error: 'slow_down' }, { 'retry-after': date.toUTCString() })
        : HttpResponse.json(TOKEN),
    );
    const token = client(url).getToken();
    await vi.advanceTimersByTimeAsync(3_999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(token).resolves.toMatchObject({ accessToken: 'request-token' });
    expect(requests.map((a) => a.at)).toEqual([date.getTime() - 4_000, date.getTime()]);
  });

  it('fails fast with M2M_RETRY_LATER and retryAt when the wait is over retry.maxRetryAfterMs', async () => {
    const { url, requests } = endpoints.add(() => fail(503, undefined, { 'retry-after': '2' }));
    const before = Date.now();
    const error = (await rejectionOf(
      client(url, { retry: { retries: 2, maxRetryAfterMs: 1_000 } }).getToken(),
    )) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.code).toBe(ErrorCode.RETRY_LATER);
    expect(error.status).toBe(503);
    expect(error.retryAt).toBeGreaterThanOrEqual(before + 2_000);
    expect(error.retryAt).toBeLessThanOrEqual(Date.now() + 2_000);
    expect(requests).toHaveLength(1);
  });

  it('the default cap is 10 s', async () => {
    const { url: within } = endpoints.add((_, i) =>
      i === 1 ? fail(429, undefined, { 'retry-after': '0' }) : HttpResponse.json(TOKEN),
    );
    await expect(client(within).getToken()).resolves.toMatchObject({ accessToken: 'request-token' });
    const { url: beyond, requests } = endpoints.add(() => fail(429, undefined, { 'retry-after': '11' }));
    await expect(client(beyond).getToken()).rejects.toMatchObject({ code: ErrorCode.RETRY_LATER });
    expect(requests).toHaveLength(1);
  });

  it('ignores a Retry-After on other statuses and an unparseable one', async () => {
    const { url, requests } = endpoints.add((_, i) =>
      i === 1
        ? fail(500, undefined, { 'retry-after': '3600' })
        : i === 2
          ? fail(503, undefined, { 'retry-after': 'soon' })
          : HttpResponse.json(TOKEN),
    );
    await client(url).getToken();
    expect(requests).toHaveLength(3);
  });

  it("makes this client's new requests to that endpoint wait for the pause (within the cap)", async () => {
    vi.useFakeTimers();
    const { url, requests } = endpoints.add((_, i) =>
      i === 1 ? fail(429, { error: 'slow_down' }, { 'retry-after': '5' }) : HttpResponse.json(TOKEN),
    );
    const c = client(url, { retry: { retries: 0 } });
    // One attempt only: the 429 is the answer to this call.
    await expect(c.getToken()).rejects.toMatchObject({ status: 429 });
    // The next call of the same client waits for the pause, then sends.
    await vi.advanceTimersByTimeAsync(1_000);
    const next = c.getToken();
    await vi.advanceTimersByTimeAsync(3_999);
    expect(requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(next).resolves.toMatchObject({ accessToken: 'request-token' });
    expect(gaps(requests)).toEqual([5_000]);
  });

  it('fails new requests fast while a longer pause is in force; other clients and endpoints are not affected', async () => {
    const { url, requests } = endpoints.add((_, i) =>
      i === 1 ? fail(503, undefined, { 'retry-after': '300' }) : HttpResponse.json(TOKEN),
    );
    const c = client(url);
    const first = (await rejectionOf(c.getToken())) as HttpError;
    expect(first.code).toBe(ErrorCode.RETRY_LATER);
    const second = (await rejectionOf(c.getToken())) as HttpError;
    expect(second).toMatchObject({ code: ErrorCode.RETRY_LATER, status: 503, retryAt: first.retryAt });
    expect(requests).toHaveLength(1);
    // The pause belongs to the client that was told: another client's credentials are not blocked.
    await expect(client(url, { clientId: 'someone-else' }).getToken()).resolves.toMatchObject({
      accessToken: 'request-token',
    });
    const { url: otherUrl } = endpoints.add(() => HttpResponse.json(TOKEN));
    await expect(client(otherUrl).getToken()).resolves.toMatchObject({ accessToken: 'request-token' });
  });

  it('an OAuth error body that comes with a long Retry-After is still an OAuthError; then calls fail fast', async () => {
    const { url, requests } = endpoints.add(() =>
      fail(429, { error: 'slow_down' }, { 'retry-after': '120' }),
    );
    const c = client(url, { retry: false });
    const error = await rejectionOf(c.getToken());
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'slow_down', status: 429 });
    await expect(c.getToken()).rejects.toMatchObject({ code: ErrorCode.RETRY_LATER, status: 429 });
    expect(requests).toHaveLength(1);
  });
});

describe('timeouts and the caller’s signal', () => {
  it('timeoutMs bounds each attempt; a timed-out attempt is retried, then M2M_TIMEOUT surfaces (issue 15.1)', async () => {
    const { url, requests } = endpoints.add(() => endpoints.never());
    const error = await rejectionOf(
      client(url, { timeoutMs: 100, retry: { retries: 1, minTimeout: 1 } }).getToken(),
    );
    expect(error).toBeInstanceOf(M2MTokenError);
    // Never DOMException's legacy numeric code 23.
    expect((error as M2MTokenError).code).toBe(ErrorCode.TIMEOUT);
    expect((error as Error).message).toContain(url);
    expect((error as Error).message).toContain('timeoutMs 100');
    expect((error as Error).message).toContain('2 attempts');
    expect((error as Error).cause).toBeInstanceOf(DOMException);
    expect(((error as Error).cause as DOMException).name).toBe('TimeoutError');
    expect(requests).toHaveLength(2);
  });

  it('a body that trickles forever hits the timeout (loopback server, a byte every 100 ms, timeoutMs 500)', async () => {
    const s = await startLoopbackServer(() => ({
      headers: { 'content-type': 'application/json' },
      body: '{',
      trickleMs: 100,
    }));
    servers.push(s);
    const error = await rejectionOf(client(`${s.origin}/token`, { timeoutMs: 500, retry: false }).getToken());
    expect(error).toMatchObject({ name: 'M2MTokenError', code: ErrorCode.TIMEOUT });
    expect(((error as Error).cause as DOMException).name).toBe('TimeoutError');
    expect(s.requests).toHaveLength(1);
    // The body really was trickling when the timeout struck.
    expect(s.trickled).toBeGreaterThanOrEqual(1);
  });

  it('the caller’s signal ends the wait at once while the server has not answered', async () => {
    const controller = new AbortController();
    const { url } = endpoints.add(() => {
      controller.abort();
      return endpoints.never();
    });
    const error = await rejectionOf(
      client(url, { timeoutMs: 30_000 }).getToken({ signal: controller.signal }),
    );
    expect(error).toBe(controller.signal.reason);
    expect((error as DOMException).name).toBe('AbortError');
  });

  it('the caller’s signal ends the wait at once during a retry backoff', async () => {
    const controller = new AbortController();
    const { url, requests } = endpoints.add(() => {
      setTimeout(() => controller.abort(new Error('caller gave up')), 20);
      return fail(503);
    });
    const error = await rejectionOf(
      client(url, { retry: { retries: 2, minTimeout: 25_000, maxTimeout: 25_000 } }).getToken({
        signal: controller.signal,
      }),
    );
    expect(error).toEqual(new Error('caller gave up'));
    expect(requests).toHaveLength(1);
  });

  it('the caller’s signal ends the wait for a Retry-After pause', async () => {
    const controller = new AbortController();
    const { url, requests } = endpoints.add(() => {
      setTimeout(() => controller.abort(), 20);
      return fail(429, undefined, { 'retry-after': '9' });
    });
    const error = await rejectionOf(client(url).getToken({ signal: controller.signal }));
    expect((error as DOMException).name).toBe('AbortError');
    expect(requests).toHaveLength(1);
  });

  it('an already aborted signal rejects with its reason', async () => {
    const { url } = endpoints.add(() => HttpResponse.json(TOKEN));
    const signal = AbortSignal.abort();
    const error = await rejectionOf(client(url).getToken({ signal }));
    expect(error).toBe(signal.reason);
    expect((error as DOMException).name).toBe('AbortError');
  });
});

describe('redirects, size cap, headers, http', () => {
  it.each([301, 302, 303, 307, 308])('a %i is an error: not followed, not retried', async (status) => {
    let followed = 0;
    endpoints.server.use(
      http.all('https://other-host.auth.localhost/*', () => {
        followed++;
        return HttpResponse.json(TOKEN);
      }),
    );
    const { url, requests } = endpoints.add(
      () =>
        new HttpResponse(null, { status, headers: { location: 'https://other-host.auth.localhost/token' } }),
    );
    const error = await rejectionOf(client(url).getToken());
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status, code: ErrorCode.REDIRECT });
    expect(followed).toBe(0);
    expect(requests).toHaveLength(1);
  });

  it('refuses a body declared larger than 256 KiB without reading it, and does not retry', async () => {
    const { url, requests } = endpoints.add(
      () =>
        new HttpResponse(JSON.stringify(TOKEN), {
          headers: { 'content-type': 'application/json', 'content-length': String(256 * 1024 + 1) },
        }),
    );
    const error = await rejectionOf(client(url).getToken());
    expect(error).toMatchObject({ name: 'HttpError', code: ErrorCode.RESPONSE_TOO_LARGE, status: 200 });
    expect(requests).toHaveLength(1);
  });

  it('sends the configured headers; Accept stays application/json', async () => {
    const { url, requests } = endpoints.add(() => HttpResponse.json(TOKEN));
    await client(url, {
      headers: { 'user-agent': 'gift-deliveries/1.0', 'x-request-source': 'tests' },
    }).getToken();
    expect(requests[0]!.headers.get('user-agent')).toBe('gift-deliveries/1.0');
    expect(requests[0]!.headers.get('x-request-source')).toBe('tests');
    expect(requests[0]!.headers.get('accept')).toBe('application/json');
  });

  it.each(['Authorization', 'content-type', 'Accept'])('refuses a %s header (the client sets it)', (name) => {
    expect(() => client('https://a.auth.localhost/t', { headers: { [name]: 'x' } })).toThrow(
      ConfigurationError,
    );
  });

  it('refuses an http: token endpoint unless it is loopback or allowInsecureHttp is set', async () => {
    expect(() => client('http://idp.example.test/token')).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', option: 'tokenEndpoint' }),
    );
    for (const host of ['127.0.0.1', 'localhost', '[::1]', '127.1.2.3']) {
      expect(() => client(`http://${host}:8080/token`)).not.toThrow();
    }
    // Behind a service mesh: allowed when asked for.
    const url = 'http://idp.mesh.internal.test/token';
    endpoints.server.use(http.post(url, () => HttpResponse.json(TOKEN)));
    const token = await client(url, { allowInsecureHttp: true }).getToken();
    expect(token.accessToken).toBe('request-token');
  });

  it('sends a token request over http to a loopback server', async () => {
    const s = await startTokenServer({ token: () => 'request-token' });
    servers.push(s);
    const token = await client(s.url).getToken();
    expect(token.accessToken).toBe('request-token');
    expect(s.requests[0]?.params.get('grant_type')).toBe('client_credentials');
  });
});
