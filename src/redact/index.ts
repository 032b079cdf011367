/**
 * The one redaction policy of m2m-token, for everything it may show: error messages and fields, events,
 * `util.inspect` / `JSON.stringify` of tokens, CLI output.
 *
 * Two kinds of removal, always in this order, always before any text is cut to a length:
 *
 * 1. Known values: the client's own credentials (secret, Basic value, assertion, DPoP proof) and the
 *    tokens of the answer, in every form they may be echoed in (raw, form-urlencoded, percent-encoded,
 *    JSON- and \uXXXX-escaped, base64): not only whole, but every 12-character run of each, so that a
 *    prefix, a piece or a near copy goes too. See {@link knownValues} (known-values.ts).
 * 2. Heuristics for values we cannot know (a server echoing some other credential): fields whose name is
 *    a credential's ({@link isSensitiveName}) in JSON or form text, `Basic`/`Bearer`/`DPoP` credentials,
 *    and anything shaped like a JWT. See {@link scrub} (text.ts).
 *
 * Cutting first would leave the start of a value that straddles the cut: always redact, then
 * {@link clip}. Every pattern here runs in linear time, so a hostile body of the largest size read
 * (256 KiB) cannot stall the process.
 *
 * errors.ts applies the same policy to errors that came from elsewhere.
 */

export { describeError, safeError, showsNoCredential, withoutHeaderValues } from './errors.js';
export {
  combine,
  encodedForms,
  knownValues,
  MIN_KNOWN_LENGTH,
  REDACTED,
  type Redactor,
  RUN_LENGTH,
} from './known-values.js';
export { clip, isSensitiveName, redactJson, scrub, scrubAndClip, sensitiveValues } from './text.js';
