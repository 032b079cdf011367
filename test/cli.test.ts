/**
 * The m2m-token bin, run as users run it: built with the project's own tsup config (the `cli` entry,
 * shebang banner included) and spawned as a child process against loopback servers.
 *
 * Build: `npm test` runs before `npm run build`, so this file builds the bin itself, into
 * node_modules/.cache/m2m-token-cli-test/<pid>/ rather than dist/: no race with a concurrent
 * `npm run build` (whose `clean` empties dist/), and the bundle still resolves jose, zod, ... from
 * the project's node_modules like the published dist/cli.js does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeServer, getFreePort, listenOnLoopback } from './helpers/ports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(ROOT, 'node_modules', '.cache', 'm2m-token-cli-test', String(process.pid));
const CLI = join(OUT_DIR, 'cli.js');

const CLIENT_ID = 'cli-client';
const SECRET = 'cli-s3cret:/+=value';
const JWT_KEY = new TextEncoder().encode('a-test-signing-key-of-at-least-32-bytes!');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns the built bin with a clean environment (only PATH and what the test sets). */
function runCli(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; direct?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '', ...options.env };
    const child: ChildProcess = options.direct
      ? spawn(CLI, args, { env })
      : spawn(process.execPath, [CLI, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.stdin ?? '');
  });
}

/** Runs a shell line with $CLI set, to prove `$(m2m-token token)` composes. */
function runShell(line: string, env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', line], {
      env: { PATH: process.env.PATH ?? '', CLI: `${process.execPath} ${CLI}`, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---------------------------------------------------------------------------------------------
// Loopback authorization server + API.

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
let issued: string[] = [];
let origin = '';
let hangingPort = 0;
/** Answers of /api/flaky, consumed one by one. */
let flaky: number[] = [];

function basicCredentials(header: string | undefined): [string, string] | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const at = decoded.indexOf(':');
  const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
  return [decode(decoded.slice(0, at)), decode(decoded.slice(at + 1))];
}

async function issue(form: URLSearchParams): Promise<Record<string, unknown>> {
  const audience = form.get('audience') ?? undefined;
  const scope = form.get('scope') ?? undefined;
  let accessToken: string;
  if (audience === 'opaque') {
    accessToken = `opaque-${issued.length + 1}-${'x'.repeat(20)}`;
  } else {
    const jwt = new SignJWT({ client_id: CLIENT_ID, ...(scope ? { scope } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'test-key' })
      .setIssuer(origin)
      .setSubject(CLIENT_ID)
      .setIssuedAt()
      .setJti(`jti-${issued.length + 1}`)
      .setExpirationTime('10m');
    if (audience) jwt.setAudience(audience);
    accessToken = await jwt.sign(JWT_KEY);
  }
  issued.push(accessToken);
  return { access_token: accessToken, token_type: 'Bearer', expires_in: 600, ...(scope ? { scope } : {}) };
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const request: Seen = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    seen.push(request);
    void respond(request).then(({ status, body, headers }) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
  });
});

