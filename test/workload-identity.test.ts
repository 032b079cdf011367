/**
 * Workload identity federation (issue 16.1): `clientAssertion` (a string, or a function called for every
 * attempt of every token request) and `clientAssertionFile` (read for every attempt, so a kubelet-style
 * rotation by an atomic symlink swap is picked up by the next token request). Against a loopback
 * token endpoint that records what it received, oidc-provider (a client registered with the cluster's
 * `jwks_uri`: the cluster signs, the workload holds no key), and the CLI.
 */
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { inspect } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProjectedTokenVolume } from '../examples/workload-identity/projected-token.js';
import { run } from '../src/cli/run.js';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ConfigurationError,
  OAuthError,
  type TokenEvent,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { type LoopbackServer, type ReceivedRequest, startLoopbackServer } from './helpers/loopback-server.js';
import { type OidcProviderHarness, startOidcProvider } from './helpers/oidc-provider.js';
import { closeServer, listenOnLoopback } from './helpers/ports.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A JWT-shaped assertion (the loopback endpoint does not verify it). */
const assertionNumber = (n: number) =>
  `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZC0${n}In0.c2lnbmF0dXJlLW9mLWFzc2VydGlvbi0${n}`;

let server: LoopbackServer;
let dir: string;
let answers: Array<(request: ReceivedRequest) => { status: number; body: unknown } | undefined> = [];

const tokenRequests = () => server.requests.filter((r) => r.path === '/oauth/token');
const paramsOf = (r: ReceivedRequest | undefined) => new URLSearchParams(r?.body ?? '');
const sentAssertions = () => tokenRequests().map((r) => paramsOf(r).get('client_assertion'));

/** Token n, or what `answers[n - 1]` says instead. */
function tokenEndpoint(request: ReceivedRequest) {
  const n = tokenRequests().length;
  const scripted = answers[n - 1]?.(request);
  const { status, body } = scripted ?? {
    status: 200,
    body: { access_token: `at-${n}`, token_type: 'Bearer', expires_in: 3600 },
  };
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

beforeAll(async () => {
  server = await startLoopbackServer();
  server.answer(tokenEndpoint);
  dir = await mkdtemp(join(tmpdir(), 'm2m-workload-'));
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  server.requests.length = 0;
  answers = [];
  server.answer(tokenEndpoint);
});

function makeClient(extra: Partial<ClientCredentialsClientOptions>): ClientCredentialsClient {
  return testClient({
    tokenEndpoint: `${server.origin}/oauth/token`,
    clientId: 'workload',
    ...extra,
  });
}

function thrown(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('clientAssertion', () => {
  it('a string: sent as client_assertion with the jwt-bearer type and client_id; private_key_jwt by default', async () => {
    const client = makeClient({ clientAssertion: assertionNumber(1) });
    expect(inspect(client)).toContain("authMethod: 'private_key_jwt'");
    await client.getToken();
    const [request] = tokenRequests();
    const params = paramsOf(request);
    expect(Object.fromEntries(params)).toEqual({
      grant_type: 'client_credentials',
      client_id: 'workload',
      client_assertion_type: JWT_BEARER,
      client_assertion: assertionNumber(1),
    });
    expect(request?.headers.authorization).toBeUndefined();
  });

  it('a function: called once per token request, never for a cached token; async works', async () => {
    let calls = 0;
    const client = makeClient({
      clientAssertion: async () => assertionNumber(++calls),
      audience: 'urn:a',
    });
    await client.getToken();
    await client.getToken();
    await Promise.all([client.getToken(), client.getToken()]);
    expect(calls).toBe(1);
    await client.getToken({ forceRefresh: true });
    await client.getToken({ audience: 'urn:b' });
    expect(calls).toBe(3);
    expect(sentAssertions()).toEqual([assertionNumber(1), assertionNumber(2), assertionNumber(3)]);
  });

  it('a function is called again for each retry: a single-use assertion is never sent twice', async () => {
    let calls = 0;
    answers = [() => ({ status: 503, body: { error: 'temporarily_unavailable' } })];
    const client = makeClient({
      clientAssertion: () => assertionNumber(++calls),
      retry: { retries: 1, minTimeout: 1, randomize: false },
    });
    await client.getToken();
    expect(sentAssertions()).toEqual([assertionNumber(1), assertionNumber(2)]);
  });

  it.each([
    ['an empty string', () => '', 'must be a non-empty string'],
    ['a number', () => 42 as unknown as string, 'must be a non-empty string'],
    ['a value with a space inside', () => 'eyJ.eyJ. secret-part', 'at position 8'],
  ])(
    'a function returning %s: ConfigurationError naming clientAssertion, nothing sent',
    async (_, fn, message) => {
      const error = await makeClient({ clientAssertion: fn })
        .getToken()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).option).toBe('clientAssertion');
      expect((error as Error).message).toContain(message);
      expect((error as Error).message).toContain('returned by the function');
      expect((error as Error).message).not.toContain('secret-part');
      expect(tokenRequests()).toHaveLength(0);
    },
  );

  it('a function that throws: its error reaches the caller as it is, and the next call tries again', async () => {
    let calls = 0;
    const failure = new Error('metadata service unavailable');
    const client = makeClient({
      clientAssertion: () => {
        calls++;
        if (calls === 1) throw failure;
        return assertionNumber(calls);
      },
    });
    await expect(client.getToken()).rejects.toBe(failure);
    await client.getToken();
    expect(sentAssertions()).toEqual([assertionNumber(2)]);
  });

  it('never in errors, events or inspect output, even when the server echoes it', async () => {
    const assertion = assertionNumber(7);
    answers = [
      (request) => ({
        status: 400,
        body: { error: 'invalid_client', error_description: `refused ${request.body}` },
      }),
    ];
    const events: TokenEvent[] = [];
    const client = makeClient({ clientAssertion: assertion, onEvent: (e) => events.push(e) });
    const error = (await client.getToken().catch((e: unknown) => e)) as OAuthError;
    expect(error).toBeInstanceOf(OAuthError);
    const shown = [error.message, String(error.errorDescription), inspect(error), JSON.stringify(error)];
    for (const text of shown) {
      expect(text).not.toContain(assertion);
      expect(text).not.toContain(assertion.split('.')[2]);
    }
    expect(JSON.stringify(events)).not.toContain(assertion.split('.')[1]);
    expect(inspect(client, { depth: 5 })).not.toContain(assertion);
    expect(JSON.stringify(client)).not.toContain(assertion);
    // The hint says what to check: the assertion, not a key or a secret.
    expect(error.message).toMatch(/options\.clientAssertion: its iss, sub, aud and exp/);
  });
});

