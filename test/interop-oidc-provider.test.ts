/**
 * Interop with a real authorization server: oidc-provider running in-process on loopback (with DPoP
 * and DPoP nonces; a second instance with mutual TLS). One test per cell of the interop matrix
 * (test/interop/matrix.ts), then the finer points. Access tokens are verified against its JWKS.
 * DPoP and mTLS in depth: test/dpop.test.ts and test/mtls.test.ts.
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, exportJWK, type JWK, jwtVerify } from 'jose';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  formUrlEncodeCredential,
  OAuthError,
  type Token,
} from '../src/index.js';
import { certificateThumbprint, haveOpenssl, opensslMissingMessage } from './helpers/certs.js';
import { testClient } from './helpers/clients.js';
import {
  type OidcProviderHarness,
  SPECIAL_CHARACTERS,
  startOidcProvider,
  type TestClient,
} from './helpers/oidc-provider.js';
import { MATRIX } from './interop/matrix.js';
import {
  expectCell,
  expectOneRequestForManyCalls,
  expectRefusedClientHint,
  expectRetryAfter401,
  type ProtectedApi,
  packageVersion,
  recordingFetch,
  registerMatrix,
  startProtectedApi,
} from './interop/suite.js';

let op: OidcProviderHarness;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let api: ProtectedApi;
const POST_SPECIAL = { id: `post${SPECIAL_CHARACTERS}id`, secret: `post-secret${SPECIAL_CHARACTERS}x9` };

beforeAll(async () => {
  op = await startOidcProvider({
    dpopNonce: true,
    clients: [
      {
        client_id: POST_SPECIAL.id,
        client_secret: POST_SPECIAL.secret,
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
  });
  jwks = createRemoteJWKSet(new URL(op.jwksUri));
  api = await startProtectedApi(async (token) => {
    await jwtVerify(token, jwks, { issuer: op.issuer, audience: op.resources.jwt });
    return true;
  });
});
afterAll(async () => {
  await api?.close();
  await op?.close();
});

/** The token requests the server saw (JWKS fetches by the verifier come after them). */
function tokenRequests() {
  return op.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/token'));
}
const lastTokenRequest = () => tokenRequests().at(-1)!;

function credentialsOf(c: TestClient): Partial<ClientCredentialsClientOptions> {
  if (c.key) return { privateKey: c.key.privateKeyPem, keyId: c.key.kid };
  return { clientSecret: c.clientSecret };
}

