import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientCredentialsClient, DIAGNOSTICS_CHANNEL, type TokenEvent } from '../src/index.js';
import { CLIENT_SECRET, testClient } from './helpers/clients.js';
import { ENDPOINT, fakeTokenEndpoint } from './helpers/token-endpoint.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('observability', () => {
  it('publishes the same events on the m2m-token diagnostics channel', async () => {
    const seen: TokenEvent[] = [];
    const listener = (message: unknown) => seen.push(message as TokenEvent);
    diagnostics.subscribe(DIAGNOSTICS_CHANNEL, listener);
    try {
      const endpoint = fakeTokenEndpoint();
      const client = testClient({
        fetch: endpoint.fetch,
      });
      await client.getToken();
      await client.getToken();
      expect(seen.map((e) => e.type)).toEqual([
        'cache_miss',
        'token_request_start',
        'token_request_success',
        'cache_hit',
      ]);
      expect(JSON.stringify(seen)).not.toContain(CLIENT_SECRET);
      expect(JSON.stringify(seen)).not.toContain('token-1');
    } finally {
      diagnostics.unsubscribe(DIAGNOSTICS_CHANNEL, listener);
    }
    expect(DIAGNOSTICS_CHANNEL).toBe('m2m-token');
  });

  it('reports a failed token request with status and duration, without secrets', async () => {
    const events: TokenEvent[] = [];
    vi.useFakeTimers();
    // The server takes 250 ms to refuse: the event's duration is that, measured on the monotonic clock.
    const endpoint = fakeTokenEndpoint({
      latencyMs: 250,
      respond: () =>
        new Response(JSON.stringify({ error: 'invalid_client', error_description: 'bad' }), {
          status: 401,
          headers: { 'content-type': 'application/json' },
        }),
    });
    const client = testClient({
      fetch: endpoint.fetch,
      onEvent: (e) => events.push(e),
    });
    const refused = expect(client.getToken()).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
    await vi.advanceTimersByTimeAsync(250);
    await refused;
    const failure = events.find((e) => e.type === 'token_request_failure') as Extract<
      TokenEvent,
      { type: 'token_request_failure' }
    >;
    expect(failure.status).toBe(401);
    expect(failure.attempts).toBe(1); // invalid_client is never retried
    expect(failure.durationMs).toBe(250);
    expect(failure.error).toMatchObject({ name: 'OAuthError', code: 'M2M_OAUTH_ERROR', status: 401 });
    expect(JSON.stringify(events)).not.toContain(CLIENT_SECRET);
  });
});

