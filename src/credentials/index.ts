/**
 * Credential providers: a client assertion made elsewhere (`clientAssertion`, `clientAssertionFile`)
 * and secrets or keys given as functions that are called again after a refusal (rotation without a
 * restart). The authenticators (src/auth) take their values from here.
 */
import { checkPrivateKeyShape } from '../auth/keys.js';
import { checkClientSecret } from '../options/index.js';
import type { PrivateKeyInput } from '../types.js';
import { type AssertionSource, assertionSource } from './assertion.js';
import { RotatingCredential } from './rotating.js';

export type { AssertionOption, AssertionSource } from './assertion.js';
export { MAX_ASSERTION_FILE_BYTES } from './assertion.js';
export type { Renewal, RotatingOption } from './rotating.js';
export { RotatingCredential } from './rotating.js';

/** The credentials of one client that do not stay the same: built once per client. */
export interface ClientCredentials {
  /** `clientSecret` given as a function. */
  readonly secret?: RotatingCredential<string>;
  /** `privateKey` given as a function. */
  readonly privateKey?: RotatingCredential<PrivateKeyInput>;
  /** `clientAssertion` or `clientAssertionFile`. */
  readonly assertion?: AssertionSource;
}

/** The options the credentials come from (validated by normalizeOptions() before). */
export interface CredentialOptions {
  readonly clientSecret?: string | (() => string | Promise<string>);
  readonly privateKey?: PrivateKeyInput | (() => PrivateKeyInput | Promise<PrivateKeyInput>);
  readonly clientAssertion?: string | (() => string | Promise<string>);
  readonly clientAssertionFile?: string;
}

const FROM_FUNCTION = ' (the value the function returned)';

/**
 * The credentials of the options. Each source (a function, the assertion file) must give its value
 * within `timeoutMs`, the attempt's timeout: else M2MTokenError `M2M_TIMEOUT` naming the option.
 */
export function credentialsOf(options: CredentialOptions, timeoutMs: number): ClientCredentials {
  const { clientSecret, privateKey } = options;
  const assertion = assertionSource(options, timeoutMs);
  return {
    ...(typeof clientSecret === 'function'
      ? {
          secret: new RotatingCredential<string>(
            'clientSecret',
            clientSecret,
            (value) => checkClientSecret(value, FROM_FUNCTION),
            timeoutMs,
          ),
        }
      : {}),
    ...(typeof privateKey === 'function'
      ? {
          privateKey: new RotatingCredential<PrivateKeyInput>(
            'privateKey',
            privateKey as () => PrivateKeyInput | Promise<PrivateKeyInput>,
            (value) => {
              checkPrivateKeyShape('privateKey', value);
              return value as PrivateKeyInput;
            },
            timeoutMs,
            sameKey,
          ),
        }
      : {}),
    ...(assertion !== undefined ? { assertion } : {}),
  };
}

/** The credential whose renewal may let a refused request through, if any. */
export function rotatingCredentialOf(
  credentials: ClientCredentials,
): RotatingCredential<string> | RotatingCredential<PrivateKeyInput> | undefined {
  return credentials.secret ?? credentials.privateKey;
}

/**
 * Whether two keys a function returned are the same key: PEM strings and JWKs by content, KeyObjects by
 * `equals`, CryptoKeys (which may not be exportable) by identity.
 */
function sameKey(a: PrivateKeyInput, b: PrivateKeyInput): boolean {
  if (a === b) return true;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  const equals = (a as { equals?: (other: unknown) => boolean }).equals;
  if (typeof equals === 'function') {
    try {
      return equals.call(a, b);
    } catch {
      return false;
    }
  }
  if (typeof CryptoKey !== 'undefined' && (a instanceof CryptoKey || b instanceof CryptoKey)) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