async function respond(
  request: Seen,
): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
  const path = request.path.split('?')[0];
  const bearer = request.headers.authorization?.startsWith('Bearer ')
    ? request.headers.authorization.slice(7)
    : undefined;
  switch (path) {
    case '/.well-known/oauth-authorization-server':
      return {
        status: 200,
        body: {
          issuer: origin,
          token_endpoint: `${origin}/token`,
          token_endpoint_auth_methods_supported: [
            'client_secret_basic',
            'client_secret_post',
            'private_key_jwt',
          ],
        },
      };
    case '/token': {
      const form = new URLSearchParams(request.body);
      const basic = basicCredentials(request.headers.authorization);
      const id = basic?.[0] ?? form.get('client_id');
      const secret = basic?.[1] ?? form.get('client_secret');
      const assertion = form.get('client_assertion');
      const ok = id === CLIENT_ID && (secret === SECRET || (assertion !== null && secret === null));
      if (!ok) {
        return {
          status: 401,
          body: { error: 'invalid_client', error_description: 'Client authentication failed' },
        };
      }
      return { status: 200, body: await issue(form) };
    }
    case '/token-broken':
      return {
        status: 500,
        body: '<html>Internal Server Error</html>',
        headers: { 'content-type': 'text/html' },
      };
    case '/api/data':
      if (!bearer || !issued.includes(bearer)) return { status: 401, body: { error: 'invalid_token' } };
      return {
        status: 200,
        body: { data: 'Here is the protected data.' },
        headers: { 'x-request-id': 'req-1' },
      };
    case '/api/echo':
      return {
        status: 200,
        body: {
          method: request.method,
          contentType: request.headers['content-type'] ?? null,
          body: request.body,
          bearer: bearer !== undefined && issued.includes(bearer),
        },
      };
    case '/api/forbidden':
      return { status: 403, body: 'no access to this resource', headers: { 'content-type': 'text/plain' } };
    case '/api/flaky': {
      const status = flaky.shift() ?? 200;
      return status === 401
        ? {
            status: 401,
            body: { error: 'invalid_token' },
            headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
          }
        : { status, body: { ok: true } };
    }
    default:
      return { status: 404, body: { error: 'not_found' } };
  }
}

/** A port that accepts connections and never answers. */
const hanging = createServer(() => undefined);

const tokenRequests = () => seen.filter((r) => r.path === '/token');
const formOf = (r: Seen | undefined) => new URLSearchParams(r?.body ?? '');
const base = () => ({
  M2M_TOKEN_ENDPOINT: `${origin}/token`,
  M2M_CLIENT_ID: CLIENT_ID,
  M2M_CLIENT_SECRET: SECRET,
});
const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+/);

beforeAll(async () => {
  const [port] = await Promise.all([listenOnLoopback(server), listenOnLoopback(hanging)]);
  origin = `http://127.0.0.1:${port}`;
  const address = hanging.address();
  hangingPort = typeof address === 'object' && address ? address.port : 0;

  // Build the bin with the project's tsup config (its `cli` entry), into a private directory.
  const { build } = await import('tsup');
  const { default: config } = await import('../tsup.config.js');
  const entries = (Array.isArray(config) ? config : [config]) as Array<Record<string, unknown>>;
  const cliEntry = entries.find((e) => typeof e.entry === 'object' && e.entry !== null && 'cli' in e.entry);
  if (!cliEntry) throw new Error('tsup.config.ts has no cli entry');
  mkdirSync(OUT_DIR, { recursive: true });
  await build({ ...cliEntry, outDir: OUT_DIR, clean: false, sourcemap: false, silent: true, config: false });
}, 60_000);

afterAll(async () => {
  await Promise.all([closeServer(server), closeServer(hanging)]);
  rmSync(OUT_DIR, { recursive: true, force: true });
  try {
    rmdirSync(dirname(OUT_DIR)); // only when no other run is using it
  } catch {
    // Not empty: another test process is still there.
  }
});

beforeEach(() => {
  seen.length = 0;
  issued = [];
  flaky = [];
});

// ---------------------------------------------------------------------------------------------

