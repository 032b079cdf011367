/**
 * Installs the matrix's runtimes from the npm registry into a cache directory (not devDependencies:
 * `npm ci` stays lean), one prefix per package, and finds each binary. npm 11 does not run the
 * packages' install scripts unless allowed, so the binaries are looked up where the packages ship
 * them: `node` ships a launcher plus the platform package, `bun` and `deno` ship platform packages
 * (@oven/bun-*, @deno/*) beside a `bin` entry, miniflare ships workerd's platform package.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RuntimeSpec } from './definition.js';

export interface InstalledRuntime {
  readonly spec: RuntimeSpec;
  /** The executable (node, bun, deno); for workerd the miniflare package directory. */
  readonly path: string;
  readonly version: string;
}

function prefixFor(cacheDir: string, npmPackage: string): string {
  return join(cacheDir, npmPackage.replace(/[^a-z0-9.]+/gi, '-'));
}

function npmInstall(prefix: string, npmPackage: string): void {
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, 'package.json'), '{"private":true}\n');
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', npmPackage],
    { cwd: prefix, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
  );
}

function versionOf(binary: string, args: string[] = ['--version']): string | undefined {
  try {
    return execFileSync(binary, args, {
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n')[0];
  } catch {
    return undefined;
  }
}

/** The binary a package ships, through its `.bin` link or, failing that, its platform package. */
function findBinary(prefix: string, name: string, platformScopes: string[]): string | undefined {
  const linked = join(prefix, 'node_modules', '.bin', name);
  if (existsSync(linked) && versionOf(linked)) return linked;
  for (const scope of platformScopes) {
    const dir = join(prefix, 'node_modules', scope);
    if (!existsSync(dir)) continue;
    for (const platformPackage of readdirSync(dir)) {
      for (const candidate of [join(dir, platformPackage, 'bin', name), join(dir, platformPackage, name)]) {
        if (existsSync(candidate) && versionOf(candidate)) return candidate;
      }
    }
  }
  return undefined;
}

export function installRuntime(cacheDir: string, spec: RuntimeSpec): InstalledRuntime {
  const prefix = prefixFor(cacheDir, spec.npmPackage);
  const locate = (): InstalledRuntime | undefined => {
    if (spec.kind === 'workerd') {
      const dir = join(prefix, 'node_modules', 'miniflare');
      if (!existsSync(join(dir, 'package.json'))) return undefined;
      const workerd = findBinary(prefix, 'workerd', ['@cloudflare']);
      if (!workerd) return undefined;
      return { spec, path: dir, version: `workerd ${versionOf(workerd)?.replace(/^workerd /, '')}` };
    }
    const scopes = { node: ['node'], bun: ['@oven'], deno: ['@deno'] }[spec.kind];
    const binary = findBinary(prefix, spec.kind, scopes);
    const version = binary && versionOf(binary);
    if (!binary || !version) return undefined;
    if (
      spec.kind === 'node' &&
      !`v${version.replace(/^v/, '')}`.startsWith(`v${spec.npmPackage.split('@')[1]}`)
    )
      return undefined;
    return { spec, path: binary, version };
  };
  const found = locate();
  if (found) return found;
  npmInstall(prefix, spec.npmPackage);
  const installed = locate();
  if (!installed)
    throw new Error(`${spec.npmPackage}: installed, but its binary was not found under ${prefix}`);
  return installed;
}
