/**
 * DPoP proofs (RFC 9449): the proof source used by token requests (RFC 9449 5) and by the fetch wrapper
 * for protected resource requests (RFC 9449 7.1).
 *
 * The proof key is either generated in memory (`dpop: true`, ES256 by default) or given
 * (`dpop: { privateKey }`). Its public JWK goes into every proof's header; the private key never leaves
 * this module. `keyBinding` identifies the key in cache keys, so that a token bound to one key is never
 * handed out with proofs made by another:
 *
 * - a given key: its RFC 7638 thumbprint (the `jkt` the server puts in `cnf`), computed synchronously
 *   (the constructor builds cache keys synchronously) from the public key with `node:crypto`. Two clients,
 *   or two processes sharing a RedisTokenCache, with the same key share tokens.
 * - a generated key: a random id per client. The key exists only inside this client object, so no other
 *   client could ever use its tokens; a random id is as unique as the thumbprint and needs no hashing
 *   before the key pair exists (generating it is async).
 * - where `node:crypto` is not available (edge runtimes) and the public key is only known asynchronously,
 *   a given key falls back to a random id too: still correct, only without sharing between clients.
 */
import type { JWK } from 'jose';
import {
  checkPrivateKeyShape,
  importPrivateKey,
  isCryptoKey,
  isKeyObject,
  type SigningKey,
} from './auth/keys.js';
import { Lru } from './cache/lru.js';
import { withNodeCrypto } from './capabilities.js';
import { ConfigurationError } from './errors.js';
import type { DpopProofSource } from './http/token-request.js';
import { loadJose } from './jose.js';
import type { DpopOptions } from './options/index.js';
import type { AsymmetricAlgorithm, PrivateKeyInput } from './types.js';
import { base64url, utf8 } from './util.js';

/** The most origins whose nonce is remembered (the oldest is forgotten first). */
const MAX_NONCES = 1_000;
/** RFC 9449 8.1: `nonce = 1*NQCHAR` (printable ASCII but `"` and `\`); very long values are ignored. */
const NONCE_SYNTAX = /^[\x21\x23-\x5b\x5d-\x7e]{1,2048}$/;

/** Public members of a JWK per key type; RFC 7638 3.2 hashes exactly these (with `kty`). */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'x', 'y'],
  RSA: ['e', 'n'],
  OKP: ['crv', 'x'],
};

interface ProofKey {
  readonly key: SigningKey;
  readonly alg: AsymmetricAlgorithm;
  /** The public key, with its public members only (RFC 9449 4.2: never a private key). */
  readonly jwk: JWK;
}

type NodeCrypto = typeof import('node:crypto');

/** 128 random bits, base64url. */
function randomId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}

/** The public part of a JWK: `kty` and the public members only (drops d, p, q, kid, alg, ...). */
function publicJwkOf(option: string, jwk: JWK): JWK {
  const members = typeof jwk.kty === 'string' ? PUBLIC_MEMBERS[jwk.kty] : undefined;
  if (!members) throw new ConfigurationError(option, 'must be an RSA, EC or OKP key');
  const out: JWK = { kty: jwk.kty };
  for (const name of members) {
    const value = (jwk as Record<string, unknown>)[name];
    if (typeof value !== 'string' || value === '') {
      throw new ConfigurationError(option, `the JWK has no "${name}" member`);
    }
    (out as Record<string, unknown>)[name] = value;
  }
  return out;
}

/** RFC 7638 3: base64url SHA-256 of the required members in lexicographic order, without whitespace. */
function thumbprintSync(jwk: JWK): string | undefined {
  const names = ['kty', ...(PUBLIC_MEMBERS[jwk.kty as string] ?? [])].sort();
  const canonical = JSON.stringify(
    Object.fromEntries(names.map((name) => [name, (jwk as Record<string, unknown>)[name]])),
  );
  return withNodeCrypto((c) => c.createHash('sha256').update(canonical).digest('base64url'));
}

/**
 * The public JWK of a PEM private key, a KeyObject or a public CryptoKey, through node:crypto; undefined
 * where node:crypto cannot do it (the caller then derives it asynchronously with Web Crypto).
 */
function nodePublicJwk(option: string, key: unknown): JWK | undefined {
  let jwk: JWK | undefined;
  try {
    jwk = withNodeCrypto((c) => {
      const source = isCryptoKey(key) ? c.KeyObject.from(key) : key;
      const publicKey =
        source instanceof c.KeyObject && source.type === 'public'
          ? source
          : c.createPublicKey(source as Parameters<NodeCrypto['createPublicKey']>[0]);
      return publicKey.export({ format: 'jwk' }) as JWK;
    });
  } catch (error) {
    // The parser's message never holds the key, but keep only the error's name to be sure.
    throw new ConfigurationError(
      option,
      `could not be read as a key (${error instanceof Error ? error.name : 'Error'})`,
    );
  }
  return jwk === undefined ? undefined : publicJwkOf(option, jwk);
}

/**
 * RFC 9449 4.2: `htu` is the target URI without query and fragment (and without userinfo, which an
 * origin never has).
 */
