import diagnostics from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { ClientCredentialsClient, DIAGNOSTICS_CHANNEL, type TokenEvent } from '../src/index.js';
import { ENDPOINT, fakeTokenEndpoint } from './helpers/token-endpoint.js';

describe('observability', () => {
  it('publishes the same events on the m2m-token diagnostics channel', async () => {
    const seen: TokenEvent[] = [];
    const listener = (message: unknown) => seen.push(message as TokenEvent);
    diagnostics.subscribe(DIAGNOSTICS_CHANNEL, listener);
    try {
      const endpoint = fakeTokenEndpoint();
      const client = new ClientCredentialsClient({
        tokenEndpoint: ENDPOINT,
        clientId: 'svc',
        clientSecret: 'diag-secret',
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
      expect(JSON.stringify(seen)).not.toContain('diag-secret');
      expect(JSON.stringify(seen)).not.toContain('token-1');
    } finally {
      diagnostics.unsubscribe(DIAGNOSTICS_CHANNEL, listener);
    }
    expect(DIAGNOSTICS_CHANNEL).toBe('m2m-token');
  });

  it('reports a failed token request with status and duration, without secrets', async () => {
    const events: TokenEvent[] = [];
    const endpoint = fakeTokenEndpoint({
      respond: () =>
        new Response(JSON.stringify({ error: 'invalid_client', error_description: 'bad' }), {
          status: 401,
          headers: { 'content-type': 'application/json' },
        }),
    });
    const client = new ClientCredentialsClient({
      tokenEndpoint: ENDPOINT,
      clientId: 'svc',
      clientSecret: 'fail-secret',
      fetch: endpoint.fetch,
      onEvent: (e) => events.push(e),
    });
    await expect(client.getToken()).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
    const failure = events.find((e) => e.type === 'token_request_failure') as Extract<
      TokenEvent,
      { type: 'token_request_failure' }
    >;
    expect(failure.status).toBe(401);
    expect(failure.attempts).toBe(1); // invalid_client is never retried
    expect(failure.durationMs).toBeGreaterThanOrEqual(0);
    expect(failure.error).toMatchObject({ name: 'OAuthError', code: 'M2M_OAUTH_ERROR', status: 401 });
    expect(JSON.stringify(events)).not.toContain('fail-secret');
  });
});
