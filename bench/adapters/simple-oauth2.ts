/**
 * simple-oauth2 5: ClientCredentials.getToken() has no cache of its own. The fair use is what its
 * README shows: keep the AccessToken and ask for a new one when `expired(window)` says so. That
 * check has no single-flight, so concurrent cold callers each make a request.
 */
import { type AccessToken, ClientCredentials } from 'simple-oauth2';
import type { Peer, TokenAdapter } from './types.js';

const EXPIRY_WINDOW_SECONDS = 60;

export const simpleOauth2Peer: Peer = {
  name: 'simple-oauth2',
  packageName: 'simple-oauth2',
  note:
    'simple-oauth2: no cache of its own; the adapter keeps the AccessToken per key and checks ' +
    '`expired(60)` before each use (the pattern from its README), with no single-flight.',
  async create(env): Promise<TokenAdapter> {
    const url = new URL(env.tokenEndpoint);
    const cc = new ClientCredentials({
      client: { id: env.clientId, secret: env.clientSecret },
      auth: { tokenHost: url.origin, tokenPath: url.pathname },
      options: { authorizationMethod: 'header' },
    });
    const kept = new Map<string, AccessToken>();
    const get = async (key: string, audience: string, scope: string[]): Promise<AccessToken> => {
      const token = kept.get(key);
      if (token !== undefined && !token.expired(EXPIRY_WINDOW_SECONDS)) return token;
      const fresh = await cc.getToken({ scope, audience });
      kept.set(key, fresh);
      return fresh;
    };
    let main: AccessToken | undefined;
    return {
      cached: true,
      getToken: async () => {
        if (main !== undefined && !main.expired(EXPIRY_WINDOW_SECONDS)) return main;
        main = await cc.getToken({ scope: env.scope, audience: env.audience });
        return main;
      },
      getTokenScoped: (scope) => get(`s:${scope.join(' ')}`, env.audience, scope),
      getTokenFor: (audience) => get(`a:${audience}`, audience, env.scope),
      tokenOf: (r) => (r as AccessToken).token.access_token as string,
    };
  },
};
