import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Caller } from '../auth/keys.js';
import type { Endpoint } from '../catalog/types.js';
import type { Settings } from '../config/load.js';
import { ApiError } from '../core/errors.js';
import type { IngressApi } from '../model/request.js';
import type { Completion } from '../model/response.js';
import type { Generation } from '../pipeline/generation.js';
import type { StreamEncoder } from '../pipeline/ingress.js';
import type { AttemptOutcome, PipelineObserver } from '../pipeline/observer.js';
import type { HealthTracker } from '../routing/health.js';
import { splitVariant } from '../routing/select.js';
import type { GenerationRecord } from '../storage/generations.js';
import { ACCESS_MESSAGE, accessLine, refusedLine } from './access-log.js';
import type { ClusterMetricsLink } from './cluster-metrics.js';
import { Metrics, NO_PROVIDER, OTHER_MODEL } from './metrics.js';
import { Tracing } from './tracing.js';
import { Watch } from './watch.js';

/**
 * What watches the pipeline (app.observer): Prometheus metrics (metrics.ts), OpenTelemetry traces
 * (tracing.ts) and the access log (access-log.ts), behind the pipeline's PipelineObserver seam.
 *
 * Nothing is loaded or counted until `start()` (called when the HTTP server starts: the CLI's
 * admin commands and the cluster primary build an app too, and need none of it). With all three
 * off every call returns at once; otherwise a request costs one small Watch object, a handful of
 * counter and histogram updates, and the spans and the log line that are switched on.
 */
export class Observability implements PipelineObserver {
  private metrics: Metrics | null = null;
  private tracing: Tracing | null = null;
  private accessLog = false;
  /** Something watches requests. */
  private active = false;
  private started = false;

  constructor(
    private settings: Settings,
    private readonly log: Logger,
    private readonly health: HealthTracker,
    private readonly cluster: ClusterMetricsLink | null = null,
  ) {}