function targetUri(origin: string, path: string): string {
  let end = path.length;
  const q = path.indexOf('?');
  if (q !== -1) end = q;
  const h = path.indexOf('#');
  if (h !== -1 && h < end) end = h;
  return origin + path.slice(0, end);
}

/** RFC 9449 4.2: `ath` is base64url(SHA-256(ASCII(access token))). */
async function accessTokenHash(accessToken: string): Promise<string> {
  return base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))),
  );
}

/**
 * Makes DPoP proofs with one key, and remembers the newest `DPoP-Nonce` of each origin
 * (the authorization server's, RFC 9449 8, and each resource server's, RFC 9449 9).
 */
export class DpopProofs implements DpopProofSource {
  readonly tokenType = 'dpop' as const;
  /** Identifies the key in cache keys: its RFC 7638 thumbprint when given, else a random per-client id. */
  readonly keyBinding: string;
  readonly #key: Promise<ProofKey>;
  /** The newest nonce of each origin; the origin heard from longest ago is forgotten first. */
  readonly #nonces = new Lru<string>(MAX_NONCES);
  #lastAth: { readonly token: string; readonly ath: Promise<string> } | undefined;

  constructor(key: Promise<ProofKey>, keyBinding: string) {
    this.#key = key;
    // Surfaced on first use (as a ConfigurationError); never an unhandled rejection.
    key.catch(() => undefined);
    this.keyBinding = keyBinding;
  }

  /**
   * A fresh proof (RFC 9449 4.2): header `typ: dpop+jwt`, `alg`, the public `jwk`; claims `jti` (128 random
   * bits), `htm` (the method as the caller sends it), `htu`, `iat`, the origin's newest `nonce` when one
   * is known, and `ath` with a token.
   */
  async proof(htm: string, origin: string, path: string, accessToken?: string): Promise<string> {
    const { key, alg, jwk } = await this.#key;
    const claims: Record<string, string> = { htm, htu: targetUri(origin, path) };
    const nonce = this.#nonces.peek(origin);
    if (nonce !== undefined) claims.nonce = nonce;
    if (accessToken !== undefined) claims.ath = await this.#ath(accessToken);
    const { SignJWT } = await loadJose();
    return new SignJWT(claims)
      .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
      .setIssuedAt()
      .setJti(randomId())
      .sign(key as CryptoKey);
  }

  /** Records the newest `DPoP-Nonce` an origin sent (RFC 9449 8.2: a server may send a new one any time). */
  rememberNonce(origin: string, nonce: string): void {
    if (!NONCE_SYNTAX.test(nonce)) return;
    this.#nonces.set(origin, nonce);
  }

  /** The same token is usually sent many times in a row: hash it once. */
  #ath(accessToken: string): Promise<string> {
    if (this.#lastAth?.token !== accessToken)
      this.#lastAth = { token: accessToken, ath: accessTokenHash(accessToken) };
    return this.#lastAth.ath;
  }

