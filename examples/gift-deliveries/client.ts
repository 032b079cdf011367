/**
 * Gift Deliveries: the client of the Auth0 machine-to-machine sample, written with m2m-token.
 *
 * It calls the World Mappers API (resource server `urn:worldmappers`) with tokens it gets from the
 * authorization server by the client credentials grant (RFC 6749 section 4.4). Configuration comes
 * from the environment variables of the Auth0 sample, so pointed at a real Auth0 tenant it works
 * unchanged:
 *
 *   AUTH0_DOMAIN          your-tenant.eu.auth0.com (the token endpoint is https://AUTH0_DOMAIN/oauth/token)
 *   AUTH0_TOKEN_ENDPOINT  or the token endpoint URL itself (wins over AUTH0_DOMAIN when both are set)
 *   AUTH0_CLIENT_ID       the Gift Deliveries client id
 *   AUTH0_CLIENT_SECRET   its secret
 *   RESOURCE_SERVER       the API identifier, sent as `audience`: urn:worldmappers
 *   WORLDMAPPERS_API_URL  where the World Mappers API listens, e.g. http://127.0.0.1:4001
 *   AUTH0_AUTH_METHOD     optional: client_secret_json (default, as the Auth0 sample sends it),
 *                         client_secret_post or client_secret_basic
 */
import { ClientCredentialsClient, type TokenEvent } from 'm2m-token';

export type SecretAuthMethod = 'client_secret_json' | 'client_secret_post' | 'client_secret_basic';

export interface GiftDeliveriesConfig {
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  /** The resource server identifier (`RESOURCE_SERVER`), sent as the `audience` parameter. */
  audience: string;
  /** Base URL of the World Mappers API. */
  apiUrl: string;
  authMethod: SecretAuthMethod;
}

/** Optional hooks, for logging and tracing; the client works without them. */
export interface GiftDeliveriesHooks {
  /** Token events from m2m-token (token requests, cache hits, ...). Never carries a secret or a token. */
  onEvent?: (event: TokenEvent) => void;
  /** The fetch used for token requests. Default: the global fetch. */
  tokenFetch?: typeof globalThis.fetch;
  /** The fetch used for API calls (m2m-token adds the Authorization header around it). Default: the global fetch. */
  apiFetch?: typeof globalThis.fetch;
}

/** Thrown when a required environment variable is missing or invalid. Names the variable, never its value. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const SECRET_METHODS: readonly SecretAuthMethod[] = [
  'client_secret_json',
  'client_secret_post',
  'client_secret_basic',
];

/** Reads the configuration from environment variables named as in the Auth0 sample. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): GiftDeliveriesConfig {
  const missing: string[] = [];
  const need = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) missing.push(name);
    return value ?? '';
  };

  let tokenEndpoint = env.AUTH0_TOKEN_ENDPOINT?.trim();
  if (!tokenEndpoint) {
    const domain = env.AUTH0_DOMAIN?.trim();
    if (domain) tokenEndpoint = new URL('/oauth/token', toOrigin(domain)).href;
    else missing.push('AUTH0_DOMAIN (or AUTH0_TOKEN_ENDPOINT)');
  }
  const clientId = need('AUTH0_CLIENT_ID');
  const clientSecret = need('AUTH0_CLIENT_SECRET');
  const audience = need('RESOURCE_SERVER');
  const apiUrl = need('WORLDMAPPERS_API_URL');
  if (missing.length > 0) {
    throw new ConfigError(`Set these environment variables: ${missing.join(', ')}`);
  }

  const authMethod = (env.AUTH0_AUTH_METHOD?.trim() || 'client_secret_json') as SecretAuthMethod;
  if (!SECRET_METHODS.includes(authMethod)) {
    throw new ConfigError(`AUTH0_AUTH_METHOD must be one of ${SECRET_METHODS.join(', ')}`);
  }
  return { tokenEndpoint: tokenEndpoint as string, clientId, clientSecret, audience, apiUrl, authMethod };
}

/** `tenant.auth0.com` -> `https://tenant.auth0.com`; a value with a scheme is used as given. */
function toOrigin(domain: string): string {
  return /^https?:\/\//i.test(domain) ? domain : `https://${domain}`;
}

