/**
 * The fetch the CLI gives the client: it remembers the last URL (for error messages) and, with
 * --verbose, shows every request on stderr with credentials redacted, and how long each answer took.
 * Token response bodies are never shown: they hold the access token.
 */

import { readBodyCapped } from '../http/read-body.js';
import { innermostMessage, sentCredentials } from '../http/token-errors.js';
import { DEFAULTS, type TokenEvent } from '../index.js';
import { isSensitiveName, knownValues, REDACTED, type Redactor, scrub } from '../redact/index.js';

/** Headers whose value is a credential. For the Authorization family the scheme stays visible. */
const SCHEME_HEADERS = new Set(['authorization', 'proxy-authorization']);
const SECRET_HEADERS = new Set(['cookie', 'set-cookie', 'dpop', 'x-api-key']);

export interface RequestLog {
  /** The URL of the request sent last, for "cannot reach" messages. */
  lastUrl?: string;
}

/**
 * The credentials this CLI run knows, to be redacted from every line it shows: the client secret, and
 * what it learns while running (the Basic value and assertion of each request, the tokens of each
 * token response, the token of each API request). src/redact/ does the redaction.
 */
export class KnownCredentials {
  readonly #values = new Set<string>();
  #redact: Redactor = (text) => text;

  constructor(values: Iterable<string | undefined> = []) {
    for (const value of values) this.add(value);
  }

