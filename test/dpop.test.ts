/**
 * DPoP (RFC 9449): proofs on token requests, the nonce dance, token_type, key handling and cache keys
 * (against a loopback token endpoint that checks every proof), the fetch wrapper against a resource
 * server that verifies proofs with jose, and interop with oidc-provider.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { inspect } from 'node:util';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type CachedToken,
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  ErrorCode,
  HttpError,
  M2MTokenError,
  MemoryTokenCache,
  OAuthError,
  type TokenCache,
  type TokenEvent,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import {
  type CheckedProof,
  DpopCheckError,
  type DpopResourceServer,
  JtiReplayCache,
  startDpopResourceServer,
  verifyDpopProof,
} from './helpers/dpop-resource-server.js';
import { exposures, leakedRuns } from './helpers/leaks.js';
import { type OidcProviderHarness, startOidcProvider } from './helpers/oidc-provider.js';
import { closeServer, listenOnLoopback } from './helpers/ports.js';

// ---------------------------------------------------------------------------------------------
// A loopback token endpoint that checks DPoP proofs (RFC 9449 4.3, 5) and issues JWTs bound to cnf.jkt.

interface TokenEndpointRequest {
  headers: IncomingHttpHeaders;
  body: URLSearchParams;
  /** The checked proof, when the request carried a valid one. */
  proof?: CheckedProof;
  status: number;
}

interface TokenEndpointMode {
  /** Require this nonce in proofs (RFC 9449 8); undefined: no nonce needed. */
  nonce?: string;
  /** Send use_dpop_nonce without a DPoP-Nonce header (a broken server). */
  omitNonceHeader?: boolean;
  /** Announce this nonce with use_dpop_nonce instead of the required one (a server that keeps moving on). */
  announcedNonce?: string;
  /** A new nonce to announce with the next successful answer (RFC 9449 8.2). */
  nextNonce?: string;
  /** token_type to answer with (default DPoP when a proof came, else Bearer). */
  tokenType?: string;
}

interface TokenEndpoint {
  url: string;
  requests: TokenEndpointRequest[];
  mode: TokenEndpointMode;
  /** Verifies a token this endpoint issued. */
  verify(token: string): Promise<JWTPayload>;
  close(): Promise<void>;
}

