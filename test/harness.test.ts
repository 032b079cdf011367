/**
 * Proves the interop harnesses in test/helpers with plain fetch / undici (no SDK code), and pins down the
 * oidc-provider 9 behaviours the SDK's interop tests rely on.
 */
import { X509Certificate } from 'node:crypto';
import {
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  importPKCS8,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { createClient } from 'redis';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateThumbprint,
  getTestCertificates,
  haveOpenssl,
  opensslMissingMessage,
} from './helpers/certs.js';
import {
  type OidcProviderHarness,
  rfc4514SubjectDn,
  SPECIAL_CHARACTERS,
  startOidcProvider,
  type TestClient,
} from './helpers/oidc-provider.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from './helpers/redis-server.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface TokenResult {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string },
) => Promise<{
  status: number;
  headers: Headers;
  text(): Promise<string>;
}>;

async function post(
  url: string,
  params: Record<string, string | string[]>,
  headers: Record<string, string> = {},
  fetchImpl: FetchLike = fetch,
): Promise<TokenResult> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
  }
  const res = await fetchImpl(url, {
    method: 'POST',
    headers: { ...FORM, ...headers },
    body: body.toString(),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** RFC 6749 2.3.1: form-urlencode id and secret (space as '+', only unreserved characters left as-is). */
function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

function basicHeader(
  clientId: string,
  clientSecret: string,
  encode: (s: string) => string = formEncode,
): string {
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`, 'utf8').toString('base64')}`;
}

function secretOf(client: TestClient): string {
  if (client.clientSecret === undefined) throw new Error(`${client.clientId} has no secret`);
  return client.clientSecret;
}

interface AssertionOptions {
  aud: string | string[];
  alg?: string;
  typ?: string;
  kid?: boolean;
  jti?: string | null;
  key?: CryptoKey | Uint8Array | import('node:crypto').KeyObject;
}

async function clientAssertion(client: TestClient, options: AssertionOptions): Promise<string> {
  const symmetric = client.authMethod === 'client_secret_jwt';
  const alg = options.alg ?? (symmetric ? 'HS256' : client.key?.alg);
  if (!alg) throw new Error('no alg');
  const key =
    options.key ?? (symmetric ? new TextEncoder().encode(secretOf(client)) : client.key?.privateKey);
  if (!key) throw new Error('no key');
  const header: { alg: string; typ?: string; kid?: string } = { alg };
  if (options.typ) header.typ = options.typ;
  if (options.kid !== false && client.key) header.kid = client.key.kid;
  const jwt = new SignJWT({})
    .setProtectedHeader(header)
    .setIssuer(client.clientId)
    .setSubject(client.clientId)
    .setAudience(options.aud)
    .setIssuedAt()
    .setExpirationTime('60s');
  if (options.jti !== null) jwt.setJti(options.jti ?? crypto.randomUUID());
  return jwt.sign(key);
}

function assertionParams(assertion: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: assertion,
    ...extra,
  };
}

function isJwt(token: unknown): boolean {
  if (typeof token !== 'string') return false;
  try {
    decodeJwt(token);
    return true;
  } catch {
    return false;
  }
}

async function dpopProof(
  key: { privateKey: CryptoKey; publicJwk: JWK },
  htu: string,
  nonce?: string,
  htm = 'POST',
): Promise<string> {
  return new SignJWT({ htm, htu, ...(nonce ? { nonce } : {}) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk })
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);
}

async function dpopKey(): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, publicJwk: await exportJWK(publicKey) };
}

/** A describe title that says why the block is skipped when a binary is missing. */
function needs(title: string, available: boolean, missing: string): string {
  return available ? title : `${title} (skipped: ${missing})`;
}

// -------------------------------------------------------------------------------------------------

