/**
 * The runtime matrix (issue 14): the packed package, installed as a user would, run on Node 20.18.1
 * (the engines minimum), 22 and 24, Bun, Deno and workerd (through Miniflare, with and without
 * nodejs_compat) against loopback servers started here. Prints a table; exits 1 when a cell that
 * definition.ts says works fails.
 *
 *   npm run test:runtimes [-- --only node20,bun] [-- --skip-build]
 *
 * Runtimes are installed from the npm registry into $M2M_RUNTIMES_CACHE (default
 * node_modules/.cache/m2m-token-runtimes), not into devDependencies.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CELLS, type Cell, FEATURES, type FeatureId, RUNTIMES, type RuntimeSpec } from './definition.js';
import { type InstalledRuntime, installRuntime } from './install.js';
import { startMatrixServers } from './servers.js';
import { bundleForWorkers } from './worker-bundle.mjs';

const REPO = resolve(import.meta.dirname, '../..');
const HERE = import.meta.dirname;
const RUN_TIMEOUT_MS = 180_000;

interface CellResult {
  ok: boolean;
  detail: string;
  skipped?: string;
  ms?: number;
}
type RuntimeResults = Partial<Record<FeatureId, CellResult>>;

function args() {
  const argv = process.argv.slice(2);
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = value('--only')?.split(',');
  return {
    runtimes: only ? RUNTIMES.filter((r) => only.includes(r.id)) : RUNTIMES,
    skipBuild: argv.includes('--skip-build'),
    cacheDir: resolve(process.env.M2M_RUNTIMES_CACHE ?? join(REPO, 'node_modules/.cache/m2m-token-runtimes')),
  };
}

function step(message: string): void {
  console.log(`\n--> ${message}`);
}

/** The package as users get it: built, packed, installed with undici and redis beside it. */
function installPackedPackage(workDir: string, skipBuild: boolean): string {
  if (!skipBuild)
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('npm', ['pack', '--silent', '--pack-destination', workDir], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const tarball = readdirSync(workDir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack made no tarball');
  const app = join(workDir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{"private":true,"name":"m2m-token-matrix-app"}\n');
  const redisVersion = JSON.parse(
    execFileSync('npm', ['pkg', 'get', 'devDependencies.redis'], { cwd: REPO, encoding: 'utf8' }),
  );
  execFileSync(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      join(workDir, tarball),
      `redis@${redisVersion}`,
    ],
    { cwd: app, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
  );
  for (const file of ['client-cells.mjs', 'node-program.mjs', 'worker-program.mjs'])
    copyFileSync(join(HERE, file), join(app, file));
  return app;
}

function parseResult(output: string): RuntimeResults | undefined {
  const line = output.split('\n').find((l) => l.startsWith('M2M_MATRIX_RESULT '));
  return line ? (JSON.parse(line.slice('M2M_MATRIX_RESULT '.length)) as RuntimeResults) : undefined;
}

function run(
  command: string,
  argv: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<string> {
  return new Promise((resolvePromise) => {
    const child = spawn(command, argv, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise(code === 0 ? output : `${output}\n(exit ${code ?? signal})`);
    });
  });
}

async function runProcess(
  installed: InstalledRuntime,
  app: string,
  configFile: string,
  caFile: string | undefined,
): Promise<RuntimeResults | string> {
  const { spec, path } = installed;
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.NODE_OPTIONS;
  if (caFile) env.NODE_EXTRA_CA_CERTS = caFile;
  const argv =
    spec.kind === 'deno'
      ? ['run', '--allow-all', '--quiet', 'node-program.mjs', configFile]
      : ['node-program.mjs', configFile];
  const output = await run(path, argv, { cwd: app, env });
  return parseResult(output) ?? output.slice(-3000);
}

async function runWorker(
  installed: InstalledRuntime,
  app: string,
  config: object,
): Promise<RuntimeResults | string> {
  // Bundled exactly as a user's worker: the worker bundle options and nothing else.
  const bundle = await bundleForWorkers(join(app, 'worker-program.mjs'), { minify: false });
  if (bundle.problems.length > 0) return `worker bundle: ${bundle.problems.join('; ')}`;
  const { Miniflare } = (await import(pathToFileURL(join(installed.path, 'dist/src/index.js')).href)) as {
    Miniflare: new (
      options: object,
    ) => { dispatchFetch(url: string, init: object): Promise<Response>; dispose(): Promise<void> };
  };
  const mf = new Miniflare({
    modules: true,
    script: bundle.code,
    compatibilityDate: '2025-09-01',
    compatibilityFlags: [...(installed.spec.compatibilityFlags ?? [])],
  });
  try {
    const response = await mf.dispatchFetch('http://matrix.worker/run', {
      method: 'POST',
      body: JSON.stringify(config),
    });
    const text = await response.text();
    return response.status === 200
      ? (JSON.parse(text) as RuntimeResults)
      : `worker answered ${response.status}: ${text.slice(0, 2000)}`;
  } finally {
    await mf.dispose();
  }
}

function mustPass(cell: Cell): boolean {
  return cell.mode !== 'no' || cell.refused === true;
}

function symbol(cell: Cell, result: CellResult | undefined): string {
  if (!result) return 'FAIL';
  if (result.skipped) return 'skip';
  if (!result.ok) return mustPass(cell) ? 'FAIL' : 'n/a';
  if (cell.mode === 'no') return cell.refused ? 'refused' : '-';
  return 'ok';
}

function printTable(columns: { spec: RuntimeSpec; results: RuntimeResults }[]): void {
  const header = ['feature', ...columns.map((c) => c.spec.id)];
  const rows = FEATURES.map((f) => [
    f.id,
    ...columns.map(({ spec, results }) =>
      symbol((CELLS[spec.id] as Record<FeatureId, Cell>)[f.id], results[f.id]),
    ),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i] as number)).join('  ');
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const { runtimes, skipBuild, cacheDir } = args();
  const workDir = mkdtempSync(join(tmpdir(), 'm2m-runtimes-'));
  step(`installing runtimes into ${cacheDir}`);
  mkdirSync(cacheDir, { recursive: true });
  const installed: InstalledRuntime[] = [];
  for (const spec of runtimes) {
    const runtime = installRuntime(cacheDir, spec);
    console.log(`    ${spec.id.padEnd(15)} ${runtime.version}`);
    installed.push(runtime);
  }
  step('building, packing and installing m2m-token as a user would');
  const app = installPackedPackage(workDir, skipBuild);
  step('starting loopback servers');
  const matrix = await startMatrixServers();
  for (const [what, why] of Object.entries(matrix.missing)) console.log(`    ${what}: skipped, ${why}`);
  let caFile: string | undefined;
  if (matrix.ca) {
    caFile = join(workDir, 'ca.pem');
    writeFileSync(caFile, matrix.ca);
  }

  const columns: { spec: RuntimeSpec; results: RuntimeResults; crash?: string }[] = [];
  try {
    for (const runtime of installed) {
      const { spec } = runtime;
      const cells = CELLS[spec.id] as Record<FeatureId, Cell>;
      const config = { ...matrix.config, runtime: spec.id, kind: spec.kind, cells };
      const started = Date.now();
      const outcome =
        spec.kind === 'workerd'
          ? await runWorker(runtime, app, config)
          : await (async () => {
              const file = join(workDir, `${spec.id}.json`);
              writeFileSync(file, JSON.stringify(config));
              return runProcess(runtime, app, file, caFile);
            })();
      const results = typeof outcome === 'string' ? {} : outcome;
      // Cells the machine cannot run (no openssl, no redis-server) are skipped, not failed.
      if (!matrix.config.mtls && results.tls_client_auth && !results.tls_client_auth.ok)
        results.tls_client_auth = { ok: true, skipped: matrix.missing.mtls ?? 'no mTLS server', detail: '' };
      columns.push({ spec, results, crash: typeof outcome === 'string' ? outcome : undefined });
      console.log(`    ${spec.id.padEnd(15)} ran in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    await matrix.close();
  }

  printTable(columns);
  let failures = 0;
  for (const { spec, results, crash } of columns) {
    if (crash) console.log(`\n${spec.id} did not report:\n${crash}`);
    const cells = CELLS[spec.id] as Record<FeatureId, Cell>;
    for (const feature of FEATURES) {
      const cell = cells[feature.id];
      const result = results[feature.id];
      if (!mustPass(cell) || (result?.ok && !result.skipped) || result?.skipped) continue;
      failures++;
      console.log(`FAIL ${spec.id} ${feature.id}: ${result?.detail ?? 'no result'}`);
    }
  }
  const counted = columns.flatMap(({ spec, results }) =>
    FEATURES.filter((f) => mustPass((CELLS[spec.id] as Record<FeatureId, Cell>)[f.id])).map(
      (f) => results[f.id],
    ),
  );
  const passed = counted.filter((r) => r?.ok && !r.skipped).length;
  const skipped = counted.filter((r) => r?.skipped).length;
  rmSync(workDir, { recursive: true, force: true });
  console.log(`\nruntime matrix: ${passed} passed, ${failures} failed, ${skipped} skipped`);
  process.exitCode = failures > 0 ? 1 : 0;
}

await main();