describe('clientAssertionFile', () => {
  it('read for every token request: a kubelet rotation (atomic symlink swap) is picked up by the next one', async () => {
    const volume = new ProjectedTokenVolume(join(dir, 'kubelet'));
    await volume.write(`${assertionNumber(1)}\n`);
    const client = makeClient({ clientAssertionFile: volume.path });
    await client.getToken();
    // kubelet's layout: token -> ..data/token, ..data -> ..<timestamp>
    expect(await readlink(volume.path)).toBe(join('..data', 'token'));
    const first = await readlink(join(volume.dir, '..data'));

    await volume.write(assertionNumber(2));
    const second = await readlink(join(volume.dir, '..data'));
    expect(second).not.toBe(first);
    // The old timestamped directory is gone, as kubelet removes it.
    expect((await readdir(volume.dir)).sort()).toEqual(['..data', second, 'token'].sort());

    await client.getToken(); // cached: no request, no read needed
    await client.getToken({ forceRefresh: true });
    // The trailing newline a file holds is not part of the assertion.
    expect(sentAssertions()).toEqual([assertionNumber(1), assertionNumber(2)]);
  });

  it('a file written in place (not swapped) is read afresh too', async () => {
    const path = join(dir, 'in-place');
    await writeFile(path, assertionNumber(3));
    const client = makeClient({ clientAssertionFile: path });
    await client.getToken();
    await writeFile(path, assertionNumber(4));
    await client.getToken({ forceRefresh: true });
    expect(sentAssertions()).toEqual([assertionNumber(3), assertionNumber(4)]);
  });

  it('the file need not exist when the client is made; until it does, getToken fails naming the option', async () => {
    const path = join(dir, 'later', 'token');
    const client = makeClient({ clientAssertionFile: path }); // no throw: a sidecar may write it later
    const error = (await client.getToken().catch((e: unknown) => e)) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.option).toBe('clientAssertionFile');
    expect(error.message).toContain('(ENOENT)');
    expect(error.message).toContain(path);
    expect(tokenRequests()).toHaveLength(0);

    await new ProjectedTokenVolume(join(dir, 'later')).write(assertionNumber(5));
    await client.getToken();
    expect(sentAssertions()).toEqual([assertionNumber(5)]);
  });

  it.each([
    ['an empty file', async (path: string) => writeFile(path, '\n'), 'must be a non-empty string'],
    [
      'a file that is not an assertion (a PEM)',
      async (path: string) =>
        writeFile(path, '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n'),
      'contains a character that no JWT has',
    ],
    [
      'a file over 64 KiB',
      async (path: string) => writeFile(path, 'a'.repeat(64 * 1024 + 1)),
      'larger than 65536 bytes',
    ],
  ])('%s: ConfigurationError naming clientAssertionFile, nothing sent', async (_, make, message) => {
    const path = join(dir, `bad-${message.length}`);
    await make(path);
    const error = (await makeClient({ clientAssertionFile: path })
      .getToken()
      .catch((e: unknown) => e)) as ConfigurationError;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.option).toBe('clientAssertionFile');
    expect(error.message).toContain(message);
    expect(error.message).not.toContain('MIIB');
    expect(tokenRequests()).toHaveLength(0);
  });

  it('/dev/zero (an endless device) is refused before it is read: not a regular file', async () => {
    const error = (await makeClient({ clientAssertionFile: '/dev/zero' })
      .getToken()
      .catch((e: unknown) => e)) as ConfigurationError;
    expect(error.option).toBe('clientAssertionFile');
    expect(error.message).toContain('not a regular file');
  });

  it('a regular file over 64 KiB is refused after 64 KiB, without reading on', async () => {
    const path = join(dir, 'large');
    await writeFile(path, 'e'.repeat(200 * 1024));
    const error = (await makeClient({ clientAssertionFile: path })
      .getToken()
      .catch((e: unknown) => e)) as ConfigurationError;
    expect(error.option).toBe('clientAssertionFile');
    expect(error.message).toContain('larger than');
  });
});

