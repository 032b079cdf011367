/**
 * The retry policy of token requests, in one place: what is retried (network errors, timeouts, 5xx,
 * 429), what never is (400/401/403, OAuth errors such as invalid_client, redirects, bad bodies), and
 * how `Retry-After` is honoured (RFC 9110 10.2.3).
 */
import { Lru } from '../cache/lru.js';
import { type Clock, epochOf, systemClock } from '../clock.js';
import { ErrorCode, HttpError, OAuthError } from '../errors.js';

/** Statuses worth another attempt. */
function isRetryableStatus(status: number): boolean {
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
      error.code !== ErrorCode.RETRY_LATER &&
      error.code !== ErrorCode.RESPONSE_TOO_LARGE
    );
  }
  if (error instanceof DOMException || (error instanceof Error && error.name === 'TimeoutError')) {
    // Our own per-attempt timeout; an AbortError comes from a caller and ends everything.
    return error.name === 'TimeoutError';
  }
  // fetch reports network failures as TypeError ("fetch failed", "Failed to fetch", ...); one that
  // carries an HTTP status is an answer a dispatcher threw, judged by that status.
  if (!(error instanceof TypeError)) return false;
  const status = reportedStatus(error);
  return status === undefined || isRetryableStatus(status);
}

/**
 * The HTTP status of an answer a dispatcher threw as an error: undici's `interceptors.responseError()`
 * throws a ResponseError with `statusCode` (fetch wraps it in a TypeError). Such an error is that
 * answer, not a network failure. Looked for along the cause chain (5 levels).
 */
export function reportedStatus(error: unknown): number | undefined {
  let current: unknown = error;
  try {
    for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
      const { statusCode, cause } = current as { statusCode?: unknown; cause?: unknown };
      if (
        typeof statusCode === 'number' &&
        Number.isInteger(statusCode) &&
        statusCode >= 100 &&
        statusCode <= 599
      )
        return statusCode;
      current = cause;
    }
  } catch {
    // A getter that throws: no status to go by.
  }
  return undefined;
}

/** Retry-After as milliseconds from now: delay-seconds or an HTTP-date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP-date is the one place a wall-clock reading enters a pause: it is turned into a duration at once.
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** A pause in force: how long it still lasts, and when that is as an epoch-ms moment (for errors). */
export interface Pause {
  readonly status: number;
  /** What the server asked for (ms from its answer), before the maxPauseMs cap. */
  readonly askedMs: number;
  /** Monotonic ms still to wait. */
  readonly remainingMs: number;
  /** Epoch ms of its end: `Date.now() + remainingMs`, never beyond now + maxPauseMs. */
  readonly retryAt: number;
}

/**
 * Whether a token request waits out a pause in force (a Retry-After the client accepts to wait for:
 * the server asked for at most `retry.maxRetryAfterMs`, and retries are on), or fails fast with
 * M2M_RETRY_LATER until its end. What the server asked decides, not the capped pause: a day's
 * Retry-After capped to a `maxPauseMs` under `maxRetryAfterMs` is still a reason to fail fast, never a
 * wait followed by the same request.
 */
export function waitsOut(pause: Pause, retry: { readonly maxRetryAfterMs: number } | false): boolean {
  return retry !== false && pause.askedMs <= retry.maxRetryAfterMs;
}

/** Most endpoints remembered; beyond it the pause recorded longest ago goes (one client rarely has two). */
const MAX_GATED_ENDPOINTS = 1000;

/**
 * Remembers, per token endpoint, until when the server asked clients to stay away (429/503 with
 * Retry-After). One per client: its new requests wait for (or fail fast until) the end of the pause
 * instead of hammering the endpoint. Per client rather than per process, so that one client's pause
 * never blocks another's unrelated credentials.
 *
 * A pause is capped at `maxPauseMs` (`retry.maxPauseMs`, default 60 s): a server, a proxy or an attacker
 * answering `Retry-After: 86400` once must not lock every key out for a day. Pauses run on the monotonic
 * clock, so a wall-clock jump neither stretches nor ends them.
 */
