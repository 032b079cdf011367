/**
 * m2m-token/otel: `registerOpenTelemetry({ tracerProvider?, meterProvider? })`, spans and metrics made
 * from the events every client publishes on the `m2m-token` diagnostics channel. Nothing in the client
 * knows about OpenTelemetry; @opentelemetry/api is an optional peer dependency, imported only here.
 *
 * Spans (kind CLIENT), following the HTTP client semantic conventions where they fit:
 * - `m2m-token token request`, from `token_request_start` to its `token_request_success` /
 *   `token_request_failure` (matched by `requestId`): `server.address`, `server.port`, `url.full` (the
 *   token endpoint, no query), `http.request.method` (POST), `http.response.status_code`, `error.type`,
 *   and `m2m_token.auth_method`, `m2m_token.cache.outcome` (why the token was requested: miss,
 *   refresh_ahead, forced, rejected), `m2m_token.client_id`, `m2m_token.audience`, `m2m_token.scope`,
 *   `m2m_token.resource`, `m2m_token.attempts`; retries and auth fallbacks as span events.
 * - `m2m-token discovery`, from `discovery_start` to its end: the same HTTP attributes (GET, the
 *   well-known URL used) and `m2m_token.issuer`.
 *
 * Metrics: `m2m_token.cache.hits` and `m2m_token.cache.misses` (counters), `m2m_token.token_request.duration`
 * and `m2m_token.discovery.duration` (histograms, seconds), `m2m_token.refresh_ahead.failures` (counter).
 *
 * Events never carry a secret, an assertion or a token, so no attribute can.
 *
 * @example
 * ```ts
 * import { registerOpenTelemetry } from 'm2m-token/otel';
 *
 * // With the global providers (registered by @opentelemetry/sdk-node or similar):
 * const unregister = registerOpenTelemetry();
 * // ... later, e.g. at shutdown:
 * unregister();
 * ```
 * @module
 */
