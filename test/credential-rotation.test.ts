/**
 * Rotation without restart (issue 16.2): `clientSecret` and `privateKey` given as functions (sync or
 * async). Called on the first token request and kept; after a refused client (invalid_client, or a
 * 401/403 to the token request, as Basic auto-detection judges it) called once more and, if the value
 * changed, the request is repeated once. Against the example auth server (a secret rotated in its
 * config while the client runs), a Glewlwyd-like server answering an empty 403, and a server that
 * verifies assertions with the key registered now.
 */
import { inspect } from 'node:util';
import { createLocalJWKSet, exportJWK, exportPKCS8, generateKeyPair, type JWK, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServer, type AuthServerConfig, startAuthServer } from '../examples/auth-server/server.js';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  HttpError,
  OAuthError,
  type TokenEvent,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { type LoopbackServer, type ReceivedRequest, startLoopbackServer } from './helpers/loopback-server.js';
import { thrownBy } from './helpers/outcomes.js';

// ---------------------------------------------------------------------------------------------
// A scripted token endpoint: accepts the secret (Basic or post) or the key registered now.

let server: LoopbackServer;
let acceptedSecret = 'secret-v2';
/** Answer to a refused client: an OAuth error body (401), or Glewlwyd's empty 403 / an empty 401. */
let refusal: 'invalid_client' | 'empty 403' | 'empty 401' = 'invalid_client';
/** Forces other answers (an error that says nothing about the credentials). */
let override: { status: number; body: unknown } | undefined;
let registeredKey: JWK | undefined;
let issued = 0;

function secretOf(request: ReceivedRequest): string | undefined {
  const basic = /^Basic (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString();
    return decodeURIComponent(decoded.slice(decoded.indexOf(':') + 1).replace(/\+/g, ' '));
  }
  return new URLSearchParams(request.body).get('client_secret') ?? undefined;
}

const tokenRequests = () => server.requests.filter((r) => r.path === '/oauth/token');
const sentSecrets = () => tokenRequests().map(secretOf);

