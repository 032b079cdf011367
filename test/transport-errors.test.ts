/**
 * Network failures and timeouts of m2m-token's own requests (issue 15.1): M2MTokenError
 * `M2M_NETWORK_ERROR` / `M2M_TIMEOUT` naming the endpoint, the timeout and the attempts, the runtime's
 * error as `cause`, still retried; never DOMException's numeric code 23. A caller's abort is its
 * signal's reason, unchanged; `client.fetch()` keeps fetch's own errors for the API request itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, M2MTokenError, type TokenEvent } from '../src/index.js';
import { CLIENT_ID, CLIENT_SECRET, testClient } from './helpers/clients.js';
import { type LoopbackServer, startLoopbackServer } from './helpers/loopback-server.js';
import { rejectionOf } from './helpers/outcomes.js';
import { refusedUrl } from './helpers/ports.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

/** A server that accepts requests and never answers. */
let silent: LoopbackServer;
let silentUrl = '';
/** A token endpoint that works, for the client.fetch() cases. */
let working: TokenServer;
let workingUrl = '';

beforeAll(async () => {
  silent = await startLoopbackServer(() => 'hold');
  silentUrl = `${silent.origin}/token`;
  working = await startTokenServer({ expiresIn: 60 });
  workingUrl = working.url;
});
afterAll(async () => {
  await silent.close();
  await working.close();
});

function client(tokenEndpoint: string, events: TokenEvent[] = [], extra: Record<string, unknown> = {}) {
  return testClient({
    tokenEndpoint,
    retry: { retries: 2, minTimeout: 1, maxTimeout: 2, randomize: false },
    onEvent: (e) => events.push(e),
    ...extra,
  });
}

describe('the token request', () => {
  it('a refused connection: M2M_NETWORK_ERROR after the retries, each retry event coded too', async () => {
    const url = await refusedUrl();
    const events: TokenEvent[] = [];
    const error = (await rejectionOf(client(url, events).getToken())) as M2MTokenError;
    expect(error).toBeInstanceOf(M2MTokenError);
    expect(error.name).toBe('M2MTokenError');
    expect(error.code).toBe(ErrorCode.NETWORK);
    expect(error.message).toMatch(
      new RegExp(
        `^token endpoint ${url.replace(/\./g, '\\.')} could not be reached: .*ECONNREFUSED.* \\(3 attempts\\)$`,
      ),
    );
    expect(error.cause).toBeInstanceOf(TypeError);
    const retries = events.filter((e) => e.type === 'token_request_retry');
    expect(retries).toHaveLength(2);
    for (const retry of retries)
      expect(retry.type === 'token_request_retry' && retry.error.code).toBe(ErrorCode.NETWORK);
    const failure = events.find((e) => e.type === 'token_request_failure');
    expect(failure?.type === 'token_request_failure' && failure.error.code).toBe(ErrorCode.NETWORK);
  });

  it('no answer within timeoutMs: M2M_TIMEOUT naming the timeout and attempts, never code 23', async () => {
    const events: TokenEvent[] = [];
    const error = (await rejectionOf(
      client(silentUrl, events, { timeoutMs: 80 }).getToken(),
    )) as M2MTokenError;
    expect(error.code).toBe(ErrorCode.TIMEOUT);
    expect(error.code).not.toBe(23);
    expect(error.message).toBe(
      `token endpoint ${silentUrl} did not answer in time (timeoutMs 80, 3 attempts); if the server is slow, raise options.timeoutMs`,
    );
    expect((error.cause as DOMException).name).toBe('TimeoutError');
    expect((error.cause as DOMException).code).toBe(23);
    expect(events.filter((e) => e.type === 'token_request_retry')).toHaveLength(2);
  });

  it('retry: false makes one attempt and says so', async () => {
    const url = await refusedUrl();
    const error = (await rejectionOf(client(url, [], { retry: false }).getToken())) as M2MTokenError;
    expect(error.code).toBe(ErrorCode.NETWORK);
    expect(error.message).toMatch(/\(1 attempt\)$/);
  });

  it("the caller's abort is the signal's reason, unchanged", async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const pending = client(silentUrl, [], { timeoutMs: 5_000, retry: false }).getToken({
      signal: controller.signal,
    });
    controller.abort(reason);
    expect(await rejectionOf(pending)).toBe(reason);
  });

  it('a cause whose message would show a credential is replaced by a plain TypeError, its message redacted', async () => {
    const leakyFetch: typeof fetch = async (_input, init) => {
      const authorization = new Headers(init?.headers).get('authorization');
      throw new TypeError(`Headers.append: "${authorization}" is an invalid header value`);
    };
    const error = (await rejectionOf(
      client(workingUrl, [], { fetch: leakyFetch, retry: false }).getToken(),
    )) as M2MTokenError;
    expect(error.code).toBe(ErrorCode.NETWORK);
    const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
    expect(error.message).not.toContain(basic);
    expect(error.message).toContain('[redacted]');
    const cause = error.cause as TypeError;
    expect(cause).toBeInstanceOf(TypeError);
    expect(cause.message).toBe('Headers.append: "Basic [redacted]" is an invalid header value');
    expect(cause.cause).toBeUndefined();
  });

  it('an error that is not a transport failure passes unchanged (a fetch that throws a RangeError)', async () => {
    const odd = new RangeError('not a network error');
    const error = await rejectionOf(
      client(workingUrl, [], {
        fetch: async () => {
          throw odd;
        },
        retry: false,
      }).getToken(),
    );
    expect(error).toBe(odd);
  });
});

describe('client.fetch()', () => {
  it('keeps fetch’s own error for the API request itself', async () => {
    const api = await refusedUrl('/api');
    const error = await rejectionOf(client(workingUrl).fetch(api));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).not.toBeInstanceOf(M2MTokenError);
  });

  it('rejects with M2M_NETWORK_ERROR when the token cannot be obtained', async () => {
    const url = await refusedUrl();
    const error = await rejectionOf(client(url, [], { retry: false }).fetch(`${workingUrl}/api`));
    expect(error).toMatchObject({ name: 'M2MTokenError', code: ErrorCode.NETWORK });
  });
});
