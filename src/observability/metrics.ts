import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import type { Catalog } from '../catalog/load.js';
import type { ProviderRuntime } from '../config/load.js';
import type { IngressApi } from '../model/request.js';
import type { TokenUsage } from '../model/response.js';
import type { AttemptOutcome } from '../pipeline/observer.js';
import type { HealthTracker } from '../routing/health.js';
import { healthKey } from '../routing/select.js';

/**
 * The Prometheus series (prom-client, one registry per process; `--workers N` sums them in the
 * primary, cluster-metrics.ts). Names and labels are a contract for dashboards and alerts
 * (README, "Observability"). Every label value comes from the catalog or a fixed list: a model
 * the catalog does not know is `other`, a request no provider served has provider `none`.
 */

/** `api` label: the front door. */
export type ApiLabel = IngressApi;

export const OTHER_MODEL = 'other';
export const NO_PROVIDER = 'none';

/** Seconds: a generation takes from well under a second to minutes. */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300];
const TTFT_BUCKETS = [0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 4, 8, 15, 30, 60];

const require = createRequire(import.meta.url);

export interface RequestFacts {
  api: ApiLabel;
  model: string;
  provider: string;
  status: number;
  durationSeconds: number;
  ttftSeconds: number | null;
  usage: TokenUsage | null;
  costUsd: number;
  /** Served by another endpoint than its route's first: that first endpoint's model. */
  fallbackOf: string | null;
}

/** One histogram's buckets (non-cumulative counts; the last one is +Inf), sum and count. */
class Buckets {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }

  /** prom-client's values of a histogram: cumulative `_bucket`s with `le`, then `_sum` and `_count`. */
  export(name: string, labels: Record<string, string>, out: Prom.MetricValueWithName<string>[]): void {
    let acc = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      acc += this.counts[i];
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: i < this.bounds.length ? this.bounds[i] : '+Inf' }, value: acc });
    }
    out.push({ metricName: `${name}_sum`, labels, value: this.sum });
    out.push({ metricName: `${name}_count`, labels, value: this.count });
  }
}

/** What the requests of one (api, model, provider) added up to. */
class RequestCell {
  readonly labels: { api: string; model: string; provider: string };
  readonly statuses = new Map<number, number>();
  readonly duration = new Buckets(DURATION_BUCKETS);
  readonly ttft = new Buckets(TTFT_BUCKETS);

  constructor(api: string, model: string, provider: string) {
    this.labels = { api, model, provider };
  }
}

/** Tokens and cost of one (model, provider). */
class UsageCell {
  prompt = 0;
  completion = 0;
  reasoning = 0;
  cached = 0;
  cacheWrite = 0;
  cost = 0;

  constructor(
    readonly model: string,
    readonly provider: string,
  ) {}
}

type Value = Prom.MetricValueWithName<string>;

/**
 * The series. The request path only adds to plain numbers in cells found by their label values
 * (no label hashing, no label objects per request: a request costs well under a microsecond);
 * prom-client turns the cells into series when it is scraped, through metric objects registered
 * on its registry, and supplies the exposition format, the summing of workers and Node's process
 * metrics.
 */
export class Metrics {
  readonly registry: Prom.Registry;
  private openStreams = 0;
  /** api → model → provider → cell. */
  private readonly requests = new Map<string, Map<string, Map<string, RequestCell>>>();
  /** model → provider → cell. */
  private readonly usage = new Map<string, Map<string, UsageCell>>();
  /** provider → outcome → count. */
  private readonly attempts = new Map<string, Map<string, number>>();
  private readonly fallbacks = new Map<string, number>();
  private readonly refusals = { credits: 0, rate_limit: 0 };

