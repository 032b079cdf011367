/**
 * Issue 12.1: decompression bombs. A token or discovery body is counted in decoded bytes while it
 * streams, whatever Content-Length and Content-Encoding say; over the cap (256 KiB) it is HttpError
 * M2M_RESPONSE_TOO_LARGE within 2 s and under 64 MB of RSS growth, and it is never retried.
 *
 * Measured before the fix (Node 20.20): a 254,891-byte gzip body under the cap became a 262 M-character
 * access token that was cached (1.09 GB RSS); `gzip, gzip` / br / `deflate, deflate` bodies of 2 KB
 * inflated 1 GiB and ended in ERR_STRING_TOO_LONG (2.16 GB RSS, 8-13 s); a 500 bomb was inflated once
 * per retry. Each bomb below is served by a loopback server with the lying headers of the attack.
 */
import { constants, createBrotliCompress, createDeflate, createGzip, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientCredentialsClient, ErrorCode, HttpError, type TokenEvent } from '../../src/index.js';
import { compressStream, MiB, measure, type ScriptedServer, startScriptedServer } from './helpers.js';

/** The acceptance bounds. */
const MAX_RSS_GROWTH = 64 * MiB;
const MAX_ELAPSED_MS = 2_000;

interface Bomb {
  readonly name: string;
  readonly body: Buffer;
  readonly encoding: string;
  /** Whether the server declares the (small, encoded) Content-Length. */
  readonly declaredLength: boolean;
}

let server: ScriptedServer;
const bombs: Bomb[] = [];
let tokenBomb: Buffer;
let zeros: Buffer;

beforeAll(async () => {
  server = await startScriptedServer();
  // 1. A valid token body whose access_token is 256 MiB of 'A', gzip'd once to ~255 KB: under the cap
  //    as declared, 256 MiB decoded.
  tokenBomb = await compressStream(createGzip({ level: 9 }), 256 * MiB, {
    prefix: '{"token_type":"Bearer","expires_in":3600,"access_token":"',
    suffix: '"}',
    fill: 0x41,
  });
  // 2. 256 MiB of zeros, gzip'd then gzip'd again: a few hundred bytes.
  zeros = await compressStream(createGzip({ level: 9 }), 256 * MiB);
  const deflated = await compressStream(createDeflate({ level: 9 }), 256 * MiB);
  const brotli = await compressStream(
    createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }),
    1024 * MiB,
  );
  bombs.push(
    {
      name: 'gzip, a token under the cap as declared',
      body: tokenBomb,
      encoding: 'gzip',
      declaredLength: true,
    },
    {
      name: 'gzip, gzip (declared length)',
      body: gzipSync(zeros),
      encoding: 'gzip, gzip',
      declaredLength: true,
    },
    { name: 'gzip, gzip (chunked)', body: gzipSync(zeros), encoding: 'gzip, gzip', declaredLength: false },
    { name: 'br, 1 GiB', body: brotli, encoding: 'br', declaredLength: true },
    {
      name: 'deflate, deflate',
      body: deflateSync(deflated),
      encoding: 'deflate, deflate',
      declaredLength: true,
    },
  );
  expect(tokenBomb.length).toBeLessThan(256 * 1024);
}, 60_000);

afterAll(() => server.close());

function answerWith(bomb: Bomb, status = 200): void {
  server.answer(() => ({
    status,
    headers: {
      'content-type': 'application/json',
      'content-encoding': bomb.encoding,
      ...(bomb.declaredLength ? { 'content-length': String(bomb.body.length) } : {}),
    },
    body: bomb.body,
  }));
}

