/**
 * Reading `WWW-Authenticate` (RFC 9110 11.6.1) to decide what a 401 from a resource server means for
 * the token that was sent (RFC 6750 3.1, RFC 9449 7.1 and 9).
 */

import type { SentScheme } from './shared.js';

/** One challenge: the scheme (lower-case) and its auth-params (names lower-case), or its token68. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
  readonly token68?: string;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*/y;
const SPACE = /[ \t]*/y;

function match(re: RegExp, input: string, at: number): string | undefined {
  re.lastIndex = at;
  const m = re.exec(input);
  return m === null ? undefined : m[0];
}

function skipSpace(input: string, at: number): number {
  return at + (match(SPACE, input, at)?.length ?? 0);
}

/** A quoted-string starting at `at` (the opening quote): its value (backslash escapes undone) and end. */
function quoted(input: string, at: number): [string, number] {
  let value = '';
  let i = at + 1;
  while (i < input.length) {
    const c = input[i];
    if (c === '\\' && i + 1 < input.length) {
      value += input[i + 1];
      i += 2;
    } else if (c === '"') {
      return [value, i + 1];
    } else {
      value += c;
      i++;
    }
  }
  return [value, i]; // unterminated: take the rest
}

/**
 * Parses a `WWW-Authenticate` value, which may hold several challenges whose parameters are also
 * comma-separated (RFC 9110 11.6.1): `Basic realm="a", Bearer error="invalid_token", error_description="x, y"`.
 * Lenient: malformed parts are skipped, never thrown on.
 */
function parseChallenges(header: string): Challenge[] {
  const challenges: Array<{ scheme: string; params: Record<string, string>; token68?: string }> = [];
  let current: (typeof challenges)[number] | undefined;
  let i = 0;
  while (i < header.length) {
    i = skipSpace(header, i);
    if (header[i] === ',') {
      i++;
      continue;
    }
    const name = match(TOKEN, header, i);
    if (name === undefined) {
      i++; // not a token: skip the character
      continue;
    }
    let j = skipSpace(header, i + name.length);
    if (current !== undefined && header[j] === '=') {
      // auth-param = token BWS "=" BWS ( token / quoted-string )
      j = skipSpace(header, j + 1);
      let value: string;
      if (header[j] === '"') {
        [value, j] = quoted(header, j);
      } else {
        value = match(TOKEN, header, j) ?? '';
        j += value.length;
      }
      const key = name.toLowerCase();
      if (!(key in current.params)) current.params[key] = value;
      i = j;
      continue;
    }
    // A new challenge: auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    current = { scheme: name.toLowerCase(), params: {} };
    challenges.push(current);
    const t68 = match(TOKEN68, header, j);
    if (t68 !== undefined) {
      const after = skipSpace(header, j + t68.length);
      if (after >= header.length || header[after] === ',') {
        current.token68 = t68;
        i = after;
        continue;
      }
    }
    i = j;
  }
  return challenges;
}

/** What to do after a 401 to a request that carried our token. */
export type UnauthorizedAction =
  /** The token was refused: drop it, get another and repeat the request once. */
  | 'refresh'
  /** RFC 9449 9: the resource server wants a DPoP nonce: repeat once with a new proof. */
  | 'nonce'
  /** A new token would not help: return the 401 as it is. */
  | 'none';

/**
 * The 401 rule (RFC 6750 3.1). The Bearer/DPoP challenge's `error` says why the request failed:
 *
 * - `invalid_token` (expired, revoked, malformed, wrong key or audience): a new token may help: refresh.
 * - no `error` at all: RFC 6750 3.1 says a server omits it when the request "lacks any authentication
 *   information" it understands, which is also what an API answers for a token it does not know: refresh.
 *   A 401 without any `WWW-Authenticate` is treated the same way.
 * - any other value (`invalid_request`, `insufficient_scope`, `invalid_dpop_proof`, ...): the same token
 *   parameters would fail again; no refresh. (`insufficient_scope` comes with a 403 anyway, which is never
 *   retried.)
 * - DPoP only: `DPoP error="use_dpop_nonce"` with a `DPoP-Nonce` header asks for a new proof with that
 *   nonce (RFC 9449 9), which is independent of the token.
 */
export function unauthorizedAction(
  wwwAuthenticate: string | null | undefined,
  sentScheme: SentScheme,
  hasDpopNonce: boolean,
): UnauthorizedAction {
  if (!wwwAuthenticate) return 'refresh';
  const errors: string[] = [];
  for (const challenge of parseChallenges(wwwAuthenticate)) {
    if (challenge.scheme !== 'bearer' && challenge.scheme !== 'dpop') continue;
    const error = challenge.params.error;
    if (error === undefined) continue;
    if (sentScheme === 'dpop' && challenge.scheme === 'dpop' && error === 'use_dpop_nonce' && hasDpopNonce) {
      return 'nonce';
    }
    errors.push(error);
  }
  if (errors.length === 0 || errors.includes('invalid_token')) return 'refresh';
  return 'none';
}
