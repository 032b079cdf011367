/**
 * Issue 12.7: `m2m-token --verbose` printed response headers as received except a short deny-list, so a
 * server echoing the Basic credentials, the form secret, the assertion or the token in any other header
 * had them printed. Now every header value shown (request and response, whatever the header's name) is
 * redacted of the client's credentials and tokens: checked as "no 12-character run" of each.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli-run.js';
import { leakedRuns } from '../helpers/leaks.js';
import { type LoopbackServer, startLoopbackServer } from '../helpers/loopback-server.js';

const SECRET = 'Verbose-s3cret/+=value_0123456789~abc';
const ACCESS_TOKEN = 'VerboseAccessToken-0123456789-abcdefghij';
const REFRESH_TOKEN = 'VerboseRefreshToken-0123456789-abcdefghij';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyFile = join(mkdtempSync(join(tmpdir(), 'm2m-verbose-')), 'key.pem');
writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);

let server: LoopbackServer;
beforeAll(async () => {
  server = await startLoopbackServer();
  // Echoes what it received in headers of every name: the token endpoint also echoes the token it issues.
  server.answer((request) => {
    const authorization = String(request.headers.authorization ?? '');
    const form = new URLSearchParams(request.body);
    const basic = authorization.startsWith('Basic ')
      ? Buffer.from(authorization.slice(6), 'base64').toString('latin1')
      : '';
    const echo = {
      'x-echo-authorization': authorization || 'none',
      'x-echo-body': request.body || 'none',
      'x-echo-basic-decoded': basic || 'none',
      'x-echo-assertion': form.get('client_assertion') ?? 'none',
      'x-echo-secret': form.get('client_secret') ?? 'none',
      location: `https://elsewhere.example/cb?access_token=${ACCESS_TOKEN}`,
    };
    if (request.path.startsWith('/api')) {
      return { headers: { ...echo, 'x-token': ACCESS_TOKEN, 'content-type': 'text/plain' }, body: 'api ok' };
    }
    return {
      headers: {
        ...echo,
        'x-issued-token': ACCESS_TOKEN,
        'x-issued': `token=${ACCESS_TOKEN}; refresh=${REFRESH_TOKEN}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        access_token: ACCESS_TOKEN,
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: REFRESH_TOKEN,
      }),
    };
  });
});
afterAll(() => server.close());

function credentialsSent(): string[] {
  const values: string[] = [];
  for (const request of server.requests) {
    const authorization = String(request.headers.authorization ?? '');
    if (authorization.startsWith('Basic ')) values.push(authorization.slice(6));
    const assertion = new URLSearchParams(request.body).get('client_assertion');
    if (assertion) values.push(assertion);
  }
  return values;
}

function expectNoCredential(output: string): void {
  for (const value of [SECRET, ACCESS_TOKEN, REFRESH_TOKEN, ...credentialsSent()]) {
    expect(leakedRuns(output, value), `a piece of ${value.slice(0, 8)}…`).toEqual([]);
  }
}

const AUTH: Record<string, string[]> = {
  client_secret_basic: ['--auth-method', 'client_secret_basic'],
  client_secret_post: ['--auth-method', 'client_secret_post'],
  private_key_jwt: ['--private-key', keyFile],
};

describe('--verbose shows every header, with the credentials redacted whatever the header name', () => {
  it.each(Object.keys(AUTH))('token (%s)', async (method) => {
    const before = server.requests.length;
    const result = await runCli(
      [
        'token',
        '--token-endpoint',
        `${server.origin}/token`,
        '--client-id',
        'verbose-client',
        '--verbose',
        ...(AUTH[method] as string[]),
      ],
      { env: method === 'private_key_jwt' ? {} : { M2M_CLIENT_SECRET: SECRET } },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${ACCESS_TOKEN}\n`);
    expect(server.requests.length - before).toBe(1);
    // The headers are shown (names and the rest of their values), only the credentials are not.
    expect(result.stderr).toContain('< x-echo-authorization: ');
    expect(result.stderr).toContain('< x-issued-token: [redacted]');
    expect(result.stderr).toContain('< location: https://elsewhere.example/cb?access_token=[redacted]');
    expectNoCredential(result.stderr);
  });

  it('fetch: the API request and its answer too', async () => {
    const result = await runCli(
      [
        'fetch',
        `${server.origin}/api/data`,
        '--token-endpoint',
        `${server.origin}/token`,
        '--client-id',
        'verbose-client',
        '--verbose',
        '-H',
        `X-Forwarded-Token: ${ACCESS_TOKEN}`,
      ],
      { env: { M2M_CLIENT_SECRET: SECRET } },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('api ok');
    expect(result.stderr).toContain('> authorization: Bearer [redacted]');
    expect(result.stderr).toContain('< x-token: [redacted]');
    expectNoCredential(result.stderr);
  });
});
