/**
 * How a token response is judged (RFC 6749 5.1 and 5.2): what becomes a Token, what its fields hold,
 * what is kept in `raw`, how `expires_in` is read, and how an error body maps to OAuthError.
 * The failure cases, one per row of the README's errors table, are in errors-table.test.ts.
 */

import { deepStrictEqual } from 'node:assert/strict';
import { inspect } from 'node:util';
import { SignJWT } from 'jose';
import { HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { type ClientCredentialsClientOptions, HttpError, OAuthError, type Token } from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { leakedRuns } from './helpers/leaks.js';
import { mswTokenEndpoints } from './helpers/msw-token-endpoints.js';

const endpoints = mswTokenEndpoints('response');

const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

/** A token endpoint answering every request with `body()`; `count()` is the requests so far. */
function endpoint(body: () => Response): { url: string; count: () => number } {
  const { url, requests } = endpoints.add(() => body());
  return { url, count: () => requests.length };
}

function client(url: string, options: Partial<ClientCredentialsClientOptions> = {}) {
  return testClient({ tokenEndpoint: url, ...options });
}

async function tokenFor(
  body: Record<string, unknown>,
  options: Partial<ClientCredentialsClientOptions> = {},
) {
  const { url, count } = endpoint(() => HttpResponse.json(body));
  const c = client(url, options);
  const before = Date.now();
  const token = await c.getToken();
  const after = Date.now();
  return { token, before, after, client: c, count };
}

function expectExpiry(token: Token, seconds: number, before: number, after: number) {
  expect(token.expiresAt).toBeGreaterThanOrEqual(before + seconds * 1000);
  expect(token.expiresAt).toBeLessThanOrEqual(after + seconds * 1000);
}

describe('a successful token response (RFC 6749 5.1)', () => {
  it('becomes a frozen Token: accessToken, tokenType as sent, expiresAt from the moment the request was sent, scope', async () => {
    const { token, before, after } = await tokenFor({
      access_token: 'opaque-token-1',
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'geocode:location read:routes',
    });
    expect(token.accessToken).toBe('opaque-token-1');
    expect(token.tokenType).toBe('Bearer');
    expect(token.scope).toBe('geocode:location read:routes');
    expectExpiry(token, 3600, before, after);
    expect(Object.isFrozen(token)).toBe(true);
    expect(Object.isFrozen(token.raw)).toBe(true);
  });

  it.each(['bearer', 'BEARER', 'BeArEr'])(
    'accepts token_type %j (case-insensitive, RFC 6749 5.1) and keeps it as sent',
    async (type) => {
      const { token } = await tokenFor({ access_token: 'tok', token_type: type, expires_in: 60 });
      expect(token.tokenType).toBe(type);
    },
  );

  it.each([
    ['3600', 3600],
    [' 120 ', 120],
    ['90.5', 90.5],
  ])('accepts expires_in as a numeric string %j', async (value, seconds) => {
    const { token, before, after } = await tokenFor({
      access_token: 'tok',
      token_type: 'Bearer',
      expires_in: value,
    });
    expectExpiry(token, seconds, before, after);
  });

  it.each([
    ['-1', -1],
    ['1e3', '1e3'],
    ['0x10', '0x10'],
    ['NaN', 'NaN'],
    ['an empty string', ''],
    ['an object', { seconds: 60 }],
  ])('rejects expires_in as %s', async (_name, value) => {
    const { url } = endpoint(() =>
      HttpResponse.json({ access_token: 'tok', token_type: 'Bearer', expires_in: value }),
    );
    const error = await client(url)
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).message).toMatch(/expires_in/);
  });

  it('reads expires_in: null as absent, and ignores a scope that is not a string (kept in raw)', async () => {
    const { url } = endpoint(() =>
      HttpResponse.json({ access_token: 'tok', token_type: 'Bearer', expires_in: null, scope: ['a', 'b'] }),
    );
    const token = await client(url).getToken();
    expect(token.accessToken).toBe('tok');
    expect(token.expiresAt).toBeUndefined();
    expect(token.scope).toBeUndefined();
    expect(token.raw.scope).toEqual(['a', 'b']);
  });

  it('caps an absurdly large expires_in at one year', async () => {
    const { token, before, after } = await tokenFor({
      access_token: 'tok',
      token_type: 'Bearer',
      expires_in: 1e12,
    });
    expect(token.expiresAt).toBeGreaterThanOrEqual(before + ONE_YEAR_MS);
    expect(token.expiresAt).toBeLessThanOrEqual(after + ONE_YEAR_MS);
  });

  it('expires_in: 0 is handed out once and not cached', async () => {
    const {
      token,
      client: c,
      count,
    } = await tokenFor({ access_token: 'zero', token_type: 'Bearer', expires_in: 0 });
    expect(token.accessToken).toBe('zero');
    expect(count()).toBe(1);
    await c.getToken();
    expect(count()).toBe(2);
  });

  it('a positive expires_in is cached (the contrast to expires_in: 0)', async () => {
    const { client: c, count } = await tokenFor({
      access_token: 'cached',
      token_type: 'Bearer',
      expires_in: 3600,
    });
    const again = await c.getToken();
    expect(again.accessToken).toBe('cached');
    expect(count()).toBe(1);
  });

  it("without expires_in, takes a JWT access token's exp; without either, expiresAt is undefined", async () => {
    const exp = Math.floor(Date.now() / 1000) + 900;
    const jwt = await new SignJWT({ scope: 'a' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode('k'.repeat(32)));
    const { token: fromJwt } = await tokenFor({ access_token: jwt, token_type: 'Bearer' });
    expect(fromJwt.expiresAt).toBe(exp * 1000);

    const {
      token: opaque,
      client: c,
      count,
    } = await tokenFor({ access_token: 'opaque', token_type: 'Bearer' });
    expect(opaque.expiresAt).toBeUndefined();
    // Cached for defaultLifetimeSeconds all the same.
    await c.getToken();
    expect(count()).toBe(1);
  });

  it('expires_in wins over the JWT exp', async () => {
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + 9000)
      .sign(new TextEncoder().encode('k'.repeat(32)));
    const { token, before, after } = await tokenFor({
      access_token: jwt,
      token_type: 'Bearer',
      expires_in: 60,
    });
    expectExpiry(token, 60, before, after);
  });

  it('ignores refresh_token (RFC 6749 4.4.3) and keeps every other field in raw', async () => {
    const { token } = await tokenFor({
      access_token: 'tok',
      token_type: 'Bearer',
      expires_in: 60,
      refresh_token: 'should-not-be-kept',
      scope: 'a b',
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      'x-custom': { nested: [1, 2] },
    });
    expect(token.raw).not.toHaveProperty('refresh_token');
    expect(JSON.stringify(token)).not.toContain('should-not-be-kept');
    expect(token.raw).toEqual({
      access_token: 'tok',
      token_type: 'Bearer',
      expires_in: 60,
      scope: 'a b',
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      'x-custom': { nested: [1, 2] },
    });
    expect(token).not.toHaveProperty('refreshToken');
  });

  it('JSON serialisation redacts the token, as util.inspect does (issue 15.5); a spread keeps the data', async () => {
    const { token } = await tokenFor({
      access_token: 'tok-json-0123456789',
      token_type: 'Bearer',
      expires_in: 60,
      id_token: 'id-json-0123456789',
      ext: 'kept',
    });
    const json = JSON.stringify(token);
    expect(json).not.toContain('tok-json-0123456789');
    expect(json).not.toContain('id-json-0123456789');
    const copy = JSON.parse(json) as Token;
    expect(copy.accessToken).toBe('[redacted]');
    expect(copy.raw.access_token).toBe('[redacted]');
    expect(copy).toMatchObject({ tokenType: 'Bearer', expiresAt: token.expiresAt, raw: { ext: 'kept' } });
    expect(JSON.stringify(token.raw)).not.toContain('tok-json-0123456789');
    // What a logger such as pino does with `{ token }`:
    expect(JSON.stringify({ token })).not.toContain('tok-json-0123456789');
    // The data itself is unchanged, and a spread (what code that stores tokens does) keeps it.
    expect(token.accessToken).toBe('tok-json-0123456789');
    expect({ ...token }.accessToken).toBe('tok-json-0123456789');
    expect({ ...token.raw }.access_token).toBe('tok-json-0123456789');
    expect(Object.keys(token)).not.toContain('toJSON');
  });

  it('a Token and its raw are plain frozen objects that compare like the data (node:assert deepStrictEqual)', async () => {
    const body = { access_token: 'tok-plain-0123456789', token_type: 'Bearer', expires_in: 60, ext: 'kept' };
    const { token } = await tokenFor(body);
    // deepStrictEqual also compares prototypes: a shared prototype for the hooks failed it.
    deepStrictEqual(token.raw, body);
    deepStrictEqual(token, {
      accessToken: body.access_token,
      tokenType: 'Bearer',
      expiresAt: token.expiresAt,
      raw: body,
    });
    expect(Object.isFrozen(token) && Object.isFrozen(token.raw)).toBe(true);
  });

  it('JSON and inspect redact the token wherever it is in raw, at any depth, by value as well as by name', async () => {
    const accessToken = 'AT-deep-0123456789abcdefghijklmnop';
    const idToken = 'ID-deep-9876543210zyxwvutsrqponmlk';
    const { token } = await tokenFor({
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 600,
      id_token: idToken,
      extra: { access_token: accessToken, nested: [{ jwt: accessToken }] },
      jwt: accessToken,
      echo: `issued ${accessToken.slice(0, 20)}... for you`,
      copy_of_id: idToken,
      count: 3,
      note: 'kept as it is',
    });
    for (const shown of [
      JSON.stringify(token),
      JSON.stringify(token.raw),
      inspect(token, { depth: Number.POSITIVE_INFINITY }),
      inspect(token.raw, { depth: Number.POSITIVE_INFINITY }),
      inspect({ token }, { depth: Number.POSITIVE_INFINITY }),
    ]) {
      expect(leakedRuns(shown, accessToken)).toEqual([]);
      expect(leakedRuns(shown, idToken)).toEqual([]);
    }
    const copy = JSON.parse(JSON.stringify(token)) as Token & { raw: Record<string, unknown> };
    expect(copy.raw).toMatchObject({
      extra: { access_token: '[redacted]', nested: [{ jwt: '[redacted]' }] },
      jwt: '[redacted]',
      echo: 'issued [redacted]... for you',
      copy_of_id: '[redacted]',
      count: 3,
      note: 'kept as it is',
    });
    // The data itself is untouched.
    expect((token.raw.extra as { access_token: string }).access_token).toBe(accessToken);
  });

  it('accepts a valid body whatever its Content-Type (the body itself is validated)', async () => {
    for (const type of ['text/plain', 'text/html; charset=utf-8', 'application/octet-stream']) {
      const { url } = endpoint(
        () =>
          new HttpResponse(JSON.stringify({ access_token: 'typed', token_type: 'Bearer' }), {
            headers: { 'content-type': type },
          }),
      );
      expect((await client(url).getToken()).accessToken).toBe('typed');
    }
  });

  it('accepts a body right at the size cap (256 KiB) and refuses one byte more', async () => {
    const cap = 256 * 1024;
    const base = JSON.stringify({ access_token: 'big', token_type: 'Bearer', pad: '' });
    const exact = base.replace('"pad":""', `"pad":"${'x'.repeat(cap - base.length)}"`);
    expect(Buffer.byteLength(exact)).toBe(cap);
    const { url: okUrl } = endpoint(
      () => new HttpResponse(exact, { headers: { 'content-type': 'application/json' } }),
    );
    expect((await client(okUrl).getToken()).accessToken).toBe('big');

    const over = exact.replace('"pad":"', '"pad":"x');
    // Streamed without a Content-Length: the cap is enforced while reading.
    const { url: bigUrl } = endpoint(
      () =>
        new HttpResponse(
          new ReadableStream({
            start(controller) {
              const bytes = new TextEncoder().encode(over);
              for (let i = 0; i < bytes.length; i += 16 * 1024)
                controller.enqueue(bytes.slice(i, i + 16 * 1024));
              controller.close();
            },
          }),
          { headers: { 'content-type': 'application/json' } },
        ),
    );
    await expect(client(bigUrl).getToken()).rejects.toMatchObject({
      code: 'M2M_RESPONSE_TOO_LARGE',
      status: 200,
    });
  });
});

