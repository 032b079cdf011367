/**
 * The `scope_reduced` event (API.md Round 2, issue 13.5): RFC 6749 3.3 lets a server grant less scope
 * than requested, saying so in the response's `scope` (5.1). The client reports it and keeps caching
 * the token under the requested scope. Glewlwyd does this for real (test/interop-glewlwyd.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { TokenEvent } from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { ENDPOINT, fakeTokenEndpoint } from './helpers/token-endpoint.js';

/** A token endpoint that grants `grant(requested)` as the response's scope (undefined: no scope member). */
function granting(grant: (requested: string | null) => string | undefined) {
  return fakeTokenEndpoint({
    respond: (n, params) => {
      const scope = grant(params.get('scope'));
      return Response.json({
        access_token: `token-${n}`,
        token_type: 'Bearer',
        expires_in: 3600,
        ...(scope !== undefined ? { scope } : {}),
      });
    },
  });
}

function setup(grant: (requested: string | null) => string | undefined, scope?: string) {
  const endpoint = granting(grant);
  const events: TokenEvent[] = [];
  const client = testClient({
    fetch: endpoint.fetch,
    onEvent: (e) => events.push(e),
    ...(scope !== undefined ? { scope } : {}),
  });
  const reduced = () => events.filter((e) => e.type === 'scope_reduced');
  return { endpoint, events, client, reduced };
}

describe('scope_reduced', () => {
  it('reports a granted scope that lacks a requested token; the token stays cached under the requested key', async () => {
    const { endpoint, client, reduced } = setup(() => 'api.read', 'api.read api.admin');
    const token = await client.getToken();
    expect(token.scope).toBe('api.read');
    expect(reduced()).toEqual([
      {
        type: 'scope_reduced',
        key: { endpoint: ENDPOINT, clientId: 'svc', scope: 'api.admin api.read' },
        requested: 'api.read api.admin',
        granted: 'api.read',
      },
    ]);
    // Cached under what was asked for: the same request is a cache hit, with no second event.
    expect(await client.getToken({ scope: ['api.admin', 'api.read'] })).toBe(token);
    expect(endpoint.count).toBe(1);
    expect(reduced()).toHaveLength(1);
    // Asking for exactly what was granted is another key (and no reduction).
    await client.getToken({ scope: 'api.read' });
    expect(endpoint.count).toBe(2);
    expect(reduced()).toHaveLength(1);
  });

  const notReduced: Array<[string, string | undefined, string | undefined]> = [
    ['no scope in the response (RFC 6749 5.1: as requested)', 'a b', undefined],
    ['the same tokens in another order', 'a b', 'b a'],
    ['more than was asked for', 'a', 'a b c'],
    ['a scope when none was asked for', undefined, 'default.scope'],
  ];
  it.each(notReduced)('is not emitted for %s', async (_name, scope, granted) => {
    const { client, reduced, events } = setup(() => granted, scope);
    await client.getToken();
    expect(events.some((e) => e.type === 'token_request_success')).toBe(true);
    expect(reduced()).toEqual([]);
  });

  it('compares scope tokens exactly (RFC 6749 3.3: case-sensitive); each token request is judged', async () => {
    const { client, reduced } = setup(() => 'read write', 'Read write');
    await client.getToken();
    await client.getToken({ forceRefresh: true });
    expect(reduced().map((e) => (e as { granted: string }).granted)).toEqual(['read write', 'read write']);
  });
});
