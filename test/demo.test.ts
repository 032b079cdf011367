/**
 * `npm run demo` and the examples, run as a user runs them: child processes from the repository
 * root, from source, with nothing configured. Asserts the exit codes, the key lines of the account
 * the demo prints, that no secret or whole token is printed, and that nothing is left running.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServer, startAuthServer } from '../examples/auth-server/server.js';
import { startWorldMappersApi, type WorldMappersApi } from '../examples/worldmappers-api/server.js';
import {
  haveRedisServer,
  type RedisServer,
  redisServerMissingMessage,
  startRedisServer,
} from './helpers/redis-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const GIFT_SECRET = 'dev-only-gift-deliveries-secret-do-not-reuse';
/** Three base64url parts: a whole JWT. */
const WHOLE_JWT = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** The parent's environment without anything that could configure the examples by accident. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(AUTH0_|M2M_|RESOURCE_SERVER|WORLDMAPPERS_|NODE_OPTIONS$|TSX_)/.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * True while a process of the group `pgid` is running. On Linux, zombies (exited, waiting for a
 * reaper that a container's PID 1 may be slow to be) do not count.
 */
function groupAlive(pgid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
    }
    return false;
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs a command in its own process group (so that every process it starts can be found, and killed
 * on a timeout) and resolves when it exits.
 */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid;
    if (pid === undefined) {
      reject(new Error(`could not start ${command}`));
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`${command} ${args.join(' ')} timed out after ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, pid });
    });
  });
}

/** Waits (briefly) until no process of the group is left; false if some still is. */
async function groupGone(pgid: number): Promise<boolean> {
  for (let i = 0; i < 40 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 50));
  return !groupAlive(pgid);
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** The text of step `n` of the demo's account (from its numbered line to the next one). */
function section(stdout: string, n: number): string {
  const start = stdout.indexOf(`\n${n}) `);
  expect(start, `step ${n} is printed`).toBeGreaterThanOrEqual(0);
  const next = stdout.slice(start + 1).search(/\n(\d+\) |Summary)/);
  return next < 0 ? stdout.slice(start) : stdout.slice(start, start + 1 + next);
}

describe('npm run demo', () => {
  let demo: Outcome;

  beforeAll(async () => {
    demo = await run('npm', ['run', '--silent', 'demo'], cleanEnv(), 60_000);
  }, 70_000);

  it('exits 0 on its own, having said every step went as described', () => {
    expect(demo.stderr).not.toMatch(/Demo failed|kept the process alive/);
    expect({ code: demo.code, signal: demo.signal }).toEqual({ code: 0, signal: null });
    expect(demo.stdout).toMatch(/Servers closed\.\nDemo finished: every step went as described\./);
  });

  it('step 1: one token request with client_secret_json (JSON body as in the seed), then the geocode answer', () => {
    const text = section(demo.stdout, 1);
    const post = text.match(/→ POST \/oauth\/token {2}\(application\/json: ([^)]*)\)/);
    expect(post, 'the token request line').not.toBeNull();
    expect(post![1]!.split(', ').sort()).toEqual(['audience', 'client_id', 'client_secret', 'grant_type']);
    expect(text).toMatch(/\[auth server\] gift-deliveries authenticated with client_secret_json/);
    expect(text).toMatch(
      /\[m2m-token\] token request: client_secret_json, HTTP 200 in \d+ ms \(1 attempt\), lifetime 86\d{3} s/,
    );
    expect(text).toMatch(
      /token #1 \(new\): eyJ.{9}… {2}sub gift-deliveries@clients, aud urn:worldmappers, scope "geocode:location read:routes"/,
    );
    expect(text).toMatch(/← 200 OK\n {3}= \{"address":"Seattle, WA","lat":-?\d/);
  });

  it('step 2: served from the cache, the token request count unchanged', () => {
    const text = section(demo.stdout, 2);
    expect(text).toMatch(/\[m2m-token\] cache hit, valid for another \d+ s/);
    expect(text).not.toMatch(/POST \/oauth\/token/);
    expect(text).toMatch(/Bearer token #1\)\n {3}← 200 OK/);
    expect(text).toMatch(/token requests at the auth server: 1 \(unchanged\)/);
  });

  it('step 3: GET /api/routes is allowed with read:routes', () => {
    expect(section(demo.stdout, 3)).toMatch(/→ GET \/api\/routes .*\n {3}← 200 OK\n {3}= 2 routes: #1 /);
  });

  it('step 4: POST /api/routes is a 403 insufficient_scope, handled, and asks for no new token', () => {
    const text = section(demo.stdout, 4);
    expect(text).toMatch(
      /← 403 Forbidden {2}WWW-Authenticate: Bearer .*error="insufficient_scope".*scope="write:routes"/,
    );
    expect(text).toMatch(/handled: 403 insufficient_scope \(the route needs write:routes\)/);
    expect(text).not.toMatch(/POST \/oauth\/token/);
    expect(text).toMatch(/token requests at the auth server: 1 \(unchanged\)/);
  });

  it('step 5: after a key rotation the SDK gets a 401, fetches one new token and retries once', () => {
    const text = section(demo.stdout, 5);
    const order = [
      /→ GET \/api\/location\/geocode\?address=Redmond%2C\+WA {2}\(Authorization: Bearer token #1\)/,
      /← 401 Unauthorized {2}WWW-Authenticate: Bearer .*error="invalid_token"/,
      /→ POST \/oauth\/token/,
      /\[m2m-token\] token request: client_secret_json, HTTP 200/,
      /→ GET \/api\/location\/geocode\?address=Redmond%2C\+WA {2}\(Authorization: Bearer token #2\)/,
      /← 200 OK/,
    ].map((re) => text.search(re));
    expect(
      order.every((i) => i >= 0),
      `every line of the retry is printed: ${order}`,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(text.match(/→ POST \/oauth\/token/g)).toHaveLength(1);
    expect(text).toMatch(/token requests at the auth server: 2 \(\+1\)/);
  });

  it('step 6: a private_key_jwt client gets a token (after discovery) and may write routes', () => {
    const text = section(demo.stdout, 6);
    expect(text).toMatch(/→ GET \/\.well-known\/oauth-authorization-server/);
    expect(text).toMatch(/application\/x-www-form-urlencoded: .*client_assertion_type, client_assertion/);
    expect(text).not.toMatch(/client_secret/);
    expect(text).toMatch(/\[m2m-token\] token request: private_key_jwt, HTTP 200/);
    expect(text).toMatch(
      /← 201 Created\n {3}= \{"id":3,"from":"Tacoma, WA","to":"Olympia, WA","createdBy":"route-planner"\}/,
    );
  });

  it('step 7: a workload with no secret and no key gets tokens with its projected token file, through a rotation', () => {
    const text = section(demo.stdout, 7);
    expect(text).toMatch(/kubelet wrote .*\/tokens\/token \(a symlink to \.\.data\/token\)/);
    // What the SDK sent: the cluster's token as client assertion, no secret, no Basic header.
    const posts = [...text.matchAll(/→ POST \/oauth\/token {2}\(([^)]*)\)/g)].map((m) => m[1]);
    expect(posts).toHaveLength(2);
    for (const post of posts) {
      expect(post).toBe(
        'application/x-www-form-urlencoded: grant_type, audience, scope, client_id, client_assertion_type, client_assertion',
      );
    }
    expect(text).not.toMatch(/client_secret|Authorization: Basic/);
    const accepted = [
      ...text.matchAll(
        /\[auth server\] label-printer authenticated with a token of https:\/\/kubernetes\.default\.svc\.cluster\.local for system:serviceaccount:shipping:label-printer \(token id (\w+)…\)/g,
      ),
    ].map((m) => m[1]);
    // Two different cluster tokens: the second token request read the rotated file.
    expect(accepted).toHaveLength(2);
    expect(accepted[0]).not.toBe(accepted[1]);
    expect(text.match(/← 200 OK/g)).toHaveLength(2);
    expect(text).toMatch(/the next token request read the new file: no restart, no secret, no key\./);
    expect(demo.stdout).toMatch(/auth server: 5 token requests, 5 tokens issued, 0 refused/);
  });

  it('prints no secret and no whole token', () => {
    const all = demo.stdout + demo.stderr;
    expect(all).not.toMatch(WHOLE_JWT);
    expect(all).not.toContain(GIFT_SECRET);
    expect(all).not.toMatch(/PRIVATE KEY/);
    expect(all).toContain('AUTH0_CLIENT_SECRET=(set; never printed)');
  });

  it('leaves no process and no server behind', async () => {
    expect(await groupGone(demo.pid)).toBe(true);
    const ports = [
      ...demo.stdout.matchAll(/^(?:auth server|World Mappers API|cluster) +http:\/\/127\.0\.0\.1:(\d+)/gm),
    ].map((m) => Number(m[1]));
    expect(ports).toHaveLength(3);
    for (const port of ports) expect(await refusesConnections(port)).toBe(true);
  });
});

describe('the examples, run from the command line against the development servers', () => {
  let auth: AuthServer;
  let api: WorldMappersApi;

  beforeAll(async () => {
    auth = await startAuthServer({ port: 0, log: false });
    api = await startWorldMappersApi({ issuer: auth.issuer });
  });
  afterAll(async () => {
    await api?.close();
    await auth?.close();
  });

  const runExample = (path: string, env: Record<string, string>, args: string[] = []) =>
    run(TSX, ['--tsconfig', 'examples/tsconfig.json', path, ...args], cleanEnv(env), 30_000);

  it('gift-deliveries: configured by the Auth0 sample variables, client_secret_json, through createFetch', async () => {
    const before = auth.stats.tokenRequests;
    const out = await runExample(
      'examples/gift-deliveries/main.ts',
      {
        AUTH0_TOKEN_ENDPOINT: auth.tokenEndpoint,
        AUTH0_CLIENT_ID: 'gift-deliveries',
        AUTH0_CLIENT_SECRET: GIFT_SECRET,
        RESOURCE_SERVER: 'urn:worldmappers',
        WORLDMAPPERS_API_URL: api.url,
      },
      ['Seattle, WA', 'Bellevue, WA'],
    );
    expect(out.stderr).not.toMatch(/Error/);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^Seattle, WA: -?\d+(\.\d+)?, -?\d+(\.\d+)?\nBellevue, WA: /m);
    expect(out.stdout).toMatch(/2 delivery routes:/);
    expect(out.stdout).toMatch(/granted scope: geocode:location read:routes/);
    // Two geocodes, a list and a getToken(): one token request.
    expect(auth.stats.tokenRequests - before).toBe(1);
    expect(await groupGone(out.pid)).toBe(true);
  });

  it('gift-deliveries: a missing variable is named (and no value is printed), exit code 1', async () => {
    const out = await runExample('examples/gift-deliveries/main.ts', {
      AUTH0_DOMAIN: '127.0.0.1:1',
      AUTH0_CLIENT_ID: 'gift-deliveries',
      RESOURCE_SERVER: 'urn:worldmappers',
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(
      'Set these environment variables: AUTH0_CLIENT_SECRET, WORLDMAPPERS_API_URL',
    );
  });

  it('basic-service: getToken() with client_secret_basic, its own Authorization header, a cached second call', async () => {
    const before = auth.stats.tokenRequests;
    const out = await runExample('examples/basic-service/main.ts', {
      M2M_TOKEN_ENDPOINT: auth.tokenEndpoint,
      M2M_CLIENT_ID: 'gift-deliveries',
      M2M_CLIENT_SECRET: GIFT_SECRET,
      M2M_AUDIENCE: 'urn:worldmappers',
      M2M_SCOPE: 'read:routes',
      WORLDMAPPERS_API_URL: api.url,
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^token: Bearer, scope "read:routes", expires in 86\d{3} s$/m);
    expect(out.stdout).toMatch(/^routes: Seattle, WA -> Bellevue, WA; Portland, OR -> Salem, OR/m);
    expect(out.stdout).toMatch(/second getToken\(\): the same token, from the cache/);
    expect(auth.stats.tokenRequests - before).toBe(1);
    expect(out.stdout).not.toMatch(WHOLE_JWT);
  });

  it('private-key-jwt: discovery, a signed assertion instead of a secret, and a route created (201)', async () => {
    const out = await runExample(
      'examples/private-key-jwt/main.ts',
      {
        M2M_ISSUER: auth.issuer,
        M2M_CLIENT_ID: 'route-planner',
        M2M_PRIVATE_KEY: 'examples/auth-server/keys/route-planner.private.pem',
        M2M_KEY_ID: 'route-planner-dev-1',
        M2M_AUDIENCE: 'urn:worldmappers',
        M2M_SCOPE: 'read:routes write:routes',
        WORLDMAPPERS_API_URL: api.url,
      },
      ['Everett, WA', 'Lynnwood, WA'],
    );
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(
      /token: Bearer, scope "read:routes write:routes" \(client authenticated with private_key_jwt\)/,
    );
    expect(out.stdout).toMatch(/created route #\d+: Everett, WA -> Lynnwood, WA \(by route-planner\)/);
  });
  it.skipIf(!haveRedisServer)(
    `redis-fleet: four instances at once and a late one, each with its own RedisTokenCache, make one token request${haveRedisServer ? '' : ` (${redisServerMissingMessage})`}`,
    async () => {
      let redis: RedisServer | undefined;
      try {
        redis = await startRedisServer();
        const before = auth.stats.tokenRequests;
        const out = await runExample('examples/redis-fleet/main.ts', {
          REDIS_URL: redis.url,
          M2M_TOKEN_ENDPOINT: auth.tokenEndpoint,
          M2M_CLIENT_ID: 'gift-deliveries',
          M2M_CLIENT_SECRET: GIFT_SECRET,
          M2M_AUDIENCE: 'urn:worldmappers',
          FLEET_SIZE: '4',
          REDIS_TOKEN_KEY: Buffer.alloc(32, 7).toString('base64'),
        });
        expect(out.stderr).toBe('');
        expect(out.code).toBe(0);
        expect(out.stdout.match(/^ {2}instance \d: asked the token endpoint/gm)).toHaveLength(1);
        expect(
          out.stdout.match(
            /^ {2}instance \d: (waited \d+ ms for the token another instance stored|found it in Redis)$/gm,
          ),
        ).toHaveLength(3);
        expect(out.stdout).toMatch(/^ {2}a late instance: found it in Redis$/m);
        expect(out.stdout).toMatch(/token requests made by the fleet: 1; distinct tokens: 1/);
        expect(auth.stats.tokenRequests - before).toBe(1);
      } finally {
        await redis?.stop();
      }
    },
  );
});
