/**
 * The retry policy of token requests, in one place: what is retried (network errors, timeouts, 5xx,
 * 429), what never is (400/401/403, OAuth errors such as invalid_client, redirects, bad bodies), and
 * how `Retry-After` is honoured (RFC 9110 10.2.3).
 */
import { HttpError, OAuthError } from '../errors.js';

/** Statuses worth another attempt. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/**
 * OAuth error codes that no repeat can fix (RFC 6749 5.2, RFC 8707 2): retried never, whatever the
 * status (some servers send invalid_client with a 500).
 */
const PERMANENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'access_denied',
]);

/** True when another attempt may succeed where this one failed. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof OAuthError && PERMANENT_OAUTH_ERRORS.has(error.error)) return false;
  if (error instanceof OAuthError || error instanceof HttpError) {
    return (
      isRetryableStatus(error.status) &&
      error.code !== 'M2M_RETRY_LATER' &&
      error.code !== 'M2M_RESPONSE_TOO_LARGE'
    );
  }
  if (error instanceof DOMException || (error instanceof Error && error.name === 'TimeoutError')) {
    // Our own per-attempt timeout; an AbortError comes from a caller and ends everything.
    return error.name === 'TimeoutError';
  }
  // fetch reports network failures as TypeError ("fetch failed", "Failed to fetch", ...).
  return error instanceof TypeError;
}

/** Retry-After as milliseconds from now: delay-seconds or an HTTP-date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Remembers, per token endpoint, until when the server asked clients to stay away (429/503 with
 * Retry-After). One per client: its new requests wait for (or fail fast until) the end of the pause
 * instead of hammering the endpoint. Per client rather than per process, so that one client's pause
 * never blocks another's unrelated credentials. Bounded: expired entries are dropped on access.
 */
export class BackoffGate {
  readonly #until = new Map<string, { until: number; status: number }>();

  /** Records a server's request to wait. */
  block(endpoint: string, until: number, status: number): void {
    const current = this.#until.get(endpoint);
    if (!current || current.until < until) this.#until.set(endpoint, { until, status });
    if (this.#until.size > 1000) this.#prune();
  }

  /** The pause still in force for this endpoint, if any. */
  check(endpoint: string, now = Date.now()): { until: number; status: number } | undefined {
    const entry = this.#until.get(endpoint);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.#until.delete(endpoint);
      return undefined;
    }
    return entry;
  }

  #prune(): void {
    const now = Date.now();
    for (const [key, entry] of this.#until) if (entry.until <= now) this.#until.delete(key);
  }
}