export class BackoffGate {
  /** Per endpoint: the end of its pause (monotonic), the status that asked for it, and its epoch moment. */
  readonly #until = new Lru<{
    readonly until: number;
    readonly status: number;
    readonly askedMs: number;
    readonly retryAt: number;
  }>(MAX_GATED_ENDPOINTS);
  readonly #maxPauseMs: number;
  readonly #clock: Clock;

  constructor(maxPauseMs: number, clock: Clock = systemClock) {
    this.#maxPauseMs = maxPauseMs;
    this.#clock = clock;
  }

  /**
   * Records a server's request to wait `waitMs` (capped at maxPauseMs) and returns the pause as
   * recorded. A longer pause already in force is kept.
   */
  block(endpoint: string, waitMs: number, status: number): Pause {
    const askedMs = Math.max(0, waitMs);
    const capped = Math.min(askedMs, this.#maxPauseMs);
    const until = this.#clock.monotonic() + capped;
    const current = this.#until.peek(endpoint);
    if (!current || current.until < until) {
      this.#until.set(endpoint, { until, status, askedMs, retryAt: this.#clock.now() + capped });
    }
    return this.check(endpoint) ?? { status, askedMs, remainingMs: 0, retryAt: this.#clock.now() };
  }

  /** The pause still in force for this endpoint, if any. */
  check(endpoint: string): Pause | undefined {
    const entry = this.#until.peek(endpoint);
    if (!entry) return undefined;
    const remainingMs = entry.until - this.#clock.monotonic();
    if (remainingMs <= 0) {
      this.#until.delete(endpoint);
      return undefined;
    }
    // The epoch moment noted when the pause began, while the wall clock agrees with the monotonic one
    // (so that every error of one pause shows the same retryAt); derived afresh after a jump.
    const derived = epochOf(this.#clock, entry.until);
    const retryAt = Math.abs(derived - entry.retryAt) < 1_000 ? entry.retryAt : derived;
    return { status: entry.status, askedMs: entry.askedMs, remainingMs, retryAt };
  }
}

/** The retry settings that bound how long one token request can take. */
export interface RequestBudget {
  readonly timeoutMs: number;
  readonly retry:
    | false
    | {
        readonly retries: number;
        readonly factor: number;
        readonly minTimeout: number;
        readonly maxTimeout: number;
        readonly randomize: boolean;
        readonly maxRetryAfterMs: number;
      };
  /** DPoP: one immediate repeat per attempt on use_dpop_nonce (RFC 9449 8). */
  readonly dpop: boolean;
  /** Discovery runs first (issuer configured): up to two metadata documents. */
  readonly discovery: boolean;
}

/**
 * The longest one token request (discovery, every attempt, every backoff and every Retry-After wait the
 * policy allows) can take, ms. The cross-process lock is held for this long plus a margin, so that it
 * never expires while its holder is still asking.
 */
export function worstCaseRequestMs(budget: RequestBudget): number {
  const { timeoutMs, retry } = budget;
  const tries = retry ? retry.retries + 1 : 1;
  // Each send waits up to timeoutMs for the answer; before it, the credential (a function, the
  // assertion file) may take up to timeoutMs too (credentials/deadline.ts).
  const perTry = (budget.dpop ? 2 : 1) * 2 * timeoutMs;
  // Before each try the client may wait out a Retry-After up to maxRetryAfterMs.
  const retryAfter = retry ? tries * retry.maxRetryAfterMs : 0;
  let backoff = 0;
  if (retry) {
    for (let i = 0; i < retry.retries; i++) {
      const nominal = Math.min(retry.maxTimeout, retry.minTimeout * retry.factor ** i);
      // p-retry's jitter multiplies by a random factor in [1, 2).
      backoff += retry.randomize ? 2 * nominal : nominal;
    }
  }
  const discovery = budget.discovery ? 2 * timeoutMs : 0;
  return discovery + tries * perTry + retryAfter + backoff;
}
