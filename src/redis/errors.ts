import { brand, M2MTokenError } from '../errors.js';

/** Stable codes of {@link RedisCacheError}. */
export const RedisErrorCode = {
  /** A Redis call did not answer within `timeoutMs`. */
  TIMEOUT: 'M2M_REDIS_TIMEOUT',
  /** Redis failed recently: calls fail fast until the next probe (see RedisTokenCache). */
  UNAVAILABLE: 'M2M_REDIS_UNAVAILABLE',
  /** An entry could not be opened (wrong key, tampered, not encrypted when it must be, garbage). */
  ENTRY_UNREADABLE: 'M2M_REDIS_ENTRY_UNREADABLE',
} as const;

/**
 * A fault of the shared cache. The client never lets one reach a caller of getToken(): it reports it as
 * a `cache_fault` event and asks the token endpoint instead. Messages never hold a token or a key.
 */
export class RedisCacheError extends M2MTokenError {
  static {
    brand(RedisCacheError, 'RedisCacheError');
  }
}
