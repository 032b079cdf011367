/**
 * Figure 6, run in its own process with --expose-gc (see runMemoryFigure): heap bytes per cached
 * token, beyond the access token string itself.
 *
 * Two measurements:
 * - "MemoryTokenCache": N entries stored directly, each built the way the client builds it (the
 *   client's own cacheKey, makeToken and toCachedToken on a parsed token response).
 * - "through the client": N getToken() calls for N audiences on one ClientCredentialsClient whose
 *   `fetch` answers in memory (no HTTP), so everything the client keeps per key is counted.
 *
 * Each is the heap delta after full GCs divided by N, minus the size of one token string, which
 * is measured separately (N strings made the same way, held in a preallocated array).
 */
import { fork } from 'node:child_process';
import { childExecArgv } from './servers.js';

export interface MemoryRow {
  entries: number;
  /** heap bytes per entry beyond the token string, MemoryTokenCache filled directly */
  cacheBytesPerEntry?: number;
  /** heap bytes per entry beyond the token string, through ClientCredentialsClient.getToken */
  clientBytesPerEntry?: number;
  /** heap bytes of one token string */
  tokenStringBytes?: number;
  tokenLength?: number;
  error?: string;
}

type Gc = () => void;

function heapAfterGc(gc: Gc): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Lets pending timers fire and FinalizationRegistry callbacks run (they run after a GC, in a later task). */
async function settleTimers(gc: Gc, ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const ENDPOINT = 'https://idp.example.com/oauth/token';
const CLIENT_ID = 'bench-client';
const SCOPE = ['orders:read', 'orders:write', 'inventory:read'];
const audienceOf = (i: number) => `urn:bench:aud:${i}`;

/** A realistic access token: a ~800-character RS256 JWT, as Auth0 and Entra issue. */
function tokenFor(i: number): string {
  const head = Buffer.from('{"alg":"RS256","typ":"at+jwt","kid":"bench-key-1"}').toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({
      iss: 'https://idp.example.com/',
      sub: `${CLIENT_ID}@clients`,
      aud: audienceOf(i),
      iat: 1_700_000_000,
      exp: 1_700_003_600,
      scope: SCOPE.join(' '),
      gty: 'client-credentials',
      azp: CLIENT_ID,
      jti: `${i.toString(36)}-bench-jti-0123456789abcdef`,
    }),
  ).toString('base64url');
  const sig = Buffer.alloc(256, i % 251).toString('base64url');
  return `${head}.${payload}.${sig}`;
}

function responseBody(i: number): string {
  return JSON.stringify({
    access_token: tokenFor(i),
    token_type: 'Bearer',
    expires_in: 3600,
    scope: SCOPE.join(' '),
  });
}

/**
 * Heap bytes one token string retains, made as the client makes it (JSON.parse of a response body
 * that is then dropped). V8 may keep such a string as a slice of the body, so this is measured, not
 * computed from the length.
 */
function tokenStringBytes(n: number, gc: Gc): number {
  const holder: unknown[] = new Array(n).fill(undefined);
  const before = heapAfterGc(gc);
  for (let i = 0; i < n; i++) {
    holder[i] = (JSON.parse(responseBody(i)) as { access_token: string }).access_token;
  }
  const after = heapAfterGc(gc);
  const bytes = (after - before) / n;
  holder.length = 0;
  return bytes;
}

async function cacheDirect(n: number, gc: Gc): Promise<number> {
  const { MemoryTokenCache } = await import('../src/index.js');
  const { cacheKey } = await import('../src/cache/cache-key.js');
  const { makeToken } = await import('../src/http/token-response.js');
  const { toCachedToken, ttlOf } = await import('../src/cache/lifetime.js');
  const settings = { expiryBufferMs: 60_000, defaultLifetimeMs: 300_000, refreshAheadMs: 300_000 };
  let cache: InstanceType<typeof MemoryTokenCache> | undefined = new MemoryTokenCache({ maxEntries: n });
  const before = heapAfterGc(gc);
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const json = JSON.parse(responseBody(i)) as Record<string, unknown>;
    const token = makeToken(
      json.access_token as string,
      'Bearer',
      now + 3_600_000,
      json.scope as string,
      json,
    );
    const entry = toCachedToken(token, now, settings);
    const key = cacheKey({
      endpoint: ENDPOINT,
      clientId: CLIENT_ID,
      audience: audienceOf(i),
      scope: SCOPE,
      resource: [],
      extraParams: {},
    });
    cache.set(key, entry, ttlOf(entry, now));
  }
  const after = heapAfterGc(gc);
  if (cache.size !== n) throw new Error(`the cache holds ${cache.size} entries, expected ${n}`);
  cache = undefined;
  return (after - before) / n;
}