describe('oidc-provider harness over plain http', () => {
  let op: OidcProviderHarness;

  beforeAll(async () => {
    op = await startOidcProvider();
  });
  afterAll(() => op?.close());

  it('listens on loopback and publishes matching discovery metadata', async () => {
    expect(op.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(op.discoveryUrl);
    expect(res.status).toBe(200);
    const metadata = (await res.json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(op.issuer);
    expect(metadata.token_endpoint).toBe(op.tokenEndpoint);
    expect(metadata.jwks_uri).toBe(op.jwksUri);
    expect(metadata.grant_types_supported).toContain('client_credentials');
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining([
        'client_secret_basic',
        'client_secret_post',
        'client_secret_jwt',
        'private_key_jwt',
      ]),
    );
    expect(metadata.token_endpoint_auth_methods_supported).not.toContain('tls_client_auth');
    expect(metadata.mtls_endpoint_aliases).toBeUndefined();
    expect(metadata.dpop_signing_alg_values_supported).toBeUndefined();
    // For an issuer without a path, oidc-provider serves RFC 8414 metadata too (same document).
    const rfc8414 = await fetch(new URL('/.well-known/oauth-authorization-server', op.issuer));
    expect(rfc8414.status).toBe(200);
    expect(await rfc8414.json()).toEqual(metadata);
  });

  it('client_secret_post without resource: an opaque Bearer token, expires_in = configured TTL', async () => {
    const { post: client } = op.clients;
    const res = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: secretOf(client),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json.token_type).toBe('Bearer');
    expect(res.json.expires_in).toBe(600);
    expect(typeof res.json.access_token).toBe('string');
    expect(isJwt(res.json.access_token)).toBe(false);
    expect(res.json.scope).toBeUndefined();
    const seen = op.lastRequest();
    expect(seen?.path).toBe('/token');
    expect(seen?.body?.client_id).toBe(client.clientId);
    expect(seen?.status).toBe(200);
    expect(seen?.headers.authorization).toBeUndefined();
  });

  it('quirk: without a resource, non-OpenID scopes are dropped silently (no error, no scope)', async () => {
    const { post: client } = op.clients;
    const res = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: secretOf(client),
      scope: 'api:read',
    });
    expect(res.status).toBe(200);
    expect(res.json.scope).toBeUndefined();
    expect(isJwt(res.json.access_token)).toBe(false);
  });

  it('a resource (RFC 8707) yields a signed at+jwt access token with aud = resource and filtered scope', async () => {
    const { post: client } = op.clients;
    const res = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: secretOf(client),
      resource: op.resources.jwt,
      scope: 'api:read api:write unknown:scope',
    });
    expect(res.status).toBe(200);
    // Scopes the resource server does not know are dropped silently, not rejected (no invalid_scope).
    expect(res.json.scope).toBe('api:read api:write');
    const token = String(res.json.access_token);
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(op.jwksUri)), {
      issuer: op.issuer,
      audience: op.resources.jwt,
      typ: 'at+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.aud).toBe(op.resources.jwt);
    expect(payload.client_id).toBe(client.clientId);
    expect(payload.sub).toBe(client.clientId);
    expect(payload.scope).toBe('api:read api:write');
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(payload.cnf).toBeUndefined();
  });

  it('a URN resource works too (aud = the URN)', async () => {
    const { post: client } = op.clients;
    const res = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: secretOf(client),
      resource: op.resources.urn,
      scope: 'geocode:location',
    });
    expect(res.status).toBe(200);
    expect(decodeJwt(String(res.json.access_token)).aud).toBe('urn:worldmappers');
    expect(res.json.scope).toBe('geocode:location');
  });

  it('an opaque resource server gives a non-JWT token that still carries the granted scope', async () => {
    const { post: client } = op.clients;
    const res = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: secretOf(client),
      resource: op.resources.opaque,
      scope: 'api:read',
    });
    expect(res.status).toBe(200);
    expect(isJwt(res.json.access_token)).toBe(false);
    expect(res.json.scope).toBe('api:read');
  });

  it('unknown and multiple resources are invalid_target (400)', async () => {
    const { post: client } = op.clients;
    const base = {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: secretOf(client),
    };
    const unknown = await post(op.tokenEndpoint, { ...base, resource: 'https://unknown.example.test/' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toBe('invalid_target');
    const multiple = await post(op.tokenEndpoint, {
      ...base,
      resource: [op.resources.jwt, op.resources.urn],
    });
    expect(multiple.status).toBe(400);
    expect(multiple.json.error).toBe('invalid_target');
    expect(multiple.json.error_description).toMatch(/single resource/);
  });

  it('quirk: the `audience` parameter is ignored (only `resource` sets aud)', async () => {
    const { post: client } = op.clients;
    const base = {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: secretOf(client),
    };
    const alone = await post(op.tokenEndpoint, { ...base, audience: 'urn:some-audience' });
    expect(alone.status).toBe(200);
    expect(isJwt(alone.json.access_token)).toBe(false);
    const withResource = await post(op.tokenEndpoint, {
      ...base,
      audience: 'urn:some-audience',
      resource: op.resources.jwt,
    });
    expect(withResource.status).toBe(200);
    expect(decodeJwt(String(withResource.json.access_token)).aud).toBe(op.resources.jwt);
    // ...but the raw body still shows it was sent.
    expect(op.lastRequest()?.body?.audience).toBe('urn:some-audience');
  });

  it('client_secret_basic with a simple id/secret', async () => {
    const { basic: client } = op.clients;
    const res = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(client.clientId, secretOf(client)) },
    );
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
    expect(op.lastRequest()?.headers.authorization).toMatch(/^Basic /);
  });

  it('client_secret_basic with every special character, form-urlencoded before base64 (RFC 6749 2.3.1)', async () => {
    const { specialChars: client } = op.clients;
    for (const c of SPECIAL_CHARACTERS) {
      expect(client.clientId).toContain(c);
      expect(secretOf(client)).toContain(c);
    }
    const res = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials', resource: op.resources.jwt },
      { authorization: basicHeader(client.clientId, secretOf(client)) },
    );
    expect(res.status).toBe(200);
    expect(decodeJwt(String(res.json.access_token)).client_id).toBe(client.clientId);
  });

  it('quirk: Basic credentials that skip the form-urlencoding are rejected as invalid_request (400)', async () => {
    const { specialChars: client } = op.clients;
    const res = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(client.clientId, secretOf(client), (s) => s) },
    );
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_request');
    expect(res.json.error_description).toBe(
      'client_id and client_secret in the authorization header are not properly encoded',
    );
  });

  it("quirk: plain encodeURIComponent (space as %20, !*'() raw) is also accepted", async () => {
    const { specialChars: client } = op.clients;
    const res = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(client.clientId, secretOf(client), encodeURIComponent) },
    );
    expect(res.status).toBe(200);
  });

  it('quirk: a client_secret_basic client may authenticate with client_secret_post and vice versa', async () => {
    const { basic, post: postClient } = op.clients;
    const viaPost = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: basic.clientId,
      client_secret: secretOf(basic),
    });
    expect(viaPost.status).toBe(200);
    const viaBasic = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(postClient.clientId, secretOf(postClient)) },
    );
    expect(viaBasic.status).toBe(200);
  });

  it('Basic auth plus the same client_id in the body is fine; plus client_secret in the body is not', async () => {
    const { basic: client } = op.clients;
    const authorization = basicHeader(client.clientId, secretOf(client));
    const sameId = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials', client_id: client.clientId },
      { authorization },
    );
    expect(sameId.status).toBe(200);
    const otherId = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials', client_id: 'post-client' },
      { authorization },
    );
    expect(otherId.status).toBe(400);
    expect(otherId.json).toEqual({ error: 'invalid_request', error_description: 'client_id mismatch' });
    const twoMechanisms = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials', client_secret: secretOf(client) },
      { authorization },
    );
    expect(twoMechanisms.status).toBe(400);
    expect(twoMechanisms.json).toEqual({
      error: 'invalid_request',
      error_description: 'client authentication must only be provided using one mechanism',
    });
  });

  it('a JSON body (client_secret_json style) is rejected: only form bodies are accepted', async () => {
    const { post: client } = op.clients;
    const res = await fetch(op.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: client.clientId,
        client_secret: secretOf(client),
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toBe(
      'only application/x-www-form-urlencoded content-type bodies are supported on POST /token',
    );
  });

  it('error responses: invalid_client is 401 JSON; with Basic auth it adds WWW-Authenticate: Basic', async () => {
    const { basic: client } = op.clients;
    const wrongBasic = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(client.clientId, 'wrong-secret') },
    );
    expect(wrongBasic.status).toBe(401);
    expect(wrongBasic.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(wrongBasic.json).toEqual({
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });
    const challenge = wrongBasic.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Basic realm="/);
    expect(challenge).toContain(`realm="${op.issuer}"`);
    expect(challenge).toContain('error="invalid_client"');
    expect(op.lastRequest()?.status).toBe(401);

    const wrongPost = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: 'wrong-secret',
    });
    expect(wrongPost.status).toBe(401);
    expect(wrongPost.json.error).toBe('invalid_client');
    expect(wrongPost.headers.get('www-authenticate')).toBeNull();

    const unknownClient = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: 'no-such-client',
      client_secret: 'x',
    });
    expect(unknownClient.status).toBe(401);
    expect(unknownClient.json.error).toBe('invalid_client');
  });

  it('error responses: unsupported grant type and missing grant_type are 400', async () => {
    const { post: client } = op.clients;
    const auth = { client_id: client.clientId, client_secret: secretOf(client) };
    const unsupported = await post(op.tokenEndpoint, { ...auth, grant_type: 'password' });
    expect(unsupported.status).toBe(400);
    expect(unsupported.json.error).toBe('unsupported_grant_type');
    const missing = await post(op.tokenEndpoint, auth);
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe('invalid_request');
    expect(missing.json.error_description).toBe("missing required parameter 'grant_type'");
  });

  it('private_key_jwt RS256 with aud = issuer', async () => {
    const client = op.clients.privateKeyJwtRs256;
    const res = await post(
      op.tokenEndpoint,
      assertionParams(await clientAssertion(client, { aud: op.issuer }), { resource: op.resources.jwt }),
    );
    expect(res.status).toBe(200);
    expect(decodeJwt(String(res.json.access_token)).client_id).toBe(client.clientId);
    expect(op.lastRequest()?.body?.client_assertion_type).toBe(ASSERTION_TYPE);
  });

  it('quirk: the assertion aud may be the issuer, the token endpoint, or an array containing either', async () => {
    const client = op.clients.privateKeyJwtRs256;
    for (const aud of [op.tokenEndpoint, ['https://other.example.test/', op.issuer], [op.tokenEndpoint]]) {
      const res = await post(op.tokenEndpoint, assertionParams(await clientAssertion(client, { aud })));
      expect(res.status, JSON.stringify(aud)).toBe(200);
    }
    const wrong = await post(
      op.tokenEndpoint,
      assertionParams(await clientAssertion(client, { aud: 'https://other.example.test/' })),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('invalid_client');
    // The reason is not in the response (only 'client authentication failed').
    expect(wrong.json.error_description).toBe('client authentication failed');
    const trailingSlash = await post(
      op.tokenEndpoint,
      assertionParams(await clientAssertion(client, { aud: `${op.issuer}/` })),
    );
    expect(trailingSlash.status).toBe(401);
  });

  it('quirk: typ "client-authentication+jwt" and a missing kid are accepted', async () => {
    const client = op.clients.privateKeyJwtRs256;
    const typed = await post(
      op.tokenEndpoint,
      assertionParams(await clientAssertion(client, { aud: op.issuer, typ: 'client-authentication+jwt' })),
    );
    expect(typed.status).toBe(200);
    const noKid = await post(
      op.tokenEndpoint,
      assertionParams(await clientAssertion(client, { aud: op.issuer, kid: false })),
    );
    expect(noKid.status).toBe(200);
  });

  it('quirk: an RSA key registered without alg may also sign PS256 (and RS384 etc., all enabled here)', async () => {
    const client = op.clients.privateKeyJwtRs256;
    const key = client.key!.privateKeyPem;
    for (const alg of ['PS256', 'RS384']) {
      const res = await post(
        op.tokenEndpoint,
        assertionParams(
          await clientAssertion(client, { aud: op.issuer, alg, key: await importPKCS8(key, alg) }),
        ),
      );
      expect(res.status, alg).toBe(200);
    }
  });

  it('client assertions: jti is required and single-use; client_assertion_type is required', async () => {
    const client = op.clients.privateKeyJwtRs256;
    const noJti = await post(
      op.tokenEndpoint,
      assertionParams(await clientAssertion(client, { aud: op.issuer, jti: null })),
    );
    expect(noJti.status).toBe(401);
    expect(noJti.json.error).toBe('invalid_client');

    const assertion = await clientAssertion(client, { aud: op.issuer });
    expect((await post(op.tokenEndpoint, assertionParams(assertion))).status).toBe(200);
    const replay = await post(op.tokenEndpoint, assertionParams(assertion));
    expect(replay.status).toBe(401);
    expect(replay.json.error).toBe('invalid_client');

    const noType = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_assertion: await clientAssertion(client, { aud: op.issuer }),
    });
    expect(noType.status).toBe(400);
    expect(noType.json).toEqual({
      error: 'invalid_request',
      error_description: 'client_assertion_type must be provided',
    });

    const mismatch = await post(
      op.tokenEndpoint,
      assertionParams(await clientAssertion(client, { aud: op.issuer }), { client_id: 'someone-else' }),
    );
    expect(mismatch.status).toBe(400);
    expect(mismatch.json.error_description).toBe('client_id mismatch');
  });

  it('private_key_jwt with ES256 and EdDSA keys, from CryptoKey, KeyObject and the PKCS#8 PEM', async () => {
    const { privateKeyJwtEs256: es, privateKeyJwtEdDsa: ed } = op.clients;
    const cases: Array<[TestClient, AssertionOptions]> = [
      [es, { aud: op.issuer }],
      [es, { aud: op.issuer, key: es.key!.privateKeyObject }],
      [es, { aud: op.issuer, key: await importPKCS8(es.key!.privateKeyPem, 'ES256') }],
      [ed, { aud: op.issuer }],
      [ed, { aud: op.issuer, alg: 'Ed25519' }],
      [ed, { aud: op.issuer, key: await importPKCS8(ed.key!.privateKeyPem, 'EdDSA') }],
    ];
    for (const [client, options] of cases) {
      const res = await post(op.tokenEndpoint, assertionParams(await clientAssertion(client, options)));
      expect(res.status, `${client.clientId} ${options.alg ?? ''}`).toBe(200);
    }
    // A key of another client does not authenticate this one.
    const wrongKey = await post(
      op.tokenEndpoint,
      assertionParams(
        await clientAssertion(es, {
          aud: op.issuer,
          kid: false,
          key: op.keys.rs256.privateKey,
          alg: 'RS256',
        }),
      ),
    );
    expect(wrongKey.status).toBe(401);
  });

  it('client_secret_jwt (HS256 with the client secret)', async () => {
    const client = op.clients.secretJwt;
    const res = await post(
      op.tokenEndpoint,
      assertionParams(await clientAssertion(client, { aud: op.tokenEndpoint })),
    );
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
  });

  it('quirk: with DPoP disabled a DPoP header is ignored and a Bearer token issued', async () => {
    const { post: client } = op.clients;
    const key = await dpopKey();
    const res = await post(
      op.tokenEndpoint,
      {
        grant_type: 'client_credentials',
        client_id: client.clientId,
        client_secret: secretOf(client),
        resource: op.resources.jwt,
      },
      { dpop: await dpopProof(key, op.tokenEndpoint) },
    );
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
    expect(decodeJwt(String(res.json.access_token)).cnf).toBeUndefined();
  });
});

