// Stacked bar charts over time, drawn by uPlot (canvas; about 50 KB, no dependencies).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';

export const PALETTE = ['#4f46e5', '#0ea5e9', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#ec4899', '#94a3b8'];

export interface StackedSeries {
  label: string;
  values: number[];
}

/**
 * One bar per time bucket (`times`: epoch seconds), the series stacked in the given order. uPlot
 * draws every series from zero, so each is given its running total and drawn from the tallest down;
 * the legend still shows each series' own value.
 */
export function StackedBars({ times, series, format, height = 220 }: { times: number[]; series: StackedSeries[]; format: (v: number) => string; height?: number }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const totals: number[][] = [];
    let running = times.map(() => 0);
    for (const s of series) {
      running = running.map((v, i) => v + (s.values[i] ?? 0));
      totals.push(running);
    }
    // Drawn tallest first, so every smaller stack stays visible on top of it.
    const order = series.map((_, i) => i).reverse();
    const bucketSeconds = times.length > 1 ? times[1] - times[0] : 3600;
    const bars = uPlot.paths.bars!({ size: [0.8, 48], align: 0 });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      padding: [12, 8, 0, 4],
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      // The legend is drawn below, with each series' total (uPlot's own shows values under the cursor only).
      legend: { show: false },
      scales: { x: { time: true, range: () => [times[0] - bucketSeconds / 2, times[times.length - 1] + bucketSeconds / 2] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: '#64748b', grid: { show: false }, ticks: { stroke: '#e2e8f0' } },
        { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { show: false }, size: 64, values: (_u, splits) => splits.map(format) },
      ],
      series: [
        { value: (_u, v) => (v === null ? '—' : new Date(v * 1000).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })) },
        ...order.map((i) => ({
          label: series[i].label,
          stroke: PALETTE[i % PALETTE.length],
          fill: PALETTE[i % PALETTE.length] + 'd9',
          width: 0,
          paths: bars,
          points: { show: false },
          value: (_u: uPlot, _v: number | null, _s: number, idx: number | null) => (idx === null ? '—' : format(series[i].values[idx] ?? 0)),
        })),
      ],
    };
    // A tooltip under the cursor: the bucket's time and each series' own value.
    const tip = document.createElement('div');
    tip.className = 'chart-tip';
    opts.hooks = {
      setCursor: [
        (u) => {
          const idx = u.cursor.idx;
          const left = u.cursor.left ?? -1;
          if (idx === null || idx === undefined || left < 0) {
            tip.hidden = true;
            return;
          }
          tip.replaceChildren();
          const head = document.createElement('div');
          head.className = 'chart-tip-head';
          head.textContent = new Date(times[idx] * 1000).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
          tip.append(head);
          series.forEach((s, i) => {
            const row = document.createElement('div');
            const swatch = document.createElement('span');
            swatch.className = 'swatch';
            swatch.style.background = PALETTE[i % PALETTE.length];
            row.append(swatch, `${s.label} `, Object.assign(document.createElement('b'), { textContent: format(s.values[idx] ?? 0) }));
            tip.append(row);
          });
          tip.hidden = false;
          const plotLeft = u.over.offsetLeft;
          const x = plotLeft + left;
          // Right of the cursor, or left of it where the right side has no room.
          const right = x + 12 + tip.offsetWidth <= el.clientWidth;
          tip.style.left = `${Math.max(0, right ? x + 12 : x - 12 - tip.offsetWidth)}px`;
          tip.style.top = `${u.over.offsetTop + 8}px`;
        },
      ],
    };
    const data: uPlot.AlignedData = [times, ...order.map((i) => totals[i])];
    const plot = new uPlot(opts, data, el);
    tip.hidden = true;
    el.append(tip);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
      tip.remove();
    };
  }, [times, series, format, height]);
  return (
    <>
      <div class="chart" ref={host} />
      <ul class="legend">
        {series.map((s, i) => (
          <li key={s.label}>
            <span class="swatch" style={{ background: PALETTE[i % PALETTE.length] }} />
            {s.label}
            <span class="muted">{format(s.values.reduce((a, b) => a + b, 0))}</span>
          </li>
        ))}
      </ul>
    </>
  );
}
