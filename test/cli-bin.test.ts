/**
 * The built m2m-token bin, for what only a real process shows: the shebang and executable bit,
 * `$(m2m-token token)` in a shell, a closed pipe (EPIPE) on stdout, a secret on a real standard input,
 * and a retry backoff (whose timer is unref'd) that must not let the process end early. Everything else
 * about the command line is tested in process (test/cli.test.ts).
 *
 * Build: `npm test` runs before `npm run build`, so this file builds the bin itself with the project's
 * tsup config (the `cli` entry, banner included), into node_modules/.cache/m2m-token-cli-test/<pid>/
 * rather than dist/ (no race with a concurrent `npm run build`, whose `clean` empties dist/); the bundle
 * still resolves its dependencies from the project's node_modules, as the published dist/cli.js does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_ID, type CliServer, SECRET, startCliServer } from './helpers/cli-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(ROOT, 'node_modules', '.cache', 'm2m-token-cli-test', String(process.pid));
const CLI = join(OUT_DIR, 'cli.js');

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess, onStdout?: (chunk: string) => void): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      onStdout?.(d);
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
  });
}

/** Spawns the built bin with a clean environment (only PATH and what the test sets). */
function runBin(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; direct?: boolean } = {},
) {
  const env = { PATH: process.env.PATH ?? '', ...options.env };
  const child = options.direct ? spawn(CLI, args, { env }) : spawn(process.execPath, [CLI, ...args], { env });
  child.stdin?.end(options.stdin ?? '');
  return collect(child);
}

let server: CliServer;
const base = () => ({
  M2M_TOKEN_ENDPOINT: `${server.origin}/token`,
  M2M_CLIENT_ID: CLIENT_ID,
  M2M_CLIENT_SECRET: SECRET,
});

beforeAll(async () => {
  server = await startCliServer();
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
  await server.close();
  rmSync(OUT_DIR, { recursive: true, force: true });
  try {
    rmdirSync(dirname(OUT_DIR)); // only when no other run is using it
  } catch {
    // Not empty: another test process is still there.
  }
});

beforeEach(() => server.reset());

describe('the built bin', () => {
  it('starts with the shebang, is executable, and runs directly', async () => {
    expect(readFileSync(CLI, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(statSync(CLI).mode & 0o111).not.toBe(0);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await runBin(['--version'], { direct: true })).toEqual({
      code: 0,
      stdout: `${pkg.version}\n`,
      stderr: '',
    });
  });

  it('composes with curl-style command substitution: -H "Authorization: Bearer $(m2m-token token)"', async () => {
    const child = spawn(
      'sh',
      ['-c', 'printf "%s" "Authorization: Bearer $($CLI token --audience urn:api)"'],
      {
        env: { PATH: process.env.PATH ?? '', CLI: `${process.execPath} ${CLI}`, ...base() },
      },
    );
    const result = await collect(child);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Authorization: Bearer ${server.issued[0]}`);
  });

  it('reads the secret from a real standard input (--client-secret-stdin)', async () => {
    const { M2M_CLIENT_SECRET: _, ...env } = base();
    const result = await runBin(['token', '--client-secret-stdin'], { env, stdin: `${SECRET}\n` });
    expect(result).toEqual({ code: 0, stdout: `${server.issued[0]}\n`, stderr: '' });
  });

  it('a closed pipe on stdout (`| head -c 100`) ends it quietly, exit 0', async () => {
    const child = spawn(process.execPath, [CLI, 'fetch', `${server.origin}/api/big`], { env: { ...base() } });
    child.stdin.end();
    // Like `head -c 100`: read a little, then close the pipe while a megabyte is still to come.
    let received = 0;
    const result = await collect(child, (chunk) => {
      received += chunk.length;
      if (received >= 100) child.stdout?.destroy();
    });
    expect(received).toBeLessThan(1024 * 1024);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });

  it("waits through a retry backoff (an unref'd timer) instead of ending with the command unfinished", async () => {
    const result = await runBin(['token', '--token-endpoint', `${server.origin}/token-flaky`], {
      env: base(),
    });
    expect(result).toEqual({ code: 0, stdout: `${server.issued[0]}\n`, stderr: '' });
    expect(server.tokenRequests()).toHaveLength(2);
  });
});
