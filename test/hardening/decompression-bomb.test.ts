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
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createBrotliCompress, createDeflate, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, HttpError, type TokenEvent } from '../../src/index.js';
import { DEFAULT_RETRY, testClient } from '../helpers/clients.js';
import { type LoopbackServer, startLoopbackServer } from '../helpers/loopback-server.js';

const MiB = 1024 * 1024;

/** The acceptance bounds. */
const MAX_RSS_GROWTH = 64 * MiB;
const MAX_ELAPSED_MS = 2_000;

/**
 * `size` bytes of `fill` as gzip members of 8 MiB each, concatenated (RFC 1952 2.2: a gzip file is a
 * series of members; decoders inflate them all). One member is compressed, the rest are copies, so a
 * 256 MiB bomb costs milliseconds to make instead of a second of deflate.
 */
function gzipMembers(size: number, fill: number, prefix = '', suffix = ''): Buffer {
  const member = gzipSync(Buffer.alloc(8 * MiB, fill), { level: 9 });
  return Buffer.concat([
    gzipSync(prefix),
    ...Array.from({ length: size / (8 * MiB) }, () => member),
    gzipSync(suffix),
  ]);
}

/** Compresses `size` zero bytes with `compressor`, streaming: 1 GiB costs 1 MiB of memory to make. */
async function compressZeros(compressor: NodeJS.ReadWriteStream, size: number): Promise<Buffer> {
  const chunk = Buffer.alloc(MiB);
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(
      (function* () {
        for (let sent = 0; sent < size; sent += MiB) yield chunk;
      })(),
    ),
    compressor,
    new Writable({
      write(data: Buffer, _encoding, callback) {
        out.push(data);
        callback();
      },
    }),
  );
  return Buffer.concat(out);
}

interface Bomb {
  readonly name: string;
  /** Made once, before the tests. */
  readonly make: () => Buffer | Promise<Buffer>;
  readonly encoding: string;
  /** Whether the server declares the (small, encoded) Content-Length. */
  readonly declaredLength: boolean;
}

const BOMBS: readonly Bomb[] = [
  {
    // A valid token body whose access_token is 256 MiB of 'A', gzip'd once to ~262 KB: under the cap
    // (256 KiB) as declared, 256 MiB decoded.
    name: 'gzip, a token under the cap as declared',
    make: () =>
      gzipMembers(256 * MiB, 0x41, '{"token_type":"Bearer","expires_in":3600,"access_token":"', '"}'),
    encoding: 'gzip',
    declaredLength: true,
  },
  {
    // 32 MiB of zeros as one gzip member, gzip'd again: a few kilobytes, whose first layer alone (about
    // 32 KB) is under the cap: only a cap on the fully decoded bytes stops it.
    name: 'gzip, gzip (declared length)',
    make: () => gzipSync(gzipSync(Buffer.alloc(32 * MiB, 0), { level: 1 })),
    encoding: 'gzip, gzip',
    declaredLength: true,
  },
  {
    name: 'gzip, gzip (chunked)',
    make: () => gzipSync(gzipSync(Buffer.alloc(32 * MiB, 0), { level: 1 })),
    encoding: 'gzip, gzip',
    declaredLength: false,
  },
  {
    // 1 GiB of zeros in ~190 KB (brotli has no members to copy: quality 1 is the fast one).
    name: 'br, 1 GiB',
    make: () =>
      compressZeros(createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }), 1024 * MiB),
    encoding: 'br',
    declaredLength: true,
  },
  {
    name: 'deflate, deflate',
    make: async () => deflateSync(await compressZeros(createDeflate({ level: 1 }), 256 * MiB)),
    encoding: 'deflate, deflate',
    declaredLength: true,
  },
];

interface Measured<T> {
  readonly value?: T;
  readonly error?: unknown;
  /** Highest RSS seen during the call (sampled every 5 ms and at the end) minus RSS before it. */
  readonly rssGrowthBytes: number;
  readonly elapsedMs: number;
}

/** Runs `fn`, recording its outcome, the elapsed time and the growth of the process's peak RSS. */
async function measure<T>(fn: () => Promise<T>): Promise<Measured<T>> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 5);
  const started = performance.now();
  let outcome: { value?: T; error?: unknown };
  try {
    outcome = { value: await fn() };
  } catch (error) {
    outcome = { error };
  } finally {
    clearInterval(timer);
  }
  const elapsedMs = performance.now() - started;
  sample();
  return { ...outcome, rssGrowthBytes: peak - before, elapsedMs };
}

let server: LoopbackServer;
const bodies = new Map<Bomb, Buffer>();

beforeAll(async () => {
  server = await startLoopbackServer();
  for (const bomb of BOMBS) bodies.set(bomb, await bomb.make());
  expect(bodies.get(BOMBS[0]!)!.length).toBeLessThan(256 * 1024);
}, 60_000);

afterAll(() => server.close());

function answerWith(bomb: Bomb, status = 200): void {
  const body = bodies.get(bomb)!;
  server.answer(() => ({
    status,
    headers: {
      'content-type': 'application/json',
      'content-encoding': bomb.encoding,
      ...(bomb.declaredLength ? { 'content-length': String(body.length) } : {}),
    },
    body,
  }));
}

let clients = 0;
function client(options: { retries?: number; onEvent?: (e: TokenEvent) => void } = {}) {
  return testClient({
    tokenEndpoint: `${server.origin}/token-${++clients}`,
    retry: { retries: options.retries ?? 0, minTimeout: 1, maxTimeout: 5, randomize: false },
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
}

function expectTooLarge(error: unknown, status: number): void {
  expect(error).toBeInstanceOf(HttpError);
  expect(error).toMatchObject({ code: ErrorCode.RESPONSE_TOO_LARGE, status });
}

describe('decompression bombs from the token endpoint', () => {
  it.each(BOMBS)('$name: refused within 2 s and 64 MB of RSS growth', async (bomb) => {
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
    answerWith(BOMBS[0]!);
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
    answerWith(BOMBS[1]!, 500);
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
    answerWith(BOMBS[1]!);
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
  it.each([BOMBS[1]!, BOMBS[3]!])(
    '$name as the metadata document: HttpError M2M_RESPONSE_TOO_LARGE within the bounds',
    async (bomb) => {
      answerWith(bomb);
      const c = testClient({ issuer: `${server.origin}/issuer-${++clients}`, retry: DEFAULT_RETRY });
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
