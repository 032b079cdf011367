import { describe, expect, it } from 'vitest';
import { ConfigurationError, HttpError } from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';

describe('per-call options get the constructor checks', () => {
  it.each([
    ['scope', 'null', { scope: null }],
    ['scope', 'a number', { scope: 5 }],
    ['scope', 'an array holding a number', { scope: ['a', 5] }],
    ['resource', 'a number', { resource: 5 }],
    ['extraParams', 'a string', { extraParams: 'x' }],
    ['extraParams.a', 'null', { extraParams: { a: null } }],
    ['extraParams.a', 'an array', { extraParams: { a: ['x', 'y'] } }],
  ])('rejects %s as %s with ConfigurationError and sends nothing', async (option, _what, options) => {
    const endpoint = fakeTokenEndpoint();
    const client = testClient({ fetch: endpoint.fetch });
    const error = await client.getToken(options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe(option);
    expect(() => client.createFetch(options as never)).toThrow(ConfigurationError);
    expect(endpoint.count).toBe(0);
  });
});

describe('bodySnippet redaction', () => {
  it('removes a token under a camelCase name too', async () => {
    const endpoint = fakeTokenEndpoint({
      respond: () =>
        new Response(JSON.stringify({ accessToken: 'OPAQUE-token-value-123', token_type: 'Bearer' }), {
          status: 200,
          headers: { 'content-type': 'application/json' },
        }),
    });
    const error = (await testClient({ fetch: endpoint.fetch })
      .getToken()
      .catch((e: unknown) => e)) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.bodySnippet).toContain('accessToken');
    expect(error.bodySnippet).not.toContain('OPAQUE-token-value-123');
  });
});
