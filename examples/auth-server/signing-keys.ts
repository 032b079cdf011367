/**
 * The authorization server's token signing key. One RS256 key at a time: rotating replaces it, so
 * tokens signed with the old key no longer verify against the JWKS.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk); // RFC 7638: a stable id derived from the key itself
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' } };
}

export class SigningKeys {
  private constructor(private current: SigningKey) {}

  static async create(): Promise<SigningKeys> {
    return new SigningKeys(await newSigningKey());
  }

  /** Makes a new key and forgets the old one. */
  async rotate(): Promise<void> {
    this.current = await newSigningKey();
  }

  /** The JWK Set published at /.well-known/jwks.json (RFC 7517 section 5). */
  jwks(): { keys: JWK[] } {
    return { keys: [this.current.publicJwk] };
  }

  /** Signs a JWT with the current key, naming it in the `kid` header. */
  sign(claims: JWTPayload): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.current.kid })
      .sign(this.current.privateKey);
  }
}
