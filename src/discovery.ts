/**
 * Authorization server metadata discovery: RFC 8414 first, then OpenID Connect Discovery 1.0.
 * Fetched once (single-flight), cached for a TTL, and never cached when it fails.
 */
import * as z from 'zod/mini';
import { DiscoveryError } from './errors.js';
import { readBodyCapped } from './http/read-body.js';
import { isLoopbackHost } from './util.js';

/** The metadata fields m2m-token uses (RFC 8414 2, RFC 8705 5). Everything else is kept as is. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  readonly token_endpoint_auth_signing_alg_values_supported?: readonly string[];
  readonly mtls_endpoint_aliases?: { readonly token_endpoint?: string };
  readonly dpop_signing_alg_values_supported?: readonly string[];
  readonly [name: string]: unknown;
}

/** How long discovered metadata is used before it is fetched again. */
export const DISCOVERY_TTL_MS = 60 * 60 * 1000;
const MAX_METADATA_BYTES = 512 * 1024;

const metadataSchema = z.looseObject({
  issuer: z.string().check(z.minLength(1)),
  token_endpoint: z.string().check(z.minLength(1)),
  token_endpoint_auth_methods_supported: z.optional(z.array(z.string())),
  token_endpoint_auth_signing_alg_values_supported: z.optional(z.array(z.string())),
  mtls_endpoint_aliases: z.optional(z.looseObject({ token_endpoint: z.optional(z.string()) })),
  dpop_signing_alg_values_supported: z.optional(z.array(z.string())),
});

export interface DiscoveryHttp {
  readonly fetch: typeof globalThis.fetch;
  readonly dispatcher?: unknown;
  readonly timeoutMs: number;
  readonly allowInsecureHttp: boolean;
}

/**
 * The well-known URLs to try, in order.
 * RFC 8414 3.1: the well-known segment goes between the host and the issuer's path;
 * OpenID Connect Discovery 4: `/.well-known/openid-configuration` is appended to the issuer.
 */
export function wellKnownUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/** Fetches and validates the issuer's metadata. Throws DiscoveryError. */
export async function discover(issuer: string, http: DiscoveryHttp): Promise<AuthorizationServerMetadata> {
  const failures: string[] = [];
  for (const url of wellKnownUrls(issuer)) {
    const init: RequestInit & { dispatcher?: unknown } = {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(http.timeoutMs),
    };
    if (http.dispatcher !== undefined) init.dispatcher = http.dispatcher;
    let response: Response;
    try {
      response = await http.fetch(url, init);
    } catch (error) {
      throw new DiscoveryError(issuer, `could not fetch ${url}`, { cause: error });
    }
    if (response.status === 404 || response.status === 410 || response.status === 400) {
      await response.body?.cancel().catch(() => undefined);
      failures.push(`${url} answered ${response.status}`);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new DiscoveryError(issuer, `${url} answered ${response.status}`);
    }
    const text = await readBodyCapped(response, MAX_METADATA_BYTES).catch((error: unknown) => {
      throw new DiscoveryError(issuer, `could not read ${url}`, { cause: error });
    });
    return validateMetadata(issuer, url, text, http.allowInsecureHttp);
  }
  throw new DiscoveryError(issuer, `no metadata found (${failures.join('; ')})`);
}

export function validateMetadata(
  issuer: string,
  url: string,
  text: string,
  allowInsecureHttp: boolean,
): AuthorizationServerMetadata {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DiscoveryError(issuer, `${url} did not return JSON`);
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path[0];
    throw new DiscoveryError(issuer, `${url} returned metadata with a missing or invalid ${String(field ?? 'body')}`);
  }
  const metadata = parsed.data as AuthorizationServerMetadata;
  // RFC 8414 3.3: the issuer in the document must be identical to the one configured.
  if (metadata.issuer !== issuer) {
    const hint = metadata.issuer.replace(/\/$/, '') === issuer.replace(/\/$/, '') ? ' (check the trailing slash)' : '';
    throw new DiscoveryError(issuer, `metadata names issuer "${metadata.issuer}", not the configured one${hint} (RFC 8414 3.3)`);
  }
  checkEndpoint(issuer, 'token_endpoint', metadata.token_endpoint, allowInsecureHttp);
  const alias = metadata.mtls_endpoint_aliases?.token_endpoint;
  if (alias !== undefined) checkEndpoint(issuer, 'mtls_endpoint_aliases.token_endpoint', alias, allowInsecureHttp);
  return metadata;
}

function checkEndpoint(issuer: string, field: string, value: string, allowInsecureHttp: boolean): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DiscoveryError(issuer, `${field} is not an absolute URL`);
  }
  const ok = url.protocol === 'https:' || (url.protocol === 'http:' && (allowInsecureHttp || isLoopbackHost(url.hostname)));
  if (!ok) throw new DiscoveryError(issuer, `${field} must use https (http only on loopback)`);
}

/** Caches an issuer's metadata for a TTL; one fetch at a time; failures are not cached. */
export class MetadataCache {
  #value: { metadata: AuthorizationServerMetadata; until: number } | undefined;
  #pending: Promise<AuthorizationServerMetadata> | undefined;

  constructor(
    private readonly issuer: string,
    private readonly http: DiscoveryHttp,
    private readonly ttlMs = DISCOVERY_TTL_MS,
  ) {}

  /** The cached metadata when fresh (sync), else a promise of it. */
  get(): AuthorizationServerMetadata | Promise<AuthorizationServerMetadata> {
    const value = this.#value;
    if (value && Date.now() < value.until) return value.metadata;
    this.#pending ??= discover(this.issuer, this.http).then(
      (metadata) => {
        this.#value = { metadata, until: Date.now() + this.ttlMs };
        this.#pending = undefined;
        return metadata;
      },
      (error: unknown) => {
        this.#pending = undefined;
        throw error;
      },
    );
    return this.#pending;
  }
}
