/**
 * Sends one token request (RFC 6749 4.4.2) with its retries, and returns the judged answer.
 * Credentials go by exactly one method, never in the URL; redirects are never followed, so a secret
 * cannot travel to another host (RFC 9700 4.11 on open redirectors; RFC 6749 3.2).
 */
import pRetry from 'p-retry';
import type { ClientAuthenticator, TokenRequestParts } from '../auth/index.js';
import { ErrorCode, HttpError, OAuthError } from '../errors.js';
import type { NormalizedRetry } from '../options/index.js';
import { combine, knownValues } from '../redact/index.js';
import { sleep } from '../util.js';
import { discardBody, readBodyCapped } from './read-body.js';
import { type BackoffGate, isRetryable, parseRetryAfter, waitsOut } from './retry-policy.js';
import {
  type RequestContext,
  sentCredentials,
  shownUrl,
  transportError,
  viaTransport,
  withClientId,
} from './token-errors.js';
import { type ParsedToken, parseTokenResponse } from './token-response.js';

/** DPoP proofs (RFC 9449) for token requests and API requests; implemented in dpop.ts. */
export interface DpopProofSource {
  /** Lower-case token types this source makes acceptable ('dpop'). */
  readonly tokenType: 'dpop';
  /**
   * A fresh proof for a request, with the newest nonce known for its origin.
   * @param htm the method exactly as it is sent (each HTTP client normalises it its own way)
   * @param origin the request's origin, as `URL#origin` serialises it
   * @param path the request's path; a query or fragment is left out of `htu` here (RFC 9449 4.2)
   * @param accessToken the token sent with the proof (its hash becomes `ath`)
   */
  proof(htm: string, origin: string, path: string, accessToken?: string): Promise<string>;
  /** Records a `DPoP-Nonce` that the server at `origin` (as `URL#origin` serialises it) sent. */
  rememberNonce(origin: string, nonce: string): void;
}

export interface TokenRequestSettings {
  readonly fetch: typeof globalThis.fetch;
  readonly dispatcher?: unknown;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly retry: NormalizedRetry;
  readonly headers: Readonly<Record<string, string>>;
  readonly dpop?: DpopProofSource;
  /** Pauses a server asked for (429/503 + Retry-After), per endpoint, capped; one per client. */
  readonly gate: BackoffGate;
}

export interface TokenRequest {
  readonly endpoint: string;
  readonly issuer?: string;
  /** Parameters beyond grant_type and client authentication, in order (names may repeat). */
  readonly params: ReadonlyArray<readonly [string, string]>;
  /** Ends the request, its retries and its waits (the client closing); its reason is what rejects. */
  readonly signal?: AbortSignal;
}

export interface TokenResult extends ParsedToken {
  /** Epoch ms when the successful attempt was sent. */
  readonly sentAt: number;
  readonly status: number;
}

/** Attempts made so far, for events. */
export interface AttemptCounter {
  attempts: number;
  status?: number;
}

export interface RetryNotice {
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

const BEARER_ONLY: ReadonlySet<string> = new Set(['bearer']);
const BEARER_OR_DPOP: ReadonlySet<string> = new Set(['bearer', 'dpop']);

/** What one attempt saw, for the use_dpop_nonce repeat. */
interface AttemptNotes {
  dpopNonce?: string;
}

/** Sends the token request, retrying as the policy allows. */
export async function requestToken(
  request: TokenRequest,
  auth: ClientAuthenticator,
  settings: TokenRequestSettings,
  counter: AttemptCounter = { attempts: 0 },
  onRetry?: (notice: RetryNotice) => void,
): Promise<TokenResult> {
  const dispatcher = settings.dispatcher ?? (auth.dispatcher ? await auth.dispatcher() : undefined);
  const run = () => attemptWithNonce(request, auth, settings, dispatcher, counter);
  // Network failures and timeouts become M2M_NETWORK_ERROR / M2M_TIMEOUT naming the endpoint, for the
  // caller and in retry events; the retry policy still sees the runtime's own errors.
  const described = (error: unknown) =>
    transportError(error, {
      what: `token endpoint ${shownUrl(request.endpoint)}`,
      timeoutMs: settings.timeoutMs,
      attempts: counter.attempts,
      redact: auth.redact,
    });
  const retry = settings.retry;
  try {
    if (!retry || retry.retries === 0) return await run();

    return await pRetry(run, {
      retries: retry.retries,
      factor: retry.factor,
      minTimeout: retry.minTimeout,
      maxTimeout: retry.maxTimeout,
      randomize: retry.randomize,
      ...(request.signal ? { signal: request.signal } : {}),
      // Not unref'd: a short script awaiting a token during a backoff must not exit with the promise pending.
      shouldRetry: ({ error }) => isRetryable(error),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0 && isRetryable(error)) {
          // The nominal delay (p-retry adds jitter on top), capped as p-retry caps it.
          const delayMs = Math.min(retry.maxTimeout, retry.minTimeout * retry.factor ** (attemptNumber - 1));
          onRetry?.({ attempt: attemptNumber, delayMs, error: described(error) });
        }
      },
    });
  } catch (error) {
    throw described(error);
  }
}

