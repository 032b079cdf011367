/**
 * Basic auto-detection (API.md Round 2, issue 13.2): after a refused client, one retry with the raw
 * Basic form, then (authMethod not set) one with client_secret_post; what worked is remembered; explicit
 * settings are never switched. Asserted on what the server received for each attempt. Real servers
 * that compare raw Basic values (Glewlwyd, @node-oauth/oauth2-server) are in test/interop-*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  HttpError,
  OAuthError,
  type TokenEvent,
} from '../src/index.js';
import { testClient } from './helpers/clients.js';

const ENDPOINT = 'https://idp.example.com/oauth/token';
const ID = 'svc-client';
/** A base64 secret: `+ / =` change under form-urlencoding (RFC 6749 2.3.1). */
const SECRET = 'k9+Zq/w8Lr2e=';

type Form = 'basic-encoded' | 'basic-raw' | 'post' | 'none';

interface Seen {
  form: Form;
  authorization: string | null;
  body: URLSearchParams;
}

/** How a server judges credentials: which forms of the right id and secret it accepts. */
interface FakeServer {
  accepts: ReadonlySet<Form>;
  /** The refusal: an OAuth invalid_client 401 (default) or Glewlwyd's empty 403. */
  refusal?: 'invalid_client' | 'empty-403';
  /** Answer every token request with this instead (a failure that is not a refusal). */
  failWith?: () => Response;
  /** token_endpoint_auth_methods_supported in its metadata (served at the issuer's RFC 8414 URL). */
  listedMethods?: string[];
  scopeGranted?: string;
}

function formOf(authorization: string | null, body: URLSearchParams, id: string, secret: string): Form {
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    if (decoded === `${id}:${secret}`) return 'basic-raw';
    const enc = (v: string) => new URLSearchParams({ v }).toString().slice(2);
    if (decoded === `${enc(id)}:${enc(secret)}`) return 'basic-encoded';
    return 'none';
  }
  if (body.get('client_id') === id && body.get('client_secret') === secret) return 'post';
  return 'none';
}

function fakeServer(server: FakeServer, id = ID, secret = SECRET) {
  const seen: Seen[] = [];
  let n = 0;
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    if (url.includes('/.well-known/')) {
      return Response.json({
        issuer: 'https://idp.example.com',
        token_endpoint: ENDPOINT,
        ...(server.listedMethods ? { token_endpoint_auth_methods_supported: server.listedMethods } : {}),
      });
    }
    const headers = new Headers(init?.headers);
    const body = new URLSearchParams(String(init?.body ?? ''));
    const form = formOf(headers.get('authorization'), body, id, secret);
    seen.push({ form, authorization: headers.get('authorization'), body });
    n++;
    if (server.failWith) return server.failWith();
    if (!server.accepts.has(form)) {
      if (server.refusal === 'empty-403') return new Response(null, { status: 403 });
      return Response.json(
        { error: 'invalid_client', error_description: `refused attempt ${n}` },
        { status: 401, headers: { 'www-authenticate': 'Basic realm="idp"' } },
      );
    }
    return Response.json({
      access_token: `token-${n}`,
      token_type: 'Bearer',
      expires_in: 3600,
      ...(server.scopeGranted !== undefined ? { scope: server.scopeGranted } : {}),
    });
  };
  return { fetch: fetch as typeof globalThis.fetch, seen };
}

function client(
  fetch: typeof globalThis.fetch,
  events: TokenEvent[],
  options: Partial<ClientCredentialsClientOptions> = {},
) {
  return testClient({
    tokenEndpoint: ENDPOINT,
    clientId: ID,
    clientSecret: SECRET,
    cache: false,
    fetch,
    onEvent: (e) => events.push(e),
    ...options,
  });
}

const fallbacks = (events: TokenEvent[]) =>
  events
    .filter((e): e is Extract<TokenEvent, { type: 'auth_fallback' }> => e.type === 'auth_fallback')
    .map((e) => `${e.from} -> ${e.to}`);

