/**
 * DPoP on the receiving side, for tests: a proof checker that follows RFC 9449 4.3 with jose, and a
 * resource server (node:http on loopback) that accepts `Authorization: DPoP <token>` requests only with a
 * valid proof bound to the token (RFC 9449 7.1).
 *
 *   const proof = await verifyDpopProof(header, { htm: 'POST', htu, replay });   // throws DpopCheckError
 *   const rs = await startDpopResourceServer({ verifyAccessToken, requireNonce? });
 *   rs.url, rs.requests, rs.nonce, rs.rotateNonce(), rs.rejectToken(token), rs.close()
 *
 * The resource server answers 200 with JSON { ok, method, path, jkt, claims } or 401 with
 * `WWW-Authenticate: DPoP error="..."` (and `DPoP-Nonce` for use_dpop_nonce, RFC 9449 9).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  calculateJwkThumbprint,
  EmbeddedJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import { closeServer, listenOnLoopback } from './ports.js';

/** Proof algorithms this checker accepts (asymmetric only: RFC 9449 4.3 point 5). */
export const PROOF_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
];

export class DpopCheckError extends Error {
  constructor(
    readonly error: 'invalid_dpop_proof' | 'use_dpop_nonce' | 'invalid_token',
    message: string,
  ) {
    super(message);
    this.name = 'DpopCheckError';
  }
}

/** Remembers the jti of every accepted proof for the iat window (RFC 9449 11.1). */
export class JtiReplayCache {
  readonly #seen = new Map<string, number>();
  constructor(readonly windowSeconds = 60) {}
  /** False when this jti was used before (within the window). */
  add(jti: string, nowSeconds: number): boolean {
    for (const [old, at] of this.#seen) {
      if (at >= nowSeconds - 2 * this.windowSeconds) break;
      this.#seen.delete(old);
    }
    if (this.#seen.has(jti)) return false;
    this.#seen.set(jti, nowSeconds);
    return true;
  }
}

export interface ProofExpectations {
  htm: string;
  /** The request's URI; compared without query and fragment. */
  htu: string;
  replay: JtiReplayCache;
  /** When given, the proof must carry `ath` = base64url(SHA-256(token)) (RFC 9449 4.3 point 12). */
  accessToken?: string;
  /** When given, the proof's `nonce` must equal it (RFC 9449 4.3 point 10). */
  nonce?: string;
  /** Largest |now - iat|, seconds (default 60). */
  iatWindowSeconds?: number;
}

export interface CheckedProof {
  header: ProtectedHeaderParameters & { jwk: JWK };
  payload: JWTPayload & { htm: string; htu: string; nonce?: string; ath?: string };
  /** RFC 7638 thumbprint of the proof key. */
  jkt: string;
}

function withoutQueryAndFragment(uri: string): string {
  const url = new URL(uri);
  return `${url.protocol}//${url.host}${url.pathname}`;
}

async function sha256Base64url(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value));
  return Buffer.from(digest).toString('base64url');
}

/** RFC 9449 4.3: the checks a server makes on a DPoP proof. Throws DpopCheckError. */
export async function verifyDpopProof(
  proof: string | string[] | undefined,
  expect: ProofExpectations,
): Promise<CheckedProof> {
  // Point 1: exactly one DPoP header.
  if (proof === undefined || Array.isArray(proof)) {
    throw new DpopCheckError(
      'invalid_dpop_proof',
      proof === undefined ? 'no DPoP header' : 'more than one DPoP header',
    );
  }
  let header: CheckedProof['header'];
  let payload: CheckedProof['payload'];
  try {
    // Points 2-6: a well-formed JWS, typ dpop+jwt, an asymmetric alg, signed by the key in the jwk header.
    const result = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: PROOF_ALGORITHMS });
    header = result.protectedHeader as CheckedProof['header'];
    payload = result.payload as CheckedProof['payload'];
  } catch (error) {
    throw new DpopCheckError('invalid_dpop_proof', `proof does not verify: ${(error as Error).message}`);
  }
  // Point 7: the jwk header holds a public key.
  if ('d' in header.jwk || 'p' in header.jwk || 'k' in header.jwk) {
    throw new DpopCheckError('invalid_dpop_proof', 'jwk header holds a private key');
  }
  const { jti, htm, htu, iat } = payload;
  if (typeof jti !== 'string' || jti.length < 12)
    throw new DpopCheckError('invalid_dpop_proof', 'missing or short jti');
  // Point 8: htm.
  if (htm !== expect.htm) throw new DpopCheckError('invalid_dpop_proof', `htm mismatch (${String(htm)})`);
  // Point 9: htu, ignoring query and fragment.
  if (typeof htu !== 'string' || htu !== withoutQueryAndFragment(expect.htu)) {
    throw new DpopCheckError('invalid_dpop_proof', `htu mismatch (${String(htu)})`);
  }
  // Point 10: the server's nonce.
  if (expect.nonce !== undefined && payload.nonce !== expect.nonce) {
    throw new DpopCheckError(
      'use_dpop_nonce',
      payload.nonce === undefined ? 'nonce required' : 'stale nonce',
    );
  }
  // Point 11: iat within an acceptable window.
  const now = Math.floor(Date.now() / 1000);
  const window = expect.iatWindowSeconds ?? 60;
  if (typeof iat !== 'number' || Math.abs(now - iat) > window) {
    throw new DpopCheckError('invalid_dpop_proof', 'iat outside the acceptable window');
  }
  // Point 12: ath binds the proof to the access token presented with it.
  if (expect.accessToken !== undefined) {
    if (payload.ath !== (await sha256Base64url(expect.accessToken))) {
      throw new DpopCheckError('invalid_dpop_proof', 'ath mismatch');
    }
  }
  // RFC 9449 11.1: a proof is used once.
  if (!expect.replay.add(jti, now)) throw new DpopCheckError('invalid_dpop_proof', 'jti replayed');
  return { header, payload, jkt: await calculateJwkThumbprint(header.jwk, 'sha256') };
}

