#!/usr/bin/env node
// Checks the built declaration files (dist/*.d.ts, dist/*.d.cts, after `npm run build`): nothing marked
// `@internal` and none of the names src/internal.ts declares (the integrations' seam, reached through a
// symbol) may appear in the public types. tsup builds them with `stripInternal`; this proves it worked.
// Run: npm run build && node scripts/check-public-types.mjs
import { readdirSync, readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const dist = new URL('dist/', root);

/** Names declared (not re-exported) by src/internal.ts, plus those the issue named. */
const internalSource = readFileSync(new URL('src/internal.ts', root), 'utf8');
const declared = [
  ...internalSource.matchAll(
    /^export\s+(?:declare\s+)?(?:const|let|function|class|interface|type|enum)\s+([A-Za-z_$][\w$]*)/gm,
  ),
].map((m) => m[1]);
const forbidden = [...new Set([...declared, 'kInternals', 'ClientInternals', 'ResolvedRequest'])];

let files;
try {
  files = readdirSync(dist).filter((name) => /\.d\.c?ts$/.test(name));
} catch {
  files = [];
}
if (files.length === 0) {
  console.error('check-public-types: no declaration files in dist/: run `npm run build` first');
  process.exit(1);
}

const problems = [];
for (const name of files) {
  const text = readFileSync(new URL(name, dist), 'utf8');
  text.split('\n').forEach((line, index) => {
    if (line.includes('@internal'))
      problems.push(`dist/${name}:${index + 1}: @internal member: ${line.trim()}`);
    for (const word of forbidden) {
      if (new RegExp(`\\b${word.replace(/\$/g, '\\$')}\\b`).test(line)) {
        problems.push(`dist/${name}:${index + 1}: internal name ${word}: ${line.trim()}`);
      }
    }
  });
}
if (problems.length > 0) {
  console.error(
    `check-public-types: internals in the public types (mark them @internal, or keep them out of public signatures):\n${problems.join('\n')}`,
  );
  process.exit(1);
}
console.log(
  `check-public-types: ${files.length} declaration files, no internals (checked: @internal, ${forbidden.join(', ')})`,
);
