/**
 * The README's first example, run as the README says: `npm run example:servers` (the development
 * servers) and `npm run example:quick-start` (examples/quick-start/main.ts, which the README shows
 * verbatim). The servers listen on free ports here (AUTH_PORT=0, API_PORT=0), and the example's two
 * URLs are swapped for theirs in a copy; everything else is the script package.json runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = 'examples/quick-start/main.ts';
const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<
  string,
  string
>;
const code = readFileSync(join(ROOT, EXAMPLE), 'utf8');
/** Three base64url parts: a whole JWT. */
const WHOLE_JWT = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

/** The parent's environment without anything that could configure the example by accident, plus `extra`. */
function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(CLIENT_SECRET|M2M_|AUTH_PORT|API_PORT|HOST|NODE_OPTIONS|TSX_)/.test(name)) out[name] = value;
  }
  return { ...out, PATH: `${join(ROOT, 'node_modules', '.bin')}${delimiter}${process.env.PATH}`, ...extra };
}

/** An npm script's command run by a shell as npm runs it (exec'd, so signals reach it), in its own process group. */
function runScript(command: string, extra: Record<string, string>): ChildProcess {
  return spawn('sh', ['-c', `exec ${command}`], {
    cwd: ROOT,
    env: env(extra),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function output(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return { stdout: () => stdout, stderr: () => stderr };
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve(status);
    });
  });
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

describe('README quick start', () => {
  it('shows examples/quick-start/main.ts verbatim', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${code}\`\`\``);
    expect(scripts['example:quick-start']).toContain(EXAMPLE);
  });

  describe('npm run example:servers, then npm run example:quick-start', () => {
    let servers: ChildProcess;
    let serversOut: ReturnType<typeof output>;
    let tokenEndpoint: string;
    let apiUrl: string;
    let dir: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'm2m-quick-start-'));
      servers = runScript(scripts['example:servers']!, { AUTH_PORT: '0', API_PORT: '0' });
      serversOut = output(servers);
      for (let i = 0; i < 300 && !serversOut.stdout().includes('Ctrl+C stops both.'); i++) {
        if (servers.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const text = serversOut.stdout();
      tokenEndpoint = /token endpoint (http:\/\/127\.0\.0\.1:\d+\/oauth\/token)/.exec(text)?.[1] ?? '';
      apiUrl = /World Mappers API +(http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1] ?? '';
    }, 40_000);

    afterAll(async () => {
      rmSync(dir, { recursive: true, force: true });
      if (servers?.pid !== undefined && servers.exitCode === null) {
        try {
          process.kill(-servers.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });

    it('the servers say where they listen', () => {
      expect(serversOut.stderr()).toBe('');
      expect(tokenEndpoint).not.toBe('');
      expect(apiUrl).not.toBe('');
    });

    it('the example gets a token (printed redacted) and calls the API with it', async () => {
      const copy = join(dir, 'main.ts');
      const swapped = code
        .replace('http://127.0.0.1:4000/oauth/token', tokenEndpoint)
        .replace('http://127.0.0.1:4001', apiUrl);
      expect(swapped).not.toContain(':4000');
      writeFileSync(copy, swapped);
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n'); // as in this repository
      const example = runScript(scripts['example:quick-start']!.replace(EXAMPLE, copy), {});
      const out = output(example);
      const status = await exited(example, 30_000);
      expect({ status, stderr: out.stderr() }).toEqual({ status: 0, stderr: '' });
      expect(out.stdout()).toMatch(/^Token \{\n {2}accessToken: '\[redacted\]',\n {2}tokenType: 'Bearer',/);
      expect(out.stdout()).toMatch(/scope: 'geocode:location read:routes'/);
      expect(out.stdout()).toMatch(/^200 \{ address: 'Berlin', lat: -?\d/m);
      expect(out.stdout()).not.toMatch(WHOLE_JWT);
      expect(out.stdout()).not.toContain('dev-only-gift-deliveries-secret');
    }, 40_000);

    it('Ctrl+C stops both servers', async () => {
      const ports = [tokenEndpoint, apiUrl].map((url) => Number(new URL(url).port));
      process.kill(-servers.pid!, 'SIGINT');
      const status = await exited(servers, 10_000);
      // 0 when the servers closed themselves; 130 when tsx, not hearing back from its child within its
      // 30 ms relay window (a loaded machine), killed it. Either way both ports must be closed.
      expect([0, 130]).toContain(status);
      expect(serversOut.stderr()).toBe('');
      for (const port of ports) expect(await refusesConnections(port)).toBe(true);
    }, 20_000);
  });
});
