/**
 * Issue 12.5: tokens that are not tokens. RFC 6749 Appendix A.12: access-token = 1*VSCHAR (%x20-7E).
 *
 * Measured before the fix: an access_token with CR, LF or NUL was cached for its full life; every
 * `client.fetch` then rejected with `Headers.append: "Bearer <whole token>" is an invalid header value`,
 * and the CLI printed that to stderr without --verbose. Now: HttpError, the value never shown, nothing
 * cached, the API never called, and the CLI prints no part of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, HttpError, type TokenEvent } from '../../src/index.js';
import { runCli } from '../helpers/cli-run.js';
import { testClient } from '../helpers/clients.js';
import { exposures, leakedRuns } from '../helpers/leaks.js';
import { type LoopbackServer, startLoopbackServer } from '../helpers/loopback-server.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await startLoopbackServer();
});
afterAll(() => server.close());

const PREFIX = 'NotAToken0123456789abcdef';
const BAD_TOKENS: ReadonlyArray<readonly [string, string]> = [
  ['CR LF (a header injection)', `${PREFIX}\r\nX-Injected: yes${PREFIX}`],
  ['LF', `${PREFIX}\n${PREFIX}`],
  ['NUL', `${PREFIX}\u0000${PREFIX}`],
  ['DEL (U+007F)', `${PREFIX}\u007f${PREFIX}`],
  ['a tab', `${PREFIX}\t${PREFIX}`],
  ['non-ASCII', `${PREFIX}é${PREFIX}`],
  ['an emoji', `${PREFIX}\u{1F511}${PREFIX}`],
  // VSCHAR includes space, but a header value cannot begin or end with one (RFC 9110 5.5): fetch trims
  // it, and the API would get another token than the one issued (" " alone was sent as `Bearer`).
  ['a leading space', ` ${PREFIX}${PREFIX}`],
  ['a trailing space', `${PREFIX}${PREFIX} `],
  ['only spaces', '   '],
];

/** Answers token requests with `token` first, then with a good token; the API records what it gets. */
function serve(token: string): void {
  let tokenRequests = 0;
  server.answer((request) => {
    if (request.path.startsWith('/api')) return { status: 200, body: 'api answered' };
    tokenRequests++;
    const accessToken = tokenRequests === 1 ? token : 'good-token-after-bad';
    return {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ access_token: accessToken, token_type: 'Bearer', expires_in: 3600 }),
    };
  });
}

let clients = 0;
function client(events: TokenEvent[]) {
  return testClient({
    tokenEndpoint: `${server.origin}/token-${++clients}`,
    clientId: 'vschar-client',
    clientSecret: 'vschar-secret',
    onEvent: (e) => events.push(e),
  });
}

describe('an access_token that is not 1*VSCHAR', () => {
  it.each(BAD_TOKENS)('with %s: HttpError, value never shown, nothing cached', async (_name, token) => {
    serve(token);
    const events: TokenEvent[] = [];
    const c = client(events);
    const before = server.requests.length;
    const error = await c.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ code: ErrorCode.HTTP, status: 200 });
    expect((error as Error).message).toContain('VSCHAR');
    const shown = `${exposures(error)}\n${JSON.stringify(events)}`;
    expect(leakedRuns(shown, token)).toEqual([]);
    expect(shown).not.toContain('X-Injected');
    // Nothing was cached: the next call asks again and gets the good token.
    await expect(c.getToken()).resolves.toMatchObject({ accessToken: 'good-token-after-bad' });
    expect(server.requests.length - before).toBe(2);
  });

  it('client.fetch rejects with the HttpError and the API is never called with it', async () => {
    const token = BAD_TOKENS[0]![1];
    serve(token);
    const c = client([]);
    const before = server.requests.length;
    const error = await c.fetch(`${server.origin}/api/data`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(leakedRuns(exposures(error), token)).toEqual([]);
    expect(exposures(error)).not.toContain('Headers.append');
    expect(server.requests.slice(before).filter((r) => r.path.startsWith('/api'))).toHaveLength(0);
  });

  it('the CLI prints no part of it, with or without --verbose', async () => {
    const token = BAD_TOKENS[0]![1];
    for (const verbose of [[], ['--verbose']]) {
      serve(token);
      const result = await runCli(
        ['token', '--token-endpoint', `${server.origin}/cli-token`, '--client-id', 'cli-vschar', ...verbose],
        { env: { M2M_CLIENT_SECRET: 'cli-vschar-secret' } },
      );
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('VSCHAR');
      expect(leakedRuns(result.stderr, token)).toEqual([]);
      expect(result.stderr).not.toContain('X-Injected');
    }
  });

  it('a token of every printable ASCII character (space included, inside) is accepted', async () => {
    let printable = '';
    for (let c = 0x21; c <= 0x7e; c++) printable += String.fromCharCode(c);
    printable = `${printable.slice(0, 40)} ${printable.slice(40)}`;
    serve(printable);
    await expect(client([]).getToken()).resolves.toMatchObject({ accessToken: printable });
  });
});