describe('events that tell one request’s story', () => {
  it('a token request’s events share one requestId, name the endpoint and say why it was made', async () => {
    const events: TokenEvent[] = [];
    const endpoint = fakeTokenEndpoint();
    const client = new ClientCredentialsClient({
      tokenEndpoint: `${ENDPOINT}?tenant=1`,
      clientId: 'svc',
      clientSecret: 'diag-secret',
      fetch: endpoint.fetch,
      onEvent: (e) => events.push(e),
    });
    await Promise.all([client.getToken({ audience: 'urn:a' }), client.getToken({ audience: 'urn:b' })]);
    await client.getToken({ audience: 'urn:a', forceRefresh: true });
    const starts = events.filter((e) => e.type === 'token_request_start');
    expect(starts.map((e) => [e.key.audience, e.trigger, e.endpoint])).toEqual([
      ['urn:a', 'miss', ENDPOINT],
      ['urn:b', 'miss', ENDPOINT],
      ['urn:a', 'forced', ENDPOINT],
    ]);
    const ids = starts.map((e) => e.requestId);
    expect(new Set(ids).size).toBe(3);
    const successes = events.filter((e) => e.type === 'token_request_success');
    expect(successes.map((e) => [e.key.audience, e.requestId])).toEqual([
      ['urn:a', ids[0]],
      ['urn:b', ids[1]],
      ['urn:a', ids[2]],
    ]);
  });

  it('discovery_start / discovery_success / discovery_failure, with the URL used and its status', async () => {
    const events: TokenEvent[] = [];
    const issuer = 'https://idp.example.com/';
    const fetch: typeof globalThis.fetch = async (input) => {
      const url = String(input);
      if (url.endsWith('/oauth-authorization-server')) return new Response('{}', { status: 404 });
      if (url.endsWith('/openid-configuration')) {
        return Response.json({ issuer, token_endpoint: ENDPOINT });
      }
      return Response.json({ access_token: 'token-1', token_type: 'Bearer', expires_in: 60 });
    };
    const client = new ClientCredentialsClient({
      issuer,
      clientId: 'svc',
      clientSecret: 'diag-secret',
      fetch,
      onEvent: (e) => events.push(e),
    });
    await client.getToken();
    const [start, success] = events.filter((e) => e.type.startsWith('discovery_'));
    expect(start).toMatchObject({
      type: 'discovery_start',
      issuer,
      key: { endpoint: issuer, clientId: 'svc' },
    });
    expect(success).toMatchObject({
      type: 'discovery_success',
      requestId: (start as { requestId: string }).requestId,
      url: `${issuer}.well-known/openid-configuration`,
      status: 200,
      tokenEndpoint: ENDPOINT,
    });

    const failing = new ClientCredentialsClient({
      issuer: 'https://down.example.com/',
      clientId: 'svc',
      clientSecret: 'diag-secret',
      fetch: async () => new Response('no', { status: 404 }),
      onEvent: (e) => events.push(e),
    });
    await expect(failing.getToken()).rejects.toThrow();
    expect(events.find((e) => e.type === 'discovery_failure')).toMatchObject({
      type: 'discovery_failure',
      issuer: 'https://down.example.com/',
      status: 404,
      error: { code: 'M2M_DISCOVERY_FAILED' },
    });
  });

  it('names the token endpoint by origin and path only: a query string (an API key?) is in no event', async () => {
    const events: TokenEvent[] = [];
    const apiKey = 'APIKEY-0123456789abcdef';
    const configured = new ClientCredentialsClient({
      tokenEndpoint: `https://idp.example.com/token?api_key=${apiKey}`,
      clientId: 'svc',
      clientSecret: 'diag-secret',
      retry: false,
      fetch: async () => Response.json({ access_token: 'token-1', token_type: 'Bearer', expires_in: 60 }),
      onEvent: (e) => events.push(e),
    });
    await configured.getToken({ audience: 'urn:a' });
    expect(events.length).toBeGreaterThanOrEqual(3);
    for (const event of events) {
      expect(event.key).toEqual({
        endpoint: 'https://idp.example.com/token',
        clientId: 'svc',
        audience: 'urn:a',
      });
    }

    // The same for a token endpoint found by discovery (discovery_success.tokenEndpoint).
    events.length = 0;
    const issuer = 'https://idp.example.com/';
    const discovered = new ClientCredentialsClient({
      issuer,
      clientId: 'svc',
      clientSecret: 'diag-secret',
      retry: false,
      fetch: async (input) => {
        const url = String(input);
        if (url.endsWith('/oauth-authorization-server')) {
          return Response.json({ issuer, token_endpoint: `${issuer}token?api_key=${apiKey}` });
        }
        return Response.json({ access_token: 'token-2', token_type: 'Bearer', expires_in: 60 });
      },
      onEvent: (e) => events.push(e),
    });
    await discovered.getToken();
    expect(events.find((e) => e.type === 'discovery_success')).toMatchObject({
      tokenEndpoint: `${issuer}token`,
    });
    expect(events.find((e) => e.type === 'token_request_start')).toMatchObject({
      endpoint: `${issuer}token`,
    });
    expect(JSON.stringify(events)).not.toContain(apiKey);
  });
});