  add(value: string | undefined): void {
    if (value === undefined || this.#values.has(value)) return;
    this.#values.add(value);
    this.#redact = knownValues(this.#values);
  }

  /** Known values removed, then credential-looking text (src/redact/text.ts: scrub). */
  redact(text: string): string {
    return scrub(text, this.#redact);
  }

  /** Known values removed, and nothing else: for output that is the command's product (`fetch -i`). */
  withoutKnown(text: string): string {
    return this.#redact(text);
  }
}

/**
 * A header value as shown: the Authorization family keeps its scheme, a few headers are credentials
 * whole, and every other value has the known credentials and anything credential-shaped removed.
 */
export function redactHeader(name: string, value: string, known = new KnownCredentials()): string {
  const lower = name.toLowerCase();
  if (SCHEME_HEADERS.has(lower)) {
    const scheme = value.split(' ')[0] ?? '';
    return scheme && scheme !== value ? `${scheme} ${REDACTED}` : REDACTED;
  }
  return SECRET_HEADERS.has(lower) ? REDACTED : known.redact(value);
}

/** A request body with credentials replaced: form and JSON bodies field by field, anything else by its size. */
export function redactBody(
  body: unknown,
  contentType: string | null,
  known = new KnownCredentials(),
): string {
  if (body === undefined || body === null) return '';
  if (typeof body !== 'string') {
    if (body instanceof URLSearchParams)
      return redactBody(body.toString(), 'application/x-www-form-urlencoded', known);
    return '[body not shown]';
  }
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    // Shown decoded, for reading; credentials replaced.
    return [...new URLSearchParams(body)]
      .map(([name, value]) => `${name}=${isSensitiveName(name) ? REDACTED : known.redact(value)}`)
      .join('&');
  }
  if (contentType?.includes('json')) {
    try {
      const json: unknown = JSON.parse(body);
      return JSON.stringify(json, (name, value: unknown) =>
        name && isSensitiveName(name) && typeof value === 'string' ? REDACTED : value,
      );
    } catch {
      // Not JSON after all: fall through to the size.
    }
  }
  return `[${Buffer.byteLength(body)} bytes]`;
}

/**
 * Learns the credentials a request carries (what the client redacts from its own errors:
 * token-errors.ts sentCredentials); true when it is a token request (its body has grant_type).
 */
function learnRequest(known: KnownCredentials, headers: Headers, body: unknown): boolean {
  const params = bodyParams(body) ?? [];
  for (const value of sentCredentials({ headers: Object.fromEntries(headers), params })) known.add(value);
  return params.some(([name]) => name === 'grant_type');
}

/** The string fields of a form or JSON request body, or undefined for any other body. */
function bodyParams(body: unknown): Array<[string, string]> | undefined {
  if (typeof body !== 'string' && !(body instanceof URLSearchParams)) return undefined;
  const text = String(body);
  try {
    if (!text.trimStart().startsWith('{')) return [...new URLSearchParams(text)];
    return Object.entries(JSON.parse(text) as Record<string, unknown>).filter(
      (field): field is [string, string] => typeof field[1] === 'string',
    );
  } catch {
    return undefined;
  }
}

/** Learns the tokens of a token response, from a copy of it (read up to the client's own cap). */
async function learnTokens(known: KnownCredentials, response: Response): Promise<void> {
  try {
    const text = await readBodyCapped(response.clone(), DEFAULTS.maxResponseBytes, 'token endpoint');
    const json = JSON.parse(text) as Record<string, unknown>;
    for (const [name, value] of Object.entries(json)) {
      if (isSensitiveName(name) && typeof value === 'string') known.add(value);
    }
  } catch {
    // Not a JSON token body (or too large): the client reports that; nothing to learn here.
  }
}

/**
 * Wraps `base`: remembers the last URL, learns the credentials of every request and the tokens of every
 * token response into `known` (with or without --verbose: every line the CLI shows is redacted of them),
 * and, when verbose, logs each request and answer through `line`, redacted.
 */
export function loggingFetch(
  base: typeof globalThis.fetch,
  log: RequestLog,
  line: ((text: string) => void) | undefined,
  known = new KnownCredentials(),
): typeof globalThis.fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    log.lastUrl = url;
    const request = typeof input === 'object' && 'method' in input ? input : undefined;
    const headers = new Headers(init?.headers ?? request?.headers);
    const tokenRequest = learnRequest(known, headers, init?.body);
    if (line) {
      const method = init?.method ?? request?.method ?? 'GET';
      line(`> ${method.toUpperCase()} ${known.redact(url)}`);
      for (const [name, value] of headers) line(`> ${name}: ${redactHeader(name, value, known)}`);
      const body = redactBody(
        init?.body ?? (request?.body ? {} : undefined),
        headers.get('content-type'),
        known,
      );
      if (body) line(`> ${body}`);
    }
    const started = performance.now();
    try {
      const response = await base(input, init);
      const ms = Math.round(performance.now() - started);
      // A token response's status line and headers may echo the token it carries: learn it first.
      if (tokenRequest && response.ok) await learnTokens(known, response);
      if (line) {
        line(`< ${response.status} ${known.redact(response.statusText)} (${ms} ms)`.replace('  ', ' '));
        for (const [name, value] of response.headers) line(`< ${name}: ${redactHeader(name, value, known)}`);
      }
      return response;
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      line?.(`< failed after ${ms} ms: ${known.redact(describeCause(error))}`);
      throw error;
    }
  };
}

/** The innermost useful message of a fetch failure (undici puts the socket error in `cause`). */
export function describeCause(error: unknown): string {
  return innermostMessage(error);
}

/** Retries and failures as `*` lines (events never carry secrets or whole tokens). */
export function eventLine(event: TokenEvent): string | undefined {
  switch (event.type) {
    case 'token_request_start':
      return `* token request (${event.authMethod})`;
    case 'token_request_retry':
      return `* attempt ${event.attempt} failed (${event.error.message}); retrying in about ${event.delayMs} ms`;
    case 'token_request_success':
      return `* token received in ${Math.round(event.durationMs)} ms (${event.attempts} attempt${event.attempts === 1 ? '' : 's'})`;
    case 'token_request_failure':
      return `* token request failed after ${Math.round(event.durationMs)} ms (${event.attempts} attempt${event.attempts === 1 ? '' : 's'})`;
    default:
      return undefined;
  }
}
