import { knownValues } from '../redact/index.js';
import { type AssertionSettings, describeAssertion, signAssertion } from './jwt-assertion.js';
import { CLIENT_ASSERTION_TYPE, type ClientAuthenticator, nonAsciiOf } from './types.js';

/** client_secret_jwt (RFC 7523 2.2, OpenID Connect Core 9): an HMAC-signed assertion keyed by the secret. */
export function clientSecretJwt(
  settings: AssertionSettings,
  clientSecret: string,
  algorithm: 'HS256' | 'HS384' | 'HS512' = 'HS256',
): ClientAuthenticator {
  const key = new TextEncoder().encode(clientSecret);
  return {
    method: 'client_secret_jwt',
    bodyFormat: 'form',
    async apply(parts, context) {
      const assertion = await signAssertion(settings, context, algorithm, key);
      parts.params.push(
        ['client_id', settings.clientId],
        ['client_assertion_type', CLIENT_ASSERTION_TYPE],
        ['client_assertion', assertion],
      );
    },
    redact: knownValues([clientSecret]),
    describe: (context) => ({
      ...describeAssertion('client_secret_jwt', settings, context),
      ...nonAsciiOf(settings.clientId, clientSecret),
    }),
  };
}