describe('Basic auto-detection: a server that compares raw Basic values', () => {
  it.each([
    ['invalid_client 401', 'invalid_client'],
    ["Glewlwyd's empty 403", 'empty-403'],
  ] as const)('after %s, one retry with the raw form; then one request per token', async (_name, refusal) => {
    const server = fakeServer({ accepts: new Set(['basic-raw']), refusal });
    const events: TokenEvent[] = [];
    const c = client(server.fetch, events);
    const token = await c.getToken();
    expect(token.accessToken).toBe('token-2');
    expect(server.seen.map((s) => s.form)).toEqual(['basic-encoded', 'basic-raw']);
    expect(fallbacks(events)).toEqual(['client_secret_basic (form-urlencoded) -> client_secret_basic (raw)']);
    const fallback = events.find((e) => e.type === 'auth_fallback');
    expect(fallback).toMatchObject({ key: { endpoint: ENDPOINT, clientId: ID } });
    expect(Object.keys(fallback as object).sort()).toEqual(['from', 'key', 'requestId', 'to', 'type']);

    // Remembered: later requests (any key) send the raw form alone.
    await c.getToken({ scope: 'other' });
    await c.getToken({ forceRefresh: true });
    expect(server.seen.map((s) => s.form)).toEqual(['basic-encoded', 'basic-raw', 'basic-raw', 'basic-raw']);
    expect(fallbacks(events)).toHaveLength(1);
    const success = events.filter((e) => e.type === 'token_request_success');
    expect(success.map((e) => (e as { attempts: number }).attempts)).toEqual([2, 1, 1]);
  });

  it('concurrent first requests for other keys wait for the detection under way, then send the raw form', async () => {
    const server = fakeServer({ accepts: new Set(['basic-raw']) });
    const events: TokenEvent[] = [];
    const c = client(server.fetch, events);
    const tokens = await Promise.all([
      c.getToken({ scope: 'a' }),
      c.getToken({ scope: 'b' }),
      c.getToken({ scope: 'c' }),
    ]);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(3);
    expect(server.seen.map((s) => s.form)).toEqual(['basic-encoded', 'basic-raw', 'basic-raw', 'basic-raw']);
    expect(fallbacks(events)).toHaveLength(1);
  });

  it('when the detection under way fails, each waiting request detects once more for itself', async () => {
    const server = fakeServer({ accepts: new Set([]) });
    const c = client(server.fetch, [], { authMethod: 'client_secret_basic' });
    const outcomes = await Promise.allSettled([c.getToken({ scope: 'a' }), c.getToken({ scope: 'b' })]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(server.seen.map((s) => s.form)).toEqual([
      'basic-encoded',
      'basic-raw',
      'basic-encoded',
      'basic-raw',
    ]);
  });

  it('the memory is per client: another client detects again', async () => {
    const server = fakeServer({ accepts: new Set(['basic-raw']) });
    await client(server.fetch, []).getToken();
    await client(server.fetch, []).getToken();
    expect(server.seen.map((s) => s.form)).toEqual([
      'basic-encoded',
      'basic-raw',
      'basic-encoded',
      'basic-raw',
    ]);
  });

  it('a server that decodes (as RFC 6749 asks) gets one request and no event', async () => {
    const server = fakeServer({ accepts: new Set(['basic-encoded']) });
    const events: TokenEvent[] = [];
    const c = client(server.fetch, events);
    await c.getToken();
    await c.getToken({ scope: 'x' });
    expect(server.seen.map((s) => s.form)).toEqual(['basic-encoded', 'basic-encoded']);
    expect(fallbacks(events)).toEqual([]);
  });
});

describe('Basic auto-detection: then client_secret_post', () => {
  it('when authMethod was not set: encoded, raw, post; post is remembered', async () => {
    const server = fakeServer({ accepts: new Set(['post']) });
    const events: TokenEvent[] = [];
    const c = client(server.fetch, events);
    await c.getToken();
    expect(server.seen.map((s) => s.form)).toEqual(['basic-encoded', 'basic-raw', 'post']);
    const post = server.seen[2] as Seen;
    expect(post.authorization).toBeNull();
    expect(post.body.get('client_secret')).toBe(SECRET);
    expect(fallbacks(events)).toEqual([
      'client_secret_basic (form-urlencoded) -> client_secret_basic (raw)',
      'client_secret_basic (raw) -> client_secret_post',
    ]);
    const success = events.find((e) => e.type === 'token_request_success');
    expect(success).toMatchObject({ authMethod: 'client_secret_post', attempts: 3 });
    await c.getToken({ scope: 'again' });
    expect(server.seen.map((s) => s.form)).toEqual(['basic-encoded', 'basic-raw', 'post', 'post']);
  });

  it('a client id holding ":" skips the raw form (RFC 7617: it would move the separator)', async () => {
    const id = 'urn:svc:client';
    const server = fakeServer({ accepts: new Set(['post']) }, id);
    const events: TokenEvent[] = [];
    await client(server.fetch, events, { clientId: id }).getToken();
    expect(server.seen.map((s) => s.form)).toEqual(['basic-encoded', 'post']);
    expect(fallbacks(events)).toEqual(['client_secret_basic (form-urlencoded) -> client_secret_post']);
  });

  it('with discovery, client_secret_post only when the server lists it', async () => {
    for (const [listed, forms] of [
      [['client_secret_basic'], ['basic-encoded', 'basic-raw']],
      [
        ['client_secret_basic', 'client_secret_post'],
        ['basic-encoded', 'basic-raw', 'post'],
      ],
    ] as const) {
      const server = fakeServer({ accepts: new Set(['post']), listedMethods: [...listed] });
      const c = new ClientCredentialsClient({
        issuer: 'https://idp.example.com',
        clientId: ID,
        clientSecret: SECRET,
        cache: false,
        retry: false,
        fetch: server.fetch,
      });
      const outcome = await c.getToken().catch((e: unknown) => e);
      expect(server.seen.map((s) => s.form)).toEqual(forms);
      if (forms.length === 2) expect(outcome).toBeInstanceOf(OAuthError);
    }
  });
});

describe('Basic auto-detection: what is never switched', () => {
  it('authMethod set explicitly to client_secret_basic: the raw form, never client_secret_post', async () => {
    const server = fakeServer({ accepts: new Set(['post']) });
    const events: TokenEvent[] = [];
    const error = await client(server.fetch, events, { authMethod: 'client_secret_basic' })
      .getToken()
      .catch((e: unknown) => e);
    expect(server.seen.map((s) => s.form)).toEqual(['basic-encoded', 'basic-raw']);
    // The first refusal's error (the answer to the form RFC 6749 asks for).
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({
      error: 'invalid_client',
      status: 401,
      errorDescription: 'refused attempt 1',
    });
  });

  it.each([
    ['form-urlencoded', 'basic-encoded'],
    ['none', 'basic-raw'],
  ] as const)('basicAuthEncoding %j set: one request, whatever the answer', async (encoding, form) => {
    const server = fakeServer({ accepts: new Set(['post']) });
    const events: TokenEvent[] = [];
    const error = await client(server.fetch, events, { basicAuthEncoding: encoding })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(server.seen.map((s) => s.form)).toEqual([form]);
    expect(fallbacks(events)).toEqual([]);
  });

  it('credentials that form-encoding leaves unchanged: nothing to detect, one request', async () => {
    const server = fakeServer({ accepts: new Set(['post']) }, ID, 'plain-Secret_1.2~3');
    const error = await client(server.fetch, [], { clientSecret: 'plain-Secret_1.2~3' })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(server.seen).toHaveLength(1);
  });

  it('client_secret_post set explicitly: never switched to Basic', async () => {
    const server = fakeServer({ accepts: new Set(['basic-raw']) });
    const error = await client(server.fetch, [], { authMethod: 'client_secret_post' })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(server.seen.map((s) => s.form)).toEqual(['post']);
  });

  it.each([
    ['invalid_scope 400', () => Response.json({ error: 'invalid_scope' }, { status: 400 })],
    ['a 500 without a body', () => new Response('oops', { status: 500 })],
    ['a 404', () => new Response(null, { status: 404 })],
  ])('a failure that is not a refused client (%s) is not a reason to switch', async (_name, failWith) => {
    const server = fakeServer({ accepts: new Set(['basic-raw']), failWith });
    const events: TokenEvent[] = [];
    const error = await client(server.fetch, events)
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(server.seen).toHaveLength(1);
    expect(fallbacks(events)).toEqual([]);
  });
});

describe('Basic auto-detection: when nothing works', () => {
  it("the error is the first refusal's; nothing is remembered, so a fixed secret works on the next call", async () => {
    const accepts = new Set<Form>();
    const server = fakeServer({ accepts });
    const events: TokenEvent[] = [];
    const c = client(server.fetch, events);
    const error = await c.getToken().catch((e: unknown) => e);
    expect(server.seen.map((s) => s.form)).toEqual(['basic-encoded', 'basic-raw', 'post']);
    expect(error).toMatchObject({ error: 'invalid_client', errorDescription: 'refused attempt 1' });
    // The message says what else was tried, so its hint about the encoding is not misread.
    expect((error as Error).message).toMatch(
      /also tried client_secret_basic \(raw\) and client_secret_post, refused as well: the encoding is not the cause/,
    );
    const failure = events.find((e) => e.type === 'token_request_failure');
    expect(failure).toMatchObject({ authMethod: 'client_secret_basic', status: 401, attempts: 3 });

    // The server side is fixed (it now takes the raw form): the next call detects again.
    accepts.add('basic-raw');
    await expect(c.getToken()).resolves.toMatchObject({ accessToken: 'token-5' });
    expect(server.seen.map((s) => s.form).slice(3)).toEqual(['basic-encoded', 'basic-raw']);
  });

  it('an empty 403 for every form gives the first HttpError 403', async () => {
    const server = fakeServer({ accepts: new Set([]), refusal: 'empty-403' });
    const error = await client(server.fetch, [])
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(403);
    expect(server.seen).toHaveLength(3);
  });

  it('no event, error or message carries the secret in any form', async () => {
    const server = fakeServer({ accepts: new Set([]) });
    const events: TokenEvent[] = [];
    const error = (await client(server.fetch, events)
      .getToken()
      .catch((e: unknown) => e)) as Error;
    const everything = JSON.stringify(events) + String(error) + JSON.stringify(error) + String(error.stack);
    for (const form of [
      SECRET,
      encodeURIComponent(SECRET),
      Buffer.from(`${ID}:${SECRET}`).toString('base64'),
      (server.seen[0] as Seen).authorization!.slice(6),
    ]) {
      expect(everything).not.toContain(form);
    }
  });
});
