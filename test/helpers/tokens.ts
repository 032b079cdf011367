/**
 * Tokens made as the client makes them (frozen, redacting in util.inspect and JSON.stringify), for tests
 * that put entries in a cache or hand a token to the manager themselves.
 *
 *   testToken({ accessToken: 'a', tokenType: 'Bearer', expiresAt, raw: {} }): Token
 */
import { makeToken } from '../../src/http/token-response.js';
import type { Token } from '../../src/index.js';

export function testToken(fields: {
  accessToken: string;
  tokenType: string;
  expiresAt?: number;
  scope?: string;
  raw: Record<string, unknown>;
}): Token {
  return makeToken(fields.accessToken, fields.tokenType, fields.expiresAt, fields.scope, fields.raw);
}