async function throughClient(n: number, gc: Gc): Promise<number> {
  const { ClientCredentialsClient, MemoryTokenCache } = await import('../src/index.js');
  const cache = new MemoryTokenCache({ maxEntries: n + 1 });
  // Answers each token request in memory with the prepared body for the requested audience.
  const fakeFetch = async (_input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const params = new URLSearchParams(String(init?.body ?? ''));
    const i = Number(params.get('audience')?.slice('urn:bench:aud:'.length));
    return new Response(responseBody(i), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  let client: InstanceType<typeof ClientCredentialsClient> | undefined = new ClientCredentialsClient({
    tokenEndpoint: ENDPOINT,
    clientId: CLIENT_ID,
    clientSecret: 'not-a-secret',
    scope: SCOPE,
    cache,
    fetch: fakeFetch,
    retry: false,
    // Each token request holds an AbortSignal.timeout timer until it fires; a short timeout and a
    // wait below keep those transient timers out of the steady-state figure.
    timeoutMs: 1_000,
  });
  // Warm: the client's fixed structures (auth, memo tables) are not per-entry costs.
  await client.getToken({ audience: 'urn:bench:warm' });
  const before = heapAfterGc(gc);
  const batch = 256;
  for (let i = 0; i < n; i += batch) {
    const calls: Array<Promise<unknown>> = [];
    for (let j = i; j < Math.min(n, i + batch); j++) calls.push(client.getToken({ audience: audienceOf(j) }));
    await Promise.all(calls);
  }
  await settleTimers(gc, 1_300);
  const after = heapAfterGc(gc);
  if (cache.size !== n + 1) throw new Error(`the cache holds ${cache.size} entries, expected ${n + 1}`);
  client = undefined;
  return (after - before) / n;
}

/** Parent side: runs this file in a child with --expose-gc. */
export function runMemoryFigure(
  sizes: number[],
  clientSizes: number[],
  deadlineMs: number,
): Promise<MemoryRow[]> {
  return new Promise((resolve) => {
    const child = fork(new URL('./memory.ts', import.meta.url), [sizes.join(','), clientSizes.join(',')], {
      execArgv: childExecArgv(['--expose-gc', '--max-old-space-size=2048']),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let rows: MemoryRow[] | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.on('message', (m) => {
      rows = m as MemoryRow[];
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(
        rows ??
          sizes.map((entries) => ({
            entries,
            error: `memory process ended (${code ?? 'killed at deadline'})`,
          })),
      );
    });
  });
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

// Child side.
if (process.send && process.argv[1]?.endsWith('memory.ts')) {
  const gc = (globalThis as { gc?: Gc }).gc;
  const list = (arg: string | undefined) => (arg ? arg.split(',').filter(Boolean).map(Number) : []);
  const sizes = list(process.argv[2]);
  const clientSizes = new Set(list(process.argv[3]));
  const rows: MemoryRow[] = [];
  for (const n of sizes) {
    if (!gc) {
      rows.push({ entries: n, error: 'global.gc is not available (run node with --expose-gc)' });
      continue;
    }
    const row: MemoryRow = { entries: n, tokenLength: tokenFor(0).length };
    try {
      const tokenBytes = tokenStringBytes(n, gc);
      row.tokenStringBytes = tokenBytes;
      row.cacheBytesPerEntry = (await cacheDirect(n, gc)) - tokenBytes;
      if (clientSizes.has(n)) row.clientBytesPerEntry = (await throughClient(n, gc)) - tokenBytes;
    } catch (err) {
      row.error = errorText(err);
    }
    rows.push(row);
  }
  process.send(rows, () => process.exit(0));
}