  constructor(catalog: Catalog, providers: Map<string, ProviderRuntime>, health: HealthTracker) {
    // Loaded here, not at import: a process with metrics off never loads prom-client.
    const prom = require('prom-client') as typeof Prom;
    const registry = (this.registry = new prom.Registry());
    prom.collectDefaultMetrics({ register: registry });
    const add = (name: string, help: string, type: 'counter' | 'histogram', values: () => Value[]) => {
      // The shape prom-client's own metrics and its cluster aggregation register: get() → values.
      const metric = { name, help, type, aggregator: 'sum' as const, get: async () => ({ name, help, type, aggregator: 'sum' as const, values: values() }) };
      registry.registerMetric(metric as unknown as Prom.Metric);
    };
    add(
      'switchyard_requests_total',
      'Generation requests by front door, model, serving provider (none: nobody served) and the HTTP status the client got (499: the client left first).',
      'counter',
      () => this.eachRequestCell((c, out) => {
        for (const [status, n] of c.statuses) out.push({ labels: { ...c.labels, status: String(status) }, value: n });
      }),
    );
    add('switchyard_request_duration_seconds', 'Time from the start of a generation request to the end of its response.', 'histogram', () =>
      this.eachRequestCell((c, out) => c.duration.export('switchyard_request_duration_seconds', c.labels, out)),
    );
    add('switchyard_time_to_first_token_seconds', 'Time from the start of a generation request to the first content sent to the client.', 'histogram', () =>
      this.eachRequestCell((c, out) => {
        if (c.ttft.count > 0) c.ttft.export('switchyard_time_to_first_token_seconds', c.labels, out);
      }),
    );
    add(
      'switchyard_tokens_total',
      'Tokens of served generations: prompt (cached and cache writes included), completion (reasoning included), reasoning, cached, cache_write.',
      'counter',
      () => {
        const out: Value[] = [];
        for (const byProvider of this.usage.values()) {
          for (const u of byProvider.values()) {
            const labels = (type: string) => ({ model: u.model, provider: u.provider, type });
            out.push({ labels: labels('prompt'), value: u.prompt }, { labels: labels('completion'), value: u.completion });
            if (u.reasoning > 0) out.push({ labels: labels('reasoning'), value: u.reasoning });
            if (u.cached > 0) out.push({ labels: labels('cached'), value: u.cached });
            if (u.cacheWrite > 0) out.push({ labels: labels('cache_write'), value: u.cacheWrite });
          }
        }
        return out;
      },
    );
    add('switchyard_cost_usd_total', 'Cost charged for generations, USD.', 'counter', () => {
      const out: Value[] = [];
      for (const byProvider of this.usage.values()) for (const u of byProvider.values()) out.push({ labels: { model: u.model, provider: u.provider }, value: u.cost });
      return out;
    });
    add(
      'switchyard_upstream_attempts_total',
      'Upstream requests by provider and outcome (ok, rate_limited, server_error, client_error, timeout, connection_error, cancelled).',
      'counter',
      () => {
        const out: Value[] = [];
        for (const [provider, byOutcome] of this.attempts) for (const [outcome, n] of byOutcome) out.push({ labels: { provider, outcome }, value: n });
        return out;
      },
    );
    add('switchyard_fallbacks_total', 'Requests served by another endpoint than the first of their route, by the model of that first endpoint.', 'counter', () =>
      [...this.fallbacks].map(([model, n]) => ({ labels: { model }, value: n })),
    );
    add('switchyard_budget_refusals_total', 'Requests refused before any upstream call: credits (402) or rate_limit (429).', 'counter', () => [
      { labels: { reason: 'credits' }, value: this.refusals.credits },
      { labels: { reason: 'rate_limit' }, value: this.refusals.rate_limit },
    ]);
    const openStreams = () => this.openStreams;
    new prom.Gauge({
      name: 'switchyard_open_streams',
      help: 'Streamed generation requests being served.',
      registers: [registry],
      collect() {
        this.set(openStreams());
      },
    });
    this.useCatalog(catalog, providers);
    const circuit = () => this.circuitEndpoints;
    new prom.Gauge({
      name: 'switchyard_provider_circuit_open',
      help: "1 while the circuit breaker of one of the provider's endpoints is open (or half-open, probing), else 0.",
      labelNames: ['provider'],
      // Every worker tracks every worker's outcomes (routing/health-sync.ts): the same state, not a sum.
      aggregator: 'max',
      registers: [registry],
      collect() {
        for (const [provider, keys] of circuit()) this.set({ provider }, keys.some((k) => health.state(k) !== 'closed') ? 1 : 0);
      },
    });
  }

