/**
 * Checks of option values shared by the constructor and the per-call options: endpoint URLs, scope
 * splitting, reserved parameters, header names and values, and control characters in the token
 * selection.
 */
import { ConfigurationError } from '../errors.js';
import { isLoopbackHost } from '../util.js';

/** Token request headers set by the client itself: a caller may not set them through `headers`. */
const CLIENT_SET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'dpop', 'content-type', 'accept']);

/** Parameters a caller may not set through extraParams (RFC 6749 4.4.2, 2.3; RFC 7521 4.2). */
const RESERVED_PARAMS: ReadonlySet<string> = new Set([
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

/**
 * What is wrong with a token endpoint URL (or an issuer), as a phrase to follow its name, or undefined:
 * an absolute https URL, or http to a loopback host unless allowInsecureHttp (RFC 6749 3.2 and 2.3.1:
 * credentials go only over TLS), without credentials, and without a fragment (RFC 6749 3.2). For the
 * configured endpoint (ConfigurationError) and a discovered one (DiscoveryError) alike.
 */
export function endpointProblem(value: string, allowInsecureHttp: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'http:') {
    if (!allowInsecureHttp && !isLoopbackHost(url.hostname)) {
      return `http: is only allowed for loopback hosts, not ${url.host}; use https, or set allowInsecureHttp when TLS is added outside the process`;
    }
  } else if (url.protocol !== 'https:') {
    return `uses the unsupported protocol ${url.protocol}`;
  }
  if (url.hash || value.includes('#')) return 'must not contain a fragment (RFC 6749 3.2)';
  return undefined;
}

/** The configured `tokenEndpoint`: see {@link endpointProblem}. */
export function checkEndpointUrl(option: string, value: string, allowInsecureHttp: boolean): void {
  const problem = endpointProblem(value, allowInsecureHttp);
  if (problem !== undefined) throw new ConfigurationError(option, problem);
}

/**
 * The configured `issuer`: an identifier without a query or fragment component (RFC 8414 2), then
 * the endpoint rules (discovery sends the client's requests there).
 */
export function checkIssuerUrl(value: string, allowInsecureHttp: boolean): void {
  if (value.includes('?') || value.includes('#')) {
    throw new ConfigurationError('issuer', 'must not contain a query or fragment (RFC 8414 2)');
  }
  checkEndpointUrl('issuer', value, allowInsecureHttp);
}

/** The index of the first control character (U+0000-U+001F, U+007F) in `value`, or -1. */
function firstControlCharacter(value: string): number {
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
      `contains a control character (${codePoint(value, at)}) at position ${at}; audience, scope, resource and extraParams values may not contain U+0000-U+001F or U+007F`,
    );
  }
}

/** RFC 9110 5.6.2: a field name is a token. */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The index of the first character that may not stand in a header value, or -1. RFC 9110 5.5: a
 * field value holds HTAB, SP, visible ASCII and obs-text (U+0080-U+00FF); a line break would end the
 * header (or smuggle another one), and a character above U+00FF is not a byte at all.
 */
function firstNonFieldValueCharacter(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return i;
  }
  return -1;
}

/**
 * The `headers` option: header names that are tokens and not set by the client, values that are
 * header values. Messages give the name and the position, never the value (an API key, say): a value
 * that fetch refuses would otherwise be echoed by the runtime's error at the first token request.
 */
export function checkHeaders(headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!FIELD_NAME.test(name)) {
      throw new ConfigurationError(
        `headers.${shownName(name)}`,
        "is not a header name (RFC 9110 5.6.2: a token of letters, digits and !#$%&'*+-.^_`|~)",
      );
    }
    // Set by the client: client authentication (exactly one method), the body's type, the DPoP proof,
    // and Accept: application/json (RFC 6749 5.1).
    if (CLIENT_SET_HEADERS.has(name.toLowerCase())) {
      throw new ConfigurationError(`headers.${name}`, 'is set by the client for token requests');
    }
    const at = firstNonFieldValueCharacter(value);
    if (at !== -1) {
      throw new ConfigurationError(
        `headers.${name}`,
        `contains ${codePoint(value, at)} at position ${at}, which a header value may not hold (RFC 9110 5.5: tab, space, visible ASCII and U+0080-U+00FF)`,
      );
    }
  }
}

/** A header name as shown in an option path: printable ASCII only, and short. */
function shownName(name: string): string {
  if (name === '') return '(empty name)';
  const printable = name.replace(/[^\x21-\x7e]/g, '?');
  return printable.length > 60 ? `${printable.slice(0, 57)}...` : printable;
}

/** `U+000A`: the code unit at `at`, for messages that name a character without the value around it. */
function codePoint(value: string, at: number): string {
  return `U+${value.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * `resource` (a string or a list): each an absolute URI without a fragment (RFC 8707 2), and no
 * control characters.
 */
export function checkResource(resource: unknown): void {
  for (const value of typeof resource === 'string' ? [resource] : Array.isArray(resource) ? resource : []) {
    if (typeof value !== 'string') continue;
    refuseControlCharacters('resource', value);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigurationError('resource', 'must be an absolute URI (RFC 8707 2)');
    }
    if (url.hash) throw new ConfigurationError('resource', 'must not contain a fragment (RFC 8707 2)');
  }
}

/**
 * `extraParams`: no parameter the client sets or that has an option of its own (RESERVED_PARAMS), and
 * string values without control characters.
 */
export function checkExtraParams(extraParams: unknown): void {
  if (typeof extraParams !== 'object' || extraParams === null) return;
  for (const name of Object.keys(extraParams)) {
    // A name is part of the request and of the option path in messages: it must be one.
    if (name === '') throw new ConfigurationError('extraParams', 'has an empty parameter name');
    const at = firstControlCharacter(name);
    if (at !== -1) {
      throw new ConfigurationError(
        'extraParams',
        `has a parameter name with a control character (${codePoint(name, at)}) at position ${at}`,
      );
    }
    if (RESERVED_PARAMS.has(name)) {
      throw new ConfigurationError(
        `extraParams.${name}`,
        `may not set ${name}: grant_type and client authentication are set by the client, and scope, audience and resource have options of their own`,
      );
    }
    const value = (extraParams as Record<string, unknown>)[name];
    // The schema skips a member named __proto__; it is a parameter like any other here.
    if (typeof value !== 'string') throw new ConfigurationError(`extraParams.${name}`, 'must be a string');
    refuseControlCharacters(`extraParams.${name}`, value);
  }
}

/**
 * The values of a token selection (audience, scope, resource, extraParams), for the constructor's
 * defaults and every per-call option alike, once their types have passed the schema: no control
 * characters, resources that are absolute URIs, no reserved parameter.
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
  checkResource(resource);
  checkExtraParams(extraParams);
}
