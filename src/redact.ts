/**
 * The one redaction policy of m2m-token, for everything it may show: error messages and fields, events,
 * `util.inspect` / `JSON.stringify` of tokens, CLI output.
 *
 * Two kinds of removal, always in this order, always before any text is cut to a length:
 *
 * 1. Known values: the client's own credentials (secret, Basic value, assertion, DPoP proof) and the
 *    tokens of the answer, in every form they travel in (raw, form-urlencoded, percent-encoded,
 *    JSON-escaped). See {@link redactKnown}.
 * 2. Heuristics for values we cannot know (a server echoing some other credential): fields whose name is
 *    a credential's ({@link isSensitiveName}) in JSON or form text, `Basic`/`Bearer`/`DPoP` credentials,
 *    and anything shaped like a JWT. See {@link scrub}.
 *
 * Cutting first would leave the start of a value that straddles the cut: always redact, then
 * {@link clip}. Every pattern here runs in linear time, so a hostile body of the largest size read
 * (256 KiB) cannot stall the process.
 */

/** What replaces a removed value. */
export const REDACTED = '[redacted]';

/** A value shorter than this is not redacted as a known value (it would mangle ordinary text). */
const MIN_KNOWN_LENGTH = 4;

/**
 * True when a field of this name holds a credential or a token: `client_secret`, `client_assertion`,
 * `access_token`, `refresh_token`, `id_token`, `accessToken`, `password`, `api_key`, ...
 * (`token_type`, `client_assertion_type` and `token_endpoint` are not).
 */
export function isSensitiveName(name: string): boolean {
  return /secret|passw(?:or)?d|assertion$|token$|(?:^|_)key$|^code$/i.test(name);
}

/** The forms a value may be echoed in: as is, form-urlencoded, percent-encoded, JSON-escaped. */
export function encodedForms(value: string): string[] {
  const percent = encodeURIComponent(value);
  return [
    ...new Set([
      value,
      // WHATWG form serialisation (what URLSearchParams sends).
      new URLSearchParams({ s: value }).toString().slice(2),
      percent,
      // RFC 6749 Appendix B form-urlencoding (client_secret_basic).
      percent
        .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
        .replace(/%20/g, '+'),
      JSON.stringify(value).slice(1, -1),
    ]),
  ];
}

/**
 * Replaces every known value, in each of its {@link encodedForms}, with {@link REDACTED}. Longer forms
 * first, so that a form containing another is removed whole. Values under 4 characters are ignored.
 */
export function redactKnown(text: string, values: Iterable<string | undefined>): string {
  const forms = new Set<string>();
  for (const value of values) {
    if (value === undefined || value.length < MIN_KNOWN_LENGTH) continue;
    for (const form of encodedForms(value)) forms.add(form);
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  return out;
}

/** A function that removes known values from text. */
export type Redactor = (text: string) => string;

/** A Redactor for these values (see {@link redactKnown}). */
export function knownValues(values: Iterable<string | undefined>): Redactor {
  const list = [...values].filter((v): v is string => v !== undefined && v.length >= MIN_KNOWN_LENGTH);
  if (list.length === 0) return (text) => text;
  return (text) => redactKnown(text, list);
}

/** Applies several redactors in order. */
export function combine(...redactors: ReadonlyArray<Redactor | undefined>): Redactor {
  const list = redactors.filter((r): r is Redactor => r !== undefined);
  return (text) => list.reduce((t, r) => r(t), text);
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
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** {@link scrub}, then {@link clip}: the order every shown piece of server text goes through. */
export function scrubAndClip(text: string, max: number, redact?: Redactor): string {
  return clip(scrub(text, redact), max);
}

/**
 * A copy of a parsed JSON value with the string value of every sensitive member replaced, at any depth
 * (at most 32 levels; deeper content is dropped).
 */
export function redactJson(value: unknown, depth = 0): unknown {
  if (depth > 32) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactJson(item, depth + 1));
  if (typeof value !== 'object' || value === null) return value;
  // fromEntries defines own properties: a member named `__proto__` stays a member, never a prototype.
  return Object.fromEntries(
    Object.entries(value).map(([name, member]) => [
      name,
      isSensitiveName(name) && typeof member === 'string' ? REDACTED : redactJson(member, depth + 1),
    ]),
  );
}

/** A shallow view of a token response with its credential members (string values) redacted. */
export function redactedView(raw: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(raw).map(([name, value]) => [
      name,
      isSensitiveName(name) && typeof value === 'string' ? REDACTED : value,
    ]),
  );
}
