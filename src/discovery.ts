/**
 * Authorization server metadata discovery: RFC 8414 first, then OpenID Connect Discovery 1.0.
 * Fetched once (single-flight), cached for a TTL, and never cached when it fails.
 */
import * as z from 'zod/mini';
import { type Clock, systemClock } from './clock.js';
import { DiscoveryError } from './errors.js';
import { type EventSink, nextRequestId } from './events.js';
import { parseJsonObject, readBodyCapped } from './http/read-body.js';
import { reportedStatus } from './http/retry-policy.js';
import { shownUrl, transportError, viaTransport } from './http/token-errors.js';
import { endpointProblem } from './options/index.js';
import { describeError, scrubAndClip } from './redact/index.js';
import type { TokenKeyInfo } from './types.js';

/** The metadata fields m2m-token uses (RFC 8414 2, RFC 8705 5). Everything else is kept as is. */
export interface AuthorizationServerMetadata {
  /** The issuer identifier; equal to the issuer the document was fetched for. */
  readonly issuer: string;
  /** The token endpoint URL. */
  readonly token_endpoint: string;
  /** Client authentication methods the token endpoint accepts. */
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  /** JWS algorithms the token endpoint accepts for client assertions. */
  readonly token_endpoint_auth_signing_alg_values_supported?: readonly string[];
  /**
   * Endpoints to use with mutual TLS (RFC 8705 5).
   * @see https://www.rfc-editor.org/rfc/rfc8705#section-5
   */
  readonly mtls_endpoint_aliases?: {
    /** The token endpoint for mutual-TLS clients. */
    readonly token_endpoint?: string;
  };
  /**
   * JWS algorithms the server accepts for DPoP proofs.
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-5.1
   */
  readonly dpop_signing_alg_values_supported?: readonly string[];
  /** Any other metadata the server published. */
  readonly [name: string]: unknown;
}

/** How long discovered metadata is used before it is fetched again. */
export const DISCOVERY_TTL_MS = 60 * 60 * 1000;
/**
 * When a refresh of expired metadata fails, the previous document is still used for up to this long
 * (and the refresh is tried again on the next call): a metadata outage alone should not stop token
 * requests to an endpoint that still works.
 */
export const DISCOVERY_MAX_STALE_MS = 24 * 60 * 60 * 1000;
const MAX_METADATA_BYTES = 512 * 1024;

const stringList = z.optional(z.array(z.string()));
const metadataSchema = z.looseObject({
  issuer: z.string().check(z.minLength(1)),
  token_endpoint: z.string().check(z.minLength(1)),
  token_endpoint_auth_methods_supported: stringList,
  token_endpoint_auth_signing_alg_values_supported: stringList,
  mtls_endpoint_aliases: z.optional(z.looseObject({ token_endpoint: z.optional(z.string()) })),
  dpop_signing_alg_values_supported: stringList,
});

export interface DiscoveryHttp {
  readonly fetch: typeof globalThis.fetch;
  readonly dispatcher?: unknown;
  readonly timeoutMs: number;
  readonly allowInsecureHttp: boolean;
}

/**
 * The well-known URLs to try, in order.
 *
 * - RFC 8414 3.1: any terminating "/" of the issuer's path is removed, then
 *   `/.well-known/oauth-authorization-server` goes between the host and the path:
 *   `https://as.example/tenant/` -> `https://as.example/.well-known/oauth-authorization-server/tenant`.
 * - OpenID Connect Discovery 1.0 section 4 (and RFC 8414 5 on compatibility): `/.well-known/openid-configuration`
 *   is appended to the issuer (without its terminating "/"):
 *   `https://as.example/tenant/` -> `https://as.example/tenant/.well-known/openid-configuration`.
 */
function wellKnownUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/**
 * Fetches and validates the issuer's metadata.
 *
 * The next location is tried when one has no metadata: a 3xx or 4xx answer (redirects are not
 * followed), or a 2xx body that is not a JSON object (a catch-all HTML page). A document that is a
 * JSON object is the issuer's answer: when it is invalid (wrong issuer, missing token_endpoint, ...)
 * discovery fails rather than looking elsewhere (RFC 8414 3.3: its data "MUST NOT be used").
 * A 5xx or 429 fails at once (the next call tries again).
 *
 * @throws {DiscoveryError} no usable metadata
 * @throws {HttpError} `M2M_RESPONSE_TOO_LARGE`: a document over 512 KiB (decoded)
 * @throws {M2MTokenError} `M2M_NETWORK_ERROR` / `M2M_TIMEOUT`: the URL could not be reached or did not answer
 *   in time (the runtime's error as `cause`)
 */
