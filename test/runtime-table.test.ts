/**
 * The runtime tables of README.md and docs/runtimes.md are generated from the runtime matrix's
 * definition (scripts/runtimes/definition.ts), whose every cell `npm run test:runtimes` proves in CI:
 * they must not drift from it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CELLS, FEATURES, RUNTIMES } from '../scripts/runtimes/definition.js';
import { FILES, MARKERS, renderTable, spliceTable } from '../scripts/runtimes/table.js';

describe('runtime tables', () => {
  it.each(FILES.map((f) => [f.name, f] as const))(
    '%s holds the table generated from the matrix definition (npm run runtime-table)',
    (_, file) => {
      const text = readFileSync(file.path, 'utf8');
      expect(text).toContain(MARKERS.start);
      expect(spliceTable(text, file.kind)).toBe(text);
    },
  );

  it('the full table has one row per feature and one column per runtime, each cell marked', () => {
    const lines = renderTable('full')
      .split('\n')
      .filter((line) => line.startsWith('|'));
    expect(lines).toHaveLength(FEATURES.length + 2);
    for (const runtime of RUNTIMES) expect(lines[0]).toContain(runtime.label);
    for (const row of lines.slice(2)) {
      const cells = row.split(' | ').slice(1);
      expect(cells).toHaveLength(RUNTIMES.length);
      for (const cell of cells) expect(cell).toMatch(/^[✓✗]/);
    }
  });

  it('every runtime declares every feature, and every limitation says why', () => {
    for (const runtime of RUNTIMES) {
      const cells = CELLS[runtime.id];
      expect(cells, runtime.id).toBeDefined();
      for (const feature of FEATURES) {
        const cell = cells?.[feature.id];
        expect(cell, `${runtime.id} ${feature.id}`).toBeDefined();
        if (cell && cell.mode !== 'yes') expect(cell.note.length).toBeGreaterThan(20);
      }
    }
  });
});
