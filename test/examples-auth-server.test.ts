/**
 * The development authorization server in examples/auth-server, driven over real loopback HTTP with
 * plain fetch (no SDK), so that what it accepts and refuses is checked from the wire.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  generateKeyPair,
  importPKCS8,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServerConfig, loadConfig, validateConfig } from '../examples/auth-server/config.js';
import { type AuthServer, startAuthServer, type TokenIssuedEvent } from '../examples/auth-server/server.js';

const GIFT_ID = 'gift-deliveries';
const GIFT_SECRET = 'dev-only-gift-deliveries-secret-do-not-reuse';
const PLANNER_ID = 'route-planner';
const PLANNER_KID = 'route-planner-dev-1';
// A client whose id and secret need RFC 6749 2.3.1 encoding: ':' '+' ' ' '%' and non-ASCII.
const ODD_ID = 'ops bot:1+é';
const ODD_SECRET = 'p@ss:w+rd %/é~!';

/** application/x-www-form-urlencoded: unreserved characters kept, space as '+', the rest %XX (UTF-8). */
function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** RFC 6749 2.3.1: Basic credentials with the id and secret form-encoded first. */
function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

let server: AuthServer;
const logLines: string[] = [];
const issuedEvents: TokenIssuedEvent[] = [];
const accessTokens: string[] = [];
let plannerKey: CryptoKey;

async function answer(res: Response): Promise<Answer> {
  const body = (await res.json()) as Record<string, unknown>;
  if (typeof body.access_token === 'string') accessTokens.push(body.access_token);
  return { status: res.status, headers: res.headers, body };
}

function postForm(params: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer> {
  return fetch(server.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  }).then(answer);
}

function postJson(params: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Answer> {
  return fetch(server.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(params),
  }).then(answer);
}

/** A private_key_jwt client assertion for route-planner (RFC 7523 section 3); claims can be overridden. */
function assertion(
  overrides: JWTPayload = {},
  key: CryptoKey = plannerKey,
  kid = PLANNER_KID,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: PLANNER_ID,
    sub: PLANNER_ID,
    aud: server.issuer,
    iat: now,
    exp: now + 60,
    jti: randomUUID(),
    ...overrides,
  })
    .setProtectedHeader({ alg: 'RS256', kid })
    .sign(key);
}

function assertionParams(
  clientAssertion: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    audience: 'urn:worldmappers',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: clientAssertion,
    ...extra,
  };
}

beforeAll(async () => {
  // The shipped config, plus a test client whose credentials need encoding.
  const shipped = await loadConfig();
  const config: AuthServerConfig = {
    ...shipped,
    clients: [...shipped.clients, { clientId: ODD_ID, clientSecret: ODD_SECRET }],
    clientGrants: [
      ...shipped.clientGrants,
      { clientId: ODD_ID, audience: 'urn:worldmappers:admin', scope: ['manage:maps'] },
    ],
  };
  server = await startAuthServer({
    config,
    log: (line) => logLines.push(line),
    onTokenIssued: (event) => issuedEvents.push(event),
  });
  const pem = await readFile(
    new URL('../examples/auth-server/keys/route-planner.private.pem', import.meta.url),
    'utf8',
  );
  plannerKey = await importPKCS8(pem, 'RS256');
});

afterAll(async () => {
  await server?.close();
});

