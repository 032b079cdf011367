import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: keep parallelism modest so timing-sensitive interop tests stay calm.
    maxWorkers: 2,
    unstubGlobals: true,
    // The default output, plus what was skipped and why (a missing redis-server, openssl, ...).
    reporters: ['default', './test/helpers/skip-reasons-reporter.ts'],
  },
});
