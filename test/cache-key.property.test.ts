import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLIENT_SECRET, testClient } from './helpers/clients.js';
import { fakeTokenEndpoint } from './helpers/token-endpoint.js';

const scopeToken = fc.stringMatching(/^[a-z:]{1,8}$/);
const resourceUri = fc.stringMatching(/^[a-z]{1,6}$/).map((s) => `https://${s}.example.com/`);

function shuffledWithDuplicates<T>(values: T[], seed: number): T[] {
  const out = [...values, ...values.slice(0, seed % (values.length + 1))];
  for (let i = out.length - 1; i > 0; i--) {
    const j = (seed * (i + 7)) % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('cache key properties', () => {
  it('scope and resource order and duplicates never change the key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(scopeToken, { minLength: 1, maxLength: 6 }),
        fc.uniqueArray(resourceUri, { maxLength: 3 }),
        fc.nat(1000),
        async (scopes, resources, seed) => {
          const endpoint = fakeTokenEndpoint();
          const client = testClient({
            fetch: endpoint.fetch,
          });
          const first = await client.getToken({ scope: scopes, resource: resources });
          const again = await client.getToken({
            scope:
              seed % 2 === 0
                ? shuffledWithDuplicates(scopes, seed)
                : shuffledWithDuplicates(scopes, seed).join(' '),
            resource: shuffledWithDuplicates(resources, seed + 1),
          });
          expect(again.accessToken).toBe(first.accessToken);
          expect(endpoint.count).toBe(1);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('different audiences never share a token', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 8 }),
        async (audiences) => {
          const endpoint = fakeTokenEndpoint({
            // The audience inside the token, base64url-encoded: a token is printable ASCII (RFC 6749 A.12).
            token: (n, p) => `${Buffer.from(p.get('audience') ?? '').toString('base64url')}.${n}`,
          });
          const client = testClient({
            fetch: endpoint.fetch,
          });
          for (const audience of audiences) await client.getToken({ audience });
          for (const audience of audiences) {
            const token = await client.getToken({ audience });
            const [encoded] = token.accessToken.split('.') as [string];
            expect(Buffer.from(encoded, 'base64url').toString()).toBe(audience);
          }
          expect(endpoint.count).toBe(audiences.length);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('sends the scope space-joined and every resource, and keeps no secret in events', async () => {
    const endpoint = fakeTokenEndpoint();
    const keys: string[] = [];
    const client = testClient({
      fetch: endpoint.fetch,
      onEvent: (e) => keys.push(JSON.stringify(e.key)),
    });
    await client.getToken({
      scope: ['b', 'a', 'b'],
      resource: ['https://r2.example/', 'https://r1.example/'],
    });
    const params = endpoint.requests[0]?.params;
    expect(params?.get('scope')).toBe('b a');
    expect(params?.getAll('resource')).toEqual(['https://r2.example/', 'https://r1.example/']);
    expect(keys.join('')).not.toContain(CLIENT_SECRET);
  });
});
