/**
 * m2m-token/otel against the OpenTelemetry SDK's in-memory exporters: a span per token request and per
 * discovery (names, kind, HTTP semantic-convention attributes, auth method and cache outcome, errors),
 * start and end times that cover the request as the token endpoint saw it (also with concurrent
 * requests), the caller's span as parent, metrics (cache hits and misses, token request duration in
 * seconds, refresh-ahead failures), and no secret, assertion or token in anything exported by runs that
 * use each client authentication method.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Context, context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { exportPKCS8, generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
} from '../src/index.js';
import { DISCOVERY_SPAN, registerOpenTelemetry, TOKEN_REQUEST_SPAN } from '../src/otel/index.js';
import { testClient } from './helpers/clients.js';
import { INVALID_TOKEN, startApi } from './helpers/loopback-api.js';
import { type LoopbackServer, startLoopbackServer } from './helpers/loopback-server.js';
import { thrownBy } from './helpers/outcomes.js';
import { refusedUrl } from './helpers/ports.js';

// ---------------------------------------------------------------------------------------------
// A loopback authorization server: token endpoint and discovery, scripted per test, recording what
// it received (with arrival times) and every access token it issued.

interface Received {
  readonly path: string;
  readonly audience: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly delayMs?: number;
}

let origin = '';
let server: LoopbackServer;
const received: Received[] = [];
const issued: string[] = [];
let answer: (request: Received, n: number) => Answer | undefined = () => undefined;
let discovery: ((path: string) => Answer) | undefined;

beforeAll(async () => {
  server = await startLoopbackServer(async (req) => {
    const request: Received = {
      path: req.path,
      audience: new URLSearchParams(req.body).get('audience') ?? undefined,
      headers: req.headers,
      body: req.body,
      at: req.at,
    };
    received.push(request);
    let reply: Answer;
    if (request.path.includes('/.well-known/')) {
      reply = discovery?.(request.path) ?? { status: 404, body: {} };
    } else {
      const n = received.filter((r) => r.path === '/oauth/token').length;
      reply = answer(request, n) ?? { status: 200, body: tokenBody(n) };
    }
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    return { status: reply.status, json: reply.body };
  });
  origin = server.origin;
});

afterAll(() => server.close());

function tokenBody(n: number, expiresIn = 3600): Record<string, unknown> {
  const accessToken = `at-${n}-${'x'.repeat(24)}`;
  issued.push(accessToken);
  return { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn };
}

function makeClient(extra: Partial<ClientCredentialsClientOptions> = {}): ClientCredentialsClient {
  return testClient({
    tokenEndpoint: `${origin}/oauth/token`,
    clientId: 'telemetry-client',
    clientSecret: 'telemetry-secret-value',
    ...extra,
  });
}

// ---------------------------------------------------------------------------------------------
// OpenTelemetry SDK with in-memory exporters, one set per test.

let spans: InMemorySpanExporter;
let metricReader: PeriodicExportingMetricReader;
let unregister: () => void;

beforeEach(() => {
  spans = new InMemorySpanExporter();
  metricReader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  unregister = registerOpenTelemetry({
    tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
    meterProvider: new MeterProvider({ readers: [metricReader] }),
  });
});

afterEach(() => {
  unregister();
  vi.useRealTimers();
  received.length = 0;
  issued.length = 0;
  answer = () => undefined;
  discovery = undefined;
});

const finished = (name: string): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.name === name);
const ms = (time: [number, number]): number => time[0] * 1000 + time[1] / 1e6;

async function collectMetrics(): Promise<MetricData[]> {
  const { resourceMetrics } = await metricReader.collect();
  return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
}

async function metric(name: string): Promise<MetricData | undefined> {
  return (await collectMetrics()).find((m) => m.descriptor.name === name);
}

function total(data: MetricData | undefined): number {
  return (data?.dataPoints ?? []).reduce((sum, point) => sum + (point.value as number), 0);
}

// ---------------------------------------------------------------------------------------------

describe('spans', () => {
  it('a token request: one CLIENT span named for it, with HTTP attributes, auth method and cache outcome', async () => {
    answer = () => ({ status: 200, body: tokenBody(1), delayMs: 120 });
    const client = makeClient({ audience: 'urn:worldmappers', scope: 'read:routes' });
    await client.getToken();
    await client.getToken(); // from the cache: no second span
    const [span, ...others] = finished(TOKEN_REQUEST_SPAN);
    expect(others).toHaveLength(0);
    expect(span?.name).toContain('token');
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(origin).port),
      'url.full': `${origin}/oauth/token`,
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'm2m_token.auth_method': 'client_secret_basic',
      'm2m_token.cache.outcome': 'miss',
      'm2m_token.client_id': 'telemetry-client',
      'm2m_token.audience': 'urn:worldmappers',
      'm2m_token.scope': 'read:routes',
      'm2m_token.attempts': 1,
    });
    expect(span?.attributes['error.type']).toBeUndefined();
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('start and end cover the request as the token endpoint saw it', async () => {
    answer = () => ({ status: 200, body: tokenBody(1), delayMs: 150 });
    await makeClient().getToken();
    const span = finished(TOKEN_REQUEST_SPAN)[0] as ReadableSpan;
    const arrived = (received[0] as Received).at;
    // Span times come from performance.timeOrigin + now; allow a few ms between the two clocks.
    expect(ms(span.startTime)).toBeLessThanOrEqual(arrived + 5);
    expect(ms(span.endTime)).toBeGreaterThanOrEqual(arrived + 150 - 5);
    expect(ms(span.duration)).toBeGreaterThanOrEqual(150 - 5);
  });

  it('concurrent requests for three audiences: each span has its own audience and its own duration', async () => {
    const delays: Record<string, number> = { 'urn:a': 300, 'urn:b': 30, 'urn:c': 150 };
    answer = (request, n) => ({
      status: 200,
      body: tokenBody(n),
      delayMs: delays[request.audience as string] as number,
    });
    const client = makeClient();
    await Promise.all(Object.keys(delays).map((audience) => client.getToken({ audience })));
    const byAudience = new Map(
      finished(TOKEN_REQUEST_SPAN).map((s) => [s.attributes['m2m_token.audience'], ms(s.duration)]),
    );
    expect([...byAudience.keys()].sort()).toEqual(['urn:a', 'urn:b', 'urn:c']);
    // Each span covers its own request: the 300 ms one did not end with the 30 ms one.
    expect(byAudience.get('urn:a')).toBeGreaterThanOrEqual(295);
    expect(byAudience.get('urn:c')).toBeGreaterThanOrEqual(145);
    expect(byAudience.get('urn:b')).toBeLessThan(byAudience.get('urn:a') as number);
  });

  it('a refused client: status ERROR, error.type, the HTTP status; the message names no secret', async () => {
    answer = () => ({ status: 401, body: { error: 'invalid_client', error_description: 'bad client' } });
    await expect(makeClient().getToken()).rejects.toMatchObject({ error: 'invalid_client' });
    const span = finished(TOKEN_REQUEST_SPAN)[0] as ReadableSpan;
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toContain('invalid_client');
    expect(span.attributes).toMatchObject({
      'error.type': 'M2M_OAUTH_ERROR',
      'http.response.status_code': 401,
    });
  });

  it('a network failure: error.type M2M_NETWORK_ERROR and no status code', async () => {
    const url = await refusedUrl('/t');
    const port = Number(new URL(url).port);
    await expect(makeClient({ tokenEndpoint: url }).getToken()).rejects.toThrow();
    const span = finished(TOKEN_REQUEST_SPAN)[0] as ReadableSpan;
    expect(span.attributes['error.type']).toBe('M2M_NETWORK_ERROR');
    expect(span.attributes['http.response.status_code']).toBeUndefined();
    expect(span.attributes['server.port']).toBe(port);
  });

  it('retries are span events of the one span; attempts counted', async () => {
    answer = (_, n) => (n === 1 ? { status: 503, body: { error: 'temporarily_unavailable' } } : undefined);
    await makeClient({ retry: { retries: 1, minTimeout: 1, randomize: false } }).getToken();
    const [span] = finished(TOKEN_REQUEST_SPAN);
    expect(span?.attributes['m2m_token.attempts']).toBe(2);
    expect(span?.events.map((e) => [e.name, e.attributes?.['m2m_token.attempt']])).toEqual([
      ['m2m-token retry', 1],
    ]);
    expect(span?.events[0]?.attributes?.['http.response.status_code']).toBe(503);
  });

  it('the cache outcome says why: forced, then rejected by an API (401), then refreshed ahead', async () => {
    const client = makeClient();
    await client.getToken();
    await client.getToken({ forceRefresh: true });
    // An API that refuses the token: the 401 policy asks for a new one.
    const api = await startApi(() => INVALID_TOKEN);
    try {
      await client.fetch(`${api.url}/x`);
    } finally {
      await api.close();
    }
    expect(finished(TOKEN_REQUEST_SPAN).map((s) => s.attributes['m2m_token.cache.outcome'])).toEqual([
      'miss',
      'forced',
      'rejected',
    ]);

    // Refresh-ahead: a 2 s token is usable for 1 s and refreshed in the background from 0.75 s.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    answer = (_, n) => ({ status: 200, body: tokenBody(n, 2) });
    const shortLived = makeClient({ audience: 'urn:short' });
    await shortLived.getToken();
    vi.advanceTimersByTime(800);
    await shortLived.getToken();
    await vi.waitFor(() => expect(finished(TOKEN_REQUEST_SPAN)).toHaveLength(5));
    expect(finished(TOKEN_REQUEST_SPAN)[4]?.attributes['m2m_token.cache.outcome']).toBe('refresh_ahead');
  });

  it("the token request span is a child of the caller's active span", async () => {
    // A minimal AsyncLocalStorage context manager, as @opentelemetry/context-async-hooks provides.
    const storage = new AsyncLocalStorage<Context>();
    context.setGlobalContextManager({
      active: () => storage.getStore() ?? ROOT_CONTEXT,
      with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
      bind: (_ctx, target) => target,
      enable() {
        return this;
      },
      disable() {
        storage.disable();
        return this;
      },
    });
    try {
      const tracer = new BasicTracerProvider({
        spanProcessors: [new SimpleSpanProcessor(spans)],
      }).getTracer('app');
      const parent = tracer.startSpan('incoming request');
      await context.with(trace.setSpan(context.active(), parent), () => makeClient().getToken());
      parent.end();
      const span = finished(TOKEN_REQUEST_SPAN)[0] as ReadableSpan;
      expect(span.spanContext().traceId).toBe(parent.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    } finally {
      context.disable();
    }
  });

  it('discovery: a CLIENT span with the well-known URL used; a failed one is an ERROR span', async () => {
    const issuer = `${origin}/`;
    discovery = (path) =>
      path === '/.well-known/oauth-authorization-server'
        ? { status: 200, body: { issuer, token_endpoint: `${origin}/oauth/token` } }
        : { status: 404, body: {} };
    await makeClient({ tokenEndpoint: undefined, issuer }).getToken();
    const [span] = finished(DISCOVERY_SPAN);
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'url.full': `${origin}/.well-known/oauth-authorization-server`,
      'm2m_token.issuer': issuer,
    });
    expect(finished(TOKEN_REQUEST_SPAN)).toHaveLength(1);

    discovery = () => ({ status: 404, body: {} });
    const other = `${origin}/tenant`;
    await expect(makeClient({ tokenEndpoint: undefined, issuer: other }).getToken()).rejects.toThrow();
    const failed = finished(DISCOVERY_SPAN)[1] as ReadableSpan;
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes).toMatchObject({
      'error.type': 'M2M_DISCOVERY_FAILED',
      'http.response.status_code': 404,
    });
  });

  it('unregister: no spans afterwards; twice is harmless', async () => {
    unregister();
    unregister();
    await makeClient().getToken();
    expect(spans.getFinishedSpans()).toHaveLength(0);
  });
});

describe('metrics', () => {
  it('cache hits and misses, and the token request duration in seconds', async () => {
    answer = (_, n) => ({ status: 200, body: tokenBody(n), delayMs: 100 });
    const client = makeClient();
    await client.getToken();
    await client.getToken();
    await client.getToken();
    await client.getToken({ audience: 'urn:other' });
    expect(total(await metric('m2m_token.cache.hits'))).toBe(2);
    const misses = await metric('m2m_token.cache.misses');
    expect(total(misses)).toBe(2);
    expect(misses?.dataPoints[0]?.attributes).toMatchObject({ 'm2m_token.cache.miss_reason': 'absent' });

    const duration = await metric('m2m_token.token_request.duration');
    expect(duration?.descriptor.unit).toBe('s');
    const points = (duration?.dataPoints ?? []) as DataPoint<Histogram>[];
    expect(points.reduce((n, p) => n + p.value.count, 0)).toBe(2);
    const sum = points.reduce((n, p) => n + (p.value.sum ?? 0), 0);
    // Two requests of at least 100 ms each: seconds, not milliseconds.
    expect(sum).toBeGreaterThanOrEqual(0.19);
    expect(sum).toBeLessThan(30);
    expect(points[0]?.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'http.request.method': 'POST',
      'http.response.status_code': 200,
      'm2m_token.auth_method': 'client_secret_basic',
    });
  });

  it('refresh-ahead failures are counted', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    answer = (_, n) =>
      n === 1 ? { status: 200, body: tokenBody(n, 2) } : { status: 500, body: { error: 'server_error' } };
    const client = makeClient();
    await client.getToken();
    vi.advanceTimersByTime(800);
    await client.getToken(); // still usable: starts the background refresh, which fails
    await vi.waitFor(async () => expect(total(await metric('m2m_token.refresh_ahead.failures'))).toBe(1));
    const failures = await metric('m2m_token.refresh_ahead.failures');
    expect(failures?.dataPoints[0]?.attributes).toMatchObject({ 'error.type': 'M2M_OAUTH_ERROR' });
  });
});

describe('no secret, assertion or token in anything exported', () => {
  let pem: string;
  let assertionFile: string;
  /** The start of a JWT-shaped assertion made elsewhere (the loopback endpoint does not verify it). */
  const FEDERATED = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ';
  beforeAll(async () => {
    pem = await exportPKCS8((await generateKeyPair('ES256', { extractable: true })).privateKey);
    const dir = await mkdtemp(join(tmpdir(), 'm2m-otel-'));
    assertionFile = join(dir, 'token');
    await writeFile(assertionFile, `${FEDERATED}.projected-token-signature\n`);
  });

  const METHODS: ReadonlyArray<readonly [string, () => Partial<ClientCredentialsClientOptions>]> = [
    ['client_secret_basic', () => ({ authMethod: 'client_secret_basic' })],
    ['client_secret_post', () => ({ authMethod: 'client_secret_post' })],
    ['client_secret_json', () => ({ authMethod: 'client_secret_json' })],
    ['client_secret_jwt', () => ({ authMethod: 'client_secret_jwt' })],
    ['private_key_jwt', () => ({ clientSecret: undefined, privateKey: pem })],
    [
      'private_key_jwt, key from a function',
      () => ({ clientSecret: undefined, privateKey: async () => pem }),
    ],
    ['client_secret_basic, secret from a function', () => ({ clientSecret: () => 'telemetry-secret-value' })],
    [
      'clientAssertion (workload identity)',
      () => ({ clientSecret: undefined, clientAssertion: () => `${FEDERATED}.${crypto.randomUUID()}` }),
    ],
    [
      'clientAssertionFile (workload identity)',
      () => ({ clientSecret: undefined, clientAssertionFile: assertionFile }),
    ],
  ];

  it.each(METHODS)(
    '%s: a refusal echoing the request, a retried 503, a token and a cache hit',
    async (_, options) => {
      // The token endpoint answers: an echo of everything it received (a hostile server), then a 503,
      // then a token.
      answer = (request, n) =>
        n === 1
          ? {
              status: 400,
              body: {
                error: 'invalid_request',
                error_description: `got ${request.body} with ${JSON.stringify(request.headers)}`,
              },
            }
          : n === 2
            ? { status: 503, body: { error: 'temporarily_unavailable', error_description: request.body } }
            : undefined;
      const client = makeClient({ ...options(), retry: { retries: 1, minTimeout: 1, randomize: false } });
      await expect(client.getToken()).rejects.toThrow();
      await client.getToken();
      await client.getToken();

      const exported = JSON.stringify({
        spans: spans.getFinishedSpans().map((s) => ({
          name: s.name,
          attributes: s.attributes,
          events: s.events,
          status: s.status,
          resource: s.resource.attributes,
        })),
        metrics: (await collectMetrics()).map((m) => ({
          name: m.descriptor.name,
          points: m.dataPoints.map((p) => p.attributes),
        })),
      });
      expect(finished(TOKEN_REQUEST_SPAN).length).toBeGreaterThanOrEqual(2);
      const sentCredentials = received.flatMap((r) => {
        const params = new URLSearchParams(r.body);
        return [
          params.get('client_secret'),
          params.get('client_assertion'),
          params.get('client_assertion')?.split('.')[1],
          params.get('client_assertion')?.split('.')[2],
          r.headers.authorization,
          r.headers.authorization?.slice('Basic '.length),
          (r.body.startsWith('{') ? (JSON.parse(r.body) as { client_secret?: string }) : {}).client_secret,
        ].filter((v): v is string => typeof v === 'string' && v.length > 0);
      });
      const forbidden = ['telemetry-secret-value', ...sentCredentials, ...issued];
      expect(forbidden.length).toBeGreaterThanOrEqual(3);
      for (const value of forbidden) expect(exported).not.toContain(value);
    },
  );
});

describe('options', () => {
  it.each([
    [{ tracerProviders: {} }, 'tracerProviders'],
    [{ tracerProvider: {} }, 'tracerProvider'],
    [{ meterProvider: 42 }, 'meterProvider'],
  ])('%j: ConfigurationError naming %s', (options, option) => {
    const error = thrownBy(() => registerOpenTelemetry(options as never));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe(option);
  });
});
