/**
 * Issue 12.4: two requests never share a token. Control characters (U+0000-U+001F, U+007F) in audience,
 * scope, resource and extraParams values are refused with a ConfigurationError naming the option, and
 * every cache key and per-call memo is built injectively: a property test over arbitrary strings shows
 * that each token handed out was issued for exactly the parameters its call asked for.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CachedToken,
  ClientCredentialsClient,
  ConfigurationError,
  type GetTokenOptions,
  type TokenCache,
} from '../../src/index.js';
import { testClient } from '../helpers/clients.js';
import { ENDPOINT, fakeTokenEndpoint } from '../helpers/token-endpoint.js';

/** A token endpoint that remembers, per token, the parameters it was issued for (canonical form). */
function recordingEndpoint() {
  const issuedFor = new Map<string, string>();
  const endpoint = fakeTokenEndpoint({
    token: (n, params) => {
      issuedFor.set(`t-${n}`, canonical(params));
      return `t-${n}`;
    },
  });
  return { endpoint, issuedFor };
}

/** Parameters as a set: audience, scope tokens and resources sorted, extra parameters sorted by name. */
function canonical(params: URLSearchParams): string {
  const rest = [...params].filter(([name]) => !['grant_type', 'scope', 'resource'].includes(name)).sort();
  const scope = [...new Set((params.get('scope') ?? '').split(' ').filter(Boolean))].sort();
  const resource = [...new Set(params.getAll('resource'))].sort();
  return JSON.stringify([rest, scope, resource]);
}

/** What the call asks for, in the same canonical form (no defaults on these clients). */
function expected(options: GetTokenOptions): string {
  const rest: Array<[string, string]> = [];
  if (options.audience !== undefined) rest.push(['audience', options.audience]);
  for (const [name, value] of Object.entries(options.extraParams ?? {})) rest.push([name, value]);
  rest.sort();
  const scopes = typeof options.scope === 'string' ? [options.scope] : [...(options.scope ?? [])];
  const scope = [...new Set(scopes.flatMap((s) => s.split(' ')).filter(Boolean))].sort();
  const resources = typeof options.resource === 'string' ? [options.resource] : [...(options.resource ?? [])];
  return JSON.stringify([rest, scope, [...new Set(resources)].sort()]);
}

/** A shared cache as Redis would be: async, and values travel as JSON. */
function fakeSharedCache(): TokenCache {
  const store = new Map<string, string>();
  return {
    get: async (key) => {
      const value = store.get(key);
      return value === undefined ? undefined : (JSON.parse(value) as CachedToken);
    },
    set: async (key, value) => {
      // As a shared cache's codec: the token's own fields (Token.toJSON() would redact it).
      store.set(key, JSON.stringify({ ...value, token: { ...value.token } }));
    },
    delete: async (key) => {
      store.delete(key);
    },
  };
}

const CACHES: ReadonlyArray<[string, () => TokenCache | undefined]> = [
  ['MemoryTokenCache', () => undefined],
  ['a shared cache', fakeSharedCache],
];

