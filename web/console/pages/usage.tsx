// Usage: cost, tokens and requests over time, split by model, provider or key.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, query, type ApiKey, type UsageRow } from '../api';
import { PALETTE, StackedBars, type StackedSeries } from '../chart';
import { compact, int, modelShort, percent, usd } from '../format';
import { Empty, ErrorBox, PageHeader, Spinner, Stat } from '../ui';

type Split = 'model' | 'provider' | 'key';
type Bucket = 'hour' | 'day';
const RANGES: Record<string, { ms: number; bucket: Bucket; label: string }> = {
  '24h': { ms: 86_400_000, bucket: 'hour', label: 'Last 24 hours' },
  '7d': { ms: 7 * 86_400_000, bucket: 'hour', label: 'Last 7 days' },
  '30d': { ms: 30 * 86_400_000, bucket: 'day', label: 'Last 30 days' },
  '90d': { ms: 90 * 86_400_000, bucket: 'day', label: 'Last 90 days' },
};
const money = (v: number) => usd(v);
const count = (v: number) => compact(v);
/** Groups drawn on their own; the rest are summed as "Other". */
const TOP = 7;

const groupOf = (r: UsageRow, split: Split): string => (split === 'key' ? (r.key ?? 'anonymous') : ((split === 'model' ? r.model : r.provider) ?? 'none'));
/** What a group is called: a key by its name when the key list is readable, else its masked label. */
const nameOf = (r: UsageRow | undefined, group: string, split: Split, keyNames: Map<string, string>): string =>
  split === 'key'
    ? (keyNames.get(group) ?? r?.label ?? (group === 'anonymous' ? 'anonymous' : group.slice(0, 10)))
    : split === 'provider'
      ? (r?.provider_name ?? group)
      : modelShort(group);

