#!/usr/bin/env node
// Renders a results JSON (bench/results/*.json) as Markdown tables: node bench/report.mjs <file>
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmt, fmtInt, mdTable, summariseSoak } from './lib/stats.mjs';

const mib = (x) => fmt(x, 1);
/** Whether RSS dropped (≥ 2 MiB below its highest reading): the memory reducer has run. */
const fell = (x) => (x.droppedMiB ?? (x.samples?.length ? Math.max(...x.samples.map((q) => q[1])) - Math.min(...x.samples.map((q) => q[1])) : 0)) >= 2;

/**
 * One paragraph on idle RSS (also printed by run.mjs): at start, settled, the RssAnon/RssFile
 * split, and a bare Node HTTP server as the baseline. `b` wraps the headline figure (Markdown bold).
 */
export function idleSummary(r, b = (x) => x) {
  const i = r.idle;
  if (!i?.switchyard) {
    if (r.switchyardIdleRssMiB === undefined) return null;
    return `Switchyard idle RSS at start ${r.switchyardIdleRssMiB} MiB; after the matrix ${r.switchyardRssAfterMatrixMiB} MiB${r.portkey ? `; Portkey idle RSS ${r.portkey.idleRssMiB} MiB` : ''}.`;
  }
  const when = (x) => (x.settled ? `settled after ${x.settledAfterS} s` : `at ${x.readingAtS} s, ${x.reason}`);
  const split = (x) => `RssAnon ${mib(x.anonMiB)} + RssFile ${mib(x.fileMiB)} MiB`;
  const s = i.switchyard;
  const out = [];
  if (s.settledMiB === null) out.push(`Idle RSS, before any traffic: Switchyard ${mib(s.atStartMiB)} MiB at start (RssAnon ${mib(s.atStartAnonMiB)} + RssFile ${mib(s.atStartFileMiB)} MiB); settled RSS not measured.`);
  else {
    out.push(`Idle RSS, before any traffic: Switchyard ${mib(s.atStartMiB)} MiB at start → ${b(`${mib(s.settledMiB)} MiB`)} ${when(s)} (${split(s)}).`);
    if (!s.settled && !fell(s)) out.push(`V8's memory reducer had not released the start-up young generation yet, so this is not the settled figure (it can take up to ~100 s; \`--idle-s 120\` waits longer).`);
  }
  const n = i.bareNode;
  if (n?.settledMiB != null) {
    // The difference means something only once Switchyard's young generation has been released.
    const dropped = s.settledMiB !== null && (s.settled || fell(s));
    out.push(
      `A bare Node HTTP server on the same core: ${mib(n.settledMiB)} MiB ${n.settled ? `settled after ${n.settledAfterS} s` : `at ${n.readingAtS} s`} (${split(n)})` +
        (dropped ? `; Switchyard holds ${mib(s.settledMiB - n.settledMiB)} MiB more than Node itself (${mib(s.anonMiB - n.anonMiB)} anonymous, ${mib(s.fileMiB - n.fileMiB)} file-backed).` : '.'),
    );
  }
  const d = i.dependencyFloor;
  if (d?.settledMiB != null) {
    out.push(
      `Node with only the libraries Switchyard's request path stands on (an HTTP server, undici's agent and its WebAssembly parser, SQLite in WAL mode, node:crypto; \`bench/idle-deps.mjs\`), idle: ${mib(d.atStartMiB)} MiB at start → ${mib(d.settledMiB)} MiB ${when(d)} (${split(d)})` +
        (s.settledMiB !== null && (s.settled || fell(s)) ? `; Switchyard's settled reading is ${mib(s.settledMiB - d.settledMiB)} MiB above this one (V8 may not have released the floor's start-up young generation yet: compare RssAnon).` : '.'),
    );
  }
  const p = i.portkey;
  if (p) out.push(`Portkey: ${mib(p.atStartMiB)} MiB at start → ${p.settledMiB === null ? '–' : `${mib(p.settledMiB)} MiB ${when(p)} (${split(p)})`}.`);
  const bl = i.baseline;
  if (bl) out.push(`Switchyard at the baseline \`${bl.commit}\`, started alongside: ${mib(bl.atStartMiB)} MiB at start → ${bl.settledMiB === null ? '–' : `${mib(bl.settledMiB)} MiB ${when(bl)} (${split(bl)})`}.`);
  if (r.switchyardRssAfterMatrixMiB !== undefined) out.push(`Switchyard after the matrix: ${r.switchyardRssAfterMatrixMiB} MiB.`);
  out.push(`RssFile is mostly the node binary's own pages, shared with every Node process on the machine.${s.settledMiB !== null ? ` (${i.rule}.)` : ''}`);
  return out.join(' ');
}

