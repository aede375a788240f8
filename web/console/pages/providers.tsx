// Providers: each endpoint's uptime, latency and throughput percentiles and breaker state.
import { useMemo, useState } from 'preact/hooks';
import { api, type EndpointHealth } from '../api';
import { compact, int, modelShort, percent, perMillion } from '../format';
import { Empty, ErrorBox, PageHeader, Spinner, Stat, usePolling } from '../ui';

const POLL_MS = 10_000;

function health(ep: EndpointHealth): { label: string; tone: string; hint: string } {
  if (ep.status === -10) return { label: 'not configured', tone: 'faint', hint: 'No key for this provider here' };
  if (ep.breaker === 'open') return { label: 'breaker open', tone: 'bad', hint: 'Failing: tried last until a probe succeeds' };
  if (ep.breaker === 'half-open') return { label: 'probing', tone: 'warn', hint: 'Breaker half-open: one probe request at a time' };
  if (ep.status === -1) return { label: 'degraded', tone: 'warn', hint: 'Failed in the last 30 s: tried after healthy endpoints' };
  if (ep.requests_last_30m === 0 && ep.uptime_last_1d === null) return { label: 'no traffic', tone: 'muted', hint: 'Nothing measured yet' };
  return { label: 'healthy', tone: 'ok', hint: 'Breaker closed' };
}

const uptimeText = (v: number | null) => (v === null ? '—' : percent(v / 100));
const figure = (v: number) => compact(Math.round(v));

function Uptime({ v }: { v: number | null }) {
  if (v === null) return <span class="muted">—</span>;
  // Health reports uptime in percent.
  const p = v / 100;
  const tone = p >= 0.99 ? 'ok' : p >= 0.9 ? 'warn' : 'bad';
  return (
    <span class={`uptime uptime-${tone}`}>
      <span class="uptime-bar">
        <span style={{ width: `${Math.round(p * 100)}%` }} />
      </span>
      {percent(p)}
    </span>
  );
}

export function Providers() {
  const [endpoints, setEndpoints] = useState<EndpointHealth[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [all, setAll] = useState(false);
  usePolling(
    () =>
      api<{ data: EndpointHealth[] }>(`/endpoints/health${all ? '?all=true' : ''}`).then(
        (r) => {
          setEndpoints(r.data);
          setError(null);
        },
        (e: Error) => setError(e.message),
      ),
    POLL_MS,
    true,
    [all],
  );

  const byProvider = useMemo(() => {
    const groups = new Map<string, EndpointHealth[]>();
    for (const ep of endpoints ?? []) groups.set(ep.provider, [...(groups.get(ep.provider) ?? []), ep]);
    return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [endpoints]);
  const open = (endpoints ?? []).filter((e) => e.breaker !== 'closed').length;
  const degraded = (endpoints ?? []).filter((e) => e.status === -1).length;
  const requests = (endpoints ?? []).reduce((n, e) => n + e.requests_last_30m, 0);

  return (
    <section>
      <PageHeader title="Providers" subtitle="Live health of every endpoint, as routing sees it on this replica (refreshed every 10 s).">
        <label class="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} />
          Show unconfigured providers
        </label>
      </PageHeader>
      <ErrorBox error={error} />
      {!endpoints ? (
        !error && (
          <div class="card pad center">
            <Spinner />
          </div>
        )
      ) : (
        <>
          <div class="stats">
            <Stat label="Providers" value={int(byProvider.length)} />
            <Stat label="Endpoints" value={int(endpoints.length)} />
            <Stat label="Breakers open" value={int(open)} hint={degraded > 0 ? `${degraded} degraded` : 'none degraded'} />
            <Stat label="Requests, 30 min" value={int(requests)} />
          </div>
          {byProvider.length === 0 && (
            <div class="card">
              <Empty>No provider is configured. Set a provider key (e.g. GROQ_API_KEY) and restart.</Empty>
            </div>
          )}
          {byProvider.map(([slug, eps]) => {
            const worst = eps.some((e) => e.breaker === 'open') ? 'bad' : eps.some((e) => e.breaker === 'half-open' || e.status === -1) ? 'warn' : eps[0].status === -10 ? 'faint' : 'ok';
            return (
              <div class="card flush provider-card" key={slug} data-provider={slug}>
                <div class="provider-head">
                  <span class={`dot dot-${worst}`} />
                  <h2>{eps[0].provider_name}</h2>
                  <span class="mono muted small">{slug}</span>
                  <span class="muted small push">
                    {eps.length} endpoint{eps.length === 1 ? '' : 's'}
                  </span>
                </div>
                <table class="table providers-table">
                  <thead>
                    <tr>
                      <th>Model</th>
                      <th>State</th>
                      <th>Uptime 30m</th>
                      <th class="num">5m · 1d</th>
                      <th class="num" title="Time to first token over 30 minutes, milliseconds">TTFT p50 · p90 · p99</th>
                      <th class="num" title="Output tokens per second over 30 minutes">Tok/s p50 · p90</th>
                      <th class="num">Req. 30m</th>
                    </tr>
                  </thead>
                  <tbody>
                    {eps.map((ep) => {
                      const h = health(ep);
                      return (
                        <tr key={ep.model + ep.endpoint} data-endpoint={`${ep.model} ${ep.endpoint}`}>
                          <td data-label="Model" title={ep.model}>
                            <span class="model">{modelShort(ep.model)}</span>
                            {ep.tag !== ep.provider && <span class="tag">{ep.tag}</span>}
                            <div class="muted small" title="USD per million tokens, prompt · completion">
                              {ep.quantization && ep.quantization !== 'unknown' ? `${ep.quantization} · ` : ''}
                              {perMillion(ep.pricing.prompt)} · {perMillion(ep.pricing.completion)} /M
                            </div>
                          </td>
                          <td data-label="State">
                            <span class={`badge badge-${h.tone}`} title={h.hint}>
                              {h.label}
                            </span>
                          </td>
                          <td data-label="Uptime 30m">
                            <Uptime v={ep.uptime_last_30m} />
                          </td>
                          <td class="num" data-label="Uptime 5m · 1d">
                            {ep.uptime_last_5m === null && ep.uptime_last_1d === null ? '—' : `${uptimeText(ep.uptime_last_5m)} · ${uptimeText(ep.uptime_last_1d)}`}
                          </td>
                          <td class="num" data-label="TTFT ms">
                            {ep.latency_last_30m ? `${figure(ep.latency_last_30m.p50)} · ${figure(ep.latency_last_30m.p90)} · ${figure(ep.latency_last_30m.p99)} ms` : '—'}
                          </td>
                          <td class="num" data-label="Tokens/s">
                            {ep.throughput_last_30m ? `${figure(ep.throughput_last_30m.p50)} · ${figure(ep.throughput_last_30m.p90)}` : '—'}
                          </td>
                          <td class="num" data-label="Requests 30m">
                            {int(ep.requests_last_30m)}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            );
          })}
        </>
      )}
    </section>
  );
}
