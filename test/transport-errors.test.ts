/**
 * Network failures and timeouts of m2m-token's own requests (issue 15.1): M2MTokenError
 * `M2M_NETWORK_ERROR` / `M2M_TIMEOUT` naming the endpoint, the timeout and the attempts, the runtime's
 * error as `cause`, still retried; never DOMException's numeric code 23. A caller's abort is its
 * signal's reason, unchanged; `client.fetch()` keeps fetch's own errors for the API request itself.
 */
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientCredentialsClient, ErrorCode, M2MTokenError, type TokenEvent } from '../src/index.js';
import { closeServer, getFreePort, listenOnLoopback } from './helpers/ports.js';

/** A server that accepts connections and never answers. */
const silent = createServer(() => undefined);
let silentUrl = '';
/** A token endpoint that works, for the client.fetch() cases. */
const working = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: 'transport-token', token_type: 'Bearer', expires_in: 60 }));
  });
});
let workingUrl = '';

beforeAll(async () => {
  silentUrl = `http://127.0.0.1:${await listenOnLoopback(silent)}/token`;
  workingUrl = `http://127.0.0.1:${await listenOnLoopback(working)}/token`;
});
afterAll(async () => {
  await closeServer(silent);
  await closeServer(working);
});

function client(tokenEndpoint: string, events: TokenEvent[] = [], extra: Record<string, unknown> = {}) {
  return new ClientCredentialsClient({
    tokenEndpoint,
    clientId: 'transport-client',
    clientSecret: 'transport-secret',
    retry: { retries: 2, minTimeout: 1, maxTimeout: 2, randomize: false },
    onEvent: (e) => events.push(e),
    ...extra,
  });
}

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe('the token request', () => {
  it('a refused connection: M2M_NETWORK_ERROR after the retries, each retry event coded too', async () => {
    const url = `http://127.0.0.1:${await getFreePort()}/token`;
    const events: TokenEvent[] = [];
    const error = (await rejection(client(url, events).getToken())) as M2MTokenError;
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
    const error = (await rejection(client(silentUrl, events, { timeoutMs: 80 }).getToken())) as M2MTokenError;
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
    const url = `http://127.0.0.1:${await getFreePort()}/token`;
    const error = (await rejection(client(url, [], { retry: false }).getToken())) as M2MTokenError;
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
    expect(await rejection(pending)).toBe(reason);
  });

  it('a cause whose message would show a credential is not kept, and the message is redacted', async () => {
    const leakyFetch: typeof fetch = async (_input, init) => {
      const authorization = new Headers(init?.headers).get('authorization');
      throw new TypeError(`Headers.append: "${authorization}" is an invalid header value`);
    };
    const error = (await rejection(
      client(workingUrl, [], { fetch: leakyFetch, retry: false }).getToken(),
    )) as M2MTokenError;
    expect(error.code).toBe(ErrorCode.NETWORK);
    expect(error.cause).toBeUndefined();
    const basic = Buffer.from('transport-client:transport-secret').toString('base64');
    expect(error.message).not.toContain(basic);
    expect(error.message).toContain('[redacted]');
  });

  it('an error that is not a transport failure passes unchanged (a fetch that throws a RangeError)', async () => {
    const odd = new RangeError('not a network error');
    const error = await rejection(
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
    const api = `http://127.0.0.1:${await getFreePort()}/api`;
    const error = await rejection(client(workingUrl).fetch(api));
    expect(error).toBeInstanceOf(TypeError);
    expect(error).not.toBeInstanceOf(M2MTokenError);
  });

  it('rejects with M2M_NETWORK_ERROR when the token cannot be obtained', async () => {
    const url = `http://127.0.0.1:${await getFreePort()}/token`;
    const error = await rejection(client(url, [], { retry: false }).fetch(`${workingUrl}/api`));
    expect(error).toMatchObject({ name: 'M2MTokenError', code: ErrorCode.NETWORK });
  });
});
