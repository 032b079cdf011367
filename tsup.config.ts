import { defineConfig } from 'tsup';

/**
 * zod (only zod/mini's checks the schemas use) and p-retry are bundled into dist, tree-shaken:
 * importing all of zod/mini costs more than the rest of the package at cold start, and p-retry 7 is
 * ESM-only, so a CommonJS build that required it would fail on Node < 20.19 (no require(esm)).
 * jose stays a dependency, loaded with `import()` on first use by a JWT method or DPoP (an `import()`
 * works from CommonJS on every Node version). `node:` prefixes are kept: Deno and workerd need them.
 */
const bundled = ['zod', 'p-retry', 'is-network-error'];

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      redis: 'src/redis/index.ts',
      undici: 'src/fetch/undici-entry.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: true,
    treeshake: true,
    noExternal: bundled,
    removeNodeProtocol: false,
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    noExternal: bundled,
    removeNodeProtocol: false,
    banner: { js: '#!/usr/bin/env node' },
  },
]);
