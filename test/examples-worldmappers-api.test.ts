/**
 * The World Mappers sample API (examples/worldmappers-api) behind the development auth server,
 * over real loopback HTTP with plain fetch (no SDK): RFC 6750 challenges, scopes per route, and
 * that tokens from the wrong key, audience or time are refused.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../examples/auth-server/config.js';
import { type AuthServer, startAuthServer } from '../examples/auth-server/server.js';
import { startWorldMappersApi, type WorldMappersApi } from '../examples/worldmappers-api/server.js';

const GIFT = { id: 'gift-deliveries', secret: 'dev-only-gift-deliveries-secret-do-not-reuse' };
// A test client granted every World Mappers scope and the admin API (for a wrong-audience token).
const TESTER = { id: 'api-tester', secret: 'api-tester-secret' };

let auth: AuthServer;
let api: WorldMappersApi;

async function getToken(
  client: { id: string; secret: string },
  audience = 'urn:worldmappers',
  scope?: string,
  from: AuthServer = auth,
): Promise<string> {
  const res = await fetch(from.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credentials',
      client_id: client.id,
      client_secret: client.secret,
      audience,
      ...(scope ? { scope } : {}),
    }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

function call(path: string, token?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  return fetch(`${api.url}${path}`, { ...init, headers });
}

/** The parameters of a `WWW-Authenticate: Bearer a="b", ...` header. */
function challenge(res: Response): Record<string, string> {
  const header = res.headers.get('www-authenticate') ?? '';
  expect(header).toMatch(/^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

beforeAll(async () => {
  const shipped = await loadConfig();
  auth = await startAuthServer({
    log: false,
    config: {
      ...shipped,
      clients: [...shipped.clients, { clientId: TESTER.id, clientSecret: TESTER.secret }],
      clientGrants: [
        ...shipped.clientGrants,
        {
          clientId: TESTER.id,
          audience: 'urn:worldmappers',
          scope: ['geocode:location', 'read:routes', 'write:routes'],
        },
        { clientId: TESTER.id, audience: 'urn:worldmappers:admin', scope: ['manage:maps'] },
      ],
    },
  });
  api = await startWorldMappersApi({ issuer: auth.issuer, audience: 'urn:worldmappers' });
});

afterAll(async () => {
  await api?.close();
  await auth?.close();
});

describe('without a valid token', () => {
  it('serves /api/public to anyone', async () => {
    const res = await call('/api/public');
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('message');
  });

  it('answers 401 with a bare Bearer challenge (no error attribute) when there is no token', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Basic Zm9vOmJhcg==' }]) {
      const res = await call('/api/routes', undefined, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="worldmappers"');
    }
  });

  it('answers 401 invalid_token for a garbage token', async () => {
    for (const garbage of ['garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      const res = await call('/api/routes', garbage);
      expect(res.status, garbage).toBe(401);
      expect(challenge(res), garbage).toMatchObject({ realm: 'worldmappers', error: 'invalid_token' });
      expect(challenge(res).error_description, garbage).toEqual(expect.any(String));
    }
  });

  it('answers 400 invalid_request for a malformed Authorization header (RFC 6750 3.1)', async () => {
    const res = await call('/api/routes', undefined, { headers: { authorization: 'Bearer not a token' } });
    expect(res.status).toBe(400);
    expect(challenge(res).error).toBe('invalid_request');
  });

  it('answers 401 invalid_token for a token signed by another key, with or without a known kid', async () => {
    const genuine = await getToken(TESTER);
    const { privateKey } = await generateKeyPair('RS256');
    const claims = decodeJwt(genuine);
    for (const kid of [decodeProtectedHeader(genuine).kid!, 'someone-elses-key']) {
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
      const res = await call('/api/routes', forged);
      expect(res.status, kid).toBe(401);
      expect(challenge(res).error, kid).toBe('invalid_token');
    }
  });

  it('answers 401 invalid_token for a token from another issuer', async () => {
    const other = await startAuthServer({ log: false });
    try {
      const res = await call('/api/routes', await getToken(GIFT, 'urn:worldmappers', undefined, other));
      expect(res.status).toBe(401);
      expect(challenge(res).error).toBe('invalid_token');
    } finally {
      await other.close();
    }
  });

  it('answers 401 invalid_token for a token meant for another audience', async () => {
    const res = await call('/api/routes', await getToken(TESTER, 'urn:worldmappers:admin'));
    expect(res.status).toBe(401);
    expect(challenge(res)).toMatchObject({ error: 'invalid_token' });
    expect(challenge(res).error_description).toContain('aud');
  });

  it('answers 401 invalid_token for an expired token', async () => {
    const shortLived = await startAuthServer({ log: false, tokenLifetimeSeconds: 1 });
    const shortApi = await startWorldMappersApi({ issuer: shortLived.issuer });
    try {
      const token = await getToken(GIFT, 'urn:worldmappers', undefined, shortLived);
      const res = await fetch(`${shortApi.url}/api/routes`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      // The API (in this process) reads the wall clock: a second past the token's exp, without waiting.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(decodeJwt(token).exp! * 1000 + 1_000);
      const expired = await fetch(`${shortApi.url}/api/routes`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(expired.status).toBe(401);
      expect(challenge(expired).error_description).toMatch(/expired/);
    } finally {
      vi.useRealTimers();
      await shortApi.close();
      await shortLived.close();
    }
  });

  it('answers 503, not 401, when the JWKS cannot be fetched', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const blind = await startWorldMappersApi({
      issuer: auth.issuer,
      jwksUri: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    });
    try {
      const res = await fetch(`${blind.url}/api/routes`, {
        headers: { authorization: `Bearer ${await getToken(TESTER)}` },
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('www-authenticate')).toBeNull();
    } finally {
      await blind.close();
    }
  });
});

describe('scopes', () => {
  it('answers 403 insufficient_scope naming the missing scope', async () => {
    // Gift Deliveries is granted geocode:location and read:routes only.
    const token = await getToken(GIFT);
    const res = await call('/api/routes', token, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'A', to: 'B' }),
    });
    expect(res.status).toBe(403);
    expect(challenge(res)).toMatchObject({
      realm: 'worldmappers',
      error: 'insufficient_scope',
      scope: 'write:routes',
    });

    const narrow = await getToken(TESTER, 'urn:worldmappers', 'read:routes');
    const geocode = await call('/api/location/geocode?address=Seattle', narrow);
    expect(geocode.status).toBe(403);
    expect(challenge(geocode).scope).toBe('geocode:location');
  });

  it('GET /api/location/geocode with geocode:location: deterministic fake coordinates', async () => {
    const token = await getToken(GIFT, 'urn:worldmappers', 'geocode:location');
    const first = await call('/api/location/geocode?address=1%20Main%20St', token);
    expect(first.status).toBe(200);
    const body = (await first.json()) as { address: string; lat: number; lng: number; fake: boolean };
    expect(body).toMatchObject({ address: '1 Main St', fake: true });
    expect(Math.abs(body.lat)).toBeLessThanOrEqual(90);
    expect(Math.abs(body.lng)).toBeLessThanOrEqual(180);

    const again = await (await call('/api/location/geocode?address=1%20Main%20St', token)).json();
    const other = await (await call('/api/location/geocode?address=2%20Main%20St', token)).json();
    expect(again).toEqual(body);
    expect(other).not.toMatchObject({ lat: body.lat, lng: body.lng });

    const missing = await call('/api/location/geocode', token);
    expect(missing.status).toBe(400);
  });

  it('GET /api/routes with read:routes, POST /api/routes with write:routes', async () => {
    const token = await getToken(TESTER);
    const created = await call('/api/routes', token, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'Kirkland, WA', to: 'Redmond, WA' }),
    });
    expect(created.status).toBe(201);
    const route = (await created.json()) as { id: number; createdBy: string };
    expect(route).toMatchObject({ from: 'Kirkland, WA', to: 'Redmond, WA', createdBy: TESTER.id });

    const list = await call('/api/routes', await getToken(GIFT, 'urn:worldmappers', 'read:routes'));
    expect(list.status).toBe(200);
    const { routes } = (await list.json()) as { routes: Array<{ id: number }> };
    expect(routes.map((r) => r.id)).toContain(route.id);

    const invalid = await call('/api/routes', token, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'nowhere' }),
    });
    expect(invalid.status).toBe(400);
  });
});

describe('key rotation', () => {
  it('refuses tokens signed with a rotated-out key at once and accepts the new key at once', async () => {
    const oldToken = await getToken(GIFT);
    expect((await call('/api/routes', oldToken)).status).toBe(200);

    await auth.rotateKeys();
    const refused = await call('/api/routes', oldToken);
    expect(refused.status).toBe(401);
    expect(challenge(refused).error).toBe('invalid_token');

    const newToken = await getToken(GIFT);
    expect((await call('/api/routes', newToken)).status).toBe(200);
  });
});
