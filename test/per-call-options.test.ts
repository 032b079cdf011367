import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, type GetTokenOptions, HttpError, type TokenSelection } from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';

describe('per-call options get the constructor checks', () => {
  it.each([
    ['scope', 'null', { scope: null }],
    ['scope', 'a number', { scope: 5 }],
    ['scope.1', 'an array holding a number', { scope: ['a', 5] }],
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

/** What a call makes of a value: accepted, or the option and message of its ConfigurationError. */
function outcome(run: () => unknown): string {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    return `${error.option} | ${error.message}`;
  }
}

/** The constructor's and a per-call option's outcome for the same value of one selection option. */
async function bothWays(name: keyof TokenSelection, value: unknown): Promise<[string, string]> {
  const endpoint = fakeTokenEndpoint();
  const inConstructor = outcome(() => testClient({ fetch: endpoint.fetch, [name]: value }));
  const client = testClient({ fetch: endpoint.fetch });
  const perCall = await client.getToken({ [name]: value } as GetTokenOptions).then(
    () => 'accepted',
    (error: unknown) =>
      outcome(() => {
        throw error;
      }),
  );
  return [inConstructor, perCall];
}

describe('per-call options and the constructor: one set of rules, one set of messages', () => {
  it.each<[string, keyof TokenSelection, unknown]>([
    ['an audience that is a number', 'audience', 42],
    ['an empty audience', 'audience', ''],
    ['a scope that is a number', 'scope', 5],
    ['a scope list with a number', 'scope', ['a', 5]],
    ['a resource that is an object', 'resource', {}],
    ['a resource list with null', 'resource', ['https://api.example.test/', null]],
    ['a resource that is not an absolute URI', 'resource', 'api.example.test/x'],
    ['a resource with a fragment', 'resource', 'https://api.example.test/#f'],
    ['a resource list with a fragment', 'resource', ['https://a.example.test/', 'https://b.example.test/#f']],
    ['extraParams that is an array', 'extraParams', ['x']],
    ['extraParams that is a Map', 'extraParams', new Map([['a', 'b']])],
    ['an extraParams value that is a number', 'extraParams', { a: 1 }],
    ['extraParams naming grant_type', 'extraParams', { grant_type: 'password' }],
    ['extraParams naming client_secret', 'extraParams', { client_secret: 'x' }],
    ['extraParams naming resource', 'extraParams', { resource: 'https://api.example.test/' }],
    ['an extraParams value with a line feed', 'extraParams', { a: 'x\ny' }],
  ])('%s: the same ConfigurationError in both places', async (_n, name, value) => {
    const [inConstructor, perCall] = await bothWays(name, value);
    expect(inConstructor).not.toBe('accepted');
    expect(perCall).toBe(inConstructor);
  });

  it.each<[keyof TokenSelection]>([['audience'], ['scope'], ['resource'], ['extraParams']])(
    'any value of %s: accepted in both places, or refused with the same option and message',
    async (name) => {
      await fc.assert(
        fc.asyncProperty(fc.anything({ withMap: true, withNullPrototype: true }), async (value) => {
          const [inConstructor, perCall] = await bothWays(name, value);
          expect(perCall).toBe(inConstructor);
        }),
        { numRuns: 150 },
      );
    },
  );
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