describe('oidc-provider harness options: issuerPath, oauthMetadata, TTL, defaultResource, extra clients', () => {
  let op: OidcProviderHarness;

  beforeAll(async () => {
    op = await startOidcProvider({
      issuerPath: '/tenant-a',
      oauthMetadata: true,
      accessTokenTtlSeconds: 30,
      defaultResource: 'https://api.example.test/',
      resources: {
        'https://es256.example.test/': {
          scope: 'api:read',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 42,
          jwt: { sign: { alg: 'ES256' } },
        },
      },
      clients: [
        {
          client_id: 'extra-client',
          client_secret: 'extra-client-secret-0123456789abcdef',
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
    });
  });
  afterAll(() => op?.close());

  it('serves the issuer under a path, OIDC and RFC 8414 metadata, and 404 outside the path', async () => {
    // oidc-provider itself appends both well-known names to the issuer (not RFC 8414 3.1 for a path).
    const appended = await fetch(`${op.issuer}/.well-known/oauth-authorization-server`);
    expect(appended.status).toBe(200);
    await appended.body?.cancel();
    expect(op.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tenant-a$/);
    expect(op.tokenEndpoint).toBe(`${op.issuer}/token`);
    const oidc = (await (await fetch(op.discoveryUrl)).json()) as Record<string, unknown>;
    expect(oidc.issuer).toBe(op.issuer);
    expect(oidc.token_endpoint).toBe(op.tokenEndpoint);
    const origin = new URL(op.issuer).origin;
    // RFC 8414 3.1: well-known segment inserted between host and path.
    const rfc8414 = await fetch(`${origin}/.well-known/oauth-authorization-server/tenant-a`);
    expect(rfc8414.status).toBe(200);
    expect(((await rfc8414.json()) as Record<string, unknown>).issuer).toBe(op.issuer);
    expect(op.lastRequest()?.path).toBe('/.well-known/oauth-authorization-server/tenant-a');
    const outside = await fetch(`${origin}/.well-known/openid-configuration`);
    expect(outside.status).toBe(404);
    await outside.body?.cancel();
  });

  it('uses the default resource and TTL, and registers extra clients', async () => {
    const res = await post(op.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: 'extra-client',
      client_secret: 'extra-client-secret-0123456789abcdef',
      scope: 'api:write',
    });
    expect(res.status).toBe(200);
    expect(res.json.expires_in).toBe(30);
    expect(res.json.scope).toBe('api:write');
    const payload = decodeJwt(String(res.json.access_token));
    expect(payload.aud).toBe('https://api.example.test/');
    expect(payload.iss).toBe(op.issuer);
  });

  it('takes extra resource servers (here ES256-signed, own TTL) and keeps the defaults', async () => {
    const params = {
      grant_type: 'client_credentials',
      client_id: 'extra-client',
      client_secret: 'extra-client-secret-0123456789abcdef',
    };
    const res = await post(op.tokenEndpoint, {
      ...params,
      resource: 'https://es256.example.test/',
      scope: 'api:read',
    });
    expect(res.status).toBe(200);
    expect(res.json.expires_in).toBe(42);
    const { protectedHeader, payload } = await jwtVerify(
      String(res.json.access_token),
      createRemoteJWKSet(new URL(op.jwksUri)),
      { issuer: op.issuer, audience: 'https://es256.example.test/' },
    );
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: 'op-es256', typ: 'at+jwt' });
    expect(payload.scope).toBe('api:read');
    const urn = await post(op.tokenEndpoint, { ...params, resource: op.resources.urn });
    expect(urn.status).toBe(200);
  });

  it('accepts the path-qualified token endpoint as a client assertion aud', async () => {
    const client = op.clients.privateKeyJwtEs256;
    for (const aud of [op.issuer, op.tokenEndpoint]) {
      const res = await post(op.tokenEndpoint, assertionParams(await clientAssertion(client, { aud })));
      expect(res.status, aud).toBe(200);
    }
  });
});