describe('control characters are refused (issue 12.4)', () => {
  const bad = ['\u0000', '\u0001', '\u0002', '\t', '\n', '\r', '\u001f', '\u007f'];
  const cases: Array<[string, string, GetTokenOptions]> = [];
  for (const c of bad) {
    const shown = `U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    cases.push(
      [`audience with ${shown}`, 'audience', { audience: `api${c}` }],
      [`scope with ${shown}`, 'scope', { scope: `read${c}write` }],
      [`scope array with ${shown}`, 'scope', { scope: ['read', `x${c}`] }],
      [`resource with ${shown}`, 'resource', { resource: `https://r.example/${c}` }],
      [`extraParams value with ${shown}`, 'extraParams.org', { extraParams: { org: `o${c}` } }],
      [`extraParams name with ${shown}`, 'extraParams', { extraParams: { [`or${c}g`]: 'o' } }],
    );
  }

  it.each(cases)(
    'per call: %s is a ConfigurationError naming %s, and nothing is sent',
    async (_, option, options) => {
      const { endpoint } = recordingEndpoint();
      const client = testClient({ fetch: endpoint.fetch });
      const error = await client.getToken(options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).option).toBe(option);
      expect(() => client.createFetch(options)).toThrow(ConfigurationError);
      expect(endpoint.count).toBe(0);
    },
  );

  it('an empty extraParams name is a ConfigurationError naming extraParams (constructor and per call)', async () => {
    const { endpoint } = recordingEndpoint();
    const client = testClient({ fetch: endpoint.fetch });
    const error = await client.getToken({ extraParams: { '': 'x' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ option: 'extraParams' });
    expect(() => testClient({ extraParams: { '': 'x' } })).toThrow(
      expect.objectContaining({ option: 'extraParams' }),
    );
    expect(endpoint.count).toBe(0);
  });

  it.each(cases)('in the constructor: %s is a ConfigurationError naming %s', (_, option, options) => {
    const error = (() => {
      try {
        new ClientCredentialsClient({
          tokenEndpoint: ENDPOINT,
          clientId: 'svc',
          clientSecret: 'x',
          ...options,
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe(option);
    // The message says where, never the value.
    expect((error as ConfigurationError).message).toMatch(/position \d+/);
  });
});

describe('two different requests never share a token (issue 12.4)', () => {
  it.each(CACHES)('the three measured cases, with %s', async (_, cache) => {
    const { endpoint, issuedFor } = recordingEndpoint();
    const client = testClient({ fetch: endpoint.fetch, cache: cache() });
    const calls: GetTokenOptions[] = [
      { resource: ['https://r1/', 'https://r2/'] },
      { resource: 'https://r1/\u0002https://r2/' },
      {},
      { audience: '\u0000', resource: 'https://r1/' },
      { audience: 'x\u0001y', scope: 'z' },
      { audience: 'x', scope: 'y\u0001z' },
    ];
    for (const options of calls) {
      const token = await client.getToken(options).catch((e: unknown) => e);
      if (token instanceof ConfigurationError) continue;
      expect(issuedFor.get((token as { accessToken: string }).accessToken)).toBe(expected(options));
    }
  });

  it.each(CACHES)(
    'property: over arbitrary strings, every token is the one for its own parameters (%s)',
    async (_, cache) => {
      // Arbitrary strings, and strings over the characters a separator-joined key or memo would use.
      const risky = fc.constantFrom('a', 'b', ' ', '/', '\u0000', '\u0001', '\u0002');
      const text = fc.oneof(
        fc.string({ unit: risky, maxLength: 5 }),
        fc.string({ unit: 'binary', maxLength: 6 }),
      );
      const selection = fc.record(
        {
          audience: fc.oneof(
            fc.string({ unit: risky, minLength: 1, maxLength: 5 }),
            fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }),
          ),
          scope: fc.oneof(text, fc.array(text, { maxLength: 3 })),
          resource: fc.oneof(
            text.map((s) => `https://r.example/${s}`),
            fc.array(
              text.map((s) => `https://r.example/${s}`),
              { maxLength: 2 },
            ),
          ),
          extraParams: fc.dictionary(fc.constantFrom('org', 'tenant', 'x'), text, { maxKeys: 2 }),
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(fc.array(selection, { minLength: 2, maxLength: 6 }), async (selections) => {
          const { endpoint, issuedFor } = recordingEndpoint();
          const client = testClient({ fetch: endpoint.fetch, cache: cache() });
          // Each selection twice, interleaved, so that memo and cache hits are exercised.
          for (const options of [...selections, ...selections]) {
            const token = await client.getToken(options as GetTokenOptions).catch((e: unknown) => e);
            if (token instanceof ConfigurationError) continue;
            if (token instanceof Error) throw token;
            expect(issuedFor.get((token as { accessToken: string }).accessToken)).toBe(
              expected(options as GetTokenOptions),
            );
          }
        }),
        { numRuns: 120 },
      );
    },
  );

  it.each(CACHES)(
    'property: neighbours that a separator-joined key would merge get their own tokens (%s)',
    async (_, cache) => {
      const part = fc.string({ unit: 'binary', maxLength: 4 });
      const sep = fc.constantFrom('\u0000', '\u0001', '\u0002', ' ', '/', ',', '|', ':');
      await fc.assert(
        fc.asyncProperty(part, part, part, sep, async (a, b, c, s) => {
          const { endpoint, issuedFor } = recordingEndpoint();
          const client = testClient({ fetch: endpoint.fetch, cache: cache() });
          const r = (x: string) => `https://r.example/${x}`;
          const pairs: Array<[GetTokenOptions, GetTokenOptions]> = [
            [
              { audience: `x${a}${s}${b}`, scope: c },
              { audience: `x${a}`, scope: `${b}${s}${c}` },
            ],
            [
              { scope: `${a}${s}${b}`, resource: r(c) },
              { scope: a, resource: r(`${b}${s}${c}`) },
            ],
            [{ resource: [r(a), r(b)] }, { resource: r(`${a}${s}${r(b)}`) }],
            [{ audience: s, resource: r(a) }, { resource: r(a) }],
          ];
          for (const pair of pairs) {
            for (const options of [...pair, ...pair]) {
              const token = await client.getToken(options).catch((e: unknown) => e);
              if (token instanceof ConfigurationError) continue;
              if (token instanceof Error) throw token;
              expect(issuedFor.get((token as { accessToken: string }).accessToken)).toBe(expected(options));
            }
          }
        }),
        { numRuns: 100 },
      );
    },
  );
});
