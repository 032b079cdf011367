/**
 * axios and @opentelemetry/api are optional peer dependencies: only their own entries (m2m-token/axios,
 * m2m-token/otel) import them. Checked on the module graph esbuild builds from each entry's source,
 * packages left external (as tsup builds dist), so that a user without axios or OpenTelemetry can
 * import every other entry.
 */
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/** The packages an entry imports (statically or dynamically), by specifier. */
async function packagesImportedBy(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [resolve(root, entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
  });
  const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports);
  return [...new Set(imports.filter((i) => i.external).map((i) => i.path))];
}

const OPTIONAL_PEERS = /^(axios|@opentelemetry\/)/;

describe('optional peer dependencies stay in their own entries', () => {
  it.each([
    ['m2m-token', 'src/index.ts'],
    ['m2m-token/redis', 'src/redis/index.ts'],
    ['m2m-token/undici', 'src/fetch/undici-entry.ts'],
  ])('%s imports neither axios nor @opentelemetry/*', async (_, entry) => {
    const imported = await packagesImportedBy(entry);
    expect(imported.filter((p) => OPTIONAL_PEERS.test(p))).toEqual([]);
  });

  it('m2m-token/axios imports axios, and not @opentelemetry/*', async () => {
    const imported = await packagesImportedBy('src/axios/index.ts');
    expect(imported).toContain('axios');
    expect(imported.filter((p) => /^@opentelemetry\//.test(p))).toEqual([]);
  });

  it('m2m-token/otel imports @opentelemetry/api only (no SDK), and not axios', async () => {
    const imported = await packagesImportedBy('src/otel/index.ts');
    expect(imported.filter((p) => OPTIONAL_PEERS.test(p))).toEqual(['@opentelemetry/api']);
  });
});
