#!/usr/bin/env node
/**
 * The worker bundle check (issue 14, point 2): the entry bundles with
 * `esbuild --bundle --platform=browser --conditions=workerd,worker,browser` and nothing else (no
 * externals, aliases or compat flags), pulls in no Node-only module, and leaves no literal import of
 * one that another bundler would follow. Used by test/worker-bundle.test.ts, by the bench's bundle
 * sizes and, as a command, by CI on the built package:
 *
 *   node scripts/runtimes/worker-bundle.mjs [entry]      (default: dist/index.js)
 */
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** Exactly the options of the command line in the issue; `minify` is the only thing callers change. */
export const WORKER_BUNDLE_OPTIONS = Object.freeze({
  bundle: true,
  platform: 'browser',
  conditions: ['workerd', 'worker', 'browser'],
  format: 'esm',
  write: false,
  metafile: true,
  logLevel: 'silent',
});

/** Literal imports of Node-only modules that bundlers follow (with or without the `node:` prefix). */
const NODE_ONLY_IMPORT =
  /\b(?:import|require)\s*\(\s*["'`](?:undici|node:[a-z_/]+|crypto|http|https|net|tls|diagnostics_channel|buffer|stream)["'`]\s*\)|\bfrom\s*["'](?:undici|node:[a-z_/]+)["']/g;

/**
 * Bundles `entry` (a file path, or `{ contents, resolveDir }` for a stdin entry) for a worker.
 * @returns the code, its minified and gzip sizes, the inputs and what is wrong with it (`problems`)
 */
export async function bundleForWorkers(entry, { minify = true } = {}) {
  const input =
    typeof entry === 'string'
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.contents, resolveDir: entry.resolveDir, loader: 'js' } };
  const result = await build({ ...WORKER_BUNDLE_OPTIONS, ...input, minify, outfile: 'worker-bundle.js' });
  const code = result.outputFiles[0].text;
  const inputs = Object.keys(result.metafile.inputs);
  const problems = [
    ...inputs.filter((file) => /node_modules\/undici\//.test(file)).map((file) => `bundles ${file}`),
    ...[...code.matchAll(NODE_ONLY_IMPORT)].map((m) => `literal ${m[0]}`),
  ];
  return {
    code,
    inputs,
    bytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code, { level: 9 }).length,
    problems,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const entry = process.argv[2] ?? 'dist/index.js';
  try {
    const bundle = await bundleForWorkers(entry);
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    console.log(`${entry}: worker bundle ${kb(bundle.bytes)} minified, ${kb(bundle.gzipBytes)} gzip`);
    if (bundle.problems.length > 0) {
      for (const problem of bundle.problems) console.error(`  ${problem}`);
      process.exit(1);
    }
  } catch (error) {
    // esbuild's own message lists each unresolved import.
    console.error(`${entry} does not bundle for workers:\n${error.message}`);
    process.exit(1);
  }
}
