/**
 * The layout's promises, checked: no import cycles between source files, and no wire format
 * outside the front doors (src/ingress/) and the provider adapters (src/providers/).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of a file (type-only ones included: they are cycles for a reader too). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/g)) {
    const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'));
    out.push(target);
  }
  return out;
}

describe('architecture', () => {
  const files = sources(SRC);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => files.includes(t))]));

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'visiting');
      stack.push(f);
      for (const t of graph.get(f) ?? []) {
        if (state.get(t) === 'visiting') cycles.push([...stack.slice(stack.indexOf(t)), t].map((p) => relative(SRC, p)).join(' → '));
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f);
    assert.deepEqual(cycles, []);
  });

  it('keeps wire formats in ingress/ and providers/: the model and the pipeline import neither', () => {
    const offenders: string[] = [];
    for (const [file, targets] of graph) {
      const rel = relative(SRC, file);
      if (!rel.startsWith('model/') && !rel.startsWith('pipeline/')) continue;
      for (const t of targets) {
        const to = relative(SRC, t);
        if (to.startsWith('ingress/') || (to.startsWith('providers/') && to !== 'providers/types.ts' && to !== 'providers/registry.ts')) offenders.push(`${rel} → ${to}`);
        if (rel.startsWith('model/') && !to.startsWith('model/')) offenders.push(`${rel} → ${to}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
