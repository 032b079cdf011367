import type { BasicAuthEncoding } from '../options/index.js';
import { type ClientAuthenticator, redactSecret, redactValue } from './types.js';

/**
 * Form-urlencodes a client id or secret for the Basic header (RFC 6749 2.3.1 and Appendix B):
 * the RFC 3986 unreserved characters (letters, digits, `-._~`) stay as they are, a space becomes `+`,
 * everything else is percent-encoded as UTF-8. Servers that decode (as the RFC requires) get the
 * exact value back; servers that never decode still see typical ids (`my-client.v2`) unchanged.
 */
export function formUrlEncodeCredential(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** client_secret_basic: `Authorization: Basic base64(enc(id):enc(secret))` (RFC 6749 2.3.1). */
export function clientSecretBasic(
  clientId: string,
  clientSecret: string,
  encoding: BasicAuthEncoding = 'form-urlencoded',
): ClientAuthenticator {
  const encode =
    encoding === 'form-urlencoded'
      ? formUrlEncodeCredential
      : encoding === 'none'
        ? (v: string) => v
        : encoding;
  // Computed once: the header never changes for this client.
  const header = `Basic ${toBase64(`${encode(clientId)}:${encode(clientSecret)}`)}`;
  const description = {
    method: 'client_secret_basic',
    clientId,
    basicEncoding: {
      name: typeof encoding === 'function' ? 'custom' : encoding,
      changedCredentials: encode(clientId) !== clientId || encode(clientSecret) !== clientSecret,
    },
  } as const;
  return {
    method: 'client_secret_basic',
    bodyFormat: 'form',
    apply(parts) {
      parts.headers.authorization = header;
    },
    redact: (text) => redactValue(redactSecret(text, clientSecret), header.slice(6)),
    describe: () => description,
  };
}
