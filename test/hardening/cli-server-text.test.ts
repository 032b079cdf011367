/**
 * Text a server sends that the CLI shows, besides header values (cli-verbose-headers.test.ts): the
 * HTTP reason phrase. It was printed as received: `< 401 Unauthorized Basic ...` with --verbose, and
 * `fetch` printed the API's status text in its last stderr line even without --verbose, so a server
 * (or a proxy) echoing the Basic credentials or the token in its reason phrase had them shown.
 *
 * Now every text the CLI shows that came from a server goes through the redaction policy
 * (src/redact/) with the credentials the run knows (the secret, what each request carried, the tokens
 * of each token response), with or without --verbose. `fetch -i` prints the API's status line and
 * headers with the run's credentials removed too; the body it prints is the API's, as it came.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli-run.js';
import { leakedRuns } from '../helpers/leaks.js';
import { type LoopbackServer, startLoopbackServer } from '../helpers/loopback-server.js';

const SECRET = 'cli-S3cr3t-0123456789-abcdefghijkl';
const ACCESS_TOKEN = 'AT-cli-9876543210-zyxwvutsrqponmlk';
const BASIC = Buffer.from(`cid:${SECRET}`).toString('base64');

let server: LoopbackServer;
/** What the token endpoint answers: a token (its reason phrase echoing it), or a refusal echoing Basic. */
let refuse = false;
beforeAll(async () => {
  server = await startLoopbackServer((request) => {
    const authorization = String(request.headers.authorization ?? '');
    if (request.path.startsWith('/api')) {
      return {
        status: 403,
        statusText: `Forbidden for ${authorization}`,
        headers: { 'content-type': 'text/plain', 'x-echo': authorization },
        body: 'no',
      };
    }
    if (refuse) {
      return {
        status: 401,
        statusText: `Unauthorized ${authorization}`,
        json: { error: 'invalid_client' },
      };
    }
    return {
      statusText: `OK ${ACCESS_TOKEN}`,
      json: { access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 60 },
    };
  });
});
afterAll(() => server.close());

const env = () => ({
  M2M_TOKEN_ENDPOINT: `${server.origin}/token`,
  M2M_CLIENT_ID: 'cid',
  M2M_CLIENT_SECRET: SECRET,
});

function expectNoCredential(text: string): void {
  for (const value of [SECRET, BASIC, ACCESS_TOKEN]) expect(leakedRuns(text, value)).toEqual([]);
}

describe('the reason phrase of a server', () => {
  it('token --verbose: a refusal whose reason phrase echoes the Basic value', async () => {
    refuse = true;
    const result = await runCli(['token', '--verbose'], { env: env() });
    refuse = false;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^< 401 Unauthorized Basic \[redacted\]/m);
    expectNoCredential(`${result.stdout}\n${result.stderr}`);
  });

  it('fetch --verbose: the token response and the API answer echo the token in their reason phrase', async () => {
    const result = await runCli(['fetch', `${server.origin}/api`, '--verbose'], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^< 403 Forbidden for Bearer \[redacted\]/m);
    expectNoCredential(result.stderr);
  });

  it('fetch without --verbose: its last line names the status, not the token', async () => {
    const result = await runCli(['fetch', `${server.origin}/api`], { env: env() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/answered 403 Forbidden for Bearer \[redacted\]/);
    expectNoCredential(result.stderr);
  });

  it('fetch -i: the status line and headers without the token; the body as the API sent it', async () => {
    const result = await runCli(['fetch', `${server.origin}/api`, '-i'], { env: env() });
    expect(result.stdout).toMatch(/^HTTP\/1\.1 403 Forbidden for Bearer \[redacted\]$/m);
    expect(result.stdout).toMatch(/^x-echo: Bearer \[redacted\]$/m);
    expect(result.stdout).toMatch(/no$/);
    expectNoCredential(`${result.stdout}\n${result.stderr}`);
  });
});