beforeAll(async () => {
  server = await startLoopbackServer();
  // The scripted server answers synchronously: key checks run before, in the test (see `verified`).
  server.answer((request) => {
    if (override) return json(override.status, override.body);
    const assertion = new URLSearchParams(request.body).get('client_assertion');
    const ok = assertion !== null ? verified.has(assertion) : secretOf(request) === acceptedSecret;
    if (!ok) {
      if (refusal === 'empty 403') return { status: 403, body: '' };
      if (refusal === 'empty 401') return { status: 401, body: '' };
      return json(401, { error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    issued++;
    return json(200, { access_token: `at-${issued}`, token_type: 'Bearer', expires_in: 3600 });
  });
});

afterAll(() => server.close());

afterEach(() => {
  server.requests.length = 0;
  issued = 0;
  acceptedSecret = 'secret-v2';
  refusal = 'invalid_client';
  override = undefined;
  registeredKey = undefined;
  verified.clear();
});

function json(status: number, body: unknown) {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** Assertions signed by the registered key (checked with jose before the server answers). */
const verified = new Set<string>();

/** A fetch that checks an assertion's signature against the registered key, then sends the request. */
const verifyingFetch: typeof globalThis.fetch = async (input, init) => {
  const assertion = new URLSearchParams(String(init?.body ?? '')).get('client_assertion');
  if (assertion !== null && registeredKey !== undefined) {
    try {
      await jwtVerify(assertion, createLocalJWKSet({ keys: [registeredKey] }));
      verified.add(assertion);
    } catch {
      // not signed by the registered key: the server refuses it
    }
  }
  return globalThis.fetch(input, init);
};

function makeClient(extra: Partial<ClientCredentialsClientOptions>): ClientCredentialsClient {
  return testClient({
    tokenEndpoint: `${server.origin}/oauth/token`,
    clientId: 'rotating-client',
    ...extra,
  });
}

/** A secret function returning `values` in turn (the last one from then on), counting its calls. */
function secrets(...values: string[]) {
  const state = {
    calls: 0,
    /** How long the vault takes to answer, ms. */
    latencyMs: 0,
    provide: async () => {
      const value = values[Math.min(state.calls++, values.length - 1)] as string;
      if (state.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, state.latencyMs));
      return value;
    },
  };
  return state;
}

// ---------------------------------------------------------------------------------------------

describe('clientSecret as a function', () => {
  it('called on the first token request and kept: not once per request', async () => {
    const vault = secrets('secret-v2');
    const client = makeClient({ clientSecret: vault.provide, audience: 'urn:a' });
    expect(vault.calls).toBe(0); // nothing at construction
    await client.getToken();
    await client.getToken();
    await client.getToken({ forceRefresh: true });
    await Promise.all([client.getToken({ audience: 'urn:b' }), client.getToken({ audience: 'urn:c' })]);
    expect(vault.calls).toBe(1);
    expect(sentSecrets()).toEqual(Array(4).fill('secret-v2'));
  });

  it('a sync function works the same', async () => {
    let calls = 0;
    const client = makeClient({
      clientSecret: () => {
        calls++;
        return 'secret-v2';
      },
    });
    await client.getToken();
    await client.getToken({ forceRefresh: true });
    expect(calls).toBe(1);
  });

  it.each([
    ['invalid_client (401 with an OAuth body)', 'invalid_client' as const],
    ["Glewlwyd's empty 403", 'empty 403' as const],
    ['an empty 401', 'empty 401' as const],
  ])('after %s: called again, and the changed value repeats the request once', async (_, answer) => {
    refusal = answer;
    const vault = secrets('secret-v1', 'secret-v2');
    const events: TokenEvent[] = [];
    const client = makeClient({ clientSecret: vault.provide, onEvent: (e) => events.push(e) });
    const token = await client.getToken();
    expect(token.accessToken).toBe('at-1');
    expect(vault.calls).toBe(2);
    expect(sentSecrets()).toEqual(['secret-v1', 'secret-v2']);
    const rotated = events.filter((e) => e.type === 'credential_rotated');
    expect(rotated).toHaveLength(1);
    expect(rotated[0]).toMatchObject({ credential: 'clientSecret', key: { clientId: 'rotating-client' } });
    const start = events.find((e) => e.type === 'token_request_start');
    expect((rotated[0] as { requestId: string }).requestId).toBe((start as { requestId: string }).requestId);
    expect(JSON.stringify(events)).not.toMatch(/secret-v/);

    // Kept from then on: one request per token, no call.
    await client.getToken({ forceRefresh: true });
    expect(vault.calls).toBe(2);
    expect(sentSecrets()).toEqual(['secret-v1', 'secret-v2', 'secret-v2']);
  });

  it('the same value after the refusal: the refusal is the answer, no repeat, no event', async () => {
    const vault = secrets('secret-v1');
    const events: TokenEvent[] = [];
    const client = makeClient({ clientSecret: vault.provide, onEvent: (e) => events.push(e) });
    const error = await client.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_client');
    expect(vault.calls).toBe(2);
    expect(tokenRequests()).toHaveLength(1);
    expect(events.some((e) => e.type === 'credential_rotated')).toBe(false);
  });

  it('a changed value that is refused too: that refusal, after exactly two requests (no loop)', async () => {
    const vault = secrets('secret-v0', 'secret-v1', 'secret-v2');
    const client = makeClient({ clientSecret: vault.provide });
    await expect(client.getToken()).rejects.toBeInstanceOf(OAuthError);
    expect(sentSecrets()).toEqual(['secret-v0', 'secret-v1']);
    expect(vault.calls).toBe(2);
    // The next call: one refusal with v1, a renewal to v2, which works.
    await client.getToken();
    expect(sentSecrets()).toEqual(['secret-v0', 'secret-v1', 'secret-v1', 'secret-v2']);
  });

  it.each([
    ['invalid_scope (400)', 400, { error: 'invalid_scope' }],
    ['a server error (500)', 500, { error: 'server_error' }],
  ])('%s says nothing about the secret: the function is not called again', async (_, status, body) => {
    override = { status, body };
    const vault = secrets('secret-v1', 'secret-v2');
    await expect(makeClient({ clientSecret: vault.provide }).getToken()).rejects.toThrow();
    expect(vault.calls).toBe(1);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('refusals of concurrent requests for several keys: one renewal, each request repeated once', async () => {
    const vault = secrets('secret-v1', 'secret-v2');
    // A slow vault: every refusal arrives while the first renewal still waits for it.
    vault.latencyMs = 100;
    const events: TokenEvent[] = [];
    const client = makeClient({ clientSecret: vault.provide, onEvent: (e) => events.push(e) });
    const tokens = await Promise.all(
      ['urn:a', 'urn:b', 'urn:c', 'urn:d'].map((audience) => client.getToken({ audience })),
    );
    expect(tokens.map((t) => t.accessToken).sort()).toEqual(['at-1', 'at-2', 'at-3', 'at-4']);
    expect(vault.calls).toBe(2);
    expect(sentSecrets().filter((s) => s === 'secret-v1')).toHaveLength(4);
    expect(sentSecrets().filter((s) => s === 'secret-v2')).toHaveLength(4);
    expect(events.filter((e) => e.type === 'credential_rotated')).toHaveLength(1);
  });

  it.each([
    ['a trailing newline', 'secret-v2\n', 'contains a control character or a broken character at position 9'],
    ['an empty string', '', 'must be a non-empty string'],
    ['a number', 42, 'must be a non-empty string'],
  ])(
    'a value with %s: ConfigurationError naming clientSecret, with the constructor’s message',
    async (_, value, message) => {
      const client = makeClient({ clientSecret: () => value as string });
      const error = (await client.getToken().catch((e: unknown) => e)) as ConfigurationError;
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.option).toBe('clientSecret');
      expect(error.message).toContain(message);
      expect(error.message).toContain('the value the function returned');
      expect(tokenRequests()).toHaveLength(0);
      // The same check as the constructor's, same words.
      const direct = thrownBy(() => makeClient({ clientSecret: value as string })) as ConfigurationError;
      if (typeof value === 'string' && value !== '')
        expect(error.message).toContain(direct.message.split(' (')[0]);
    },
  );

  it('a renewal that returns a bad value: that ConfigurationError, not a silent repeat', async () => {
    const values = ['secret-v1', 'secret-v2\r\n'];
    let calls = 0;
    const client = makeClient({ clientSecret: () => values[Math.min(calls++, 1)] as string });
    const error = (await client.getToken().catch((e: unknown) => e)) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.option).toBe('clientSecret');
    expect(tokenRequests()).toHaveLength(1);
  });

  it('a function that rejects on first use: its error reaches the caller; the next call asks again', async () => {
    let calls = 0;
    const outage = new Error('vault sealed');
    const client = makeClient({
      clientSecret: async () => {
        calls++;
        if (calls === 1) throw outage;
        return 'secret-v2';
      },
    });
    await expect(client.getToken()).rejects.toBe(outage);
    await client.getToken();
    expect(calls).toBe(2);
  });

  it('no value in errors, events or inspect output, old or new', async () => {
    override = {
      status: 401,
      body: { error: 'invalid_client', error_description: 'got secret-v1 and secret-v2' },
    };
    const events: TokenEvent[] = [];
    const client = makeClient({
      clientSecret: secrets('secret-v1', 'secret-v2').provide,
      onEvent: (e) => events.push(e),
    });
    const error = (await client.getToken().catch((e: unknown) => e)) as OAuthError;
    for (const text of [
      error.message,
      inspect(error),
      JSON.stringify(error),
      JSON.stringify(events),
      inspect(client, { depth: 5 }),
    ]) {
      expect(text).not.toMatch(/secret-v\d/);
    }
  });

  it('with Basic auto-detection: a base64 secret from a function still finds the raw form, then rotates', async () => {
    // A server that compares raw Basic values (Glewlwyd, @node-oauth/oauth2-server): form-urlencoding
    // changes `+/=`, so the first form is refused and the raw one works.
    const rawOnly: typeof globalThis.fetch = async (_input, init) => {
      const basic = new Headers(init?.headers).get('authorization')?.slice(6);
      const decoded = basic ? Buffer.from(basic, 'base64').toString() : '';
      const raw = decoded.slice(decoded.indexOf(':') + 1);
      return raw === acceptedSecret
        ? Response.json({ access_token: `raw-${raw.length}`, token_type: 'Bearer', expires_in: 60 })
        : Response.json({ error: 'invalid_client' }, { status: 401 });
    };
    acceptedSecret = 'a+b/c=';
    const vault = secrets('a+b/c=', 'd+e/f=');
    const events: TokenEvent[] = [];
    const client = makeClient({
      clientSecret: vault.provide,
      fetch: rawOnly,
      onEvent: (e) => events.push(e),
    });
    await client.getToken();
    expect(events.filter((e) => e.type === 'auth_fallback').map((e) => [e.from, e.to])).toEqual([
      ['client_secret_basic (form-urlencoded)', 'client_secret_basic (raw)'],
    ]);
    // The secret rotates at the server: the remembered raw form is refused, the function gives the new
    // secret, and the raw form with it works: two requests, no second detection.
    acceptedSecret = 'd+e/f=';
    events.length = 0;
    await client.getToken({ forceRefresh: true });
    expect(vault.calls).toBe(2);
    expect(events.filter((e) => e.type === 'auth_fallback')).toHaveLength(0);
    expect(events.filter((e) => e.type === 'credential_rotated')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'token_request_success')).toHaveLength(1);
  });
});

describe('privateKey as a function (private_key_jwt)', () => {
  let key1: { pem: string; jwk: JWK };
  let key2: { pem: string; jwk: JWK };
  beforeAll(async () => {
    const make = async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      return { pem: await exportPKCS8(privateKey), jwk: { ...(await exportJWK(publicKey)), alg: 'ES256' } };
    };
    [key1, key2] = await Promise.all([make(), make()]);
  });

  it('the server now trusts only the new key: refused, the function gives it, the request is repeated', async () => {
    registeredKey = key2.jwk;
    let calls = 0;
    const events: TokenEvent[] = [];
    const client = makeClient({
      privateKey: async () => (++calls === 1 ? key1.pem : key2.pem),
      fetch: verifyingFetch,
      onEvent: (e) => events.push(e),
    });
    expect(inspect(client)).toContain("authMethod: 'private_key_jwt'");
    expect((await client.getToken()).accessToken).toBe('at-1');
    expect(calls).toBe(2);
    expect(tokenRequests()).toHaveLength(2);
    expect(events.filter((e) => e.type === 'credential_rotated').map((e) => e.credential)).toEqual([
      'privateKey',
    ]);
    expect(JSON.stringify(events)).not.toContain('PRIVATE KEY');
  });

  it('the same key again (a new JWK object with the same content): no repeat', async () => {
    registeredKey = key2.jwk;
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    let calls = 0;
    const client = makeClient({
      privateKey: () => {
        calls++;
        return { ...jwk };
      },
      fetch: verifyingFetch,
    });
    await expect(client.getToken()).rejects.toBeInstanceOf(OAuthError);
    expect(calls).toBe(2);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('a value that is not a key: ConfigurationError naming privateKey, with the constructor’s message', async () => {
    const error = (await makeClient({ privateKey: () => 'not a key' })
      .getToken()
      .catch((e: unknown) => e)) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.option).toBe('privateKey');
    expect(error.message).toContain('must be a PEM private key');
  });
});

describe('options', () => {
  const CERTIFICATE = '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----';
  const CASES: ReadonlyArray<readonly [string, Record<string, unknown>, string, string]> = [
    ['clientSecret: 42', { clientSecret: 42 }, 'clientSecret', 'a function returning one'],
    [
      'a privateKey function with a certificate (x5t#S256)',
      { privateKey: () => 'k', certificate: CERTIFICATE },
      'certificate',
      'privateKey function',
    ],
    [
      'a privateKey function for tls_client_auth',
      { authMethod: 'tls_client_auth', privateKey: () => 'k', certificate: CERTIFICATE },
      'privateKey',
      'private_key_jwt only',
    ],
    [
      'a secret function and a key function, no authMethod',
      { clientSecret: () => 's', privateKey: () => 'k' },
      'authMethod',
      'both clientSecret and privateKey',
    ],
  ];
  it.each(CASES)('%s: ConfigurationError naming the option', (_, extra, option, message) => {
    const error = thrownBy(() => makeClient(extra as Partial<ClientCredentialsClientOptions>));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe(option);
    expect((error as Error).message).toContain(message);
  });
});

describe('the example auth server: the secret rotated in its configuration while the client runs', () => {
  let auth: AuthServer;
  let config: AuthServerConfig;
  beforeAll(async () => {
    config = {
      resourceServers: [{ identifier: 'urn:worldmappers', scopes: ['read:routes'] }],
      clients: [{ clientId: 'gift-deliveries', clientSecret: 'mounted-secret-1' }],
      clientGrants: [{ clientId: 'gift-deliveries', audience: 'urn:worldmappers', scope: ['read:routes'] }],
    };
    auth = await startAuthServer({ config, log: false });
  });
  afterAll(() => auth.close());

  it('a mounted secret file rotated: the next token after the refusal uses the new secret', async () => {
    // What a Kubernetes secret volume gives: the current content of a file.
    let mounted = 'mounted-secret-1';
    let reads = 0;
    const client = new ClientCredentialsClient({
      tokenEndpoint: auth.tokenEndpoint,
      clientId: 'gift-deliveries',
      clientSecret: () => {
        reads++;
        return mounted;
      },
      audience: 'urn:worldmappers',
    });
    await client.getToken();
    // The secret is rotated at the server and in the mount.
    (config.clients[0] as { clientSecret: string }).clientSecret = 'mounted-secret-2';
    mounted = 'mounted-secret-2';
    const token = await client.getToken({ forceRefresh: true });
    expect(token.accessToken).toMatch(/^eyJ/);
    expect(reads).toBe(2);
    expect(auth.stats).toMatchObject({ tokenRequests: 3, tokensIssued: 2, tokenErrors: 1 });
  });

  it('a refusal the function cannot cure is an OAuthError with the hint, not a loop', async () => {
    const client = new ClientCredentialsClient({
      tokenEndpoint: auth.tokenEndpoint,
      clientId: 'gift-deliveries',
      clientSecret: () => 'wrong-secret',
      audience: 'urn:worldmappers',
    });
    const before = auth.stats.tokenRequests;
    const error = await client.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).not.toBeInstanceOf(HttpError);
    expect((error as Error).message).toContain('Check the client id, the client secret');
    expect(auth.stats.tokenRequests - before).toBe(1);
  });
});