describe('the built bin', () => {
  it('starts with the shebang, is executable, and runs directly', async () => {
    expect(readFileSync(CLI, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(statSync(CLI).mode & 0o111).not.toBe(0);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await runCli(['--version'], { direct: true });
    expect(result).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('--help lists the commands; each command has its own --help with every environment variable and examples', async () => {
    const main = await runCli(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toContain('m2m-token token');
    expect(main.stdout).toContain('m2m-token fetch URL');

    for (const command of ['token', 'fetch']) {
      const help = await runCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stderr).toBe('');
      for (const variable of [
        'M2M_ISSUER',
        'M2M_TOKEN_ENDPOINT',
        'M2M_CLIENT_ID',
        'M2M_CLIENT_SECRET',
        'M2M_CLIENT_SECRET_FILE',
        'M2M_AUTH_METHOD',
        'M2M_AUDIENCE',
        'M2M_SCOPE',
        'M2M_RESOURCE',
        'M2M_PRIVATE_KEY',
        'M2M_KEY_ID',
        'M2M_CERTIFICATE',
        'M2M_PARAM',
        'M2M_SIGNING_ALG',
        'M2M_TIMEOUT',
        'M2M_ALLOW_INSECURE_HTTP',
      ]) {
        expect(help.stdout).toContain(variable);
      }
      expect(help.stdout).toContain('Examples:');
      expect(help.stdout).toContain('Exit status: 0 success, 1 token or API error');
    }
    expect((await runCli(['help', 'fetch'])).stdout).toContain('Usage: m2m-token fetch URL');
  });

  it('no command, an unknown command or options before the command are usage errors (exit 2)', async () => {
    for (const args of [[], ['tokens'], ['--client-id', 'x', 'token']]) {
      const result = await runCli(args);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^m2m-token: .+\nTry 'm2m-token --help'\.\n$/);
    }
  });
});

describe('m2m-token token', () => {
  it('prints the access token alone on stdout (secret from M2M_CLIENT_SECRET, client_secret_basic)', async () => {
    const result = await runCli(['token'], { env: base() });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(issued).toHaveLength(1);
    expect(result.stdout).toBe(`${issued[0]}\n`);
    const request = tokenRequests()[0];
    expect(basicCredentials(request?.headers.authorization)).toEqual([CLIENT_ID, SECRET]);
    expect(formOf(request).get('grant_type')).toBe('client_credentials');
  });

  it('composes with curl-style command substitution: -H "Authorization: Bearer $(m2m-token token)"', async () => {
    const result = await runShell(
      'printf "%s" "Authorization: Bearer $($CLI token --audience urn:api)"',
      base(),
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Authorization: Bearer ${issued[0]}`);
  });

  it('--json prints the whole token response', async () => {
    const result = await runCli(['token', '--json', '--scope', 'read:secrets'], { env: base() });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      access_token: issued[0],
      token_type: 'Bearer',
      expires_in: 600,
      scope: 'read:secrets',
    });
  });

  it('--header prints an Authorization header line', async () => {
    const result = await runCli(['token', '--header'], { env: base() });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Authorization: Bearer ${issued[0]}\n`);
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
    // Decoding shows claims, not the token itself.
    expect(result.stdout).not.toContain(issued[0]);
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
        '--audience',
        'urn:worldmappers',
        '--scope',
        'geocode:location',
        '--scope',
        'read:locations',
        '--resource',
        'https://a.example/',
        '--resource',
        'https://b.example/',
        '--param',
        'organization=org_1',
        '--param',
        'note=a=b',
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
    };
    const fromEnv = await runCli(['token'], { env });
    expect(fromEnv.code).toBe(0);
    let form = formOf(tokenRequests()[0]);
    expect(tokenRequests()[0]?.headers.authorization).toBeUndefined();
    expect(form.get('client_id')).toBe(CLIENT_ID);
    expect(form.get('client_secret')).toBe(SECRET);
    expect(form.get('audience')).toBe('urn:from-env');
    expect(form.get('scope')).toBe('a b');
    expect(form.getAll('resource')).toEqual(['https://r1.example/', 'https://r2.example/']);
    expect(form.get('organization')).toBe('org_2');
    expect(form.get('tenant')).toBe('t1');

    const flagged = await runCli(
      ['token', '--audience', 'urn:from-flag', '--auth-method', 'client_secret_basic'],
      { env },
    );
    expect(flagged.code).toBe(0);
    form = formOf(tokenRequests()[1]);
    expect(form.get('audience')).toBe('urn:from-flag');
    expect(tokenRequests()[1]?.headers.authorization).toMatch(/^Basic /);
  });

  it('--issuer discovers the token endpoint, ignoring an exported M2M_TOKEN_ENDPOINT', async () => {
    const env = { ...base(), M2M_TOKEN_ENDPOINT: `${origin}/token-broken` };
    const result = await runCli(['token', '--issuer', origin], { env });
    expect(result.code).toBe(0);
    expect(seen.map((r) => r.path)).toEqual(['/.well-known/oauth-authorization-server', '/token']);
    expect(result.stdout).toBe(`${issued[0]}\n`);
  });

  it('--client-secret-file reads the secret (one trailing newline ignored)', async () => {
    const dir = join(OUT_DIR, 'secrets');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'secret.txt');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    const { M2M_CLIENT_SECRET: _, ...env } = base();
    const result = await runCli(['token', '--client-secret-file', file], { env });
    expect(result.code).toBe(0);
    expect(basicCredentials(tokenRequests()[0]?.headers.authorization)).toEqual([CLIENT_ID, SECRET]);

    const viaEnv = await runCli(['token'], { env: { ...env, M2M_CLIENT_SECRET_FILE: file } });
    expect(viaEnv.code).toBe(0);
  });

  it('--client-secret-stdin reads the secret from standard input', async () => {
    const { M2M_CLIENT_SECRET: _, ...env } = base();
    const result = await runCli(['token', '--client-secret-stdin'], { env, stdin: `${SECRET}\n` });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${issued[0]}\n`);
  });

  it('--client-secret on the command line works, with a warning that never repeats the secret', async () => {
    const { M2M_CLIENT_SECRET: _, ...env } = base();
    const result = await runCli(['token', '--client-secret', SECRET], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${issued[0]}\n`);
    expect(result.stderr).toMatch(/^m2m-token: warning: --client-secret puts the secret on the command line/);
    expect(result.stderr).not.toContain(SECRET);
  });

  it('--private-key FILE with --key-id: private_key_jwt', async () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const file = join(OUT_DIR, 'client-key.pem');
    writeFileSync(file, pem, { mode: 0o600 });
    const { M2M_CLIENT_SECRET: _, ...env } = base();
    const result = await runCli(['token', '--private-key', file, '--key-id', 'kid-1'], { env });
    expect(result.code).toBe(0);
    const assertion = formOf(tokenRequests()[0]).get('client_assertion') ?? '';
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES256', kid: 'kid-1' });
    expect(decodeJwt(assertion)).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: `${origin}/token` });

    // The key may also come from M2M_PRIVATE_KEY, as the PEM itself.
    const inline = await runCli(['token'], { env: { ...env, M2M_PRIVATE_KEY: pem } });
    expect(inline.code).toBe(0);
    expect(formOf(tokenRequests()[1]).get('client_assertion_type')).toBe(
      'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    );
  });

  it('a bad secret: exit 1 with the OAuth error and description on stderr, nothing on stdout', async () => {
    const result = await runCli(['token'], { env: { ...base(), M2M_CLIENT_SECRET: 'wrong-secret-value' } });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    // The library's message (endpoint, answer, client id), then its hint with flags for options.
    expect(result.stderr.split('\n')[0]).toBe(
      `m2m-token: token endpoint ${origin}/token answered 401 invalid_client: Client authentication failed (client id "${CLIENT_ID}")`,
    );
    expect(result.stderr.split('\n')[1]).toBe(
      'hint: Check the client id, the client secret, and the authentication method: this request used client_secret_basic (--auth-method).',
    );
    expect(result.stderr).not.toContain('wrong-secret-value');
    noStack(result.stderr);
  });

  it('an unreachable token endpoint: exit 1 naming the URL and the socket error', async () => {
    const port = await getFreePort();
    const result = await runCli(['token', '--token-endpoint', `http://127.0.0.1:${port}/token`], {
      env: base(),
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      new RegExp(
        `^m2m-token: token endpoint http://127\\.0\\.0\\.1:${port}/token could not be reached: .*ECONNREFUSED.* \\(3 attempts\\)`,
      ),
    );
    noStack(result.stderr);
  });

  it('a token endpoint that never answers: exit 1 after --timeout', async () => {
    const result = await runCli(
      ['token', '--token-endpoint', `http://127.0.0.1:${hangingPort}/token`, '--timeout', '0.3'],
      {
        env: { ...base() },
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `m2m-token: token endpoint http://127.0.0.1:${hangingPort}/token did not answer in time (--timeout 0.3 s, 3 attempts); if the server is slow, raise --timeout`,
    );
    noStack(result.stderr);
  });

  it('a 500 without an OAuth error body: exit 1 with the status and a snippet', async () => {
    const result = await runCli(['token', '--token-endpoint', `${origin}/token-broken`], { env: base() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^m2m-token: token endpoint http:\/\/127\.0\.0\.1:\d+\/token-broken answered 500 with a body that is not JSON \(client id "cli-client"\)\nbody: /,
    );
    noStack(result.stderr);
  });

  it('a missing option: exit 2 with a one-line message and a pointer to --help', async () => {
    const { M2M_CLIENT_ID: _, ...env } = base();
    const result = await runCli(['token'], { env });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      "m2m-token: missing --client-id ID (or M2M_CLIENT_ID)\nTry 'm2m-token token --help'.\n",
    );
    expect(seen).toHaveLength(0);
  });

  it('other usage errors: exit 2 without a request', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['token', '--bogus'], /^m2m-token: unknown option --bogus\n/],
      [['token', '--audience'], /^m2m-token: option '--audience <value>' argument missing\n/],
      [['token', '--json', '--decode'], /^m2m-token: --json and --decode cannot be combined\n/],
      [
        ['token', '--issuer', origin, '--token-endpoint', `${origin}/token`],
        /^m2m-token: give --token-endpoint or --issuer, not both\n/,
      ],
      [
        ['token', '--token-endpoint', 'http://idp.example.com/token'],
        /^m2m-token: --token-endpoint: http: is only allowed for loopback hosts/,
      ],
      [['token', '--auth-method', 'magic'], /^m2m-token: --auth-method: /],
      [['token', '--timeout', 'soon'], /^m2m-token: --timeout must be a positive number/],
      [['token', '--param', 'novalue'], /^m2m-token: --param takes NAME=VALUE/],
      [
        ['token', '--param', 's3cr3t-do-not-echo'],
        /^m2m-token: --param takes NAME=VALUE \(the argument is not echoed/,
      ],
      [
        ['token', '--private-key', '/nonexistent/key.pem'],
        /^m2m-token: cannot read --private-key \/nonexistent\/key.pem \(ENOENT\)\n/,
      ],
      [
        ['token', '--client-secret-file', '/nonexistent/secret', '--client-secret-stdin'],
        /^m2m-token: give one client secret source, not --client-secret-file and --client-secret-stdin\n/,
      ],
      [
        ['token', '--client-secret-file', '/nonexistent/secret'],
        /^m2m-token: cannot read --client-secret-file \/nonexistent\/secret \(ENOENT\)\n/,
      ],
    ];
    for (const [args, expected] of cases) {
      const result = await runCli(args, { env: base() });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(expected);
      expect(result.stderr).toMatch(/Try 'm2m-token token --help'\.\n$/);
      noStack(result.stderr);
    }
    // Both halves of the endpoint pair from the environment are just as ambiguous.
    const both = await runCli(['token'], { env: { ...base(), M2M_ISSUER: origin } });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^m2m-token: give --token-endpoint or --issuer, not both\n/);

    const { M2M_CLIENT_SECRET: _, ...noSecret } = base();
    const none = await runCli(['token'], { env: noSecret });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^m2m-token: no client credentials: set M2M_CLIENT_SECRET/);
    expect(seen).toHaveLength(0);
  });

  it('an http token endpoint on a host not known as loopback needs --allow-insecure-http (or M2M_ALLOW_INSECURE_HTTP)', async () => {
    // An IPv4-mapped IPv6 address: it reaches this loopback server, but is not on the client's loopback list.
    const endpoint = origin.replace('127.0.0.1', '[::ffff:127.0.0.1]');
    const refused = await runCli(['token', '--token-endpoint', `${endpoint}/token`], { env: base() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^m2m-token: --token-endpoint: http: is only allowed for loopback hosts.*--allow-insecure-http/,
    );
    expect(seen).toHaveLength(0);

    const flagged = await runCli(
      ['token', '--allow-insecure-http', '--token-endpoint', `${endpoint}/token`],
      { env: base() },
    );
    expect(flagged.code).toBe(0);
    expect(flagged.stdout).toBe(`${issued[0]}\n`);
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
    for (const hidden of [SECRET, encodeURIComponent(SECRET), encoded, issued[0] as string]) {
      expect(basic.stderr).not.toContain(hidden);
    }

    const post = await runCli(['token', '-v', '--auth-method', 'client_secret_post'], { env: base() });
    expect(post.code).toBe(0);
    expect(post.stderr).toContain(`client_id=${CLIENT_ID}&client_secret=[redacted]`);
    expect(post.stderr).not.toContain(SECRET);
    expect(post.stderr).not.toContain(encodeURIComponent(SECRET));
    expect(post.stderr).not.toContain(issued[1]);
  });

  it('--verbose on an unexpected failure still prints no secret', async () => {
    const result = await runCli(['token', '-v'], {
      env: { ...base(), M2M_CLIENT_SECRET: 'another-wrong-secret' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('< 401 Unauthorized');
    expect(result.stderr).toContain('answered 401 invalid_client');
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
    const api = seen.find((r) => r.path === '/api/data');
    expect(api?.headers.authorization).toBe(`Bearer ${issued[0]}`);
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

    const file = join(OUT_DIR, 'payload.json');
    writeFileSync(file, '{"from":"file"}');
    const fromFile = await runCli(
      ['fetch', `${origin}/api/echo`, '-d', `@${file}`, '-H', 'content-type: application/json'],
      { env: base() },
    );
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ method: 'POST', body: '{"from":"file"}' });
  });

  it('an API error status: the body on stdout, exit 1 with the status on stderr', async () => {
    const result = await runCli(['fetch', `${origin}/api/forbidden`], { env: base() });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('no access to this resource');
    expect(result.stderr).toBe(`m2m-token: GET ${origin}/api/forbidden answered 403 Forbidden\n`);
  });

  it('a 401 from the API renews the token once and repeats the request (the fetch wrapper)', async () => {
    flaky = [401, 200];
    const result = await runCli(['fetch', `${origin}/api/flaky`], { env: base() });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ok: true });
    expect(tokenRequests()).toHaveLength(2);
    const apiCalls = seen.filter((r) => r.path === '/api/flaky');
    expect(apiCalls.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${issued[0]}`,
      `Bearer ${issued[1]}`,
    ]);
  });

  it('a bad secret stops before the API is called', async () => {
    const result = await runCli(['fetch', `${origin}/api/data`], {
      env: { ...base(), M2M_CLIENT_SECRET: 'nope-nope' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')[0]).toMatch(/answered 401 invalid_client: Client authentication failed/);
    expect(seen.some((r) => r.path.startsWith('/api/'))).toBe(false);
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

  it('usage errors: no URL, a relative URL, a malformed header (exit 2)', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['fetch'], /^m2m-token: missing URL/],
      [['fetch', '/api/data'], /^m2m-token: '\/api\/data' is not an absolute URL/],
      [['fetch', `${origin}/api/data`, '-H', 'no colon here'], /^m2m-token: -H takes 'Name: value'/],
      [['fetch', `${origin}/api/data`, '-H', 'Authorization Bearer tok-do-not-echo'], /^m2m-token: -H takes/],
      [['fetch', `${origin}/api/data`, 'tok-do-not-echo'], /^m2m-token: unexpected argument at position 2/],
      [['fetch', `${origin}/api/data`, '-d', '@-', '--client-secret-stdin'], /both need standard input/],
    ];
    for (const [args, expected] of cases) {
      const result = await runCli(args, { env: base() });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(expected);
      expect(result.stderr).toMatch(/Try 'm2m-token fetch --help'\.\n$/);
      // A malformed argument may hold a credential: it is never echoed.
      expect(result.stderr).not.toContain('tok-do-not-echo');
    }
    expect(seen).toHaveLength(0);
  });

  it('--verbose redacts the bearer token of the API request', async () => {
    const result = await runCli(['fetch', '-v', `${origin}/api/data`], { env: base() });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`> GET ${origin}/api/data`);
    expect(result.stderr).toContain('> authorization: Bearer [redacted]');
    expect(result.stderr).not.toContain(issued[0]);
    expect(result.stderr).not.toContain(SECRET);
  });
});