function client(c: TestClient, options: Partial<ClientCredentialsClientOptions> = {}) {
  return testClient({
    tokenEndpoint: op.tokenEndpoint,
    clientId: c.clientId,
    authMethod: c.authMethod as ClientCredentialsClientOptions['authMethod'],
    resource: op.resources.jwt,
    scope: 'api:read',
    cache: false,
    ...credentialsOf(c),
    ...options,
  });
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

const refusedWith = (status: number, error: string) => (e: unknown) => {
  expect(e).toBeInstanceOf(OAuthError);
  expect(e).toMatchObject({ status, error });
};

describe('oidc-provider: the interop matrix', () => {
  it('is the version the matrix names', () => {
    expect(packageVersion('oidc-provider').split('.')[0]).toBe(MATRIX['oidc-provider'].version);
  });

  registerMatrix(
    'oidc-provider',
    {
      basic: async (cell) => {
        const c = op.clients.basic;
        await expectCell(cell, () => client(c).getToken(), {
          token: async (token) => {
            const payload = await verifyAccessToken(token, c.clientId);
            expect(payload.scope).toBe('api:read');
            expect(token.scope).toBe('api:read');
            const seen = lastTokenRequest();
            expect(seen.status).toBe(200);
            expect(seen.headers.authorization).toMatch(/^Basic /);
            expect(seen.body).not.toHaveProperty('client_secret');
          },
          refusal: refusedWith(401, 'invalid_client'),
        });
      },

      'basic-reserved': async (cell) => {
        // Id and secret hold - . _ ~ : + / = % & ! * ' ( ) and spaces.
        const c = op.clients.specialChars;
        expect(c.clientId).toContain(SPECIAL_CHARACTERS);
        const before = tokenRequests().length;
        await expectCell(cell, () => client(c).getToken(), {
          token: async (token) => {
            await verifyAccessToken(token, c.clientId);
            // One request: the form-urlencoded values (RFC 6749 2.3.1), which the server decoded.
            expect(tokenRequests().length - before).toBe(1);
            const header = lastTokenRequest().headers.authorization as string;
            expect(Buffer.from(header.slice(6), 'base64').toString()).toBe(
              `${formUrlEncodeCredential(c.clientId)}:${formUrlEncodeCredential(c.clientSecret!)}`,
            );
          },
          refusal: refusedWith(401, 'invalid_client'),
        });
      },

      post: async (cell) => {
        const c = op.clients.post;
        await expectCell(cell, () => client(c).getToken(), {
          token: async (token) => {
            await verifyAccessToken(token, c.clientId);
            const seen = lastTokenRequest();
            expect(seen.headers.authorization).toBeUndefined();
            expect(seen.body).toMatchObject({ client_id: c.clientId, grant_type: 'client_credentials' });
          },
          refusal: refusedWith(401, 'invalid_client'),
        });
      },

      json: async (cell) => {
        const c = op.clients.post;
        await expectCell(cell, () => client(c, { authMethod: 'client_secret_json' }).getToken(), {
          token: (token) => verifyAccessToken(token, c.clientId).then(() => undefined),
          refusal: (error) => {
            refusedWith(400, 'invalid_request')(error);
            expect(lastTokenRequest().headers['content-type']).toBe('application/json');
          },
        });
      },

      'secret-jwt': async (cell) => {
        const c = op.clients.secretJwt;
        await expectCell(cell, () => client(c).getToken(), {
          token: async (token) => {
            await verifyAccessToken(token, c.clientId);
            expect(lastTokenRequest().body).toMatchObject({
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            });
          },
          refusal: refusedWith(401, 'invalid_client'),
        });
      },

      'private-key-jwt': async (cell) => {
        for (const c of [
          op.clients.privateKeyJwtRs256,
          op.clients.privateKeyJwtEs256,
          op.clients.privateKeyJwtEdDsa,
        ]) {
          await expectCell(cell, () => client(c).getToken(), {
            token: (token) => verifyAccessToken(token, c.clientId).then(() => undefined),
            refusal: refusedWith(401, 'invalid_client'),
          });
        }
      },

      dpop: async (cell) => {
        const c = op.clients.basic;
        const cc = client(c, { dpop: true });
        const before = tokenRequests().length;
        await expectCell(cell, () => cc.getToken(), {
          token: async (token) => {
            expect(token.tokenType).toBe('DPoP');
            const { payload } = await jwtVerify(token.accessToken, jwks, { issuer: op.issuer });
            expect(payload.cnf).toMatchObject({ jkt: expect.any(String) });
            // The server requires a nonce: use_dpop_nonce (400), then the repeat with it.
            expect(
              tokenRequests()
                .slice(before)
                .map((r) => r.status),
            ).toEqual([400, 200]);
          },
          refusal: refusedWith(400, 'invalid_dpop_proof'),
        });
      },

      mtls: async (cell) => {
        const mtls = await startOidcProvider({ mtls: true });
        const tls = mtls.clients.tlsClientAuth!;
        const dispatcher = new Agent({
          connect: { ca: mtls.ca!, cert: tls.certificate!, key: tls.certificateKey! },
        });
        try {
          const cc = new ClientCredentialsClient({
            issuer: mtls.issuer,
            clientId: tls.clientId,
            authMethod: 'tls_client_auth',
            dispatcher,
            resource: mtls.resources.jwt,
            retry: false,
          });
          await expectCell(cell, () => cc.getToken(), {
            token: async (token) => {
              const keys = await (await fetch(mtls.jwksUri, { dispatcher } as RequestInit)).json();
              const { payload } = await jwtVerify(
                token.accessToken,
                createLocalJWKSet(keys as { keys: JWK[] }),
                {
                  issuer: mtls.issuer,
                },
              );
              expect(payload.cnf).toEqual({ 'x5t#S256': certificateThumbprint(tls.certificate!) });
              const sent = mtls.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/token'));
              expect(sent).toHaveLength(1);
              // RFC 8705 5: the mtls_endpoint_aliases token endpoint, with the certificate.
              expect(sent[0]).toMatchObject({ via: 'mtls', clientCertificate: true, status: 200 });
            },
            refusal: refusedWith(401, 'invalid_client'),
          });
        } finally {
          await dispatcher.close();
          await mtls.close();
        }
      },

      discovery: async (cell) => {
        const c = op.clients.privateKeyJwtEdDsa;
        const cc = new ClientCredentialsClient({
          issuer: op.issuer,
          clientId: c.clientId,
          privateKey: c.key!.privateKeyPem,
          resource: op.resources.urn,
          scope: ['geocode:location'],
          cache: false,
        });
        await expectCell(cell, () => cc.getToken(), {
          token: async (token) => {
            // The assertion audience is the issuer (rfc7523bis), which oidc-provider accepts.
            const payload = await verifyAccessToken(token, c.clientId, op.resources.urn);
            expect(payload.scope).toBe('geocode:location');
            const assertion = lastTokenRequest().body?.client_assertion as string;
            expect(decodeJwt(assertion).aud).toBe(op.issuer);
          },
          refusal: refusedWith(401, 'invalid_client'),
        });
      },

      cache: async (cell) => {
        expect(cell.status).toBe('works');
        const wire = recordingFetch(op.tokenEndpoint);
        const cc = client(op.clients.basic, { cache: undefined, fetch: wire.fetch });
        await verifyAccessToken(await expectOneRequestForManyCalls(cc, wire), op.clients.basic.clientId);
      },

      'retry-401': async (cell) => {
        expect(cell.status).toBe('works');
        const wire = recordingFetch(op.tokenEndpoint);
        const cc = client(op.clients.basic, { cache: undefined, fetch: wire.fetch });
        await expectRetryAfter401(cc, api, wire);
      },

      refused: async (cell) => {
        expect(cell.status).toBe('works');
        const before = tokenRequests().length;
        const error = await client(op.clients.basic, {
          clientSecret: 'wrong-secret',
          retry: { retries: 2, minTimeout: 1 },
        })
          .getToken()
          .catch((e: unknown) => e);
        refusedWith(401, 'invalid_client')(error);
        expectRefusedClientHint(error, {
          endpoint: op.tokenEndpoint,
          clientId: op.clients.basic.clientId,
          method: 'client_secret_basic',
        });
        // Not retried (and a plain secret: nothing to auto-detect).
        expect(tokenRequests().length - before).toBe(1);
      },
    },
    { mtls: haveOpenssl ? undefined : opensslMissingMessage },
  );
});

describe('oidc-provider: finer points', () => {
  it('the special-character client is refused when the values are not encoded (why the default encodes)', async () => {
    const c = op.clients.specialChars;
    const error = await client(c, { basicAuthEncoding: (v) => v.replace(/:/g, '%3A') })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect([400, 401]).toContain((error as OAuthError).status);
    expect(lastTokenRequest().status).toBe((error as OAuthError).status);
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
