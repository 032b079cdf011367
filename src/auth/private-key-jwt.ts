import type { PrivateKeyInput } from '../types.js';
import { type AssertionSettings, describeAssertion, signAssertion } from './jwt-assertion.js';
import { certificateThumbprint, type ImportedKey, importPrivateKey } from './keys.js';
import { CLIENT_ASSERTION_TYPE, type ClientAuthenticator } from './types.js';

/**
 * private_key_jwt (RFC 7523 2.2, OpenID Connect Core 9): a JWT signed with the client's private key.
 * The key is imported once (started here, so the first request does not wait for it).
 */
export function privateKeyJwt(
  settings: AssertionSettings,
  privateKey: PrivateKeyInput,
  options: { signingAlgorithm?: string; certificate?: string } = {},
): ClientAuthenticator {
  const imported: Promise<ImportedKey> = importPrivateKey('privateKey', privateKey, options.signingAlgorithm);
  // Surfaced on first use; never an unhandled rejection.
  imported.catch(() => undefined);
  const thumbprint = options.certificate ? certificateThumbprint(options.certificate) : undefined;
  thumbprint?.catch(() => undefined);

  return {
    method: 'private_key_jwt',
    bodyFormat: 'form',
    async apply(parts, context) {
      const { key, alg } = await imported;
      const x5t = await thumbprint;
      const assertion = await signAssertion(
        settings,
        context,
        alg,
        key as CryptoKey,
        x5t ? { 'x5t#S256': x5t } : undefined,
      );
      parts.params.push(
        ['client_id', settings.clientId],
        ['client_assertion_type', CLIENT_ASSERTION_TYPE],
        ['client_assertion', assertion],
      );
    },
    redact: (text) => text,
    describe: (context) => describeAssertion('private_key_jwt', settings, context),
  };
}
