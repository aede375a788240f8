// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, time per area
// (Switchyard's own code, each npm package, Node internals, GC/native), and inclusive time of
// Switchyard functions. Frames in dist/ are mapped back to src/*.ts lines through tsc's source maps.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64I = Object.fromEntries([...B64].map((c, i) => [c, i]));

/** Decodes a v3 source map's `mappings` into per-generated-line [genCol, srcIdx, srcLine] lists. */
function decodeMappings(mappings) {
  const lines = [];
  let srcIdx = 0;
  let srcLine = 0;
  let srcCol = 0;
  for (const lineStr of mappings.split(';')) {
    const segs = [];
    let genCol = 0;
    for (const seg of lineStr.split(',')) {
      if (!seg) continue;
      const vals = [];
      let v = 0;
      let shift = 0;
      for (const ch of seg) {
        const d = B64I[ch];
        v += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          vals.push(v & 1 ? -(v >>> 1) : v >>> 1);
          v = 0;
          shift = 0;
        }
      }
      genCol += vals[0];
      if (vals.length >= 4) {
        srcIdx += vals[1];
        srcLine += vals[2];
        srcCol += vals[3];
        segs.push([genCol, srcIdx, srcLine]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

const maps = new Map();
function sourceMapFor(file) {
  if (maps.has(file)) return maps.get(file);
  let m = null;
  try {
    const path = `${file}.map`;
    if (existsSync(path)) {
      const raw = JSON.parse(readFileSync(path, 'utf8'));
      m = { sources: raw.sources.map((s) => new URL(s, `file://${file}`).pathname), lines: decodeMappings(raw.mappings) };
    }
  } catch {
    m = null;
  }
  maps.set(file, m);
  return m;
}

function mapToSource(file, line, col) {
  const m = sourceMapFor(file);
  if (!m) return null;
  const segs = m.lines[line];
  if (!segs || segs.length === 0) return null;
  let best = segs[0];
  for (const s of segs) if (s[0] <= col) best = s;
  return { file: m.sources[best[1]], line: best[2] + 1 };
}

function area(url, root) {
  if (!url) return 'V8/native (GC, builtins, program)';
  if (url.startsWith('node:')) return 'Node.js internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return `npm: ${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (root && url.includes(root)) return 'Switchyard (src/)';
  return 'other';
}

/**
 * `window` ({fromUs, toUs}, CLOCK_MONOTONIC microseconds as from process.hrtime.bigint() / 1000n —
 * the clock V8's profiler uses on Linux) keeps only the samples taken under load, so start-up,
 * catalog loading and warm-up do not dilute the figures.
 */
export function summariseProfile(path, { root, top = 25, window = null } = {}) {
  const prof = JSON.parse(readFileSync(path, 'utf8'));
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> µs
  let t = prof.startTime;
  let windowSamples = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] ?? 0;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    windowSamples++;
    const dt = prof.timeDeltas[i + 1] ?? 0; // time until the next sample belongs to this sample
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
  }
  const rootPath = root ? `${root.replace(/\/$/, '')}/` : null;
  const describe = (cf) => {
    const url = cf.url ? (cf.url.startsWith('file://') ? fileURLToPath(cf.url) : cf.url) : '';
    let where = url;
    if (url && rootPath && url.startsWith(rootPath) && url.includes('/dist/')) {
      const src = mapToSource(url, cf.lineNumber, cf.columnNumber);
      where = src ? `${relative(root, src.file)}:${src.line}` : `${relative(root, url)}:${cf.lineNumber + 1}`;
    } else if (url && rootPath && url.startsWith(rootPath)) {
      where = `${relative(root, url)}:${cf.lineNumber + 1}`;
    } else if (url) {
      const nm = url.lastIndexOf('/node_modules/');
      where = `${nm >= 0 ? url.slice(nm + 14) : url}:${cf.lineNumber + 1}`;
    }
    return { fn: cf.functionName || '(anonymous)', where, area: area(url, rootPath) };
  };

  let totalUs = 0;
  let idleUs = 0;
  const byFn = new Map();
  const byArea = new Map();
  for (const [id, us] of self) {
    const n = nodes.get(id);
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    totalUs += us;
    const d = describe(cf);
    const key = `${d.fn} ${d.where}`;
    const e = byFn.get(key) ?? { ...d, selfUs: 0 };
    e.selfUs += us;
    byFn.set(key, e);
    byArea.set(d.area, (byArea.get(d.area) ?? 0) + us);
  }

  // Inclusive time of Switchyard functions (each function counted once per stack).
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map();
  for (const [id, us] of self) {
    if (nodes.get(id).callFrame.functionName === '(idle)') continue;
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = nodes.get(cur).callFrame;
      if (!cf.url || !rootPath || !cf.url.includes(rootPath) || cf.url.includes('/node_modules/')) continue;
      const d = describe(cf);
      const key = `${d.fn} ${d.where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }

  const pct = (us) => Math.round((1000 * us) / Math.max(1, totalUs)) / 10;
  return {
    file: path,
    wallMs: Math.round((window ? Math.min(window.toUs, prof.endTime) - Math.max(window.fromUs, prof.startTime) : prof.endTime - prof.startTime) / 1000),
    samples: windowSamples,
    busyMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    topSelf: [...byFn.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, top)
      .map((e) => ({ function: e.fn, where: e.where, area: e.area, selfMs: Math.round(e.selfUs / 100) / 10, selfPct: pct(e.selfUs) })),
    byArea: [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([a, us]) => ({ area: a, selfMs: Math.round(us / 100) / 10, selfPct: pct(us) })),
    switchyardInclusive: [...inclusive.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ function: k, inclusiveMs: Math.round(us / 100) / 10, inclusivePct: pct(us) })),
  };
}

// CLI: node bench/lib/cpuprofile.mjs <file.cpuprofile> [repo-root]
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const s = summariseProfile(process.argv[2], { root: process.argv[3] ?? process.cwd(), top: 40 });
  console.log(JSON.stringify(s, null, 2));
}
