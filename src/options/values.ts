/**
 * Checks of option values shared by the constructor and the per-call options: endpoint URLs, scope
 * splitting, reserved parameters and headers, and control characters in the token selection.
 */
import { ConfigurationError } from '../errors.js';
import { isLoopbackHost } from '../util.js';

/** Token request headers set by the client itself: a caller may not set them through `headers`. */
export const CLIENT_SET_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'dpop',
  'content-type',
  'accept',
]);

/** Parameters a caller may not set through extraParams (RFC 6749 4.4.2, 2.3; RFC 7521 4.2). */
export const RESERVED_PARAMS: ReadonlySet<string> = new Set([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'scope',
  'audience',
  'resource',
]);

/** Splits a scope option (string with spaces, or array) into scope tokens (RFC 6749 3.3). */
export function splitScope(scope: string | readonly string[] | undefined): string[] {
  if (scope === undefined) return [];
  const parts = typeof scope === 'string' ? scope.split(' ') : scope.flatMap((s) => s.split(' '));
  return parts.filter((s) => s.length > 0);
}

/** Only https, or http to a loopback host, unless allowInsecureHttp (RFC 6749 3.2: TLS is required). */
export function checkEndpointUrl(option: string, value: string, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(option, 'must be an absolute URL');
  }
  if (url.username || url.password) {
    throw new ConfigurationError(option, 'must not contain credentials');
  }
  if (url.protocol === 'http:') {
    if (!allowInsecureHttp && !isLoopbackHost(url.hostname)) {
      throw new ConfigurationError(
        option,
        'http: is only allowed for loopback hosts; use https, or set allowInsecureHttp when TLS is added outside the process',
      );
    }
  } else if (url.protocol !== 'https:') {
    throw new ConfigurationError(option, `unsupported protocol ${url.protocol}`);
  }
  return url;
}

/** The index of the first control character (U+0000-U+001F, U+007F) in `value`, or -1. */
export function firstControlCharacter(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return i;
  }
  return -1;
}

function refuseControlCharacters(option: string, value: string): void {
  const at = firstControlCharacter(value);
  if (at !== -1) {
    // The position, never the value: it may be pasted from somewhere secret.
    throw new ConfigurationError(
      option,
      `contains a control character (U+${value.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0')}) at position ${at}; audience, scope, resource and extraParams values may not contain U+0000-U+001F or U+007F`,
    );
  }
}

/**
 * The token selection (audience, scope, resource, extraParams values) has no control characters: the
 * constructor's defaults and every per-call option alike. Types are checked before this is called.
 */
export function checkSelection(
  audience: unknown,
  scope: unknown,
  resource: unknown,
  extraParams: unknown,
): void {
  if (typeof audience === 'string') refuseControlCharacters('audience', audience);
  if (typeof scope === 'string') refuseControlCharacters('scope', scope);
  else if (Array.isArray(scope)) for (const s of scope) refuseControlCharacters('scope', String(s));
  if (typeof resource === 'string') refuseControlCharacters('resource', resource);
  else if (Array.isArray(resource)) for (const r of resource) refuseControlCharacters('resource', String(r));
  if (typeof extraParams === 'object' && extraParams !== null) {
    for (const name of Object.keys(extraParams)) {
      const value = (extraParams as Record<string, unknown>)[name];
      if (typeof value === 'string') refuseControlCharacters(`extraParams.${name}`, value);
    }
  }
}