import {
  type Attributes,
  type Counter,
  type Histogram,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { Lru } from '../cache/lru.js';
import { builtinModule } from '../capabilities.js';
import { ConfigurationError } from '../errors.js';
import { DIAGNOSTICS_CHANNEL } from '../events.js';
import { callOptionSet, checkCallOptions } from '../options/keys.js';
import type { EventError, TokenEvent, TokenKeyInfo } from '../types.js';

/** Options of {@link registerOpenTelemetry}. */
export interface OpenTelemetryOptions {
  /** Where spans go. Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
}

/** The name of the span of a token request. */
export const TOKEN_REQUEST_SPAN = 'm2m-token token request';
/** The name of the span of a discovery. */
export const DISCOVERY_SPAN = 'm2m-token discovery';

const OTEL_OPTIONS = callOptionSet('registerOpenTelemetry()', ['tracerProvider', 'meterProvider']);
/** The instrumentation scope of the tracer and the meter. */
const SCOPE = 'm2m-token';
/** Spans started and not yet ended; beyond this many (a listener added mid-request...), the oldest go. */
const MAX_OPEN_SPANS = 1_000;
/** The bucket boundaries semantic conventions advise for HTTP client durations, seconds. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

interface DiagnosticsChannel {
  subscribe(name: string, listener: (message: unknown) => void): void;
  unsubscribe(name: string, listener: (message: unknown) => void): boolean;
}

/**
 * Turns the events of every m2m-token client in this process into OpenTelemetry spans and metrics.
 * Call it once, at start-up (before or after the clients are made: it listens to the
 * `m2m-token` diagnostics channel they all publish on). Returns `unregister`, which stops listening
 * (spans still open then are dropped, never ended at a wrong time).
 *
 * @throws {ConfigurationError} bad options, or a runtime without `node:diagnostics_channel`
 * @see https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-client-span
 */
export function registerOpenTelemetry(options: OpenTelemetryOptions = {}): () => void {
  checkCallOptions(options, OTEL_OPTIONS);
  const { tracerProvider, meterProvider } = options;
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== 'function') {
    throw new ConfigurationError('tracerProvider', 'must be an OpenTelemetry TracerProvider');
  }
  if (meterProvider !== undefined && typeof meterProvider?.getMeter !== 'function') {
    throw new ConfigurationError('meterProvider', 'must be an OpenTelemetry MeterProvider');
  }
  const dc = builtinModule<DiagnosticsChannel>('node:diagnostics_channel');
  if (dc === undefined) {
    throw new ConfigurationError(
      '(runtime)',
      'm2m-token/otel listens on node:diagnostics_channel, which this runtime does not provide',
    );
  }
  const telemetry = new Telemetry(
    (tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE),
    (meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE),
  );
  const listener = (message: unknown): void => {
    // A throwing subscriber would surface as an uncaught exception (diagnostics_channel reports it so).
    try {
      telemetry.handle(message as TokenEvent);
    } catch {
      // Telemetry must never break the client.
    }
  };
  dc.subscribe(DIAGNOSTICS_CHANNEL, listener);
  let registered = true;
  return () => {
    if (!registered) return;
    registered = false;
    dc.unsubscribe(DIAGNOSTICS_CHANNEL, listener);
    telemetry.drop();
  };
}

interface OpenSpan {
  readonly span: Span;
  /** The low-cardinality attributes of the duration metric. */
  readonly metric: Attributes;
}

class Telemetry {
  readonly #tracer: Tracer;
  readonly #open = new Lru<OpenSpan>(MAX_OPEN_SPANS);
  readonly #hits: Counter;
  readonly #misses: Counter;
  readonly #refreshFailures: Counter;
  readonly #requestDuration: Histogram;
  readonly #discoveryDuration: Histogram;

  constructor(tracer: Tracer, meter: ReturnType<MeterProvider['getMeter']>) {
    this.#tracer = tracer;
    this.#hits = meter.createCounter('m2m_token.cache.hits', {
      description: 'Tokens handed out from the cache',
      unit: '{token}',
    });
    this.#misses = meter.createCounter('m2m_token.cache.misses', {
      description: 'Calls that found no usable cached token (a token request follows or is joined)',
      unit: '{token}',
    });
    this.#refreshFailures = meter.createCounter('m2m_token.refresh_ahead.failures', {
      description: 'Background refreshes that failed (the valid token was kept)',
      unit: '{refresh}',
    });
    this.#requestDuration = meter.createHistogram('m2m_token.token_request.duration', {
      description: 'Duration of token requests, retries included',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.#discoveryDuration = meter.createHistogram('m2m_token.discovery.duration', {
      description: 'Duration of authorization server metadata discovery',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  }

  handle(event: TokenEvent): void {
    switch (event.type) {
      case 'cache_hit':
        this.#hits.add(1, clientAttributes(event.key));
        return;
      case 'cache_miss':
        this.#misses.add(1, { ...clientAttributes(event.key), 'm2m_token.cache.miss_reason': event.reason });
        return;
      case 'refresh_ahead_failure':
        this.#refreshFailures.add(1, {
          ...clientAttributes(event.key),
          'error.type': errorType(event.error),
        });
        return;
      case 'token_request_start': {
        const server = serverOf(event.endpoint);
        const metric: Attributes = {
          ...server,
          'http.request.method': 'POST',
          'm2m_token.auth_method': event.authMethod,
          'm2m_token.client_id': event.key.clientId,
        };
        const span = this.#tracer.startSpan(TOKEN_REQUEST_SPAN, {
          kind: SpanKind.CLIENT,
          attributes: {
            ...metric,
            'url.full': event.endpoint,
            'm2m_token.cache.outcome': event.trigger,
            ...selectionAttributes(event.key),
          },
        });
        this.#open.set(event.requestId, { span, metric });
        return;
      }
      case 'token_request_retry':
        this.#open.peek(event.requestId)?.span.addEvent('m2m-token retry', {
          'm2m_token.attempt': event.attempt,
          'm2m_token.retry_delay_ms': event.delayMs,
          'error.type': errorType(event.error),
          ...(event.error.status !== undefined ? { 'http.response.status_code': event.error.status } : {}),
        });
        return;
      case 'auth_fallback':
        this.#open.peek(event.requestId)?.span.addEvent('m2m-token auth fallback', {
          'm2m_token.auth_fallback.from': event.from,
          'm2m_token.auth_fallback.to': event.to,
        });
        return;
      case 'credential_rotated':
        this.#open.peek(event.requestId)?.span.addEvent('m2m-token credential rotated', {
          'm2m_token.credential': event.credential,
        });
        return;
      case 'token_request_success':
        this.#end(event.requestId, this.#requestDuration, event.durationMs, {
          status: event.status,
          extra: { 'm2m_token.attempts': event.attempts, 'm2m_token.auth_method': event.authMethod },
        });
        return;
      case 'token_request_failure':
        this.#end(event.requestId, this.#requestDuration, event.durationMs, {
          status: event.status,
          error: event.error,
          extra: { 'm2m_token.attempts': event.attempts },
        });
        return;
      case 'discovery_start': {
        const metric: Attributes = { ...serverOf(event.issuer), 'http.request.method': 'GET' };
        const span = this.#tracer.startSpan(DISCOVERY_SPAN, {
          kind: SpanKind.CLIENT,
          attributes: {
            ...metric,
            'm2m_token.issuer': event.issuer,
            'm2m_token.client_id': event.key.clientId,
          },
        });
        this.#open.set(event.requestId, { span, metric });
        return;
      }
      case 'discovery_success':
        this.#end(event.requestId, this.#discoveryDuration, event.durationMs, {
          status: event.status,
          extra: { 'url.full': event.url },
        });
        return;
      case 'discovery_failure':
        this.#end(event.requestId, this.#discoveryDuration, event.durationMs, {
          status: event.status,
          error: event.error,
          extra: event.url !== undefined ? { 'url.full': event.url } : {},
        });
        return;
      default:
        return;
    }
  }

  /** Ends the span of `requestId` with the outcome, and records its duration (seconds). */
  #end(
    requestId: string,
    histogram: Histogram,
    durationMs: number,
    outcome: { status?: number; error?: EventError; extra: Attributes },
  ): void {
    const open = this.#open.peek(requestId);
    if (open === undefined) return; // started before registerOpenTelemetry(), or dropped
    this.#open.delete(requestId);
    const { span } = open;
    const result: Attributes = {};
    if (outcome.status !== undefined) result['http.response.status_code'] = outcome.status;
    if (outcome.error !== undefined) result['error.type'] = errorType(outcome.error);
    span.setAttributes({ ...outcome.extra, ...result });
    if (outcome.error !== undefined) {
      // The message is the error's own: redacted like every m2m-token message.
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
    }
    span.end();
    histogram.record(durationMs / 1000, { ...open.metric, ...result });
  }

  /** Forgets the spans still open (unregister): they are not ended at a time that is not theirs. */
  drop(): void {
    this.#open.clear();
  }
}

/** `error.type`: the error's code (M2M_OAUTH_ERROR, M2M_TIMEOUT, ECONNREFUSED...), else its class name. */
function errorType(error: EventError): string {
  return error.code ?? error.name;
}

function clientAttributes(key: TokenKeyInfo): Attributes {
  return { 'm2m_token.client_id': key.clientId };
}

function selectionAttributes(key: TokenKeyInfo): Attributes {
  const attributes: Attributes = { 'm2m_token.client_id': key.clientId };
  if (key.audience !== undefined) attributes['m2m_token.audience'] = key.audience;
  if (key.scope !== undefined) attributes['m2m_token.scope'] = key.scope;
  if (key.resource !== undefined && key.resource.length > 0)
    attributes['m2m_token.resource'] = [...key.resource];
  return attributes;
}

/** `server.address` and `server.port` of a URL (the port its scheme implies when it names none). */
function serverOf(url: string): Attributes {
  try {
    const parsed = new URL(url);
    const port = parsed.port !== '' ? Number(parsed.port) : parsed.protocol === 'http:' ? 80 : 443;
    return { 'server.address': parsed.hostname.replace(/^\[|\]$/g, ''), 'server.port': port };
  } catch {
    return {};
  }
}