describe('options that conflict', () => {
  const key = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';
  it.each([
    [{ clientAssertion: 'a.b.c', clientSecret: 's' }, 'clientAssertion', 'clientSecret'],
    [{ clientAssertion: 'a.b.c', privateKey: key }, 'clientAssertion', 'privateKey'],
    [{ clientAssertionFile: '/t', clientSecret: () => 's' }, 'clientAssertionFile', 'clientSecret'],
    [{ clientAssertion: 'a.b.c', clientAssertionFile: '/t' }, 'clientAssertionFile', 'not both'],
    [{ clientAssertion: 'a.b.c', assertionAudience: 'https://x' }, 'clientAssertion', 'assertionAudience'],
    [{ clientAssertion: 'a.b.c', keyId: 'k' }, 'clientAssertion', 'keyId'],
    [{ clientAssertion: 'a.b.c', authMethod: 'client_secret_basic' }, 'authMethod', 'private_key_jwt'],
    [{ clientAssertion: 42 }, 'clientAssertion', 'a function returning one'],
    [{ clientAssertion: '' }, 'clientAssertion', 'non-empty'],
    [{ clientAssertionFile: '' }, 'clientAssertionFile', 'non-empty'],
    [{ clientAssertion: 'a.b.c d' }, 'clientAssertion', 'position 5'],
  ])('%j: ConfigurationError naming %s', (extra, option, message) => {
    const error = thrown(() => makeClient(extra as Partial<ClientCredentialsClientOptions>));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).option).toBe(option);
    expect((error as Error).message).toContain(message);
  });

  it("authMethod: 'private_key_jwt' may be named explicitly", () => {
    expect(() => makeClient({ clientAssertion: 'a.b.c', authMethod: 'private_key_jwt' })).not.toThrow();
  });

  it('a misspelt option gets a did-you-mean', () => {
    const error = thrown(() => makeClient({ clientAssertionPath: '/t' } as never)) as ConfigurationError;
    expect(error.option).toBe('clientAssertionPath');
    expect(error.message).toContain('did you mean clientAssertionFile?');
  });
});

describe('with discovery', () => {
  it('private_key_jwt is chosen from the metadata; the server’s signing algorithms do not matter (the assertion is signed elsewhere)', async () => {
    const issuer = `${server.origin}/`;
    server.answer((request) => {
      if (request.path.includes('/.well-known/')) {
        return {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            issuer,
            token_endpoint: `${server.origin}/oauth/token`,
            token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
            token_endpoint_auth_signing_alg_values_supported: ['PS512'],
          }),
        };
      }
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ access_token: 'at-d', token_type: 'Bearer', expires_in: 60 }),
      };
    });
    const client = new ClientCredentialsClient({
      issuer,
      clientId: 'workload',
      clientAssertion: assertionNumber(9),
    });
    await client.getToken();
    expect(Object.fromEntries(paramsOf(tokenRequests()[0]))).toMatchObject({
      client_assertion: assertionNumber(9),
      client_assertion_type: JWT_BEARER,
    });
  });
});