async function startTokenEndpoint(): Promise<TokenEndpoint> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const replay = new JtiReplayCache();
  const requests: TokenEndpointRequest[] = [];
  const mode: TokenEndpointMode = {};
  let origin = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const record: TokenEndpointRequest = {
          headers: req.headers,
          body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
          status: 0,
        };
        requests.push(record);
        const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          record.status = status;
          res.writeHead(status, {
            'content-type': 'application/json',
            'cache-control': 'no-store',
            ...headers,
          });
          res.end(JSON.stringify(body));
        };
        let jkt: string | undefined;
        if (req.headers.dpop !== undefined) {
          try {
            record.proof = await verifyDpopProof(req.headers.dpop, {
              htm: req.method ?? '',
              htu: `${origin}${req.url}`,
              replay,
              ...(mode.nonce !== undefined ? { nonce: mode.nonce } : {}),
            });
            jkt = record.proof.jkt;
          } catch (error) {
            if (!(error instanceof DpopCheckError)) throw error;
            const headers: Record<string, string> =
              error.error === 'use_dpop_nonce' && !mode.omitNonceHeader && mode.nonce
                ? { 'dpop-nonce': mode.announcedNonce ?? mode.nonce }
                : {};
            send(400, { error: error.error, error_description: error.message }, headers);
            return;
          }
        }
        const accessToken = await new SignJWT({
          client_id: record.body.get('client_id') ?? 'basic',
          ...(jkt ? { cnf: { jkt } } : {}),
        })
          .setProtectedHeader({ alg: 'ES256' })
          .setIssuedAt()
          .setExpirationTime('5m')
          .setJti(crypto.randomUUID())
          .sign(privateKey);
        const headers: Record<string, string> = {};
        if (mode.nextNonce) {
          headers['dpop-nonce'] = mode.nextNonce;
          mode.nonce = mode.nextNonce;
          mode.nextNonce = undefined;
        }
        send(
          200,
          {
            access_token: accessToken,
            token_type: mode.tokenType ?? (jkt ? 'DPoP' : 'Bearer'),
            expires_in: 300,
          },
          headers,
        );
      })();
    });
  });
  const port = await listenOnLoopback(server);
  origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/oauth/token`,
    requests,
    mode,
    verify: async (token) => (await jwtVerify(token, publicKey)).payload,
    close: () => closeServer(server),
  };
}

/** A TokenCache that records the keys it is given. */
class RecordingCache implements TokenCache {
  readonly map = new Map<string, CachedToken>();
  readonly keys: string[] = [];
  get(key: string) {
    return this.map.get(key);
  }
  set(key: string, value: CachedToken) {
    this.keys.push(key);
    this.map.set(key, value);
  }
  delete(key: string) {
    this.map.delete(key);
  }
}

/** The last element of a cache key: the DPoP key binding (see src/cache/cache-key.ts). */
function bindingOf(cacheKey: string): unknown {
  return (JSON.parse(cacheKey) as unknown[]).at(-1);
}

let as: TokenEndpoint;
beforeAll(async () => {
  as = await startTokenEndpoint();
});
afterAll(async () => {
  await as.close();
});
beforeEach(() => {
  as.requests.length = 0;
  for (const key of Object.keys(as.mode)) delete as.mode[key as keyof TokenEndpointMode];
});

function client(extra: Partial<ClientCredentialsClientOptions> = {}): ClientCredentialsClient {
  return testClient({
    tokenEndpoint: as.url,
    clientId: 'svc',
    clientSecret: 'svc-secret',
    dpop: true,
    ...extra,
  });
}

// ---------------------------------------------------------------------------------------------

describe('DPoP proofs on token requests (RFC 9449 4.2, 5)', () => {
  it('dpop: true sends a valid ES256 proof with a public jwk, htm, htu, iat and a fresh jti', async () => {
    // A token endpoint has no fragment (RFC 6749 3.2, refused by the constructor); its query is no part of htu.
    const c = client({ tokenEndpoint: `${as.url}?tenant=a` });
    const token = await c.getToken();
    expect(token.tokenType).toBe('DPoP');
    const first = as.requests[0]!;
    expect(first.status).toBe(200);
    const proof = first.proof!;
    expect(proof.header.typ).toBe('dpop+jwt');
    expect(proof.header.alg).toBe('ES256');
    // Only the public members: kty, crv, x, y (RFC 9449 4.2: never the private key).
    expect(Object.keys(proof.header.jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(proof.payload.htm).toBe('POST');
    // htu without the query.
    expect(proof.payload.htu).toBe(as.url);
    expect(Math.abs(Number(proof.payload.iat) - Date.now() / 1000)).toBeLessThan(5);
    expect(Buffer.from(proof.payload.jti!, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(proof.payload.ath).toBeUndefined();
    expect(proof.payload.nonce).toBeUndefined();
    // The token is bound to the proof key.
    expect((await as.verify(token.accessToken)).cnf).toEqual({ jkt: proof.jkt });

    await c.getToken({ forceRefresh: true });
    const second = as.requests[1]!.proof!;
    expect(second.payload.jti).not.toBe(proof.payload.jti);
    expect(second.jkt).toBe(proof.jkt);
  });

  it('without the dpop option no proof is sent, and a DPoP token type is refused (RFC 6749 7.1)', async () => {
    const plain = client({ dpop: undefined });
    const token = await plain.getToken();
    expect(token.tokenType).toBe('Bearer');
    expect(as.requests[0]!.headers.dpop).toBeUndefined();
    as.mode.tokenType = 'DPoP';
    await expect(plain.getToken({ forceRefresh: true })).rejects.toMatchObject({
      name: 'HttpError',
      code: ErrorCode.HTTP,
    });
  });

  it('refuses a Bearer token when DPoP was asked for, without the token in the error', async () => {
    as.mode.tokenType = 'Bearer';
    const error = await client()
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).code).toBe(ErrorCode.HTTP);
    expect((error as HttpError).message).toMatch(/token_type "Bearer".*RFC 9449 5/);
    expect(JSON.stringify(error)).not.toMatch(/eyJ/);
    expect(String((error as HttpError).bodySnippet ?? '')).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });
});

describe('DPoP nonces from the authorization server (RFC 9449 8)', () => {
  it('answers use_dpop_nonce by repeating once with the nonce, then keeps using it', async () => {
    as.mode.nonce = 'nonce-1';
    const c = client();
    const token = await c.getToken();
    expect(token.tokenType).toBe('DPoP');
    expect(as.requests.map((r) => r.status)).toEqual([400, 200]);
    expect(as.requests[0]!.proof).toBeUndefined();
    expect(as.requests[1]!.proof!.payload.nonce).toBe('nonce-1');

    // The nonce is remembered: the next request carries it at once.
    await c.getToken({ forceRefresh: true });
    expect(as.requests.map((r) => r.status)).toEqual([400, 200, 200]);
    expect(as.requests[2]!.proof!.payload.nonce).toBe('nonce-1');
  });

  it('remembers the newest nonce, also one sent with a token', async () => {
    as.mode.nonce = 'nonce-a';
    const c = client();
    await c.getToken();
    as.mode.nextNonce = 'nonce-b';
    await c.getToken({ forceRefresh: true }); // carries nonce-a, answered with DPoP-Nonce: nonce-b
    await c.getToken({ forceRefresh: true });
    expect(as.requests.map((r) => [r.status, r.proof?.payload.nonce])).toEqual([
      [400, undefined],
      [200, 'nonce-a'],
      [200, 'nonce-a'],
      [200, 'nonce-b'],
    ]);
  });

  it('repeats only once: a second use_dpop_nonce is the OAuthError', async () => {
    as.mode.nonce = 'nonce-required';
    as.mode.announcedNonce = 'nonce-announced';
    const error = await client()
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('use_dpop_nonce');
    expect(as.requests.map((r) => r.status)).toEqual([400, 400]);
  });

  it('does not repeat a use_dpop_nonce that came without a DPoP-Nonce header', async () => {
    as.mode.nonce = 'nonce-z';
    as.mode.omitNonceHeader = true;
    const error = await client()
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('use_dpop_nonce');
    expect(as.requests).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('DPoP keys (RFC 9449 4.2) and cache keys', () => {
  const publicOf = (jwk: JWK): JWK => {
    const { kty, crv, x, y, n, e } = jwk;
    return Object.fromEntries(
      Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined),
    ) as JWK;
  };

  const cases: Array<{
    name: string;
    alg: string;
    make: () => Promise<{ dpop: Record<string, unknown>; publicJwk: JWK }>;
  }> = [
    {
      name: 'an EC P-384 private JWK',
      alg: 'ES384',
      make: async () => {
        const { privateKey } = await generateKeyPair('ES384', { extractable: true });
        const jwk = { ...(await exportJWK(privateKey)), kid: 'k1', use: 'sig' };
        return { dpop: { privateKey: jwk }, publicJwk: publicOf(jwk) };
      },
    },
    {
      name: 'a PKCS#8 RSA PEM with algorithm PS256',
      alg: 'PS256',
      make: async () => {
        const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
        return {
          dpop: { privateKey: await exportPKCS8(privateKey), algorithm: 'PS256' },
          publicJwk: publicOf(await exportJWK(privateKey)),
        };
      },
    },
    {
      name: 'a SEC1 EC PEM',
      alg: 'ES256',
      make: async () => {
        const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const pem = pair.privateKey.export({ type: 'sec1', format: 'pem' }) as string;
        return {
          dpop: { privateKey: pem },
          publicJwk: publicOf(pair.publicKey.export({ format: 'jwk' }) as JWK),
        };
      },
    },
    {
      name: 'an Ed25519 KeyObject',
      alg: 'EdDSA',
      make: async () => {
        const pair = generateKeyPairSync('ed25519');
        return {
          dpop: { privateKey: pair.privateKey },
          publicJwk: publicOf(pair.publicKey.export({ format: 'jwk' }) as JWK),
        };
      },
    },
    {
      name: 'a non-extractable CryptoKey with its public JWK',
      alg: 'ES256',
      make: async () => {
        const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: false });
        const publicJwk = await exportJWK(publicKey);
        return { dpop: { privateKey, publicKey: publicJwk }, publicJwk: publicOf(publicJwk) };
      },
    },
    {
      name: 'an extractable EdDSA CryptoKey alone',
      alg: 'EdDSA',
      make: async () => {
        const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
        return { dpop: { privateKey }, publicJwk: publicOf(await exportJWK(publicKey)) };
      },
    },
    {
      name: 'a CryptoKey pair',
      alg: 'ES256',
      make: async () => {
        const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: false });
        return { dpop: { privateKey, publicKey }, publicJwk: publicOf(await exportJWK(publicKey)) };
      },
    },
  ];

  for (const { name, alg, make } of cases) {
    it(`signs proofs with ${name}; the cache key holds its RFC 7638 thumbprint`, async () => {
      const { dpop, publicJwk } = await make();
      const cache = new RecordingCache();
      const c = client({ dpop, cache });
      const token = await c.getToken();
      const proof = as.requests[0]!.proof!;
      const thumbprint = await calculateJwkThumbprint(publicJwk, 'sha256');
      expect(proof.header.alg).toBe(alg);
      expect(proof.header.jwk).toEqual(publicJwk);
      // RFC 9449 4.2: the proof names its key by `jwk`; a JWK's own kid is not sent (nor needed).
      expect(proof.header).not.toHaveProperty('kid');
      expect(proof.jkt).toBe(thumbprint);
      expect((await as.verify(token.accessToken)).cnf).toEqual({ jkt: thumbprint });
      expect(cache.keys).toHaveLength(1);
      expect(bindingOf(cache.keys[0]!)).toBe(thumbprint);
    });
  }

  it('clients with the same key share cached tokens; generated keys and Bearer clients never do', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    const cache = new MemoryTokenCache();
    const a = client({ dpop: { privateKey: jwk }, cache });
    const b = client({ dpop: { privateKey: jwk }, cache });
    const tokenA = await a.getToken();
    const tokenB = await b.getToken();
    expect(tokenB.accessToken).toBe(tokenA.accessToken);
    expect(as.requests).toHaveLength(1);

    const g1 = client({ cache });
    const g2 = client({ cache });
    const bearer = client({ dpop: false, cache });
    const [t1, t2, t3] = [await g1.getToken(), await g2.getToken(), await bearer.getToken()];
    expect(as.requests).toHaveLength(4);
    expect(new Set([tokenA.accessToken, t1.accessToken, t2.accessToken, t3.accessToken]).size).toBe(4);
    expect(t3.tokenType).toBe('Bearer');
    // The generated key is reused by its own client: a second call is a cache hit.
    expect((await g1.getToken()).accessToken).toBe(t1.accessToken);
    expect(as.requests).toHaveLength(4);
  });

  it('a generated key is bound by its own RFC 7638 thumbprint, so clients never share tokens', async () => {
    const cache = new RecordingCache();
    await client({ cache }).getToken();
    await client({ cache }).getToken();
    const [k1, k2] = cache.keys.map(bindingOf);
    // The binding is the thumbprint the server puts in cnf.jkt.
    expect(k1).toBe(as.requests[0]!.proof!.jkt);
    expect(k2).toBe(as.requests[1]!.proof!.jkt);
    expect(k1).not.toBe(k2);
    expect(as.requests[0]!.proof!.jkt).not.toBe(as.requests[1]!.proof!.jkt);
  });

  it('dpop: { algorithm } generates a key pair of that algorithm', async () => {
    await client({ dpop: { algorithm: 'EdDSA' } }).getToken();
    const proof = as.requests[0]!.proof!;
    expect(proof.header.alg).toBe('EdDSA');
    expect(proof.header.jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
  });

  it('checks the dpop option synchronously, naming the option', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const bad: Array<[unknown, string]> = [
      ['yes', 'dpop'],
      [{ privatekey: 'x' }, 'dpop.privatekey'],
      [{ algorithm: 'HS256' }, 'dpop.algorithm'],
      [{ privateKey: 'not a key' }, 'dpop.privateKey'],
      [{ privateKey: { kty: 'oct', k: 'c2VjcmV0' } }, 'dpop.privateKey'],
      [{ privateKey }, 'dpop.publicKey'],
      [{ privateKey, publicKey: { kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'c' } }, 'dpop.publicKey'],
      [{ publicKey: { kty: 'EC' } }, 'dpop.publicKey'],
    ];
    for (const [dpop, option] of bad) {
      let error: unknown;
      try {
        client({ dpop: dpop as ClientCredentialsClientOptions['dpop'] });
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(option)).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).option).toBe(option);
    }
    expect(as.requests).toHaveLength(0);
  });

  it('a public key that does not belong to the private key, or an algorithm the key cannot use, fails on first use', async () => {
    const one = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const mismatched = client({ dpop: { privateKey: one.privateKey, publicKey: other.publicKey } });
    await expect(mismatched.getToken()).rejects.toMatchObject({
      name: 'ConfigurationError',
      option: 'dpop.publicKey',
    });

    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const wrongAlg = client({ dpop: { privateKey: p384.privateKey as never, algorithm: 'ES256' } });
    await expect(wrongAlg.getToken()).rejects.toMatchObject({
      name: 'ConfigurationError',
      option: 'dpop.algorithm',
    });
    expect(as.requests).toHaveLength(0);
  });

  it('never shows the private key: not in the proof, nor the client, token, events or errors as a logger prints them', async () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    const d = (createPrivateKey(pem).export({ format: 'jwk' }) as JWK).d!;
    const events: TokenEvent[] = [];
    const c = client({ dpop: { privateKey: pem }, onEvent: (e) => events.push(e) });
    const token = await c.getToken();
    // A server that downgrades to Bearer: the next token request fails with a DPoP error.
    as.mode.tokenType = 'Bearer';
    const error = await c.getToken({ forceRefresh: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(M2MTokenError);
    const header = decodeProtectedHeader(as.requests[0]!.headers.dpop as string);
    expect(header.jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    const shown = [
      JSON.stringify(header),
      exposures(c),
      JSON.stringify(c),
      exposures(token),
      JSON.stringify(token),
      exposures(error),
      inspect(events, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    ].join('\n');
    expect(shown).not.toContain(d);
    expect(shown).not.toContain('PRIVATE KEY');
    expect(leakedRuns(shown, pem.replace(/-----[A-Z ]+-----|\s/g, ''))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('fetch wrapper with DPoP (RFC 9449 7)', () => {
  let rs: DpopResourceServer;
  let nonceRs: DpopResourceServer;
  beforeAll(async () => {
    rs = await startDpopResourceServer({ verifyAccessToken: (token) => as.verify(token) });
    nonceRs = await startDpopResourceServer({
      verifyAccessToken: (token) => as.verify(token),
      requireNonce: true,
    });
  });
  afterAll(async () => {
    await Promise.all([rs.close(), nonceRs.close()]);
  });
  beforeEach(() => {
    rs.requests.length = 0;
    nonceRs.requests.length = 0;
  });

  it('sends Authorization: DPoP and a fresh proof with ath for every request; the resource server accepts them', async () => {
    const c = client();
    const res = await c.fetch(`${rs.url}/geocode?address=Berlin#x`, { method: 'POST', body: 'hello' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      ok: boolean;
      method: string;
      path: string;
      body: string;
      jkt: string;
    };
    expect(body).toMatchObject({ ok: true, method: 'POST', path: '/geocode?address=Berlin', body: 'hello' });
    const second = await c.fetch(`${rs.url}/other`);
    expect(second.status).toBe(200);
    expect(rs.requests.map((r) => [r.scheme, r.status])).toEqual([
      ['dpop', 200],
      ['dpop', 200],
    ]);
    // One token, two different proofs, both bound to it (ath) and to the token's key.
    const [one, two] = rs.requests;
    expect(one!.accessToken).toBe(two!.accessToken);
    expect(one!.proof).not.toBe(two!.proof);
    const jtiOf = (proof: string) => decodeJwt(proof).jti;
    expect(jtiOf(one!.proof!)).not.toBe(jtiOf(two!.proof!));
    expect(one!.proofAth).toBe(
      Buffer.from(
        await crypto.subtle.digest('SHA-256', new TextEncoder().encode(one!.accessToken!)),
      ).toString('base64url'),
    );
    expect(as.requests).toHaveLength(1);
    expect((await as.verify(one!.accessToken!)).cnf).toEqual({ jkt: body.jkt });
  });

  it('the resource server rejects a replayed proof', async () => {
    const c = client();
    expect((await c.fetch(`${rs.url}/data`)).status).toBe(200);
    const { proof, accessToken } = rs.requests[0]!;
    const replayed = await fetch(`${rs.url}/data`, {
      headers: { authorization: `DPoP ${accessToken}`, dpop: proof! },
    });
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
    expect(rs.requests[1]!.reason).toBe('jti replayed');
    // A proof made for another URL is refused too (htu), as is the token without a proof.
    const elsewhere = await fetch(`${rs.url}/elsewhere`, {
      headers: { authorization: `DPoP ${accessToken}`, dpop: proof! },
    });
    expect(elsewhere.status).toBe(401);
    const bearer = await fetch(`${rs.url}/data`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(bearer.status).toBe(401);
  });

  it("handles the resource server's DPoP-Nonce with one retry, then sends the nonce at once (RFC 9449 9)", async () => {
    const c = client();
    const res = await c.fetch(`${nonceRs.url}/data`);
    expect(res.status).toBe(200);
    expect(nonceRs.requests.map((r) => [r.status, r.error, r.proofNonce])).toEqual([
      [401, 'use_dpop_nonce', undefined],
      [200, undefined, nonceRs.nonce],
    ]);
    expect((await c.fetch(`${nonceRs.url}/data`)).status).toBe(200);
    expect(nonceRs.requests).toHaveLength(3);
    expect(nonceRs.requests[2]!.proofNonce).toBe(nonceRs.nonce);
    // Nonces are per origin: the token endpoint never saw the resource server's nonce.
    expect(as.requests.every((r) => r.proof?.payload.nonce === undefined)).toBe(true);
  });

  it('after a 401 invalid_token, gets a new token and retries with a fresh proof', async () => {
    const c = client();
    expect((await c.fetch(`${rs.url}/data`)).status).toBe(200);
    rs.rejectToken(rs.requests[0]!.accessToken!);
    const res = await c.fetch(`${rs.url}/data`);
    expect(res.status).toBe(200);
    expect(rs.requests.map((r) => [r.status, r.error])).toEqual([
      [200, undefined],
      [401, 'invalid_token'],
      [200, undefined],
    ]);
    expect(rs.requests[2]!.accessToken).not.toBe(rs.requests[0]!.accessToken);
    expect(as.requests).toHaveLength(2);
  });
});

