import { builtinFetchTakesDispatcher, nodeCrypto, requireOptional } from '../capabilities.js';
import { ConfigurationError } from '../errors.js';
import type { AuthMethod, PrivateKeyInput } from '../types.js';
import { base64url } from '../util.js';
import { certificateThumbprintSync } from './keys.js';
import type { ClientAuthenticator } from './types.js';

/**
 * tls_client_auth and self_signed_tls_client_auth (RFC 8705 2.1, 2.2): the client authenticates with
 * its TLS client certificate, so only `client_id` goes in the body (RFC 8705 2). The certificate is
 * presented by an undici Agent made once, on first use (undici and node:crypto are loaded lazily: only
 * Node needs them), or by the caller's own `dispatcher`, which then wins.
 *
 * The same dispatcher carries the fetch wrapper's API calls, so certificate-bound tokens (RFC 8705 3,
 * `cnf.x5t#S256`) reach the resource server over the certificate they are bound to.
 *
 * Server certificates are checked against Node's trust store: for a private CA, start Node with
 * `NODE_EXTRA_CA_CERTS=ca.pem`, or pass your own `dispatcher` (`new Agent({ connect: { ca, cert, key } })`).
 *
 * A dispatcher only works with a fetch that honours it (undici's). Where the runtime's own fetch does not
 * (Bun, Deno) and no other `fetch` is given, the constructor throws: the certificate would otherwise be
 * silently left out and the server would answer `invalid_client`.
 */
export function tlsClientAuth(
  method: Extract<AuthMethod, 'tls_client_auth' | 'self_signed_tls_client_auth'>,
  clientId: string,
  options: {
    certificate?: string;
    privateKey?: PrivateKeyInput;
    dispatcher?: unknown;
    fetch?: typeof globalThis.fetch;
  },
): ClientAuthenticator {
  const { certificate, privateKey, dispatcher: given } = options;
  checkFetchCarriesCertificate(method, options.fetch);
  // normalizeOptions saw to it that without a dispatcher there are a certificate and its key.
  let agent: Promise<unknown> | undefined;
  const dispatcher = (): Promise<unknown> => {
    if (given !== undefined) return Promise.resolve(given);
    agent ??= clientCertificateAgent(certificate as string, privateKey as PrivateKeyInput);
    return agent;
  };
  return {
    method,
    bodyFormat: 'form',
    apply(parts) {
      parts.params.push(['client_id', clientId]);
    },
    redact: (text) => text,
    describe: () => ({ method, clientId }),
    dispatcher,
    // Only the Agent made here: a dispatcher the caller gave is the caller's to close.
    async close() {
      const made = agent;
      agent = undefined;
      if (made === undefined) return;
      const dispatcher = await made.catch(() => undefined);
      await (dispatcher as { close?: () => Promise<void> } | undefined)?.close?.();
    },
  };
}

/**
 * The client certificate's identity in cache keys, when tokens may be bound to it: a server that
 * authenticates a client by its certificate binds the tokens it issues to that certificate (RFC 8705 3,
 * `cnf.x5t#S256`), so two clients with the same id and different certificates must not share them.
 *
 * That is the case with `tls_client_auth` and `self_signed_tls_client_auth`, and with discovery when no
 * `authMethod` is set (the metadata may pick one of them). With private_key_jwt, `certificate` only adds
 * `x5t#S256` to the assertion: the TLS connection presents no certificate, so nothing binds the token.
 *
 * The identity is the certificate's `x5t#S256`, so that clients (and processes sharing a Redis cache) with
 * the same certificate share tokens. Where the runtime has no synchronous SHA-256 (no `node:crypto`), a
 * random id per client: still never another certificate's token, only no sharing. A certificate presented
 * by a caller's `dispatcher` cannot be seen: give the same PEM as `certificate` too, or do not share the
 * cache between clients with different certificates.
 *
 * @throws {ConfigurationError} `certificate` is not a PEM certificate
 */
export function certificateBinding(
  options: { certificate?: string; issuer?: string; authMethod?: AuthMethod },
  method: AuthMethod,
): string | undefined {
  const { certificate } = options;
  if (certificate === undefined) return undefined;
  const mayPresent =
    method === 'tls_client_auth' ||
    method === 'self_signed_tls_client_auth' ||
    (options.issuer !== undefined && options.authMethod === undefined);
  if (!mayPresent) return undefined;
  return certificateThumbprintSync(certificate) ?? base64url(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * The certificate travels in an undici dispatcher, which only undici's fetch honours. The built-in fetch
 * of Bun and Deno ignores it: there, the caller must bring a fetch that presents the certificate.
 */
function checkFetchCarriesCertificate(method: string, fetch: typeof globalThis.fetch | undefined): void {
  const builtin = fetch === undefined || fetch === globalThis.fetch;
  if (!builtin || builtinFetchTakesDispatcher()) return;
  throw new ConfigurationError(
    'fetch',
    `${method} needs a fetch that presents the client certificate, and this runtime's fetch ignores undici dispatchers (the certificate would not be sent). ` +
      "Deno: pass `fetch` and `dispatcher` from npm:undici (`import { Agent, fetch } from 'npm:undici'`; `dispatcher: new Agent({ connect: { cert, key } })`). " +
      "Bun: keep `certificate` and `privateKey` and pass `fetch: (input, init) => fetch(input, { ...init, tls: { cert, key } })` (Bun's `tls` fetch option).",
  );
}

/** An undici Agent that presents the certificate, after checking that the key belongs to it. */
async function clientCertificateAgent(certificate: string, privateKey: PrivateKeyInput): Promise<unknown> {
  const crypto = nodeCrypto();
  const Agent = crypto && requireOptional<typeof import('undici')>('undici')?.Agent;
  if (!crypto || !Agent) {
    throw new ConfigurationError(
      'certificate',
      'needs node:crypto and undici to build the TLS client here: pass a `dispatcher` (or a `fetch`) that presents the certificate',
    );
  }
  const { createPrivateKey, KeyObject, X509Certificate } = crypto;
  let x509: import('node:crypto').X509Certificate;
  try {
    x509 = new X509Certificate(certificate);
  } catch {
    throw new ConfigurationError('certificate', 'could not be read as a PEM certificate');
  }
  let key: import('node:crypto').KeyObject;
  try {
    if (typeof privateKey === 'string') key = createPrivateKey(privateKey);
    else if (privateKey instanceof KeyObject) key = privateKey;
    else if (typeof CryptoKey !== 'undefined' && privateKey instanceof CryptoKey)
      key = KeyObject.from(privateKey);
    else key = createPrivateKey({ key: privateKey as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch (error) {
    // The parser's message never holds the key, but keep only the error's name to be sure.
    const reason = error instanceof Error ? error.name : 'Error';
    throw new ConfigurationError('privateKey', `could not be imported as a private key (${reason})`);
  }
  // A mismatch would otherwise surface as a TLS handshake failure that names neither option.
  if (!x509.checkPrivateKey(key)) {
    throw new ConfigurationError('privateKey', 'does not belong to the certificate');
  }
  // node:tls takes PEM (not a KeyObject); the PEM stays inside the Agent's TLS options.
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' });
  return new Agent({ connect: { cert: certificate, key: keyPem } });
}
