/**
 * Mutual TLS (RFC 8705): tls_client_auth and self_signed_tls_client_auth against oidc-provider over real
 * loopback TLS with certificates made at test time; certificate-bound tokens (cnf x5t#S256) used through
 * the fetch wrapper over the same client certificate.
 *
 * Two ways to trust a private CA are tested, as documented: the caller's own undici dispatcher (in this
 * process), and NODE_EXTRA_CA_CERTS with the client's own Agent (in a child process, since Node reads the
 * variable at start-up).
 */
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, type X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { createLocalJWKSet, decodeJwt, type JWK, type JWTPayload, jwtVerify } from 'jose';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClientCredentialsClient, ConfigurationError, MemoryTokenCache, OAuthError } from '../src/index.js';
import {
  certificateThumbprint,
  getTestCertificates,
  haveOpenssl,
  opensslMissingMessage,
  type TestCertificates,
} from './helpers/certs.js';
import { type OidcProviderHarness, startOidcProvider } from './helpers/oidc-provider.js';
import { closeServer, listenOnLoopback } from './helpers/ports.js';

const REPO = resolve(import.meta.dirname, '..');

interface ApiRequest {
  status: number;
  reason?: string;
  clientCertificate: boolean;
  scheme?: string;
}

interface MtlsResourceServer {
  url: string;
  requests: ApiRequest[];
  close(): Promise<void>;
}

/**
 * An API that accepts a certificate-bound token only over a TLS connection presenting that certificate
 * (RFC 8705 3: the SHA-256 thumbprint of the client certificate equals the token's cnf x5t#S256).
 */
