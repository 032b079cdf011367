/**
 * Private key handling for signed assertions and DPoP proofs: a sync shape check for the constructor,
 * and a one-time async import (PEM, JWK, KeyObject or CryptoKey) with the algorithm inferred from the
 * key type. PEM goes through `node:crypto` where the runtime has it (every PEM kind); elsewhere, or where
 * `node:crypto` is a stub (workerd's nodejs_compat), PKCS#8 goes through Web Crypto and PKCS#1/SEC1 get
 * a ConfigurationError that says how to convert them.
 */
import type { JWK } from 'jose';
import { withNodeCrypto } from '../capabilities.js';
import { ConfigurationError } from '../errors.js';
import { loadJose } from '../jose.js';
import type { AsymmetricAlgorithm, PrivateKeyInput } from '../types.js';
import { base64url } from '../util.js';

/** A key ready for jose's `sign()`: a CryptoKey, or a Node.js KeyObject. */
export type SigningKey = CryptoKey | { type: string };

export interface ImportedKey {
  readonly key: SigningKey;
  readonly alg: AsymmetricAlgorithm;
}

interface KeyObjectLike {
  type: string;
  asymmetricKeyType?: string;
  asymmetricKeyDetails?: { namedCurve?: string };
  export(options: { format: 'jwk' }): JsonWebKey;
}

/** A Node.js KeyObject (told by its shape: the class is not there in every runtime). */
export function isKeyObject(value: unknown): value is KeyObjectLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as KeyObjectLike).type === 'string' &&
    typeof (value as KeyObjectLike).export === 'function' &&
    'asymmetricKeyType' in value
  );
}

/** A Web Crypto key, where the runtime has the class. */
export function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof CryptoKey !== 'undefined' && value instanceof CryptoKey;
}

/**
 * The `kid` a private JWK carries, if any: the default `keyId` of client assertions, since servers
 * that hold several keys for a client (Glewlwyd, Keycloak, Okta) pick the verification key by `kid`
 * (RFC 7515 4.1.4). Only a JWK can name itself; PEM, KeyObject and CryptoKey inputs have no kid.
 */
export function ownKeyId(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null || isCryptoKey(input) || isKeyObject(input))
    return undefined;
  const kid = (input as JWK).kid;
  return typeof kid === 'string' && kid !== '' ? kid : undefined;
}

/** Synchronous shape check for the constructor; never echoes key material. */
export function checkPrivateKeyShape(option: string, input: unknown): void {
  if (typeof input === 'string') {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(input)) {
      throw new ConfigurationError(
        option,
        'encrypted PEM keys are not supported: pass a decrypted KeyObject instead',
      );
    }
    if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(input)) {
      throw new ConfigurationError(
        option,
        'must be a PEM private key (PKCS#8 "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY" or SEC1 "EC PRIVATE KEY"), a private JWK, a KeyObject or a CryptoKey',
      );
    }
    return;
  }
  if (isCryptoKey(input)) {
    if (input.type !== 'private') throw new ConfigurationError(option, 'must be a private CryptoKey');
    return;
  }
  if (isKeyObject(input)) {
    if (input.type !== 'private') throw new ConfigurationError(option, 'must be a private KeyObject');
    return;
  }
  if (typeof input === 'object' && input !== null && typeof (input as JWK).kty === 'string') {
    const jwk = input as JWK;
    if (jwk.kty === 'oct') throw new ConfigurationError(option, 'must be an asymmetric key (RSA, EC or OKP)');
    if (typeof jwk.d !== 'string') throw new ConfigurationError(option, 'the JWK has no private part ("d")');
    return;
  }
  throw new ConfigurationError(option, 'must be a PEM string, a private JWK, a KeyObject or a CryptoKey');
}

function algForCurve(curve: string | undefined): AsymmetricAlgorithm | undefined {
  switch (curve) {
    case 'P-256':
    case 'prime256v1':
      return 'ES256';
    case 'P-384':
    case 'secp384r1':
      return 'ES384';
    case 'P-521':
    case 'secp521r1':
      return 'ES512';
    default:
      return undefined;
  }
}

/** The algorithms a key of this type can sign with, the first being the default. */
function algsForKeyType(type: string | undefined, curve: string | undefined): readonly AsymmetricAlgorithm[] {
  switch (type) {
    case 'rsa':
    case 'RSA':
    case 'RSASSA-PKCS1-v1_5':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
    case 'RSA-PSS':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec':
    case 'EC':
    case 'ECDSA': {
      const alg = algForCurve(curve);
      return alg ? [alg] : [];
    }
    case 'ed25519':
    case 'Ed25519':
    case 'OKP':
      return curve === undefined || curve === 'Ed25519' ? ['EdDSA'] : [];
    default:
      return [];
  }
}

