/**
 * The seam between a client and the HTTP-client integrations (the fetch wrapper, the undici interceptor,
 * the axios integration): "get a token for a selection; report a rejected token", plus how API requests
 * are sent (fetch, dispatcher, DPoP proofs). Reached through a symbol, so it is not part of the public
 * API; an integration gets it with {@link tokenSourceOf} and never touches the client's internals.
 */
import { ConfigurationError } from './errors.js';
import type { DpopProofSource } from './http/token-request.js';
import type { TokenSelection } from './selection.js';
import type { Token } from './types.js';

export type { TokenSelection } from './selection.js';

export const kInternals = Symbol.for('m2m-token.internals');

/** The tokens of one selection (validated when selected). */
export interface SelectedTokens {
  /** A token for the selection: cache, single-flight, refresh-ahead (getToken()). */
  token(signal?: AbortSignal): Promise<Token>;
  /**
   * A resource server refused `rejected` (a 401 that asks for a new token): a newer token when another
   * call already has one, else one forced refresh; `undefined` when forced refreshes for this key are
   * rate-limited (the caller then hands the 401 over as it is).
   */
  rejected(rejected: Token, signal?: AbortSignal): Promise<Token | undefined>;
}

/** What an HTTP-client integration needs from a ClientCredentialsClient. */
export interface TokenSource {
  /**
   * Binds a selection (audience, scope, resource, extraParams; unset ones take the client's defaults).
   * @throws {ConfigurationError} a bad selection, named as in getToken()
   */
  select(selection: TokenSelection): SelectedTokens;
  /** The fetch the client was configured with (or the global one). */
  readonly fetch: typeof globalThis.fetch;
  /** The configured undici dispatcher, or the one presenting the mTLS client certificate, if any. */
  dispatcher(): Promise<unknown>;
  /** DPoP proofs for API requests, when DPoP is on. */
  readonly dpop?: DpopProofSource;
}

/**
 * The token source of a ClientCredentialsClient (from any copy of the package: the symbol is global).
 * @throws {ConfigurationError} `client` is not a ClientCredentialsClient
 */
export function tokenSourceOf(client: unknown): TokenSource {
  const source =
    typeof client === 'object' && client !== null
      ? (client as { [kInternals]?: TokenSource })[kInternals]
      : undefined;
  if (source === undefined || typeof source.select !== 'function') {
    throw new ConfigurationError('client', 'must be a ClientCredentialsClient');
  }
  return source;
}