async function startMtlsResourceServer(
  certs: TestCertificates,
  verifyAccessToken: (token: string) => Promise<JWTPayload>,
): Promise<MtlsResourceServer> {
  const requests: ApiRequest[] = [];
  const server: Server = createServer(
    {
      cert: certs.server.cert,
      key: certs.server.key,
      ca: [certs.ca.cert],
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      void (async () => {
        const peer = (req.socket as TLSSocket).getPeerX509Certificate?.() as X509Certificate | undefined;
        const record: ApiRequest = { status: 0, clientCertificate: peer !== undefined };
        requests.push(record);
        const answer = (status: number, body: unknown, reason?: string) => {
          record.status = status;
          record.reason = reason;
          if (status === 401)
            res.setHeader('www-authenticate', `Bearer error="invalid_token", error_description="${reason}"`);
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        const match = /^(\S+) (\S+)$/.exec(req.headers.authorization ?? '');
        if (!match) return answer(401, { error: 'invalid_token' }, 'no token');
        record.scheme = match[1]!.toLowerCase();
        let claims: JWTPayload;
        try {
          claims = await verifyAccessToken(match[2]!);
        } catch {
          return answer(401, { error: 'invalid_token' }, 'token does not verify');
        }
        const bound = (claims.cnf as Record<string, unknown> | undefined)?.['x5t#S256'];
        if (typeof bound !== 'string')
          return answer(401, { error: 'invalid_token' }, 'token is not certificate-bound');
        if (!peer) return answer(401, { error: 'invalid_token' }, 'no client certificate');
        const presented = createHash('sha256').update(peer.raw).digest('base64url');
        if (presented !== bound)
          return answer(401, { error: 'invalid_token' }, 'certificate does not match cnf');
        answer(200, { ok: true, client_id: claims.client_id, x5t: presented });
      })();
    },
  );
  const port = await listenOnLoopback(server);
  return { url: `https://127.0.0.1:${port}`, requests, close: () => closeServer(server) };
}

/** Runs `source` (an ES module in TypeScript) in a child Node.js with the given environment; JSON lines out. */
function runChild(
  dir: string,
  source: string,
  env: Record<string, string>,
): Promise<Array<Record<string, unknown>>> {
  const file = join(dir, `child-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(file, source);
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', file],
      { cwd: REPO, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) {
          fail(new Error(`child failed: ${stderr.slice(0, 2000)}`));
          return;
        }
        done(
          stdout
            .split('\n')
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as Record<string, unknown>),
        );
      },
    );
  });
}

describe.skipIf(!haveOpenssl)(
  `mutual TLS (RFC 8705)${haveOpenssl ? '' : ` — skipped: ${opensslMissingMessage}`}`,
  () => {
    let op: OidcProviderHarness;
    let certs: TestCertificates;
    let api: MtlsResourceServer;
    let dir: string;
    const agents: Agent[] = [];

    /** The caller's own dispatcher: trusts the test CA and presents a client certificate. */
    function dispatcher(cert?: string, key?: string): Agent {
      const agent = new Agent({ connect: { ca: certs.ca.cert, ...(cert && key ? { cert, key } : {}) } });
      agents.push(agent);
      return agent;
    }

    beforeAll(async () => {
      [op, certs] = await Promise.all([startOidcProvider({ mtls: true }), getTestCertificates()]);
      const jwksResponse = await fetch(op.jwksUri, { dispatcher: dispatcher() } as RequestInit);
      const jwks = createLocalJWKSet((await jwksResponse.json()) as { keys: JWK[] });
      api = await startMtlsResourceServer(certs, async (token) => {
        const { payload } = await jwtVerify(token, jwks, { issuer: op.issuer, audience: op.resources.jwt });
        return payload;
      });
      dir = mkdtempSync(join(tmpdir(), 'm2m-token-mtls-'));
    });
    afterAll(async () => {
      await Promise.all(agents.map((agent) => agent.close()));
      await Promise.all([op?.close(), api?.close()]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => {
      api.requests.length = 0;
    });

    const tokenRequests = () => op.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/token'));

    it('tls_client_auth through discovery: the mtls_endpoint_aliases token endpoint, client_id only, a certificate-bound token', async () => {
      const tls = op.clients.tlsClientAuth!;
      const before = tokenRequests().length;
      const client = new ClientCredentialsClient({
        issuer: op.issuer,
        clientId: tls.clientId,
        authMethod: 'tls_client_auth',
        dispatcher: dispatcher(tls.certificate, tls.certificateKey),
        resource: op.resources.jwt,
        retry: false,
      });
      const token = await client.getToken();
      expect(token.tokenType).toBe('Bearer');
      expect(decodeJwt(token.accessToken).cnf).toEqual({
        'x5t#S256': certificateThumbprint(tls.certificate!),
      });

      const sent = tokenRequests().slice(before);
      expect(sent).toHaveLength(1);
      expect(sent[0]!.via).toBe('mtls'); // RFC 8705 5: the alias, not the main token endpoint
      expect(sent[0]!.clientCertificate).toBe(true);
      expect(sent[0]!.headers.authorization).toBeUndefined();
      expect(sent[0]!.body).toMatchObject({ grant_type: 'client_credentials', client_id: tls.clientId });
      expect(sent[0]!.body).not.toHaveProperty('client_secret');
      expect(sent[0]!.body).not.toHaveProperty('client_assertion');
    });

    it('self_signed_tls_client_auth with a fixed token endpoint', async () => {
      const selfSigned = op.clients.selfSignedTlsClientAuth!;
      const client = new ClientCredentialsClient({
        tokenEndpoint: op.mtlsTokenEndpoint!,
        clientId: selfSigned.clientId,
        authMethod: 'self_signed_tls_client_auth',
        dispatcher: dispatcher(selfSigned.certificate, selfSigned.certificateKey),
        resource: op.resources.jwt,
        retry: false,
      });
      const token = await client.getToken();
      expect(decodeJwt(token.accessToken).cnf).toEqual({
        'x5t#S256': certificateThumbprint(selfSigned.certificate!),
      });
      expect(op.lastRequest()).toMatchObject({ via: 'mtls', clientCertificate: true, status: 200 });
    });

    it('the certificate is what authenticates: without one the server answers invalid_client', async () => {
      const client = new ClientCredentialsClient({
        tokenEndpoint: op.mtlsTokenEndpoint!,
        clientId: op.clients.tlsClientAuth!.clientId,
        authMethod: 'tls_client_auth',
        dispatcher: dispatcher(),
        retry: false,
      });
      const error = await client.getToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OAuthError);
      expect((error as OAuthError).error).toBe('invalid_client');
    });

    it('the fetch wrapper calls the API over the same client certificate the token is bound to', async () => {
      const tls = op.clients.tlsClientAuth!;
      const client = new ClientCredentialsClient({
        issuer: op.issuer,
        clientId: tls.clientId,
        authMethod: 'tls_client_auth',
        dispatcher: dispatcher(tls.certificate, tls.certificateKey),
        resource: op.resources.jwt,
        retry: false,
      });
      const res = await client.fetch(`${api.url}/v1/things`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        ok: true,
        client_id: tls.clientId,
        x5t: certificateThumbprint(tls.certificate!),
      });
      expect(api.requests).toEqual([{ status: 200, clientCertificate: true, scheme: 'bearer' }]);

      // The same token over a connection without the certificate is refused: the binding is real.
      const token = await client.getToken();
      const stolen = await fetch(`${api.url}/v1/things`, {
        headers: { authorization: `Bearer ${token.accessToken}` },
        dispatcher: dispatcher(),
      } as RequestInit);
      expect(stolen.status).toBe(401);
      expect(api.requests[1]).toMatchObject({ status: 401, reason: 'no client certificate' });
    });

    it('checks the key against the certificate before connecting, naming the option', async () => {
      const tls = op.clients.tlsClientAuth!;
      const before = op.requests.length;
      const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      });
      const mismatched = new ClientCredentialsClient({
        tokenEndpoint: op.mtlsTokenEndpoint!,
        clientId: tls.clientId,
        authMethod: 'tls_client_auth',
        certificate: tls.certificate!,
        privateKey: otherKey as string,
        retry: false,
      });
      const error = await mismatched.getToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).option).toBe('privateKey');
      expect((error as ConfigurationError).message).not.toContain('PRIVATE KEY');

      const broken = new ClientCredentialsClient({
        tokenEndpoint: op.mtlsTokenEndpoint!,
        clientId: tls.clientId,
        authMethod: 'tls_client_auth',
        certificate: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n',
        privateKey: tls.certificateKey!,
        retry: false,
      });
      await expect(broken.getToken()).rejects.toMatchObject({
        name: 'ConfigurationError',
        option: 'certificate',
      });
      expect(
        () =>
          new ClientCredentialsClient({
            tokenEndpoint: op.mtlsTokenEndpoint!,
            clientId: tls.clientId,
            authMethod: 'tls_client_auth',
            certificate: tls.certificate!,
          }),
      ).toThrow(expect.objectContaining({ option: 'privateKey' }));
      expect(op.requests.length).toBe(before);
    });

    it("the client's own Agent presents certificate + privateKey (PEM, KeyObject or JWK); NODE_EXTRA_CA_CERTS trusts the CA", async () => {
      const tls = op.clients.tlsClientAuth!;
      const caFile = join(dir, 'ca.pem');
      writeFileSync(caFile, certs.ca.cert);
      const jwk = createPrivateKey(tls.certificateKey!).export({ format: 'jwk' });
      writeFileSync(join(dir, 'key.json'), JSON.stringify(jwk));
      const before = tokenRequests().length;
      const source = `
      import { createPrivateKey } from 'node:crypto';
      import { readFileSync } from 'node:fs';
      const decodeJwt = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
      const { ClientCredentialsClient } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'src/index.ts')).href)});
      const env = process.env;
      const pem = env.TEST_KEY_PEM;
      const keys = {
        pem,
        keyObject: createPrivateKey(pem),
        jwk: JSON.parse(readFileSync(env.TEST_KEY_JWK_FILE, 'utf8')),
      };
      for (const [form, privateKey] of Object.entries(keys)) {
        const client = new ClientCredentialsClient({
          issuer: env.TEST_ISSUER,
          clientId: env.TEST_CLIENT_ID,
          authMethod: 'tls_client_auth',
          certificate: env.TEST_CERT,
          privateKey,
          resource: env.TEST_RESOURCE,
          retry: false,
        });
        try {
          const token = await client.getToken();
          const res = await client.fetch(env.TEST_API + '/v1/things');
          const body = await res.json();
          // Only claims and status: never the token itself.
          console.log(JSON.stringify({ form, tokenType: token.tokenType, cnf: decodeJwt(token.accessToken).cnf, status: res.status, x5t: body.x5t }));
        } catch (error) {
          console.log(JSON.stringify({ form, error: { name: error.name, code: error.code, message: error.message } }));
        }
      }
    `;
      const lines = await runChild(dir, source, {
        NODE_EXTRA_CA_CERTS: caFile,
        TEST_ISSUER: op.issuer,
        TEST_CLIENT_ID: tls.clientId,
        TEST_CERT: tls.certificate!,
        TEST_KEY_PEM: tls.certificateKey!,
        TEST_KEY_JWK_FILE: join(dir, 'key.json'),
        TEST_RESOURCE: op.resources.jwt,
        TEST_API: api.url,
      });
      const x5t = certificateThumbprint(tls.certificate!);
      expect(lines).toEqual(
        ['pem', 'keyObject', 'jwk'].map((form) => ({
          form,
          tokenType: 'Bearer',
          cnf: { 'x5t#S256': x5t },
          status: 200,
          x5t,
        })),
      );
      const sent = tokenRequests().slice(before);
      expect(sent).toHaveLength(3);
      expect(sent.every((r) => r.via === 'mtls' && r.clientCertificate && r.status === 200)).toBe(true);
      expect(api.requests.map((r) => [r.status, r.clientCertificate])).toEqual([
        [200, true],
        [200, true],
        [200, true],
      ]);
    }, 90_000);

    it("clients with different certificates sharing a cache never get each other's certificate-bound token (RFC 8705 3)", async () => {
      // A token endpoint that binds each token to the certificate the TLS connection presented.
      const bound: string[] = [];
      const idp = createServer(
        { cert: certs.server.cert, key: certs.server.key, requestCert: true, rejectUnauthorized: false },
        (req, res) => {
          req.resume();
          const peer = (req.socket as TLSSocket).getPeerX509Certificate?.() as X509Certificate | undefined;
          const x5t = peer ? createHash('sha256').update(peer.raw).digest('base64url') : 'none';
          bound.push(x5t);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({ access_token: `bound-to.${x5t}`, token_type: 'Bearer', expires_in: 3600 }),
          );
        },
      );
      const port = await listenOnLoopback(idp);
      try {
        const cache = new MemoryTokenCache();
        const make = (pair: { cert: string; key: string }) =>
          new ClientCredentialsClient({
            tokenEndpoint: `https://127.0.0.1:${port}/token`,
            clientId: 'same-client-id',
            authMethod: 'tls_client_auth',
            // A dispatcher the SDK cannot look into: `certificate` tells it which certificate that is.
            dispatcher: dispatcher(pair.cert, pair.key),
            certificate: pair.cert,
            cache,
            retry: false,
          });
        const a = await make(certs.client).getToken();
        const b = await make(certs.selfSignedClient).getToken();
        expect(a.accessToken).toBe(`bound-to.${certificateThumbprint(certs.client.cert)}`);
        expect(b.accessToken).toBe(`bound-to.${certificateThumbprint(certs.selfSignedClient.cert)}`);
        // The same certificate still shares: no third request.
        expect((await make(certs.client).getToken()).accessToken).toBe(a.accessToken);
        expect(bound).toHaveLength(2);
      } finally {
        await closeServer(idp);
      }
    });

    it.each(['tls_client_auth', 'self_signed_tls_client_auth'] as const)(
      '%s with certificate and privateKey: each certificate has its own cache entry',
      async (authMethod) => {
        const cache = new MemoryTokenCache();
        let requests = 0;
        const make = (pair: { cert: string; key: string }) =>
          new ClientCredentialsClient({
            tokenEndpoint: 'https://idp.example.com/token',
            clientId: 'same-client-id',
            authMethod,
            certificate: pair.cert,
            privateKey: pair.key,
            cache,
            retry: false,
            fetch: async () =>
              Response.json({ access_token: `tok-${++requests}`, token_type: 'Bearer', expires_in: 3600 }),
          });
        const a = await make(certs.client).getToken();
        const b = await make(certs.selfSignedClient).getToken();
        expect([a.accessToken, b.accessToken]).toEqual(['tok-1', 'tok-2']);
        expect((await make(certs.client).getToken()).accessToken).toBe('tok-1');
        expect(requests).toBe(2);
      },
    );
  },
);
