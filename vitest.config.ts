import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Tests that do not exercise the SDK (src/) but what is around it: the bench harness, the example
 * servers, the demo and the README's example, the generated tables and the link checker, the test
 * reporter. They do not depend on the Node version, so CI runs them once (`npm test` on Node 20) and
 * only the `sdk` project on the other Node versions (`npm test -- --project sdk`). A new test file
 * belongs to `sdk` unless it matches here (an example's test: `test/examples-<name>.test.ts`).
 */
const TOOLING = [
  'test/harness.test.ts', // bench/ harness
  'test/examples-*.test.ts', // examples/*: the example servers
  'test/demo.test.ts', // examples/ run from the command line
  'test/quick-start.test.ts', // the README's first example, run as the README says
  'test/interop-readme.test.ts', // the interop table generator
  'test/runtime-table.test.ts', // the runtime table generator
  'test/check-links.test.ts', // scripts/check-links.ts
  'test/skip-reasons.test.ts', // test/helpers/skip-reasons-reporter.ts
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: keep parallelism modest so timing-sensitive interop tests stay calm.
    maxWorkers: 2,
    unstubGlobals: true,
    // The default output, plus what was skipped and why (a missing redis-server, openssl, ...).
    reporters: ['default', './test/helpers/skip-reasons-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'sdk',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...TOOLING],
        },
      },
      { extends: true, test: { name: 'tooling', include: TOOLING } },
    ],
  },
});
