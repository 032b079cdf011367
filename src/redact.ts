/**
 * The one redaction policy of m2m-token, for everything it may show: error messages and fields, events,
 * `util.inspect` / `JSON.stringify` of tokens, CLI output.
 *
 * Two kinds of removal, always in this order, always before any text is cut to a length:
 *
 * 1. Known values: the client's own credentials (secret, Basic value, assertion, DPoP proof) and the
 *    tokens of the answer, in every form they may be echoed in (raw, form-urlencoded, percent-encoded,
 *    JSON- and \uXXXX-escaped, base64): not only whole, but every 12-character run of each, so that a
 *    prefix, a piece or a near copy goes too. See {@link knownValues}.
 * 2. Heuristics for values we cannot know (a server echoing some other credential): fields whose name is
 *    a credential's ({@link isSensitiveName}) in JSON or form text, `Basic`/`Bearer`/`DPoP` credentials,
 *    and anything shaped like a JWT. See {@link scrub}.
 *
 * Cutting first would leave the start of a value that straddles the cut: always redact, then
 * {@link clip}. Every pattern here runs in linear time, so a hostile body of the largest size read
 * (256 KiB) cannot stall the process.
 */
import { base64, formUrlEncodeCredential, utf8 } from './util.js';

/** What replaces a removed value. */
export const REDACTED = '[redacted]';

/**
 * Known values shorter than this are not looked for: they would match ordinary text by chance. The one
 * minimum of every known-value redaction (client, request, CLI, fetch wrapper).
 */
export const MIN_KNOWN_LENGTH = 4;

/**
 * No run of this many characters of a known value, in any of its {@link encodedForms}, survives
 * redaction: a prefix, a piece, or a copy with one character changed is removed as surely as the whole.
 */
export const RUN_LENGTH = 12;

/**
 * True when a field of this name holds a credential or a token: `client_secret`, `client_assertion`,
 * `access_token`, `refresh_token`, `id_token`, `accessToken`, `password`, `api_key`, ...
 * (`token_type`, `client_assertion_type` and `token_endpoint` are not).
 */
export function isSensitiveName(name: string): boolean {
  return /secret|passw(?:or)?d|assertion$|token$|(?:^|_)key$|^code$/i.test(name);
}

const lowerHex = (text: string) => text.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());

/**
 * The text of `value` as it appears inside longer base64 (and base64url) at each of the three byte
 * alignments: only the characters that depend on `value` alone (a Basic value encodes `id:secret`, so the
 * secret starts at any offset).
 */