function pickAlg(
  option: string,
  allowed: readonly AsymmetricAlgorithm[],
  requested?: string,
): AsymmetricAlgorithm {
  const first = allowed[0];
  if (!first)
    throw new ConfigurationError(option, 'unsupported key type: use RSA, EC P-256/P-384/P-521 or Ed25519');
  if (requested === undefined) return first;
  if (!allowed.includes(requested as AsymmetricAlgorithm)) {
    throw new ConfigurationError(
      'signingAlgorithm',
      `${requested} cannot be used with this key (allowed: ${allowed.join(', ')})`,
    );
  }
  return requested as AsymmetricAlgorithm;
}

/**
 * DER prefixes of the PKCS#8 AlgorithmIdentifier OIDs (RFC 5208 5) and their key types; EC keys also
 * carry their named curve's OID (RFC 5480 2.1.1.1). Web Crypto imports RSA keys only as rsaEncryption
 * (an id-RSASSA-PSS key needs node:crypto), so RSA defaults to RS256 and PS256 is asked for.
 */
const PKCS8_KEY_TYPES: ReadonlyArray<readonly [string, string, string?]> = [
  ['06092a864886f70d010101', 'RSA'],
  ['06072a8648ce3d0201', 'EC'],
  ['06032b6570', 'OKP', 'Ed25519'],
];
const EC_CURVES: ReadonlyArray<readonly [string, string]> = [
  ['06082a8648ce3d030107', 'P-256'],
  ['06052b81040022', 'P-384'],
  ['06052b81040023', 'P-521'],
];

