/**
 * The loopback servers the runtime matrix runs against, all started here in Node: oidc-provider (every
 * auth method, discovery, DPoP), a second oidc-provider over mutual TLS, the example Auth0-style server
 * (client_secret_json), a Bearer API with a 401-then-accept route, a DPoP API, and redis-server when the
 * machine has one. `config` is what the runtime programs receive (test credentials only).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createLocalJWKSet, exportJWK, type JWTPayload, jwtVerify } from 'jose';
import { startAuthServer } from '../../examples/auth-server/server.js';
import { haveOpenssl } from '../../test/helpers/certs.js';
import { startDpopResourceServer } from '../../test/helpers/dpop-resource-server.js';
import { type OidcProviderHarness, startOidcProvider } from '../../test/helpers/oidc-provider.js';
import { closeServer, listenOnLoopback } from '../../test/helpers/ports.js';
import { haveRedisServer, startRedisServer } from '../../test/helpers/redis-server.js';

export interface MatrixServers {
  /** What every runtime program gets (plus its runtime id, kind and cells). */
  readonly config: Record<string, unknown>;
  /** PEM of the CA that signed the mTLS server's certificate (for NODE_EXTRA_CA_CERTS), if any. */
  readonly ca?: string;
  /** Why some cells are skipped on this machine. */
  readonly missing: { mtls?: string; redis?: string };
  close(): Promise<void>;
}

async function jwksOf(op: OidcProviderHarness) {
  const response = await fetch(op.jwksUri);
  return createLocalJWKSet(await response.json());
}

/** A Bearer API: `/bearer` checks the token; `/reject-first/<run>` refuses the first token of each run. */
async function startBearerApi(verify: (token: string) => Promise<JWTPayload>) {
  const firstTokens = new Map<string, { token: string; attempts: number }>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return send(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer' });
    let claims: JWTPayload;
    try {
      claims = await verify(token);
    } catch {
      return send(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    const run = /^\/reject-first\/([\w-]{1,80})$/.exec(req.url ?? '')?.[1];
    if (run) {
      const seen = firstTokens.get(run);
      if (!seen) {
        if (firstTokens.size > 1_000) firstTokens.clear();
        firstTokens.set(run, { token, attempts: 1 });
        return send(401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      }
      seen.attempts++;
      if (seen.token === token) return send(401, { error: 'invalid_token', reason: 'same token again' });
      return send(200, { attempt: seen.attempts, clientId: claims.client_id });
    }
    if (req.url === '/bearer') return send(200, { clientId: claims.client_id });
    return send(404, { error: 'not_found' });
  };
  const server = createServer((req, res) => {
    req.resume();
    handle(req, res).catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });
  const port = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

export async function startMatrixServers(): Promise<MatrixServers> {
  const closers: (() => Promise<void>)[] = [];
  const missing: MatrixServers['missing'] = {};
  try {
    const op = await startOidcProvider({ dpop: true });
    closers.push(() => op.close());
    const jwks = await jwksOf(op);
    const api = op.resources.jwt;
    const verify = async (token: string) =>
      (await jwtVerify(token, jwks, { issuer: op.issuer, audience: api })).payload;

    const bearerApi = await startBearerApi(verify);
    closers.push(bearerApi.close);
    const dpopApi = await startDpopResourceServer({ verifyAccessToken: verify });
    closers.push(() => dpopApi.close());
    const jsonServer = await startAuthServer({ log: false });
    closers.push(() => jsonServer.close());

    let mtls: Record<string, unknown> | undefined;
    let ca: string | undefined;
    if (haveOpenssl) {
      const mtlsOp = await startOidcProvider({ mtls: true });
      closers.push(() => mtlsOp.close());
      const client = mtlsOp.clients.tlsClientAuth;
      if (!client?.certificate || !client.certificateKey || !mtlsOp.ca)
        throw new Error('mTLS provider has no client');
      ca = mtlsOp.ca;
      mtls = {
        tokenEndpoint: mtlsOp.mtlsTokenEndpoint ?? mtlsOp.tokenEndpoint,
        clientId: client.clientId,
        certificate: client.certificate,
        privateKey: client.certificateKey,
        ca,
      };
    } else {
      missing.mtls = 'openssl not installed (apt-get install -y openssl)';
    }

    let redis: { url: string } | undefined;
    if (haveRedisServer) {
      const server = await startRedisServer();
      closers.push(() => server.stop());
      redis = { url: server.url };
    } else {
      missing.redis = 'redis-server not installed (apt-get install -y redis-server)';
    }

    const { basic, post, secretJwt, privateKeyJwtEs256, privateKeyJwtRs256 } = op.clients;
    const rs256 = op.keys.rs256;
    const config = {
      op: {
        issuer: op.issuer,
        tokenEndpoint: op.tokenEndpoint,
        resources: { api },
        clients: {
          basic: { clientId: basic.clientId, clientSecret: basic.clientSecret },
          post: { clientId: post.clientId, clientSecret: post.clientSecret },
          secretJwt: { clientId: secretJwt.clientId, clientSecret: secretJwt.clientSecret },
          es256: {
            clientId: privateKeyJwtEs256.clientId,
            privateKeyPem: privateKeyJwtEs256.key?.privateKeyPem,
          },
          rs256: {
            clientId: privateKeyJwtRs256.clientId,
            privateJwk: { ...(await exportJWK(rs256.privateKey)), kid: rs256.kid },
          },
        },
      },
      jsonServer: {
        tokenEndpoint: jsonServer.tokenEndpoint,
        clientId: 'gift-deliveries',
        clientSecret: 'dev-only-gift-deliveries-secret-do-not-reuse',
        audience: 'urn:worldmappers',
      },
      api: { url: bearerApi.url },
      dpopApi: { url: dpopApi.url },
      mtls,
      redis,
    };
    return {
      config,
      ca,
      missing,
      async close() {
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
