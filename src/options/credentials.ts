/**
 * Credentials: which client authentication method the options imply (RFC 6749 2.3), and whether the
 * credentials given fit it. Messages name the option and give positions, never values.
 */
import { checkKeyAlgorithm, checkPrivateKeyShape } from '../auth/keys.js';
import { ConfigurationError } from '../errors.js';
import { ASYMMETRIC_ALGORITHMS, type AuthMethod } from '../types.js';
import type { ClientCredentialsClientOptions, DpopOptions } from './types.js';

/** Options that configure assertions this client signs, or a credential of its own. */
const OWN_CREDENTIAL_OPTIONS = [
  'clientSecret',
  'privateKey',
  'certificate',
  'keyId',
  'signingAlgorithm',
  'assertionAudience',
  'assertionTypHeader',
  'assertionLifetimeSeconds',
  'clockSkewSeconds',
  'basicAuthEncoding',
] as const;

/**
 * `clientAssertion` / `clientAssertionFile`: one of them, sent as private_key_jwt, and nothing that
 * would be a second credential or would configure an assertion this client signs (a client uses one
 * authentication method per request, RFC 6749 2.3; the assertion's claims are its issuer's).
 */
export function checkAssertionOptions(o: ClientCredentialsClientOptions): void {
  const option =
    o.clientAssertion !== undefined
      ? 'clientAssertion'
      : o.clientAssertionFile !== undefined
        ? 'clientAssertionFile'
        : undefined;
  if (option === undefined) return;
  if (o.clientAssertion !== undefined && o.clientAssertionFile !== undefined) {
    throw new ConfigurationError(
      'clientAssertionFile',
      'give either clientAssertion or clientAssertionFile, not both',
    );
  }
  for (const other of OWN_CREDENTIAL_OPTIONS) {
    if (o[other] !== undefined) {
      throw new ConfigurationError(
        option,
        `cannot be combined with ${other}: a client assertion made elsewhere is the client's only credential, and its claims (iss, sub, aud, exp) are set by its issuer`,
      );
    }
  }
  if (o.authMethod !== undefined && o.authMethod !== 'private_key_jwt') {
    throw new ConfigurationError(
      'authMethod',
      `${option} is sent as private_key_jwt (RFC 7523 2.2); remove authMethod or set it to 'private_key_jwt'`,
    );
  }
}

export function resolveAuthMethod(o: ClientCredentialsClientOptions): AuthMethod {
  if (o.authMethod) return o.authMethod;
  if (o.clientAssertion !== undefined || o.clientAssertionFile !== undefined) return 'private_key_jwt';
  if (o.clientSecret !== undefined && o.privateKey !== undefined) {
    throw new ConfigurationError(
      'authMethod',
      'both clientSecret and privateKey are given: name the authMethod to use',
    );
  }
  if (o.privateKey !== undefined) return 'private_key_jwt';
  if (o.clientSecret !== undefined) return 'client_secret_basic';
  if (o.certificate !== undefined) return 'tls_client_auth';
  throw new ConfigurationError(
    'clientSecret',
    'a clientSecret, a privateKey, a certificate, or a clientAssertion / clientAssertionFile is required',
  );
}

/** Printable ASCII, the common case: nothing to look for. */
const VSCHAR = /^[\x20-\x7e]*$/;

/**
 * The checks of a client secret, for the constructor and for each value a `clientSecret` function
 * returns (`where` then says so): a non-empty string without control characters. Messages give a
 * position, never the value.
 */
export function checkClientSecret(value: unknown, where = ''): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigurationError('clientSecret', `must be a non-empty string${where}`);
  }
  const bad = firstUnsendable(value);
  if (bad !== -1) {
    throw new ConfigurationError(
      'clientSecret',
      `contains a control character or a broken character at position ${bad}${where} (check for a trailing newline or a copy-paste artefact)`,
    );
  }
  return value;
}