/** The key type (and curve) of a PKCS#8 PEM, read from its AlgorithmIdentifier; undefined if unknown. */
function pkcs8KeyType(pem: string): { type: string; curve?: string } | undefined {
  const body = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  let head: string;
  try {
    head = Array.from(atob(body).slice(0, 48), (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  } catch {
    return undefined;
  }
  for (const [oid, type, fixedCurve] of PKCS8_KEY_TYPES) {
    if (!head.includes(oid)) continue;
    if (type !== 'EC') return { type, curve: fixedCurve };
    const curve = EC_CURVES.find(([curveOid]) => head.includes(curveOid))?.[1];
    return curve ? { type, curve } : undefined;
  }
  return undefined;
}

/** A PEM key through Web Crypto: PKCS#8 only, its algorithm read from the key unless one is asked for. */
async function importPemWithWebCrypto(
  option: string,
  pem: string,
  requestedAlg: string | undefined,
): Promise<ImportedKey> {
  if (!/-----BEGIN PRIVATE KEY-----/.test(pem)) {
    throw new ConfigurationError(
      option,
      'PKCS#1 ("RSA PRIVATE KEY") and SEC1 ("EC PRIVATE KEY") PEM need node:crypto, which this runtime does not provide: convert the key to PKCS#8 (`openssl pkcs8 -topk8 -nocrypt -in key.pem`), or pass a JWK or a CryptoKey',
    );
  }
  const keyType = pkcs8KeyType(pem);
  const alg = keyType
    ? pickAlg(option, algsForKeyType(keyType.type, keyType.curve), requestedAlg)
    : (requestedAlg as AsymmetricAlgorithm | undefined);
  if (alg === undefined) {
    throw new ConfigurationError('signingAlgorithm', 'is required for this PEM key outside Node.js');
  }
  const { importPKCS8 } = await loadJose();
  return { key: await importPKCS8(pem, alg), alg };
}

/**
 * The algorithms a key can sign with, read synchronously where that is possible (a JWK, a KeyObject, a
 * CryptoKey, a PEM through node:crypto or its PKCS#8 header); undefined when only the import will tell.
 */
function keyAlgorithms(input: PrivateKeyInput): readonly AsymmetricAlgorithm[] | undefined {
  if (typeof input === 'string') {
    let keyObject: KeyObjectLike | undefined;
    try {
      keyObject = withNodeCrypto((c) => c.createPrivateKey(input)) as unknown as KeyObjectLike | undefined;
    } catch {
      return undefined; // the import reports it, with its own message
    }
    if (keyObject)
      return algsForKeyType(keyObject.asymmetricKeyType, keyObject.asymmetricKeyDetails?.namedCurve);
    const keyType = /-----BEGIN PRIVATE KEY-----/.test(input) ? pkcs8KeyType(input) : undefined;
    return keyType ? algsForKeyType(keyType.type, keyType.curve) : undefined;
  }
  if (isCryptoKey(input)) {
    const algorithm = input.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
    const allowed = algsForKeyType(algorithm.name, algorithm.namedCurve);
    if (!algorithm.hash || allowed.length <= 1) return allowed;
    const bits = algorithm.hash.name.replace('SHA-', '');
    return [`${algorithm.name === 'RSA-PSS' ? 'PS' : 'RS'}${bits}` as AsymmetricAlgorithm];
  }
  if (isKeyObject(input))
    return algsForKeyType(input.asymmetricKeyType, input.asymmetricKeyDetails?.namedCurve);
  const jwk = input as JWK;
  return algsForKeyType(jwk.kty, jwk.crv);
}

/**
 * For the constructor: the key can sign with `requestedAlg` (or, without one, has a type this package
 * signs with). ConfigurationError naming `signingAlgorithm` or `option` as the import would, only sooner.
 */
export function checkKeyAlgorithm(option: string, input: PrivateKeyInput, requestedAlg?: string): void {
  const allowed = keyAlgorithms(input);
  if (allowed === undefined) return;
  const jwkAlg =
    typeof input === 'object' && !isCryptoKey(input) && !isKeyObject(input) ? (input as JWK).alg : undefined;
  pickAlg(option, allowed, requestedAlg ?? jwkAlg);
}

/** Imports a private key once. Errors are ConfigurationError naming `option`, without key material. */
export async function importPrivateKey(
  option: string,
  input: PrivateKeyInput,
  requestedAlg?: string,
): Promise<ImportedKey> {
  try {
    if (typeof input === 'string') {
      const keyObject = withNodeCrypto((c) => c.createPrivateKey(input));
      if (keyObject)
        return await importKeyObject(option, keyObject as unknown as KeyObjectLike, requestedAlg);
      return await importPemWithWebCrypto(option, input, requestedAlg);
    }
    if (isCryptoKey(input)) {
      const algorithm = input.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
      const allowed = algsForKeyType(algorithm.name, algorithm.namedCurve);
      if (algorithm.hash && allowed.length > 1) {
        // A Web Crypto RSA key is bound to one hash.
        const bits = algorithm.hash.name.replace('SHA-', '');
        const prefix = algorithm.name === 'RSA-PSS' ? 'PS' : 'RS';
        return {
          key: input,
          alg: pickAlg(option, [`${prefix}${bits}` as AsymmetricAlgorithm], requestedAlg),
        };
      }
      return { key: input, alg: pickAlg(option, allowed, requestedAlg) };
    }
    if (isKeyObject(input)) return await importKeyObject(option, input, requestedAlg);
    const jwk = input as JWK;
    const alg = pickAlg(option, algsForKeyType(jwk.kty, jwk.crv), requestedAlg ?? jwk.alg);
    const { importJWK } = await loadJose();
    const key = await importJWK(jwk, alg === 'EdDSA' ? 'EdDSA' : alg);
    return { key: key as SigningKey, alg };
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    // The cause (a parser error) never contains the key itself, but keep only its name to be sure.
    const reason = error instanceof Error ? error.name : 'Error';
    throw new ConfigurationError(option, `could not be imported as a private key (${reason})`);
  }
}

/**
 * A KeyObject, handed to jose as a CryptoKey made here once through its JWK. jose would otherwise call
 * `KeyObject.toCryptoKey()` on every new key, which compatibility layers stub (workerd's nodejs_compat
 * throws "not implemented" there); where there is no toCryptoKey (Node 20) jose takes the same JWK route.
 * A key that cannot be exported as a JWK (RSA-PSS) stays a KeyObject.
 */
async function importKeyObject(
  option: string,
  keyObject: KeyObjectLike,
  requestedAlg?: string,
): Promise<ImportedKey> {
  if (keyObject.type !== 'private') throw new ConfigurationError(option, 'must be a private key');
  const allowed = algsForKeyType(keyObject.asymmetricKeyType, keyObject.asymmetricKeyDetails?.namedCurve);
  const alg = pickAlg(option, allowed, requestedAlg);
  let jwk: JWK;
  try {
    jwk = keyObject.export({ format: 'jwk' }) as JWK;
  } catch {
    return { key: keyObject, alg };
  }
  const { importJWK } = await loadJose();
  return { key: (await importJWK(jwk, alg)) as SigningKey, alg };
}

/**
 * The DER of a PEM certificate: its first `CERTIFICATE` block (the leaf, when the PEM holds a chain).
 * @throws {ConfigurationError} `certificate`: no block, or one that is not base64
 */
function certificateDer(pem: string): Uint8Array<ArrayBuffer> {
  const body = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/.exec(pem)?.[1];
  let binary: string | undefined;
  try {
    binary = body === undefined ? undefined : atob(body.replace(/\s+/g, ''));
  } catch {
    binary = undefined;
  }
  if (!binary) throw new ConfigurationError('certificate', 'could not be read as a PEM certificate');
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** `x5t#S256`: base64url SHA-256 of the certificate's DER (RFC 7515 4.1.8, RFC 8705 3.1). */
export async function certificateThumbprint(pem: string): Promise<string> {
  const der = certificateDer(pem);
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', der)));
}

/**
 * {@link certificateThumbprint} synchronously, through `node:crypto`; undefined where the runtime has no
 * such hash (Web Crypto's digest is async only).
 */
export function certificateThumbprintSync(pem: string): string | undefined {
  const der = certificateDer(pem);
  return withNodeCrypto((c) => c.createHash('sha256').update(der).digest('base64url'));
}
