/**
 * What a failed token request tells its caller: which credentials of the request must never be shown,
 * and (added below) the messages and hints of refusals and transport failures.
 */
import type { TokenRequestParts } from '../auth/types.js';
import { isSensitiveName } from '../redact.js';

/**
 * The credential values a token request carries, to be redacted from anything its answer makes us
 * show: the Authorization value (and its credential part), the DPoP proof, and every sensitive body
 * parameter (client_secret, client_assertion). A JWT's payload and signature are listed on their own
 * too, so that a server echoing only a part of an assertion does not show it either.
 */
export function sentCredentials(parts: TokenRequestParts): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(parts.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'dpop') {
      values.push(value);
      const credential = value.includes(' ') ? value.slice(value.indexOf(' ') + 1).trim() : undefined;
      if (credential) values.push(credential);
    }
  }
  for (const [name, value] of parts.params) if (isSensitiveName(name)) values.push(value);
  for (const value of [...values]) {
    const segments = value.split('.');
    if (segments.length === 3) values.push(...segments.slice(1).filter((s) => s.length >= 12));
  }
  return values;
}
