/**
 * How a CachedToken is stored in Redis (format 2): a head the Lua scripts can read, then JSON, optionally
 * sealed with AES-256-GCM.
 *
 *   plain:     2p:<fingerprint>:{"token":{...},"obtainedAt":...,"refreshAt":...,"usableUntil":...}
 *   encrypted: 2e:<fingerprint>:<base64(iv[12] || ciphertext || tag[16])>
 *
 * The fingerprint (22 base64url characters: 128 bits of an HMAC-SHA256 of the access token) lets the
 * `deleteIf` script delete an entry only while it holds a given token without reading the token: with
 * encryption, the HMAC key is derived from `encryptionKey` (HKDF-SHA256), so the stored fingerprint tells
 * nothing about the token to whoever reads Redis. Decoding checks that the fingerprint matches the token,
 * so a head edited in Redis is refused like any other tampering.
 *
 * Each write uses a fresh random 96-bit IV (NIST SP 800-38D 8.2.2) and binds the ciphertext to the cache
 * key as additional authenticated data, so an entry copied under another key does not open.
 *
 * Format 1 (`{"v":1,...}` and `e1:...`, the first versions) lived under other key names (see scripts.ts); a format-1
 * value found anyway is unreadable, a miss.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { entryFromCache, storedEntry } from '../cache/entry.js';
import type { CachedToken } from '../types.js';
import { RedisCacheError, RedisErrorCode } from './errors.js';

const PLAIN = '2p:';
const ENCRYPTED = '2e:';
/** 16 bytes of HMAC, base64url. */
const FINGERPRINT_CHARS = 22;
/** Length of a stored value's head: format and fingerprint (`2e:<22 characters>:`). */
export const HEAD_CHARS = PLAIN.length + FINGERPRINT_CHARS + 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The HMAC key of plain entries: the token is in clear next to it anyway. */
const PLAIN_FINGERPRINT_KEY = Buffer.from('m2m-token/redis fingerprint', 'utf8');

export class EntryCodec {
  readonly #key: Buffer | undefined;
  readonly #fingerprintKey: Buffer;

  /** `key`: 32 bytes for AES-256-GCM, or undefined to store plain JSON. */
  constructor(key: Uint8Array | undefined) {
    // A private copy: a caller that later zeroes or reuses its buffer does not change ours.
    this.#key = key === undefined ? undefined : Buffer.from(key);
    this.#fingerprintKey =
      this.#key === undefined
        ? PLAIN_FINGERPRINT_KEY
        : Buffer.from(hkdfSync('sha256', this.#key, Buffer.alloc(0), 'm2m-token/redis fingerprint', 32));
  }

  get encrypted(): boolean {
    return this.#key !== undefined;
  }

  /** The start of a stored value holding this access token: what the `deleteIf` script compares. */
  head(accessToken: string): string {
    return `${this.#key === undefined ? PLAIN : ENCRYPTED}${this.#fingerprint(accessToken)}:`;
  }

  encode(cacheKey: string, entry: CachedToken): string {
    const t = entry.token;
    const head = this.head(t.accessToken);
    const json = JSON.stringify(storedEntry(entry));
    if (this.#key === undefined) return head + json;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(cacheKey, 'utf8'));
    const sealed = Buffer.concat([iv, cipher.update(json, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return head + sealed.toString('base64');
  }

  /** Opens a stored value; throws RedisCacheError (ENTRY_UNREADABLE) when it cannot be trusted. */
  decode(cacheKey: string, text: string): CachedToken {
    const format = text.slice(0, PLAIN.length);
    if (format !== PLAIN && format !== ENCRYPTED) {
      throw unreadable('the entry is not a cached token of a known format');
    }
    if (text.length < HEAD_CHARS || text[HEAD_CHARS - 1] !== ':')
      throw unreadable('the entry has no fingerprint');
    let json: string;
    if (format === ENCRYPTED) {
      if (this.#key === undefined)
        throw unreadable('the entry is encrypted and no encryptionKey is configured');
      json = this.#open(cacheKey, text.slice(HEAD_CHARS));
    } else {
      // With a key configured, a plain entry is refused: anyone able to write to Redis could plant it.
      if (this.#key !== undefined)
        throw unreadable('the entry is not encrypted and an encryptionKey is configured');
      json = text.slice(HEAD_CHARS);
    }
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      throw unreadable('the entry is not JSON');
    }
    const entry = toEntry(value);
    const expected = Buffer.from(this.#fingerprint(entry.token.accessToken), 'latin1');
    const stored = Buffer.from(text.slice(PLAIN.length, HEAD_CHARS - 1), 'latin1');
    if (stored.length !== expected.length || !timingSafeEqual(stored, expected)) {
      throw unreadable('the fingerprint does not match the token');
    }
    return entry;
  }

  #fingerprint(accessToken: string): string {
    return createHmac('sha256', this.#fingerprintKey)
      .update(accessToken, 'utf8')
      .digest()
      .subarray(0, 16)
      .toString('base64url');
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

/** Checks the shape and rebuilds a frozen Token (with its redactions), as for any cache (cache/entry.ts). */
function toEntry(value: unknown): CachedToken {
  const entry = entryFromCache(value);
  if (entry === undefined) throw unreadable('the entry is not a valid cached token');
  return entry;
}
