/**
 * What a failed token request tells its caller: which credentials of the request must never be shown,
 * where the request went and for which client, what to check (the hints, one source for the library
 * and the CLI), and transport failures as coded errors (M2M_NETWORK_ERROR, M2M_TIMEOUT).
 */
import type { AuthDescription, TokenRequestParts } from '../auth/types.js';
import { ErrorCode, type ErrorCodeValue, HttpError, M2MTokenError } from '../errors.js';
import {
  clip,
  combine,
  isSensitiveName,
  type Redactor,
  redactJson,
  safeError,
  scrub,
} from '../redact/index.js';
import { reportedStatus } from './retry-policy.js';

/**
 * The credential values a token request carries, to be redacted from anything its answer makes us
 * show: the credential of the Authorization (and Proxy-Authorization) value (its scheme is no secret
 * and stays readable), the DPoP proof, and every sensitive body parameter (client_secret,
 * client_assertion). A piece of any of them is removed too (src/redact/ removes every 12-character
 * run of a known value).
 */
export function sentCredentials(parts: TokenRequestParts): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(parts.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'proxy-authorization' || lower === 'dpop') {
      const credential = value.includes(' ') ? value.slice(value.indexOf(' ') + 1).trim() : value;
      values.push(credential === '' ? value : credential);
    }
  }
  for (const [name, value] of parts.params) if (isSensitiveName(name)) values.push(value);
  return values;
}

/** A URL as shown in messages: origin and path, no query (it might carry something private). */
export function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

/** Where a token request went and who sent it: what its error messages name. */
export interface RequestContext {
  /** The token endpoint, as shown ({@link shownUrl}). */
  readonly endpoint: string;
  readonly auth: AuthDescription;
}

/**
 * True when the answer says the server refused the client's credentials: `invalid_client`
 * (RFC 6749 5.2), or a 401/403 to the token request with or without an OAuth error body (Glewlwyd
 * answers every client authentication failure with an empty 403).
 */
export function refusesClient(status: number, oauthError?: string): boolean {
  return oauthError === 'invalid_client' || status === 401 || status === 403;
}

/**
 * What to check after a failed token request, or undefined when there is nothing specific to say.
 * Options are named `options.<name>` (the CLI turns them into its flags).
 */
export function tokenRequestHint(
  status: number,
  oauthError: string | undefined,
  context: RequestContext,
): string | undefined {
  if (refusesClient(status, oauthError)) return refusedClientHint(context);
  switch (oauthError) {
    case 'invalid_scope':
      return 'Check options.scope: the client may not be allowed that scope.';
    case 'invalid_target':
      return 'Check options.resource: the server does not know that resource, or the client may not use it (RFC 8707).';
    case 'unauthorized_client':
      return 'The client may not use the client_credentials grant, or not for this audience: check its registration at the server.';
    case 'unsupported_grant_type':
      return 'The server does not offer the client_credentials grant to this client: enable it in the client registration.';
    default:
      return undefined;
  }
}

function refusedClientHint({ endpoint, auth }: RequestContext): string {
  const credential = auth.assertionSource
    ? `the client assertion (options.${auth.assertionSource}: its iss, sub, aud and exp, and that the server trusts its issuer for this client)`
    : auth.method === 'private_key_jwt'
      ? 'the private key (and its key id, options.keyId)'
      : auth.method === 'tls_client_auth' || auth.method === 'self_signed_tls_client_auth'
        ? 'the client certificate'
        : 'the client secret';
  const hints = [
    `Check the client id, ${credential}, and the authentication method: this request used ${auth.method} (options.authMethod).`,
  ];
  const aud = auth.assertionAudience;
  if (aud?.from === 'issuer') {
    // rfc7523bis / CVE-2025-27370: the issuer is the audience to send; falling back to the token
    // endpoint on our own would reopen the attack, so the user decides.
    hints.push(
      `The client assertion's aud was the issuer "${aud.value}", as rfc7523bis asks; a server that accepts only its token endpoint as aud needs options.assertionAudience: "${endpoint}".`,
    );
  } else if (aud?.from === 'tokenEndpoint') {
    hints.push(
      `The client assertion's aud was the token endpoint "${aud.value}"; a server that expects its issuer identifier needs options.assertionAudience set to it.`,
    );
  } else if (aud) {
    hints.push(`The client assertion's aud was "${aud.value}" (options.assertionAudience).`);
  }
  if (auth.nonAscii) {
    hints.push(
      `options.${auth.nonAscii.option} has a character outside printable ASCII at position ${auth.nonAscii.position}, sent as UTF-8; RFC 6749 Appendix A allows only printable ASCII there: check for smart quotes or a letter pasted from elsewhere.`,
    );
  }
  if (auth.basicEncoding?.name === 'form-urlencoded' && auth.basicEncoding.changedCredentials) {
    hints.push(
      `The client id and secret were form-urlencoded before base64 as RFC 6749 2.3.1 asks, which changed them; a server that compares them unencoded needs options.basicAuthEncoding: 'none'.`,
    );
  }
  return hints.join(' ');
}

