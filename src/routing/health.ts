/**
 * Per-endpoint health from live traffic, in process memory (one tracker per replica).
 *
 * - Outcomes in one-minute buckets for a day: uptime over 5 min / 30 min / 1 day (rate limits are
 *   not counted as downtime, as OpenRouter does).
 * - Time to first token and throughput samples for the last 30 minutes: p50/p75/p90/p99, used by
 *   `sort: latency|throughput` and `preferred_*` thresholds.
 * - A circuit breaker: after `tripAfter` consecutive failures, or a failure rate above one half over
 *   at least `minSamples` recent requests, the endpoint is open (tried only after every healthy
 *   one) for `openMs` (or the provider's Retry-After), then half-open: one probe request at a time;
 *   a success closes it, a failure re-opens it for twice as long (capped).
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface Percentiles {
  p50: number;
  p75: number;
  p90: number;
  p99: number;
}

export interface EndpointStats {
  state: BreakerState;
  uptime5m: number | null;
  uptime30m: number | null;
  uptime1d: number | null;
  latency30m: Percentiles | null; // time to first token, ms
  throughput30m: Percentiles | null; // tokens/s
  requests30m: number;
}

export interface HealthOptions {
  windowMs?: number; // "recent failure" window for the default balancer
  tripAfter?: number;
  minSamples?: number;
  openMs?: number;
  maxOpenMs?: number;
  now?: () => number;
}

const MINUTE = 60_000;
const DAY_MINUTES = 24 * 60;
const SAMPLE_LIMIT = 512;

interface Bucket {
  minute: number;
  ok: number;
  failed: number;
  rateLimited: number;
}

interface Sample {
  at: number;
  value: number;
}

class EndpointHealth {
  buckets: Bucket[] = [];
  ttft: Sample[] = [];
  tps: Sample[] = [];
  lastFailureAt = 0;
  consecutiveFailures = 0;
  state: BreakerState = 'closed';
  openUntil = 0;
  openFor = 0;
  probeInFlight = false;
  recent: { at: number; ok: boolean }[] = [];

  bucket(now: number): Bucket {
    const minute = Math.floor(now / MINUTE);
    let b = this.buckets[this.buckets.length - 1];
    if (!b || b.minute !== minute) {
      b = { minute, ok: 0, failed: 0, rateLimited: 0 };
      this.buckets.push(b);
      const oldest = minute - DAY_MINUTES;
      while (this.buckets.length > 0 && this.buckets[0].minute <= oldest) this.buckets.shift();
    }
    return b;
  }
}

function percentiles(samples: Sample[], since: number): Percentiles | null {
  const values = samples.filter((s) => s.at >= since).map((s) => s.value);
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))];
  return { p50: at(0.5), p75: at(0.75), p90: at(0.9), p99: at(0.99) };
}

function pushSample(list: Sample[], sample: Sample): void {
  list.push(sample);
  if (list.length > SAMPLE_LIMIT) list.shift();
}

export class HealthTracker {
  private readonly byEndpoint = new Map<string, EndpointHealth>();
  readonly windowMs: number;
  private readonly tripAfter: number;
  private readonly minSamples: number;
  private readonly openMs: number;
  private readonly maxOpenMs: number;
  private readonly now: () => number;

  constructor(opts: HealthOptions | number = {}) {
    const o = typeof opts === 'number' ? { windowMs: opts } : opts;
    this.windowMs = o.windowMs ?? 30_000;
    this.tripAfter = o.tripAfter ?? 3;
    this.minSamples = o.minSamples ?? 6;
    this.openMs = o.openMs ?? 30_000;
    this.maxOpenMs = o.maxOpenMs ?? 5 * MINUTE;
    this.now = o.now ?? Date.now;
  }

  private entry(key: string): EndpointHealth {
    let h = this.byEndpoint.get(key);
    if (!h) {
      h = new EndpointHealth();
      this.byEndpoint.set(key, h);
    }
    return h;
  }

  /** A failed attempt. Rate limits count toward the breaker but not against uptime. */
  recordFailure(key: string, opts: { rateLimited?: boolean; retryAfterMs?: number } = {}): void {
    const now = this.now();
    const h = this.entry(key);
    const b = h.bucket(now);
    if (opts.rateLimited) b.rateLimited++;
    else b.failed++;
    h.lastFailureAt = now;
    h.consecutiveFailures++;
    this.noteRecent(h, now, false);
    const failureRate = this.failureRate(h, now);
    const trip =
      h.state === 'half-open' ||
      h.consecutiveFailures >= this.tripAfter ||
      (failureRate !== null && failureRate > 0.5) ||
      (opts.retryAfterMs !== undefined && opts.retryAfterMs > 0);
    if (trip) {
      h.openFor = h.state === 'half-open' ? Math.min(this.maxOpenMs, Math.max(this.openMs, h.openFor * 2)) : this.openMs;
      h.state = 'open';
      h.openUntil = now + Math.max(h.openFor, opts.retryAfterMs ?? 0);
    }
    h.probeInFlight = false;
  }

  recordSuccess(key: string, ttftMs: number | null, tokensPerSecond: number | null): void {
    const now = this.now();
    const h = this.entry(key);
    h.bucket(now).ok++;
    h.consecutiveFailures = 0;
    this.noteRecent(h, now, true);
    if (ttftMs !== null && ttftMs >= 0) pushSample(h.ttft, { at: now, value: ttftMs });
    if (tokensPerSecond !== null && Number.isFinite(tokensPerSecond) && tokensPerSecond > 0) pushSample(h.tps, { at: now, value: tokensPerSecond });
    if (h.state !== 'closed') {
      h.state = 'closed';
      h.openFor = 0;
    }
    h.probeInFlight = false;
  }

  private noteRecent(h: EndpointHealth, now: number, ok: boolean): void {
    h.recent.push({ at: now, ok });
    while (h.recent.length > 0 && (h.recent[0].at < now - this.windowMs || h.recent.length > 64)) h.recent.shift();
  }

  private failureRate(h: EndpointHealth, now: number): number | null {
    const recent = h.recent.filter((r) => r.at >= now - this.windowMs);
    if (recent.length < this.minSamples) return null;
    return recent.filter((r) => !r.ok).length / recent.length;
  }

  /** The breaker state, moving open -> half-open once the open period is over. */
  state(key: string): BreakerState {
    const h = this.byEndpoint.get(key);
    if (!h) return 'closed';
    if (h.state === 'open' && this.now() >= h.openUntil) h.state = 'half-open';
    return h.state;
  }

  /**
   * Whether the endpoint belongs at the back of the line: open breaker, a half-open one whose probe
   * is already running, or a failure inside the recent window (OpenRouter's 30-second rule).
   */
  isDegraded(key: string): boolean {
    const h = this.byEndpoint.get(key);
    if (!h) return false;
    const state = this.state(key);
    if (state === 'open') return true;
    if (state === 'half-open') return h.probeInFlight;
    return h.lastFailureAt > 0 && this.now() - h.lastFailureAt < this.windowMs;
  }

  /** Called when an attempt starts; a half-open endpoint lets exactly one probe through. */
  beginAttempt(key: string): void {
    const h = this.byEndpoint.get(key);
    if (h && this.state(key) === 'half-open') h.probeInFlight = true;
  }

  stats(key: string): EndpointStats {
    const h = this.byEndpoint.get(key);
    const now = this.now();
    if (!h) return { state: 'closed', uptime5m: null, uptime30m: null, uptime1d: null, latency30m: null, throughput30m: null, requests30m: 0 };
    const uptime = (minutes: number) => {
      const from = Math.floor(now / MINUTE) - minutes + 1;
      let ok = 0;
      let failed = 0;
      for (const b of h.buckets) {
        if (b.minute < from) continue;
        ok += b.ok;
        failed += b.failed;
      }
      return ok + failed === 0 ? null : Math.round((10_000 * ok) / (ok + failed)) / 100;
    };
    const since = now - 30 * MINUTE;
    const requests30m = h.buckets.filter((b) => b.minute >= Math.floor(since / MINUTE)).reduce((n, b) => n + b.ok + b.failed + b.rateLimited, 0);
    return {
      state: this.state(key),
      uptime5m: uptime(5),
      uptime30m: uptime(30),
      uptime1d: uptime(DAY_MINUTES),
      latency30m: percentiles(h.ttft, since),
      throughput30m: percentiles(h.tps, since),
      requests30m,
    };
  }
}