export async function discover(
  issuer: string,
  http: DiscoveryHttp,
  onAnswer?: (url: string, status: number) => void,
): Promise<AuthorizationServerMetadata> {
  const misses: string[] = [];
  for (const url of wellKnownUrls(issuer)) {
    const init: RequestInit & { dispatcher?: unknown } = {
      // Metadata is small: asked for uncompressed, though readBodyCapped never relies on it.
      headers: { accept: 'application/json', 'accept-encoding': 'identity' },
      redirect: 'manual',
      signal: AbortSignal.timeout(http.timeoutMs),
    };
    if (http.dispatcher !== undefined) init.dispatcher = http.dispatcher;
    // A network failure or a timeout is M2M_NETWORK_ERROR / M2M_TIMEOUT naming this URL.
    const failed = (error: unknown) =>
      transportError(error, { what: `discovery document ${shownUrl(url)}`, timeoutMs: http.timeoutMs });
    let response: Response;
    try {
      response = await viaTransport(http.fetch(url, init));
    } catch (error) {
      // A dispatcher that throws non-2xx answers as errors (undici's interceptors.responseError()):
      // a 3xx or 4xx is still "no metadata here".
      const reported = reportedStatus(error);
      if (reported === undefined || !isMiss(reported)) throw failed(error);
      onAnswer?.(url, reported);
      misses.push(`${url} answered ${reported}`);
      continue;
    }
    const status = response.status;
    onAnswer?.(url, status);
    if (response.type === 'opaqueredirect' || isMiss(status)) {
      void response.body?.cancel().catch(() => undefined); // not awaited: a teed stream never settles
      misses.push(`${url} answered ${status === 0 ? 'a redirect' : status}`);
      continue;
    }
    if (status < 200 || status >= 300) {
      void response.body?.cancel().catch(() => undefined); // not awaited: a teed stream never settles
      throw new DiscoveryError(issuer, `${url} answered ${status}`);
    }
    // Counted in decoded bytes: over the cap is HttpError M2M_RESPONSE_TOO_LARGE (a decompression bomb
    // is stopped after MAX_METADATA_BYTES of output).
    const text = await viaTransport(
      readBodyCapped(response, MAX_METADATA_BYTES, `discovery document ${shownUrl(url)}`),
    ).catch((error: unknown) => {
      throw failed(error);
    });
    const json = parseJsonObject(text);
    if (json === undefined) {
      misses.push(`${url} did not return a JSON object`);
      continue;
    }
    return validateMetadata(issuer, url, json, http.allowInsecureHttp);
  }
  throw new DiscoveryError(issuer, `no authorization server metadata found (${misses.join('; ')})`);
}

/** An answer that means "no metadata at this URL": a redirect or a 4xx other than 429. */
function isMiss(status: number): boolean {
  return status >= 300 && status < 500 && status !== 429;
}

/** Checks a metadata document (a parsed JSON object) fetched from `url` for `issuer`. */
function validateMetadata(
  issuer: string,
  url: string,
  json: Record<string, unknown>,
  allowInsecureHttp: boolean,
): AuthorizationServerMetadata {
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path[0];
    const name = String(field ?? 'body');
    const what = field !== undefined && !(name in json) ? `no ${name}` : `an invalid ${name}`;
    throw new DiscoveryError(issuer, `${url} returned metadata with ${what} (RFC 8414 2)`);
  }
  const metadata = parsed.data as AuthorizationServerMetadata;
  // RFC 8414 3.3: the issuer in the document must be identical to the one configured, else the
  // document must not be used (it could be another server's, offered to capture our credentials).
  if (metadata.issuer !== issuer) {
    const hint =
      metadata.issuer.replace(/\/+$/, '') === issuer.replace(/\/+$/, '') ? '; check the trailing slash' : '';
    throw new DiscoveryError(
      issuer,
      `${url} names issuer "${scrubAndClip(metadata.issuer, 200)}", not the configured one (RFC 8414 3.3${hint})`,
    );
  }
  checkEndpoint(issuer, 'token_endpoint', metadata.token_endpoint, allowInsecureHttp);
  const alias = metadata.mtls_endpoint_aliases?.token_endpoint;
  if (alias !== undefined)
    checkEndpoint(issuer, 'mtls_endpoint_aliases.token_endpoint', alias, allowInsecureHttp);
  return metadata;
}

