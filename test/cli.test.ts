/**
 * The m2m-token command line, run in process through `run(argv, io)` (what the bin calls) against a
 * loopback authorization server and API: usage, output, errors, --verbose and every flag. What only a
 * real process shows (the shebang, `$(...)`, EPIPE, standard input, the event loop kept alive during a
 * backoff) is in test/cli-bin.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COMMAND_SPECS, FLAG_OF, WITHOUT_FLAG } from '../src/cli/flags.js';
import type { ClientCredentialsClientOptions } from '../src/index.js';
import { runCli } from './helpers/cli-run.js';
import {
  basicCredentials,
  CLIENT_ID,
  type CliServer,
  formOf,
  SECRET,
  startCliServer,
} from './helpers/cli-server.js';
import { getFreePort } from './helpers/ports.js';

let server: CliServer;
let origin = '';
let dir = '';
const base = () => ({
  M2M_TOKEN_ENDPOINT: `${origin}/token`,
  M2M_CLIENT_ID: CLIENT_ID,
  M2M_CLIENT_SECRET: SECRET,
});
const noSecret = () => ({ M2M_TOKEN_ENDPOINT: `${origin}/token`, M2M_CLIENT_ID: CLIENT_ID });
const tokenRequests = () => server.tokenRequests();
const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+/);
const ecPem = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

beforeAll(async () => {
  server = await startCliServer();
  origin = server.origin;
  dir = mkdtempSync(join(tmpdir(), 'm2m-token-cli-'));
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => server.reset());

describe('help and usage', () => {
  it('--help lists the commands; each command has its own --help with every environment variable and examples', async () => {
    const main = await runCli(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toContain('m2m-token token');
    expect(main.stdout).toContain('m2m-token fetch URL');

    for (const command of ['token', 'fetch'] as const) {
      const help = await runCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stderr).toBe('');
      for (const spec of COMMAND_SPECS[command]) {
        if (spec.name === 'header' && command === 'token') continue; // the deprecated spelling
        expect(help.stdout, spec.name).toContain(`--${spec.name}`);
        if ('env' in spec && spec.env) expect(help.stdout, spec.name).toContain(spec.env);
      }
      expect(help.stdout).toContain('Examples:');
      expect(help.stdout).toContain('Exit status: 0 success, 1 token or API error');
    }
    expect((await runCli(['help', 'fetch'])).stdout).toContain('Usage: m2m-token fetch URL');
    expect((await runCli(['token', '--help'])).stdout.replace(/\s+/g, ' ')).toContain(
      'of the credentials (secret sources, --private-key, --client-assertion-file) given on the command line make the environment be ignored',
    );
  });

  it('every client option has a flag, or --help names it among the options without one, with the reason', async () => {
    // Every key of ClientCredentialsClientOptions (the compiler keeps this list complete).
    const options: Record<keyof ClientCredentialsClientOptions, true> = {
      tokenEndpoint: true,
      issuer: true,
      clientId: true,
      authMethod: true,
      clientSecret: true,
      privateKey: true,
      clientAssertion: true,
      clientAssertionFile: true,
      keyId: true,
      signingAlgorithm: true,
      certificate: true,
      assertionAudience: true,
      assertionTypHeader: true,
      assertionLifetimeSeconds: true,
      clockSkewSeconds: true,
      basicAuthEncoding: true,
      audience: true,
      scope: true,
      resource: true,
      extraParams: true,
      expiryBufferSeconds: true,
      defaultLifetimeSeconds: true,
      refreshAheadSeconds: true,
      cache: true,
      fetch: true,
      dispatcher: true,
      timeoutMs: true,
      allowInsecureHttp: true,
      retry: true,
      headers: true,
      dpop: true,
      onEvent: true,
    };
    const help = (await runCli(['token', '--help'])).stdout;
    const withoutFlags = help.slice(
      help.indexOf('Library options without a flag'),
      help.indexOf('Other options:'),
    );
    for (const option of Object.keys(options)) {
      if (FLAG_OF.has(option)) {
        expect(help, option).toContain(
          FLAG_OF.get(option) === 'the client secret' ? '--client-secret' : FLAG_OF.get(option),
        );
      } else {
        expect(withoutFlags, option).toMatch(new RegExp(`\\b${option}\\b.*: \\S`));
        expect(WITHOUT_FLAG).toHaveProperty(option);
      }
    }
    expect(withoutFlags).toContain('NODE_EXTRA_CA_CERTS');
  });

  it.each<[string, string[], RegExp]>([
    ['no command', [], /^m2m-token: missing command/],
    ['a misspelt command', ['tokens'], /^m2m-token: unknown command 'tokens'; did you mean 'token'\?/],
    ['options before the command', ['--client-id', 'x', 'token'], /^m2m-token: put the command first/],
  ])('%s: exit 2 with a pointer to --help', async (_name, args, expected) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(expected);
    expect(result.stderr).toMatch(/\nTry 'm2m-token --help'\.\n$/);
  });

  it.each<[string, string[], string]>([
    ['a misspelt flag', ['token', '--audiance', 'x'], 'unknown option --audiance; did you mean --audience?'],
    [
      'a flag in another case',
      ['token', '--Client-Id', 'x'],
      'unknown option --Client-Id; did you mean --client-id?',
    ],
    [
      'a flag of the other command',
      ['token', '-X', 'POST'],
      "unknown option -X: it is an option of 'm2m-token fetch', not of 'token'",
    ],
    [
      "fetch's -H given to token",
      ['token', '-H', 'User-Agent: x'],
      "unknown option -H: it is an option of 'm2m-token fetch', not of 'token'; a header of token requests is --token-request-header",
    ],
    [
      "token's output flag given to fetch",
      ['fetch', 'https://a.example/', '--json'],
      "unknown option --json: it is an option of 'm2m-token token', not of 'fetch'",
    ],
    ['nothing close', ['token', '--frobnicate'], 'unknown option --frobnicate'],
  ])('%s: exit 2 naming the flag to use', async (_name, args, message) => {
    const result = await runCli(args, { env: base() });
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe(`m2m-token: ${message}`);
    expect(server.seen).toHaveLength(0);
  });

  it('an unexpected word is counted as typed (the command is word 1) and never shown', async () => {
    const fetch = await runCli(['fetch', `${origin}/api/data`, 'tok-do-not-echo'], { env: base() });
    expect(fetch.stderr.split('\n')[0]).toBe(
      'm2m-token: unexpected word 3 (not shown: it may hold a credential); options start with --',
    );
    const token = await runCli(['token', '--audience', 'a', 'tok-do-not-echo', '--json'], { env: base() });
    expect(token.stderr).toMatch(/^m2m-token: unexpected word 4 \(not shown/);
    // After a flag that takes no value, the message says so.
    const afterFlag = await runCli(['token', '--json', 'tok-do-not-echo'], { env: base() });
    expect(afterFlag.stderr).toMatch(
      /^m2m-token: unexpected word 3 \(not shown: it may hold a credential\); --json takes no value/,
    );
    for (const result of [fetch, token, afterFlag]) {
      expect(result.code).toBe(2);
      expect(result.stderr).not.toContain('tok-do-not-echo');
    }
    expect(server.seen).toHaveLength(0);
  });
});

describe('m2m-token token', () => {
  it('prints the access token alone on stdout (secret from M2M_CLIENT_SECRET, client_secret_basic)', async () => {
    const result = await runCli(['token'], { env: base() });
    expect(result).toEqual({ code: 0, stdout: `${server.issued[0]}\n`, stderr: '' });
    const request = tokenRequests()[0];
    expect(basicCredentials(request?.headers.authorization)).toMatchObject({ id: CLIENT_ID, secret: SECRET });
    expect(formOf(request).get('grant_type')).toBe('client_credentials');
  });

  it('--json prints the whole token response', async () => {
    const result = await runCli(['token', '--json', '--scope', 'read:secrets'], { env: base() });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      access_token: server.issued[0],
      token_type: 'Bearer',
      expires_in: 600,
      scope: 'read:secrets',
    });
  });

  it('--auth-header prints an Authorization header line', async () => {
    const result = await runCli(['token', '--auth-header'], { env: base() });
    expect(result).toEqual({ code: 0, stdout: `Authorization: Bearer ${server.issued[0]}\n`, stderr: '' });
  });

  it('--header (the old spelling) still prints it, with a note on stderr naming --auth-header', async () => {
    const result = await runCli(['token', '--header'], { env: base() });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Authorization: Bearer ${server.issued[0]}\n`);
    expect(result.stderr).toBe(
      "m2m-token: note: 'token --header' is now 'token --auth-header' (-H/--header sends a request header in 'fetch')\n",
    );
  });

  it("--decode shows a JWT's header, claims and time left, marked as not verified", async () => {
    const result = await runCli(['token', '--decode', '--audience', 'https://api.example.com/'], {
      env: base(),
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('NOT VERIFIED');
    expect(result.stdout).toContain('"alg": "HS256"');
    expect(result.stdout).toContain('"aud": "https://api.example.com/"');
    expect(result.stdout).toContain(`"sub": "${CLIENT_ID}"`);
    expect(result.stdout).toMatch(/Expires: {4}\S+Z \(in (9 min \d+ s|10 min)\)/);
    expect(result.stdout).not.toContain(server.issued[0]);
  });

  it('--decode says so when the token is opaque', async () => {
    const result = await runCli(['token', '--decode', '--audience', 'opaque'], { env: base() });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Opaque access token (not a JWT');
    expect(result.stdout).toMatch(/Expires: .*\[from expires_in\]/);
  });

  it('sends --audience, repeated --scope and --resource, and --param', async () => {
    const result = await runCli(
      [
        'token',
        ...['--audience', 'urn:worldmappers', '--scope', 'geocode:location', '--scope', 'read:locations'],
        ...['--resource', 'https://a.example/', '--resource', 'https://b.example/'],
        ...['--param', 'organization=org_1', '--param', 'note=a=b'],
      ],
      { env: base() },
    );
    expect(result.code).toBe(0);
    const form = formOf(tokenRequests()[0]);
    expect(form.get('audience')).toBe('urn:worldmappers');
    expect(form.get('scope')).toBe('geocode:location read:locations');
    expect(form.getAll('resource')).toEqual(['https://a.example/', 'https://b.example/']);
    expect(form.get('organization')).toBe('org_1');
    expect(form.get('note')).toBe('a=b');
  });

  it('reads every client option from its environment variable; a flag beats the variable', async () => {
    const env = {
      ...base(),
      M2M_AUTH_METHOD: 'client_secret_post',
      M2M_AUDIENCE: 'urn:from-env',
      M2M_SCOPE: 'a b',
      M2M_RESOURCE: 'https://r1.example/ https://r2.example/',
      M2M_PARAM: 'organization=org_2&tenant=t1',
      M2M_TOKEN_REQUEST_HEADER: 'User-Agent: env-agent/1.0\nX-Tenant: t1',
    };
    const fromEnv = await runCli(['token'], { env });
    expect(fromEnv.code).toBe(0);
    let request = tokenRequests()[0];
    let form = formOf(request);
    expect(request?.headers.authorization).toBeUndefined();
    expect(form.get('client_id')).toBe(CLIENT_ID);
    expect(form.get('client_secret')).toBe(SECRET);
    expect(form.get('audience')).toBe('urn:from-env');
    expect(form.get('scope')).toBe('a b');
    expect(form.getAll('resource')).toEqual(['https://r1.example/', 'https://r2.example/']);
    expect(form.get('organization')).toBe('org_2');
    expect(form.get('tenant')).toBe('t1');
    expect(request?.headers['user-agent']).toBe('env-agent/1.0');
    expect(request?.headers['x-tenant']).toBe('t1');

    const flagged = await runCli(
      [
        'token',
        '--audience',
        'urn:from-flag',
        '--auth-method',
        'client_secret_basic',
        '--token-request-header',
        'User-Agent: flag/2',
      ],
      { env },
    );
    expect(flagged.code).toBe(0);
    request = tokenRequests()[1];
    form = formOf(request);
    expect(form.get('audience')).toBe('urn:from-flag');
    expect(request?.headers.authorization).toMatch(/^Basic /);
    expect(request?.headers['user-agent']).toBe('flag/2');
  });

  it('--issuer discovers the token endpoint, ignoring an exported M2M_TOKEN_ENDPOINT', async () => {
    const env = { ...base(), M2M_TOKEN_ENDPOINT: `${origin}/token-broken` };
    const result = await runCli(['token', '--issuer', origin], { env });
    expect(result.code).toBe(0);
    expect(server.seen.map((r) => r.path)).toEqual(['/.well-known/oauth-authorization-server', '/token']);
    expect(result.stdout).toBe(`${server.issued[0]}\n`);
  });

  it('--client-secret-file (and M2M_CLIENT_SECRET_FILE) reads the secret, one trailing newline ignored', async () => {
    const file = join(dir, 'secret.txt');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    const result = await runCli(['token', '--client-secret-file', file], { env: noSecret() });
    expect(result.code).toBe(0);
    expect(basicCredentials(tokenRequests()[0]?.headers.authorization)).toMatchObject({ secret: SECRET });
    const viaEnv = await runCli(['token'], { env: { ...noSecret(), M2M_CLIENT_SECRET_FILE: file } });
    expect(viaEnv.code).toBe(0);
  });

  it('--client-secret-stdin reads the secret from standard input', async () => {
    const result = await runCli(['token', '--client-secret-stdin'], {
      env: noSecret(),
      stdin: `${SECRET}\n`,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${server.issued[0]}\n`);
  });

  it('--client-secret on the command line works, with a warning that never repeats the secret', async () => {
    const result = await runCli(['token', '--client-secret', SECRET], { env: noSecret() });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${server.issued[0]}\n`);
    expect(result.stderr).toMatch(/^m2m-token: warning: --client-secret puts the secret on the command line/);
    expect(result.stderr).not.toContain(SECRET);
  });

  it('--private-key FILE with --key-id, --assertion-audience, --no-assertion-typ, --assertion-lifetime and --clock-skew: private_key_jwt', async () => {
    const pem = ecPem();
    const file = join(dir, 'client-key.pem');
    writeFileSync(file, pem, { mode: 0o600 });
    const plain = await runCli(['token', '--private-key', file, '--key-id', 'kid-1'], { env: noSecret() });
    expect(plain.code).toBe(0);
    let assertion = formOf(tokenRequests()[0]).get('client_assertion') ?? '';
    expect(decodeProtectedHeader(assertion)).toMatchObject({
      alg: 'ES256',
      kid: 'kid-1',
      typ: 'client-authentication+jwt',
    });
    expect(decodeJwt(assertion)).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: `${origin}/token` });

    const tuned = await runCli(
      [
        'token',
        '--private-key',
        file,
        '--assertion-audience',
        'https://idp.example/',
        '--no-assertion-typ',
        '--assertion-lifetime',
        '30',
        '--clock-skew',
        '2',
      ],
      { env: noSecret() },
    );
    expect(tuned.code).toBe(0);
    assertion = formOf(tokenRequests()[1]).get('client_assertion') ?? '';
    expect(decodeProtectedHeader(assertion).typ).toBeUndefined();
    const claims = decodeJwt(assertion);
    expect(claims.aud).toBe('https://idp.example/');
    // iat is set --clock-skew seconds in the past, exp --assertion-lifetime seconds ahead.
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(32);
  });

  it('M2M_PRIVATE_KEY names the key file or holds the PEM; M2M_PRIVATE_KEY_FILE is refused with a pointer to it', async () => {
    const pem = ecPem();
    const file = join(dir, 'env-key.pem');
    writeFileSync(file, pem, { mode: 0o600 });
    for (const value of [file, pem]) {
      const result = await runCli(['token'], { env: { ...noSecret(), M2M_PRIVATE_KEY: value } });
      expect(result.code).toBe(0);
    }
    expect(tokenRequests().map((r) => formOf(r).get('client_assertion_type'))).toEqual([
      'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    ]);
    const wrong = await runCli(['token'], { env: { ...noSecret(), M2M_PRIVATE_KEY_FILE: file } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.split('\n')[0]).toBe(
      "m2m-token: M2M_PRIVATE_KEY_FILE is not read: set M2M_PRIVATE_KEY to the key's file name (or to the PEM or JWK itself)",
    );
  });

  it.each<[string, Record<string, string>]>([
    ['M2M_CLIENT_SECRET', { M2M_CLIENT_SECRET: SECRET }],
    ['M2M_CLIENT_SECRET_FILE', { M2M_CLIENT_SECRET_FILE: '/nonexistent/secret' }],
    ['M2M_PRIVATE_KEY', { M2M_PRIVATE_KEY: '/nonexistent/key.pem' }],
    ['all three', { M2M_CLIENT_SECRET: SECRET, M2M_CLIENT_SECRET_FILE: '/x', M2M_PRIVATE_KEY: '/y' }],
  ])(
    '--client-assertion-file with an exported %s: the environment is ignored for the credentials',
    async (_n, exported) => {
      const file = join(dir, 'assertion.jwt');
      const assertion = 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjbGktY2xpZW50In0.c2lnbmF0dXJl';
      writeFileSync(file, `${assertion}\n`, { mode: 0o600 });
      const result = await runCli(['token', '--client-assertion-file', file], {
        env: { ...noSecret(), ...exported },
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const form = formOf(tokenRequests()[0]);
      expect(form.get('client_assertion')).toBe(assertion);
      expect(form.has('client_secret')).toBe(false);
      expect(tokenRequests()[0]?.headers.authorization).toBeUndefined();
    },
  );

  it('--private-key with an exported M2M_CLIENT_SECRET_FILE: the environment is ignored for the credentials', async () => {
    const file = join(dir, 'group-key.pem');
    writeFileSync(file, ecPem(), { mode: 0o600 });
    const result = await runCli(['token', '--private-key', file], {
      env: { ...noSecret(), M2M_CLIENT_SECRET_FILE: '/nonexistent/secret' },
    });
    expect(result.code).toBe(0);
    expect(formOf(tokenRequests()[0]).get('client_assertion_type')).toBe(
      'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    );
  });

  it('the example env file of private_key_jwt names only variables the CLI reads', () => {
    const known = new Set(
      Object.values(COMMAND_SPECS)
        .flat()
        .map((s) => ('env' in s ? s.env : undefined)),
    );
    const env = readFileSync(new URL('../examples/private-key-jwt/dev.env', import.meta.url), 'utf8');
    const names = [...env.matchAll(/^(M2M_\w+)=/gm)].map((m) => m[1]);
    expect(names).toContain('M2M_PRIVATE_KEY');
    for (const name of names) expect(known.has(name), name).toBe(true);
  });

  it('--basic-auth-encoding none sends the id and secret raw', async () => {
    const result = await runCli(['token', '--basic-auth-encoding', 'none'], { env: base() });
    expect(result.code).toBe(0);
    expect(tokenRequests()[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64')}`,
    );
  });

  it('--dpop: a DPoP-bound token, with a note that its key existed only in this run', async () => {
    const result = await runCli(['token', '--dpop', '--auth-header'], { env: base() });
    expect(result.code).toBe(0);
    expect(tokenRequests()[0]?.headers.dpop).toBeDefined();
    expect(result.stdout).toBe(`Authorization: DPoP ${server.issued[0]}\n`);
    expect(result.stderr).toMatch(
      /^m2m-token: note: this DPoP token is bound to a key that existed only in this run/,
    );
  });

  it('--dpop-key FILE (or M2M_DPOP_KEY): DPoP with that key, no note', async () => {
    const file = join(dir, 'dpop-key.pem');
    writeFileSync(file, ecPem(), { mode: 0o600 });
    const result = await runCli(['token', '--dpop-key', file], { env: base() });
    expect(result).toEqual({ code: 0, stdout: `${server.issued[0]}\n`, stderr: '' });
    const proof = tokenRequests()[0]?.headers.dpop as string;
    expect(decodeProtectedHeader(proof)).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' });
    const viaEnv = await runCli(['token'], { env: { ...base(), M2M_DPOP_KEY: file } });
    expect(viaEnv.code).toBe(0);
    expect(tokenRequests()[1]?.headers.dpop).toBeDefined();
  });

  it('a bad secret: exit 1 with the OAuth error, the endpoint and a hint naming flags; nothing on stdout', async () => {
    const result = await runCli(['token'], { env: { ...base(), M2M_CLIENT_SECRET: 'wrong-secret-value' } });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const [first, second] = result.stderr.split('\n');
    expect(first).toBe(
      `m2m-token: token endpoint ${origin}/token answered 401 invalid_client: Client authentication failed (client id "${CLIENT_ID}")`,
    );
    expect(second).toMatch(
      /^hint: Check the client id, the client secret, and the authentication method: .*\(--auth-method\)/,
    );
    expect(result.stderr).not.toContain('wrong-secret-value');
    noStack(result.stderr);
  });

  it('an unreachable token endpoint: exit 1 naming the URL and the socket error (--retry 0: one attempt)', async () => {
    const port = await getFreePort();
    const result = await runCli(
      ['token', '--token-endpoint', `http://127.0.0.1:${port}/token`, '--retry', '0'],
      {
        env: base(),
      },
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      new RegExp(
        `^m2m-token: token endpoint http://127\\.0\\.0\\.1:${port}/token could not be reached: .*ECONNREFUSED`,
      ),
    );
    expect(result.stderr).not.toMatch(/attempts/);
    noStack(result.stderr);
  });

  it('a token endpoint that never answers: exit 1 after --timeout, naming it in seconds', async () => {
    const result = await runCli(
      [
        'token',
        '--token-endpoint',
        `http://127.0.0.1:${server.hangingPort}/token`,
        '--timeout',
        '0.2',
        '--retry',
        '0',
      ],
      { env: base() },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^m2m-token: token endpoint http://127\\.0\\.0\\.1:${server.hangingPort}/token did not answer in time \\(--timeout 0\\.2 s.*\\); if the server is slow, raise --timeout`,
      ),
    );
    noStack(result.stderr);
  });

  it('--retry N: N retries of a failing token request (M2M_RETRY too)', async () => {
    const flag = await runCli(['token', '--token-endpoint', `${origin}/token-broken`, '--retry', '1'], {
      env: base(),
    });
    expect(flag.code).toBe(1);
    expect(server.seen.filter((r) => r.path === '/token-broken')).toHaveLength(2);
    server.reset();
    const env = await runCli(['token', '--token-endpoint', `${origin}/token-broken`], {
      env: { ...base(), M2M_RETRY: '0' },
    });
    expect(env.code).toBe(1);
    expect(server.seen.filter((r) => r.path === '/token-broken')).toHaveLength(1);
  });

  it('a 500 without an OAuth error body: exit 1 with the status and a snippet', async () => {
    const result = await runCli(['token', '--token-endpoint', `${origin}/token-broken`, '--retry', '0'], {
      env: base(),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^m2m-token: token endpoint http:\/\/127\.0\.0\.1:\d+\/token-broken answered 500 with a body that is not JSON \(client id "cli-client"\)\nbody: /,
    );
    noStack(result.stderr);
  });

  it('a missing option: exit 2 with a one-line message and a pointer to --help', async () => {
    const { M2M_CLIENT_ID: _, ...env } = base();
    const result = await runCli(['token'], { env });
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: "m2m-token: missing --client-id ID (or M2M_CLIENT_ID)\nTry 'm2m-token token --help'.\n",
    });
    expect(server.seen).toHaveLength(0);
  });

  it.each<[string, string[], RegExp]>([
    [
      'a flag without its value',
      ['token', '--audience'],
      /^m2m-token: option '--audience <value>' argument missing\n/,
    ],
    [
      'two output modes',
      ['token', '--json', '--decode'],
      /^m2m-token: --json and --decode cannot be combined\n/,
    ],
    [
      '--auth-header with --json',
      ['token', '--auth-header', '--json'],
      /^m2m-token: --json and --auth-header cannot be combined\n/,
    ],
    [
      'both endpoints',
      ['token', '--issuer', 'https://a.example/', '--token-endpoint', 'https://a.example/t'],
      /^m2m-token: give --token-endpoint or --issuer, not both\n/,
    ],
    [
      'an http endpoint that is not loopback',
      ['token', '--token-endpoint', 'http://idp.example.com/token'],
      /^m2m-token: --token-endpoint: http: is only allowed for loopback hosts/,
    ],
    ['an unknown auth method', ['token', '--auth-method', 'magic'], /^m2m-token: --auth-method: /],
    [
      'a timeout that is not a number',
      ['token', '--timeout', 'soon'],
      /^m2m-token: --timeout takes a number of seconds, not 'soon'\n/,
    ],
    [
      'a retry count that is not whole',
      ['token', '--retry', '1.5'],
      /^m2m-token: --retry takes a whole number of retries, not '1.5'\n/,
    ],
    ['too many retries', ['token', '--retry', '50'], /^m2m-token: --retry: must be at most 10\n/],
    [
      'an unknown Basic encoding',
      ['token', '--basic-auth-encoding', 'base64'],
      /^m2m-token: --basic-auth-encoding: must be "form-urlencoded" or "none"/,
    ],
    [
      'an assertion lifetime over 120 s',
      ['token', '--assertion-lifetime', '500', '--auth-method', 'client_secret_jwt'],
      /^m2m-token: --assertion-lifetime: must be at most 120/,
    ],
    [
      'a malformed token request header',
      ['token', '--token-request-header', 'no colon s3cr3t'],
      /^m2m-token: --token-request-header takes 'Name: value' \(the argument is not echoed/,
    ],
    [
      'a token request header the client sets',
      ['token', '--token-request-header', 'Authorization: x'],
      /^m2m-token: --token-request-header Authorization: is set by the client/,
    ],
    [
      'a --param without =',
      ['token', '--param', 's3cr3t-do-not-echo'],
      /^m2m-token: --param takes NAME=VALUE \(the argument is not echoed/,
    ],
    [
      'an unreadable key file',
      ['token', '--private-key', '/nonexistent/key.pem'],
      /^m2m-token: cannot read --private-key \/nonexistent\/key\.pem \(ENOENT\)\n/,
    ],
    [
      'two secret sources',
      ['token', '--client-secret-file', '/nonexistent/secret', '--client-secret-stdin'],
      /^m2m-token: give one client secret source, not --client-secret-file and --client-secret-stdin\n/,
    ],
    [
      'an unreadable secret file',
      ['token', '--client-secret-file', '/nonexistent/secret'],
      /^m2m-token: cannot read --client-secret-file \/nonexistent\/secret \(ENOENT\)\n/,
    ],
  ])('%s: exit 2 without a request', async (_name, args, expected) => {
    const result = await runCli(args, { env: base() });
    expect(result.code, args.join(' ')).toBe(2);
    expect(result.stderr).toMatch(expected);
    expect(result.stderr).toMatch(/Try 'm2m-token token --help'\.\n$/);
    expect(result.stderr).not.toMatch(/s3cr3t/);
    noStack(result.stderr);
    expect(server.seen).toHaveLength(0);
  });

  it('both endpoint variables, or no credentials at all: exit 2 saying which variables to set', async () => {
    const both = await runCli(['token'], { env: { ...base(), M2M_ISSUER: origin } });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^m2m-token: give --token-endpoint or --issuer, not both\n/);
    const none = await runCli(['token'], { env: noSecret() });
    expect(none.code).toBe(2);
    expect(none.stderr.split('\n')[0]).toBe(
      'm2m-token: no client credentials: set M2M_CLIENT_SECRET (or M2M_CLIENT_SECRET_FILE), M2M_PRIVATE_KEY or M2M_CLIENT_ASSERTION_FILE, or give --client-secret-file FILE, --client-secret-stdin, --private-key FILE or --client-assertion-file FILE',
    );
    expect(server.seen).toHaveLength(0);
  });

  it('an http token endpoint on a host not known as loopback needs --allow-insecure-http (or M2M_ALLOW_INSECURE_HTTP)', async () => {
    // An IPv4-mapped IPv6 address: it reaches this loopback server, but is not on the client's loopback list.
    const endpoint = origin.replace('127.0.0.1', '[::ffff:127.0.0.1]');
    const refused = await runCli(['token', '--token-endpoint', `${endpoint}/token`], { env: base() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^m2m-token: --token-endpoint: http: is only allowed for loopback hosts.*--allow-insecure-http/,
    );
    expect(server.seen).toHaveLength(0);

    const flagged = await runCli(
      ['token', '--allow-insecure-http', '--token-endpoint', `${endpoint}/token`],
      { env: base() },
    );
    expect(flagged.code).toBe(0);
    expect(flagged.stdout).toBe(`${server.issued[0]}\n`);
    const fromEnv = await runCli(['token', '--token-endpoint', `${endpoint}/token`], {
      env: { ...base(), M2M_ALLOW_INSECURE_HTTP: 'true' },
    });
    expect(fromEnv.code).toBe(0);
    const bad = await runCli(['token'], { env: { ...base(), M2M_ALLOW_INSECURE_HTTP: 'maybe' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(
      /^m2m-token: M2M_ALLOW_INSECURE_HTTP takes 1\/true or 0\/false, not 'maybe'\n/,
    );
  });

  it('--verbose shows the requests and timings with the secret, the assertion and the token redacted', async () => {
    const basic = await runCli(['token', '--verbose', '--issuer', origin], {
      env: { M2M_CLIENT_ID: CLIENT_ID, M2M_CLIENT_SECRET: SECRET },
    });
    expect(basic.code).toBe(0);
    expect(basic.stderr).toContain('* issuer');
    expect(basic.stderr).toContain('secret from M2M_CLIENT_SECRET');
    expect(basic.stderr).toContain(`> GET ${origin}/.well-known/oauth-authorization-server`);
    expect(basic.stderr).toContain(`> POST ${origin}/token`);
    expect(basic.stderr).toContain('> authorization: Basic [redacted]');
    expect(basic.stderr).toContain('> grant_type=client_credentials');
    expect(basic.stderr).toMatch(/< 200 OK \(\d+ ms\)/);
    expect(basic.stderr).toMatch(/\* token received in \d+ ms \(1 attempt\)/);
    expect(basic.stderr).toMatch(/\* done in \d+ ms/);
    const encoded = Buffer.from(`${CLIENT_ID}:${encodeURIComponent(SECRET)}`).toString('base64');
    for (const hidden of [SECRET, encodeURIComponent(SECRET), encoded, server.issued[0] as string]) {
      expect(basic.stderr).not.toContain(hidden);
    }

    const post = await runCli(['token', '-v', '--auth-method', 'client_secret_post'], { env: base() });
    expect(post.code).toBe(0);
    expect(post.stderr).toContain(`client_id=${CLIENT_ID}&client_secret=[redacted]`);
    expect(post.stderr).not.toContain(SECRET);
    expect(post.stderr).not.toContain(encodeURIComponent(SECRET));
    expect(post.stderr).not.toContain(server.issued[1]);
  });

  it('--verbose on a refused client still prints no secret', async () => {
    const result = await runCli(['token', '-v'], {
      env: { ...base(), M2M_CLIENT_SECRET: 'another-wrong-secret' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('< 401 Unauthorized');
    expect(result.stderr).toContain('invalid_client');
    expect(result.stderr).not.toContain('another-wrong-secret');
  });
});

describe('m2m-token fetch', () => {
  it('calls the API with a token and prints the body', async () => {
    const result = await runCli(['fetch', `${origin}/api/data`, '--audience', 'https://api.example.com/'], {
      env: base(),
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ data: 'Here is the protected data.' });
    const api = server.seen.find((r) => r.path === '/api/data');
    expect(api?.headers.authorization).toBe(`Bearer ${server.issued[0]}`);
    expect(formOf(tokenRequests()[0]).get('audience')).toBe('https://api.example.com/');
  });

  it('-i prints the status line and the headers before the body', async () => {
    const result = await runCli(['fetch', '-i', `${origin}/api/data`], { env: base() });
    expect(result.code).toBe(0);
    const [head, body] = result.stdout.split('\n\n');
    expect(head?.split('\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(head).toContain('x-request-id: req-1');
    expect(head).toContain('content-type: application/json');
    expect(JSON.parse(body ?? '')).toEqual({ data: 'Here is the protected data.' });
  });

  it('-X, -H and -d: the request as given; -d alone POSTs a form, as curl does', async () => {
    const json = await runCli(
      [
        'fetch',
        `${origin}/api/echo`,
        '-X',
        'PUT',
        '-H',
        'Content-Type: application/json',
        '-d',
        '{"name":"x"}',
      ],
      { env: base() },
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      method: 'PUT',
      contentType: 'application/json',
      body: '{"name":"x"}',
      bearer: true,
    });

    const form = await runCli(['fetch', `${origin}/api/echo`, '-d', 'a=1&b=2'], { env: base() });
    expect(JSON.parse(form.stdout)).toMatchObject({
      method: 'POST',
      contentType: 'application/x-www-form-urlencoded',
      body: 'a=1&b=2',
    });

    const file = join(dir, 'payload.json');
    writeFileSync(file, '{"from":"file"}');
    const fromFile = await runCli(
      ['fetch', `${origin}/api/echo`, '-d', `@${file}`, '-H', 'content-type: application/json'],
      {
        env: base(),
      },
    );
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ method: 'POST', body: '{"from":"file"}' });

    const fromStdin = await runCli(['fetch', `${origin}/api/echo`, '-d', '@-'], {
      env: base(),
      stdin: 'x=stdin',
    });
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ method: 'POST', body: 'x=stdin' });
  });

  it('--dpop: the API gets the DPoP scheme and a proof', async () => {
    const result = await runCli(['fetch', `${origin}/api/whoami`, '--dpop'], { env: base() });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toEqual({ scheme: 'DPoP', known: true, proof: true });
  });

  it('an API error status: the body on stdout, exit 1 with the status on stderr', async () => {
    const result = await runCli(['fetch', `${origin}/api/forbidden`], { env: base() });
    expect(result).toEqual({
      code: 1,
      stdout: 'no access to this resource',
      stderr: `m2m-token: GET ${origin}/api/forbidden answered 403 Forbidden\n`,
    });
  });

  it('a 401 from the API renews the token once and repeats the request (the fetch wrapper)', async () => {
    server.flaky = [401, 200];
    const result = await runCli(['fetch', `${origin}/api/flaky`], { env: base() });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ok: true });
    expect(tokenRequests()).toHaveLength(2);
    const apiCalls = server.seen.filter((r) => r.path === '/api/flaky');
    expect(apiCalls.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${server.issued[0]}`,
      `Bearer ${server.issued[1]}`,
    ]);
  });

  it('a bad secret stops before the API is called', async () => {
    const result = await runCli(['fetch', `${origin}/api/data`], {
      env: { ...base(), M2M_CLIENT_SECRET: 'nope-nope' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')[0]).toMatch(/^m2m-token: token endpoint .* answered 401 invalid_client/);
    expect(server.seen.some((r) => r.path.startsWith('/api/'))).toBe(false);
  });

  it('an unreachable API: exit 1 naming it', async () => {
    const port = await getFreePort();
    const result = await runCli(['fetch', `http://127.0.0.1:${port}/api/data`], { env: base() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^m2m-token: cannot reach http://127\\.0\\.0\\.1:${port}/api/data: .*ECONNREFUSED`),
    );
    noStack(result.stderr);
  });

  it.each<[string, string[], RegExp]>([
    ['no URL', ['fetch'], /^m2m-token: missing URL/],
    ['a relative URL', ['fetch', '/api/data'], /^m2m-token: '\/api\/data' is not an absolute URL/],
    [
      'a header without a colon',
      ['fetch', 'https://a.example/', '-H', 'no colon here'],
      /^m2m-token: -H takes 'Name: value'/,
    ],
    [
      'a header that holds a credential',
      ['fetch', 'https://a.example/', '-H', 'Authorization Bearer tok-do-not-echo'],
      /^m2m-token: -H takes/,
    ],
    [
      '-d @- with the secret on stdin too',
      ['fetch', 'https://a.example/', '-d', '@-', '--client-secret-stdin'],
      /both need standard input/,
    ],
  ])('usage error, %s: exit 2', async (_name, args, expected) => {
    const result = await runCli(args, { env: base() });
    expect(result.code, args.join(' ')).toBe(2);
    expect(result.stderr).toMatch(expected);
    expect(result.stderr).toMatch(/Try 'm2m-token fetch --help'\.\n$/);
    expect(result.stderr).not.toContain('tok-do-not-echo');
    expect(server.seen).toHaveLength(0);
  });

  it('--verbose redacts the bearer token of the API request', async () => {
    const result = await runCli(['fetch', '-v', `${origin}/api/data`], { env: base() });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`> GET ${origin}/api/data`);
    expect(result.stderr).toContain('> authorization: Bearer [redacted]');
    expect(result.stderr).not.toContain(server.issued[0]);
    expect(result.stderr).not.toContain(SECRET);
  });
});