  /** Shows no key material. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `DpopProofs { keyBinding: '${this.keyBinding}' }`;
  }
}

/**
 * Builds the proof source for the `dpop` option. Checks the key's shape synchronously (throws
 * ConfigurationError naming `dpop.*`); the key itself is imported, or generated, in the background and
 * any failure to do so surfaces on first use.
 */
export function createDpopProofSource(option: true | DpopOptions): DpopProofs {
  const o: DpopOptions = option === true ? {} : option;
  if (o.privateKey === undefined) {
    if (o.publicKey !== undefined) {
      throw new ConfigurationError('dpop.publicKey', 'is only used together with dpop.privateKey');
    }
    const algorithm = o.algorithm ?? 'ES256';
    // In Node.js the pair is made synchronously, so that the cache key carries its RFC 7638 thumbprint
    // from the start, like a given key's; elsewhere a random per-client id stands in for it.
    const generated = generateSync(algorithm);
    if (generated !== undefined) return createDpopProofSource({ privateKey: generated, algorithm });
    return new DpopProofs(generate(algorithm), `ephemeral:${randomId()}`);
  }
  const privateKey = o.privateKey;
  checkPrivateKeyShape('dpop.privateKey', privateKey);

  let publicJwk: JWK | undefined;
  let derivePublicJwk: (alg: AsymmetricAlgorithm) => Promise<JWK>;
  let checkPair = false;
  if (isCryptoKey(privateKey) && o.publicKey === undefined) {
    // Web Crypto does not give a private key's public key: an extractable one is exported and stripped
    // of its private part; a non-extractable one needs it given (node:crypto's KeyObject.from() of a
    // non-extractable key is deprecated, DEP0204, and warns on Node.js 24 and Bun).
    if (!privateKey.extractable) {
      throw new ConfigurationError(
        'dpop.publicKey',
        'is required when dpop.privateKey is a non-extractable CryptoKey (it does not reveal its public key): pass the public JWK or public CryptoKey',
      );
    }
    // Synchronously where node:crypto can (so the cache key carries the thumbprint from the start).
    publicJwk = nodePublicJwk('dpop.privateKey', privateKey);
    derivePublicJwk = async () =>
      publicJwkOf('dpop.privateKey', (await crypto.subtle.exportKey('jwk', privateKey)) as JWK);
  } else if (isCryptoKey(privateKey)) {
    // Given with its public key: the pair is checked on first use.
    const publicKey = o.publicKey;
    checkPair = true;
    if (isCryptoKey(publicKey)) {
      if (publicKey.type !== 'public')
        throw new ConfigurationError('dpop.publicKey', 'must be a public CryptoKey');
      publicJwk = nodePublicJwk('dpop.publicKey', publicKey);
      derivePublicJwk = async () =>
        publicJwkOf('dpop.publicKey', await (await loadJose()).exportJWK(publicKey));
    } else {
      if (typeof publicKey !== 'object' || publicKey === null) {
        throw new ConfigurationError('dpop.publicKey', 'must be a public JWK or a public CryptoKey');
      }
      if (typeof (publicKey as JWK).d === 'string') {
        throw new ConfigurationError(
          'dpop.publicKey',
          'must be the public key: this JWK has a private part ("d")',
        );
      }
      publicJwk = publicJwkOf('dpop.publicKey', publicKey as JWK);
      derivePublicJwk = async () => publicJwk as JWK;
    }
  } else {
    if (o.publicKey !== undefined) {
      throw new ConfigurationError(
        'dpop.publicKey',
        'is only needed when dpop.privateKey is a CryptoKey; remove it',
      );
    }
    if (typeof privateKey === 'string' || isKeyObject(privateKey)) {
      publicJwk = nodePublicJwk('dpop.privateKey', privateKey);
      // Without node:crypto: a PKCS#8 PEM, imported once more as extractable to read its public members
      // (the key's algorithm as read by importDpopKey, so that no dpop.algorithm is needed).
      derivePublicJwk = async (alg) => {
        if (typeof privateKey !== 'string') {
          throw new ConfigurationError('dpop.privateKey', 'could not be read as a key without node:crypto');
        }
        const { exportJWK, importPKCS8 } = await loadJose();
        return publicJwkOf(
          'dpop.privateKey',
          await exportJWK(await importPKCS8(privateKey, alg, { extractable: true })),
        );
      };
    } else {
      publicJwk = publicJwkOf('dpop.privateKey', privateKey as JWK);
      derivePublicJwk = async () => publicJwk as JWK;
    }
  }

  const known = publicJwk;
  const load = async (): Promise<ProofKey> => {
    const { key, alg } = await importDpopKey(privateKey, o.algorithm);
    const jwk = known ?? (await derivePublicJwk(alg));
    if (checkPair) await checkKeyPair(key, alg, jwk);
    return { key, alg, jwk };
  };
  const thumbprint = known ? thumbprintSync(known) : undefined;
  return new DpopProofs(load(), thumbprint ?? `key:${randomId()}`);
}

/** A private KeyObject for `alg` made with node:crypto, or undefined where node:crypto cannot make one. */
function generateSync(alg: AsymmetricAlgorithm): PrivateKeyInput | undefined {
  const curves: Partial<Record<AsymmetricAlgorithm, string>> = {
    ES256: 'P-256',
    ES384: 'P-384',
    ES512: 'P-521',
  };
  return withNodeCrypto((c) => {
    if (typeof c.generateKeyPairSync !== 'function') return undefined;
    const curve = curves[alg];
    if (curve) return c.generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
    if (alg === 'EdDSA') return c.generateKeyPairSync('ed25519').privateKey;
    return c.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  });
}

async function generate(alg: AsymmetricAlgorithm): Promise<ProofKey> {
  const { exportJWK, generateKeyPair } = await loadJose();
  // Non-extractable: the private key cannot be exported from this process even by mistake.
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: false });
  return { key: privateKey, alg, jwk: publicJwkOf('dpop', await exportJWK(publicKey)) };
}

async function importDpopKey(input: PrivateKeyInput, algorithm: AsymmetricAlgorithm | undefined) {
  try {
    return await importPrivateKey('dpop.privateKey', input, algorithm);
  } catch (error) {
    // keys.ts names the assertion option; here the algorithm is dpop.algorithm.
    if (error instanceof ConfigurationError && error.option === 'signingAlgorithm') {
      throw new ConfigurationError(
        'dpop.algorithm',
        error.message.replace(/^options\.signingAlgorithm: /, ''),
      );
    }
    throw error;
  }
}

/** A CryptoKey pair given as two halves: sign and verify once, so a mismatch fails clearly and early. */
async function checkKeyPair(key: SigningKey, alg: AsymmetricAlgorithm, jwk: JWK): Promise<void> {
  const { CompactSign, compactVerify, importJWK } = await loadJose();
  try {
    const jws = await new CompactSign(utf8('m2m-token dpop key check'))
      .setProtectedHeader({ alg })
      .sign(key as CryptoKey);
    await compactVerify(jws, await importJWK(jwk, alg));
  } catch {
    throw new ConfigurationError('dpop.publicKey', 'does not belong to dpop.privateKey');
  }
}
