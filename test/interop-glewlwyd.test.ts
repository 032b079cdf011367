/**
 * Interop with Glewlwyd (the Debian package, a C OAuth 2.0 / OpenID Connect server), started once for
 * this file on loopback with TLS and configured through its admin REST API (test/helpers/glewlwyd.ts).
 * One test per cell of the interop matrix (test/interop/matrix.ts), plus what Glewlwyd taught us:
 * raw Basic values, the token endpoint as assertion audience, a kid on every assertion, empty 403s,
 * and scopes granted narrower than asked.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  formUrlEncodeCredential,
  HttpError,
  type Token,
  type TokenEvent,
} from '../src/index.js';
import {
  type GlewlwydClient,
  type GlewlwydHarness,
  glewlwydMissingMessage,
  glewlwydVersion,
  haveGlewlwyd,
  startGlewlwyd,
} from './helpers/glewlwyd.js';
import { MATRIX } from './interop/matrix.js';
import {
  expectCell,
  expectOneRequestForManyCalls,
  expectRefusedClientHint,
  expectRetryAfter401,
  type ProtectedApi,
  recordingFetch,
  registerMatrix,
  startProtectedApi,
} from './interop/suite.js';

describe.skipIf(!haveGlewlwyd)(
  `Glewlwyd (${haveGlewlwyd ? glewlwydVersion : glewlwydMissingMessage})`,
  () => {
    let glw: GlewlwydHarness;
    let jwks: ReturnType<typeof createLocalJWKSet>;
    let api: ProtectedApi;

    beforeAll(async () => {
      glw = await startGlewlwyd();
      const response = await glw.fetch(glw.jwksUri);
      jwks = createLocalJWKSet(await response.json());
      api = await startProtectedApi(async (token) => {
        await verify(token);
        return true;
      });
    });
    afterAll(async () => {
      await api?.close();
      await glw?.close();
    });

    /** Verifies an access token with Glewlwyd's JWKS (its introspection lacks client_id for non-Basic clients). */
    async function verify(accessToken: string): Promise<JWTPayload> {
      const { payload } = await jwtVerify(accessToken, jwks, { issuer: glw.issuer });
      return payload;
    }

    async function verifyToken(token: Token, c: GlewlwydClient): Promise<JWTPayload> {
      expect(token.tokenType.toLowerCase()).toBe('bearer');
      const payload = await verify(token.accessToken);
      expect(payload.client_id).toBe(c.clientId);
      expect(payload.scope).toBe('api.read');
      return payload;
    }

    function client(
      c: GlewlwydClient,
      options: Partial<ClientCredentialsClientOptions> = {},
    ): { client: ClientCredentialsClient; wire: ReturnType<typeof recordingFetch> } {
      const wire = recordingFetch(glw.tokenEndpoint);
      const made = new ClientCredentialsClient({
        tokenEndpoint: glw.tokenEndpoint,
        clientId: c.clientId,
        ...(c.clientSecret !== undefined ? { clientSecret: c.clientSecret } : {}),
        ...(c.key !== undefined ? { privateKey: c.key.privateJwk } : {}),
        scope: 'api.read',
        cache: false,
        retry: false,
        dispatcher: glw.dispatcher,
        fetch: wire.fetch,
        ...options,
      } as ClientCredentialsClientOptions);
      return { client: made, wire };
    }

    const refusedWith = (status: number) => (error: unknown) => {
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(status);
    };

    it('is the version the matrix names', () => {
      expect(glw.version.startsWith(MATRIX.glewlwyd.version)).toBe(true);
    });

    registerMatrix('glewlwyd', {
      basic: async (cell) => {
        const c = glw.clients.basic;
        const { client: cc, wire } = client(c);
        await expectCell(cell, () => cc.getToken(), {
          token: async (token) => {
            await verifyToken(token, c);
            expect(wire.sent).toHaveLength(1);
            expect(wire.sent[0]?.headers.get('authorization')).toMatch(/^Basic /);
          },
          refusal: refusedWith(403),
        });
      },

      'basic-reserved': async (cell) => {
        const c = glw.clients.reserved;
        const events: TokenEvent[] = [];
        const { client: cc, wire } = client(c, { onEvent: (e) => events.push(e) });
        await expectCell(cell, () => cc.getToken(), {
          token: async (token) => {
            await verifyToken(token, c);
            // Glewlwyd compares the raw Basic values: the RFC's form-encoding is refused (empty 403), the
            // raw form works, and is remembered.
            const decoded = wire.sent.map((r) =>
              Buffer.from((r.headers.get('authorization') ?? '').slice(6), 'base64').toString(),
            );
            expect(decoded).toEqual([
              `${c.clientId}:${formUrlEncodeCredential(c.clientSecret!)}`,
              `${c.clientId}:${c.clientSecret}`,
            ]);
            expect(events.filter((e) => e.type === 'auth_fallback')).toMatchObject([
              { from: 'client_secret_basic (form-urlencoded)', to: 'client_secret_basic (raw)' },
            ]);
            await cc.getToken({ forceRefresh: true });
            expect(wire.sent).toHaveLength(3);
          },
          refusal: refusedWith(403),
        });
      },

      post: async (cell) => {
        const c = glw.clients.post;
        const { client: cc, wire } = client(c, { authMethod: 'client_secret_post' });
        await expectCell(cell, () => cc.getToken(), {
          token: async (token) => {
            await verifyToken(token, c);
            expect(new URLSearchParams(wire.sent[0]?.body).get('client_secret')).toBe(c.clientSecret);
          },
          refusal: refusedWith(403),
        });
      },

      json: async (cell) => {
        const { client: cc, wire } = client(glw.clients.post, { authMethod: 'client_secret_json' });
        await expectCell(cell, () => cc.getToken(), {
          token: (token) => verifyToken(token, glw.clients.post).then(() => undefined),
          refusal: (error) => {
            refusedWith(400)(error);
            expect(wire.sent[0]?.headers.get('content-type')).toBe('application/json');
          },
        });
      },

      'secret-jwt': async (cell) => {
        const c = glw.clients.secretJwt;
        // With tokenEndpoint configured (no issuer known) the assertion's aud is the token endpoint.
        const { client: cc, wire } = client(c, { authMethod: 'client_secret_jwt' });
        await expectCell(cell, () => cc.getToken(), {
          token: async (token) => {
            await verifyToken(token, c);
            const body = new URLSearchParams(wire.sent[0]?.body);
            expect(
              JSON.parse(Buffer.from(body.get('client_assertion')!.split('.')[1]!, 'base64url').toString()),
            ).toMatchObject({
              aud: glw.tokenEndpoint,
            });
          },
          refusal: refusedWith(403),
        });
      },

      'private-key-jwt': async (cell) => {
        for (const c of [
          glw.clients.privateKeyJwtRs256,
          glw.clients.privateKeyJwtEs256,
          glw.clients.privateKeyJwtEdDsa,
        ]) {
          const { client: cc, wire } = client(c);
          await expectCell(cell, () => cc.getToken(), {
            token: async (token) => {
              await verifyToken(token, c);
              // Glewlwyd picks the client's key by kid: the JWK's own kid is sent (API.md Round 2).
              const assertion = new URLSearchParams(wire.sent[0]?.body).get('client_assertion')!;
              expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: c.key!.alg, kid: c.key!.kid });
            },
            refusal: refusedWith(403),
          });
        }
      },

      dpop: async (cell) => {
        const c = glw.clients.basic;
        const { client: cc, wire } = client(c, { dpop: true });
        await expectCell(cell, () => cc.getToken(), {
          token: async (token) => {
            expect(token.tokenType.toLowerCase()).toBe('dpop');
            const payload = await verify(token.accessToken);
            expect(payload.cnf).toMatchObject({ jkt: expect.any(String) });
            // Glewlwyd requires a server nonce: use_dpop_nonce, then the repeat with it.
            expect(wire.sent).toHaveLength(2);
            for (const sent of wire.sent) expect(sent.headers.get('dpop')).toBeTruthy();
            // The nonce is remembered: the next token costs one request.
            await cc.getToken({ forceRefresh: true });
            expect(wire.sent).toHaveLength(3);
          },
          refusal: refusedWith(400),
        });
      },

      mtls: async (cell) => {
        const c = glw.clients.tls;
        const { cert, key } = glw.clientCertificate;
        const dispatcher = new Agent({ connect: { ca: glw.ca, cert, key } });
        try {
          const { client: cc, wire } = client(c, { authMethod: 'tls_client_auth', dispatcher });
          await expectCell(cell, () => cc.getToken(), {
            token: async (token) => {
              const payload = await verifyToken(token, c);
              // RFC 8705 3: the token is bound to the certificate that authenticated the client.
              const der = new X509Certificate(cert).raw;
              const thumbprint = createHash('sha256').update(der).digest('base64url');
              expect(payload.cnf).toEqual({ 'x5t#S256': thumbprint });
              expect([...new URLSearchParams(wire.sent[0]?.body).keys()].sort()).toEqual([
                'client_id',
                'grant_type',
                'scope',
              ]);
            },
            refusal: refusedWith(403),
          });
        } finally {
          await dispatcher.close();
        }
      },

      discovery: async (cell) => {
        const c = glw.clients.basic;
        const wire = recordingFetch(glw.tokenEndpoint);
        const cc = new ClientCredentialsClient({
          issuer: glw.issuer,
          clientId: c.clientId,
          clientSecret: c.clientSecret!,
          scope: 'api.read',
          dispatcher: glw.dispatcher,
          fetch: wire.fetch,
          cache: false,
        });
        await expectCell(cell, () => cc.getToken(), {
          token: async (token) => {
            await verifyToken(token, c);
            expect(wire.tokenRequests).toBe(1);
          },
          refusal: () => undefined,
        });
      },

      cache: async (cell) => {
        const { client: cc, wire } = client(glw.clients.basic, { cache: undefined });
        expect(cell.status).toBe('works');
        const token = await expectOneRequestForManyCalls(cc, wire);
        await verifyToken(token, glw.clients.basic);
      },

      'retry-401': async (cell) => {
        const { client: cc, wire } = client(glw.clients.basic, { cache: undefined });
        expect(cell.status).toBe('works');
        await expectRetryAfter401(cc, api, wire);
      },

      refused: async (cell) => {
        const { client: cc, wire } = client({
          clientId: glw.clients.basic.clientId,
          clientSecret: 'wrong-secret',
        });
        expect(cell.status).toBe('works');
        const error = await cc.getToken().catch((e: unknown) => e);
        // Glewlwyd answers every client-authentication failure with an empty 403: the same hint as for
        // invalid_client.
        refusedWith(403)(error);
        expect((error as HttpError).code).toBe('M2M_HTTP_ERROR');
        expectRefusedClientHint(error, {
          endpoint: glw.tokenEndpoint,
          clientId: glw.clients.basic.clientId,
          method: 'client_secret_basic',
        });
        expect(wire.tokenRequests).toBe(1);
      },
    });

    describe('what Glewlwyd taught us', () => {
      it('a wrong secret with reserved characters: every Basic form and post refused, the error says so', async () => {
        const c = glw.clients.reserved;
        const events: TokenEvent[] = [];
        const { client: cc, wire } = client(
          { clientId: c.clientId, clientSecret: `${c.clientSecret}-wrong` },
          { onEvent: (e) => events.push(e) },
        );
        const error = await cc.getToken().catch((e: unknown) => e);
        refusedWith(403)(error);
        expect(wire.tokenRequests).toBe(3);
        expect(events.filter((e) => e.type === 'auth_fallback')).toHaveLength(2);
        const { message } = error as Error;
        // The first refusal's hint names basicAuthEncoding; the note says the other forms failed too.
        expect(message).toContain("options.basicAuthEncoding: 'none'");
        expect(message).toContain('also tried client_secret_basic (raw) and client_secret_post');
        expect(message).not.toContain(c.clientSecret!);
      });
      it('grants api.read for "api.read api.admin": scope_reduced, cached under the requested scope', async () => {
        const events: TokenEvent[] = [];
        const { client: cc, wire } = client(glw.clients.basic, {
          cache: undefined,
          scope: 'api.read api.admin',
          onEvent: (e) => events.push(e),
        });
        const token = await cc.getToken();
        expect(token.scope).toBe('api.read');
        expect(events.filter((e) => e.type === 'scope_reduced')).toMatchObject([
          { requested: 'api.read api.admin', granted: 'api.read', key: { scope: 'api.admin api.read' } },
        ]);
        expect(await cc.getToken()).toBe(token);
        expect(wire.tokenRequests).toBe(1);
      });

      it('a key without a kid (a PEM) is refused: Glewlwyd picks the client key by kid', async () => {
        const c = glw.clients.privateKeyJwtEs256;
        const { client: cc } = client(c, { privateKey: c.key!.privateKeyPem });
        refusedWith(403)(await cc.getToken().catch((e: unknown) => e));
        const { client: withKeyId } = client(c, { privateKey: c.key!.privateKeyPem, keyId: c.key!.kid });
        await verifyToken(await withKeyId.getToken(), c);
      });

      it('with discovery the assertion aud is the issuer, which Glewlwyd refuses; assertionAudience fixes it', async () => {
        const c = glw.clients.privateKeyJwtRs256;
        const options = {
          issuer: glw.issuer,
          clientId: c.clientId,
          privateKey: c.key!.privateJwk,
          scope: 'api.read',
          dispatcher: glw.dispatcher,
          cache: false as const,
          retry: false as const,
        };
        // No silent fallback to the token endpoint (rfc7523bis, CVE-2025-27370): an empty 403, whose
        // error names the aud that was sent and the option that changes it.
        const error = await new ClientCredentialsClient(options).getToken().catch((e: unknown) => e);
        refusedWith(403)(error);
        expectRefusedClientHint(error, {
          endpoint: glw.tokenEndpoint,
          clientId: c.clientId,
          method: 'private_key_jwt',
        });
        expect((error as Error).message).toContain(`aud was the issuer "${glw.issuer}"`);
        expect((error as Error).message).toContain(`options.assertionAudience: "${glw.tokenEndpoint}"`);
        const token = await new ClientCredentialsClient({
          ...options,
          assertionAudience: glw.tokenEndpoint,
        }).getToken();
        await verifyToken(token, c);
      });
    });
  },
);