describe('metadata', () => {
  it('publishes the same RFC 8414 / OpenID document at both well-known paths, issuer with a trailing slash', async () => {
    const oidc = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json();
    const oauth = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    expect(oauth).toEqual(oidc);
    expect(server.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(oidc).toMatchObject({
      issuer: server.issuer,
      token_endpoint: `${server.url}/oauth/token`,
      jwks_uri: `${server.url}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    });
    expect(oidc.token_endpoint_auth_signing_alg_values_supported).toContain('RS256');
    expect(oidc.token_endpoint_auth_signing_alg_values_supported).not.toContain('none');
  });
});

describe('client authentication', () => {
  it('accepts client_secret_basic with id and secret form-encoded per RFC 6749 2.3.1', async () => {
    const res = await postForm(
      { grant_type: 'client_credentials', audience: 'urn:worldmappers:admin' },
      { authorization: basic(ODD_ID, ODD_SECRET) },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'manage:maps', expires_in: 3600 });
    expect(decodeJwt(res.body.access_token as string)).toMatchObject({
      sub: `${ODD_ID}@clients`,
      azp: ODD_ID,
      aud: 'urn:worldmappers:admin',
    });
  });

  it('decodes "+" in Basic credentials as a space, so an unencoded "+" in a secret fails', async () => {
    const raw = `Basic ${Buffer.from(`${GIFT_ID}:${ODD_SECRET}`).toString('base64')}`;
    // ODD_SECRET sent raw: its '+' becomes ' ' and '%/' is not a valid escape.
    const res = await postForm({ grant_type: 'client_credentials' }, { authorization: raw });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('accepts client_secret_post', async () => {
    const res = await postForm({
      grant_type: 'client_credentials',
      client_id: GIFT_ID,
      client_secret: GIFT_SECRET,
      audience: 'urn:worldmappers',
      scope: 'read:routes',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'read:routes', expires_in: 86400 });
  });

  it('accepts client_id and client_secret in a JSON body (the Gift Deliveries sample)', async () => {
    const res = await postJson({
      audience: 'urn:worldmappers',
      grant_type: 'client_credentials',
      client_id: GIFT_ID,
      client_secret: GIFT_SECRET,
    });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('geocode:location read:routes');
    expect(issuedEvents.at(-1)).toMatchObject({ clientId: GIFT_ID, authMethod: 'client_secret_json' });
  });

  it('accepts private_key_jwt with aud = issuer and aud = token endpoint', async () => {
    for (const aud of [server.issuer, server.tokenEndpoint]) {
      const res = await postForm(assertionParams(await assertion({ aud })));
      expect(res.status, `aud ${aud}`).toBe(200);
      expect(res.body.scope).toBe('read:routes write:routes');
      expect(issuedEvents.at(-1)).toMatchObject({ clientId: PLANNER_ID, authMethod: 'private_key_jwt' });
    }
  });

  it('refuses a wrong secret with 401 invalid_client and a Basic challenge when Basic was used', async () => {
    const viaBasic = await postForm(
      { grant_type: 'client_credentials' },
      { authorization: basic(GIFT_ID, 'nope') },
    );
    expect(viaBasic.status).toBe(401);
    expect(viaBasic.body.error).toBe('invalid_client');
    expect(viaBasic.headers.get('www-authenticate')).toMatch(/^Basic /);

    const viaPost = await postForm({
      grant_type: 'client_credentials',
      client_id: GIFT_ID,
      client_secret: 'nope',
    });
    expect(viaPost.status).toBe(401);
    expect(viaPost.body.error).toBe('invalid_client');
    expect(viaPost.headers.get('www-authenticate')).toBeNull();

    const unknownClient = await postJson({
      grant_type: 'client_credentials',
      client_id: 'who',
      client_secret: 'x',
    });
    expect(unknownClient.status).toBe(401);
    expect(unknownClient.body.error_description).toBe(viaPost.body.error_description);
  });

  it('refuses a request without any client authentication', async () => {
    const res = await postForm({ grant_type: 'client_credentials', client_id: GIFT_ID });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('refuses two authentication methods in one request with 400 invalid_request (RFC 6749 2.3)', async () => {
    const basicAndPost = await postForm(
      { grant_type: 'client_credentials', client_id: GIFT_ID, client_secret: GIFT_SECRET },
      { authorization: basic(GIFT_ID, GIFT_SECRET) },
    );
    expect(basicAndPost.status).toBe(400);
    expect(basicAndPost.body.error).toBe('invalid_request');

    const postAndJwt = await postForm(assertionParams(await assertion(), { client_secret: GIFT_SECRET }));
    expect(postAndJwt.status).toBe(400);
    expect(postAndJwt.body.error).toBe('invalid_request');
  });

  it('refuses a replayed client assertion (same jti) with invalid_client', async () => {
    const signed = await assertion();
    expect((await postForm(assertionParams(signed))).status).toBe(200);
    const replay = await postForm(assertionParams(signed));
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('invalid_client');
    expect(replay.body.error_description).toMatch(/jti/);
  });

  it('refuses assertions with a wrong audience, issuer, expiry or key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { privateKey: otherKey } = await generateKeyPair('RS256');
    const cases: Record<string, Promise<string>> = {
      'wrong aud': assertion({ aud: 'https://elsewhere.example/' }),
      'iss differs from sub': assertion({ iss: GIFT_ID }),
      expired: assertion({ iat: now - 600, exp: now - 300 }),
      'exp too far ahead': assertion({ exp: now + 3600 }),
      'no jti': assertion({ jti: undefined }),
      'another key, registered kid': assertion({}, otherKey),
      'another key, unknown kid': assertion({}, otherKey, 'not-registered'),
    };
    for (const [name, signed] of Object.entries(cases)) {
      const res = await postForm(assertionParams(await signed));
      expect(res.status, name).toBe(401);
      expect(res.body.error, name).toBe('invalid_client');
    }
  });

  it('refuses an unknown client_assertion_type with invalid_request', async () => {
    const res = await postForm(
      assertionParams(await assertion(), { client_assertion_type: 'urn:example:other' }),
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });
});

describe('grant, audience and scope', () => {
  const gift = { authorization: basic(GIFT_ID, GIFT_SECRET) };

  it('refuses any grant type other than client_credentials, and a missing one', async () => {
    const password = await postForm({ grant_type: 'password', username: 'a', password: 'b' }, gift);
    expect(password.status).toBe(400);
    expect(password.body.error).toBe('unsupported_grant_type');

    const missing = await postForm({ audience: 'urn:worldmappers' }, gift);
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
  });

  it('uses the client default audience when none is asked for, and needs one otherwise', async () => {
    const giftDefault = await postForm({ grant_type: 'client_credentials' }, gift);
    expect(giftDefault.status).toBe(200);
    expect(decodeJwt(giftDefault.body.access_token as string).aud).toBe('urn:worldmappers');

    // route-planner has no defaultAudience in config.json
    const { audience: _omit, ...withoutAudience } = assertionParams(await assertion());
    const plannerNone = await postForm(withoutAudience);
    expect(plannerNone.status).toBe(400);
    expect(plannerNone.body.error).toBe('invalid_request');
  });

  it('answers 403 access_denied for an API the client has no grant for, or that does not exist', async () => {
    for (const audience of ['urn:worldmappers:admin', 'urn:nothing-here']) {
      const res = await postForm({ grant_type: 'client_credentials', audience }, gift);
      expect(res.status, audience).toBe(403);
      expect(res.body.error, audience).toBe('access_denied');
    }
  });

  it('answers 400 invalid_scope for a scope not in the client grant', async () => {
    const res = await postForm(
      { grant_type: 'client_credentials', audience: 'urn:worldmappers', scope: 'read:routes write:routes' },
      gift,
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
    expect(res.body.error_description).toContain('write:routes');
    expect(res.body.error_description).not.toContain('read:routes');
  });

  it('grants exactly the requested subset of scopes', async () => {
    const res = await postForm(
      { grant_type: 'client_credentials', audience: 'urn:worldmappers', scope: 'geocode:location' },
      gift,
    );
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('geocode:location');
    expect(decodeJwt(res.body.access_token as string).scope).toBe('geocode:location');
  });
});

describe('request format', () => {
  it('refuses bodies over 64 KiB with 413', async () => {
    const res = await postForm({ grant_type: 'client_credentials', padding: 'x'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('invalid_request');
  });

  it('refuses other content types, repeated parameters and non-string JSON values', async () => {
    const text = await fetch(server.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'grant_type=client_credentials',
    }).then(answer);
    expect(text.status).toBe(400);

    const repeated = await fetch(server.tokenEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(GIFT_ID, GIFT_SECRET),
      },
      body: 'grant_type=client_credentials&scope=read:routes&scope=geocode:location',
    }).then(answer);
    expect(repeated.status).toBe(400);
    expect(repeated.body.error_description).toMatch(/scope/);

    const arrayScope = await postJson({
      grant_type: 'client_credentials',
      client_id: GIFT_ID,
      client_secret: GIFT_SECRET,
      scope: ['read:routes'],
    });
    expect(arrayScope.status).toBe(400);
    expect(arrayScope.body.error).toBe('invalid_request');
  });

  it('answers 405 to GET on the token endpoint', async () => {
    const res = await fetch(server.tokenEndpoint).then(answer);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('issued tokens', () => {
  it('are RS256 JWTs that verify against the JWKS with Auth0-style claims', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await postJson({
      grant_type: 'client_credentials',
      client_id: GIFT_ID,
      client_secret: GIFT_SECRET,
      audience: 'urn:worldmappers',
    });
    const token = res.body.access_token as string;
    const jwks = createRemoteJWKSet(new URL(server.jwksUri));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: server.issuer,
      audience: 'urn:worldmappers',
      algorithms: ['RS256'],
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(protectedHeader.kid).toEqual(expect.any(String));
    expect(payload).toMatchObject({
      iss: server.issuer,
      sub: `${GIFT_ID}@clients`,
      aud: 'urn:worldmappers',
      azp: GIFT_ID,
      scope: 'geocode:location read:routes',
    });
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.exp! - payload.iat!).toBe(86400);
    expect(payload.jti).toEqual(expect.any(String));
    expect(issuedEvents.at(-1)?.jti).toBe(payload.jti);
  });

  it('stop verifying after rotateKeys(), while new tokens verify', async () => {
    const get = () =>
      postForm({ grant_type: 'client_credentials' }, { authorization: basic(GIFT_ID, GIFT_SECRET) });
    const oldToken = (await get()).body.access_token as string;
    const options = { issuer: server.issuer, audience: 'urn:worldmappers' };
    await jwtVerify(oldToken, createRemoteJWKSet(new URL(server.jwksUri)), options);

    await server.rotateKeys();
    const jwks = createRemoteJWKSet(new URL(server.jwksUri));
    await expect(jwtVerify(oldToken, jwks, options)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    const newToken = (await get()).body.access_token as string;
    expect(decodeProtectedHeader(newToken).kid).not.toBe(decodeProtectedHeader(oldToken).kid);
    await expect(jwtVerify(newToken, jwks, options)).resolves.toBeDefined();
  });

  it('honour the tokenLifetimeSeconds option', async () => {
    const shortLived = await startAuthServer({ log: false, tokenLifetimeSeconds: 60 });
    try {
      const res = await fetch(shortLived.tokenEndpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic(GIFT_ID, GIFT_SECRET),
        },
        body: 'grant_type=client_credentials',
      });
      const body = (await res.json()) as { expires_in: number; access_token: string };
      expect(body.expires_in).toBe(60);
      const claims = decodeJwt(body.access_token);
      expect(claims.exp! - claims.iat!).toBe(60);
      expect(shortLived.stats).toMatchObject({ tokenRequests: 1, tokensIssued: 1, tokenErrors: 0 });
    } finally {
      await shortLived.close();
    }
  });
});

describe('bookkeeping', () => {
  it('counts requests and never logs or reports secrets, assertions or tokens', () => {
    const { tokenRequests, tokensIssued, tokenErrors } = server.stats;
    expect(tokenRequests).toBeGreaterThan(20);
    expect(tokensIssued + tokenErrors).toBe(tokenRequests);
    expect(tokensIssued).toBe(issuedEvents.length);

    const logged = logLines.join('\n') + JSON.stringify(issuedEvents);
    expect(logged).toContain('DEVELOPMENT ONLY');
    for (const secret of [GIFT_SECRET, ODD_SECRET, ...accessTokens]) {
      expect(logged).not.toContain(secret);
    }
    expect(logged).not.toMatch(/eyJ/); // no JWT (token or client assertion) in any form
  });
});

describe('config validation', () => {
  it('names the bad entry', () => {
    const bad = {
      resourceServers: [{ identifier: 'urn:a', scopes: ['read'] }],
      clients: [{ clientId: 'c', clientSecret: 's' }],
      clientGrants: [{ clientId: 'c', audience: 'urn:a', scope: ['write'] }],
    };
    expect(() => validateConfig(bad)).toThrow('clientGrants[0].scope: "write" is not a scope of "urn:a"');
    expect(() => validateConfig({ ...bad, clients: [{ clientId: 'c' }] })).toThrow(/clients\[0\]/);
  });
});
