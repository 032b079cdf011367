/** The limits every library is compared with: a bare Map lookup and fetch with a static header. */
import type { Peer, TokenAdapter } from './types.js';

export const mapPeer: Peer = {
  name: 'bare Map (limit)',
  async create(env): Promise<TokenAdapter> {
    const res = await fetch(env.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: env.clientId,
        client_secret: env.clientSecret,
        audience: env.audience,
        scope: env.scope.join(' '),
      }),
    });
    if (!res.ok) throw new Error(`token request failed: HTTP ${res.status}`);
    const token = ((await res.json()) as { access_token: string }).access_token;
    const map = new Map<string, string>([[env.audience, token]]);
    const key = env.audience;
    return {
      cached: true,
      getToken: async () => map.get(key),
      tokenOf: (r) => r as string,
    };
  },
};

/** fetch with a fixed Authorization header: the upper bound for any fetch wrapper. */
export function plainFetch(token: string): (url: string) => Promise<Response> {
  const headers = { authorization: `Bearer ${token}` };
  return (url) => fetch(url, { headers });
}
