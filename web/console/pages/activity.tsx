// Activity: the latest generations, newest first, followed live; a generation's routing explanation.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, query, type ApiKey, type GenerationDetail, type GenerationItem, type GenerationPage, type UsageRow } from '../api';
import { ago, dateTime, int, modelShort, ms, shortTime, usd } from '../format';
import { Empty, ErrorBox, Modal, OutcomeBadge, PageHeader, Spinner, StatusBadge } from '../ui';

const RANGES: Record<string, number | null> = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000, all: null };
const RANGE_LABELS: Record<string, string> = { '15m': 'Last 15 minutes', '1h': 'Last hour', '24h': 'Last 24 hours', '7d': 'Last 7 days', '30d': 'Last 30 days', all: 'All time', custom: 'Custom…' };
const STATUSES: [string, string][] = [
  ['', 'Any status'],
  ['ok', 'Succeeded'],
  ['error', 'Failed (4xx, 5xx)'],
  ['4xx', '4xx'],
  ['429', '429 rate limited'],
  ['5xx', '5xx'],
  ['cancelled', 'Cancelled'],
];
const POLL_MS = 3000;
const PAGE = 50;

interface Filters {
  key: string;
  model: string;
  provider: string;
  status: string;
  range: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { key: '', model: '', provider: '', status: '', range: '24h', from: '', to: '' };

function filtersFromUrl(): Filters {
  const q = new URLSearchParams(location.search);
  const f = { ...EMPTY };
  for (const k of Object.keys(f) as (keyof Filters)[]) f[k] = q.get(k) ?? f[k];
  return f;
}

function apiQuery(f: Filters, cursor?: string | null): string {
  const span = RANGES[f.range];
  const local = (v: string) => (v ? new Date(v).toISOString() : null);
  return query({
    key: f.key,
    model: f.model,
    provider: f.provider,
    status: f.status,
    from: f.range === 'custom' ? local(f.from) : span ? new Date(Date.now() - span).toISOString() : null,
    to: f.range === 'custom' ? local(f.to) : null,
    limit: PAGE,
    cursor,
  });
}

export function Activity({ genId, navigate, canManage }: { genId: string | null; navigate: (path: string) => void; canManage: boolean }) {
  const [filters, setFilters] = useState<Filters>(filtersFromUrl);
  const [items, setItems] = useState<GenerationItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(true);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [, setTick] = useState(0);
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const seen = useRef<Set<string>>(new Set());
  const generation = useRef(0);
  const resetting = useRef(false);

  // The filters live in the address, so a filtered view can be shared or reloaded.
  useEffect(() => {
    const q = query({ ...filters, range: filters.range === EMPTY.range ? '' : filters.range });
    history.replaceState(null, '', location.pathname + q);
  }, [filters]);

  const refresh = useCallback(
    async (reset: boolean) => {
      // A poll never overtakes a reload: its answer would be for the filters before.
      if (!reset && resetting.current) return;
      const mine = reset ? ++generation.current : generation.current;
      if (reset) resetting.current = true;
      try {
        const page = await api<GenerationPage>(`/generations${apiQuery(filters)}`);
        if (mine !== generation.current) return;
        setError(null);
        setLoading(false);
        if (reset) {
          seen.current = new Set(page.data.map((g) => g.id));
          setItems(page.data);
          setCursor(page.next_cursor);
          setFresh(new Set());
          return;
        }
        const arrived = page.data.filter((g) => !seen.current.has(g.id));
        if (arrived.length === 0) {
          setTick((t) => t + 1); // "12s ago" moves on
          return;
        }
        for (const g of arrived) seen.current.add(g.id);
        setFresh(new Set(arrived.map((g) => g.id)));
        if (arrived.length === page.data.length && page.has_more) {
          // More arrived than one page holds: start over from this page.
          setItems(page.data);
          setCursor(page.next_cursor);
        } else {
          setItems((prev) => [...arrived, ...prev]);
        }
      } catch (e) {
        if (mine === generation.current) {
          setError((e as Error).message);
          setLoading(false);
        }
      } finally {
        if (reset && mine === generation.current) resetting.current = false;
      }
    },
    [filters],
  );

  useEffect(() => {
    setLoading(true);
    void refresh(true);
  }, [refresh]);
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => document.visibilityState === 'visible' && void refresh(false), POLL_MS);
    return () => clearInterval(timer);
  }, [refresh, live]);

  const more = async () => {
    if (!cursor) return;
    try {
      const page = await api<GenerationPage>(`/generations${apiQuery(filters, cursor)}`);
      for (const g of page.data) seen.current.add(g.id);
      setItems((prev) => [...prev, ...page.data.filter((g) => !prev.some((p) => p.id === g.id))]);
      setCursor(page.next_cursor);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  // Records carry the key's masked label; the key list gives its name.
  useEffect(() => {
    if (canManage) api<{ data: ApiKey[] }>('/keys?include_disabled=true').then((r) => setKeys(r.data), () => undefined);
  }, [canManage]);
  const keyNames = useMemo(() => new Map(keys.map((k) => [k.hash, k.name])), [keys]);

  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));
  const filtered = Object.entries(filters).some(([k, v]) => v !== EMPTY[k as keyof Filters]);
  const open = (id: string) => navigate(`/activity/${encodeURIComponent(id)}${location.search}`);
  const selected = genId ? items.find((g) => g.id === genId) : undefined;

  return (
    <section>
      <PageHeader title="Activity" subtitle="Every generation through this gateway, newest first.">
        <label class={`live-toggle${live ? ' on' : ''}`}>
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} />
          <span class="live-dot" />
          {live ? 'Live' : 'Paused'}
        </label>
      </PageHeader>
      <FilterBar filters={filters} set={set} keys={keys} clear={filtered ? () => setFilters({ ...EMPTY }) : null} />
      <ErrorBox error={error} />
      {loading ? (
        <div class="card pad center">
          <Spinner />
        </div>
      ) : items.length === 0 ? (
        <div class="card">
          <Empty>{filtered ? 'No generation matches these filters.' : 'No generations yet. Requests made through this gateway appear here as they end.'}</Empty>
        </div>
      ) : (
        <div class="card flush">
          <table class="table activity-table">
            <thead>
              <tr>
                <th>Time</th>
                <th>Key</th>
                <th>Model</th>
                <th>Provider</th>
                <th>Status</th>
                <th class="num">Tokens</th>
                <th class="num">Cost</th>
                <th class="num">Latency</th>
                <th class="num">TTFT</th>
              </tr>
            </thead>
            <tbody>
              {items.map((g) => (
                <tr key={g.id} class={`clickable${fresh.has(g.id) ? ' fresh' : ''}`} onClick={() => open(g.id)} data-id={g.id} tabIndex={0} onKeyDown={(e) => e.key === 'Enter' && open(g.id)}>
                  <td data-label="Time" title={dateTime(g.created_at)}>
                    <span class="time">{shortTime(g.created_at)}</span>
                    <span class="muted small ago">{ago(g.created_at)}</span>
                  </td>
                  <td data-label="Key" title={g.api_key ?? undefined}>
                    {g.api_key_hash && keyNames.has(g.api_key_hash) ? keyNames.get(g.api_key_hash) : g.api_key ? <span class="mono-cell">{g.api_key}</span> : <span class="muted">anonymous</span>}
                  </td>
                  <td data-label="Model" title={g.model ?? g.requested_model ?? ''}>
                    <span class="model">{modelShort(g.model ?? g.requested_model)}</span>
                    {g.api !== 'chat_completions' && <span class="tag">{g.api}</span>}
                  </td>
                  <td data-label="Provider">
                    {g.provider_name ?? <span class="muted">none</span>}
                    {g.attempts.length > 1 && (
                      <span class="tag tag-warn" title={g.attempts.map((a) => `${a.endpoint}=${a.status}`).join(', ')}>
                        {g.attempts.length} attempts
                      </span>
                    )}
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={g.status} cancelled={g.cancelled} />
                  </td>
                  <td data-label="Tokens" class="num">
                    {g.tokens_prompt === null && g.tokens_completion === null ? '—' : `${int(g.tokens_prompt)} → ${int(g.tokens_completion)}`}
                  </td>
                  <td data-label="Cost" class="num">
                    {usd(g.total_cost)}
                  </td>
                  <td data-label="Latency" class="num">
                    {ms(g.latency)}
                  </td>
                  <td data-label="TTFT" class="num">
                    {ms(g.ttft)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {cursor && (
            <div class="table-foot">
              <button class="button" onClick={more}>
                Load older
              </button>
            </div>
          )}
        </div>
      )}
      {genId && <GenerationDrawer id={genId} summary={selected} keyName={selected?.api_key_hash ? keyNames.get(selected.api_key_hash) : undefined} onClose={() => navigate(`/activity${location.search}`)} />}
    </section>
  );
}

function FilterBar({ filters, set, clear, keys }: { filters: Filters; set: (p: Partial<Filters>) => void; clear: (() => void) | null; keys: ApiKey[] }) {
  const [models, setModels] = useState<string[]>([]);
  const [providers, setProviders] = useState<{ slug: string; name: string }[]>([]);
  useEffect(() => {
    api<{ data: UsageRow[] }>('/analytics/usage?group_by=model').then((r) => setModels(r.data.map((m) => m.model!).filter(Boolean)), () => undefined);
    api<{ data: { slug: string; name: string; enabled: boolean }[] }>('/providers').then((r) => setProviders(r.data.filter((p) => p.enabled)), () => undefined);
  }, []);
  // A text field that applies on Enter or when it loses focus, not at every keystroke.
  const text = (name: 'model', placeholder: string, list: string) => (
    <input
      class="input"
      name={name}
      aria-label={placeholder}
      list={list}
      placeholder={placeholder}
      value={filters[name]}
      onChange={(e) => set({ [name]: e.currentTarget.value.trim() })}
      onKeyDown={(e) => e.key === 'Enter' && set({ [name]: e.currentTarget.value.trim() })}
    />
  );
  return (
    <div class="filters card">
      {keys.length > 0 ? (
        <select class="input" name="key" aria-label="Key" value={filters.key} onChange={(e) => set({ key: e.currentTarget.value })}>
          <option value="">All keys</option>
          {keys.map((k) => (
            <option value={k.hash} key={k.hash}>
              {k.name} ({k.label})
            </option>
          ))}
        </select>
      ) : (
        <input class="input" name="key" aria-label="Key" placeholder="Key hash or label" value={filters.key} onChange={(e) => set({ key: e.currentTarget.value.trim() })} />
      )}
      {text('model', 'Model', 'models-seen')}
      <datalist id="models-seen">
        {models.map((m) => (
          <option value={m} key={m} />
        ))}
      </datalist>
      <select class="input" name="provider" aria-label="Provider" value={filters.provider} onChange={(e) => set({ provider: e.currentTarget.value })}>
        <option value="">All providers</option>
        {providers.map((p) => (
          <option value={p.slug} key={p.slug}>
            {p.name}
          </option>
        ))}
        {filters.provider && !providers.some((p) => p.slug === filters.provider) && <option value={filters.provider}>{filters.provider}</option>}
      </select>
      <select class="input" name="status" aria-label="Status" value={filters.status} onChange={(e) => set({ status: e.currentTarget.value })}>
        {STATUSES.map(([v, l]) => (
          <option value={v} key={v}>
            {l}
          </option>
        ))}
      </select>
      <select class="input" name="range" aria-label="Time range" value={filters.range} onChange={(e) => set({ range: e.currentTarget.value })}>
        {Object.entries(RANGE_LABELS).map(([v, l]) => (
          <option value={v} key={v}>
            {l}
          </option>
        ))}
      </select>
      {filters.range === 'custom' && (
        <>
          <input class="input" type="datetime-local" name="from" aria-label="From" value={filters.from} onChange={(e) => set({ from: e.currentTarget.value })} />
          <input class="input" type="datetime-local" name="to" aria-label="To" value={filters.to} onChange={(e) => set({ to: e.currentTarget.value })} />
        </>
      )}
      {clear && (
        <button class="button ghost" onClick={clear}>
          Clear filters
        </button>
      )}
    </div>
  );
}

function Fact({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="fact">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function GenerationDrawer({ id, summary, keyName, onClose }: { id: string; summary?: GenerationItem; keyName?: string; onClose: () => void }) {
  const [detail, setDetail] = useState<GenerationDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setDetail(null);
    setError(null);
    api<{ data: GenerationDetail }>(`/generation${query({ id })}`).then(
      (r) => setDetail(r.data),
      (e: Error) => setError(e.message),
    );
  }, [id]);
  const d = detail;
  const routing = useMemo(() => d?.routing ?? [], [d]);
  return (
    <Modal side title="Generation" onClose={onClose} label="Generation detail">
      <div class="gen-id mono">{id}</div>
      <ErrorBox error={error} />
      {!d && !error && (
        <div class="center pad">
          <Spinner />
        </div>
      )}
      {d && (
        <>
          <div class="gen-headline">
            <StatusBadge status={d.status} cancelled={d.cancelled} />
            <span class="model">{d.model}</span>
            <span class="muted">via {d.provider_name ?? 'no provider'}</span>
          </div>
          {d.error && <div class="error-box">{`${d.error.code}: ${d.error.message ?? ''}`}</div>}
          <dl class="facts">
            <Fact label="Time">{dateTime(d.created_at)}</Fact>
            <Fact label="Key">{keyName ? `${keyName} (${summary?.api_key})` : (summary?.api_key ?? (summary ? 'anonymous' : '—'))}</Fact>
            <Fact label="API">{d.api}</Fact>
            <Fact label="Requested model">{summary?.requested_model ?? d.model}</Fact>
            <Fact label="Tokens in / out">
              {int(d.tokens_prompt)} / {int(d.tokens_completion)}
            </Fact>
            <Fact label="Reasoning / cached">
              {int(d.native_tokens_reasoning)} / {int(d.native_tokens_cached)}
            </Fact>
            <Fact label="Cost">{usd(d.total_cost)}</Fact>
            <Fact label="Latency">{ms(d.latency)}</Fact>
            <Fact label="Time to first token">{ms(d.ttft)}</Fact>
            <Fact label="Generation time">{ms(d.generation_time)}</Fact>
            <Fact label="Finish">{d.finish_reason ?? '—'}</Fact>
            <Fact label="Streamed">{d.streamed ? 'yes' : 'no'}</Fact>
            {d.provider_key && <Fact label="Provider key">{d.provider_key}</Fact>}
            {d.session_id && <Fact label="Session">{d.session_id}</Fact>}
            {d.user_agent && <Fact label="User agent">{d.user_agent}</Fact>}
          </dl>
          <h3>Routing explanation</h3>
          <p class="muted small">Every endpoint considered for this request, in the order routing ranked them, and what happened to it.</p>
          {routing.length === 0 && <p class="muted">No endpoint was considered: the request was refused before routing{d.error ? ` (${d.error.code})` : ''}.</p>}
          <ol class="route">
            {routing.map((r, i) => (
              <li class={`route-step outcome-${r.outcome.replace(' ', '-')}`} key={i}>
                <div class="route-marker" />
                <div class="route-body">
                  <div class="route-title">
                    <OutcomeBadge outcome={r.outcome} />
                    <strong>{r.provider_name}</strong>
                    <span class="mono muted small">{r.endpoint}</span>
                    {r.status !== null && r.outcome !== 'skipped' && r.outcome !== 'not tried' && <span class="tag">HTTP {r.status}</span>}
                    {r.latency !== null && <span class="muted small">{ms(r.latency)}</span>}
                  </div>
                  <div class="route-meta small">
                    <span class="muted">{r.model}</span>
                    {r.key && <span class="muted"> · key {r.key}</span>}
                  </div>
                  {r.reason && <div class="route-reason small">{r.reason}</div>}
                </div>
              </li>
            ))}
          </ol>
          {d.provider_responses.length > 0 && (
            <>
              <h3>Upstream attempts</h3>
              <table class="table compact">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>Provider</th>
                    <th>Status</th>
                    <th class="num">Latency</th>
                  </tr>
                </thead>
                <tbody>
                  {d.provider_responses.map((a, i) => (
                    <tr key={i}>
                      <td>{i + 1}</td>
                      <td>
                        {a.provider_name} <span class="mono muted small">{a.endpoint_id}</span>
                        {a.key && <span class="muted small"> · {a.key}</span>}
                      </td>
                      <td>
                        <StatusBadge status={a.status} />
                      </td>
                      <td class="num">{ms(a.latency)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
          {d.notes.length > 0 && (
            <>
              <h3>Notes</h3>
              <ul class="notes">
                {d.notes.map((n, i) => (
                  <li key={i}>{n}</li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </Modal>
  );
}
