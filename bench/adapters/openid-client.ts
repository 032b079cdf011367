/**
 * openid-client 6: `clientCredentialsGrant` on a Configuration built from metadata (no discovery
 * request). It keeps no token cache, so every call is a token request: it appears in the cold and
 * uncached figures, not in the cached one.
 */
import { importPKCS8 } from 'jose';
import * as client from 'openid-client';
import type { AuthCase, BenchEnv, Peer, TokenAdapter } from './types.js';

function configuration(env: BenchEnv, auth: client.ClientAuth, secret?: string): client.Configuration {
  const config = new client.Configuration(
    { issuer: env.issuer, token_endpoint: env.tokenEndpoint },
    env.clientId,
    secret,
    auth,
  );
  // The bench server is plain http on loopback.
  client.allowInsecureRequests(config);
  return config;
}

async function clientAuth(env: BenchEnv, auth: AuthCase): Promise<client.ClientAuth | undefined> {
  switch (auth.authMethod) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(env.clientSecret);
    case 'client_secret_post':
      return client.ClientSecretPost(env.clientSecret);
    case 'private_key_jwt': {
      if (!auth.privateKeyPem || !auth.alg) return undefined;
      const key = await importPKCS8(auth.privateKeyPem, auth.alg);
      return client.PrivateKeyJwt(key);
    }
    default:
      // No JSON-body client authentication in openid-client.
      return undefined;
  }
}

export const openidClientPeer: Peer = {
  name: 'openid-client',
  packageName: 'openid-client',
  note: 'openid-client keeps no token cache: its figures are its grant, one token request per call.',
  async create(env): Promise<TokenAdapter> {
    const config = configuration(env, client.ClientSecretBasic(env.clientSecret));
    const params = { audience: env.audience, scope: env.scope.join(' ') };
    return {
      cached: false,
      getToken: () => client.clientCredentialsGrant(config, params),
      getTokenFor: (audience) => client.clientCredentialsGrant(config, { audience, scope: params.scope }),
      tokenOf: (r) => (r as client.TokenEndpointResponse).access_token,
    };
  },
  async createUncached(env, auth) {
    const method = await clientAuth(env, auth);
    if (!method) return undefined;
    const config = configuration(env, method);
    const params = { audience: env.audience, scope: env.scope.join(' ') };
    return () => client.clientCredentialsGrant(config, params);
  },
};
