import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Tests that do not exercise the SDK (src/): the bench harness, the example servers and the demo,
 * the README/table generators and the test reporter. They do not depend on the Node version, so CI
 * runs them once (`npm test` on Node 20) and runs only the `sdk` project on the other Node versions
 * (`npm test -- --project sdk`). A new test file belongs to `sdk` unless it is listed here.
 */
const TOOLING = [
  'test/harness.test.ts', // bench/ harness
  'test/examples-auth-server.test.ts', // examples/auth-server
  'test/examples-worldmappers-api.test.ts', // examples/worldmappers-api (plain fetch, no SDK)
  'test/demo.test.ts', // examples/ run from the command line
  'test/interop-readme.test.ts', // the interop table generator
  'test/runtime-table.test.ts', // the runtime table generator
  'test/skip-reasons.test.ts', // test/helpers/skip-reasons-reporter.ts
  'test/check-links.test.ts', // scripts/check-links.ts on fixtures and on the Markdown files
  'test/quick-start.test.ts', // the README's first example and npm run example:servers, from the command line
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