/** One attempt, plus the single immediate repeat RFC 9449 8 asks for on `use_dpop_nonce`. */
async function attemptWithNonce(
  request: TokenRequest,
  auth: ClientAuthenticator,
  settings: TokenRequestSettings,
  dispatcher: unknown,
  counter: AttemptCounter,
): Promise<TokenResult> {
  const notes: AttemptNotes = {};
  try {
    return await attempt(request, auth, settings, dispatcher, counter, notes);
  } catch (error) {
    // RFC 9449 8: use_dpop_nonce comes with a DPoP-Nonce header (remembered by attempt()); repeat once
    // with a proof that carries it. Without a new nonce the same proof would fail the same way.
    if (settings.dpop && notes.dpopNonce && error instanceof OAuthError && error.error === 'use_dpop_nonce') {
      return attempt(request, auth, settings, dispatcher, counter);
    }
    throw error;
  }
}

async function attempt(
  request: TokenRequest,
  auth: ClientAuthenticator,
  settings: TokenRequestSettings,
  dispatcher: unknown,
  counter: AttemptCounter,
  notes?: AttemptNotes,
): Promise<TokenResult> {
  const { endpoint } = request;
  await waitForGate(settings.gate, endpoint, settings.retry, request.signal, () =>
    withClientId(`token endpoint ${shownUrl(endpoint)}`, {
      endpoint: shownUrl(endpoint),
      auth: auth.describe({ tokenEndpoint: endpoint, issuer: request.issuer }),
    }),
  );

  const parts: TokenRequestParts = {
    params: [
      ['grant_type', 'client_credentials'],
      ...request.params.map(([k, v]) => [k, v] as [string, string]),
    ],
    headers: { ...settings.headers, accept: 'application/json' },
  };
  // A token response is small: ask for it uncompressed. Not relied on (readBodyCapped counts decoded
  // bytes whatever the server does); a caller's own Accept-Encoding wins.
  if (!hasHeader(settings.headers, 'accept-encoding')) parts.headers['accept-encoding'] = 'identity';
  // A fresh assertion (and jti) for every attempt, retries included (RFC 7523 3).
  const authContext = { tokenEndpoint: endpoint, issuer: request.issuer };
  await auth.apply(parts, authContext);
  // Named in error messages, with hints (the assertion aud used, the Basic encoding...).
  const requestContext: RequestContext = { endpoint: shownUrl(endpoint), auth: auth.describe(authContext) };
  const where = `token endpoint ${requestContext.endpoint}`;
  const body =
    auth.bodyFormat === 'json' ? jsonBody(parts.params) : new URLSearchParams(parts.params).toString();
  parts.headers['content-type'] =
    auth.bodyFormat === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
  // RFC 9449 5: a proof with htu = the endpoint without its query; the endpoint's nonce (8) is per origin.
  let dpopOrigin = '';
  if (settings.dpop) {
    const url = new URL(endpoint);
    dpopOrigin = url.origin;
    parts.headers.dpop = await settings.dpop.proof('POST', url.origin, url.pathname);
  }
  // Whatever credential this request carries (secret, Basic value, assertion, proof) is removed from
  // anything the answer makes us show, in every encoding.
  const redact = combine(auth.redact, knownValues(sentCredentials(parts)));

  const init: RequestInit & { dispatcher?: unknown } = {
    method: 'POST',
    headers: parts.headers,
    body,
    redirect: 'manual',
    signal: attemptSignal(settings.timeoutMs, request.signal),
  };
  if (dispatcher !== undefined) init.dispatcher = dispatcher;

  counter.attempts++;
  const sentAt = Date.now();
  const response = await viaTransport(settings.fetch(endpoint, init), redact);
  counter.status = response.status;

  if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
    discardBody(response);
    throw new HttpError(
      `token endpoint ${requestContext.endpoint} answered ${response.status} (a redirect); redirects are not followed so credentials stay with the configured endpoint: configure the final token endpoint URL`,
      { status: response.status, code: ErrorCode.REDIRECT },
    );
  }

  // RFC 9449 8.2: the newest nonce wins, whether it came with an error or with a token.
  const nonce = settings.dpop ? response.headers.get('dpop-nonce') : null;
  if (nonce) {
    settings.dpop?.rememberNonce(dpopOrigin, nonce);
    if (notes) notes.dpopNonce = nonce;
  }

  if (response.status === 429 || response.status === 503) {
    // Counted from the answer's arrival. The gate caps the pause at retry.maxPauseMs (a Retry-After of a
    // day, or a date in 2100, must not lock the client out) and keeps it on the monotonic clock.
    const waitMs = parseRetryAfter(response.headers.get('retry-after'));
    if (waitMs !== undefined) {
      const pause = settings.gate.block(endpoint, waitMs, response.status);
      if (!waitsOut(pause, settings.retry)) {
        // Not waiting that long. An RFC 6749 5.2 error body is still the answer (OAuthError); the next
        // calls fail fast with M2M_RETRY_LATER until retryAt.
        const text = await readBodyCapped(response, settings.maxResponseBytes, where).catch(() => '');
        try {
          parseTokenResponse({
            status: response.status,
            headers: response.headers,
            body: text,
            sentAt,
            acceptedTokenTypes: BEARER_ONLY,
            redact,
            request: requestContext,
          });
        } catch (error) {
          if (error instanceof OAuthError) throw error;
        }
        throw retryLater(withClientId(where, requestContext), response.status, pause.retryAt);
      }
    }
  }

  const text = await viaTransport(readBodyCapped(response, settings.maxResponseBytes, where), redact);
  const parsed = parseTokenResponse({
    status: response.status,
    headers: response.headers,
    body: text,
    sentAt,
    acceptedTokenTypes: settings.dpop ? BEARER_OR_DPOP : BEARER_ONLY,
    redact,
    request: requestContext,
  });
  // RFC 9449 5: a DPoP-bound token has token_type DPoP. A server without DPoP support ignores the proof
  // and issues a Bearer token; with DPoP on, that silent downgrade to a stealable token is an error.
  if (settings.dpop && parsed.token.tokenType.toLowerCase() !== settings.dpop.tokenType) {
    throw new HttpError(
      `token endpoint ${requestContext.endpoint} issued token_type "${parsed.token.tokenType}" although DPoP was requested (RFC 9449 5); the server does not bind tokens to the DPoP key: enable DPoP there, or turn the dpop option off`,
      { status: response.status, code: ErrorCode.HTTP },
    );
  }
  return { ...parsed, sentAt, status: response.status };
}

