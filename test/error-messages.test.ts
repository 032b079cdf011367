/**
 * What a failed token request says (issues 15.2, 13.3, 13.4): the token endpoint and the client id, and
 * for a refused client (invalid_client, or a 401/403 with or without an OAuth body, as Glewlwyd's empty
 * 403) what to check: the method, the assertion `aud` that was sent and the `assertionAudience` option
 * (rfc7523bis: no silent fallback from the issuer to the token endpoint), the `basicAuthEncoding` option
 * when form-encoding changed the Basic credentials. The CLI shows the same hint (one source).
 */
import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCredentialsClient,
  type ClientCredentialsClientOptions,
  ErrorCode,
  HttpError,
  OAuthError,
} from '../src/index.js';
import { runCli } from './helpers/cli-run.js';
import { type Answer, type LoopbackServer, startLoopbackServer } from './helpers/loopback-server.js';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEY_PEM = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

let server: LoopbackServer;
beforeAll(async () => {
  server = await startLoopbackServer();
});
afterAll(() => server.close());

const refusedEmpty403: Answer = { status: 403 };
const invalidClient: Answer = {
  status: 401,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: 'invalid_client', error_description: 'Client authentication failed' }),
};

/** Serves metadata for `${origin}/issuer-n` (when discovery is used) and answers token requests. */
function serve(tokenAnswer: Answer, issuer?: string): void {
  server.answer((request) => {
    if (issuer && request.path.startsWith('/.well-known/oauth-authorization-server')) {
      return {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ issuer, token_endpoint: `${server.origin}/token` }),
      };
    }
    return tokenAnswer;
  });
}

async function failure(options: Partial<ClientCredentialsClientOptions>): Promise<Error> {
  const client = new ClientCredentialsClient({
    clientId: 'messages-client',
    retry: false,
    ...(options.issuer ? {} : { tokenEndpoint: `${server.origin}/token` }),
    ...options,
  } as ClientCredentialsClientOptions);
  return client.getToken().then(
    () => {
      throw new Error('expected a failure');
    },
    (error: Error) => error,
  );
}

function lastAssertion(): string {
  const form = new URLSearchParams(server.requests.at(-1)?.body ?? '');
  return form.get('client_assertion') ?? '';
}

describe('a refused client', () => {
  it('OAuthError names the endpoint, the client id and what to check', async () => {
    serve(invalidClient);
    const error = await failure({ clientSecret: 'plain-secret' });
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'invalid_client', status: 401, code: ErrorCode.OAUTH });
    expect(error.message).toBe(
      `token endpoint ${server.origin}/token answered 401 invalid_client: Client authentication failed (client id "messages-client"). ${(error as OAuthError).hint}`,
    );
    expect((error as OAuthError).hint).toBe(
      'Check the client id, the client secret, and the authentication method: this request used client_secret_basic (options.authMethod).',
    );
  });

  it("Glewlwyd's empty 403 gets the same hint", async () => {
    serve(refusedEmpty403);
    const error = await failure({ clientSecret: 'plain-secret', authMethod: 'client_secret_post' });
    expect(error).toBeInstanceOf(HttpError);
    expect(error.message).toContain(`token endpoint ${server.origin}/token answered 403 with an empty body`);
    expect(error.message).toContain('client id "messages-client"');
    expect((error as HttpError).hint).toContain('this request used client_secret_post');
  });

  it('private_key_jwt with discovery: names the issuer it used as aud and the assertionAudience to set', async () => {
    const issuer = `${server.origin}/issuer`;
    serve(refusedEmpty403, issuer);
    const error = await failure({ issuer, privateKey: KEY_PEM });
    // What was sent really was the issuer (rfc7523bis), and nothing else was tried.
    expect(decodeJwt(lastAssertion()).aud).toBe(issuer);
    expect(server.requests.at(-1)?.path).toBe('/token');
    const hint = (error as HttpError).hint as string;
    expect(hint).toContain('the private key');
    expect(hint).toContain(`The client assertion's aud was the issuer "${issuer}", as rfc7523bis asks`);
    expect(hint).toContain(`options.assertionAudience: "${server.origin}/token"`);
    expect(error.message).toContain(hint);
  });

  it('private_key_jwt with a token endpoint only: the aud was the token endpoint', async () => {
    serve(invalidClient);
    const error = await failure({ privateKey: KEY_PEM });
    expect(decodeJwt(lastAssertion()).aud).toBe(`${server.origin}/token`);
    expect((error as OAuthError).hint).toContain(
      `The client assertion's aud was the token endpoint "${server.origin}/token"; a server that expects its issuer identifier needs options.assertionAudience set to it.`,
    );
  });

  it('client_secret_jwt with assertionAudience set: names the value used', async () => {
    serve(invalidClient);
    const error = await failure({
      clientSecret: 'a-client-secret-of-at-least-32-bytes!!',
      authMethod: 'client_secret_jwt',
      assertionAudience: 'https://audience.example/',
    });
    expect((error as OAuthError).hint).toContain(
      `The client assertion's aud was "https://audience.example/" (options.assertionAudience).`,
    );
    expect((error as OAuthError).hint).toContain('the client secret');
  });

  it('client_secret_basic whose form-encoding changed the secret: names basicAuthEncoding', async () => {
    serve(invalidClient);
    const error = await failure({ clientSecret: 'c2VjcmV0+/=', authMethod: 'client_secret_basic' });
    expect((error as OAuthError).hint).toContain(
      "a server that compares them unencoded needs options.basicAuthEncoding: 'none'",
    );
    expect(error.message).not.toContain('c2VjcmV0');
  });

  it('no basicAuthEncoding hint when encoding changed nothing, or when it is off', async () => {
    serve(invalidClient);
    for (const options of [
      { clientSecret: 'plain-secret' },
      { clientSecret: 'c2VjcmV0+/=', basicAuthEncoding: 'none' as const },
    ]) {
      const error = await failure(options);
      expect((error as OAuthError).hint).not.toContain('basicAuthEncoding');
    }
  });
});

