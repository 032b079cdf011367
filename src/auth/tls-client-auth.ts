import type { AuthMethod, PrivateKeyInput } from '../types.js';
import type { ClientAuthenticator } from './types.js';

/**
 * tls_client_auth and self_signed_tls_client_auth (RFC 8705 2.1, 2.2): the client authenticates with
 * its TLS client certificate, so only `client_id` goes in the body. The certificate is presented by an
 * undici Agent made once (undici is loaded lazily: only Node needs it), or by the caller's dispatcher.
 */
export function tlsClientAuth(
  method: Extract<AuthMethod, 'tls_client_auth' | 'self_signed_tls_client_auth'>,
  clientId: string,
  options: { certificate?: string; privateKey?: PrivateKeyInput; dispatcher?: unknown },
): ClientAuthenticator {
  let agent: Promise<unknown> | undefined;
  const dispatcher = () => {
    if (options.dispatcher !== undefined) return Promise.resolve(options.dispatcher);
    agent ??= import('undici').then(
      ({ Agent }) =>
        new Agent({
          connect: {
            cert: options.certificate,
            key: options.privateKey as string,
          },
        }),
    );
    return agent;
  };
  return {
    method,
    bodyFormat: 'form',
    apply(parts) {
      parts.params.push(['client_id', clientId]);
    },
    redact: (text) => text,
    dispatcher,
  };
}
