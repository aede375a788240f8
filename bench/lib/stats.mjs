// Percentiles and number formatting.

export function summarise(samples) {
  if (!samples || samples.length === 0) return null;
  const s = Float64Array.from(samples).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  let sum = 0;
  for (const v of s) sum += v;
  return { n: s.length, mean: sum / s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: s[s.length - 1] };
}

export const round = (x, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

export function fmt(x, d = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return String(x);
  return x.toFixed(d);
}

export function fmtInt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return Math.round(x).toLocaleString('en-US');
}

/** Plain-text table with right-aligned numeric columns. */
export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Markdown table; `align` is one letter per column (l or r), default: first column left. */
export function mdTable(headers, rows, align = 'l') {
  const a = (i) => (align[i] ?? (i === 0 ? 'l' : 'r')) === 'l';
  const out = [`| ${headers.join(' | ')} |`, `| ${headers.map((_, i) => (a(i) ? '---' : '---:')).join(' | ')} |`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

/** Least-squares slope of [x, y] points; null with fewer than two distinct x. */
export function regression(points) {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

/**
 * Soak summary. Growth is read from the samples taken after a full GC (once a minute): RSS read
 * between collections swings by tens of MiB with the garbage present and would hide a trend.
 * The first minute (heap and caches growing to their working size) is excluded.
 */
export function summariseSoak(minutes, concurrency, requests, samples) {
  const gcd = samples.filter((x) => x.heapUsedAfterGcMiB !== undefined && x.s >= 60);
  const first = gcd[0];
  const last = gcd.at(-1);
  const loaded = samples.filter((x) => x.heapUsedAfterGcMiB === undefined && x.s >= 60).map((x) => x.rssMiB);
  // The second half on its own: growth that levels off (warm-up) shows here as ~0, a leak does not.
  const half = last ? gcd.filter((x) => x.s >= last.s / 2) : [];
  return {
    minutes,
    concurrency,
    requests,
    samples,
    rssAfterGcFirstMinuteMiB: first?.rssMiB ?? null,
    rssAfterGcEndMiB: last?.rssMiB ?? null,
    rssGrowthMiB: first && last ? round(last.rssMiB - first.rssMiB, 1) : null,
    rssSlopeMiBPerMinute: round(regression(gcd.map((x) => [x.s / 60, x.rssMiB])), 2),
    rssGrowthSecondHalfMiB: half.length > 1 ? round(half.at(-1).rssMiB - half[0].rssMiB, 1) : null,
    rssSlopeSecondHalfMiBPerMinute: half.length > 2 ? round(regression(half.map((x) => [x.s / 60, x.rssMiB])), 2) : null,
    rssUnderLoadMiB: loaded.length ? { min: Math.min(...loaded), max: Math.max(...loaded) } : null,
    liveHeapFirstMinuteMiB: first?.heapUsedAfterGcMiB ?? null,
    liveHeapEndMiB: last?.heapUsedAfterGcMiB ?? null,
    liveHeapGrowthMiB: first && last ? round(last.heapUsedAfterGcMiB - first.heapUsedAfterGcMiB, 1) : null,
    liveHeapBytesPerRequest: first && last && requests > 0 ? round(((last.heapUsedAfterGcMiB - first.heapUsedAfterGcMiB) * 2 ** 20) / requests, 2) : null,
  };
}
