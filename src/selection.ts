/**
 * Token selections: per-call options (audience, scope, resource, extraParams) resolved against the
 * client's defaults into a {@link ResolvedRequest} (cache key, key info for events, request parameters),
 * validated like the constructor's options and memoised injectively, so that two different selections
 * never share a memo entry or a cache key.
 */
import { cacheKey, type KeyParts, keyInfo } from './cache/cache-key.js';
import { Lru } from './cache/lru.js';
import { checkSelection, type NormalizedOptions, splitScope } from './options/index.js';
import { parseSelection } from './options/schema.js';
import type { TokenKeyInfo, TokenSelection } from './types.js';
import { toArray } from './util.js';

/** What selects a token: the per-call options of getToken() without forceRefresh and signal. */
export type { TokenSelection } from './types.js';

/** What a client's tokens may be bound to (sender-constrained tokens), identified in its cache keys. */
export interface KeyBindings {
  /** The DPoP key's identity, when DPoP is on (RFC 9449). */
  readonly dpop?: string | undefined;
  /** The client certificate's `x5t#S256`, when the client authenticates with it (RFC 8705 3). */
  readonly certificate?: string | undefined;
}

/** A getToken() request resolved against the client's defaults. */
export interface ResolvedRequest {
  /** The cache key (cache/cache-key.ts): a JSON array, never a secret. */
  readonly key: string;
  readonly info: TokenKeyInfo;
  /** Token request parameters beyond grant_type and client authentication. */
  readonly params: ReadonlyArray<readonly [string, string]>;
}

/**
 * Most memoised selection shapes per client; beyond it the oldest is dropped (read with `peek`: a memo
 * hit on the hot path costs one Map lookup, not a reorder).
 */
const MEMO_ENTRIES = 1_000;

/** Resolves selections for one client. */
export class SelectionResolver {
  readonly #options: NormalizedOptions;
  readonly #endpoint: string;
  readonly #bindings: KeyBindings;
  /** Memo by the scope alone (the common per-call shape): the scope string, or the array joined by spaces. */
  readonly #byScope = new Lru<ResolvedRequest>(MEMO_ENTRIES);
  /**
   * Memo by (audience, scope, resource, extraParams) as a JSON array: injective, whatever characters the
   * values hold (JSON escapes them; object members keep their names).
   */
  readonly #bySignature = new Lru<ResolvedRequest>(MEMO_ENTRIES);
  /** The client's defaults. */
  readonly defaults: ResolvedRequest;

  /**
   * @param endpoint the token endpoint, or the issuer before discovery: part of every key
   * @param bindings what the client's tokens may be bound to: part of every key
   */
  constructor(options: NormalizedOptions, endpoint: string, bindings: KeyBindings) {
    this.#options = options;
    this.#endpoint = endpoint;
    this.#bindings = bindings;
    this.defaults = this.#build({});
  }

  /**
   * The resolved request for per-call options.
   * @throws {ConfigurationError} a bad per-call option (named as in the constructor)
   */
  resolve(options: TokenSelection): ResolvedRequest {
    const { audience, scope, resource, extraParams } = options;
    // The schema judges the types and words the messages, as for the constructor; this typeof walk
    // spares it on the hot path and never passes a value the schema would refuse.
    if (!isWellTyped(audience, scope, resource, extraParams)) parseSelection(options);
    if (audience === undefined && resource === undefined && extraParams === undefined) {
      if (scope === undefined) return this.defaults;
      // Joining by a space is injective up to what splitScope makes of it: 'a b' and ['a', 'b'] are the
      // same scope set. A control character never reaches the memo: #build refuses it first.
      const byScope = typeof scope === 'string' ? scope : (scope as readonly string[]).join(' ');
      let memo = this.#byScope.peek(byScope);
      if (memo === undefined) {
        memo = this.#build(options);
        this.#byScope.set(byScope, memo);
      }
      return memo;
    }
    // JSON.stringify of strings, arrays of strings, objects of strings and null cannot make two different
    // inputs equal (and only well-typed values get here).
    const signature = JSON.stringify([
      audience ?? null,
      scope ?? null,
      resource ?? null,
      extraParams ?? null,
    ]);
    let memo = this.#bySignature.peek(signature);
    if (memo === undefined) {
      memo = this.#build(options);
      this.#bySignature.set(signature, memo);
    }
    return memo;
  }

  #build(options: TokenSelection): ResolvedRequest {
    const o = this.#options;
    checkSelection(options.audience, options.scope, options.resource, options.extraParams);
    const audience = options.audience ?? o.audience;
    const scope = options.scope !== undefined ? dedupe(splitScope(options.scope)) : dedupe(o.scope);
    const resource = options.resource !== undefined ? dedupe(toArray(options.resource)) : dedupe(o.resource);
    const extraParams = { ...o.extraParams, ...(options.extraParams ?? {}) };
    const parts: KeyParts = {
      endpoint: this.#endpoint,
      clientId: o.clientId,
      audience,
      scope,
      resource,
      extraParams,
      keyBinding: this.#bindings.dpop,
      certificateBinding: this.#bindings.certificate,
    };
    const params: Array<[string, string]> = [];
    if (audience !== undefined) params.push(['audience', audience]);
    if (scope.length > 0) params.push(['scope', scope.join(' ')]);
    // RFC 8707 2: the resource parameter may be repeated.
    for (const r of resource) params.push(['resource', r]);
    for (const [name, value] of Object.entries(extraParams)) params.push([name, value]);
    return Object.freeze({ key: cacheKey(parts), info: keyInfo(parts), params: Object.freeze(params) });
  }
}

/**
 * True when the selection is certainly well typed (a cheap typeof walk, no allocation): a non-empty
 * audience, strings or arrays of strings, and extraParams a plain object of string members. False
 * sends it to the schema, which decides and names what is wrong.
 */
function isWellTyped(audience: unknown, scope: unknown, resource: unknown, extraParams: unknown): boolean {
  if (audience !== undefined && (typeof audience !== 'string' || audience === '')) return false;
  if (!isStringList(scope) || !isStringList(resource)) return false;
  if (extraParams === undefined) return true;
  if (typeof extraParams !== 'object' || extraParams === null) return false;
  const proto = Object.getPrototypeOf(extraParams);
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.getOwnPropertySymbols(extraParams).length > 0) return false;
  for (const name in extraParams) {
    if (typeof (extraParams as Record<string, unknown>)[name] !== 'string') return false;
  }
  return true;
}

function isStringList(value: unknown): boolean {
  if (value === undefined || typeof value === 'string') return true;
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false;
  return true;
}

function dedupe(values: readonly string[]): string[] {
  return values.length <= 1 ? values.slice() : [...new Set(values)];
}
