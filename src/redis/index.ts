/**
 * m2m-token/redis: a token cache shared by a fleet of processes through Redis, with cross-process
 * single-flight. Works over a connected node-redis (`redis`) or ioredis client; neither is imported here,
 * both are optional peer dependencies.
 * @packageDocumentation
 */
export type { RedisClientLike } from './driver.js';
export { RedisCacheError, RedisErrorCode } from './errors.js';
export { REDIS_CACHE_DEFAULTS, type RedisTokenCacheOptions } from './options.js';
export { RedisTokenCache } from './redis-token-cache.js';
