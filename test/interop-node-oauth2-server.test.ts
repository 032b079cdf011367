/**
 * Interop with @node-oauth/oauth2-server 5, the OAuth 2.0 server library Express and Koa services
 * embed, running on loopback with a client credentials model (test/helpers/node-oauth2-server.ts).
 * One test per cell of the interop matrix (test/interop/matrix.ts). Its tokens are opaque: they are
 * checked by the library's own authenticate(), as its resource servers do.
 */
import { generateKeyPair } from 'jose';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  DiscoveryError,
  formUrlEncodeCredential,
  HttpError,
  OAuthError,
  type Token,
  type TokenEvent,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';
import {
  type NodeOAuth2Client,
  type NodeOAuth2ServerHarness,
  startNodeOAuth2Server,
} from './helpers/node-oauth2-server.js';
import { MATRIX } from './interop/matrix.js';
import {
  expectCell,
  expectOneRequestForManyCalls,
  expectRefusedClientHint,
  expectRetryAfter401,
  packageVersion,
  recordingFetch,
  registerMatrix,
  startProtectedApi,
} from './interop/suite.js';

let as: NodeOAuth2ServerHarness;
beforeAll(async () => {
  as = await startNodeOAuth2Server();
});
afterAll(async () => {
  await as?.close();
});

function client(c: NodeOAuth2Client, options: Partial<ClientCredentialsClientOptions> = {}) {
  const wire = recordingFetch(as.tokenEndpoint);
  const made = testClient({
    tokenEndpoint: as.tokenEndpoint,
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    scope: 'api.read',
    cache: false,
    fetch: wire.fetch,
    ...options,
  });
  return { client: made, wire };
}

/** The library's own check: the model holds the token, issued for this client and scope. */
function verifyToken(token: Token) {
  expect(token.tokenType).toBe('Bearer');
  expect(as.isActive(token.accessToken)).toBe(true);
  expect(token.scope).toBe('api.read');
  expect(token.expiresAt).toBeGreaterThan(Date.now() + 3_500_000);
}

const refusedWith = (status: number, error: string) => (e: unknown) => {
  expect(e).toBeInstanceOf(OAuthError);
  expect(e).toMatchObject({ status, error });
};

