/**
 * README's settings table is the schema's: it is regenerated and compared, and every environment
 * variable and `serve` flag the code reads by name must appear in it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderSettingsTable, withCurrentTable } from '../scripts/settings-table.js';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(`../${rel}`, import.meta.url)), 'utf8');

describe('README settings table', () => {
  it('is the one generated from the schema (run node --import tsx scripts/settings-table.ts after changing it)', () => {
    const readme = read('README.md');
    assert.equal(withCurrentTable(readme), readme);
  });

  it('lists every environment variable the configuration code reads', () => {
    const table = renderSettingsTable();
    const names = new Set<string>();
    for (const file of ['src/config/load.ts', 'src/observability/tracing-config.ts']) {
      for (const m of read(file).matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]|Env\(env, '([A-Z][A-Z0-9_]+)'/g)) names.add((m[1] ?? m[2] ?? m[3])!);
    }
    assert.ok(names.size > 20, `found ${names.size} variables`);
    const missing = [...names].filter((n) => !table.includes(`\`${n}\``));
    assert.deepEqual(missing, [], 'variables read but not in the table');
  });

  it("lists every flag of serve (which doctor shares)", () => {
    const table = renderSettingsTable();
    const block = /const SERVE_OPTIONS = \{([\s\S]*?)\} as const;/.exec(read('src/cli/main.ts'))![1]!;
    const flags = [...block.matchAll(/^\s+([a-z-]+): \{ type:/gm)].map((m) => `--${m[1]}`);
    assert.ok(flags.length >= 5);
    assert.deepEqual(flags.filter((f) => !table.includes(`\`${f}\``)), []);
  });
});
