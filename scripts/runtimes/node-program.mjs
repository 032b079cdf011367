/**
 * The matrix program for runtimes that run files: Node, Bun and Deno. Started by matrix.ts in a
 * directory where the packed m2m-token is installed (with undici and redis beside it), as
 * `<runtime> node-program.mjs <config.json>`; prints one `M2M_MATRIX_RESULT {...}` line.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';
import * as m2m from 'm2m-token';
import { runCells } from './client-cells.mjs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const require = createRequire(import.meta.url);

const host = {
  // Node's fetch is undici: the SDK's own Agent carries the certificate.
  mtls: config.kind === 'node' ? 'builtin' : 'own-fetch',
  requireEntry: (specifier) => require(specifier),
  loadedFiles: () => Object.keys(require.cache),
  importUndiciEntry: () => import('m2m-token/undici'),
  importUndici: () => import('undici'),
  importRedisEntry: () => import('m2m-token/redis'),
  importRedis: () => import('redis'),
  async mtlsOptions(mtls) {
    const tls = { cert: mtls.certificate, key: mtls.privateKey, ca: mtls.ca };
    if (config.kind === 'bun') {
      // Bun's own fetch option; certificate and privateKey stay in the options.
      return { fetch: (input, init) => fetch(input, { ...init, tls }) };
    }
    // Deno: undici's fetch honours undici's dispatchers.
    const undici = await import('undici');
    return { fetch: undici.fetch, dispatcher: new undici.Agent({ connect: tls }) };
  },
};

const results = await runCells(m2m, config, host);
console.log(`M2M_MATRIX_RESULT ${JSON.stringify(results)}`);
process.exit(0);
