/**
 * A vitest reporter that says, once per skipped suite (or test), what was skipped and why, in the
 * default `npm test` output: the default reporter only counts skipped tests, and a test skipped for a
 * missing binary says why only under `--reporter=verbose`.
 *
 * The reason is the skipped suite's title (the helpers' convention: `describe.skipIf(!haveRedisServer)(
 * \`... (${redisServerMissingMessage})\`)`) and, for a test skipped at run time, its `ctx.skip(note)`.
 * Nothing is printed when nothing was skipped, nor when a name filter (`-t`) skipped tests on purpose.
 *
 * Used next to the default reporter in vitest.config.ts.
 */
import type { Reporter, TestCase, TestModule, TestSuite, Vitest } from 'vitest/node';

interface Skipped {
  readonly where: string;
  readonly tests: number;
  readonly note?: string;
}

export default class SkipReasonsReporter implements Reporter {
  #filtered = false;

  onInit(vitest: Vitest): void {
    this.#filtered = vitest.config.testNamePattern !== undefined;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (this.#filtered) return;
    const skipped = modules.flatMap((module) => collect(module, module.relativeModuleId));
    if (skipped.length === 0) return;
    const total = skipped.reduce((sum, s) => sum + s.tests, 0);
    const lines = skipped.map(
      (s) => `   ↓ ${s.where}${s.note ? `: ${s.note}` : ''} (${s.tests} ${s.tests === 1 ? 'test' : 'tests'})`,
    );
    process.stdout.write(`\n Skipped (${total}), and why:\n${lines.join('\n')}\n\n`);
  }
}

/** The topmost skipped suites and tests under `parent`: a skipped suite is reported once, not per test. */
function collect(parent: TestModule | TestSuite, path: string): Skipped[] {
  const found: Skipped[] = [];
  for (const child of parent.children) {
    const where = `${path} > ${child.name}`;
    if (child.type === 'suite') {
      if (child.options.mode === 'skip' || child.state() === 'skipped') {
        const tests = [...child.children.allTests()].length;
        if (tests > 0) found.push({ where, tests });
      } else {
        found.push(...collect(child, where));
      }
    } else if (isSkipped(child)) {
      const note = child.result().state === 'skipped' ? noteOf(child) : undefined;
      found.push({ where, tests: 1, ...(note ? { note } : {}) });
    }
  }
  return found;
}

function isSkipped(test: TestCase): boolean {
  return test.options.mode === 'skip' || test.result().state === 'skipped';
}

function noteOf(test: TestCase): string | undefined {
  const result = test.result() as { note?: string };
  return result.note;
}
