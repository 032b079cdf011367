/**
 * Cache keys: (token endpoint or issuer, client id, audience, scope set, resource set, extra params,
 * DPoP key thumbprint). Scope and resource order and duplicates do not matter. No secret is ever
 * part of a key. The key is a JSON array, so no two different tuples can collide.
 */
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
}

export function cacheKey(parts: KeyParts): string {
  const extras = Object.keys(parts.extraParams)
    .sort()
    .map((name) => [name, parts.extraParams[name]]);
  return JSON.stringify([
    parts.endpoint,
    parts.clientId,
    parts.audience ?? null,
    sortedSet(parts.scope),
    sortedSet(parts.resource),
    extras,
    parts.keyBinding ?? null,
  ]);
}

export function keyInfo(parts: KeyParts): TokenKeyInfo {
  return Object.freeze({
    endpoint: parts.endpoint,
    clientId: parts.clientId,
    ...(parts.audience !== undefined ? { audience: parts.audience } : {}),
    ...(parts.scope.length ? { scope: sortedSet(parts.scope).join(' ') } : {}),
    ...(parts.resource.length ? { resource: Object.freeze(sortedSet(parts.resource)) } : {}),
  });
}
