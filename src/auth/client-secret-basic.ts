import type { BasicAuthEncoding } from '../options/index.js';
import { knownValues } from '../redact/index.js';
import { base64, formUrlEncodeCredential, utf8 } from '../util.js';
import { type ClientAuthenticator, nonAsciiOf } from './types.js';

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
  const header = `Basic ${base64(utf8(`${encode(clientId)}:${encode(clientSecret)}`))}`;
  const description = {
    method: 'client_secret_basic',
    clientId,
    basicEncoding: {
      name: typeof encoding === 'function' ? 'custom' : encoding,
      changedCredentials: encode(clientId) !== clientId || encode(clientSecret) !== clientSecret,
    },
    ...nonAsciiOf(clientId, clientSecret),
  } as const;
  return {
    method: 'client_secret_basic',
    bodyFormat: 'form',
    apply(parts) {
      parts.headers.authorization = header;
    },
    // The credential part: the scheme stays readable in what is shown (`Basic [redacted]`).
    redact: knownValues([clientSecret, header.slice('Basic '.length)]),
    describe: () => description,
  };
}
