/**
 * Tokens made as the client makes them (frozen, redacting in util.inspect and JSON.stringify), for tests
 * that put entries in a cache or hand a token to the manager themselves.
 *
 *   testToken({ accessToken: 'a', tokenType: 'Bearer', expiresAt, raw: {} }): Token
 *   testEntry('a'): CachedToken   a Bearer token obtained now, good for an hour
 *   clientKey('urn:api'): string  the cache key of client `cid` at http://127.0.0.1/token for an audience
 */
import { makeToken } from '../../src/http/token-response.js';
import type { CachedToken, Token } from '../../src/index.js';

export function testToken(fields: {
  accessToken: string;
  tokenType: string;
  expiresAt?: number;
  scope?: string;
  raw: Record<string, unknown>;
}): Token {
  return makeToken(fields.accessToken, fields.tokenType, fields.expiresAt, fields.scope, fields.raw);
}

/** A cache entry of a Bearer token obtained now: refreshed ahead after 50 min, usable for 59. */
export function testEntry(accessToken: string): CachedToken {
  const now = Date.now();
  return {
    token: testToken({ accessToken, tokenType: 'Bearer', expiresAt: now + 3_600_000, raw: {} }),
    obtainedAt: now,
    refreshAt: now + 3_000_000,
    usableUntil: now + 3_540_000,
  };
}

/** The cache key the client `cid` of http://127.0.0.1/token uses for `audience` (no scope, resource or DPoP). */
export const clientKey = (audience: string): string =>
  JSON.stringify(['http://127.0.0.1/token', 'cid', audience, [], [], [], null]);
