/**
 * The README's "Tested against" table is generated from the interop matrix (test/interop/matrix.ts),
 * whose every cell is proven by test/interop-<server>.test.ts: it must not drift from it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FEATURES, MATRIX, README_MARKERS, renderTable, SERVERS, spliceTable } from './interop/matrix.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README "Tested against" table', () => {
  it('is the table generated from the matrix (npm run interop-table)', () => {
    expect(readme).toContain(README_MARKERS.start);
    expect(spliceTable(readme)).toBe(readme);
  });

  it('has one row per feature and one column per server, each cell marked', () => {
    const table = renderTable()
      .split('\n')
      .filter((line) => line.startsWith('|'));
    expect(table).toHaveLength(FEATURES.length + 2);
    for (const row of table.slice(2)) {
      const cells = row.split(' | ').slice(1);
      expect(cells).toHaveLength(SERVERS.length);
      for (const cell of cells) expect(cell).toMatch(/^[✓○✗]/);
    }
    for (const server of SERVERS)
      expect(table[0]).toContain(`${MATRIX[server].name} ${MATRIX[server].version}`);
  });

  it('links to the providers guide', () => {
    const section = readme.slice(readme.indexOf('## Tested against'), readme.indexOf(README_MARKERS.start));
    expect(section).toContain('docs/providers.md');
  });
});
