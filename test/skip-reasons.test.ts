/**
 * `npm test` says what it skipped and why, without --reporter=verbose: the reporter
 * (test/helpers/skip-reasons-reporter.ts, next to the default one in vitest.config.ts) prints each
 * skipped suite once with its title (where the reason is) and each test skipped at run time with its
 * note. Proven on a fixture run in a child vitest, with the project's own reporter setup.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const CONFIG = 'test/fixtures/skip-reasons/vitest.config.ts';

function runFixture(extra: string[] = []): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VITEST, 'run', '--config', CONFIG, ...extra], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('skipped tests in the default output', () => {
  it('names each skipped suite once with its reason, and each test skipped at run time with its note', async () => {
    const { code, output } = await runFixture();
    expect(code).toBe(0);
    const report = output.slice(output.indexOf('Skipped (5), and why:'));
    expect(report.split('\n').filter((line) => line.includes('↓'))).toEqual([
      '   ↓ skips.fixture.ts > frobnicator interop (frobnicator not installed: apt-get install -y frobnicator) (3 tests)',
      '   ↓ skips.fixture.ts > a suite that runs > one test skipped (needs a GPU) (1 test)',
      '   ↓ skips.fixture.ts > a suite that runs > skipped at run time: the loopback port range is exhausted (1 test)',
    ]);
  });

  it('prints nothing when a name filter (-t) skipped tests on purpose', async () => {
    const { code, output } = await runFixture(['-t', 'runs']);
    expect(code).toBe(0);
    expect(output).not.toContain('and why');
  });
});
