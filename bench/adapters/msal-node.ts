/**
 * @azure/msal-node: ConfidentialClientApplication.acquireTokenByClientCredential, whose second and
 * later calls are answered from MSAL's in-memory token cache.
 *
 * MSAL refuses an authority that is not https (msal-common UrlString.validateAsUri throws
 * `authority_uri_insecure`). Rather than give the bench server TLS (which would charge MSAL alone
 * for handshakes), the authority is written as https://127.0.0.1:<port>/bench and MSAL's own
 * extension point, `system.networkClient`, sends the requests to http://127.0.0.1:<port>. The
 * authority and cloud-discovery metadata are passed as strings, so MSAL makes no discovery call.
 * MSAL's "audience" is the scope `<resource>/.default`.
 */
import {
  type AuthenticationResult,
  ConfidentialClientApplication,
  type INetworkModule,
  LogLevel,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import type { Peer, TokenAdapter } from './types.js';

function loopbackNetworkClient(httpsOrigin: string, httpOrigin: string): INetworkModule {
  const send = async <T>(
    method: 'GET' | 'POST',
    url: string,
    options: NetworkRequestOptions | undefined,
    timeout?: number,
  ): Promise<NetworkResponse<T>> => {
    if (!url.startsWith(httpsOrigin)) throw new Error('MSAL bench adapter: request outside the bench server');
    const init: RequestInit = { method, headers: options?.headers ?? {} };
    if (method === 'POST') init.body = options?.body ?? '';
    if (timeout) init.signal = AbortSignal.timeout(timeout);
    const res = await fetch(httpOrigin + url.slice(httpsOrigin.length), init);
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    return { headers, body: (await res.json()) as T, status: res.status };
  };
  return {
    sendGetRequestAsync: (url, options, timeout) => send('GET', url, options, timeout),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

export const msalPeer: Peer = {
  name: '@azure/msal-node',
  packageName: '@azure/msal-node',
  note:
    '@azure/msal-node: authority https://127.0.0.1:<port>/bench (MSAL requires https) with a custom ' +
    'system.networkClient sending to the http loopback server; audience = scope "<aud>/.default".',
  async create(env): Promise<TokenAdapter> {
    const httpOrigin = new URL(env.tokenEndpoint).origin;
    const host = new URL(env.tokenEndpoint).host;
    const httpsOrigin = `https://${host}`;
    const authority = `${httpsOrigin}/bench`;
    const cca = new ConfidentialClientApplication({
      auth: {
        clientId: env.clientId,
        clientSecret: env.clientSecret,
        authority,
        knownAuthorities: [host],
        cloudDiscoveryMetadata: JSON.stringify({
          tenant_discovery_endpoint: `${authority}/v2.0/.well-known/openid-configuration`,
          'api-version': '1.1',
          metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
        }),
        authorityMetadata: JSON.stringify({
          issuer: authority,
          token_endpoint: httpsOrigin + new URL(env.tokenEndpoint).pathname,
          authorization_endpoint: `${authority}/authorize`,
          end_session_endpoint: `${authority}/logout`,
          jwks_uri: `${authority}/jwks`,
        }),
      },
      system: {
        networkClient: loopbackNetworkClient(httpsOrigin, httpOrigin),
        loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => {} },
      },
    });
    const defaultScopes = [`${env.audience}/.default`];
    return {
      cached: true,
      getToken: () => cca.acquireTokenByClientCredential({ scopes: defaultScopes }),
      // MSAL's client credentials flow takes one "<resource>/.default" scope; a per-call array is
      // the only way it is called, so this is the same call with a fresh array.
      getTokenScoped: () => cca.acquireTokenByClientCredential({ scopes: [`${env.audience}/.default`] }),
      getTokenFor: (audience) => cca.acquireTokenByClientCredential({ scopes: [`${audience}/.default`] }),
      tokenOf: (r) => (r as AuthenticationResult | null)?.accessToken ?? '',
    };
  },
};
