/**
 * m2m-token: OAuth 2.0 client credentials (RFC 6749 4.4) for services.
 * @packageDocumentation
 */

export { MemoryTokenCache, type MemoryTokenCacheOptions } from './cache/memory-cache.js';
export { ClientCredentialsClient } from './client.js';
export type { AuthorizationServerMetadata } from './discovery.js';
export {
  ConfigurationError,
  DiscoveryError,
  ErrorCode,
  type ErrorCodeValue,
  HttpError,
  M2M_CACHE_ENTRY_INVALID,
  M2M_CLIENT_CLOSED,
  M2M_DISCOVERY_FAILED,
  M2M_HTTP_ERROR,
  M2M_INVALID_CONFIGURATION,
  M2M_NETWORK_ERROR,
  M2M_OAUTH_ERROR,
  M2M_ORIGIN_NOT_ALLOWED,
  M2M_RESPONSE_TOO_LARGE,
  M2M_RETRY_LATER,
  M2M_TIMEOUT,
  M2M_UNEXPECTED_REDIRECT,
  M2MTokenError,
  OAuthError,
  OriginNotAllowedError,
} from './errors.js';
export { DIAGNOSTICS_CHANNEL } from './events.js';
export type { CreateFetchOptions } from './fetch/fetch-wrapper.js';
export type { OriginAllowlist } from './fetch/shared.js';
export { FORCED_REFRESH_INTERVAL_MS } from './manager/flight.js';
export {
  type BasicAuthEncoding,
  type ClientCredentialsClientOptions,
  DEFAULTS,
  type DpopOptions,
  type RetryOptions,
} from './options/index.js';
export type {
  AsymmetricAlgorithm,
  AuthFallbackEvent,
  AuthFallbackForm,
  AuthMethod,
  CachedToken,
  CacheFaultEvent,
  CacheHitEvent,
  CacheMissEvent,
  CredentialRotatedEvent,
  DiscoveryFailureEvent,
  DiscoveryStartEvent,
  DiscoverySuccessEvent,
  EventError,
  GetTokenOptions,
  KeyObjectLike,
  LockWaitEvent,
  PrivateKeyInput,
  RefreshAheadFailureEvent,
  RefreshAheadStartEvent,
  ScopeReducedEvent,
  SymmetricAlgorithm,
  Token,
  TokenCache,
  TokenEvent,
  TokenEventBase,
  TokenKeyInfo,
  TokenRequestFailureEvent,
  TokenRequestRetryEvent,
  TokenRequestStartEvent,
  TokenRequestSuccessEvent,
  TokenRequestTrigger,
  TokenSelection,
} from './types.js';
export { formUrlEncodeCredential } from './util.js';