/** Rows of the multi-core scaling section (also printed by run.mjs), or a "not available" line. */
export function workersSection(r) {
  const w = r.workersScaling;
  if (!w) return null;
  if (!w.available) return { text: `\`serve --workers 1\` vs \`--workers 2\`: not available: ${w.reason ?? 'unknown reason'}.`, headers: null, rows: [] };
  const headers = ['mode', '--workers 1 req/s', '--workers 2 req/s', 'ratio', 'CPU µs/req (1 / 2)', 'cores busy (1 / 2)', 'failures (1 / 2)', 'other load'];
  const fails = (x) => x.failures.non2xx + (x.failures.badBody ?? 0) + x.failures.errors + x.failures.timeouts;
  const rows = Object.entries(w.modes).map(([mode, m]) => [
    mode === 'stream' ? 'streaming' : 'non-streaming',
    fmtInt(m.workers1.rps),
    fmtInt(m.workers2.rps),
    `${fmt(m.ratio, 2)}×`,
    `${fmt(m.workers1.cpuUsPerRequest, 0)} / ${fmt(m.workers2.cpuUsPerRequest, 0)}`,
    `${fmt(m.workers1.coresBusy, 2)} / ${fmt(m.workers2.coresBusy, 2)}`,
    `${fails(m.workers1)} / ${fails(m.workers2)}`,
    m.backgroundCpuPct !== undefined ? `${fmt(m.backgroundCpuPct, 0)}%` : '–',
  ]);
  const text =
    `\`switchyard serve --workers 1\` vs \`--workers 2\` on cores ${w.cores}, autocannon at c=${w.concurrency}, ${w.rounds} alternating rounds of ${w.secondsPerSlice} s per instance and mode after a warm-up. ` +
    `CPU per request and cores busy are summed over the primary and its workers (/proc/<pid>/stat of the process tree). ` +
    `On this ${r.machine?.cores ?? '?'}-core machine the load driver and the mock upstream share the same cores as the workers, so the ratio understates scaling.`;
  return { text, headers, rows };
}

/** The front doors of one build: the matrix's target name for each wire. */
export const DOOR_TARGETS = [
  ['switchyard', 'chat'],
  ['switchyard-messages', 'messages'],
  ['switchyard-responses', 'responses'],
  ['switchyard-responses-stored', 'responses-stored'],
];

/** Failed requests of one target in one cell (every kind counted by the driver). */
export function failureCount(x) {
  const f = x?.failures;
  if (!f) return null;
  return f.latencyErrors + f.latencyNon2xx + f.latencyBadBody + f.autocannonNon2xx + (f.autocannonBadBody ?? 0) + f.autocannonErrors + f.autocannonTimeouts;
}

const pctText = (x) => (x === null || x === undefined ? '–' : `${x > 0 ? '+' : ''}${fmt(x, 1)}%`);
/** A latency change: milliseconds, and the share of "before" when that is positive. */
const msDelta = (ms, pct) => (ms === null || ms === undefined ? '–' : `${ms > 0 ? '+' : ''}${fmt(ms)} ms${pct === null || pct === undefined ? '' : ` (${pctText(pct)})`}`);

/**
 * The other front doors next to chat completions (also printed by run.mjs): one table per mode, a
 * row per concurrency and door, from the same cells and rounds as the main tables. "Over chat" is
 * the door minus chat completions of the same build in the same cell: what its wire costs. `b`
 * wraps the headline figures (Markdown bold). [] when the run measured chat completions only.
 */