export function checkCredentials(o: ClientCredentialsClientOptions, method: AuthMethod): void {
  const badIdChar = firstUnsendable(o.clientId);
  if (badIdChar !== -1) {
    throw new ConfigurationError(
      'clientId',
      `contains a control character or a broken character at position ${badIdChar} (check for a stray newline or a copy-paste artefact)`,
    );
  }
  switch (method) {
    case 'client_secret_basic':
    case 'client_secret_post':
    case 'client_secret_json':
    case 'client_secret_jwt': {
      if (o.clientSecret === undefined) {
        throw new ConfigurationError('clientSecret', `is required for ${method}`);
      }
      // A function's values are checked as it returns them.
      if (typeof o.clientSecret === 'string') checkClientSecret(o.clientSecret);
      if (o.privateKey !== undefined) {
        throw new ConfigurationError(
          'privateKey',
          `is not used by ${method}; remove it or choose private_key_jwt`,
        );
      }
      if (method === 'client_secret_jwt' && o.signingAlgorithm && !o.signingAlgorithm.startsWith('HS')) {
        throw new ConfigurationError(
          'signingAlgorithm',
          'client_secret_jwt signs with HS256, HS384 or HS512',
        );
      }
      if (o.basicAuthEncoding === 'none' && method === 'client_secret_basic' && o.clientId.includes(':')) {
        throw new ConfigurationError('basicAuthEncoding', "'none' cannot send a client id that contains ':'");
      }
      break;
    }
    case 'private_key_jwt': {
      if (o.clientAssertion !== undefined || o.clientAssertionFile !== undefined) break;
      if (o.privateKey === undefined) {
        throw new ConfigurationError(
          'privateKey',
          'is required for private_key_jwt (or a clientAssertion / clientAssertionFile made elsewhere)',
        );
      }
      if (typeof o.privateKey === 'function' && o.certificate !== undefined) {
        throw new ConfigurationError(
          'certificate',
          "cannot be combined with a privateKey function: the certificate's x5t#S256 would no longer match a rotated key",
        );
      }
      if (o.clientSecret !== undefined) {
        throw new ConfigurationError(
          'clientSecret',
          'is not used by private_key_jwt; remove it or choose a client_secret_* method',
        );
      }
      if (o.signingAlgorithm?.startsWith('HS')) {
        throw new ConfigurationError('signingAlgorithm', 'private_key_jwt needs an asymmetric algorithm');
      }
      break;
    }
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth': {
      if (o.certificate === undefined && o.dispatcher === undefined) {
        throw new ConfigurationError(
          'certificate',
          `is required for ${method} (or a dispatcher that presents it)`,
        );
      }
      if (o.certificate !== undefined && o.privateKey === undefined && o.dispatcher === undefined) {
        throw new ConfigurationError('privateKey', `the certificate's private key is required for ${method}`);
      }
      if (typeof o.privateKey === 'function') {
        throw new ConfigurationError(
          'privateKey',
          `a function is taken for private_key_jwt only; for ${method} pass the key itself (the TLS client is made once), or a dispatcher that presents the certificate`,
        );
      }
      if (o.clientSecret !== undefined) {
        throw new ConfigurationError('clientSecret', `is not used by ${method}`);
      }
      break;
    }
  }
  // Its shape, once (the key is imported on first use); a function's values are checked as it returns them.
  if (o.privateKey !== undefined && typeof o.privateKey !== 'function') {
    checkPrivateKeyShape('privateKey', o.privateKey);
    // And, for assertions, that the key can sign with the requested (or its default) algorithm: known
    // now for a JWK, a KeyObject, a CryptoKey, and a PEM where node:crypto or its PKCS#8 header tells.
    if (method === 'private_key_jwt') checkKeyAlgorithm('privateKey', o.privateKey, o.signingAlgorithm);
  }
}

const DPOP_ALGORITHMS: ReadonlySet<string> = new Set(ASYMMETRIC_ALGORITHMS);

/** The shape of `dpop: {...}`; the keys themselves are checked by dpop.ts. */
export function checkDpopOptions(dpop: DpopOptions): void {
  if (dpop.algorithm !== undefined && !DPOP_ALGORITHMS.has(dpop.algorithm)) {
    throw new ConfigurationError(
      'dpop.algorithm',
      `must be one of ${[...DPOP_ALGORITHMS].join(', ')} (RFC 9449 4.2: asymmetric)`,
    );
  }
}

/**
 * The position of the first character a client id or secret cannot carry, or -1: a control character
 * (U+0000-U+001F, U+007F-U+009F: a trailing newline, a tab pasted along), a line or paragraph separator,
 * or half of a surrogate pair (no UTF-8 form). Other characters are sent as UTF-8 (form-urlencoded for
 * Basic, RFC 6749 2.3.1 and Appendix B); RFC 6749 Appendix A expects printable ASCII, and a server that
 * refuses the client gets a hint naming the position of the first character outside it.
 */
function firstUnsendable(value: string): number {
  if (VSCHAR.test(value)) return -1;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return i;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return i;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return i;
    }
  }
  return -1;
}

/** The position of the first character outside printable ASCII, or -1 (for the refused-client hint). */
export function firstNonAscii(value: string): number {
  if (VSCHAR.test(value)) return -1;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return i;
  }
  return -1;
}
