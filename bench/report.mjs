#!/usr/bin/env node
// Renders a results JSON (bench/results/*.json) as Markdown tables: node bench/report.mjs <file>
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmt, fmtInt, mdTable } from './lib/stats.mjs';

export function renderMarkdown(r) {
  const out = [];
  const m = r.machine;
  out.push(
    `Run ${r.startedAt} (${r.kind}${r.sections ? `: ${Object.entries(r.sections).filter(([, v]) => v).map(([k, v]) => (k === 'soakMinutes' ? `${v}-minute soak` : k)).join(', ')}` : ''}, ${r.durationS ?? '?'} s): ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}; ` +
      `router under test on ${m.pinning?.routerUnderTest ?? 'any core'}, mock + load driver on ${m.pinning?.mockAndLoadDriver ?? 'any core'}; ` +
      `Switchyard ${m.switchyardCommit ?? '?'}${m.switchyardSrcDirty ? ' (with uncommitted src/ changes)' : ''}` +
      (r.portkey ? `; Portkey ${r.portkey.versions['@portkey-ai/gateway']} (@hono/node-server ${r.portkey.versions['@hono/node-server']}, hono ${r.portkey.versions.hono})` : '') +
      `. ${r.config.rounds} alternation rounds per cell, ${r.config.latencySliceMs} ms latency + ${r.config.throughputSliceS} s autocannon slice per target and round.`,
  );
  const targets = ['switchyard', ...(r.peers ?? [])];
  for (const mode of ['nonstream', 'stream']) {
    const cells = r.matrix.filter((x) => x.mode === mode);
    if (!cells.length) continue;
    const rows = [];
    for (const c of cells) {
      for (const name of ['direct', ...targets]) {
        const x = c.results[name];
        if (!x) continue;
        const row = [
          String(c.concurrency),
          name,
          fmt(x.latencyMs?.p50),
          fmt(x.latencyMs?.p99),
          x.added ? `**${fmt(x.added.p50Ms)}**` : '',
          x.added ? `**${fmt(x.added.p99Ms)}**` : '',
          fmtInt(x.rps),
        ];
        if (mode === 'stream') row.push(fmt(x.ttfbMs?.p50), x.added ? fmt(x.added.ttfbP50Ms) : '', fmt(x.ttftMs?.p50), x.added ? fmt(x.added.ttftP50Ms) : '');
        row.push(x.cpuUsPerRequest !== undefined ? fmt(x.cpuUsPerRequest, 0) : '', x.coreUtilisation !== undefined ? `${Math.round(x.coreUtilisation * 100)}%` : '', x.peakRssMiB !== undefined ? fmt(x.peakRssMiB, 1) : '', name === 'direct' ? `${fmt(c.backgroundCpuPct, 0)}%` : '');
        rows.push(row);
      }
    }
    const headers = ['c', 'target', 'p50 ms', 'p99 ms', 'added p50', 'added p99', 'req/s'];
    if (mode === 'stream') headers.push('TTFB p50', 'added TTFB', 'first data p50', 'added first data');
    headers.push('CPU µs/req', 'core busy', 'peak RSS MiB', 'other load');
    out.push(`\n**${mode === 'stream' ? `Streaming (${r.config.mock.chunks} content chunks)` : 'Non-streaming'}**\n`);
    out.push(mdTable(headers, rows, 'll'));
  }
  if (r.peers?.includes('portkey')) {
    const rows = [];
    for (const c of r.matrix) {
      const s = c.results.switchyard;
      const p = c.results.portkey;
      if (!s || !p) continue;
      rows.push([
        `${c.mode} c=${c.concurrency}`,
        `${fmtInt(s.rps)} / ${fmtInt(p.rps)} = ${fmt(s.rps / p.rps, 1)}×`,
        `${fmt(s.added.p50Ms)} / ${fmt(p.added.p50Ms)}`,
        `${fmt(s.added.p99Ms)} / ${fmt(p.added.p99Ms)}`,
        c.mode === 'stream' ? `${fmt(s.added.ttftP50Ms)} / ${fmt(p.added.ttftP50Ms)}` : '',
        `${fmt(s.cpuUsPerRequest, 0)} / ${fmt(p.cpuUsPerRequest, 0)}`,
      ]);
    }
    out.push('\n**Switchyard vs Portkey, same run (Switchyard / Portkey)**\n');
    out.push(mdTable(['cell', 'req/s', 'added p50 ms', 'added p99 ms', 'added first data ms', 'CPU µs/req'], rows));
  }
  if (r.memory?.length) {
    out.push(`\n**Memory per open stream** (slow streams: first chunk at once, then one chunk every ${r.config.slowIntervalMs} ms; RSS and live heap read after a full GC, before and with the streams open)\n`);
    out.push(
      mdTable(
        ['target', 'streams', 'with content', 'no response yet', 'upstream streams', 'RSS before MiB', 'RSS open MiB', 'KiB per stream (RSS)', 'KiB per stream (live heap)', 'RSS after close MiB'],
        r.memory.map((x) => [x.target, fmtInt(x.n), fmtInt(x.streamsWithContent), fmtInt(x.clientConnectionsWithoutResponse), fmtInt(x.upstreamStreamsOpen), fmt(x.rssBeforeMiB, 1), fmt(x.rssOpenMiB, 1), `**${fmt(x.kibPerOpenConnection, 1)}**`, fmt(x.liveHeapKibPerConnection, 1), fmt(x.rssAfterCloseMiB, 1)]),
      ),
    );
    for (const x of r.memory) if (x.note) out.push(`\nNote: ${x.note}.`);
  }
  if (r.switchyardIdleRssMiB !== undefined) out.push(`\nSwitchyard idle RSS at start ${r.switchyardIdleRssMiB} MiB; after the matrix ${r.switchyardRssAfterMatrixMiB} MiB${r.portkey ? `; Portkey idle RSS ${r.portkey.idleRssMiB} MiB` : ''}.`);
  if (r.soak) {
    const k = r.soak;
    out.push(
      `\n**Soak**: ${k.minutes} min at c=${k.concurrency} (10 s non-streaming and streaming autocannon slices alternating), ${fmtInt(k.requests)} requests. ` +
        `After a full GC (once a minute): RSS ${k.rssAfterGcFirstMinuteMiB} MiB at minute 1 → ${k.rssAfterGcEndMiB} MiB at the end (${k.rssSlopeMiBPerMinute} MiB/min); ` +
        `live heap ${k.liveHeapFirstMinuteMiB} → ${k.liveHeapEndMiB} MiB (${k.liveHeapBytesPerRequest} bytes per request). RSS between collections: ${k.rssUnderLoadMiB?.min}–${k.rssUnderLoadMiB?.max} MiB.`,
    );
  }
  if (r.checks?.length) {
    out.push('\n**Targets**\n');
    out.push(mdTable(['goal', 'measured', 'result', 'note'], r.checks.map((c) => [c.goal, c.value === null ? '–' : String(c.value), c.pass === null ? 'not run' : c.pass ? 'pass' : '**miss**', c.note ?? '']), 'lrll'));
  }
  if (r.profile) {
    for (const [mode, p] of Object.entries(r.profile)) {
      out.push(`\n**CPU profile, ${mode}** (c=${p.load.concurrency}, ${fmtInt(p.load.requests)} requests in ${p.load.seconds} s, ${p.load.cpuUsPerRequest} µs CPU/request; samples of the load window only)\n`);
      out.push(mdTable(['self %', 'function', 'where'], p.topSelf.slice(0, 20).map((f) => [fmt(f.selfPct, 1), `\`${f.function}\``, f.where || '(native)']), 'rll'));
      out.push('');
      out.push(mdTable(['self %', 'area'], p.byArea.slice(0, 8).map((a) => [fmt(a.selfPct, 1), a.area]), 'rl'));
      out.push('');
      out.push(mdTable(['inclusive %', 'Switchyard function'], p.switchyardInclusive.slice(0, 20).map((f) => [fmt(f.inclusivePct, 1), `\`${f.function}\``]), 'rl'));
    }
  }
  return `${out.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!process.argv[2]) {
    process.stderr.write('usage: node bench/report.mjs bench/results/<file>.json\n');
    process.exit(2);
  }
  process.stdout.write(renderMarkdown(JSON.parse(readFileSync(process.argv[2], 'utf8'))));
}