let clients = 0;
function client(options: { retries?: number; onEvent?: (e: TokenEvent) => void } = {}) {
  return new ClientCredentialsClient({
    tokenEndpoint: `${server.origin}/token-${++clients}`,
    clientId: 'bomb-client',
    clientSecret: 'bomb-secret',
    retry: { retries: options.retries ?? 0, minTimeout: 1, maxTimeout: 5, randomize: false },
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
}

function expectTooLarge(error: unknown, status: number): void {
  expect(error).toBeInstanceOf(HttpError);
  expect(error).toMatchObject({ code: ErrorCode.RESPONSE_TOO_LARGE, status });
}

describe('decompression bombs from the token endpoint', () => {
  it.each([0, 1, 2, 3, 4])('bomb %i: refused within 2 s and 64 MB of RSS growth', async (index) => {
    const bomb = bombs[index]!;
    answerWith(bomb);
    const c = client();
    const before = server.requests.length;
    const result = await measure(() => c.getToken());
    expectTooLarge(result.error, 200);
    expect(result.rssGrowthBytes, `${bomb.name}: RSS growth`).toBeLessThan(MAX_RSS_GROWTH);
    expect(result.elapsedMs, `${bomb.name}: elapsed`).toBeLessThan(MAX_ELAPSED_MS);
    expect(server.requests.length - before).toBe(1);
  });

  it('caches nothing: the next call asks again', async () => {
    answerWith(bombs[0]!);
    const c = client();
    const before = server.requests.length;
    await expect(c.getToken()).rejects.toMatchObject({ code: ErrorCode.RESPONSE_TOO_LARGE });
    server.answer(() => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ access_token: 'small-token', token_type: 'Bearer', expires_in: 60 }),
    }));
    await expect(c.getToken()).resolves.toMatchObject({ accessToken: 'small-token' });
    expect(server.requests.length - before).toBe(2);
  });

  it('a 500 bomb is inflated once, not once per retry (over the cap is not retried)', async () => {
    answerWith(bombs[1]!, 500);
    const events: TokenEvent[] = [];
    const c = client({ retries: 3, onEvent: (e) => events.push(e) });
    const before = server.requests.length;
    const result = await measure(() => c.getToken());
    expectTooLarge(result.error, 500);
    expect(server.requests.length - before).toBe(1);
    expect(events.filter((e) => e.type === 'token_request_retry')).toHaveLength(0);
    expect(result.rssGrowthBytes).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('three audiences at once: three refusals within the same bounds', async () => {
    answerWith(bombs[1]!);
    const c = client();
    const result = await measure(() =>
      Promise.allSettled(['urn:a', 'urn:b', 'urn:c'].map((audience) => c.getToken({ audience }))),
    );
    for (const outcome of result.value ?? []) {
      expect(outcome.status).toBe('rejected');
      expectTooLarge((outcome as PromiseRejectedResult).reason, 200);
    }
    expect(result.rssGrowthBytes).toBeLessThan(MAX_RSS_GROWTH);
    expect(result.elapsedMs).toBeLessThan(MAX_ELAPSED_MS);
  });

  it('asks for Accept-Encoding: identity (but does not rely on it, as the tests above show)', async () => {
    server.answer(() => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ access_token: 'plain-token', token_type: 'Bearer', expires_in: 60 }),
    }));
    const before = server.requests.length;
    await client().getToken();
    expect(server.requests[before]?.headers['accept-encoding']).toBe('identity');
  });

  it('a small compressed token body is still read', async () => {
    const body = gzipSync(JSON.stringify({ access_token: 'zipped-token', token_type: 'Bearer' }));
    server.answer(() => ({
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': String(body.length),
      },
      body,
    }));
    await expect(client().getToken()).resolves.toMatchObject({ accessToken: 'zipped-token' });
  });
});

describe('decompression bombs in discovery', () => {
  it.each([1, 3])(
    'bomb %i as the metadata document: HttpError M2M_RESPONSE_TOO_LARGE within the bounds',
    async (index) => {
      const bomb = bombs[index]!;
      answerWith(bomb);
      const c = new ClientCredentialsClient({
        issuer: `${server.origin}/issuer-${++clients}`,
        clientId: 'bomb-client',
        clientSecret: 'bomb-secret',
      });
      const before = server.requests.length;
      const result = await measure(() => c.getToken());
      expectTooLarge(result.error, 200);
      expect((result.error as Error).message).toContain('/.well-known/');
      expect(result.rssGrowthBytes).toBeLessThan(MAX_RSS_GROWTH);
      expect(result.elapsedMs).toBeLessThan(MAX_ELAPSED_MS);
      expect(server.requests.length - before).toBe(1);
      expect(server.requests[before]?.headers['accept-encoding']).toBe('identity');
    },
  );
});
