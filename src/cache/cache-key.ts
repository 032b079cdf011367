/**
 * Cache keys: (token endpoint or issuer, client id, audience, scope set, resource set, extra params,
 * DPoP key thumbprint[, client certificate thumbprint]). Scope and resource order and duplicates do not
 * matter. No secret is ever part of a key. The key is a JSON array, so no two different tuples can
 * collide; the certificate is appended only when there is one, so the keys of every other client stay
 * as they were (a rolling upgrade keeps sharing through Redis).
 *
 * This module alone knows the layout: {@link cacheKey} writes it, {@link keyInfoOfCacheKey} reads it back
 * (a shared cache reporting a fault has only the key).
 */
import { shownUrl } from '../http/token-errors.js';
import type { TokenKeyInfo } from '../types.js';
import { sortedSet } from '../util.js';

export interface KeyParts {
  readonly endpoint: string;
  readonly clientId: string;
  readonly audience?: string;
  readonly scope: readonly string[];
  readonly resource: readonly string[];
  readonly extraParams: Readonly<Record<string, string>>;
  /** RFC 7638 thumbprint of the DPoP key, when DPoP is on: tokens are bound to it. */
  readonly keyBinding?: string;
  /**
   * `x5t#S256` of the client certificate, when the client authenticates with mutual TLS: tokens are bound
   * to it (RFC 8705 3).
   */
  readonly certificateBinding?: string;
}

export function cacheKey(parts: KeyParts): string {
  const extras = Object.keys(parts.extraParams)
    .sort()
    .map((name) => [name, parts.extraParams[name]]);
  const key = [
    parts.endpoint,
    parts.clientId,
    parts.audience ?? null,
    sortedSet(parts.scope),
    sortedSet(parts.resource),
    extras,
    parts.keyBinding ?? null,
  ];
  if (parts.certificateBinding !== undefined) key.push(parts.certificateBinding);
  return JSON.stringify(key);
}

/**
 * The non-secret parts of a key, for events. The endpoint is shown by origin and path: its query may
 * carry something private (as in error messages).
 */
export function keyInfo(parts: KeyParts): TokenKeyInfo {
  return Object.freeze({
    endpoint: shownEndpoint(parts.endpoint),
    clientId: parts.clientId,
    ...(parts.audience !== undefined ? { audience: parts.audience } : {}),
    ...(parts.scope.length ? { scope: sortedSet(parts.scope).join(' ') } : {}),
    ...(parts.resource.length ? { resource: Object.freeze(sortedSet(parts.resource)) } : {}),
  });
}

/** The last endpoint shown: every key of a client shares one string rather than a copy per key. */
let lastEndpoint: { readonly endpoint: string; readonly shown: string } | undefined;
function shownEndpoint(endpoint: string): string {
  if (lastEndpoint?.endpoint !== endpoint) lastEndpoint = { endpoint, shown: shownUrl(endpoint) };
  return lastEndpoint.shown;
}

/**
 * {@link keyInfo} of a key made by {@link cacheKey}, for a cache that holds only the key. A key of another
 * shape (a caller using the cache directly) gives empty fields.
 */
export function keyInfoOfCacheKey(key: string): TokenKeyInfo {
  const parts = parseCacheKey(key);
  return parts !== undefined ? keyInfo(parts) : Object.freeze({ endpoint: '', clientId: '' });
}

/** The inverse of {@link cacheKey}; undefined for a string it did not make. */
function parseCacheKey(key: string): KeyParts | undefined {
  let value: unknown;
  try {
    value = JSON.parse(key);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || (value.length !== 7 && value.length !== 8)) return undefined;
  const [endpoint, clientId, audience, scope, resource, extras, keyBinding, certificateBinding] =
    value as unknown[];
  if (
    typeof endpoint !== 'string' ||
    typeof clientId !== 'string' ||
    (audience !== null && typeof audience !== 'string') ||
    !isStrings(scope) ||
    !isStrings(resource) ||
    !Array.isArray(extras) ||
    !extras.every((pair) => Array.isArray(pair) && pair.length === 2 && isStrings(pair)) ||
    (keyBinding !== null && typeof keyBinding !== 'string') ||
    (value.length === 8 && typeof certificateBinding !== 'string')
  ) {
    return undefined;
  }
  return {
    endpoint,
    clientId,
    ...(audience !== null ? { audience } : {}),
    scope,
    resource,
    extraParams: Object.fromEntries(extras as [string, string][]),
    ...(keyBinding !== null ? { keyBinding } : {}),
    ...(typeof certificateBinding === 'string' ? { certificateBinding } : {}),
  };
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
