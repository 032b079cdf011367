/**
 * Writes the README's "Tested against" table from the interop matrix (test/interop/matrix.ts), the
 * same data the interop tests prove cell by cell. `--check` only says whether README.md is up to date
 * (test/interop-readme.test.ts does the same in `npm test`).
 *
 *   npm run interop-table            rewrite the table in README.md
 *   npm run interop-table -- --check exit 1 when README.md differs
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { spliceTable } from '../test/interop/matrix.js';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const updated = spliceTable(readme);
if (process.argv.includes('--check')) {
  if (updated !== readme) {
    console.error(
      'README.md: the "Tested against" table differs from test/interop/matrix.ts: run npm run interop-table',
    );
    process.exitCode = 1;
  } else {
    console.log('README.md: the interop table is up to date');
  }
} else if (updated !== readme) {
  writeFileSync(path, updated);
  console.log('README.md: interop table written');
} else {
  console.log('README.md: interop table already up to date');
}
