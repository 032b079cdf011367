/**
 * ============================================================================================
 *  DEVELOPMENT ONLY. A stand-in for a Kubernetes cluster's service-account token issuer, for the
 *  workload identity demo: it signs service-account tokens with its own key and publishes that key
 *  (OIDC discovery and a JWKS, as a cluster's API server does at /openid/v1/jwks). Keys live in memory.
 * ============================================================================================
 *
 * A workload in a cluster gets such a token as a file (a projected service-account token, see
 * projected-token.ts) and presents it to an authorization server that trusts the cluster's issuer:
 * workload identity federation (RFC 7521 4.2 / RFC 7523 2.2), with no secret and no key of its own.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { closeServer, listen, sendJson } from '../shared/http.js';

/** The issuer identifier of a cluster's service-account tokens (what `kubectl get --raw /.well-known/openid-configuration` names). */
export const DEFAULT_CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ServiceAccountTokenRequest {
  namespace: string;
  serviceAccount: string;
  /** The `aud` of the token: the authorization server it is meant for (a projected volume's `audience`). */
  audience: string;
  /** Default 3600 (kubelet's projected tokens last an hour by default and are renewed at 80%). */
  lifetimeSeconds?: number;
}

export interface Cluster {
  /** The issuer identifier (`iss` of its tokens). */
  readonly issuer: string;
  /** Where its public keys are published (loopback). */
  readonly jwksUri: string;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** The `sub` Kubernetes gives a service account: `system:serviceaccount:<namespace>:<name>`. */
  subjectOf(namespace: string, serviceAccount: string): string;
  /** Signs a service-account token, as the API server's TokenRequest does for kubelet. */
  issueServiceAccountToken(request: ServiceAccountTokenRequest): Promise<string>;
  close(): Promise<void>;
}

export async function startCluster(options: { issuer?: string } = {}): Promise<Cluster> {
  const issuer = options.issuer ?? DEFAULT_CLUSTER_ISSUER;
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const publicJwk: JWK = { ...jwk, kid, alg: 'RS256', use: 'sig' };

  let jwksUri = '';
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && pathname === '/openid/v1/jwks') {
      sendJson(res, 200, { keys: [publicJwk] }, { 'content-type': 'application/jwk-set+json' });
      return;
    }
    if (req.method === 'GET' && pathname === '/.well-known/openid-configuration') {
      sendJson(res, 200, {
        issuer,
        jwks_uri: jwksUri,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
      return;
    }
    sendJson(res, 404, { error: 'not_found' });
  });
  const url = await listen(server, 0, '127.0.0.1');
  jwksUri = `${url}/openid/v1/jwks`;

  const subjectOf = (namespace: string, serviceAccount: string) =>
    `system:serviceaccount:${namespace}:${serviceAccount}`;
  return {
    issuer,
    jwksUri,
    url,
    subjectOf,
    async issueServiceAccountToken(request) {
      const now = Math.floor(Date.now() / 1000);
      // The claims of a projected service-account token (Kubernetes TokenRequest API).
      return new SignJWT({
        'kubernetes.io': {
          namespace: request.namespace,
          serviceaccount: { name: request.serviceAccount, uid: randomUUID() },
        },
      })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(issuer)
        .setSubject(subjectOf(request.namespace, request.serviceAccount))
        .setAudience([request.audience])
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + (request.lifetimeSeconds ?? 3600))
        .setJti(randomUUID())
        .sign(privateKey);
    },
    close: () => closeServer(server),
  };
}