describe('an error response (RFC 6749 5.2)', () => {
  it('maps error, error_description, error_uri and the status to OAuthError', async () => {
    const { url } = endpoint(() =>
      HttpResponse.json(
        {
          error: 'invalid_scope',
          error_description: 'scope "admin" is not allowed',
          error_uri: 'https://idp.test/errors#scope',
        },
        { status: 400 },
      ),
    );
    const error = (await client(url)
      .getToken()
      .catch((e: unknown) => e)) as OAuthError;
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.error).toBe('invalid_scope');
    expect(error.errorDescription).toBe('scope "admin" is not allowed');
    expect(error.errorUri).toBe('https://idp.test/errors#scope');
    expect(error.status).toBe(400);
    expect(error.code).toBe('M2M_OAUTH_ERROR');
    expect(error.message).toContain('invalid_scope');
    expect(error.message).toContain('scope "admin" is not allowed');
  });

  it('leaves errorDescription and errorUri out when the server sends only error', async () => {
    const { url } = endpoint(() => HttpResponse.json({ error: 'invalid_client' }, { status: 401 }));
    const error = (await client(url)
      .getToken()
      .catch((e: unknown) => e)) as OAuthError;
    expect(error).toMatchObject({ error: 'invalid_client', status: 401 });
    expect(Object.hasOwn(error, 'errorDescription')).toBe(false);
    expect(Object.hasOwn(error, 'errorUri')).toBe(false);
  });

  it('a 2xx that also carries access_token but has error is still a failure', async () => {
    const { url } = endpoint(() =>
      HttpResponse.json({ access_token: 'looks-valid', token_type: 'Bearer', error: 'server_error' }),
    );
    const error = await client(url)
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'server_error', status: 200 });
  });

  it('an error body whose error is not a string is an HttpError, not an OAuthError', async () => {
    const { url } = endpoint(() => HttpResponse.json({ error: { code: 42 } }, { status: 400 }));
    const error = await client(url)
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).not.toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ status: 400, bodySnippet: '{"error":{"code":42}}' });
  });

  it('keeps bodySnippet to at most 200 characters, the ellipsis included, never half a surrogate pair', async () => {
    const { url } = endpoint(
      () => new HttpResponse(`<html>${'gateway '.repeat(500)}</html>`, { status: 400 }),
    );
    const error = (await client(url)
      .getToken()
      .catch((e: unknown) => e)) as HttpError;
    expect(error.bodySnippet).toHaveLength(200);
    expect(error.bodySnippet!.endsWith('…')).toBe(true);
    expect(error.bodySnippet!.startsWith('<html>gateway')).toBe(true);

    // An emoji (two UTF-16 units) across the cut is dropped whole.
    const { url: emojiUrl } = endpoint(
      () => new HttpResponse(`${'x'.repeat(198)}\u{1F600}${'y'.repeat(50)}`, { status: 400 }),
    );
    const cut = (await client(emojiUrl)
      .getToken()
      .catch((e: unknown) => e)) as HttpError;
    expect(cut.bodySnippet).toBe(`${'x'.repeat(198)}…`);
    expect(cut.bodySnippet).not.toMatch(/[\uD800-\uDFFF]/);
  });
});
