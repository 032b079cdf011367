/**
 * Client assertions for private_key_jwt and client_secret_jwt (RFC 7523 2.2 and 3, OpenID Connect
 * Core 9). One fresh assertion per request attempt, never reused.
 */
import type { JWTHeaderParameters, SignJWT } from 'jose';
import { loadJose } from '../jose.js';
import type { AuthContext, AuthDescription } from './types.js';

export interface AssertionSettings {
  readonly clientId: string;
  /** Overrides the audience; otherwise the issuer when known, else the token endpoint. */
  readonly audience?: string;
  readonly keyId?: string;
  readonly typHeader: boolean;
  readonly lifetimeSeconds: number;
  readonly clockSkewSeconds: number;
}

/**
 * The assertion's `aud`: a single string. The 2025 update on assertion audiences (RFC 7523bis,
 * after CVE-2025-27370/27371) asks for the issuer identifier as the sole audience, since an
 * endpoint URL or an array of audiences let one server replay an assertion at another.
 * Providers that insist on the token endpoint get it through `assertionAudience`.
 */
export function assertionAudience(settings: AssertionSettings, context: AuthContext): string {
  return settings.audience ?? context.issuer ?? context.tokenEndpoint;
}

/** The assertion `aud` for this context and where it comes from (for error messages). */
export function describeAssertion(
  method: 'client_secret_jwt' | 'private_key_jwt',
  settings: AssertionSettings,
  context: AuthContext,
): AuthDescription {
  const from =
    settings.audience !== undefined
      ? 'assertionAudience'
      : context.issuer !== undefined
        ? 'issuer'
        : 'tokenEndpoint';
  return {
    method,
    clientId: settings.clientId,
    assertionAudience: { value: assertionAudience(settings, context), from },
  };
}

/**
 * The longest span from `iat` to `exp`. Assertions are meant to be short-lived (RFC 7523 3, and servers
 * such as oidc-provider reject long ones), so a skew allowance shortens the life instead of stretching it.
 */
export const MAX_ASSERTION_SPAN_SECONDS = 120;

export async function signAssertion(
  settings: AssertionSettings,
  context: AuthContext,
  alg: string,
  key: Parameters<SignJWT['sign']>[0],
  extraHeader?: Partial<JWTHeaderParameters>,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const iat = now - settings.clockSkewSeconds;
  const header: JWTHeaderParameters = { alg, ...extraHeader };
  // rfc7523bis 4: explicit typing keeps an assertion from being mistaken for another kind of JWT.
  if (settings.typHeader) header.typ = 'client-authentication+jwt';
  if (settings.keyId) header.kid = settings.keyId;
  const { SignJWT } = await loadJose();
  return (
    new SignJWT({})
      .setProtectedHeader(header)
      .setIssuer(settings.clientId)
      .setSubject(settings.clientId)
      .setAudience(assertionAudience(settings, context))
      .setJti(crypto.randomUUID())
      // Back-dated by the skew allowance so a server whose clock runs behind does not see a future iat.
      .setIssuedAt(iat)
      .setExpirationTime(Math.min(now + settings.lifetimeSeconds, iat + MAX_ASSERTION_SPAN_SECONDS))
      .sign(key)
  );
}
