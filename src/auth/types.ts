import { firstNonAscii } from '../options/credentials.js';
import type { AuthMethod } from '../types.js';

/** What an authenticator adds credentials to: the token request being built. */
export interface TokenRequestParts {
  /** Body parameters, in order; a name may repeat (RFC 8707 `resource`). */
  readonly params: Array<[string, string]>;
  readonly headers: Record<string, string>;
}

/** What an authenticator may need to know about the server. */
export interface AuthContext {
  readonly tokenEndpoint: string;
  /** The issuer identifier when known (configured or discovered). */
  readonly issuer?: string;
}

/**
 * One client authentication method (RFC 6749 2.3). Every method has this shape, so a new method is one
 * new factory. Secrets live in the factory's closure: nothing here can be inspected or logged.
 */
export interface ClientAuthenticator {
  readonly method: AuthMethod;
  /** `json` only for client_secret_json (Auth0 style); everything else is form-urlencoded. */
  readonly bodyFormat: 'form' | 'json';
  /** Adds the credentials of one request (called per attempt: assertions are never reused). */
  apply(parts: TokenRequestParts, context: AuthContext): void | Promise<void>;
  /** Removes this method's own secret from text that might be shown (an error snippet). */
  redact(text: string): string;
  /**
   * What this authenticator sends, for the messages and hints of a refused request: never a secret.
   * `context` is that of the request (the assertion audience depends on it).
   */
  describe(context: AuthContext): AuthDescription;
  /** For tls_client_auth: the undici Dispatcher that presents the client certificate. */
  readonly dispatcher?: () => Promise<unknown>;
  /** Releases what the authenticator made for itself (tls_client_auth: its undici Agent). */
  close?(): Promise<void>;
}

/** An authenticator's description of itself (see {@link ClientAuthenticator.describe}): no secret in it. */
export interface AuthDescription {
  readonly method: AuthMethod;
  readonly clientId: string;
  /**
   * client_secret_jwt / private_key_jwt: the assertion's `aud` and where it came from: the
   * `assertionAudience` option, the issuer (rfc7523bis), or the token endpoint (no issuer known).
   */
  readonly assertionAudience?: {
    readonly value: string;
    readonly from: 'assertionAudience' | 'issuer' | 'tokenEndpoint';
  };
  /**
   * client_secret_basic: the encoding applied to the id and secret before base64, and whether it changed
   * them (then a server comparing raw values refuses the client).
   */
  readonly basicEncoding?: {
    readonly name: 'form-urlencoded' | 'none' | 'custom';
    readonly changedCredentials: boolean;
  };
  /** private_key_jwt with an assertion made elsewhere: the option it comes from. */
  readonly assertionSource?: 'clientAssertion' | 'clientAssertionFile';
  /**
   * The first character outside printable ASCII in the client id or secret (sent as UTF-8; RFC 6749
   * Appendix A expects printable ASCII): which option, and its position (never the character).
   */
  readonly nonAscii?: { readonly option: 'clientId' | 'clientSecret'; readonly position: number };
}

/** {@link AuthDescription.nonAscii} of a client id and secret, spread into a description. */
export function nonAsciiOf(clientId: string, clientSecret: string): Pick<AuthDescription, 'nonAscii'> {
  const inId = firstNonAscii(clientId);
  if (inId !== -1) return { nonAscii: { option: 'clientId', position: inId } };
  const inSecret = firstNonAscii(clientSecret);
  return inSecret === -1 ? {} : { nonAscii: { option: 'clientSecret', position: inSecret } };
}

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