export function ingressSections(r, b = (x) => x) {
  const out = [];
  if (!r.matrix?.some((c) => DOOR_TARGETS.some(([name, w]) => w !== 'chat' && c.results[name]))) return out;
  for (const mode of ['nonstream', 'stream']) {
    const cells = r.matrix.filter((c) => c.mode === mode);
    if (!cells.length) continue;
    const rows = [];
    for (const c of cells) {
      for (const [name, door] of DOOR_TARGETS) {
        const x = c.results[name];
        if (!x) continue;
        const o = x.overChat;
        const row = [String(c.concurrency), door, b(fmt(x.added?.p50Ms)), b(fmt(x.added?.p99Ms)), o ? fmt(o.p50Ms) : '', o ? fmt(o.p99Ms) : '', fmtInt(x.rps), o?.rpsRatio != null ? pctText((o.rpsRatio - 1) * 100) : ''];
        if (mode === 'stream') row.push(fmt(x.added?.ttfbP50Ms), fmt(x.added?.ttftP50Ms), o ? fmt(o.ttftP50Ms) : '');
        row.push(x.cpuUsPerRequest !== undefined ? fmt(x.cpuUsPerRequest, 0) : '', x.coreUtilisation !== undefined ? `${Math.round(x.coreUtilisation * 100)}%` : '', x.peakRssMiB !== undefined ? fmt(x.peakRssMiB, 1) : '', String(failureCount(x) ?? '–'));
        rows.push(row);
      }
    }
    const headers = ['c', 'front door', 'added p50', 'added p99', 'over chat p50', 'over chat p99', 'req/s', 'req/s vs chat'];
    if (mode === 'stream') headers.push('added TTFB', 'added first text', 'first text over chat');
    headers.push('CPU µs/req', 'core busy', 'peak RSS MiB', 'failures');
    const title =
      mode === 'stream'
        ? `Front doors, streaming (${r.config.mock.chunks} content chunks upstream; chat: \`data: [DONE]\`, messages: \`message_stop\`, responses: \`response.completed\`)`
        : 'Front doors, non-streaming (chat: chat.completion, messages: message, responses: response)';
    out.push({ mode, title, headers, rows });
  }
  return out;
}

/** One sentence on how the front doors were measured (the Markdown report and the console). */
export function ingressNote(r) {
  const missing = Object.entries(r.ingress ?? {}).filter(([, x]) => x.available === false);
  return (
    'Each front door is its own Switchyard process of the same build on the routers\' core, a target of every cell like the others (same rounds, same direct upstream calls); ' +
    '"added" is through that door minus the mock called directly, "over chat" the door minus chat completions in the same cell, "first text" the first text delta of the wire (`content_block_delta`, `response.output_text.delta`). ' +
    'Every response is checked complete in its wire; incomplete ones count as failures and are left out of the figures.' +
    missing.map(([w, x]) => ` ${w}: ${x.reason}.`).join('')
  );
}

/** The store figures per driver (bench/sqlite-store.mjs) and the matrix cells of both Switchyards (--sqlite-drivers). */
export function sqliteDriversSections(r) {
  const d = r.sqliteDrivers;
  if (!d) return [];
  const out = [];
  const spread = (x, digits = 0) => (x ? `${fmt(x.median, digits)} (${fmt(x.min, digits)}–${fmt(x.max, digits)})` : '–');
  if (d.store) {
    const rows = d.store.metrics.map((m) => [m.label, spread(m.node, m.digits), spread(m['better-sqlite3'], m.digits), m.ratio ? `${fmt(m.ratio.median, 2)} (${fmt(m.ratio.min, 2)}–${fmt(m.ratio.max, 2)})` : '–']);
    out.push({
      title: `SQLite store, node:sqlite vs better-sqlite3 (${d.store.rounds} rounds, both drivers in every round, order alternating; median (min–max); ratio: node ÷ better-sqlite3 per round; other load on the machine per round: ${d.store.backgroundCpuPct.map((x) => `${fmt(x, 0)}%`).join(', ')})`,
      headers: ['', 'node:sqlite', 'better-sqlite3', 'ratio'],
      rows,
    });
  }
  const cells = (r.matrix ?? []).filter((c) => c.results.switchyard && c.results['better-sqlite3']);
  if (cells.length) {
    const rows = cells.map((c) => {
      const n = c.results.switchyard;
      const b = c.results['better-sqlite3'];
      return [
        `${c.mode === 'stream' ? 'streaming' : 'non-streaming'} c=${c.concurrency}`,
        `${fmt(n.added?.p50Ms)} / ${fmt(b.added?.p50Ms)}`,
        `${fmt(n.added?.p99Ms)} / ${fmt(b.added?.p99Ms)}`,
        `${fmtInt(n.rps)} / ${fmtInt(b.rps)}`,
        `${fmt(n.cpuUsPerRequest, 0)} / ${fmt(b.cpuUsPerRequest, 0)}`,
        `${fmt(n.peakRssMiB, 1)} / ${fmt(b.peakRssMiB, 1)}`,
        `${fmt(c.backgroundCpuPct, 0)}%`,
      ];
    });
    out.push({
      title: 'Request path, node:sqlite / better-sqlite3 (two Switchyards of the same build, same cells and rounds, records on)',
      headers: ['cell', 'added p50 ms', 'added p99 ms', 'req/s', 'CPU µs/req', 'peak RSS MiB', 'other load'],
      rows,
    });
  }
  return out;
}

