import type { RotatingCredential } from '../credentials/index.js';
import type { AuthMethod } from '../types.js';
import type { ClientAuthenticator } from './types.js';

/** Authenticators kept per value: the current one and the one before (its secret may still be echoed). */
const KEPT = 2;

/**
 * An authenticator whose secret or key comes from a function ({@link RotatingCredential}): each request
 * uses the credential's current value, through the method's own factory (`build`), made once per value.
 * The credential is renewed elsewhere (after a refusal, in the obtain step); this only follows it.
 */
export function rotatingAuthenticator<T>(
  method: AuthMethod,
  clientId: string,
  credential: RotatingCredential<T>,
  build: (value: T) => ClientAuthenticator,
): ClientAuthenticator {
  const built: Array<{ readonly value: T; readonly auth: ClientAuthenticator }> = [];
  const authFor = (value: T): ClientAuthenticator => {
    const known = built.find((b) => b.value === value);
    if (known !== undefined) return known.auth;
    const auth = build(value);
    built.unshift({ value, auth });
    built.length = Math.min(built.length, KEPT);
    return auth;
  };
  return {
    method,
    bodyFormat: method === 'client_secret_json' ? 'json' : 'form',
    async apply(parts, context) {
      await authFor(await credential.current()).apply(parts, context);
    },
    redact: (text) => built.reduce((out, b) => b.auth.redact(out), text),
    describe: (context) => built[0]?.auth.describe(context) ?? { method, clientId },
  };
}
