/**
 * @badgateway/oauth2-client 3: OAuth2Client + OAuth2Fetch. OAuth2Fetch holds one token (one
 * audience and scope set) and shares one refresh among concurrent callers, so per-audience and
 * per-scope figures keep one OAuth2Fetch per key in a Map, as an application would.
 */
import { OAuth2Client, OAuth2Fetch, type OAuth2Token } from '@badgateway/oauth2-client';
import type { Peer, TokenAdapter } from './types.js';

export const badgatewayPeer: Peer = {
  name: '@badgateway/oauth2-client',
  packageName: '@badgateway/oauth2-client',
  note:
    '@badgateway/oauth2-client: one OAuth2Fetch per audience/scope set, kept in a Map keyed by ' +
    'audience or scope.join(" ") (order-sensitive); its tokens are used until the exact expiry.',
  async create(env): Promise<TokenAdapter> {
    const oauth = new OAuth2Client({
      tokenEndpoint: env.tokenEndpoint,
      clientId: env.clientId,
      clientSecret: env.clientSecret,
      authenticationMethod: 'client_secret_basic',
    });
    const wrapperFor = (audience: string, scope: string[]) =>
      new OAuth2Fetch({
        client: oauth,
        scheduleRefresh: false,
        getNewToken: () => oauth.clientCredentials({ scope, extraParams: { audience } }),
      });
    const main = wrapperFor(env.audience, env.scope);
    const byScope = new Map<string, OAuth2Fetch>();
    const byAudience = new Map<string, OAuth2Fetch>();
    return {
      cached: true,
      getToken: () => main.getToken(),
      getTokenScoped: (scope) => {
        const key = scope.join(' ');
        let w = byScope.get(key);
        if (w === undefined) {
          w = wrapperFor(env.audience, scope);
          byScope.set(key, w);
        }
        return w.getToken();
      },
      getTokenFor: (audience) => {
        let w = byAudience.get(audience);
        if (w === undefined) {
          w = wrapperFor(audience, env.scope);
          byAudience.set(audience, w);
        }
        return w.getToken();
      },
      fetch: (url) => main.fetch(url),
      tokenOf: (r) => (r as OAuth2Token).accessToken,
    };
  },
};
