/**
 * Issue 12, "keep what held": no prototype pollution. Token bodies, error bodies and discovery documents
 * carrying `__proto__` and `constructor.prototype` members are data: Object.prototype never changes, and
 * the members stay visible as members (in `raw`, in a redacted `bodySnippet`, in JSON of the token).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../src/index.js';
import { testClient } from '../helpers/clients.js';
import { type LoopbackServer, startLoopbackServer } from '../helpers/loopback-server.js';

const HOSTILE = '"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}';

let server: LoopbackServer;
beforeAll(async () => {
  server = await startLoopbackServer();
});
afterAll(() => server.close());
afterEach(() => {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
});

const json = (body: string, status = 200) => ({
  status,
  headers: { 'content-type': 'application/json' },
  body,
});

let n = 0;
function client(issuer?: string) {
  return testClient({
    ...(issuer ? { issuer } : { tokenEndpoint: `${server.origin}/token-${++n}` }),
    clientId: 'proto-client',
    clientSecret: 'proto-secret',
  });
}

describe('hostile members are data', () => {
  it('in a token response', async () => {
    server.answer(() => json(`{${HOSTILE},"access_token":"proto-token-0123","token_type":"Bearer"}`));
    const token = await client().getToken();
    expect(token.accessToken).toBe('proto-token-0123');
    expect(Object.hasOwn(token.raw, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(token.raw)).toBe(Object.prototype);
    const serialised = JSON.parse(JSON.stringify(token)) as { raw: Record<string, unknown> };
    expect(Object.hasOwn(serialised.raw, '__proto__')).toBe(true);
    expect(serialised.raw.access_token).toBe('[redacted]');
  });

  it('in an error body and a body snippet', async () => {
    server.answer(() => json(`{${HOSTILE},"error":"invalid_client"}`, 401));
    await expect(client().getToken()).rejects.toMatchObject({ error: 'invalid_client' });
    server.answer(() => json(`{${HOSTILE},"message":"down"}`, 500));
    const error = (await client()
      .getToken()
      .catch((e: unknown) => e)) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.bodySnippet).toContain('"__proto__":{"polluted":"yes"}');
  });

  it('in a discovery document', async () => {
    const issuer = `${server.origin}/proto-issuer`;
    server.answer((request) =>
      request.path.startsWith('/.well-known/')
        ? json(`{${HOSTILE},"issuer":"${issuer}","token_endpoint":"${server.origin}/token"}`)
        : json('{"access_token":"proto-discovered","token_type":"Bearer"}'),
    );
    await expect(client(issuer).getToken()).resolves.toMatchObject({ accessToken: 'proto-discovered' });
  });
});