// ---------------------------------------------------------------------------------------------

describe('interop: oidc-provider with DPoP', () => {
  let op: OidcProviderHarness;
  let nonceOp: OidcProviderHarness;
  beforeAll(async () => {
    [op, nonceOp] = await Promise.all([
      startOidcProvider({ dpop: true }),
      startOidcProvider({ dpopNonce: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([op?.close(), nonceOp?.close()]);
  });

  const opClient = (harness: OidcProviderHarness, extra: Partial<ClientCredentialsClientOptions> = {}) =>
    new ClientCredentialsClient({
      tokenEndpoint: harness.tokenEndpoint,
      clientId: harness.clients.basic.clientId,
      clientSecret: harness.clients.basic.clientSecret!,
      resource: harness.resources.jwt,
      scope: 'api:read',
      retry: false,
      dpop: true,
      ...extra,
    });

  it('gets a DPoP token whose cnf.jkt is the thumbprint of the proof key (generated key)', async () => {
    const token = await opClient(op).getToken();
    expect(token.tokenType).toBe('DPoP');
    const sent = op.lastRequest()!;
    expect(sent.status).toBe(200);
    const { jwk } = decodeProtectedHeader(sent.headers.dpop as string);
    expect(decodeJwt(token.accessToken).cnf).toEqual({
      jkt: await calculateJwkThumbprint(jwk as JWK, 'sha256'),
    });
  });

  it('with a given key and through discovery: cnf.jkt is that key and the cache key holds it', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jkt = await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
    const cache = new RecordingCache();
    const c = new ClientCredentialsClient({
      issuer: op.issuer,
      clientId: op.clients.privateKeyJwtEs256.clientId,
      privateKey: op.clients.privateKeyJwtEs256.key!.privateKeyPem,
      resource: op.resources.jwt,
      retry: false,
      cache,
      dpop: { privateKey: await exportPKCS8(privateKey) },
    });
    const token = await c.getToken();
    expect(token.tokenType).toBe('DPoP');
    expect(decodeJwt(token.accessToken).cnf).toEqual({ jkt });
    expect(bindingOf(cache.keys[0]!)).toBe(jkt);
  });

  it('completes the nonce round trip: use_dpop_nonce, repeat with the nonce, then the nonce at once', async () => {
    const c = opClient(nonceOp);
    const before = nonceOp.requests.length;
    const token = await c.getToken();
    expect(token.tokenType).toBe('DPoP');
    const seen = nonceOp.requests.slice(before).filter((r) => r.path.endsWith('/token'));
    expect(seen.map((r) => r.status)).toEqual([400, 200]);
    const nonce = decodeJwt(seen[1]!.headers.dpop as string).nonce;
    expect(typeof nonce).toBe('string');
    expect(decodeJwt(seen[0]!.headers.dpop as string).nonce).toBeUndefined();

    await c.getToken({ forceRefresh: true });
    const after = nonceOp.requests.slice(before).filter((r) => r.path.endsWith('/token'));
    expect(after.map((r) => r.status)).toEqual([400, 200, 200]);
    expect(decodeJwt(after[2]!.headers.dpop as string).nonce).toBeTypeOf('string');
  });

  it('end to end: the wrapper calls a resource server that checks the oidc-provider token and the proofs', async () => {
    const jwks = createLocalJWKSet((await (await fetch(op.jwksUri)).json()) as { keys: JWK[] });
    const api = await startDpopResourceServer({
      verifyAccessToken: async (token) =>
        (await jwtVerify(token, jwks, { issuer: op.issuer, audience: op.resources.jwt, typ: 'at+jwt' }))
          .payload,
      requireNonce: true,
    });
    try {
      const c = opClient(op);
      const res = await c.fetch(`${api.url}/v1/items?limit=1`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { jkt: string; claims: JWTPayload };
      expect(body.claims.client_id).toBe(op.clients.basic.clientId);
      expect(body.claims.cnf).toEqual({ jkt: body.jkt });
      // The nonce round trip at the resource server, then success.
      expect(api.requests.map((r) => r.status)).toEqual([401, 200]);
    } finally {
      await api.close();
    }
  });
});