  /** Health keys of every endpoint of each enabled provider, worked out at start and at each reload. */
  private circuitEndpoints = new Map<string, string[]>();

  useCatalog(catalog: Catalog, providers: Map<string, ProviderRuntime>): void {
    const endpoints = new Map<string, string[]>();
    for (const model of catalog.models.values()) {
      for (const ep of catalog.endpointsOf(model)) {
        if (!providers.get(ep.provider.slug)?.enabled) continue;
        let keys = endpoints.get(ep.provider.slug);
        if (!keys) endpoints.set(ep.provider.slug, (keys = []));
        keys.push(healthKey(ep));
      }
    }
    this.circuitEndpoints = endpoints;
  }

  private eachRequestCell(fn: (c: RequestCell, out: Value[]) => void): Value[] {
    const out: Value[] = [];
    for (const byModel of this.requests.values()) for (const byProvider of byModel.values()) for (const c of byProvider.values()) fn(c, out);
    return out;
  }

  private requestCell(api: string, model: string, provider: string): RequestCell {
    let byModel = this.requests.get(api);
    if (!byModel) this.requests.set(api, (byModel = new Map()));
    let byProvider = byModel.get(model);
    if (!byProvider) byModel.set(model, (byProvider = new Map()));
    let cell = byProvider.get(provider);
    if (!cell) byProvider.set(provider, (cell = new RequestCell(api, model, provider)));
    return cell;
  }

  private usageCell(model: string, provider: string): UsageCell {
    let byProvider = this.usage.get(model);
    if (!byProvider) this.usage.set(model, (byProvider = new Map()));
    let cell = byProvider.get(provider);
    if (!cell) byProvider.set(provider, (cell = new UsageCell(model, provider)));
    return cell;
  }

  streamOpened(): void {
    this.openStreams++;
  }

  streamClosed(): void {
    this.openStreams--;
  }

  request(f: RequestFacts): void {
    const cell = this.requestCell(f.api, f.model, f.provider);
    cell.statuses.set(f.status, (cell.statuses.get(f.status) ?? 0) + 1);
    cell.duration.observe(f.durationSeconds);
    if (f.ttftSeconds !== null) cell.ttft.observe(f.ttftSeconds);
    if (f.fallbackOf !== null) this.fallbacks.set(f.fallbackOf, (this.fallbacks.get(f.fallbackOf) ?? 0) + 1);
    if (f.provider === NO_PROVIDER) return;
    const u = this.usageCell(f.model, f.provider);
    const t = f.usage;
    if (t) {
      u.prompt += t.promptTokens;
      u.completion += t.completionTokens;
      u.reasoning += t.reasoningTokens;
      u.cached += t.cachedTokens;
      u.cacheWrite += t.cacheWriteTokens;
    }
    u.cost += f.costUsd;
  }

  /**
   * A request refused before any upstream call (no provider, no tokens). Its duration is known
   * (and observed) only once it reached routing.
   */
  refused(api: ApiLabel, model: string, status: number, durationMs: number | null, budget: 'credits' | 'rate_limit' | null): void {
    const cell = this.requestCell(api, model, NO_PROVIDER);
    cell.statuses.set(status, (cell.statuses.get(status) ?? 0) + 1);
    if (durationMs !== null) cell.duration.observe(durationMs / 1000);
    if (budget) this.refusals[budget]++;
  }

  attempt(provider: string, outcome: AttemptOutcome): void {
    let byOutcome = this.attempts.get(provider);
    if (!byOutcome) this.attempts.set(provider, (byOutcome = new Map()));
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  }

  /** This process's series as text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** This process's series as prom-client's JSON (what the cluster primary sums). */
  json(): Promise<Prom.MetricObjectWithValues<Prom.MetricValue<string>>[]> {
    return this.registry.getMetricsAsJSON();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
