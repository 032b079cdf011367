/**
 * How a CachedToken is stored in Redis: JSON, optionally sealed with AES-256-GCM.
 *
 *   plain:     {"v":1,"token":{...},"obtainedAt":...,"refreshAt":...,"usableUntil":...}
 *   encrypted: e1:<base64(iv[12] || ciphertext || tag[16])>
 *
 * Each write uses a fresh random 96-bit IV (NIST SP 800-38D 8.2.2) and binds the ciphertext to the cache
 * key as additional authenticated data, so an entry copied under another key does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { makeToken } from '../http/token-response.js';
import type { CachedToken } from '../types.js';
import { RedisCacheError, RedisErrorCode } from './errors.js';

const FORMAT_VERSION = 1;
const ENCRYPTED_PREFIX = 'e1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class EntryCodec {
  readonly #key: Buffer | undefined;

  /** `key`: 32 bytes for AES-256-GCM, or undefined to store plain JSON. */
  constructor(key: Uint8Array | undefined) {
    // A private copy: a caller that later zeroes or reuses its buffer does not change ours.
    this.#key = key === undefined ? undefined : Buffer.from(key);
  }

  get encrypted(): boolean {
    return this.#key !== undefined;
  }

  encode(cacheKey: string, entry: CachedToken): string {
    const t = entry.token;
    const json = JSON.stringify({
      v: FORMAT_VERSION,
      token: {
        accessToken: t.accessToken,
        tokenType: t.tokenType,
        expiresAt: t.expiresAt,
        scope: t.scope,
        // A spread: Token.raw's toJSON redacts its credentials (for loggers); the cache keeps them.
        raw: { ...t.raw },
      },
      obtainedAt: entry.obtainedAt,
      refreshAt: entry.refreshAt,
      usableUntil: entry.usableUntil,
    });
    if (this.#key === undefined) return json;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(cacheKey, 'utf8'));
    const sealed = Buffer.concat([iv, cipher.update(json, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return ENCRYPTED_PREFIX + sealed.toString('base64');
  }

  /** Opens a stored value; throws RedisCacheError (ENTRY_UNREADABLE) when it cannot be trusted. */
  decode(cacheKey: string, text: string): CachedToken {
    let json: string;
    if (text.startsWith(ENCRYPTED_PREFIX)) {
      if (this.#key === undefined)
        throw unreadable('the entry is encrypted and no encryptionKey is configured');
      json = this.#open(cacheKey, text.slice(ENCRYPTED_PREFIX.length));
    } else {
      // With a key configured, a plain entry is refused: anyone able to write to Redis could plant it.
      if (this.#key !== undefined)
        throw unreadable('the entry is not encrypted and an encryptionKey is configured');
      json = text;
    }
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      throw unreadable('the entry is not JSON');
    }
    return toEntry(value);
  }

  #open(cacheKey: string, base64: string): string {
    const sealed = Buffer.from(base64, 'base64');
    if (sealed.length < IV_BYTES + TAG_BYTES + 2) throw unreadable('the encrypted entry is truncated');
    const iv = sealed.subarray(0, IV_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const body = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key as Buffer, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(cacheKey, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      throw unreadable(
        'the entry failed authentication (wrong encryptionKey, tampered, or moved from another key)',
      );
    }
  }
}

function unreadable(message: string): RedisCacheError {
  return new RedisCacheError(`unreadable cache entry: ${message}`, RedisErrorCode.ENTRY_UNREADABLE);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Checks the shape and rebuilds a frozen Token (with its inspect redaction) through makeToken. */
function toEntry(value: unknown): CachedToken {
  if (!isRecord(value) || value.v !== FORMAT_VERSION || !isRecord(value.token)) {
    throw unreadable('the entry is not a cached token of a known format');
  }
  const t = value.token;
  const ok =
    typeof t.accessToken === 'string' &&
    t.accessToken !== '' &&
    typeof t.tokenType === 'string' &&
    t.tokenType !== '' &&
    (t.expiresAt === undefined || isTime(t.expiresAt)) &&
    (t.scope === undefined || typeof t.scope === 'string') &&
    isRecord(t.raw) &&
    isTime(value.obtainedAt) &&
    isTime(value.refreshAt) &&
    isTime(value.usableUntil);
  if (!ok) throw unreadable('the entry is not a valid cached token');
  const token = makeToken(
    t.accessToken as string,
    t.tokenType as string,
    t.expiresAt as number | undefined,
    t.scope as string | undefined,
    t.raw as Record<string, unknown>,
  );
  return Object.freeze({
    token,
    obtainedAt: value.obtainedAt as number,
    refreshAt: value.refreshAt as number,
    usableUntil: value.usableUntil as number,
  });
}
