/**
 * Credential sources that never answer. `timeoutMs` used to cover only the fetch: a FIFO given as
 * `clientAssertionFile`, or a `clientSecret` / `clientAssertion` / `privateKey` function that never
 * settled, hung `getToken()` for that key forever (later calls joined the stuck request), and four such
 * FIFOs held all four libuv threadpool threads, so every fs call and dns.lookup of the process stalled.
 *
 * Now every source is bounded by the attempt's timeout (M2MTokenError `M2M_TIMEOUT` naming the option,
 * never a value), a source that timed out is asked afresh by the next call, and the assertion file is
 * opened without blocking (O_NONBLOCK) and must be a regular file after symlinks are followed.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  ErrorCode,
  M2MTokenError,
} from '../../src/index.js';
import { rejectionOf } from '../helpers/outcomes.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';

const ASSERTION = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9.c2lnbmF0dXJl';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEY_PEM = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

let tokens: TokenServer;
let dir: string;
beforeAll(async () => {
  tokens = await startTokenServer();
  dir = await mkdtemp(join(tmpdir(), 'm2m-sources-'));
});
afterAll(async () => {
  await tokens.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => tokens.reset());

function client(extra: Partial<ClientCredentialsClientOptions>): ClientCredentialsClient {
  return new ClientCredentialsClient({
    tokenEndpoint: tokens.url,
    clientId: 'sources',
    // Generous for the requests that reach the server (a loaded machine); the stuck sources get 200 ms.
    timeoutMs: 10_000,
    retry: false,
    ...extra,
  } as ClientCredentialsClientOptions);
}

const never = <T>() => new Promise<T>(() => undefined);

describe('a function that never settles ends at timeoutMs, naming the option', () => {
  it.each([
    ['clientSecret', { clientSecret: () => never<string>() }],
    ['clientAssertion', { clientAssertion: () => never<string>() }],
    ['privateKey', { privateKey: () => never<string>() }],
  ] as const)('%s', async (option, extra) => {
    const error = await rejectionOf(client({ ...extra, timeoutMs: 200 }).getToken());
    expect(error).toBeInstanceOf(M2MTokenError);
    expect(error).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect((error as Error).message).toContain(`options.${option}`);
    expect((error as Error).message).toContain('timeoutMs 200');
    expect(tokens.count).toBe(0);
  });

  it('the next call asks the function again (the stuck call is not shared), and a value then works', async () => {
    let calls = 0;
    const c = client({
      clientSecret: () => (++calls === 1 ? never<string>() : Promise.resolve('sources-secret-2')),
      timeoutMs: 200,
      // Answers at once: the 200 ms are for the secret, not for a loaded machine's loopback.
      fetch: async () => Response.json({ access_token: 'answered', token_type: 'Bearer' }),
    });
    expect(await rejectionOf(c.getToken())).toMatchObject({ code: ErrorCode.TIMEOUT });
    await expect(c.getToken()).resolves.toMatchObject({ accessToken: 'answered' });
    expect(calls).toBe(2);
  });

  it('a private key function that answers in time still works', async () => {
    await expect(client({ privateKey: async () => KEY_PEM }).getToken()).resolves.toMatchObject({
      accessToken: 'tok-1',
    });
  });
});

/** mkfifo, or undefined where there is none (the tests below are skipped with that reason). */
function makeFifo(path: string): boolean {
  try {
    execFileSync('mkfifo', [path]);
    return true;
  } catch {
    return false;
  }
}

describe('clientAssertionFile must be a regular file, opened without blocking', () => {
  const fifo = () => join(dir, 'fifo');
  let haveFifo = false;
  beforeAll(() => {
    haveFifo = makeFifo(fifo());
  });
  afterEach(() => {
    // Releases any reader a regression left blocked in open() (a writer opening the FIFO unblocks it).
    if (!haveFifo) return;
    try {
      closeSync(openSync(fifo(), constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // No reader waiting: nothing to release.
    }
  });

  it('a FIFO: ConfigurationError naming clientAssertionFile, at once and every time', async (context) => {
    if (!haveFifo) context.skip('mkfifo is not available here');
    const c = client({ clientAssertionFile: fifo() });
    for (let i = 0; i < 2; i++) {
      const error = await rejectionOf(c.getToken());
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error).toMatchObject({ option: 'clientAssertionFile' });
      expect((error as Error).message).toMatch(/not a regular file/);
    }
    expect(tokens.count).toBe(0);
  });

  it('four FIFO clients at once hold no threadpool thread: fs and dns.lookup still answer', async (context) => {
    if (!haveFifo) context.skip('mkfifo is not available here');
    const pending = [1, 2, 3, 4].map((n) =>
      client({ clientId: `fifo-${n}`, clientAssertionFile: fifo() }).getToken(),
    );
    await expect(readFile(join(dir, '..', 'fifo-does-not-matter')).catch(() => 'answered')).resolves.toBe(
      'answered',
    );
    await expect(lookup('localhost')).resolves.toHaveProperty('address');
    for (const outcome of await Promise.allSettled(pending)) {
      expect(outcome).toMatchObject({ status: 'rejected', reason: { option: 'clientAssertionFile' } });
    }
  });

  it.each([
    ['a directory', () => dir],
    ['a character device (/dev/null)', () => '/dev/null'],
  ])('%s: ConfigurationError naming clientAssertionFile', async (_name, path) => {
    const error = await rejectionOf(client({ clientAssertionFile: path() }).getToken());
    expect(error).toMatchObject({ name: 'ConfigurationError', option: 'clientAssertionFile' });
    expect((error as Error).message).toMatch(/not a regular file/);
  });

  it('a symlink to a regular file (a projected token volume) is read', async () => {
    const target = join(dir, 'token');
    await writeFile(target, `${ASSERTION}\n`);
    const link = join(dir, 'token-link');
    await symlink(target, link);
    await expect(client({ clientAssertionFile: link }).getToken()).resolves.toMatchObject({
      accessToken: 'tok-1',
    });
    expect(tokens.requests[0]?.params.get('client_assertion')).toBe(ASSERTION);
  });
});
