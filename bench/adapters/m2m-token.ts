/** m2m-token itself, through its public entry as a user would call it (API.md). */
import { ClientCredentialsClient, type Token } from '../../src/index.js';
import type { Peer, TokenAdapter } from './types.js';

export const m2mTokenPeer: Peer = {
  name: 'm2m-token',
  async create(env): Promise<TokenAdapter> {
    const client = new ClientCredentialsClient({
      tokenEndpoint: env.tokenEndpoint,
      clientId: env.clientId,
      clientSecret: env.clientSecret,
      authMethod: 'client_secret_basic',
      audience: env.audience,
      scope: env.scope,
    });
    return {
      cached: true,
      getToken: () => client.getToken(),
      getTokenScoped: (scope) => client.getToken({ scope }),
      getTokenFor: (audience) => client.getToken({ audience }),
      fetch: (url) => client.fetch(url),
      tokenOf: (r) => (r as Token).accessToken,
      close: () => client.clear(),
    };
  },
  async createUncached(env, auth) {
    const client = new ClientCredentialsClient({
      tokenEndpoint: env.tokenEndpoint,
      clientId: env.clientId,
      audience: env.audience,
      scope: env.scope,
      cache: false,
      ...(auth.authMethod === 'private_key_jwt'
        ? { authMethod: 'private_key_jwt', privateKey: auth.privateKeyPem, signingAlgorithm: auth.alg }
        : { authMethod: auth.authMethod, clientSecret: env.clientSecret }),
    });
    return () => client.getToken();
  },
};
