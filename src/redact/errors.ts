/**
 * Errors that came from elsewhere (fetch, a dispatcher, a cache): what may be handed over of them, so
 * that no credential, token or header value travels in an error, its causes or an event.
 */
import { knownValues, type Redactor } from './known-values.js';
import { clip, scrub } from './text.js';

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
