/**
 * Client authentication at the token endpoint (RFC 6749 section 2.3, RFC 7523 section 3).
 *
 * Accepted: HTTP Basic (client_secret_basic), client_id/client_secret in a form body
 * (client_secret_post) or in a JSON body (as Auth0 accepts), and a signed JWT assertion
 * (private_key_jwt): signed by the client's own registered key, or, for a federated client, a token a
 * trusted issuer signed for it (workload identity federation: a cluster's service-account token).
 * A request must use exactly one of them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  errors,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { ClientConfig, TrustedIssuerConfig } from './config.js';
import { invalidRequest, OAuthErrorResponse } from './oauth-error.js';

export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_json'
  | 'private_key_jwt';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Algorithms accepted for client assertions; never `none` or an HMAC. */
export const ASSERTION_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** A client assertion may not be valid for longer than this. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/**
 * A federated token (a projected service-account token) may be valid for longer: kubelet asks for an
 * hour by default and reuses the token until 80% of it has passed. Up to a day is accepted here.
 */
export const MAX_FEDERATED_LIFETIME_SECONDS = 86_400;
const CLOCK_TOLERANCE_SECONDS = 30;

export interface ClientAuthenticator {
  /**
   * Authenticates the client of a token request, or throws an {@link OAuthErrorResponse}.
   * `params` are the body parameters; `json` says whether they came as JSON.
   */
  authenticate(
    authorization: string | undefined,
    params: Record<string, string>,
    json: boolean,
  ): Promise<ClientAuthentication>;
}

export interface ClientAuthentication {
  client: ClientConfig;
  method: ClientAuthMethod;
  /** For a federated client: the token's issuer, subject and id (never the token). */
  federated?: { issuer: string; subject: string; tokenId?: string };
}

