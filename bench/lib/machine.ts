/** The machine, runtime and library versions printed with every result. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

const require = createRequire(import.meta.url);

/** The installed version of a package, read from its package.json. */
export function packageVersion(name: string): string {
  try {
    // Some packages do not export ./package.json: find it next to the resolved entry instead.
    const paths = require.resolve.paths(name) ?? [];
    for (const base of paths) {
      try {
        const pkg = JSON.parse(readFileSync(`${base}/${name}/package.json`, 'utf8')) as { version?: string };
        if (pkg.version) return pkg.version;
      } catch {
        // not in this node_modules
      }
    }
  } catch {
    // fall through
  }
  return 'unknown';
}

export function ownVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