describe('@node-oauth/oauth2-server', () => {
  it('is the version the matrix names', () => {
    expect(packageVersion('@node-oauth/oauth2-server').split('.')[0]).toBe(
      MATRIX['node-oauth2-server'].version,
    );
  });

  registerMatrix('node-oauth2-server', {
    basic: async (cell) => {
      const { client: cc } = client(as.clients.basic);
      await expectCell(cell, () => cc.getToken(), {
        token: (token) => {
          verifyToken(token);
          expect(as.requests.at(-1)?.headers.authorization).toMatch(/^Basic /);
        },
        refusal: refusedWith(401, 'invalid_client'),
      });
    },

    'basic-reserved': async (cell) => {
      const c = as.clients.reserved;
      const events: TokenEvent[] = [];
      const { client: cc, wire } = client(c, { onEvent: (e) => events.push(e) });
      const before = as.requests.length;
      await expectCell(cell, () => cc.getToken(), {
        token: (token) => {
          verifyToken(token);
          // The library compares the raw Basic values: the RFC's encoded form gets 401 invalid_client,
          // the raw form a token.
          const seen = as.requests.slice(before);
          expect(seen.map((r) => r.status)).toEqual([401, 200]);
          const decoded = seen.map((r) =>
            Buffer.from(String(r.headers.authorization).slice(6), 'base64').toString(),
          );
          expect(decoded).toEqual([
            `${c.clientId}:${formUrlEncodeCredential(c.clientSecret)}`,
            `${c.clientId}:${c.clientSecret}`,
          ]);
          expect(events.filter((e) => e.type === 'auth_fallback')).toHaveLength(1);
          expect(wire.tokenRequests).toBe(2);
        },
        refusal: refusedWith(401, 'invalid_client'),
      });
    },

    post: async (cell) => {
      const c = as.clients.post;
      const { client: cc } = client(c, { authMethod: 'client_secret_post' });
      await expectCell(cell, () => cc.getToken(), {
        token: (token) => {
          verifyToken(token);
          expect(as.requests.at(-1)?.body).toMatchObject({
            client_id: c.clientId,
            client_secret: c.clientSecret,
          });
          expect(as.requests.at(-1)?.headers.authorization).toBeUndefined();
        },
        refusal: refusedWith(400, 'invalid_client'),
      });
    },

    json: async (cell) => {
      const { client: cc } = client(as.clients.post, { authMethod: 'client_secret_json' });
      await expectCell(cell, () => cc.getToken(), {
        token: verifyToken,
        refusal: (error) => {
          refusedWith(400, 'invalid_request')(error);
          expect((error as OAuthError).errorDescription).toMatch(/x-www-form-urlencoded/);
        },
      });
    },

    'secret-jwt': async (cell) => {
      const { client: cc } = client(as.clients.post, { authMethod: 'client_secret_jwt' });
      await expectCell(cell, () => cc.getToken(), {
        token: verifyToken,
        refusal: refusedWith(400, 'invalid_client'),
      });
    },

    'private-key-jwt': async (cell) => {
      const { privateKey } = await generateKeyPair('ES256');
      const cc = new ClientCredentialsClient({
        tokenEndpoint: as.tokenEndpoint,
        clientId: as.clients.basic.clientId,
        privateKey,
        cache: false,
        retry: false,
      });
      await expectCell(cell, () => cc.getToken(), {
        token: verifyToken,
        refusal: refusedWith(400, 'invalid_client'),
      });
    },

    dpop: async (cell) => {
      const { client: cc } = client(as.clients.basic, { dpop: true });
      await expectCell(cell, () => cc.getToken(), {
        token: verifyToken,
        // The server ignores the proof and issues a Bearer token: a silent downgrade the client refuses.
        refusal: (error) => {
          expect(error).toBeInstanceOf(HttpError);
          expect((error as HttpError).message).toMatch(/DPoP/);
          expect(as.requests.at(-1)?.headers.dpop).toBeTruthy();
        },
      });
    },

    mtls: async (cell) => {
      // Plain http and no certificate support: only client_id reaches the server.
      const dispatcher = new Agent();
      try {
        const cc = new ClientCredentialsClient({
          tokenEndpoint: as.tokenEndpoint,
          clientId: as.clients.basic.clientId,
          authMethod: 'tls_client_auth',
          dispatcher,
          cache: false,
          retry: false,
        });
        await expectCell(cell, () => cc.getToken(), {
          token: verifyToken,
          refusal: (error) => {
            refusedWith(400, 'invalid_client')(error);
            expect(Object.keys(as.requests.at(-1)?.body ?? {}).sort()).toEqual(['client_id', 'grant_type']);
          },
        });
      } finally {
        await dispatcher.close();
      }
    },

    discovery: async (cell) => {
      const issuer = new URL(as.tokenEndpoint).origin;
      const cc = new ClientCredentialsClient({
        issuer,
        clientId: as.clients.basic.clientId,
        clientSecret: as.clients.basic.clientSecret,
        cache: false,
        retry: false,
      });
      await expectCell(cell, () => cc.getToken(), {
        token: verifyToken,
        refusal: (error) => expect(error).toBeInstanceOf(DiscoveryError),
      });
    },

    cache: async (cell) => {
      expect(cell.status).toBe('works');
      const { client: cc, wire } = client(as.clients.basic, { cache: undefined });
      verifyToken(await expectOneRequestForManyCalls(cc, wire));
    },

    'retry-401': async (cell) => {
      expect(cell.status).toBe('works');
      // The library's authenticate() is the resource server; the token is revoked in the model.
      const api = await startProtectedApi(async (token) => {
        const response = await fetch(as.resourceUrl, { headers: { authorization: `Bearer ${token}` } });
        await response.arrayBuffer();
        return response.status === 200;
      });
      try {
        const { client: cc, wire } = client(as.clients.basic, { cache: undefined });
        await expectRetryAfter401(cc, api, wire, (token) => as.revoke(token));
      } finally {
        await api.close();
      }
    },

    refused: async (cell) => {
      expect(cell.status).toBe('works');
      const { client: cc, wire } = client({
        clientId: as.clients.basic.clientId,
        clientSecret: 'wrong-secret',
      });
      const error = await cc.getToken().catch((e: unknown) => e);
      refusedWith(401, 'invalid_client')(error);
      expectRefusedClientHint(error, {
        endpoint: as.tokenEndpoint,
        clientId: as.clients.basic.clientId,
        method: 'client_secret_basic',
      });
      expect(wire.tokenRequests).toBe(1);
    },
  });
});
