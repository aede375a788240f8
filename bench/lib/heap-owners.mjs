// Who holds the memory that appeared between two V8 heap snapshots of one process.
//
// heap-diff.mjs counts new objects by constructor, which says *what* grew (strings, arrays,
// closures) but not *why*. This attributes every object that is new in the second snapshot (V8
// keeps node ids stable within a process) to its owner: the nearest object on its dominator chain
// with a meaningful constructor name (ServerResponse, Socket, Generator, a named closure …), not a
// plain Object, Array, context or internal node. The dominator tree is computed over strong edges
// with the iterative algorithm of Cooper, Harvey and Kennedy. The big-object section prints the
// retaining path of each new object above `bigBytes`, which is how a body held by a listener's
// closure shows up.
//
//   node bench/lib/heap-owners.mjs before.heapsnapshot after.heapsnapshot [per] [bigBytes]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const GENERIC = new Set(['Object', 'Array', 'system / Context', 'Map', 'Set', 'Promise', '']);

function load(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

export function heapOwners(beforePath, afterPath, per = 1, { top = 30, bigBytes = 10_000 } = {}) {
  const A = load(beforePath);
  const fa = A.snapshot.meta.node_fields;
  const oldIds = new Set();
  for (let i = fa.indexOf('id'); i < A.nodes.length; i += fa.length) oldIds.add(A.nodes[i]);

  const S = load(afterPath);
  const meta = S.snapshot.meta;
  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const [nType, nName, nId, nSize, nEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = S;
  const N = nodes.length / NF;
  const weak = edgeTypes.indexOf('weak');
  const shortcut = edgeTypes.indexOf('shortcut');
  const strong = (e) => edges[e + eType] !== weak && edges[e + eType] !== shortcut;

  const firstEdge = new Uint32Array(N + 1);
  for (let i = 0, e = 0; i < N; i++) {
    firstEdge[i] = e;
    e += nodes[i * NF + nEdges] * EF;
  }
  firstEdge[N] = edges.length;

  // Post-order from the root (node 0) over strong edges.
  const order = new Int32Array(N).fill(-1);
  const post = [];
  const cursor = new Uint32Array(N);
  const seen = new Uint8Array(N);
  const stack = [0];
  seen[0] = 1;
  cursor[0] = firstEdge[0];
  while (stack.length) {
    const v = stack[stack.length - 1];
    let pushed = false;
    while (cursor[v] < firstEdge[v + 1]) {
      const e = cursor[v];
      cursor[v] += EF;
      if (!strong(e)) continue;
      const w = edges[e + eTo] / NF;
      if (!seen[w]) {
        seen[w] = 1;
        cursor[w] = firstEdge[w];
        stack.push(w);
        pushed = true;
        break;
      }
    }
    if (!pushed) {
      stack.pop();
      order[v] = post.length;
      post.push(v);
    }
  }

  // Predecessors (CSR) and the first retainer of each node, for paths.
  const predCount = new Uint32Array(N + 1);
  const firstRetainer = new Int32Array(N).fill(-1);
  const firstRetainerEdge = new Int32Array(N).fill(-1);
  for (let v = 0; v < N; v++) {
    if (!seen[v]) continue;
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += EF) {
      if (!strong(e)) continue;
      const w = edges[e + eTo] / NF;
      predCount[w]++;
      if (firstRetainer[w] === -1) {
        firstRetainer[w] = v;
        firstRetainerEdge[w] = e;
      }
    }
  }
  const predStart = new Uint32Array(N + 1);
  for (let i = 0; i < N; i++) predStart[i + 1] = predStart[i] + predCount[i];
  const preds = new Uint32Array(predStart[N]);
  const fill = predStart.slice();
  for (let v = 0; v < N; v++) {
    if (!seen[v]) continue;
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += EF) if (strong(e)) preds[fill[edges[e + eTo] / NF]++] = v;
  }

  const idom = new Int32Array(N).fill(-1);
  idom[0] = 0;
  const intersect = (a, b) => {
    while (a !== b) {
      while (order[a] < order[b]) a = idom[a];
      while (order[b] < order[a]) b = idom[b];
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = post.length - 1; k >= 0; k--) {
      const b = post[k];
      if (b === 0) continue;
      let d = -1;
      for (let p = predStart[b]; p < predStart[b + 1]; p++) {
        const q = preds[p];
        if (idom[q] !== -1) d = d === -1 ? q : intersect(q, d);
      }
      if (d !== -1 && idom[b] !== d) {
        idom[b] = d;
        changed = true;
      }
    }
  }

  const name = (v) => {
    const t = nodeTypes[nodes[v * NF + nType]];
    const s = strings[nodes[v * NF + nName]];
    if (t === 'object' || t === 'native') return s;
    if (t === 'closure') return `closure ${s || '(anonymous)'}`;
    return `(${t})`;
  };
  const isNew = (v) => !oldIds.has(nodes[v * NF + nId]);
  const owner = (v) => {
    let u = v;
    for (let hops = 0; u !== 0 && hops < 64; hops++) {
      const t = nodeTypes[nodes[u * NF + nType]];
      const n = name(u);
      if ((t === 'object' || t === 'closure' || t === 'native') && !GENERIC.has(n) && !n.startsWith('(')) return u;
      u = idom[u];
    }
    return 0;
  };

  const groups = new Map();
  let total = 0;
  const big = new Map();
  for (let v = 0; v < N; v++) {
    if (!seen[v] || !isNew(v)) continue;
    const size = nodes[v * NF + nSize];
    total += size;
    const o = owner(v);
    const key = o === 0 ? '(no named owner)' : `${name(o)}${isNew(o) ? '' : ' [existed before]'}`;
    const g = groups.get(key) ?? { bytes: 0, kinds: new Map() };
    g.bytes += size;
    g.kinds.set(name(v), (g.kinds.get(name(v)) ?? 0) + size);
    groups.set(key, g);
    if (size >= bigBytes) {
      const path = [];
      for (let u = v, h = 0; h < 8 && firstRetainer[u] !== -1; h++) {
        const e = firstRetainerEdge[u];
        const et = edgeTypes[edges[e + eType]];
        const label = et === 'element' || et === 'hidden' ? `[${edges[e + eName]}]` : strings[edges[e + eName]];
        u = firstRetainer[u];
        path.push(`${name(u)}.${label}`);
      }
      const k = `${name(v)} ← ${path.join(' ← ')}`;
      big.set(k, (big.get(k) ?? 0) + size);
    }
  }
  const perUnit = (b) => Math.round(b / per);
  return {
    newBytesPer: perUnit(total),
    owners: [...groups]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, top)
      .map(([owner, g]) => ({
        owner,
        bytesPer: perUnit(g.bytes),
        kinds: [...g.kinds].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([kind, b]) => ({ kind, bytesPer: perUnit(b) })),
      })),
    bigObjects: [...big].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([path, b]) => ({ path, bytesPer: perUnit(b) })),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [before, after, per = '1', bigBytes = '10000'] = process.argv.slice(2);
  const r = heapOwners(before, after, Number(per), { bigBytes: Number(bigBytes) });
  console.log(`new objects: ${r.newBytesPer} bytes per unit, by owner (nearest named object on the dominator chain):`);
  for (const o of r.owners) console.log(`${String(o.bytesPer).padStart(8)}  ${o.owner.padEnd(48)} ${o.kinds.map((k) => `${k.kind}:${k.bytesPer}`).join(' ')}`);
  if (r.bigObjects.length) {
    console.log(`\nnew objects of ${bigBytes} bytes or more, by retaining path:`);
    for (const b of r.bigObjects) console.log(`${String(b.bytesPer).padStart(8)}  ${b.path}`);
  }
}