describe('oidc-provider harness with DPoP (RFC 9449)', () => {
  let op: OidcProviderHarness;

  beforeAll(async () => {
    op = await startOidcProvider({ dpop: true });
  });
  afterAll(() => op?.close());

  it('binds the token to the proof key: token_type DPoP and cnf.jkt', async () => {
    const { post: client } = op.clients;
    const key = await dpopKey();
    const res = await post(
      op.tokenEndpoint,
      {
        grant_type: 'client_credentials',
        client_id: client.clientId,
        client_secret: secretOf(client),
        resource: op.resources.jwt,
      },
      { dpop: await dpopProof(key, op.tokenEndpoint) },
    );
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('DPoP');
    const payload = decodeJwt(String(res.json.access_token));
    expect(payload.cnf).toEqual({ jkt: await calculateJwkThumbprint(key.publicJwk) });
    expect(res.headers.get('dpop-nonce')).toBeNull();

    const metadata = (await (await fetch(op.discoveryUrl)).json()) as Record<string, unknown>;
    expect(metadata.dpop_signing_alg_values_supported).toContain('ES256');
  });

  it('without a proof the same client still gets a Bearer token', async () => {
    const { basic: client } = op.clients;
    const res = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(client.clientId, secretOf(client)) },
    );
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
  });

  it('rejects a proof for another URL with invalid_dpop_proof (400)', async () => {
    const { post: client } = op.clients;
    const res = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials', client_id: client.clientId, client_secret: secretOf(client) },
      { dpop: await dpopProof(await dpopKey(), `${op.issuer}/elsewhere`) },
    );
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: 'invalid_dpop_proof', error_description: 'DPoP proof htu mismatch' });
  });
});

