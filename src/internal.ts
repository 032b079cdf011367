/**
 * The surface the fetch wrapper, the undici interceptor and the CLI use inside the package.
 * Reached through a symbol, so it is not part of the public API.
 */
import type { DpopProofSource } from './http/token-request.js';
import type { GetTokenOptions, Token, TokenKeyInfo } from './types.js';

export const kInternals = Symbol.for('m2m-token.internals');

/** A getToken() request resolved against the client's defaults. */
export interface ResolvedRequest {
  readonly key: string;
  readonly info: TokenKeyInfo;
  /** Token request parameters beyond grant_type and client authentication. */
  readonly params: ReadonlyArray<readonly [string, string]>;
}

export interface ClientInternals {
  /** Resolves per-call options against the defaults (throws ConfigurationError on bad extraParams). */
  resolve(options: Omit<GetTokenOptions, 'forceRefresh' | 'signal'>): ResolvedRequest;
  /** getToken() for a resolved request. */
  token(request: ResolvedRequest, signal?: AbortSignal): Promise<Token>;
  /**
   * After a resource server rejected `rejected` (401 invalid_token): a newer token when another request
   * already got one, else one forced refresh; `undefined` when forced refreshes for this key are
   * rate-limited (the caller then returns the 401 as it is).
   */
  tokenAfterRejection(
    request: ResolvedRequest,
    rejected: Token,
    signal?: AbortSignal,
  ): Promise<Token | undefined>;
  /** The fetch the client was configured with (or the global one). */
  readonly fetch: typeof globalThis.fetch;
  /** The configured undici dispatcher, if any (also used for mTLS-bound API calls). */
  dispatcher(): Promise<unknown>;
  /** DPoP proofs for API requests, when DPoP is on. */
  readonly dpop?: DpopProofSource;
}
