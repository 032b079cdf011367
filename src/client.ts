/**
 * ClientCredentialsClient, the facade: validates options, picks the server and the client
 * authentication, builds the function that obtains a token for a key (auth + http + the request's
 * events), and delegates to the token manager (caching, single-flight, refresh-ahead, locks) and to the
 * HTTP-client integrations. Data flows one way:
 * options -> server + authenticator -> obtain -> manager -> Token -> fetch/undici/axios.
 */
import { BasicAutoDetect } from './auth/basic-auto-detect.js';
import { type ClientAuthenticator, createAuthenticator } from './auth/index.js';
import { certificateBinding } from './auth/tls-client-auth.js';
import { MemoryTokenCache } from './cache/memory-cache.js';
import { credentialsOf, rotatingCredentialOf } from './credentials/index.js';
import { createDpopProofSource } from './dpop.js';
import { EventSink } from './events.js';
import { type CreateFetchOptions, createAuthorizedFetch } from './fetch/fetch-wrapper.js';
import { BackoffGate, worstCaseRequestMs } from './http/retry-policy.js';
import type { TokenRequestSettings } from './http/token-request.js';
import { kInternals, type TokenSource } from './internal.js';
import { FORCED_REFRESH_INTERVAL_MS } from './manager/flight.js';
import { TokenManager } from './manager/token-manager.js';
import { createObtain } from './obtain.js';
import {
  type ClientCredentialsClientOptions,
  type NormalizedOptions,
  normalizeOptions,
} from './options/index.js';
import { checkCallOptions, GET_TOKEN_OPTIONS, INVALIDATE_OPTIONS } from './options/keys.js';
import { type ResolvedRequest, SelectionResolver } from './selection.js';
import { resolveServer, type ServerInfo } from './server.js';
import type { GetTokenOptions, Token } from './types.js';

/** Extra time a cross-process lock is held beyond the worst-case token request. */
const LOCK_MARGIN_MS = 2_000;