export function Usage({ canManage }: { canManage: boolean }) {
  const [range, setRange] = useState('24h');
  const [split, setSplit] = useState<Split>('model');
  const [series, setSeries] = useState<UsageRow[] | null>(null);
  const [totals, setTotals] = useState<UsageRow[] | null>(null);
  const [period, setPeriod] = useState<{ from: number; to: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { ms: span, bucket } = RANGES[range];
  const [keyNames, setKeyNames] = useState<Map<string, string>>(new Map());
  useEffect(() => {
    if (canManage) api<{ data: ApiKey[] }>('/keys?include_disabled=true').then((r) => setKeyNames(new Map(r.data.map((k) => [k.hash, k.name]))), () => undefined);
  }, [canManage]);

  useEffect(() => {
    const step = bucket === 'hour' ? 3_600_000 : 86_400_000;
    // Whole buckets: the first starts on a UTC hour or day boundary.
    const to = Date.now();
    const from = Math.floor((to - span) / step) * step + step;
    const q = (group: string) => query({ group_by: group, from: new Date(from).toISOString(), to: new Date(to).toISOString() });
    setError(null);
    Promise.all([api<{ data: UsageRow[] }>(`/analytics/usage${q(`${bucket},${split}`)}`), api<{ data: UsageRow[] }>(`/analytics/usage${q(split)}`)]).then(
      ([s, t]) => {
        setSeries(s.data);
        setTotals(t.data);
        setPeriod({ from, to });
      },
      (e: Error) => setError(e.message),
    );
  }, [range, split, span, bucket]);

  const chart = useMemo(() => {
    if (!series || !totals || !period) return null;
    const step = bucket === 'hour' ? 3_600_000 : 86_400_000;
    const times: number[] = [];
    for (let t = period.from; t <= period.to; t += step) times.push(t / 1000);
    const index = new Map(times.map((t, i) => [t, i]));
    const top = totals.slice(0, TOP).map((r) => groupOf(r, split));
    const hasOther = totals.length > TOP;
    const labels = [...top.map((g) => nameOf(totals.find((r) => groupOf(r, split) === g), g, split, keyNames)), ...(hasOther ? ['Other'] : [])];
    const make = (pick: (r: UsageRow) => number): StackedSeries[] => {
      const values = labels.map(() => times.map(() => 0));
      for (const r of series) {
        const at = index.get(Date.parse(bucket === 'hour' ? r.hour! : `${r.day}T00:00:00Z`) / 1000);
        if (at === undefined) continue;
        const g = top.indexOf(groupOf(r, split));
        values[g >= 0 ? g : labels.length - 1][at] += pick(r);
      }
      return labels.map((label, i) => ({ label, values: values[i] }));
    };
    return {
      times,
      cost: make((r) => r.cost),
      tokens: make((r) => r.prompt_tokens + r.completion_tokens),
      requests: make((r) => r.requests),
    };
  }, [series, totals, period, split, bucket, keyNames]);

  const sum = (pick: (r: UsageRow) => number) => (totals ?? []).reduce((n, r) => n + pick(r), 0);
  const requests = sum((r) => r.requests);
  const errors = sum((r) => r.errors);
  const cost = sum((r) => r.cost);
  const maxCost = Math.max(0, ...(totals ?? []).map((r) => r.cost));

  return (
    <section>
      <PageHeader title="Usage" subtitle="Spend, tokens and requests from the generation records.">
        <div class="segmented" role="group" aria-label="Split by">
          {(['model', 'provider', 'key'] as Split[]).map((s) => (
            <button class={split === s ? 'active' : ''} onClick={() => setSplit(s)} key={s}>
              By {s}
            </button>
          ))}
        </div>
        <select class="input" name="range" aria-label="Time range" value={range} onChange={(e) => setRange(e.currentTarget.value)}>
          {Object.entries(RANGES).map(([v, r]) => (
            <option value={v} key={v}>
              {r.label}
            </option>
          ))}
        </select>
      </PageHeader>
      <ErrorBox error={error} />
      {!totals || !chart ? (
        !error && (
          <div class="card pad center">
            <Spinner />
          </div>
        )
      ) : (
        <>
          <div class="stats">
            <Stat label="Requests" value={int(requests)} />
            <Stat label="Tokens" value={compact(sum((r) => r.prompt_tokens + r.completion_tokens))} hint={`${compact(sum((r) => r.prompt_tokens))} in · ${compact(sum((r) => r.completion_tokens))} out`} />
            <Stat label="Cost" value={usd(cost)} />
            <Stat label="Errors" value={int(errors)} hint={requests > 0 ? `${percent(errors / requests)} of requests` : undefined} />
          </div>
          {requests === 0 ? (
            <div class="card">
              <Empty>No requests in this period.</Empty>
            </div>
          ) : (
            <>
              <div class="chart-grid">
                <div class="card chart-card" data-chart="cost">
                  <h2>Cost</h2>
                  <StackedBars times={chart.times} series={chart.cost} format={money} />
                </div>
                <div class="card chart-card" data-chart="tokens">
                  <h2>Tokens</h2>
                  <StackedBars times={chart.times} series={chart.tokens} format={count} />
                </div>
                <div class="card chart-card" data-chart="requests">
                  <h2>Requests</h2>
                  <StackedBars times={chart.times} series={chart.requests} format={count} />
                </div>
              </div>
              <div class="card flush">
                <table class="table usage-table">
                  <thead>
                    <tr>
                      <th>{split === 'key' ? 'Key' : split === 'model' ? 'Model' : 'Provider'}</th>
                      <th class="num">Requests</th>
                      <th class="num">Tokens in</th>
                      <th class="num">Tokens out</th>
                      <th class="num">Errors</th>
                      <th class="num">Cost</th>
                      <th class="share-col">Share of cost</th>
                    </tr>
                  </thead>
                  <tbody>
                    {totals.map((r, i) => {
                      const g = groupOf(r, split);
                      return (
                        <tr key={g}>
                          <td data-label={split}>
                            <span class="swatch" style={{ background: PALETTE[Math.min(i, TOP) % PALETTE.length] }} />
                            <span title={g}>{split === 'model' ? g : nameOf(r, g, split, keyNames)}</span>
                          </td>
                          <td class="num" data-label="Requests">
                            {int(r.requests)}
                          </td>
                          <td class="num" data-label="Tokens in">
                            {int(r.prompt_tokens)}
                          </td>
                          <td class="num" data-label="Tokens out">
                            {int(r.completion_tokens)}
                          </td>
                          <td class="num" data-label="Errors">
                            {int(r.errors)}
                          </td>
                          <td class="num" data-label="Cost">
                            {usd(r.cost)}
                          </td>
                          <td class="share-col" data-label="Share">
                            <div class="share">
                              <div class="share-bar" style={{ width: `${maxCost > 0 ? (r.cost / maxCost) * 100 : 0}%` }} />
                            </div>
                            <span class="small muted">{cost > 0 ? percent(r.cost / cost) : '—'}</span>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </>
      )}
    </section>
  );
}
