// Compares two V8 heap snapshots: bytes and objects added per constructor / object kind, divided
// by `per` (e.g. the number of open streams). node bench/lib/heap-diff.mjs a.heapsnapshot b.heapsnapshot [per]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function aggregate(path) {
  const snap = JSON.parse(readFileSync(path, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const n = f.length;
  const nodes = snap.nodes;
  const strings = snap.strings;
  const by = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += n) {
    const type = types[nodes[i + iType]];
    let name = type === 'object' || type === 'closure' || type === 'native' ? strings[nodes[i + iName]] : `(${type})`;
    if (type === 'closure') name = `closure ${name || '(anonymous)'}`;
    if (name.length > 80) name = `${name.slice(0, 77)}...`;
    const size = nodes[i + iSize];
    total += size;
    const e = by.get(name) ?? { bytes: 0, count: 0 };
    e.bytes += size;
    e.count++;
    by.set(name, e);
  }
  return { by, total };
}

export function heapDiff(before, after, per = 1, top = 25) {
  const a = aggregate(before);
  const b = aggregate(after);
  const rows = [];
  for (const [name, e] of b.by) {
    const o = a.by.get(name) ?? { bytes: 0, count: 0 };
    const bytes = e.bytes - o.bytes;
    if (bytes > 0) rows.push({ name, bytesPer: Math.round(bytes / per), objectsPer: Math.round(((e.count - o.count) / per) * 10) / 10 });
  }
  rows.sort((x, y) => y.bytesPer - x.bytesPer);
  return { totalBytesPer: Math.round((b.total - a.total) / per), top: rows.slice(0, top) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const d = heapDiff(process.argv[2], process.argv[3], Number(process.argv[4] ?? 1), 40);
  console.log(`heap growth: ${d.totalBytesPer} bytes per unit`);
  for (const r of d.top) console.log(String(r.bytesPer).padStart(8), String(r.objectsPer).padStart(7), ' ', r.name);
}