// ---------------------------------------------------------------------------------------------

export interface DpopResourceServerOptions {
  /** Verifies the access token (signature, audience, ...) and returns its claims; throws when invalid. */
  verifyAccessToken(token: string): Promise<JWTPayload>;
  /** RFC 9449 9: every proof must carry this server's current nonce. */
  requireNonce?: boolean;
}

export interface ResourceServerRequest {
  method: string;
  path: string;
  /** The Authorization scheme used (`DPoP`, `Bearer`, ...), lower-cased. */
  scheme?: string;
  /** The proof as received (for replay tests). */
  proof?: string;
  /** The proof's nonce claim, when it had one. */
  proofNonce?: string;
  /** The proof's ath claim, when it had one. */
  proofAth?: string;
  /** The token as received (in memory only: assert on it, never print it). */
  accessToken?: string;
  status: number;
  /** The WWW-Authenticate error, on a 401. */
  error?: string;
  reason?: string;
}

export interface DpopResourceServer {
  /** Origin of the server, e.g. http://127.0.0.1:41234 */
  url: string;
  requests: ResourceServerRequest[];
  /** The nonce proofs must carry now (with requireNonce). */
  readonly nonce: string;
  /** Issues a new nonce; the old one is no longer accepted. Returns it. */
  rotateNonce(): string;
  /** Answers 401 invalid_token for this access token from now on (as after a revocation). */
  rejectToken(token: string): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function randomNonce(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
}

export async function startDpopResourceServer(
  options: DpopResourceServerOptions,
): Promise<DpopResourceServer> {
  const replay = new JtiReplayCache();
  const requests: ResourceServerRequest[] = [];
  const rejected = new Set<string>();
  let nonce = randomNonce();
  let origin = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const record: ResourceServerRequest = { method, path, status: 0 };
    requests.push(record);
    const fail = (status: number, error: string, reason: string) => {
      record.status = status;
      record.error = error;
      record.reason = reason;
      const challenge = `DPoP error="${error}", error_description="${reason.replace(/["\\]/g, '')}", algs="${PROOF_ALGORITHMS.join(' ')}"`;
      res.setHeader('www-authenticate', challenge);
      if (error === 'use_dpop_nonce') res.setHeader('dpop-nonce', nonce);
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error, error_description: reason }));
    };

    const authorization = req.headers.authorization ?? '';
    const match = /^(\S+) (\S+)$/.exec(authorization);
    if (!match) return fail(401, 'invalid_token', 'no access token');
    const scheme = match[1]!.toLowerCase();
    const token = match[2]!;
    record.scheme = scheme;
    record.accessToken = token;
    const proofHeader = req.headers.dpop;
    if (typeof proofHeader === 'string') {
      record.proof = proofHeader;
      try {
        const claims = JSON.parse(
          Buffer.from(proofHeader.split('.')[1] ?? '', 'base64url').toString('utf8'),
        ) as {
          nonce?: string;
          ath?: string;
        };
        record.proofNonce = claims.nonce;
        record.proofAth = claims.ath;
      } catch {
        // Judged by verifyDpopProof below.
      }
    }

    let claims: JWTPayload;
    try {
      claims = await options.verifyAccessToken(token);
    } catch (error) {
      return fail(401, 'invalid_token', `token rejected: ${(error as Error).message}`);
    }
    const jkt = (claims.cnf as { jkt?: unknown } | undefined)?.jkt;
    // RFC 9449 7.2: a DPoP-bound token sent with the Bearer scheme is refused.
    if (scheme !== 'dpop') return fail(401, 'invalid_token', 'DPoP-bound token sent without the DPoP scheme');
    if (typeof jkt !== 'string') return fail(401, 'invalid_token', 'token is not DPoP-bound (no cnf.jkt)');

    let proof: CheckedProof;
    try {
      proof = await verifyDpopProof(req.headers.dpop, {
        htm: method,
        htu: `${origin}${path}`,
        accessToken: token,
        replay,
        ...(options.requireNonce ? { nonce } : {}),
      });
    } catch (error) {
      if (error instanceof DpopCheckError) return fail(401, error.error, error.message);
      throw error;
    }
    // RFC 9449 4.3 point 12 / 7.1: the proof key is the key the token is bound to.
    if (proof.jkt !== jkt) return fail(401, 'invalid_dpop_proof', 'proof key does not match cnf.jkt');
    if (rejected.has(token)) return fail(401, 'invalid_token', 'token revoked');

    record.status = 200;
    res.statusCode = 200;
    if (options.requireNonce) res.setHeader('dpop-nonce', nonce);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, method, path, body, jkt, claims }));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String((error as Error).message));
    });
  });
  const port = await listenOnLoopback(server);
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    requests,
    get nonce() {
      return nonce;
    },
    rotateNonce: () => {
      nonce = randomNonce();
      return nonce;
    },
    rejectToken: (token) => {
      rejected.add(token);
    },
    close: () => closeServer(server),
  };
}
