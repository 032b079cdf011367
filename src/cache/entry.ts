/**
 * Cache entries as data. A {@link CachedToken} made by the client serialises (`JSON.stringify(entry)`)
 * to its storable form, the access token included, so that any TokenCache can store it as JSON; only the
 * Token inside redacts itself (for loggers). An entry read back from a cache that is not one the client
 * made (parsed JSON, another process's value) is checked and rebuilt here before it is used.
 */
import { isMadeToken, isUsableAccessToken, makeToken } from '../http/token-response.js';
import type { CachedToken, Token } from '../types.js';

/** The storable form of an entry: plain JSON data holding the access token (treat it as a secret). */
export interface StoredEntry {
  readonly token: {
    readonly accessToken: string;
    readonly tokenType: string;
    readonly expiresAt?: number;
    readonly scope?: string;
    readonly raw: Record<string, unknown>;
  };
  readonly obtainedAt: number;
  readonly refreshAt: number;
  readonly usableUntil: number;
}

/** The storable form of an entry (what `JSON.stringify(entry)` writes). */
export function storedEntry(entry: CachedToken): StoredEntry {
  const t = entry.token;
  return {
    token: {
      accessToken: t.accessToken,
      tokenType: t.tokenType,
      ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}),
      ...(t.scope !== undefined ? { scope: t.scope } : {}),
      // A spread: Token.raw's own toJSON redacts its credentials (for loggers); a cache keeps them.
      raw: { ...t.raw },
    },
    obtainedAt: entry.obtainedAt,
    refreshAt: entry.refreshAt,
    usableUntil: entry.usableUntil,
  };
}

function entryToJSON(this: CachedToken): StoredEntry {
  return storedEntry(this);
}

/**
 * Makes an entry whose JSON form is its storable form: a plain object, its toJSON a non-enumerable own
 * property holding one shared function, defined before the fields so that every entry shares one chain
 * of hidden classes (no cost per entry beyond its fields).
 */
export function makeEntry(
  token: Token,
  obtainedAt: number,
  refreshAt: number,
  usableUntil: number,
): CachedToken {
  const entry = {} as { -readonly [K in keyof CachedToken]: CachedToken[K] };
  Object.defineProperty(entry, 'toJSON', { value: entryToJSON });
  entry.token = token;
  entry.obtainedAt = obtainedAt;
  entry.refreshAt = refreshAt;
  entry.usableUntil = usableUntil;
  return entry;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * An entry as a cache gave it back: used as it is when the client made it, else checked (the shape of a
 * StoredEntry, an access token of 1*VSCHAR) and rebuilt with a Token of this package. Undefined when it
 * is not a usable entry: the caller treats that as a miss and reports a cache fault.
 */
export function entryFromCache(value: unknown): CachedToken | undefined {
  if (!isRecord(value)) return undefined;
  const token = value.token;
  if (isMadeToken(token)) return value as unknown as CachedToken;
  if (!isRecord(token)) return undefined;
  const ok =
    typeof token.accessToken === 'string' &&
    isUsableAccessToken(token.accessToken) &&
    typeof token.tokenType === 'string' &&
    token.tokenType !== '' &&
    (token.expiresAt === undefined || isTime(token.expiresAt)) &&
    (token.scope === undefined || typeof token.scope === 'string') &&
    isRecord(token.raw) &&
    isTime(value.obtainedAt) &&
    isTime(value.refreshAt) &&
    isTime(value.usableUntil);
  if (!ok) return undefined;
  return makeEntry(
    makeToken(
      token.accessToken as string,
      token.tokenType as string,
      token.expiresAt as number | undefined,
      token.scope as string | undefined,
      token.raw as Record<string, unknown>,
    ),
    value.obtainedAt as number,
    value.refreshAt as number,
    value.usableUntil as number,
  );
}