describe('other answers', () => {
  it.each([
    ['invalid_scope', 'Check options.scope'],
    ['invalid_target', 'Check options.resource'],
    ['unauthorized_client', 'client_credentials grant'],
  ])('%s: a hint of its own', async (code, hint) => {
    serve({
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: code }),
    });
    const error = await failure({ clientSecret: 'plain-secret' });
    expect(error).toMatchObject({ error: code });
    expect((error as OAuthError).hint).toContain(hint);
    expect(error.message).toContain(`token endpoint ${server.origin}/token answered 400 ${code}`);
  });

  it('an answer with nothing specific to check has no hint, and still names endpoint and client', async () => {
    serve({ status: 502, headers: { 'content-type': 'text/html' }, body: '<h1>Bad Gateway</h1>' });
    const error = await failure({ clientSecret: 'plain-secret' });
    expect(error).toBeInstanceOf(HttpError);
    expect(Object.hasOwn(error, 'hint')).toBe(false);
    expect(error.message).toBe(
      `token endpoint ${server.origin}/token answered 502 with a body that is not JSON (client id "messages-client")`,
    );
  });

  it('the query of the endpoint is never shown', async () => {
    serve(invalidClient);
    const error = await failure({
      clientSecret: 'plain-secret',
      tokenEndpoint: `${server.origin}/token?tenant=private-value`,
    });
    expect(error.message).toContain(`${server.origin}/token answered`);
    expect(error.message).not.toContain('private-value');
  });
});

describe('the CLI prints the library hint, with its flags', () => {
  it('names the options by their flags (--key-id, --auth-method, --assertion-audience)', async () => {
    const issuer = `${server.origin}/issuer`;
    serve(refusedEmpty403, issuer);
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const keyFile = join(mkdtempSync(join(tmpdir(), 'm2m-messages-')), 'key.pem');
    writeFileSync(keyFile, KEY_PEM);
    const result = await runCli([
      'token',
      '--issuer',
      issuer,
      '--client-id',
      'cli-messages',
      '--private-key',
      keyFile,
    ]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `m2m-token: token endpoint ${server.origin}/token answered 403 with an empty body (client id "cli-messages")`,
    );
    expect(lines[1]).toMatch(/^hint: Check the client id, the private key \(and its key id, --key-id\)/);
    expect(lines[1]).toContain('this request used private_key_jwt (--auth-method)');
    expect(lines[1]).toContain(`needs --assertion-audience: "${server.origin}/token"`);
  });
});

describe('a server asking to come back later than a call waits (M2M_RETRY_LATER)', () => {
  it('names the endpoint and the client id, on the answer and on the fail-fast calls after it', async () => {
    serve({ status: 503, headers: { 'retry-after': '86400' } });
    const client = new ClientCredentialsClient({
      clientId: 'messages-client',
      clientSecret: 'plain-secret',
      tokenEndpoint: `${server.origin}/token`,
      retry: false,
    });
    const before = server.requests.length;
    for (const _ of [1, 2]) {
      const error = (await client.getToken().catch((e: unknown) => e)) as HttpError;
      expect(error).toBeInstanceOf(HttpError);
      expect(error).toMatchObject({ code: ErrorCode.RETRY_LATER, status: 503 });
      expect(error.message).toMatch(
        new RegExp(
          `^token endpoint ${server.origin}/token \\(client id "messages-client"\\) asked to retry after `,
        ),
      );
    }
    // The second call failed fast: one request in all.
    expect(server.requests.length - before).toBe(1);
    await client.close();
  });
});
