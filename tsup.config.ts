import { defineConfig, type Options } from 'tsup';

/**
 * zod (only the zod/mini checks the schemas use) and p-retry are bundled into dist, tree-shaken:
 * importing all of zod/mini costs more than the rest of the package at cold start, and p-retry 7 is
 * ESM-only, so a CommonJS build that required it would fail on Node < 20.19 (no require(esm)).
 * jose stays a dependency of the ESM build, loaded with `import()` on first use by a JWT method, DPoP or
 * a key import (src/jose.ts); the CommonJS build bundles the jose parts it uses into that lazily
 * loaded chunk, since jose 6 is ESM-only too. `node:` prefixes are kept: Deno and workerd need them.
 */
const bundled = ['zod', 'p-retry', 'is-network-error'];

const library: Options = {
  entry: {
    index: 'src/index.ts',
    redis: 'src/redis/index.ts',
    undici: 'src/fetch/undici-entry.ts',
    // Optional peers (axios, @opentelemetry/api) stay external: imported only by their own entries.
    axios: 'src/axios/index.ts',
    otel: 'src/otel/index.ts',
  },
  // `@internal` members (the integrations' seam) stay out of the public types.
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
  treeshake: true,
  removeNodeProtocol: false,
};

export default defineConfig([
  { ...library, format: ['esm'], clean: true, noExternal: bundled },
  { ...library, format: ['cjs'], noExternal: [...bundled, 'jose'] },
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
