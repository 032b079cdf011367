/**
 * client_secret_json against servers that take a JSON token request as Auth0 does: a strict loopback
 * server written here (it checks the JSON types and records exactly what arrived), and the example
 * authorization server in examples/auth-server, whose tokens are verified against its JWKS.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServer, startAuthServer } from '../examples/auth-server/server.js';
import { ClientCredentialsClient, OAuthError } from '../src/index.js';
import { closeServer, listenOnLoopback } from './helpers/ports.js';

const CLIENT_ID = 'json-client';
const CLIENT_SECRET = 'json "secret" with \\ and / and {braces} ~!*';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
  json: unknown;
}

/**
 * A strict Auth0-like token endpoint: POST, Content-Type application/json, a JSON object whose values
 * are strings (resource may be an array of strings); client_id and client_secret in the body.
 */
function auth0LikeServer(received: Received[]): Server {
  return createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      raw += chunk;
    });
    req.on('end', () => {
      const reply = (status: number, body: Record<string, unknown>) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        json = undefined;
      }
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, json });
      if (req.method !== 'POST') return reply(405, { error: 'invalid_request' });
      if (req.headers['content-type'] !== 'application/json') {
        return reply(415, { error: 'invalid_request', error_description: 'expected application/json' });
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        return reply(400, { error: 'invalid_request', error_description: 'body must be a JSON object' });
      }
      const body = json as Record<string, unknown>;
      for (const [name, value] of Object.entries(body)) {
        const ok =
          typeof value === 'string' ||
          (name === 'resource' && Array.isArray(value) && value.every((v) => typeof v === 'string'));
        if (!ok)
          return reply(400, { error: 'invalid_request', error_description: `${name} must be a string` });
      }
      if (req.headers.authorization !== undefined)
        return reply(400, { error: 'invalid_request', error_description: 'two methods' });
      if (body.grant_type !== 'client_credentials') return reply(400, { error: 'unsupported_grant_type' });
      if (body.client_id !== CLIENT_ID || body.client_secret !== CLIENT_SECRET) {
        return reply(401, { error: 'access_denied', error_description: 'Unauthorized' });
      }
      if (typeof body.audience !== 'string')
        return reply(403, { error: 'access_denied', error_description: 'no audience' });
      return reply(200, {
        access_token: `token-for-${body.audience}`,
        token_type: 'Bearer',
        expires_in: 86400,
        scope: body.scope ?? '',
      });
    });
  });
}

describe('a strict Auth0-like JSON token endpoint (loopback)', () => {
  const received: Received[] = [];
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = auth0LikeServer(received);
    url = `http://127.0.0.1:${await listenOnLoopback(server)}/oauth/token`;
  });
  afterAll(async () => {
    await closeServer(server);
  });

  const make = (secret = CLIENT_SECRET) =>
    new ClientCredentialsClient({
      tokenEndpoint: url,
      clientId: CLIENT_ID,
      clientSecret: secret,
      authMethod: 'client_secret_json',
      audience: 'urn:worldmappers',
      scope: ['geocode:location', 'read:routes'],
      cache: false,
      retry: false,
    });

  it('sends one JSON object with grant_type, client_id, client_secret, audience and scope', async () => {
    const token = await make().getToken();
    expect(token).toMatchObject({
      accessToken: 'token-for-urn:worldmappers',
      tokenType: 'Bearer',
      scope: 'geocode:location read:routes',
    });
    const r = received.at(-1)!;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/oauth/token');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers.accept).toBe('application/json');
    expect(r.headers.authorization).toBeUndefined();
    expect(r.json).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      audience: 'urn:worldmappers',
      scope: 'geocode:location read:routes',
    });
    expect(Buffer.byteLength(r.raw)).toBe(Number(r.headers['content-length']));
  });

  it('per-call audience, repeated resource as an array, and extra params as strings', async () => {
    await make().getToken({
      audience: 'https://api.example.test/',
      resource: ['https://a.example.test/', 'https://b.example.test/'],
      extraParams: { organization: 'org_1' },
    });
    expect(received.at(-1)!.json).toMatchObject({
      audience: 'https://api.example.test/',
      resource: ['https://a.example.test/', 'https://b.example.test/'],
      organization: 'org_1',
    });
  });

  it('a refused secret is an OAuthError with the status', async () => {
    const error = await make('wrong-secret')
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'access_denied', status: 401, errorDescription: 'Unauthorized' });
  });
});

describe('the example authorization server (examples/auth-server)', () => {
  let auth: AuthServer;
  beforeAll(async () => {
    auth = await startAuthServer({ port: 0, log: false });
  });
  afterAll(async () => {
    await auth?.close();
  });

  it('issues a token for a client_secret_json request, verifiable with its JWKS', async () => {
    const client = new ClientCredentialsClient({
      tokenEndpoint: auth.tokenEndpoint,
      clientId: 'gift-deliveries',
      clientSecret: 'dev-only-gift-deliveries-secret-do-not-reuse',
      authMethod: 'client_secret_json',
      audience: 'urn:worldmappers',
      scope: 'geocode:location',
      cache: false,
    });
    const before = auth.stats.tokensIssued;
    const token = await client.getToken();
    expect(auth.stats.tokensIssued).toBe(before + 1);
    const { payload } = await jwtVerify(token.accessToken, createRemoteJWKSet(new URL(auth.jwksUri)), {
      issuer: auth.issuer,
      audience: 'urn:worldmappers',
    });
    expect(payload).toMatchObject({
      azp: 'gift-deliveries',
      scope: 'geocode:location',
      gty: 'client-credentials',
    });
    expect(token.scope).toBe('geocode:location');
  });

  it('refuses a scope that was not granted with invalid_scope', async () => {
    const client = new ClientCredentialsClient({
      tokenEndpoint: auth.tokenEndpoint,
      clientId: 'gift-deliveries',
      clientSecret: 'dev-only-gift-deliveries-secret-do-not-reuse',
      authMethod: 'client_secret_json',
      audience: 'urn:worldmappers',
      scope: 'write:routes',
      cache: false,
      retry: false,
    });
    const error = await client.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'invalid_scope', status: 400 });
  });
});