  /**
   * A reload's settings, for model names, upstream addresses and the breaker gauge's providers from
   * now on. Whether metrics, traces and the access log are on is decided once, at start (restart-only
   * settings, config/reload.ts).
   */
  useSettings(next: Settings): void {
    this.settings = next;
    this.metrics?.useCatalog(next.catalog, next.providers);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const s = this.settings;
    if (s.metrics.enabled) {
      const metrics = (this.metrics = new Metrics(s.catalog, s.providers, this.health));
      this.cluster?.provide(() => metrics.json());
    }
    if (s.tracing) {
      for (const warning of s.tracing.warnings) this.log.warn(warning);
      if (s.tracing.url) {
        try {
          this.tracing = new Tracing(s.tracing, this.log);
          this.log.info({ url: s.tracing.url, protocol: s.tracing.protocol, sampler: s.tracing.sampler, captureContent: s.tracing.captureContent }, 'exporting traces');
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'could not start tracing; traces are off');
        }
      }
    }
    this.accessLog = s.accessLog && this.log.isLevelEnabled('info');
    this.active = this.metrics !== null || this.tracing !== null || this.accessLog;
  }

  /** The Prometheus exposition (summed over every worker under `--workers N`); null while metrics are off. */
  async scrape(): Promise<{ contentType: string; body: string } | null> {
    const metrics = this.metrics;
    if (!metrics) return null;
    return { contentType: metrics.contentType, body: this.cluster ? await this.cluster.scrape() : await metrics.text() };
  }

  /** Sends the spans ended so far (tests; bounded when the collector is away). */
  async flush(): Promise<void> {
    await this.tracing?.flush();
  }

  /** Exports the last spans (bounded) and stops. */
  async close(): Promise<void> {
    const tracing = this.tracing;
    this.tracing = null;
    this.active = this.metrics !== null || this.accessLog;
    await tracing?.close();
  }

  requestStarted(gen: Generation, req: IncomingMessage): void {
    if (!this.active) return;
    const watch = new Watch();
    gen.watch = watch;
    if (gen.req.stream) this.metrics?.streamOpened();
    this.tracing?.requestStarted(watch, gen, req);
  }

  requestRefused(api: IngressApi, id: string, req: IncomingMessage, err: unknown, caller: Caller | null, gen: Generation | null, requestedModel?: string | null): void {
    if (!this.active) return;
    const status = err instanceof ApiError ? err.status : 500;
    const message = err instanceof Error ? err.message : String(err);
    const catalogModel = gen ? modelOf(gen) : this.catalogModel(requestedModel ?? null);
    const durationMs = gen ? Date.now() - gen.startedAt : null;
    // Budgets and rate limits refuse at admission, the only refusal that has a generation.
    const budget = gen && status === 402 ? 'credits' : gen && status === 429 ? 'rate_limit' : null;
    this.metrics?.refused(api, catalogModel ?? OTHER_MODEL, status, durationMs, budget);
    this.tracing?.requestRefused(api, id, req, status, message, catalogModel, gen?.requestedModel ?? requestedModel ?? null);
    if (this.accessLog) this.log.info(refusedLine(id, caller?.label ?? null, api, catalogModel ?? requestedModel ?? null, status, message, durationMs), ACCESS_MESSAGE);
  }

  attemptStarted(gen: Generation, ep: Endpoint): Record<string, string> | undefined {
    const watch = gen.watch as Watch | null;
    if (!watch) return undefined;
    watch.attemptOpen = true;
    const headers = this.tracing?.attemptStarted(watch, gen, ep, this.settings.providers.get(ep.provider.slug)?.baseUrl ?? '');
    watch.attempts++;
    watch.lastEndpoint = ep;
    return headers;
  }

  attemptFinished(gen: Generation, ep: Endpoint, outcome: AttemptOutcome, status: number | null): void {
    const watch = gen.watch as Watch | null;
    // Only exchanges that started: a key pool with every key resting fails without one.
    if (!watch?.attemptOpen) return;
    watch.attemptOpen = false;
    this.metrics?.attempt(ep.provider.slug, outcome);
    this.tracing?.attemptFinished(watch, gen, ep, outcome, status);
  }

  streamEncoder(gen: Generation, encoder: StreamEncoder): StreamEncoder {
    const watch = gen.watch as Watch | null;
    return watch?.output && this.tracing ? this.tracing.streamEncoder(watch, encoder) : encoder;
  }

  completion(gen: Generation, completion: Completion): void {
    const watch = gen.watch as Watch | null;
    if (watch?.output) this.tracing?.completion(watch, completion);
  }

  requestFinished(gen: Generation, record: GenerationRecord): void {
    const watch = gen.watch as Watch | null;
    if (!watch) return;
    gen.watch = null;
    const served = gen.served;
    if (this.metrics) {
      if (gen.req.stream) this.metrics.streamClosed();
      const first = gen.plan.candidates[0]?.endpoint;
      this.metrics.request({
        api: gen.req.api,
        model: modelOf(gen) ?? OTHER_MODEL,
        provider: served?.provider.slug ?? NO_PROVIDER,
        status: record.status,
        durationSeconds: (record.latencyMs ?? 0) / 1000,
        ttftSeconds: record.ttftMs !== null ? record.ttftMs / 1000 : null,
        usage: served ? gen.usage : null,
        costUsd: record.cost,
        fallbackOf: served && first && served !== first ? first.model.id : null,
      });
    }
    this.tracing?.requestFinished(watch, gen, record);
    if (this.accessLog) this.log.info(accessLine(record, served?.provider.slug ?? null, watch.attempts), ACCESS_MESSAGE);
  }

  /** A model id as the catalog names it (aliases and variants resolved), or null. */
  private catalogModel(id: string | null): string | null {
    if (!id) return null;
    return this.settings.catalog.resolve(splitVariant(id).base)?.id ?? null;
  }
}

/** The catalog model of a routed request: the one that served, else the last tried, else the first planned. */
function modelOf(gen: Generation): string | null {
  const ep = gen.served ?? gen.lastTried ?? gen.plan.candidates[0]?.endpoint;
  return ep ? ep.model.id : null;
}
