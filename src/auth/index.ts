/** Chooses and builds the client authenticator for the configured method. */
import type { ClientCredentials } from '../credentials/index.js';
import type { ClientCredentialsClientOptions } from '../options/index.js';
import { DEFAULTS } from '../options/index.js';
import type { AuthMethod, PrivateKeyInput } from '../types.js';
import { clientAssertion } from './client-assertion.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { clientSecretJwt } from './client-secret-jwt.js';
import { clientSecretJson, clientSecretPost } from './client-secret-post.js';
import type { AssertionSettings } from './jwt-assertion.js';
import { ownKeyId } from './keys.js';
import { privateKeyJwt } from './private-key-jwt.js';
import { rotatingAuthenticator } from './rotating-authenticator.js';
import { tlsClientAuth } from './tls-client-auth.js';
import type { ClientAuthenticator } from './types.js';

export type { AuthContext, ClientAuthenticator, TokenRequestParts } from './types.js';

/**
 * Builds the authenticator. Options were validated by normalizeOptions(), key shapes included.
 * `credentials` (built once per client, src/credentials) holds an assertion made elsewhere and the
 * secret or key given as a function: the authenticator then takes each request's value from there.
 */
export function createAuthenticator(
  o: ClientCredentialsClientOptions,
  method: AuthMethod,
  credentials: ClientCredentials = {},
): ClientAuthenticator {
  const assertion = (key?: PrivateKeyInput): AssertionSettings => ({
    clientId: o.clientId,
    audience: o.assertionAudience,
    // A private JWK's own kid is the default: servers holding several keys for a client pick the one
    // to verify with by kid (RFC 7515 4.1.4; see ownKeyId). An explicit keyId always wins.
    keyId: o.keyId ?? ownKeyId(key),
    typHeader: o.assertionTypHeader ?? true,
    lifetimeSeconds: o.assertionLifetimeSeconds ?? DEFAULTS.assertionLifetimeSeconds,
    clockSkewSeconds: o.clockSkewSeconds ?? DEFAULTS.clockSkewSeconds,
  });
  /** The method's authenticator for the secret: the option's string, or a function's current value. */
  const withSecret = (build: (secret: string) => ClientAuthenticator): ClientAuthenticator =>
    credentials.secret !== undefined
      ? rotatingAuthenticator(method, o.clientId, credentials.secret, build)
      : build(o.clientSecret as string);
  switch (method) {
    case 'client_secret_basic':
      return withSecret((secret) => clientSecretBasic(o.clientId, secret, o.basicAuthEncoding));
    case 'client_secret_post':
      return withSecret((secret) => clientSecretPost(o.clientId, secret));
    case 'client_secret_json':
      return withSecret((secret) => clientSecretJson(o.clientId, secret));
    case 'client_secret_jwt':
      return withSecret((secret) =>
        clientSecretJwt(assertion(), secret, (o.signingAlgorithm as 'HS256' | undefined) ?? 'HS256'),
      );
    case 'private_key_jwt': {
      if (credentials.assertion !== undefined) return clientAssertion(o.clientId, credentials.assertion);
      const signer = (key: PrivateKeyInput) =>
        privateKeyJwt(assertion(key), key, {
          signingAlgorithm: o.signingAlgorithm,
          certificate: o.certificate,
        });
      if (credentials.privateKey !== undefined) {
        return rotatingAuthenticator(method, o.clientId, credentials.privateKey, signer);
      }
      return signer(o.privateKey as PrivateKeyInput);
    }
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      return tlsClientAuth(method, o.clientId, {
        certificate: o.certificate,
        privateKey: o.privateKey as PrivateKeyInput | undefined,
        dispatcher: o.dispatcher,
        fetch: o.fetch,
      });
  }
}
