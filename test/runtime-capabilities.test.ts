/**
 * Capability detection (issue 14): what the main entry does where a Node.js piece is missing or is a
 * stub, simulated in Node by changing exactly what the detection reads. The real runtimes (Bun, Deno,
 * workerd) run the same paths in the runtime matrix (`npm run test:runtimes`).
 *
 * - workerd's nodejs_compat (older releases) has `node:crypto` whose createPrivateKey, createPublicKey
 *   and generateKeyPairSync throw ERR_METHOD_NOT_IMPLEMENTED: PEM keys and `dpop: true` must then take
 *   Web Crypto, or fail with a ConfigurationError naming the option, never the raw error.
 * - Bun's and Deno's fetch ignore undici dispatchers: mTLS through the built-in fetch must fail at
 *   construction, not send a request without the certificate.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
} from '../src/index.js';
import { thrownBy } from './helpers/outcomes.js';
import { ENDPOINT, fakeTokenEndpoint } from './helpers/token-endpoint.js';

const builtinCrypto = process.getBuiltinModule('node:crypto');
const STUBBED = ['createPrivateKey', 'createPublicKey', 'generateKeyPairSync'] as const;
const originals = Object.fromEntries(STUBBED.map((name) => [name, builtinCrypto[name]]));
const realVersions = Object.getOwnPropertyDescriptor(process, 'versions') as PropertyDescriptor;

/** node:crypto as workerd's older nodejs_compat has it: these functions throw ERR_METHOD_NOT_IMPLEMENTED. */
function stubNodeCrypto(): void {
  for (const name of STUBBED) {
    (builtinCrypto as Record<string, unknown>)[name] = () => {
      throw Object.assign(new Error(`crypto.${name} is not implemented`), {
        code: 'ERR_METHOD_NOT_IMPLEMENTED',
      });
    };
  }
}

/** A runtime whose fetch is not undici (Bun, Deno): no process.versions.undici. */
function hideBuiltinUndici(): void {
  const { undici: _, ...others } = process.versions;
  Object.defineProperty(process, 'versions', { ...realVersions, value: others });
}

afterEach(() => {
  Object.assign(builtinCrypto, originals);
  Object.defineProperty(process, 'versions', realVersions);
});

const pkcs8 = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }) as string;

/** A token endpoint that binds tokens to the DPoP key (answers token_type DPoP). */
const dpopTokenEndpoint = () =>
  fakeTokenEndpoint({
    respond: () =>
      new Response(JSON.stringify({ access_token: 'bound', token_type: 'DPoP', expires_in: 60 }), {
        headers: { 'content-type': 'application/json' },
      }),
  });

/** A client of the test token endpoint, as an edge service would make it; `options` adds its credentials. */
const edgeClient = (options: Partial<ClientCredentialsClientOptions>) =>
  new ClientCredentialsClient({
    tokenEndpoint: ENDPOINT,
    clientId: 'edge-client',
    ...options,
  } as ClientCredentialsClientOptions);