const keepAlive = (): void => undefined;

/**
 * The signal of one attempt: its timeout (which also covers reading the body), and the client closing.
 * Node holds a timeout signal strongly only while it has an `abort` listener; combined by
 * `AbortSignal.any` alone it can be collected, and its timer with it, so that a silent server is waited
 * for forever. The listener goes when the signal fires.
 */
function attemptSignal(timeoutMs: number, closing: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  if (closing === undefined) return timeout;
  timeout.addEventListener('abort', keepAlive, { once: true });
  return AbortSignal.any([timeout, closing]);
}

/** Before sending: honour a pause the server asked for (429/503 + Retry-After) on this endpoint. */
async function waitForGate(
  gate: BackoffGate,
  endpoint: string,
  retry: NormalizedRetry,
  signal: AbortSignal | undefined,
  who: () => string,
): Promise<void> {
  const pause = gate.check(endpoint);
  if (!pause) return;
  if (waitsOut(pause, retry)) {
    await sleep(pause.remainingMs, signal);
    return;
  }
  throw retryLater(who(), pause.status, pause.retryAt);
}

/** `who`: the token endpoint and the client id, as every token-request error names them. */
function retryLater(who: string, status: number, retryAt: number): HttpError {
  return new HttpError(
    `${who} asked to retry after ${new Date(retryAt).toISOString()} (status ${status}); not waiting that long`,
    { status, retryAt, code: ErrorCode.RETRY_LATER },
  );
}

/** client_secret_json: one JSON object; a repeated name (resource) becomes an array. */
function jsonBody(params: ReadonlyArray<readonly [string, string]>): string {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of params) {
    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else out[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return JSON.stringify(out);
}

function hasHeader(headers: Readonly<Record<string, string>>, name: string): boolean {
  for (const key in headers) if (key.toLowerCase() === name) return true;
  return false;
}
