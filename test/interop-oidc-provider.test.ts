/**
 * Interop with a real authorization server: oidc-provider running in-process on loopback. Real tokens
 * are obtained through ClientCredentialsClient with every method oidc-provider supports, and the access
 * tokens are verified against the server's JWKS.
 */
import { createRemoteJWKSet, exportJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  formUrlEncodeCredential,
  OAuthError,
  type Token,
} from '../src/index.js';
import {
  type OidcProviderHarness,
  SPECIAL_CHARACTERS,
  startOidcProvider,
  type TestClient,
} from './helpers/oidc-provider.js';

let op: OidcProviderHarness;
let jwks: ReturnType<typeof createRemoteJWKSet>;
const POST_SPECIAL = { id: `post${SPECIAL_CHARACTERS}id`, secret: `post-secret${SPECIAL_CHARACTERS}x9` };

beforeAll(async () => {
  op = await startOidcProvider({
    clients: [
      {
        client_id: POST_SPECIAL.id,
        client_secret: POST_SPECIAL.secret,
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
  });
  jwks = createRemoteJWKSet(new URL(op.jwksUri));
});
afterAll(async () => {
  await op?.close();
});

/** The last token request the server saw (JWKS fetches by the verifier come after it). */
function lastTokenRequest() {
  return op.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/token')).at(-1)!;
}

function credentialsOf(c: TestClient): Partial<ClientCredentialsClientOptions> {
  if (c.key) return { privateKey: c.key.privateKeyPem, keyId: c.key.kid };
  return { clientSecret: c.clientSecret };
}

function client(c: TestClient, options: Partial<ClientCredentialsClientOptions> = {}) {
  return new ClientCredentialsClient({
    tokenEndpoint: op.tokenEndpoint,
    clientId: c.clientId,
    authMethod: c.authMethod as ClientCredentialsClientOptions['authMethod'],
    resource: op.resources.jwt,
    scope: 'api:read',
    cache: false,
    retry: false,
    ...credentialsOf(c),
    ...options,
  } as ClientCredentialsClientOptions);
}

/** Verifies a JWT access token with the server's keys and checks who it was issued to. */
async function verifyAccessToken(token: Token, clientId: string, resource = op.resources.jwt) {
  expect(token.tokenType.toLowerCase()).toBe('bearer');
  const { payload } = await jwtVerify(token.accessToken, jwks, { issuer: op.issuer, audience: resource });
  expect(payload.client_id).toBe(clientId);
  expect(token.expiresAt).toBeGreaterThan(Date.now() + 500_000);
  expect(token.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
  return payload;
}

describe('tokens from oidc-provider', () => {
  it('client_secret_basic', async () => {
    const c = op.clients.basic;
    const token = await client(c).getToken();
    const payload = await verifyAccessToken(token, c.clientId);
    expect(payload.scope).toBe('api:read');
    expect(token.scope).toBe('api:read');
    const seen = lastTokenRequest();
    expect(seen.status).toBe(200);
    expect(seen.headers.authorization).toMatch(/^Basic /);
    expect(seen.body).not.toHaveProperty('client_secret');
  });

  it("client_secret_basic with a client id and secret holding - . _ ~ : + / = % & ! * ' ( ) and spaces", async () => {
    const c = op.clients.specialChars;
    expect(c.clientId).toContain(SPECIAL_CHARACTERS);
    const token = await client(c).getToken();
    await verifyAccessToken(token, c.clientId);
    // The header carried the form-urlencoded values (RFC 6749 2.3.1), which the server decoded.
    const header = lastTokenRequest().headers.authorization as string;
    expect(Buffer.from(header.slice(6), 'base64').toString()).toBe(
      `${formUrlEncodeCredential(c.clientId)}:${formUrlEncodeCredential(c.clientSecret!)}`,
    );
  });

  it('the special-character client is refused when the values are not encoded (why the default encodes)', async () => {
    const c = op.clients.specialChars;
    const error = await client(c, { basicAuthEncoding: (v) => v.replace(/:/g, '%3A') })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect([400, 401]).toContain((error as OAuthError).status);
    expect(lastTokenRequest().status).toBe((error as OAuthError).status);
  });

  it('client_secret_post', async () => {
    const c = op.clients.post;
    const token = await client(c).getToken();
    await verifyAccessToken(token, c.clientId);
    const seen = lastTokenRequest();
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.body).toMatchObject({ client_id: c.clientId, grant_type: 'client_credentials' });
  });

  it('client_secret_post with special characters in the id and the secret', async () => {
    const token = await new ClientCredentialsClient({
      tokenEndpoint: op.tokenEndpoint,
      clientId: POST_SPECIAL.id,
      clientSecret: POST_SPECIAL.secret,
      authMethod: 'client_secret_post',
      resource: op.resources.jwt,
      cache: false,
    }).getToken();
    await verifyAccessToken(token, POST_SPECIAL.id);
  });

  it('client_secret_jwt (HS256)', async () => {
    const c = op.clients.secretJwt;
    const token = await client(c).getToken();
    await verifyAccessToken(token, c.clientId);
    expect(lastTokenRequest().body).toMatchObject({
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    });
  });

  it.each([
    ['RS256', 'privateKeyJwtRs256'],
    ['ES256', 'privateKeyJwtEs256'],
    ['EdDSA', 'privateKeyJwtEdDsa'],
  ] as const)('private_key_jwt with an %s key (PKCS#8 PEM)', async (_alg, name) => {
    const c = op.clients[name];
    const token = await client(c).getToken();
    await verifyAccessToken(token, c.clientId);
  });

  it('private_key_jwt with the key as a KeyObject, a CryptoKey and a JWK', async () => {
    const c = op.clients.privateKeyJwtEs256;
    const key = c.key!;
    const jwk = await exportJWK(key.privateKey);
    for (const privateKey of [key.privateKeyObject, key.privateKey, jwk] as const) {
      const token = await client(c, {
        privateKey: privateKey as ClientCredentialsClientOptions['privateKey'],
      }).getToken();
      await verifyAccessToken(token, c.clientId);
    }
  });

  it('private_key_jwt with PS256 from an RSA key', async () => {
    const c = op.clients.privateKeyJwtRs256;
    const token = await client(c, { signingAlgorithm: 'PS256' }).getToken();
    await verifyAccessToken(token, c.clientId);
  });

  it('private_key_jwt through discovery: the assertion audience is the issuer', async () => {
    const c = op.clients.privateKeyJwtEdDsa;
    const token = await new ClientCredentialsClient({
      issuer: op.issuer,
      clientId: c.clientId,
      privateKey: c.key!.privateKeyPem,
      resource: op.resources.urn,
      scope: ['geocode:location'],
      cache: false,
    }).getToken();
    const payload = await verifyAccessToken(token, c.clientId, op.resources.urn);
    expect(payload.scope).toBe('geocode:location');
  });

  it('private_key_jwt with assertionTypHeader: false and the token endpoint as audience', async () => {
    const c = op.clients.privateKeyJwtRs256;
    const token = await client(c, {
      assertionTypHeader: false,
      assertionAudience: op.tokenEndpoint,
    }).getToken();
    await verifyAccessToken(token, c.clientId);
  });

  it('an opaque token for an opaque resource; expiresAt from expires_in', async () => {
    const c = op.clients.basic;
    const before = Date.now();
    const token = await client(c, { resource: op.resources.opaque }).getToken();
    expect(token.accessToken.split('.')).toHaveLength(1);
    expect(token.expiresAt).toBeGreaterThanOrEqual(before + 600_000 - 1_000);
    expect(token.raw).toMatchObject({ token_type: 'Bearer', expires_in: 600 });
  });

  it('caches: a second getToken does not reach the server', async () => {
    const c = op.clients.basic;
    const cc = client(c, { cache: undefined });
    const first = await cc.getToken();
    const count = op.requests.length;
    const second = await cc.getToken();
    expect(second.accessToken).toBe(first.accessToken);
    expect(op.requests.length).toBe(count);
  });
});

describe('refusals from oidc-provider', () => {
  it('a wrong secret is an OAuthError invalid_client (401), not retried', async () => {
    const c = op.clients.basic;
    const count = op.requests.length;
    const error = await client(c, { clientSecret: 'wrong-secret', retry: { retries: 2, minTimeout: 1 } })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'invalid_client', status: 401 });
    expect(op.requests.length - count).toBe(1);
  });

  it('an unknown resource is invalid_target', async () => {
    const error = await client(op.clients.basic, { resource: 'https://unknown.example.test/' })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'invalid_target', status: 400 });
  });

  it('a scope the resource does not have is refused or not granted', async () => {
    const result = await client(op.clients.basic, { scope: 'api:admin' })
      .getToken()
      .then(
        (token) => ({ token }),
        (error: unknown) => ({ error }),
      );
    if ('error' in result) {
      expect(result.error).toMatchObject({ name: 'OAuthError', error: 'invalid_scope' });
    } else {
      const payload = await verifyAccessToken(result.token, op.clients.basic.clientId);
      expect(payload.scope ?? '').not.toContain('api:admin');
    }
  });
});