export function createClientAuthenticator(options: {
  clients: ClientConfig[];
  /** Accepted client assertion audiences (RFC 7523 3, item 3): the issuer and the token endpoint URL. */
  assertionAudiences: string[];
  /** Issuers whose tokens federated clients present, with their JWKS. */
  trustedIssuers?: TrustedIssuerConfig[];
}): ClientAuthenticator {
  const clients = new Map(options.clients.map((client) => [client.clientId, client]));
  const keySets = new Map<string, JWTVerifyGetKey>();
  for (const client of options.clients) {
    if (client.jwks) keySets.set(client.clientId, createLocalJWKSet(client.jwks));
  }
  // A trusted issuer's keys are fetched from its JWKS URI (and fetched again for an unknown kid, so a
  // key rotation at the issuer is followed).
  const issuerKeySets = new Map<string, JWTVerifyGetKey>();
  for (const trusted of options.trustedIssuers ?? []) {
    issuerKeySets.set(
      trusted.issuer,
      createRemoteJWKSet(new URL(trusted.jwksUri), { cooldownDuration: 1000 }),
    );
  }
  /** A federated client presents a token whose `sub` is its subject at the issuer, not its client id. */
  const federatedBySubject = new Map<string, ClientConfig>();
  for (const client of options.clients) {
    const fc = client.federatedCredential;
    if (fc) federatedBySubject.set(`${fc.issuer} ${fc.subject ?? client.clientId}`, client);
  }
  const seenAssertions = new ReplayCache();

  const authenticateWithSecret = (clientId: string, secret: string, method: ClientAuthMethod) => {
    const client = clients.get(clientId);
    // Same answer for an unknown client and a wrong secret: nothing to learn by guessing ids.
    if (!client?.clientSecret || !secretsEqual(secret, client.clientSecret)) {
      throw clientAuthFailed(method, 'Client authentication failed');
    }
    return { client, method };
  };

  const authenticateWithAssertion = async (params: Record<string, string>) => {
    const fail = (why: string) => clientAuthFailed('private_key_jwt', why);
    const assertion = params.client_assertion;
    if (params.client_assertion_type !== JWT_BEARER_ASSERTION_TYPE) {
      throw invalidRequest(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
    }
    if (!assertion) throw invalidRequest('client_assertion is missing');

    let unverified: { sub?: unknown; iss?: unknown };
    try {
      unverified = decodeJwt(assertion);
    } catch {
      throw fail('client_assertion is not a JWT');
    }
    // RFC 7523 3.1: client_id is optional; when present it must name the same client as `sub` (for a
    // federated client: the client whose federated credential names that issuer and subject).
    const federated = federatedBySubject.get(`${String(unverified.iss)} ${String(unverified.sub)}`);
    const clientId = params.client_id ?? federated?.clientId ?? unverified.sub;
    const client = typeof clientId === 'string' ? clients.get(clientId) : undefined;
    if (client?.federatedCredential) return authenticateFederated(client, assertion);
    const keySet = client && keySets.get(client.clientId);
    if (!client || !keySet) throw fail('Client authentication failed');

    // RFC 7523 section 3: iss = sub = client_id, aud = this authorization server, exp required.
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(assertion, keySet, {
        issuer: client.clientId,
        subject: client.clientId,
        audience: options.assertionAudiences,
        algorithms: ASSERTION_ALGORITHMS,
        requiredClaims: ['exp', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      throw fail(`client_assertion rejected: ${describeJoseError(error)}`);
    }
    const exp = payload.exp!;
    const now = Math.floor(Date.now() / 1000);
    if (exp - now > MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) {
      throw fail(`client_assertion expires more than ${MAX_ASSERTION_LIFETIME_SECONDS} s from now`);
    }
    // RFC 7523 3, item 7: the server may refuse a jti it has seen before (replay).
    if (!seenAssertions.useOnce(`${client.clientId} ${payload.jti}`, exp + CLOCK_TOLERANCE_SECONDS)) {
      throw fail('client_assertion was already used (jti replay)');
    }
    return { client, method: 'private_key_jwt' as const };
  };

  /**
   * Workload identity federation: the assertion is a token the client's trusted issuer signed (its
   * JWKS), naming this client's subject (`sub`), for this server (`aud`), unexpired (`exp`). Such a
   * token is reused by the workload until its issuer rotates it, so it is not refused as a replay.
   */
  const authenticateFederated = async (
    client: ClientConfig,
    assertion: string,
  ): Promise<ClientAuthentication> => {
    const fail = (why: string) => clientAuthFailed('private_key_jwt', why);
    const fc = client.federatedCredential!;
    const keySet = issuerKeySets.get(fc.issuer);
    if (!keySet) throw fail(`the issuer ${fc.issuer} is not trusted by this server (no JWKS configured)`);
    const subject = fc.subject ?? client.clientId;
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(assertion, keySet, {
        issuer: fc.issuer,
        subject,
        audience: options.assertionAudiences,
        algorithms: ASSERTION_ALGORITHMS,
        requiredClaims: ['exp'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      throw fail(`federated client_assertion rejected: ${describeJoseError(error)}`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp! - now > MAX_FEDERATED_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) {
      throw fail(`federated client_assertion expires more than ${MAX_FEDERATED_LIFETIME_SECONDS} s from now`);
    }
    return {
      client,
      method: 'private_key_jwt',
      federated: {
        issuer: fc.issuer,
        subject,
        ...(typeof payload.jti === 'string' ? { tokenId: payload.jti } : {}),
      },
    };
  };

  return {
    async authenticate(authorization, params, json) {
      const basic = /^basic(?: |$)/i.test(authorization ?? ''); // auth-scheme is case-insensitive (RFC 9110 11.1)
      const presented: ClientAuthMethod[] = [];
      if (basic) presented.push('client_secret_basic');
      if (params.client_secret !== undefined)
        presented.push(json ? 'client_secret_json' : 'client_secret_post');
      if (params.client_assertion !== undefined || params.client_assertion_type !== undefined) {
        presented.push('private_key_jwt');
      }
      // RFC 6749 2.3: "The client MUST NOT use more than one authentication method in each request."
      if (presented.length > 1) {
        throw invalidRequest(`More than one client authentication method used: ${presented.join(', ')}`);
      }
      const method = presented[0];
      if (!method) throw clientAuthFailed('client_secret_basic', 'Client authentication is required');

      if (method === 'private_key_jwt') return authenticateWithAssertion(params);
      if (method === 'client_secret_basic') {
        const { clientId, secret } = parseBasicCredentials(authorization!);
        if (params.client_id !== undefined && params.client_id !== clientId) {
          throw invalidRequest('client_id in the body differs from the one in the Authorization header');
        }
        return authenticateWithSecret(clientId, secret, method);
      }
      if (!params.client_id) throw clientAuthFailed(method, 'client_id is missing');
      return authenticateWithSecret(params.client_id, params.client_secret!, method);
    },
  };
}

/**
 * Decodes `Authorization: Basic ...` per RFC 6749 section 2.3.1: base64 of
 * `form-urlencoded(client_id) ":" form-urlencoded(client_secret)`, split at the first colon
 * (an encoded id cannot contain one), then each part form-urldecoded, so `+` is a space.
 */
export function parseBasicCredentials(authorization: string): { clientId: string; secret: string } {
  const encoded = authorization.slice('basic'.length).trim();
  const malformed = () => clientAuthFailed('client_secret_basic', 'Malformed Basic credentials');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw malformed();
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw malformed();
  try {
    return {
      clientId: formUrlDecode(decoded.slice(0, colon)),
      secret: formUrlDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw malformed(); // a stray '%' that is not a valid escape
  }
}

function formUrlDecode(value: string): string {
  return decodeURIComponent(value.replaceAll('+', ' '));
}

/** Compares secrets in constant time (hashing first makes the lengths equal). */
function secretsEqual(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * 401 invalid_client. RFC 6749 5.2: when the client tried HTTP Basic (or sent nothing), the answer
 * carries a `WWW-Authenticate` challenge for the scheme the client should use.
 */
function clientAuthFailed(method: ClientAuthMethod, description: string): OAuthErrorResponse {
  const headers: Record<string, string> =
    method === 'client_secret_basic' ? { 'www-authenticate': 'Basic realm="token", charset="UTF-8"' } : {};
  return new OAuthErrorResponse(401, 'invalid_client', description, headers);
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) return error.message; // e.g. 'unexpected "aud" claim value'
  if (error instanceof errors.JWKSNoMatchingKey)
    return 'signed with a key that is not registered for this client';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'signing algorithm not allowed';
  return 'invalid JWT';
}

/** Remembers assertion ids until they expire, so each can be used once. */
class ReplayCache {
  private readonly expiries = new Map<string, number>();
  private static readonly MAX_ENTRIES = 10_000;

  /** Records `id`; returns false when it was already recorded and has not expired yet. */
  useOnce(id: string, expiresAtSeconds: number): boolean {
    const now = Date.now() / 1000;
    for (const [key, expiry] of this.expiries) if (expiry < now) this.expiries.delete(key);
    if (this.expiries.has(id)) return false;
    // A development server: rather than grow without bound, forget the oldest entry.
    if (this.expiries.size >= ReplayCache.MAX_ENTRIES) {
      this.expiries.delete(this.expiries.keys().next().value!);
    }
    this.expiries.set(id, expiresAtSeconds);
    return true;
  }
}
