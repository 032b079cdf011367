/**
 * Interop with oauth2-mock-server 9, the OAuth 2.0 / OIDC mock many teams run in their integration
 * tests, started once for this file on loopback. One test per cell of the interop matrix
 * (test/interop/matrix.ts). The mock never authenticates clients: every method gets a token, and so
 * does a wrong secret (the "○" cells prove both). Its tokens are RS256 JWTs checked with its JWKS.
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, generateKeyPair, type JWTPayload, jwtVerify } from 'jose';
import { OAuth2Server } from 'oauth2-mock-server';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientCredentialsClientOptions,
  DiscoveryError,
  formUrlEncodeCredential,
  HttpError,
  OAuthError,
  type Token,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import { type Cell, MATRIX } from './interop/matrix.js';
import {
  expectCell,
  expectOneRequestForManyCalls,
  expectRefusedClientHint,
  expectRetryAfter401,
  type ProtectedApi,
  packageVersion,
  recordingFetch,
  registerMatrix,
  startProtectedApi,
} from './interop/suite.js';

const CLIENT_ID = 'mock-client';
const SECRET = 'mock-secret+/=:%x';
const AUDIENCE = 'https://api.example.test/';

let server: OAuth2Server;
let issuer: string;
let tokenEndpoint: string;
let jwks: ReturnType<typeof createLocalJWKSet>;
let api: ProtectedApi;

beforeAll(async () => {
  server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  // The mock's tokens carry no jti: two tokens issued within the same second are the same string, so a
  // refresh after a 401 would give back the rejected token (which the client then rightly does not
  // retry with). A jti, added through its documented hook, makes each token unique as real servers do.
  server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    token.payload.jti = randomUUID();
  });
  await server.start(0, '127.0.0.1');
  issuer = server.issuer.url as string;
  tokenEndpoint = `${issuer}/token`;
  jwks = createLocalJWKSet({ keys: server.issuer.keys.toJSON() } as never);
  api = await startProtectedApi(async (token) => {
    await verify(token);
    return true;
  });
});
afterAll(async () => {
  await api?.close();
  await server?.stop();
});

async function verify(accessToken: string): Promise<JWTPayload> {
  const { payload } = await jwtVerify(accessToken, jwks, { issuer });
  return payload;
}

function client(options: Partial<ClientCredentialsClientOptions> = {}) {
  const wire = recordingFetch(tokenEndpoint);
  const made = testClient({
    tokenEndpoint,
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    scope: 'api.read',
    // The mock puts the body's `aud` (not `audience`) into the token.
    extraParams: { aud: AUDIENCE },
    cache: false,
    fetch: wire.fetch,
    ...options,
  });
  return { client: made, wire };
}

async function verifyToken(token: Token): Promise<JWTPayload> {
  expect(token.tokenType).toBe('Bearer');
  const payload = await verify(token.accessToken);
  expect(payload).toMatchObject({ aud: AUDIENCE, scope: 'api.read' });
  return payload;
}

/**
 * An "unchecked" cell: the method's request gets a token, and so does the same request with a wrong
 * credential (proving the server checks nothing); `wireCheck` looks at what was sent.
 */
async function expectUnchecked(
  cell: Cell,
  right: Partial<ClientCredentialsClientOptions>,
  wrong: Partial<ClientCredentialsClientOptions>,
  wireCheck: (
    sent: { headers: Headers; body: string },
    options: Partial<ClientCredentialsClientOptions>,
  ) => void = () => undefined,
): Promise<void> {
  expect(cell.status).toBe('unchecked');
  for (const options of [right, wrong]) {
    const { client: cc, wire } = client(options);
    await expectCell(cell, () => cc.getToken(), {
      token: async (token) => {
        await verifyToken(token);
        wireCheck(wire.sent[0] as { headers: Headers; body: string }, options);
      },
      refusal: () => undefined,
    });
  }
}

