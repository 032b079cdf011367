/**
 * The fetch the CLI gives the client: it remembers the last URL (for error messages) and, with
 * --verbose, shows every request on stderr with credentials redacted, and how long each answer took.
 * Token response bodies are never shown: they hold the access token.
 */
import type { TokenEvent } from '../index.js';

const REDACTED = '[redacted]';
/** Headers whose value is a credential. For the Authorization family the scheme stays visible. */
const SCHEME_HEADERS = new Set(['authorization', 'proxy-authorization']);
const SECRET_HEADERS = new Set(['cookie', 'set-cookie', 'dpop', 'x-api-key']);
/** Body fields that are credentials or tokens. */
const SECRET_FIELD = /secret|assertion|password|token|^code$|^key$/i;

export interface RequestLog {
  /** The URL of the request sent last, for "cannot reach" messages. */
  lastUrl?: string;
}

export function redactHeader(name: string, value: string): string {
  const lower = name.toLowerCase();
  if (SCHEME_HEADERS.has(lower)) {
    const scheme = value.split(' ')[0] ?? '';
    return scheme && scheme !== value ? `${scheme} ${REDACTED}` : REDACTED;
  }
  return SECRET_HEADERS.has(lower) ? REDACTED : value;
}

/** A request body with credentials replaced: form and JSON bodies field by field, anything else by its size. */
export function redactBody(body: unknown, contentType: string | null): string {
  if (body === undefined || body === null) return '';
  if (typeof body !== 'string') {
    if (body instanceof URLSearchParams)
      return redactBody(body.toString(), 'application/x-www-form-urlencoded');
    return '[body not shown]';
  }
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    // Shown decoded, for reading; credentials replaced.
    return [...new URLSearchParams(body)]
      .map(([name, value]) => `${name}=${SECRET_FIELD.test(name) ? REDACTED : value}`)
      .join('&');
  }
  if (contentType?.includes('json')) {
    try {
      const json: unknown = JSON.parse(body);
      return JSON.stringify(json, (name, value: unknown) =>
        name && SECRET_FIELD.test(name) && typeof value === 'string' ? REDACTED : value,
      );
    } catch {
      // Not JSON after all: fall through to the size.
    }
  }
  return `[${Buffer.byteLength(body)} bytes]`;
}

/** Wraps `base`; logs through `line` when verbose. */
export function loggingFetch(
  base: typeof globalThis.fetch,
  log: RequestLog,
  line: ((text: string) => void) | undefined,
): typeof globalThis.fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    log.lastUrl = url;
    if (!line) return base(input, init);

    const request = typeof input === 'object' && 'method' in input ? input : undefined;
    const method = init?.method ?? request?.method ?? 'GET';
    const headers = new Headers(init?.headers ?? request?.headers);
    line(`> ${method.toUpperCase()} ${url}`);
    for (const [name, value] of headers) line(`> ${name}: ${redactHeader(name, value)}`);
    const body = redactBody(init?.body ?? (request?.body ? {} : undefined), headers.get('content-type'));
    if (body) line(`> ${body}`);
    const started = performance.now();
    try {
      const response = await base(input, init);
      const ms = Math.round(performance.now() - started);
      line(`< ${response.status} ${response.statusText} (${ms} ms)`.replace('  ', ' '));
      for (const [name, value] of response.headers) line(`< ${name}: ${redactHeader(name, value)}`);
      return response;
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      line(`< failed after ${ms} ms: ${describeCause(error)}`);
      throw error;
    }
  };
}

/** The innermost useful message of a fetch failure (undici puts the socket error in `cause`). */
export function describeCause(error: unknown): string {
  let current: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) {
    current = current.cause;
    if (current instanceof Error && current.message) message = current.message;
    else if (current instanceof Error && 'code' in current)
      message = String((current as { code: unknown }).code);
  }
  return message;
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
