/**
 * m2m-token: OAuth 2.0 client credentials (RFC 6749 4.4) for services.
 * @packageDocumentation
 */

export { formUrlEncodeCredential } from './auth/client-secret-basic.js';
export { MemoryTokenCache, type MemoryTokenCacheOptions } from './cache/memory-cache.js';
export { ClientCredentialsClient, FORCED_REFRESH_INTERVAL_MS } from './client.js';
export type { AuthorizationServerMetadata } from './discovery.js';
export {
  ConfigurationError,
  DiscoveryError,
  ErrorCode,
  type ErrorCodeValue,
  HttpError,
  M2MTokenError,
  OAuthError,
  OriginNotAllowedError,
} from './errors.js';
export { DIAGNOSTICS_CHANNEL } from './events.js';
export type { CreateFetchOptions } from './fetch/fetch-wrapper.js';
export {
  type BasicAuthEncoding,
  type ClientCredentialsClientOptions,
  DEFAULTS,
  type DpopOptions,
  type RetryOptions,
} from './options.js';
export type {
  AsymmetricAlgorithm,
  AuthFallbackForm,
  AuthMethod,
  CachedToken,
  EventError,
  GetTokenOptions,
  PrivateKeyInput,
  SymmetricAlgorithm,
  Token,
  TokenCache,
  TokenEvent,
  TokenKeyInfo,
} from './types.js';