/**
 * An OAuth 2.0 client credentials client (RFC 6749 4.4).
 *
 * @example
 * ```ts
 * const client = new ClientCredentialsClient({
 *   tokenEndpoint: 'https://idp.example.com/oauth/token',
 *   clientId: process.env.CLIENT_ID!,
 *   clientSecret: process.env.CLIENT_SECRET!,
 *   audience: 'urn:worldmappers',
 * });
 * const { accessToken } = await client.getToken();
 * const res = await client.fetch('https://api.example.com/geocode?address=Berlin');
 * await client.close(); // or: await using client = new ClientCredentialsClient({ ... });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export class ClientCredentialsClient {
  readonly #options: NormalizedOptions;
  readonly #events: EventSink;
  readonly #fetch: typeof globalThis.fetch;
  readonly #dispatcher: unknown;
  readonly #server: () => Promise<ServerInfo> | ServerInfo;
  readonly #selections: SelectionResolver;
  readonly #manager: TokenManager;
  readonly #source: TokenSource;
  /** Every authenticator used (discovery may switch): close() releases what they hold (mTLS Agents). */
  readonly #authenticators = new Set<ClientAuthenticator>();
  readonly #endpointForKey: string;
  #defaultFetch: typeof globalThis.fetch | undefined;

  /**
   * Validates the options synchronously; nothing is sent until the first token is needed.
   *
   * @throws {ConfigurationError} a bad or unknown option, named by `option` (a missing `clientId`, no
   *   secret for a client_secret_* method, both or neither of `tokenEndpoint`/`issuer`, ...)
   */
  constructor(options: ClientCredentialsClientOptions) {
    const normalized = normalizeOptions(options);
    this.#options = normalized;
    const cache = options.cache === false ? undefined : (options.cache ?? new MemoryTokenCache());
    this.#events = new EventSink(options.onEvent);
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#dispatcher = options.dispatcher;
    const dpop = options.dpop ? createDpopProofSource(options.dpop) : undefined;

    // An assertion made elsewhere, and secrets or keys given as functions (src/credentials).
    const credentials = credentialsOf(options, normalized.timeoutMs);
    const auth = options.tokenEndpoint
      ? createAuthenticator(options, normalized.authMethod, credentials)
      : undefined;
    this.#server = resolveServer(
      options,
      normalized,
      auth,
      { fetch: this.#fetch, dispatcher: options.dispatcher, events: this.#events },
      credentials,
    );
    const http: TokenRequestSettings = {
      fetch: this.#fetch,
      dispatcher: options.dispatcher,
      timeoutMs: normalized.timeoutMs,
      maxResponseBytes: normalized.maxResponseBytes,
      retry: normalized.retry,
      headers: normalized.headers,
      dpop,
      gate: new BackoffGate(normalized.maxPauseMs),
    };
    this.#endpointForKey = normalized.tokenEndpoint ?? (normalized.issuer as string);
    this.#selections = new SelectionResolver(normalized, this.#endpointForKey, {
      dpop: dpop?.keyBinding,
      certificate: certificateBinding(options, normalized.authMethod),
    });
    const worstCase = worstCaseRequestMs({
      timeoutMs: normalized.timeoutMs,
      retry: normalized.retry,
      dpop: dpop !== undefined,
      discovery: normalized.issuer !== undefined,
    });
    this.#manager = new TokenManager({
      obtain: createObtain({
        server: () => this.#serverInfo(),
        http,
        // Basic auto-detection and its memory of what worked (auth/basic-auto-detect.ts).
        basicAutoDetect: new BasicAutoDetect(options, credentials.secret),
        rotating: rotatingCredentialOf(credentials),
        events: this.#events,
      }),
      cache,
      ownsCache: options.cache === undefined,
      lifetime: normalized,
      events: this.#events,
      // Held for the longest the holder can take, so that it never expires while the holder still asks.
      lockTtlMs: worstCase + LOCK_MARGIN_MS,
      hotKey: this.#selections.defaults.key,
      forcedRefreshIntervalMs: FORCED_REFRESH_INTERVAL_MS,
    });
    const manager = this.#manager;
    const selections = this.#selections;
    this.#source = {
      select: (selection) => {
        const request = selections.resolve(selection);
        return {
          token: (signal) => manager.get(request, signal),
          rejected: (token, signal) => manager.replaceRejected(request, token, signal),
        };
      },
      fetch: this.#fetch,
      dispatcher: async () => this.#dispatcher ?? (await this.#serverInfo()).auth.dispatcher?.(),
      ...(dpop ? { dpop } : {}),
    };
  }

  /**
   * Returns an access token for the default (or given) audience, scope and resource: from the cache when
   * one is usable, else from one token request shared by every concurrent caller. Tokens near their end
   * are refreshed in the background, so in a steady state no caller waits on the network.
   *
   * @throws {OAuthError} the server refused (RFC 6749 5.2)
   * @throws {HttpError} an unusable answer
   * @throws {ConfigurationError} bad per-call options or an unreadable key
   * @throws {M2MTokenError} code `M2M_NETWORK_ERROR` or `M2M_TIMEOUT`: the token endpoint could not be reached
   * @throws {M2MTokenError} code `M2M_CLIENT_CLOSED` after {@link ClientCredentialsClient.close}
   * @example
   * ```ts
   * const { accessToken } = await client.getToken({ audience: 'urn:other-api', scope: ['read:routes'] });
   * ```
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4.2
   */
  getToken(options?: GetTokenOptions): Promise<Token> {
    if (options === undefined) return this.#manager.get(this.#selections.defaults);
    let request: ResolvedRequest;
    try {
      checkCallOptions(options, GET_TOKEN_OPTIONS);
      request = this.#selections.resolve(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (options.forceRefresh) return this.#manager.refresh(request, options.signal);
    return this.#manager.get(request, options.signal);
  }

  /**
   * Drops the cached token for these (or the default) parameters. A token request for them still under
   * way when this is called reaches its callers but is not cached.
   *
   * @throws {ConfigurationError} bad or unknown options
   */
  async invalidate(options: Omit<GetTokenOptions, 'forceRefresh' | 'signal'> = {}): Promise<void> {
    checkCallOptions(options, INVALIDATE_OPTIONS);
    await this.#manager.invalidate(this.#selections.resolve(options));
  }

  /**
   * Drops every token this client has cached (with a shared cache: the keys it used, at most as many as
   * the cache keeps, or 10,000). Token requests still under way reach their callers but are not cached.
   */
  async clear(): Promise<void> {
    await this.#manager.clear();
  }

  /**
   * Releases what the client holds: stops background work, abandons token requests and lock waits still
   * under way (their callers reject with code `M2M_CLIENT_CLOSED`), waits for stores and lock releases
   * already under way, and closes the undici Agent it made for mTLS (never a `dispatcher` you gave).
   * Every later call rejects with `M2M_CLIENT_CLOSED`. Idempotent. Also `await using client = ...`.
   */
  async close(): Promise<void> {
    await this.#manager.close();
    await Promise.all([...this.#authenticators].map((auth) => auth.close?.()));
  }

  /** `await using client = new ClientCredentialsClient(...)`: {@link ClientCredentialsClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * A fetch that sends `Authorization: Bearer <token>` for the default audience/scope, retries once on a
   * 401, and never sends the token to another origin on a redirect. Same arguments as `fetch`; the API
   * request's own failures are fetch's errors.
   *
   * @throws the token errors of {@link ClientCredentialsClient.getToken}
   * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    this.#defaultFetch ??= createAuthorizedFetch(this.#source, {});
    return this.#defaultFetch(input, init);
  }

  /**
   * A fetch-compatible function bound to an audience/scope/resource, with an optional origin allowlist
   * (a request to any other origin rejects with {@link OriginNotAllowedError} before anything is sent).
   *
   * @throws {ConfigurationError} bad or unknown options (at once, not on the first call)
   * @example
   * ```ts
   * const worldMappers = client.createFetch({
   *   audience: 'urn:worldmappers',
   *   allowedOrigins: ['https://api.example.com'],
   * });
   * const res = await worldMappers('https://api.example.com/api/routes');
   * ```
   */
  createFetch(options: CreateFetchOptions = {}): typeof globalThis.fetch {
    return createAuthorizedFetch(this.#source, options);
  }

  /** @internal The seam of the HTTP-client integrations (internal.ts). */
  get [kInternals](): TokenSource {
    return this.#source;
  }

  /** Shows the non-secret configuration only. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const o = this.#options;
    return `ClientCredentialsClient { endpoint: '${this.#endpointForKey}', clientId: '${o.clientId}', authMethod: '${o.authMethod}' }`;
  }

  /** The non-secret configuration, for JSON loggers: `{ endpoint, clientId, authMethod }`. */
  toJSON(): Record<string, unknown> {
    return {
      endpoint: this.#endpointForKey,
      clientId: this.#options.clientId,
      authMethod: this.#options.authMethod,
    };
  }

  // ---------------------------------------------------------------------------------------------

  #serverInfo(): Promise<ServerInfo> {
    const info = this.#server();
    if (info instanceof Promise) return info.then((i) => this.#remember(i));
    return Promise.resolve(this.#remember(info));
  }

  #remember(info: ServerInfo): ServerInfo {
    this.#authenticators.add(info.auth);
    return info;
  }
}

export type { ClientAuthenticator };
