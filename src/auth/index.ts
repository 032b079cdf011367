/** Chooses and builds the client authenticator for the configured method. */
import type { ClientCredentialsClientOptions } from '../options.js';
import { DEFAULTS } from '../options.js';
import type { AuthMethod } from '../types.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { clientSecretJwt } from './client-secret-jwt.js';
import { clientSecretJson, clientSecretPost } from './client-secret-post.js';
import type { AssertionSettings } from './jwt-assertion.js';
import { checkPrivateKeyShape, ownKeyId } from './keys.js';
import { privateKeyJwt } from './private-key-jwt.js';
import { tlsClientAuth } from './tls-client-auth.js';
import type { ClientAuthenticator } from './types.js';

export type { AuthContext, ClientAuthenticator, TokenRequestParts } from './types.js';

/** Builds the authenticator. Options were validated by normalizeOptions(); key shapes are checked here. */
export function createAuthenticator(
  o: ClientCredentialsClientOptions,
  method: AuthMethod,
): ClientAuthenticator {
  const assertion = (): AssertionSettings => ({
    clientId: o.clientId,
    audience: o.assertionAudience,
    // A private JWK's own kid is the default (API.md Round 2); an explicit keyId always wins.
    keyId: o.keyId ?? ownKeyId(o.privateKey),
    typHeader: o.assertionTypHeader ?? true,
    lifetimeSeconds: o.assertionLifetimeSeconds ?? DEFAULTS.assertionLifetimeSeconds,
    clockSkewSeconds: o.clockSkewSeconds ?? DEFAULTS.clockSkewSeconds,
  });
  const secret = o.clientSecret as string;
  switch (method) {
    case 'client_secret_basic':
      return clientSecretBasic(o.clientId, secret, o.basicAuthEncoding);
    case 'client_secret_post':
      return clientSecretPost(o.clientId, secret);
    case 'client_secret_json':
      return clientSecretJson(o.clientId, secret);
    case 'client_secret_jwt':
      return clientSecretJwt(assertion(), secret, (o.signingAlgorithm as 'HS256' | undefined) ?? 'HS256');
    case 'private_key_jwt': {
      checkPrivateKeyShape('privateKey', o.privateKey);
      return privateKeyJwt(assertion(), o.privateKey!, {
        signingAlgorithm: o.signingAlgorithm,
        certificate: o.certificate,
      });
    }
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      return tlsClientAuth(method, o.clientId, {
        certificate: o.certificate,
        privateKey: o.privateKey,
        dispatcher: o.dispatcher,
        fetch: o.fetch,
      });
  }
}