/** Appends the client id to the message of a failed token request. */
export function withClientId(message: string, context: RequestContext): string {
  return `${message} (client id ${JSON.stringify(context.auth.clientId)})`;
}

/**
 * Errors thrown by the fetch call or the body read of our own requests (see {@link viaTransport}), with
 * the credentials that request carried.
 */
const transportFailures = new WeakMap<object, Redactor | undefined>();

/**
 * Runs `promise` (a fetch call or a body read), remembering whatever it rejects with as a transport
 * failure: only those become M2M_NETWORK_ERROR / M2M_TIMEOUT, so that a TypeError from elsewhere (a
 * key that cannot sign) is never mistaken for a network error. `redact` removes the credentials the
 * request carried: the error is handed over only when none of them is in it (src/redact/errors.ts safeError).
 */
export function viaTransport<T>(promise: Promise<T>, redact?: Redactor): Promise<T> {
  return promise.catch((error: unknown) => {
    if (typeof error === 'object' && error !== null) transportFailures.set(error, redact);
    throw error;
  });
}

export interface TransportContext {
  /** What was asked, as shown: `token endpoint https://...` or `discovery document https://...`. */
  readonly what: string;
  readonly timeoutMs: number;
  /** Attempts made, when retries apply. */
  readonly attempts?: number;
  /** Removes credentials: a cause whose message would show one is not kept. */
  readonly redact?: Redactor;
}

/**
 * A network failure or a timeout of our own request as M2MTokenError `M2M_NETWORK_ERROR` /
 * `M2M_TIMEOUT`, naming what was asked, the timeout and the attempts, with the original error as
 * `cause`. DOMException's legacy numeric `code` (23 for a timeout) thus never reaches the caller as
 * `code`. An error that carries an HTTP status (undici's `interceptors.responseError()`) is that answer:
 * HttpError with the status. The original error is kept (as `cause`, or as it is for any other error
 * of the transport) only when nothing in it shows a credential; else a plain Error with its name and
 * redacted message stands in (src/redact/errors.ts safeError). Only errors that came through
 * {@link viaTransport}; anything else (our own coded errors, a caller's abort, a configuration error)
 * is returned unchanged.
 */
export function transportError(error: unknown, context: TransportContext): unknown {
  if (!(error instanceof Error) || error instanceof M2MTokenError || !transportFailures.has(error))
    return error;
  const redact = combine(context.redact, transportFailures.get(error));
  const status = reportedStatus(error);
  if (status !== undefined) {
    const body = reportedBody(error);
    return new HttpError(
      `${context.what} answered ${status} (the dispatcher threw it as an error: ${innermostMessage(error, redact)})`,
      {
        status,
        ...(body === undefined ? {} : { bodySnippet: clip(scrub(body, redact), REPORTED_BODY_LENGTH) }),
        cause: safeError(error, redact),
      },
    );
  }
  const attempts =
    context.attempts === undefined
      ? undefined
      : `${context.attempts} attempt${context.attempts === 1 ? '' : 's'}`;
  let code: ErrorCodeValue;
  let message: string;
  if (error.name === 'TimeoutError') {
    code = ErrorCode.TIMEOUT;
    const details = [`timeoutMs ${context.timeoutMs}`, attempts].filter(Boolean).join(', ');
    message = `${context.what} did not answer in time (${details}); if the server is slow, raise options.timeoutMs`;
  } else if (error instanceof TypeError) {
    code = ErrorCode.NETWORK;
    const details = attempts ? ` (${attempts})` : '';
    message = `${context.what} could not be reached: ${innermostMessage(error, redact)}${details}`;
  } else {
    return safeError(error, redact);
  }
  return new M2MTokenError(message, code, { cause: safeError(error, redact) });
}

/** Length of the body a dispatcher's error carried, as shown (`bodySnippet`, cut after redaction). */
const REPORTED_BODY_LENGTH = 200;

/** The body the error carrying a status holds (undici's ResponseError: `body`, parsed JSON or text). */
function reportedBody(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { body, cause } = current as { body?: unknown; cause?: unknown };
    if (typeof body === 'string') return body.trim() === '' ? undefined : body;
    if (typeof body === 'object' && body !== null) {
      try {
        return JSON.stringify(redactJson(body));
      } catch {
        return undefined;
      }
    }
    current = cause;
  }
  return undefined;
}

/** The innermost useful message of a fetch failure (undici puts the socket error in `cause`). */
export function innermostMessage(error: unknown, redact?: Redactor): string {
  let current: unknown = error;
  let message = error instanceof Error ? error.message : String(error);
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) {
    current = current.cause;
    if (current instanceof Error && current.message) message = current.message;
    else if (current instanceof Error && 'code' in current)
      message = String((current as { code: unknown }).code);
  }
  return scrub(message, redact);
}
