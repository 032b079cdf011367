import { brand, M2MTokenError } from '../errors.js';

/** Stable codes of {@link RedisCacheError}. */
export const RedisErrorCode = {
  /** Redis did not answer within `timeoutMs` of time this process was free to read the answer. */
  TIMEOUT: 'M2M_REDIS_TIMEOUT',
  /** Redis failed (connection refused, reset, closed), or failed recently: calls fail fast for a short pause. */
  UNAVAILABLE: 'M2M_REDIS_UNAVAILABLE',
  /** Redis answered with an error reply; its code (`LOADING`, `WRONGTYPE`, ...) is in the message. */
  ERROR_REPLY: 'M2M_REDIS_ERROR_REPLY',
  /** An entry could not be opened (wrong key, tampered, not encrypted when it must be, garbage). */
  ENTRY_UNREADABLE: 'M2M_REDIS_ENTRY_UNREADABLE',
  /**
   * An entry over `maxEntryBytes`: one found in Redis is a miss (never read whole), one about to be
   * stored is not stored (the token still reaches its callers).
   */
  ENTRY_TOO_LARGE: 'M2M_REDIS_ENTRY_TOO_LARGE',
} as const;

/**
 * A fault of the shared cache. The client never lets one reach a caller of getToken(): it reports it as
 * a `cache_fault` event and asks the token endpoint instead. Messages never hold a token or a key.
 */
export class RedisCacheError extends M2MTokenError {}
brand(RedisCacheError, 'RedisCacheError');