describe('oauth2-mock-server', () => {
  it('is the version the matrix names', () => {
    expect(packageVersion('oauth2-mock-server').split('.')[0]).toBe(MATRIX['oauth2-mock-server'].version);
  });

  registerMatrix('oauth2-mock-server', {
    basic: (cell) =>
      expectUnchecked(cell, {}, { clientSecret: 'wrong-secret' }, (sent) =>
        expect(sent.headers.get('authorization')).toMatch(/^Basic /),
      ),

    'basic-reserved': (cell) =>
      // The RFC's form-encoded Basic value is accepted as it is: no fallback happens.
      expectUnchecked(cell, { clientSecret: SECRET }, { clientSecret: `${SECRET}-wrong` }, (sent, options) =>
        expect(Buffer.from(sent.headers.get('authorization')!.slice(6), 'base64').toString()).toBe(
          `${CLIENT_ID}:${formUrlEncodeCredential(options.clientSecret as string)}`,
        ),
      ),

    post: (cell) =>
      expectUnchecked(
        cell,
        { authMethod: 'client_secret_post' },
        { authMethod: 'client_secret_post', clientSecret: 'wrong-secret' },
        (sent) => expect(new URLSearchParams(sent.body).get('client_id')).toBe(CLIENT_ID),
      ),

    json: (cell) =>
      expectUnchecked(
        cell,
        { authMethod: 'client_secret_json' },
        { authMethod: 'client_secret_json', clientSecret: 'wrong-secret' },
        (sent) => expect(JSON.parse(sent.body)).toMatchObject({ client_id: CLIENT_ID, aud: AUDIENCE }),
      ),

    'secret-jwt': (cell) =>
      expectUnchecked(
        cell,
        { authMethod: 'client_secret_jwt' },
        { authMethod: 'client_secret_jwt', clientSecret: 'wrong-secret' },
        (sent) => expect(new URLSearchParams(sent.body).get('client_assertion')).toBeTruthy(),
      ),

    'private-key-jwt': async (cell) => {
      for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
        const { privateKey } = await generateKeyPair(alg);
        const { privateKey: otherKey } = await generateKeyPair(alg);
        await expectUnchecked(
          cell,
          { clientSecret: undefined, privateKey },
          { clientSecret: undefined, privateKey: otherKey },
          (sent) =>
            expect(decodeProtectedHeader(new URLSearchParams(sent.body).get('client_assertion')!).alg).toBe(
              alg,
            ),
        );
      }
    },

    dpop: async (cell) => {
      const { client: cc, wire } = client({ dpop: true });
      await expectCell(cell, () => cc.getToken(), {
        token: async () => undefined,
        // The mock ignores the proof and issues a Bearer token: a silent downgrade the client refuses.
        refusal: (error) => {
          expect(error).toBeInstanceOf(HttpError);
          expect((error as HttpError).message).toMatch(/DPoP/);
          expect(wire.sent[0]?.headers.get('dpop')).toBeTruthy();
        },
      });
    },

    mtls: async (cell) => {
      // Plain http: no certificate is presented, and the mock issues a token that is bound to nothing.
      const dispatcher = new Agent();
      try {
        const options = { clientSecret: undefined, authMethod: 'tls_client_auth' as const, dispatcher };
        await expectUnchecked(cell, options, options, (sent) =>
          expect([...new URLSearchParams(sent.body).keys()]).not.toContain('client_secret'),
        );
        const { client: cc } = client(options);
        expect((await verifyToken(await cc.getToken())).cnf).toBeUndefined();
      } finally {
        await dispatcher.close();
      }
    },

    discovery: async (cell) => {
      const discovering = (options: Partial<ClientCredentialsClientOptions>) =>
        client({ tokenEndpoint: undefined, issuer, ...options }).client;
      await expectCell(cell, () => discovering({ authMethod: 'client_secret_basic' }).getToken(), {
        token: verifyToken,
        refusal: () => undefined,
      });
      // Its metadata lists token_endpoint_auth_methods_supported: ["none"], which no secret fits:
      // without authMethod the client says so instead of guessing.
      const error = await discovering({})
        .getToken()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DiscoveryError);
      expect((error as DiscoveryError).message).toMatch(/none.*authMethod/s);
    },

    cache: async (cell) => {
      expect(cell.status).toBe('works');
      const { client: cc, wire } = client({ cache: undefined });
      await verifyToken(await expectOneRequestForManyCalls(cc, wire));
    },

    'retry-401': async (cell) => {
      expect(cell.status).toBe('works');
      const { client: cc, wire } = client({ cache: undefined });
      await expectRetryAfter401(cc, api, wire);
    },

    refused: async (cell) => {
      expect(cell.status).toBe('works');
      // The mock's documented way to simulate an authorization error.
      const refuse = (response: { statusCode: number; body: Record<string, unknown> }) => {
        response.statusCode = 401;
        response.body = { error: 'invalid_client', error_description: 'client authentication failed' };
      };
      server.service.once('beforeResponse', refuse);
      const { client: cc, wire } = client({ clientSecret: 'wrong-secret' });
      const error = await cc.getToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OAuthError);
      expect(error).toMatchObject({ error: 'invalid_client', status: 401 });
      expectRefusedClientHint(error, {
        endpoint: tokenEndpoint,
        clientId: CLIENT_ID,
        method: 'client_secret_basic',
      });
      expect(wire.tokenRequests).toBe(1);
    },
  });
});