describe('oidc-provider harness with required DPoP nonces', () => {
  let op: OidcProviderHarness;

  beforeAll(async () => {
    op = await startOidcProvider({ dpopNonce: true });
  });
  afterAll(() => op?.close());

  it('answers use_dpop_nonce with a DPoP-Nonce header, then issues the token for a proof with that nonce', async () => {
    const { post: client } = op.clients;
    const key = await dpopKey();
    const params = {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: secretOf(client),
      resource: op.resources.jwt,
    };
    const first = await post(op.tokenEndpoint, params, { dpop: await dpopProof(key, op.tokenEndpoint) });
    expect(first.status).toBe(400);
    expect(first.json).toEqual({
      error: 'use_dpop_nonce',
      error_description: 'nonce is required in the DPoP proof',
    });
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[\w-]{20,}$/);
    expect(first.headers.get('access-control-expose-headers')).toContain('DPoP-Nonce');

    const second = await post(op.tokenEndpoint, params, {
      dpop: await dpopProof(key, op.tokenEndpoint, nonce!),
    });
    expect(second.status).toBe(200);
    expect(second.json.token_type).toBe('DPoP');
    expect(decodeJwt(String(second.json.access_token)).cnf).toEqual({
      jkt: await calculateJwkThumbprint(key.publicJwk),
    });
  });

  it('rejects a made-up nonce with use_dpop_nonce and a fresh nonce', async () => {
    const { post: client } = op.clients;
    const res = await post(
      op.tokenEndpoint,
      { grant_type: 'client_credentials', client_id: client.clientId, client_secret: secretOf(client) },
      { dpop: await dpopProof(await dpopKey(), op.tokenEndpoint, 'not-a-server-nonce') },
    );
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('use_dpop_nonce');
    expect(res.headers.get('dpop-nonce')).toBeTruthy();
  });
});