export interface Coordinates {
  address: string;
  lat: number;
  lng: number;
}

export interface DeliveryRoute {
  id: number;
  from: string;
  to: string;
  createdBy: string;
}

/**
 * A refusal by the World Mappers API. For 401 and 403 the RFC 6750 section 3 challenge in
 * `WWW-Authenticate` says why (`error`, `error_description`, and for 403 the `scope` needed).
 */
export class WorldMappersApiError extends Error {
  readonly status: number;
  /** `invalid_token`, `insufficient_scope`, ... when the API said. */
  readonly error: string | undefined;
  /** The scope the route needs, on a 403 insufficient_scope. */
  readonly requiredScope: string | undefined;

  constructor(status: number, error: string | undefined, description: string | undefined, scope?: string) {
    super(
      `World Mappers API answered ${status}${error ? ` ${error}` : ''}${description ? `: ${description}` : ''}`,
    );
    this.name = 'WorldMappersApiError';
    this.status = status;
    this.error = error;
    this.requiredScope = scope;
  }
}

/** The Gift Deliveries service's view of the World Mappers API. */
export class GiftDeliveries {
  /** The m2m-token client: one per process, shared by every call (it caches the token). */
  readonly tokens: ClientCredentialsClient;
  readonly #apiUrl: URL;
  readonly #fetch: typeof globalThis.fetch;

  constructor(config: GiftDeliveriesConfig, hooks: GiftDeliveriesHooks = {}) {
    this.tokens = new ClientCredentialsClient({
      tokenEndpoint: config.tokenEndpoint,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      // The Auth0 sample sends grant_type, client_id, client_secret and audience in a JSON body.
      authMethod: config.authMethod,
      audience: config.audience,
      headers: { 'user-agent': 'gift-deliveries/1.0' },
      ...(hooks.tokenFetch ? { fetch: hooks.tokenFetch } : {}),
      ...(hooks.onEvent ? { onEvent: hooks.onEvent } : {}),
    });
    this.#apiUrl = new URL(config.apiUrl);
    // Every call gets `Authorization: Bearer <token>`; a 401 makes the SDK fetch a new token and retry
    // once. The token is only ever sent to the API's own origin.
    this.#fetch = this.tokens.createFetch({
      audience: config.audience,
      allowedOrigins: [this.#apiUrl.origin],
      ...(hooks.apiFetch ? { fetch: hooks.apiFetch } : {}),
    });
  }

  /** GET /api/location/geocode (scope geocode:location). */
  async geocode(address: string): Promise<Coordinates> {
    const url = this.#url('/api/location/geocode');
    url.searchParams.set('address', address);
    return this.#json<Coordinates>(await this.#fetch(url));
  }

  /** GET /api/routes (scope read:routes). */
  async listRoutes(): Promise<DeliveryRoute[]> {
    const body = await this.#json<{ routes: DeliveryRoute[] }>(await this.#fetch(this.#url('/api/routes')));
    return body.routes;
  }

  /** POST /api/routes (scope write:routes). */
  async createRoute(from: string, to: string): Promise<DeliveryRoute> {
    const res = await this.#fetch(this.#url('/api/routes'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from, to }),
    });
    return this.#json<DeliveryRoute>(res);
  }

  #url(path: string): URL {
    return new URL(path, this.#apiUrl);
  }

  async #json<T>(res: Response): Promise<T> {
    if (res.ok) return (await res.json()) as T;
    // RFC 6750 section 3: the reason of a 401/403 is in the Bearer challenge.
    const challenge = parseBearerChallenge(res.headers.get('www-authenticate'));
    await res.body?.cancel();
    throw new WorldMappersApiError(res.status, challenge.error, challenge.error_description, challenge.scope);
  }
}

/** The auth-params of a `Bearer` challenge (RFC 6750 section 3), e.g. `{ realm, error, scope }`. */
export function parseBearerChallenge(header: string | null): Record<string, string | undefined> {
  const params: Record<string, string | undefined> = {};
  if (!header || !/^bearer\b/i.test(header)) return params;
  for (const match of header.slice(6).matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/gi)) {
    params[match[1]!.toLowerCase()] = match[2]!.replace(/\\(.)/g, '$1');
  }
  return params;
}
