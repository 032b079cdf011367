#!/usr/bin/env node
// Adds lockfile entries for optional, platform-specific packages (other OSes and CPUs) that the
// registry this project is developed against does not serve, so that `npm install` leaves them out of
// package-lock.json while `npm ci` insists that every optional dependency has an entry. The entries
// carry `os`/`cpu` (read from the package name), so `npm ci` skips them on other platforms, exactly as
// it would with entries written on a machine that sees the whole registry.
// Run after `npm install`: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;

const OS = [
  'android',
  'darwin',
  'freebsd',
  'linux',
  'openbsd',
  'netbsd',
  'sunos',
  'win32',
  'aix',
  'openharmony',
];
const CPU = {
  arm64: 'arm64',
  x64: 'x64',
  ia32: 'ia32',
  arm: 'arm',
  riscv64: 'riscv64',
  ppc64: 'ppc64',
  s390x: 's390x',
  loong64: 'loong64',
  mips64el: 'mips64el',
};

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p)) ?? (parts.includes('win32') ? 'win32' : undefined);
  const cpu = parts
    .map((p) => (p === 'gnueabihf' || p === 'musleabihf' || p === 'eabi' ? 'arm' : CPU[p]))
    .find(Boolean);
  const libc =
    parts.includes('musl') || parts.includes('musleabihf')
      ? 'musl'
      : parts.includes('gnu') || parts.includes('gnueabihf')
        ? 'glibc'
        : undefined;
  return { os, cpu, libc };
}

function resolves(fromPath, name) {
  // Node resolution inside the lockfile: nested node_modules first, then up the tree.
  let dir = fromPath;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return true;
    if (!dir) return false;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i === -1 ? '' : dir.slice(0, i);
  }
}

let added = 0;
for (const [pkgPath, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    if (resolves(pkgPath, name)) continue;
    if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) continue; // only exact versions can be written without the registry
    const { os, cpu, libc } = platformOf(name);
    if (!os && !cpu) continue;
    const record = { version: spec };
    if (cpu) record.cpu = [cpu];
    if (entry.dev) record.dev = true;
    if (libc) record.libc = [libc];
    record.optional = true;
    if (os) record.os = [os];
    packages[`node_modules/${name}`] = record;
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} optional platform entries`);
