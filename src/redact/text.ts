/**
 * Text and JSON as shown: credential-looking text removed by heuristics after the known values
 * ({@link scrub}), then cut ({@link clip}); parsed JSON copied with sensitive members redacted.
 */
import { REDACTED, type Redactor } from './known-values.js';

/**
 * True when a field of this name holds a credential or a token: `client_secret`, `client_assertion`,
 * `access_token`, `refresh_token`, `id_token`, `accessToken`, `password`, `api_key`, ...
 * (`token_type`, `client_assertion_type` and `token_endpoint` are not).
 */
export function isSensitiveName(name: string): boolean {
  return /secret|passw(?:or)?d|assertion$|token$|(?:^|_)key$|^code$/i.test(name);
}

// JSON members `"name": "value"` (the closing quote is optional: text may end inside the value).
const JSON_MEMBER = /"([\w-]{1,64})"(\s*:\s*)"((?:[^"\\]|\\.)*)("?)/g;
// Form fields `name=value`.
const FORM_FIELD = /\b([\w-]{1,64})=([^&\s"'<>]*)/g;
// An Authorization-style credential.
const SCHEME_CREDENTIAL = /\b(Basic|Bearer|DPoP)(\s+)([\w+/=.~-]+)/g;
// A run that starts like a JWT (base64url of `{"`); judged by looksLikeJwt. Always matches what it
// starts, so the scan never backtracks (an `eyJ...` run without dots costs its length once).
const JWT_RUN = /eyJ[\w-]*(?:\.[\w-]*){0,4}/g;

function looksLikeJwt(run: string): boolean {
  const parts = run.split('.');
  return parts.length >= 3 && (parts[0]?.length ?? 0) >= 7 && (parts[1]?.length ?? 0) >= 4;
}

/**
 * Removes known values (`redact`), then credential-looking text: sensitive JSON members and form
 * fields, `Basic`/`Bearer`/`DPoP` credentials and JWTs. For text a server sent or echoed.
 */
export function scrub(text: string, redact?: Redactor): string {
  const known = redact ? redact(text) : text;
  return known
    .replace(JSON_MEMBER, (match, name: string, colon: string, _value: string, close: string) =>
      isSensitiveName(name) ? `"${name}"${colon}"${REDACTED}${close}` : match,
    )
    .replace(FORM_FIELD, (match, name: string) => (isSensitiveName(name) ? `${name}=${REDACTED}` : match))
    .replace(SCHEME_CREDENTIAL, (match, scheme: string, space: string, value: string) =>
      value.length >= 8 && /[\d+/=]/.test(value) ? `${scheme}${space}${REDACTED}` : match,
    )
    .replace(JWT_RUN, (run) => (looksLikeJwt(run) ? '[redacted-jwt]' : run));
}

/** Cuts text to `max` characters (with `…` when cut). Only ever applied to text already redacted. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  // Never half a surrogate pair before the ellipsis.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** {@link scrub}, then {@link clip}: the order every shown piece of server text goes through. */
export function scrubAndClip(text: string, max: number, redact?: Redactor): string {
  return clip(scrub(text, redact), max);
}

/** Deepest level of a JSON value that is copied (deeper content is dropped as {@link REDACTED}). */
const JSON_DEPTH = 32;

/**
 * A copy of a parsed JSON value with the string value of every sensitive member replaced, at any depth
 * (at most 32 levels; deeper content is dropped), and every other string passed through `redact` (to
 * remove known values wherever they are, whatever the member's name).
 */
export function redactJson(value: unknown, redact?: Redactor, depth = 0): unknown {
  if (depth > JSON_DEPTH) return REDACTED;
  if (typeof value === 'string') return redact ? redact(value) : value;
  if (Array.isArray(value)) return value.map((item) => redactJson(item, redact, depth + 1));
  if (typeof value !== 'object' || value === null) return value;
  // fromEntries defines own properties: a member named `__proto__` stays a member, never a prototype.
  return Object.fromEntries(
    Object.entries(value).map(([name, member]) => [
      name,
      isSensitiveName(name) && typeof member === 'string' ? REDACTED : redactJson(member, redact, depth + 1),
    ]),
  );
}

/**
 * The string values of the sensitive members of a parsed JSON value ({@link isSensitiveName}: an
 * `access_token`, an `id_token`...), at any depth (at most 32 levels): the known values of a token
 * response, to be removed wherever else they appear.
 */
export function sensitiveValues(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > JSON_DEPTH || typeof value !== 'object' || value === null) return out;
  if (Array.isArray(value)) {
    for (const item of value) sensitiveValues(item, out, depth + 1);
    return out;
  }
  for (const [name, member] of Object.entries(value)) {
    if (isSensitiveName(name) && typeof member === 'string') out.push(member);
    else sensitiveValues(member, out, depth + 1);
  }
  return out;
}