/**
 * Before vs after (`--baseline <ref>`; also printed by run.mjs): each front door of the baseline
 * build and of the current tree, same cells, same rounds. Δ is (now − before) / |before|.
 */
export function baselineSection(r) {
  const bl = r.baseline;
  const pairs = DOOR_TARGETS.map(([name, door]) => [name, door === 'chat' ? 'baseline' : `baseline-${door}`, door]);
  if (!bl || !r.matrix?.some((c) => pairs.some(([, base]) => c.results[base]))) return null;
  const now = `${r.machine?.switchyardCommit ?? 'now'}${r.machine?.switchyardSrcDirty ? '+' : ''}`;
  const headers = ['cell', 'front door', `added p50 ${bl.short}`, `added p50 ${now}`, 'Δ', `added p99 ${bl.short}`, `added p99 ${now}`, 'Δ', `req/s ${bl.short}`, `req/s ${now}`, 'Δ', `CPU µs/req ${bl.short}`, `CPU µs/req ${now}`, 'Δ', 'CPU Δ per round', 'failures'];
  const rows = [];
  for (const c of r.matrix) {
    for (const [name, base, door] of pairs) {
      const a = c.results[base];
      const x = c.results[name];
      if (!a || !x) continue;
      const v = x.vsBaseline ?? {};
      rows.push([
        `${c.mode === 'stream' ? 'streaming' : 'non-streaming'} c=${c.concurrency}`,
        door,
        fmt(a.added?.p50Ms),
        fmt(x.added?.p50Ms),
        msDelta(v.minus?.p50Ms, v.addedP50Pct),
        fmt(a.added?.p99Ms),
        fmt(x.added?.p99Ms),
        msDelta(v.minus?.p99Ms, v.addedP99Pct),
        fmtInt(a.rps),
        fmtInt(x.rps),
        pctText(v.rpsPct),
        fmt(a.cpuUsPerRequest, 0),
        fmt(x.cpuUsPerRequest, 0),
        pctText(v.cpuUsPerRequestPct),
        (v.cpuUsPerRequestPctPerRound ?? []).map(pctText).join(', ') || '–',
        `${failureCount(a)} / ${failureCount(x)}`,
      ]);
    }
  }
  const text =
    `Before vs after: Switchyard at \`${bl.short}\` (\`--baseline ${bl.ref}\`: "${bl.subject}") against the current tree (\`${now}\`${r.machine?.switchyardSrcDirty ? ', with uncommitted src/ changes' : ''}), ` +
    `both built in this run, each front door its own process, measured in the same rounds of every cell, alternating with the other targets. ` +
    `Δ: now − before, and as a share of before (latencies: only where before is above zero); lower is better for added latency and CPU, higher for req/s. "CPU Δ per round" is the same change in each round on its own (both builds measured within seconds of each other): its spread is the noise. Added latencies of a fraction of a millisecond (c=1) move by tens of percent from run to run; req/s and CPU per request carry better. ` +
    `Baseline node_modules: ${bl.nodeModules}.`;
  return { text, headers, rows };
}

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
  const targets = ['floor', 'switchyard', ...(r.peers ?? [])];
  const hasFloor = r.matrix.some((c) => c.results.floor);
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
          ...(hasFloor ? [x.addedOverFloor ? fmt(x.addedOverFloor.p50Ms) : '', x.addedOverFloor ? fmt(x.addedOverFloor.p99Ms) : ''] : []),
          fmtInt(x.rps),
        ];
        if (mode === 'stream') row.push(fmt(x.ttfbMs?.p50), x.added ? fmt(x.added.ttfbP50Ms) : '', fmt(x.ttftMs?.p50), x.added ? fmt(x.added.ttftP50Ms) : '');
        row.push(x.cpuUsPerRequest !== undefined ? fmt(x.cpuUsPerRequest, 0) : '', x.coreUtilisation !== undefined ? `${Math.round(x.coreUtilisation * 100)}%` : '', x.peakRssMiB !== undefined ? fmt(x.peakRssMiB, 1) : '', name === 'direct' ? `${fmt(c.backgroundCpuPct, 0)}%` : '');
        rows.push(row);
      }
    }
    const headers = ['c', 'target', 'p50 ms', 'p99 ms', 'added p50', 'added p99', ...(hasFloor ? ['over floor p50', 'over floor p99'] : []), 'req/s'];
    if (mode === 'stream') headers.push('TTFB p50', 'added TTFB', 'first data p50', 'added first data');
    headers.push('CPU µs/req', 'core busy', 'peak RSS MiB', 'other load');
    out.push(`\n**${mode === 'stream' ? `Streaming (${r.config.mock.chunks} content chunks)` : 'Non-streaming'}**\n`);
    out.push(mdTable(headers, rows, 'll'));
  }
  if (hasFloor) {
    out.push(
      '\n"floor" is a minimal Node reverse proxy (bench/floor-proxy.mjs: node:http in, undici out, one JSON parse and stringify each way, SSE piped through) on the same core as the routers: its "added" columns are what any Node proxy pays on this machine. "Over floor" is the router minus the floor, from the same cell.',
    );
  }
  const doorTables = ingressSections(r, (x) => `**${x}**`);
  for (const t of doorTables) {
    out.push(`\n**${t.title}**\n`);
    out.push(mdTable(t.headers, t.rows, 'll'));
  }
  if (doorTables.length) out.push(`\n${ingressNote(r)}`);
  const before = baselineSection(r);
  if (before) {
    out.push(`\n**Before vs after**\n\n${before.text}\n`);
    out.push(mdTable(before.headers, before.rows, 'll'));
  }
  for (const t of sqliteDriversSections(r)) {
    out.push(`\n**${t.title}**\n`);
    out.push(mdTable(t.headers, t.rows));
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
    out.push(`\n**Memory per open stream** (slow streams: first chunk at once, then one chunk every ${r.config.slowIntervalMs} ms; RSS and live heap read after a full GC, before, with half and with all the streams open)\n`);
    out.push(
      mdTable(
        ['target', 'streams', 'with content', 'no response yet', 'upstream streams', 'RSS before MiB', 'RSS open MiB', 'KiB per stream (RSS, all n)', 'KiB per stream added (RSS, 2nd half)', 'KiB per stream (live heap)', 'RSS after close MiB'],
        r.memory.map((x) => [x.promptKiB ? `${x.target}, ${x.promptKiB} KiB prompt` : x.target, fmtInt(x.n), fmtInt(x.streamsWithContent), fmtInt(x.clientConnectionsWithoutResponse), fmtInt(x.upstreamStreamsOpen), fmt(x.rssBeforeMiB, 1), fmt(x.rssOpenMiB, 1), fmt(x.kibPerOpenConnection, 1), `**${fmt(x.marginalKibPerStream, 1)}**`, fmt(x.liveHeapKibPerConnection, 1), fmt(x.rssAfterCloseMiB, 1)]),
      ),
    );
    // The same note (e.g. the open-file limit) applies to every target run at that count: once.
    for (const note of new Set(r.memory.map((x) => x.note).filter(Boolean))) out.push(`\nNote: ${note}.`);
  }
  const idle = idleSummary(r, (x) => `**${x}**`);
  if (idle) out.push(`\n${idle}`);
  const w = workersSection(r);
  if (w) {
    out.push(`\n**Multi-core scaling**\n\n${w.text}`);
    if (w.headers) out.push(`\n${mdTable(w.headers, w.rows)}`);
  }
  if (r.soak) {
    // Files written before the second-half figures existed get them from their own samples.
    const k = r.soak.rssGrowthSecondHalfMiB === undefined ? summariseSoak(r.soak.minutes, r.soak.concurrency, r.soak.requests, r.soak.samples) : r.soak;
    out.push(
      `\n**Soak**: ${k.minutes} min at c=${k.concurrency} (10 s non-streaming and streaming autocannon slices alternating), ${fmtInt(k.requests)} requests. ` +
        `After a full GC (once a minute): RSS ${k.rssAfterGcFirstMinuteMiB} MiB at minute 1 → ${k.rssAfterGcEndMiB} MiB at the end (${k.rssSlopeMiBPerMinute} MiB/min)` +
        (k.rssGrowthSecondHalfMiB != null ? `, of which ${k.rssGrowthSecondHalfMiB} MiB in the second half (${k.rssSlopeSecondHalfMiBPerMinute} MiB/min)` : '') +
        '; ' +
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