describe('PEM keys where node:crypto is a stub (workerd nodejs_compat)', () => {
  const keys = {
    RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    ES384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    ES512: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    EdDSA: generateKeyPairSync('ed25519'),
  };

  it.each(Object.keys(keys) as (keyof typeof keys)[])(
    'a PKCS#8 %s key signs through Web Crypto, its algorithm read from the key',
    async (alg) => {
      const { privateKey, publicKey } = keys[alg];
      const pem = pkcs8(privateKey);
      stubNodeCrypto();
      const endpoint = fakeTokenEndpoint();
      const client = edgeClient({
        privateKey: pem,
        fetch: endpoint.fetch,
      });
      await client.getToken();
      const assertion = endpoint.requests[0]?.params.get('client_assertion') as string;
      expect(decodeProtectedHeader(assertion).alg).toBe(alg);
      Object.assign(builtinCrypto, originals);
      const { payload } = await jwtVerify(assertion, publicKey, { audience: ENDPOINT });
      expect(payload.sub).toBe('edge-client');
    },
  );

  it.each([
    ['PKCS#1', 'rsa', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
    ['SEC1', 'ec', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
  ] as const)(
    'a %s key is a ConfigurationError naming privateKey and the conversion',
    async (_, kind, key) => {
      const pem = key.export({ format: 'pem', type: kind === 'rsa' ? 'pkcs1' : 'sec1' }) as string;
      stubNodeCrypto();
      const endpoint = fakeTokenEndpoint();
      const client = edgeClient({
        privateKey: pem,
        fetch: endpoint.fetch,
      });
      const error = await client.getToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).option).toBe('privateKey');
      expect((error as Error).message).toMatch(/PKCS#8.*openssl pkcs8 -topk8/);
      expect((error as Error).message).not.toContain('ERR_METHOD_NOT_IMPLEMENTED');
      expect(endpoint.count).toBe(0);
    },
  );

  it('dpop: true makes its proof key with Web Crypto', async () => {
    stubNodeCrypto();
    const endpoint = dpopTokenEndpoint();
    const client = edgeClient({
      clientSecret: 'edge-secret',
      dpop: true,
      fetch: endpoint.fetch,
    });
    const token = await client.getToken();
    expect(token.tokenType).toBe('DPoP');
    const proof = endpoint.requests[0]?.headers.get('dpop') as string;
    const header = decodeProtectedHeader(proof);
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' });
    const { payload } = await jwtVerify(proof, header.jwk as JWK);
    expect(payload).toMatchObject({ htm: 'POST', htu: ENDPOINT });
  });

  it('dpop with a PKCS#8 PEM key: proofs carry its public key, no dpop.algorithm needed', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const pem = pkcs8(privateKey);
    stubNodeCrypto();
    const endpoint = dpopTokenEndpoint();
    const client = edgeClient({
      clientSecret: 'edge-secret',
      dpop: { privateKey: pem },
      fetch: endpoint.fetch,
    });
    await client.getToken();
    const proof = endpoint.requests[0]?.headers.get('dpop') as string;
    Object.assign(builtinCrypto, originals);
    const header = decodeProtectedHeader(proof);
    expect(header.alg).toBe('ES384');
    expect(header.jwk).toEqual(publicKey.export({ format: 'jwk' }));
    await jwtVerify(proof, publicKey);
  });
});

describe('dpop: { privateKey: CryptoKey } alone, without node:crypto', () => {
  it('an extractable key: its public part is exported with Web Crypto', async () => {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    stubNodeCrypto();
    const endpoint = dpopTokenEndpoint();
    const client = edgeClient({
      clientSecret: 'edge-secret',
      dpop: { privateKey: pair.privateKey },
      fetch: endpoint.fetch,
    });
    await client.getToken();
    const proof = endpoint.requests[0]?.headers.get('dpop') as string;
    const header = decodeProtectedHeader(proof);
    expect(header.jwk).not.toHaveProperty('d');
    await jwtVerify(proof, pair.publicKey);
  });

  it('a non-extractable key: ConfigurationError naming dpop.publicKey, at construction', async () => {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ]);
    stubNodeCrypto();
    const error = thrownBy(() =>
      edgeClient({ clientSecret: 'edge-secret', dpop: { privateKey: pair.privateKey } }),
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ option: 'dpop.publicKey' });
  });
});

describe('mTLS where the fetch in use cannot carry a client certificate', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const mtls = {
    tokenEndpoint: ENDPOINT,
    clientId: 'mtls-client',
    authMethod: 'tls_client_auth',
    certificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    privateKey: pkcs8(privateKey),
  } as const;

  it('the built-in fetch ignores dispatchers (Bun, Deno): ConfigurationError at construction naming fetch', () => {
    hideBuiltinUndici();
    const construct = () => new ClientCredentialsClient(mtls);
    expect(construct).toThrow(ConfigurationError);
    const error = (() => {
      try {
        construct();
      } catch (e) {
        return e as ConfigurationError;
      }
    })();
    expect(error?.option).toBe('fetch');
    // Says how to do it on each runtime whose fetch ignores dispatchers.
    expect(error?.message).toMatch(/Deno: pass `fetch` and `dispatcher` from npm:undici/);
    expect(error?.message).toMatch(/Bun: .*`tls`/);
    // Also when the certificate comes in the caller's own dispatcher: the built-in fetch drops it too.
    expect(() => new ClientCredentialsClient({ ...mtls, dispatcher: { dispatch: () => false } })).toThrow(
      ConfigurationError,
    );
  });

  it('a fetch of the caller’s own (undici’s, or one that presents the certificate) is trusted', () => {
    hideBuiltinUndici();
    const ownFetch: typeof fetch = (input, init) => fetch(input, init);
    expect(() => new ClientCredentialsClient({ ...mtls, fetch: ownFetch })).not.toThrow();
  });

  it('Node’s built-in fetch (undici) takes the dispatcher: no error', () => {
    expect(() => new ClientCredentialsClient(mtls)).not.toThrow();
  });
});
