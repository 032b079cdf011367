import { knownValues } from '../redact/index.js';
import { type ClientAuthenticator, nonAsciiOf } from './types.js';

/** client_secret_post: `client_id` and `client_secret` in the form body (RFC 6749 2.3.1). */
export function clientSecretPost(clientId: string, clientSecret: string): ClientAuthenticator {
  return {
    method: 'client_secret_post',
    bodyFormat: 'form',
    apply(parts) {
      parts.params.push(['client_id', clientId], ['client_secret', clientSecret]);
    },
    redact: knownValues([clientSecret]),
    describe: () => ({ method: 'client_secret_post', clientId, ...nonAsciiOf(clientId, clientSecret) }),
  };
}

/**
 * client_secret_json: one JSON body carrying grant_type, client_id, client_secret, audience, scope and
 * the rest, as Auth0 and similar providers document (seeds 001 and 003). Not an RFC method.
 */
export function clientSecretJson(clientId: string, clientSecret: string): ClientAuthenticator {
  return {
    method: 'client_secret_json',
    bodyFormat: 'json',
    apply(parts) {
      parts.params.push(['client_id', clientId], ['client_secret', clientSecret]);
    },
    redact: knownValues([clientSecret]),
    describe: () => ({ method: 'client_secret_json', clientId, ...nonAsciiOf(clientId, clientSecret) }),
  };
}