/** A discovered endpoint gets the configured one's rules (options/values.ts endpointProblem). */
function checkEndpoint(issuer: string, field: string, value: string, allowInsecureHttp: boolean): void {
  const problem = endpointProblem(value, allowInsecureHttp);
  if (problem !== undefined) throw new DiscoveryError(issuer, `${field}: ${problem}`);
}

export interface MetadataCacheOptions {
  /** How long a fetched document is used (default {@link DISCOVERY_TTL_MS}). */
  readonly ttlMs?: number;
  /** How long an expired document is still used while refreshes fail (default {@link DISCOVERY_MAX_STALE_MS}). */
  readonly maxStaleMs?: number;
  /** Where `discovery_start` / `discovery_success` / `discovery_failure` go, about `key`. */
  readonly events?: EventSink;
  readonly key?: TokenKeyInfo;
  /** The clock of the TTL, the stale window and the events' durations (all monotonic intervals). */
  readonly clock?: Clock;
}

/** A fetched document and the monotonic moment its TTL ends. */
interface Fetched {
  readonly metadata: AuthorizationServerMetadata;
  readonly until: number;
}

/**
 * An issuer's metadata, cached for a TTL. One fetch at a time (every concurrent caller waits on it);
 * a failure reaches those callers and is not cached, so the next call fetches again. When a refresh
 * of an expired document fails, the previous one is used meanwhile (up to `maxStaleMs`). Both are
 * intervals, measured on the monotonic clock: setting the system clock neither ends nor stretches them.
 */
export class MetadataCache {
  readonly #issuer: string;
  readonly #http: DiscoveryHttp;
  readonly #ttlMs: number;
  readonly #maxStaleMs: number;
  readonly #events: EventSink | undefined;
  readonly #key: TokenKeyInfo;
  readonly #clock: Clock;
  #value: Fetched | undefined;
  #pending: Promise<AuthorizationServerMetadata> | undefined;

  constructor(issuer: string, http: DiscoveryHttp, options: MetadataCacheOptions = {}) {
    this.#issuer = issuer;
    this.#http = http;
    this.#ttlMs = options.ttlMs ?? DISCOVERY_TTL_MS;
    this.#maxStaleMs = options.maxStaleMs ?? DISCOVERY_MAX_STALE_MS;
    this.#events = options.events;
    this.#key = options.key ?? { endpoint: issuer, clientId: '' };
    this.#clock = options.clock ?? systemClock;
  }

  /** The cached metadata when fresh (synchronously), else a promise of it. */
  get(): AuthorizationServerMetadata | Promise<AuthorizationServerMetadata> {
    const value = this.#value;
    if (value && this.#clock.monotonic() < value.until) return value.metadata;
    this.#pending ??= this.#fetch(value);
    return this.#pending;
  }

  async #fetch(previous: Fetched | undefined) {
    const events = this.#events;
    const clock = this.#clock;
    const requestId = nextRequestId();
    const started = clock.monotonic();
    let answered: { url: string; status: number } | undefined;
    const issuer = this.#issuer;
    if (events?.active) events.emit({ type: 'discovery_start', key: this.#key, requestId, issuer });
    try {
      const metadata = await discover(issuer, this.#http, (url, status) => {
        answered = { url, status };
      });
      this.#value = { metadata, until: clock.monotonic() + this.#ttlMs };
      if (events?.active) {
        events.emit({
          type: 'discovery_success',
          key: this.#key,
          requestId,
          issuer,
          url: answered?.url ?? issuer,
          status: answered?.status ?? 200,
          durationMs: clock.monotonic() - started,
          tokenEndpoint: shownUrl(metadata.token_endpoint),
        });
      }
      return metadata;
    } catch (error) {
      if (events?.active) {
        events.emit({
          type: 'discovery_failure',
          key: this.#key,
          requestId,
          issuer,
          ...(answered ?? {}),
          durationMs: clock.monotonic() - started,
          error: describeError(error),
        });
      }
      if (previous && clock.monotonic() < previous.until + this.#maxStaleMs) return previous.metadata;
      throw error;
    } finally {
      this.#pending = undefined;
    }
  }
}