describe('oidc-provider: a client whose keys are the cluster’s (jwks_uri); the workload holds none', () => {
  let op: OidcProviderHarness;
  let cluster: {
    jwksUri: string;
    sign(clientId: string, audience: string): Promise<string>;
    close(): Promise<void>;
  };

  beforeAll(async () => {
    // The cluster's signing key, published at a JWKS URI on loopback.
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'cluster-1', alg: 'ES256', use: 'sig' };
    const { createServer } = await import('node:http');
    const jwks = createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    const port = await listenOnLoopback(jwks);
    cluster = {
      jwksUri: `http://127.0.0.1:${port}/openid/v1/jwks`,
      // A SPIFFE JWT-SVID-like token for the workload: iss = sub = client_id (as oidc-provider requires).
      sign: (clientId, audience) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'ES256', kid: 'cluster-1' })
          .setIssuer(clientId)
          .setSubject(clientId)
          .setAudience(audience)
          .setIssuedAt()
          .setExpirationTime('60s')
          .setJti(crypto.randomUUID())
          .sign(privateKey),
      close: () => closeServer(jwks),
    };
    op = await startOidcProvider({
      // oidc-provider's own fetch refuses loopback addresses (SSRF protection); the JWKS is on loopback.
      fetch: (url, init) => globalThis.fetch(url, { ...init, dispatcher: undefined } as RequestInit),
      clients: [
        {
          client_id: 'federated-workload',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks_uri: cluster.jwksUri,
        },
      ],
    });
  });

  afterAll(async () => {
    await op?.close();
    await cluster?.close();
  });

  it('a function minting the workload’s assertion gets a token for every request', async () => {
    const client = new ClientCredentialsClient({
      issuer: op.issuer,
      clientId: 'federated-workload',
      clientAssertion: () => cluster.sign('federated-workload', op.issuer),
      resource: op.resources.jwt,
      scope: 'api:read',
    });
    const first = await client.getToken();
    const second = await client.getToken({ forceRefresh: true });
    expect(first.accessToken).not.toBe(second.accessToken);
    const bodies = op.requests.filter((r) => r.path.endsWith('/token')).map((r) => r.body ?? {});
    expect(bodies.at(-1)).toMatchObject({
      client_id: 'federated-workload',
      client_assertion_type: JWT_BEARER,
    });
    expect(bodies.at(-1)?.client_assertion).not.toBe(bodies.at(-2)?.client_assertion);
  });

  it('the same assertion twice is refused as a replay (jti): why a function is called per request', async () => {
    const assertion = await cluster.sign('federated-workload', op.issuer);
    const client = new ClientCredentialsClient({
      issuer: op.issuer,
      clientId: 'federated-workload',
      clientAssertion: assertion,
      resource: op.resources.jwt,
      scope: 'api:read',
    });
    await client.getToken();
    const error = await client.getToken({ forceRefresh: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('invalid_client');
  });
});

describe('command line', () => {
  it('--client-assertion-file (or M2M_CLIENT_ASSERTION_FILE): token printed, the file read for the request', async () => {
    const path = join(dir, 'cli-token');
    await writeFile(path, `${assertionNumber(8)}\n`);
    for (const args of [
      [
        'token',
        '--token-endpoint',
        `${server.origin}/oauth/token`,
        '--client-id',
        'workload',
        '--client-assertion-file',
        path,
      ],
      ['token', '--token-endpoint', `${server.origin}/oauth/token`, '--client-id', 'workload'],
    ]) {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const chunks: Buffer[] = [];
      stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      const env = args.length === 5 ? { M2M_CLIENT_ASSERTION_FILE: path } : {};
      const code = await run(args, { env, stdin: Readable.from([]), stdout, stderr });
      expect(code).toBe(0);
      expect(Buffer.concat(chunks).toString()).toMatch(/^at-\d+\n$/);
    }
    expect(sentAssertions()).toEqual([assertionNumber(8), assertionNumber(8)]);
  });

  it('--verbose names the file and shows the request with the assertion redacted', async () => {
    const path = join(dir, 'cli-verbose-token');
    await writeFile(path, assertionNumber(6));
    const stderr = new PassThrough();
    const chunks: Buffer[] = [];
    stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const args = [
      'token',
      '--verbose',
      '--token-endpoint',
      `${server.origin}/oauth/token`,
      '--client-id',
      'w',
    ];
    const code = await run([...args, '--client-assertion-file', path], {
      env: {},
      stdin: Readable.from([]),
      stdout: new PassThrough(),
      stderr,
    });
    expect(code).toBe(0);
    const text = Buffer.concat(chunks).toString();
    expect(text).toContain(`client assertion from ${path}`);
    expect(text).toContain('client_assertion=[redacted]');
    for (const part of assertionNumber(6).split('.')) expect(text).not.toContain(part);
  });
});
