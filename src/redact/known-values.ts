/**
 * Known values: the client's own credentials and the tokens of an answer, found in text in every form
 * they may be echoed in, not only whole but by every {@link RUN_LENGTH}-character run (one linear scan
 * with a rolling hash). The policy that uses them is described in ./index.ts.
 */
import { base64, formUrlEncodeCredential, utf8 } from '../util.js';

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
