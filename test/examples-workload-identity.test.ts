/**
 * The example auth server trusts an external issuer (examples/workload-identity/cluster.ts, a stand-in
 * for a Kubernetes cluster): a federated client authenticates with the cluster's service-account token
 * as its client assertion, checked for iss, sub (the client's subject at that issuer), aud, exp and the
 * signature against the cluster's JWKS. Driven by m2m-token as a workload would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServerConfig, validateConfig } from '../examples/auth-server/config.js';
import { type AuthServer, startAuthServer, type TokenIssuedEvent } from '../examples/auth-server/server.js';
import { type Cluster, startCluster } from '../examples/workload-identity/cluster.js';
import { ProjectedTokenVolume } from '../examples/workload-identity/projected-token.js';
import { ClientCredentialsClient, OAuthError } from '../src/index.js';

const SUBJECT = 'system:serviceaccount:shipping:label-printer';

let cluster: Cluster;
let auth: AuthServer;
const issued: TokenIssuedEvent[] = [];
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  auth = await startAuthServer({
    log: false,
    onTokenIssued: (event) => issued.push(event),
    trustedIssuers: [{ issuer: cluster.issuer, jwksUri: cluster.jwksUri }],
  });
  dir = await mkdtemp(join(tmpdir(), 'm2m-federation-'));
});

afterAll(async () => {
  await Promise.all([auth?.close(), cluster?.close()]);
  await rm(dir, { recursive: true, force: true });
});

function client(assertion: string, clientId = 'label-printer'): ClientCredentialsClient {
  return new ClientCredentialsClient({
    tokenEndpoint: auth.tokenEndpoint,
    clientId,
    clientAssertion: assertion,
    audience: 'urn:worldmappers',
    retry: false,
  });
}

const serviceAccountToken = (
  overrides: { serviceAccount?: string; audience?: string; lifetimeSeconds?: number } = {},
) =>
  cluster.issueServiceAccountToken({
    namespace: 'shipping',
    serviceAccount: overrides.serviceAccount ?? 'label-printer',
    audience: overrides.audience ?? auth.issuer,
    ...(overrides.lifetimeSeconds !== undefined ? { lifetimeSeconds: overrides.lifetimeSeconds } : {}),
  });

async function refusal(assertion: string, clientId?: string): Promise<OAuthError> {
  const error = await client(assertion, clientId)
    .getToken()
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OAuthError);
  expect((error as OAuthError).status).toBe(401);
  expect((error as OAuthError).error).toBe('invalid_client');
  return error as OAuthError;
}

describe('a federated client', () => {
  it('gets a token with its projected token file; the server names the issuer, subject and token id', async () => {
    const volume = new ProjectedTokenVolume(join(dir, 'tokens'));
    await volume.write(await serviceAccountToken());
    // As examples/workload-identity/label-printer.ts makes it (that file imports the built package).
    const printer = new ClientCredentialsClient({
      tokenEndpoint: auth.tokenEndpoint,
      clientId: 'label-printer',
      clientAssertionFile: volume.path,
      audience: 'urn:worldmappers',
      scope: 'read:routes',
    });
    const token = await printer.getToken();
    expect(token.scope).toBe('read:routes');
    expect(issued.at(-1)).toMatchObject({
      clientId: 'label-printer',
      authMethod: 'private_key_jwt',
      federated: { issuer: cluster.issuer, subject: SUBJECT, tokenId: expect.any(String) },
    });
    const firstId = issued.at(-1)?.federated?.tokenId;

    // The same projected token is reused until kubelet rotates it: not refused as a replay.
    await printer.getToken({ forceRefresh: true });
    expect(issued.at(-1)?.federated?.tokenId).toBe(firstId);

    // Rotated: the next token request presents the new one.
    await volume.write(await serviceAccountToken());
    await printer.getToken({ forceRefresh: true });
    expect(issued.at(-1)?.federated?.tokenId).not.toBe(firstId);
  });

  it('a token for another audience is refused (aud)', async () => {
    const error = await refusal(await serviceAccountToken({ audience: 'https://other.example' }));
    expect(error.errorDescription).toMatch(/aud/);
  });

  it("another service account's token is refused (sub)", async () => {
    const error = await refusal(await serviceAccountToken({ serviceAccount: 'intruder' }));
    expect(error.errorDescription).toMatch(/sub/);
  });

  it('an expired token is refused (exp)', async () => {
    const error = await refusal(await serviceAccountToken({ lifetimeSeconds: -120 }));
    expect(error.errorDescription).toMatch(/expired/);
  });

  it("a token with the cluster's issuer name but another key is refused (signature)", async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'forged' })
      .setIssuer(cluster.issuer)
      .setSubject(SUBJECT)
      .setAudience(auth.issuer)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    const error = await refusal(forged);
    expect(error.errorDescription).toMatch(/key|signature/);
  });

  it('a client with keys or a secret of its own cannot use a cluster token', async () => {
    await refusal(await serviceAccountToken(), 'route-planner');
  });

  it('a server that does not trust the issuer refuses the token', async () => {
    const untrusting = await startAuthServer({ log: false });
    try {
      const error = await new ClientCredentialsClient({
        tokenEndpoint: untrusting.tokenEndpoint,
        clientId: 'label-printer',
        clientAssertion: await cluster.issueServiceAccountToken({
          namespace: 'shipping',
          serviceAccount: 'label-printer',
          audience: untrusting.issuer,
        }),
        audience: 'urn:worldmappers',
        retry: false,
      })
        .getToken()
        .catch((e: unknown) => e);
      expect((error as OAuthError).error).toBe('invalid_client');
      expect((error as OAuthError).errorDescription).toMatch(/not trusted/);
    } finally {
      await untrusting.close();
    }
  });
});

describe('configuration', () => {
  const base = (): AuthServerConfig => ({
    resourceServers: [{ identifier: 'urn:a', scopes: ['s'] }],
    clients: [],
    clientGrants: [],
  });

  it.each([
    [
      'a federated client with a secret',
      { clientId: 'c', clientSecret: 'x', federatedCredential: { issuer: 'https://i' } },
      'no secret and no keys',
    ],
    ['a federated credential without an issuer', { clientId: 'c', federatedCredential: {} }, 'issuer'],
    ['a client without any credential', { clientId: 'c' }, 'federatedCredential'],
  ])('%s is refused', (_, clientConfig, message) => {
    expect(() => validateConfig({ ...base(), clients: [clientConfig] })).toThrow(message);
  });

  it('a trusted issuer needs an http(s) JWKS URI', () => {
    expect(() =>
      validateConfig({ ...base(), trustedIssuers: [{ issuer: 'https://i', jwksUri: 'file:///etc/keys' }] }),
    ).toThrow('trustedIssuers[0].jwksUri');
  });
});