function base64Forms(value: string): string[] {
  const bytes = utf8(value);
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const shifted = new Uint8Array(k + bytes.length);
    shifted.set(bytes, k);
    const text = base64(shifted).slice(Math.ceil((8 * k) / 6), Math.floor((8 * shifted.length) / 6));
    out.push(text, text.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** `\uXXXX` for every UTF-16 unit, in lower- and upper-case hex (as a JSON or JavaScript escape). */
function unicodeEscapes(value: string): string[] {
  let lower = '';
  for (let i = 0; i < value.length; i++) lower += `\\u${value.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return [lower, lower.replace(/\\u([0-9a-f]{4})/g, (_m, hex: string) => `\\u${hex.toUpperCase()}`)];
}

/**
 * The forms a value may be echoed in: as is; form-urlencoded (the WHATWG serialisation URLSearchParams
 * sends, and RFC 6749 Appendix B for client_secret_basic); percent-encoded; each of those with
 * lower-case hex; JSON-escaped (also with `\/`); `\uXXXX`-escaped; base64 and base64url at the three
 * byte alignments.
 */
export function encodedForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  const percent = [
    new URLSearchParams({ s: value }).toString().slice(2),
    encodeURIComponent(value),
    formUrlEncodeCredential(value),
  ];
  return [
    ...new Set([
      value,
      ...percent,
      ...percent.map(lowerHex),
      json,
      json.replace(/\//g, '\\/'),
      ...unicodeEscapes(value),
      ...base64Forms(value),
    ]),
  ].filter((form) => form.length >= MIN_KNOWN_LENGTH);
}

/**
 * The base of the rolling hash of runs: odd and random per process, so that text cannot be made in
 * advance to collide with the runs of a value (a collision only costs a string comparison anyway).
 */
const HASH_BASE = (Math.floor(Math.random() * 0x7fffffff) << 1) | 1;
/** HASH_BASE ** (RUN_LENGTH - 1), mod 2^32: the weight of the character leaving the window. */
const HASH_TOP = (() => {
  let power = 1;
  for (let i = 1; i < RUN_LENGTH; i++) power = Math.imul(power, HASH_BASE);
  return power;
})();
/** Bits of the filter that most windows are rejected by before any string is made. */
const FILTER_BITS = 1 << 20;

/**
 * Finds the known values in text: every {@link RUN_LENGTH}-character run of each form of each value,
 * and forms shorter than a run whole. The text is scanned once with a rolling hash of its windows; a
 * window whose hash passes a bit filter is compared with the set of runs.
 */
class KnownMatcher {
  readonly #runs = new Set<string>();
  readonly #filter = new Uint32Array(FILTER_BITS / 32);
  readonly #short: string[] = [];

  constructor(values: Iterable<string>) {
    for (const value of values) {
      for (const form of encodedForms(value)) {
        if (form.length < RUN_LENGTH) {
          this.#short.push(form);
          continue;
        }
        let hash = 0;
        for (let i = 0; i < form.length; i++) {
          hash = roll(hash, i < RUN_LENGTH ? 0 : form.charCodeAt(i - RUN_LENGTH), form.charCodeAt(i));
          if (i + 1 < RUN_LENGTH) continue;
          this.#runs.add(form.slice(i + 1 - RUN_LENGTH, i + 1));
          const bit = hash & (FILTER_BITS - 1);
          this.#filter[bit >>> 5] = (this.#filter[bit >>> 5] as number) | (1 << (bit & 31));
        }
      }
    }
  }

  /** The ranges [start, end) of text to remove, sorted and merged. */
  ranges(text: string): Array<[number, number]> {
    const found: Array<[number, number]> = [];
    if (this.#runs.size > 0) {
      const filter = this.#filter;
      let start = -1;
      let end = -1;
      let hash = 0;
      for (let i = 0; i < text.length; i++) {
        hash = roll(hash, i < RUN_LENGTH ? 0 : text.charCodeAt(i - RUN_LENGTH), text.charCodeAt(i));
        if (i + 1 < RUN_LENGTH) continue;
        const bit = hash & (FILTER_BITS - 1);
        if (((filter[bit >>> 5] as number) & (1 << (bit & 31))) === 0) continue;
        const at = i + 1 - RUN_LENGTH;
        if (!this.#runs.has(text.slice(at, i + 1))) continue;
        if (at <= end) {
          end = i + 1;
        } else {
          if (end >= 0) found.push([start, end]);
          start = at;
          end = i + 1;
        }
      }
      if (end >= 0) found.push([start, end]);
    }
    for (const form of this.#short) {
      for (let at = text.indexOf(form); at !== -1; at = text.indexOf(form, at + 1)) {
        found.push([at, at + form.length]);
      }
    }
    if (this.#short.length > 0) found.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const range of found) {
      const last = merged[merged.length - 1];
      if (last !== undefined && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
      else merged.push([range[0], range[1]]);
    }
    return merged;
  }

  /** `text` with each found range replaced by {@link REDACTED}. */
  redact(text: string): string {
    const ranges = this.ranges(text);
    if (ranges.length === 0) return text;
    let out = '';
    let from = 0;
    for (const [start, end] of ranges) {
      out += text.slice(from, start) + REDACTED;
      from = end;
    }
    return out + text.slice(from);
  }
}

/** The hash of a window after `leaving` left it and `entering` joined it (mod 2^32). */
function roll(hash: number, leaving: number, entering: number): number {
  return (Math.imul(hash - Math.imul(leaving, HASH_TOP), HASH_BASE) + entering) | 0;
}

/** A function that removes known values from text. */
export type Redactor = (text: string) => string;

/**
 * A Redactor for these values: every {@link RUN_LENGTH}-character run of each of their
 * {@link encodedForms} is removed (runs that touch or overlap become one {@link REDACTED}), and forms
 * shorter than a run are removed whole. Values under {@link MIN_KNOWN_LENGTH} characters are ignored.
 * Linear in the text; the runs are computed on first use, so a redactor made per request costs nothing
 * until something is shown.
 */
export function knownValues(values: Iterable<string | undefined>): Redactor {
  const list = [...new Set(values)].filter(
    (v): v is string => v !== undefined && v.length >= MIN_KNOWN_LENGTH,
  );
  if (list.length === 0) return (text) => text;
  let matcher: KnownMatcher | undefined;
  return (text) => {
    matcher ??= new KnownMatcher(list);
    return matcher.redact(text);
  };
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

// ---------------------------------------------------------------------------------------------
// Errors: what may be handed over of an error that came from elsewhere (fetch, a dispatcher, a cache).

/**
 * Bounds of the walk of an error: levels below it, objects visited, characters read. A walk that goes
 * beyond them cannot tell, and counts as showing a credential.
 */
const WALK = { depth: 8, objects: 256, chars: 512 * 1024 } as const;

/** Collections whose entries are walked (their content is not in own properties). */
const ITERABLE_TAGS: ReadonlySet<unknown> = new Set(['Headers', 'Map', 'Set', 'URLSearchParams', 'FormData']);

/** `Symbol.toStringTag` of an object (works for classes from another copy of undici or another realm). */
function tagOf(value: object): unknown {
  return (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
}

/** A stack without its frames: its first lines hold the message (which may be anything), frames are code. */
function stackHead(stack: string): string {
  const frames = stack.search(/\n\s+at /);
  return frames === -1 ? stack : stack.slice(0, frames);
}

/**
 * True when nothing reachable from `value` shows a credential: no run of a known value (`redact`), and
 * nothing credential-shaped ({@link scrub}'s heuristics), in any string of its own properties at any
 * depth (causes included; symbol keys, getters of its own, the entries of Headers, Maps, Sets,
 * URLSearchParams and FormData, a Request's or Response's URL and headers, bytes as text). Bounded:
 * a walk beyond {@link WALK} cannot tell, and answers false.
 */
export function showsNoCredential(value: unknown, redact?: Redactor): boolean {
  const seen = new Set<object>();
  let objects = 0;
  let chars = 0;
  const cleanText = (text: string): boolean => {
    chars += text.length;
    return chars <= WALK.chars && scrub(text, redact) === text;
  };
  const visit = (member: unknown, depth: number): boolean => {
    if (typeof member === 'string') return cleanText(member);
    if (typeof member !== 'object' || member === null) return true;
    if (seen.has(member)) return true;
    if (depth > WALK.depth || ++objects > WALK.objects) return false;
    seen.add(member);
    if (member instanceof ArrayBuffer || ArrayBuffer.isView(member)) {
      const bytes =
        member instanceof ArrayBuffer
          ? new Uint8Array(member)
          : new Uint8Array(member.buffer, member.byteOffset, member.byteLength);
      return bytes.length <= WALK.chars && cleanText(new TextDecoder().decode(bytes));
    }
    const tag = tagOf(member);
    if (ITERABLE_TAGS.has(tag)) {
      for (const entry of member as Iterable<unknown>) if (!visit(entry, depth + 1)) return false;
    } else if (tag === 'Request' || tag === 'Response') {
      const message = member as { url?: unknown; headers?: unknown };
      if (!visit(message.url, depth + 1) || !visit(message.headers, depth + 1)) return false;
    }
    for (const key of Reflect.ownKeys(member)) {
      let value = (member as Record<PropertyKey, unknown>)[key];
      if (key === 'stack' && typeof value === 'string') value = stackHead(value);
      if (!visit(value, depth + 1)) return false;
    }
    return true;
  };
  try {
    return visit(value, 0);
  } catch {
    // A getter or an iterator that throws: nothing can be said of it.
    return false;
  }
}

/** Longest message a stand-in error keeps (cut after redaction). */
const STAND_IN_MESSAGE_LENGTH = 1000;

/**
 * An error that is safe to hand over: `error` itself when it {@link showsNoCredential}, else a plain
 * Error (a TypeError for a TypeError, so that fetch's contract holds) with its name and its message
 * redacted, and nothing else: no property, no cause.
 */
export function safeError(error: unknown, redact?: Redactor): unknown {
  if (showsNoCredential(error, redact)) return error;
  let name = 'Error';
  let message = '';
  try {
    const e = error as { name?: unknown; message?: unknown } | null;
    if (typeof e?.name === 'string') name = e.name;
    if (typeof e?.message === 'string') message = e.message;
    else if (typeof error === 'string') message = error;
  } catch {
    // A hostile getter: a stand-in without a message.
  }
  const shown = clip(scrub(message, redact), STAND_IN_MESSAGE_LENGTH);
  const standIn = error instanceof TypeError ? new TypeError(shown) : new Error(shown);
  const shownName = clip(scrub(name, redact), 100);
  if (shownName !== standIn.name) {
    Object.defineProperty(standIn, 'name', { value: shownName, writable: true, configurable: true });
  }
  return standIn;
}

/**
 * A minimal description of an error, for events: its name, string `code`, numeric `status` and
 * message, the name and message redacted (known values, then heuristics). Never its other properties.
 */
export function describeError(
  error: unknown,
  redact?: Redactor,
): { name: string; code?: string; message: string; status?: number } {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; status?: unknown };
    return {
      name: scrub(e.name, redact),
      ...(typeof e.code === 'string' ? { code: scrub(e.code, redact) } : {}),
      message: scrub(e.message, redact),
      ...(typeof e.status === 'number' ? { status: e.status } : {}),
    };
  }
  let text = 'a value that is not an Error';
  try {
    text = String(error);
  } catch {
    // Kept as described above.
  }
  return { name: 'Error', message: scrub(text, redact) };
}

/**
 * True for a character no header value may hold (RFC 9110 5.5: field-value is VCHAR, obs-text, SP and
 * HTAB; fetch and undici refuse CR, LF and NUL, and a ByteString cannot hold code points above U+00FF).
 */
function isInvalidFieldChar(c: number): boolean {
  return (c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff;
}

/** The value's runs between invalid characters (and the whole value), and whether there was one. */
function fieldValueRuns(value: string): { runs: string[]; invalid: boolean } {
  const runs: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (isInvalidFieldChar(value.charCodeAt(i))) {
      runs.push(value.slice(start, i));
      start = i + 1;
    }
  }
  if (start === 0) return { runs: [value], invalid: false };
  runs.push(value.slice(start), value);
  return { runs, invalid: true };
}

/**
 * What fetch or undici threw while sending a request (through the fetch wrapper or the undici
 * interceptor), made safe to hand over: no header value of the request (our token or DPoP proof, or a
 * header of the caller's) may travel in it. A header value that cannot be sent (fetch says
 * `Headers.append: "Bearer <token>" is an invalid header value`) gives a TypeError that names the
 * header, not its value; any other error goes through {@link safeError} with every header value as a
 * known value (a value echoed in part, or cut at an invalid character, is found too).
 */
export function withoutHeaderValues(
  error: unknown,
  headers: ReadonlyArray<readonly [string, string]>,
): unknown {
  const values: string[] = [];
  let invalid: string | undefined;
  for (const [name, value] of headers) {
    const { runs, invalid: bad } = fieldValueRuns(value);
    if (invalid === undefined && bad) invalid = name;
    values.push(...runs);
  }
  const redact = knownValues(values);
  if (invalid === undefined) return safeError(error, redact);
  // fetch's own message quotes the value that could not be sent: that error is never kept.
  const cause = quotesHeaderValue(error) ? undefined : safeError(error, redact);
  return new TypeError(
    `fetch failed: the ${invalid.toLowerCase()} header has a value that cannot be sent (RFC 9110 5.5: no CR, LF, NUL or other control characters); the value is not shown`,
    cause === undefined ? undefined : { cause },
  );
}

/** True when a message in the cause chain speaks of a header value (and so may quote one). */
function quotesHeaderValue(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    if (/header value/i.test(describeError(current).message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