describe.skipIf(!haveOpenssl)(needs('test certificates', haveOpenssl, opensslMissingMessage), () => {
  it('makes a CA, a loopback server certificate and CA-signed / self-signed client certificates, once', async () => {
    const certs = await getTestCertificates();
    expect(await getTestCertificates()).toBe(certs);
    const ca = new X509Certificate(certs.ca.cert);
    expect(ca.ca).toBe(true);
    const server = new X509Certificate(certs.server.cert);
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const client = new X509Certificate(certs.client.cert);
    expect(client.checkIssued(ca) && client.verify(ca.publicKey)).toBe(true);
    expect(certs.client.subjectDn).toBe('CN=m2m-token test client,O=m2m-token tests');
    expect(rfc4514SubjectDn(client)).toBe(certs.client.subjectDn);
    const selfSigned = new X509Certificate(certs.selfSignedClient.cert);
    expect(selfSigned.checkIssued(selfSigned)).toBe(true);
    expect(selfSigned.checkIssued(ca)).toBe(false);
    expect(certs.client.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(certificateThumbprint(certs.client.cert)).toBe(
      Buffer.from(client.fingerprint256.replaceAll(':', ''), 'hex').toString('base64url'),
    );
  });
});

describe.skipIf(!haveOpenssl)(
  needs('oidc-provider harness over https', haveOpenssl, opensslMissingMessage),
  () => {
    let op: OidcProviderHarness;
    let agent: Agent;

    beforeAll(async () => {
      op = await startOidcProvider({ tls: true });
      agent = new Agent({ connect: { ca: op.ca } });
    });
    afterAll(async () => {
      await agent?.close();
      await op?.close();
    });

    it('serves https with a certificate trusted through op.ca, without the mTLS clients', async () => {
      expect(op.issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(op.mtlsTokenEndpoint).toBeUndefined();
      expect(op.clients.tlsClientAuth).toBeUndefined();
      const { basic: client } = op.clients;
      const res = await post(
        op.tokenEndpoint,
        { grant_type: 'client_credentials' },
        { authorization: basicHeader(client.clientId, secretOf(client)) },
        (url, init) => undiciFetch(url, { ...init, dispatcher: agent }),
      );
      expect(res.status).toBe(200);
      expect(op.lastRequest()?.clientCertificate).toBe(false);
      // Without the CA the certificate is not trusted.
      await expect(fetch(op.discoveryUrl)).rejects.toThrow(TypeError);
    });
  },
);

describe.skipIf(!haveOpenssl)(
  needs('oidc-provider harness with mutual TLS (RFC 8705)', haveOpenssl, opensslMissingMessage),
  () => {
    let op: OidcProviderHarness;
    const agents: Agent[] = [];

    function fetchVia(options: { cert?: string; key?: string } = {}): FetchLike {
      const agent = new Agent({ connect: { ca: op.ca, ...options } });
      agents.push(agent);
      return (url, init) => undiciFetch(url, { ...init, dispatcher: agent });
    }

    beforeAll(async () => {
      op = await startOidcProvider({ mtls: true });
    });
    afterAll(async () => {
      await Promise.all(agents.map((agent) => agent.close()));
      await op?.close();
    });

    it('publishes mtls_endpoint_aliases and the mTLS methods over https', async () => {
      expect(op.issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(op.mtlsTokenEndpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/token$/);
      expect(op.mtlsTokenEndpoint).not.toBe(op.tokenEndpoint);
      const res = await undiciFetch(op.discoveryUrl, { dispatcher: new Agent({ connect: { ca: op.ca } }) });
      const metadata = (await res.json()) as Record<string, unknown>;
      expect(metadata.mtls_endpoint_aliases).toEqual({ token_endpoint: op.mtlsTokenEndpoint });
      expect(metadata.tls_client_certificate_bound_access_tokens).toBe(true);
      expect(metadata.token_endpoint_auth_methods_supported).toEqual(
        expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth']),
      );
    });

    it('tls_client_auth: a token over the mTLS alias, bound to the certificate (cnf x5t#S256)', async () => {
      const client = op.clients.tlsClientAuth!;
      const res = await post(
        op.mtlsTokenEndpoint!,
        { grant_type: 'client_credentials', client_id: client.clientId, resource: op.resources.jwt },
        {},
        fetchVia({ cert: client.certificate!, key: client.certificateKey! }),
      );
      expect(res.status).toBe(200);
      expect(res.json.token_type).toBe('Bearer');
      const payload = decodeJwt(String(res.json.access_token));
      expect(payload.cnf).toEqual({ 'x5t#S256': certificateThumbprint(client.certificate!) });
      const seen = op.lastRequest();
      expect(seen?.via).toBe('mtls');
      expect(seen?.clientCertificate).toBe(true);
    });

    it('the main https endpoint also takes the certificate', async () => {
      const client = op.clients.tlsClientAuth!;
      const res = await post(
        op.tokenEndpoint,
        { grant_type: 'client_credentials', client_id: client.clientId },
        {},
        fetchVia({ cert: client.certificate!, key: client.certificateKey! }),
      );
      expect(res.status).toBe(200);
      expect(op.lastRequest()?.via).toBe('main');
    });

    it('tls_client_auth fails without a certificate, or with one not issued by the CA', async () => {
      const client = op.clients.tlsClientAuth!;
      const params = { grant_type: 'client_credentials', client_id: client.clientId };
      const none = await post(op.mtlsTokenEndpoint!, params, {}, fetchVia());
      expect(none.status).toBe(401);
      expect(none.json.error).toBe('invalid_client');
      const selfSigned = op.clients.selfSignedTlsClientAuth!;
      const wrong = await post(
        op.mtlsTokenEndpoint!,
        params,
        {},
        fetchVia({ cert: selfSigned.certificate!, key: selfSigned.certificateKey! }),
      );
      expect(wrong.status).toBe(401);
      expect(wrong.json.error).toBe('invalid_client');
    });

    it('self_signed_tls_client_auth: the registered self-signed certificate works, another does not', async () => {
      const client = op.clients.selfSignedTlsClientAuth!;
      const params = {
        grant_type: 'client_credentials',
        client_id: client.clientId,
        resource: op.resources.jwt,
      };
      const ok = await post(
        op.mtlsTokenEndpoint!,
        params,
        {},
        fetchVia({ cert: client.certificate!, key: client.certificateKey! }),
      );
      expect(ok.status).toBe(200);
      expect(decodeJwt(String(ok.json.access_token)).cnf).toEqual({
        'x5t#S256': certificateThumbprint(client.certificate!),
      });
      const other = op.clients.tlsClientAuth!;
      const wrong = await post(
        op.mtlsTokenEndpoint!,
        params,
        {},
        fetchVia({ cert: other.certificate!, key: other.certificateKey! }),
      );
      expect(wrong.status).toBe(401);
    });

    it('quirk: at the alias, the assertion aud must be the issuer or the alias URL, not the main token endpoint', async () => {
      const client = op.clients.privateKeyJwtRs256;
      const via = fetchVia();
      for (const aud of [op.issuer, op.mtlsTokenEndpoint!]) {
        const res = await post(
          op.mtlsTokenEndpoint!,
          assertionParams(await clientAssertion(client, { aud })),
          {},
          via,
        );
        expect(res.status, aud).toBe(200);
      }
      const main = await post(
        op.mtlsTokenEndpoint!,
        assertionParams(await clientAssertion(client, { aud: op.tokenEndpoint })),
        {},
        via,
      );
      expect(main.status).toBe(401);
    });

    it('secret-based clients keep working over https without a certificate (unbound Bearer token)', async () => {
      const { basic: client } = op.clients;
      const res = await post(
        op.tokenEndpoint,
        { grant_type: 'client_credentials', resource: op.resources.jwt },
        { authorization: basicHeader(client.clientId, secretOf(client)) },
        fetchVia(),
      );
      expect(res.status).toBe(200);
      expect(decodeJwt(String(res.json.access_token)).cnf).toBeUndefined();
    });
  },
);

describe.skipIf(!haveRedisServer)(
  needs('redis-server harness', haveRedisServer, redisServerMissingMessage),
  () => {
    let server: RedisServer | undefined;

    afterAll(() => server?.stop());

    function processAlive(pid: number): boolean {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    }

    async function withClient<T>(
      url: string,
      fn: (client: ReturnType<typeof createClient>) => Promise<T>,
    ): Promise<T> {
      const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 2_000 } });
      client.on('error', () => {});
      await client.connect();
      try {
        return await fn(client);
      } finally {
        client.destroy();
      }
    }

    it('starts on loopback, answers PING, restarts on the same port, and stops without leftovers', async () => {
      server = await startRedisServer();
      expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
      expect(server.running).toBe(true);
      const firstPid = server.pid!;
      const url = server.url;

      await withClient(url, async (client) => {
        expect(await client.ping()).toBe('PONG');
        await client.set('harness:key', 'value');
        expect(await client.get('harness:key')).toBe('value');
      });

      await server.restart();
      expect(server.running).toBe(true);
      expect(server.url).toBe(url);
      expect(server.pid).not.toBe(firstPid);
      expect(processAlive(firstPid)).toBe(false);
      await withClient(url, async (client) => {
        expect(await client.ping()).toBe('PONG');
        // No persistence: a restart starts empty.
        expect(await client.get('harness:key')).toBeNull();
      });

      const secondPid = server.pid!;
      await server.kill();
      expect(server.running).toBe(false);
      expect(processAlive(secondPid)).toBe(false);
      await expect(withClient(url, (client) => client.ping())).rejects.toThrow();

      await server.restart();
      const thirdPid = server.pid!;
      await withClient(url, async (client) => expect(await client.ping()).toBe('PONG'));
      await server.stop();
      expect(server.running).toBe(false);
      expect(server.pid).toBeUndefined();
      expect(processAlive(thirdPid)).toBe(false);
      await server.stop(); // idempotent
    });
  },
);
