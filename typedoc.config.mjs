/**
 * TypeDoc: the API reference of every public entry point, written to docs/api/ (not committed: `npm run
 * docs` builds it). Zero warnings is the bar (`treatWarningsAsErrors`, checked in CI), and
 * `notDocumented` makes a public member without TSDoc a warning.
 */
import { readFileSync } from 'node:fs';

/** Each `exports` subpath of package.json and the source file TypeDoc documents it from. */
const ENTRY_POINTS = {
  '.': 'src/index.ts',
  './redis': 'src/redis/index.ts',
  './undici': 'src/fetch/undici-entry.ts',
  './axios': 'src/axios/index.ts',
  './otel': 'src/otel/index.ts',
};

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const missing = Object.keys(pkg.exports).filter(
  (subpath) => subpath !== './package.json' && !ENTRY_POINTS[subpath],
);
if (missing.length > 0) {
  throw new Error(`typedoc.config.mjs: add the source file of ${missing.join(', ')} to ENTRY_POINTS`);
}

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'm2m-token',
  entryPoints: Object.values(ENTRY_POINTS),
  tsconfig: 'tsconfig.typedoc.json',
  out: 'docs/api',
  readme: 'none',
  excludeInternal: true,
  excludePrivate: true,
  excludeExternals: true,
  sort: ['source-order'],
  // No source links: they need a git remote (a fresh clone or an export may have none, and docs must build anyway).
  disableSources: true,
  validation: { notExported: true, invalidLink: true, notDocumented: true },
  treatWarningsAsErrors: true,
};
