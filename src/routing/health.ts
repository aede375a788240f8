/**
 * Per-endpoint health from live traffic, in process memory (one tracker per replica; with several
 * replicas `health-sync.ts` feeds every replica's outcomes into every tracker).
 *
 * - Outcomes in one-minute buckets for a day: uptime over 5 min / 30 min / 1 day (rate limits are
 *   not counted as downtime, as OpenRouter does).
 * - Time to first token and throughput samples for the last 30 minutes: p50/p75/p90/p99, used by
 *   `sort: latency|throughput` and `preferred_*` thresholds.
 * - A circuit breaker: after `tripAfter` consecutive failures, or a failure rate above one half over
 *   at least `minSamples` recent requests, the endpoint is open (tried only after every healthy
 *   one) for `openMs` (or the provider's Retry-After), then half-open: one probe request at a time;
 *   a success closes it, a failure re-opens it for twice as long (capped).
 *
 * Outcomes observed by another replica arrive later and out of order: they carry their own time
 * (`at`), land in the bucket of that minute, and change the breaker as they would have at that time
 * (a success older than the latest failure does not reset the failure count, one older than the
 * moment the breaker opened does not close it). Times in the future are taken as now.
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
  /** How long another replica's half-open probe keeps this replica from sending its own. */
  probeClaimMs?: number;
  now?: () => number;
}

/** Where an outcome comes from: `at` defaults to now; `remote` marks another replica's observation. */
export interface OutcomeSource {
  at?: number;
  remote?: boolean;
}

/**
 * An outcome observed by this replica, as reported to the observer (`observe`). `transition` is
 * true when it opened or closed the breaker; `probe` is a half-open probe starting here.
 */
export type HealthEvent =
  | { kind: 'success'; key: string; at: number; ttftMs: number | null; tokensPerSecond: number | null; transition: boolean }
  | { kind: 'failure'; key: string; at: number; rateLimited: boolean; retryAfterMs: number | null; transition: boolean }
  | { kind: 'probe'; key: string; at: number; transition: false };

const MINUTE = 60_000;
const DAY_MINUTES = 24 * 60;
const SAMPLE_LIMIT = 512;
const RECENT = 64;

interface Bucket {
  minute: number;
  ok: number;
  failed: number;
  rateLimited: number;
}

/**
 * The last `capacity` samples (time, value) in two typed arrays used as a ring: recording one
 * allocates nothing. Lists of sample objects that every request entered and, 512 requests later,
 * left were promoted to the old generation by the scavenges they lived through, garbage there
 * (the effect of item 24 in bench/README.md). Samples of other replicas arrive late; they take
 * the place of the oldest one recorded, and every reading filters by time.
 */
class SampleRing {
  private readonly at: Float64Array;
  private readonly value: Float64Array;
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.at = new Float64Array(capacity);
    this.value = new Float64Array(capacity);
  }

  push(at: number, value: number): void {
    this.at[this.next] = at;
    this.value[this.next] = value;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    if (this.size < this.capacity) this.size++;
  }

  /** The values recorded at or after `since`, in no particular order. */
  valuesSince(since: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.at[i] >= since) out.push(this.value[i]);
    return out;
  }
}

class EndpointHealth {
  buckets: Bucket[] = [];
  ttft = new SampleRing(SAMPLE_LIMIT);
  tps = new SampleRing(SAMPLE_LIMIT);
  lastFailureAt = 0;
  lastSuccessAt = 0;
  consecutiveFailures = 0;
  state: BreakerState = 'closed';
  openedAt = 0;
  openUntil = 0;
  openFor = 0;
  probeInFlight = false;
  /** Another replica is probing this (half-open) endpoint until then. */
  remoteProbeUntil = 0;
  /** The last RECENT outcomes for the failure rate: value 1 for a success, 0 for a failure. */
  recent = new SampleRing(RECENT);

  /** The bucket of `at`'s minute (kept in minute order); null when that minute is over a day old. */
  bucket(at: number): Bucket | null {
    const minute = Math.floor(at / MINUTE);
    const last = this.buckets[this.buckets.length - 1];
    if (last && last.minute === minute) return last;
    if (!last || last.minute < minute) {
      const b = { minute, ok: 0, failed: 0, rateLimited: 0 };
      this.buckets.push(b);
      const oldest = minute - DAY_MINUTES;
      while (this.buckets.length > 0 && this.buckets[0].minute <= oldest) this.buckets.shift();
      return b;
    }
    // An earlier minute (another replica's outcome arriving late).
    if (minute <= last.minute - DAY_MINUTES) return null;
    let i = this.buckets.length - 1;
    while (i >= 0 && this.buckets[i].minute > minute) i--;
    if (i >= 0 && this.buckets[i].minute === minute) return this.buckets[i];
    const b = { minute, ok: 0, failed: 0, rateLimited: 0 };
    this.buckets.splice(i + 1, 0, b);
    return b;
  }
}

function percentiles(samples: SampleRing, since: number): Percentiles | null {
  const values = samples.valuesSince(since);
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))];
  return { p50: at(0.5), p75: at(0.75), p90: at(0.9), p99: at(0.99) };
}


export class HealthTracker {
  private readonly byEndpoint = new Map<string, EndpointHealth>();
  readonly windowMs: number;
  private readonly tripAfter: number;
  private readonly minSamples: number;
  private readonly openMs: number;
  private readonly maxOpenMs: number;
  private readonly probeClaimMs: number;
  private readonly now: () => number;
  private observer: ((event: HealthEvent) => void) | null = null;

  constructor(opts: HealthOptions | number = {}) {
    const o = typeof opts === 'number' ? { windowMs: opts } : opts;
    this.windowMs = o.windowMs ?? 30_000;
    this.tripAfter = o.tripAfter ?? 3;
    this.minSamples = o.minSamples ?? 6;
    this.openMs = o.openMs ?? 30_000;
    this.maxOpenMs = o.maxOpenMs ?? 5 * MINUTE;
    this.probeClaimMs = o.probeClaimMs ?? 30_000;
    this.now = o.now ?? Date.now;
  }

  /** Drops what is known of an endpoint: a reload pointed its provider at another address. */
  forget(key: string): void {
    this.byEndpoint.delete(key);
  }

  /** Reports every outcome observed by this replica (not remote ones) to `fn`; null stops it. */
  observe(fn: ((event: HealthEvent) => void) | null): void {
    this.observer = fn;
  }

  private entry(key: string): EndpointHealth {
    let h = this.byEndpoint.get(key);
    if (!h) {
      h = new EndpointHealth();
      this.byEndpoint.set(key, h);
    }
    return h;
  }

  /**
   * A failed attempt. Rate limits count toward the breaker but not against uptime. `at` and
   * `remote` are for outcomes another replica observed.
   */
  recordFailure(key: string, opts: { rateLimited?: boolean; retryAfterMs?: number } & OutcomeSource = {}): void {
    const now = this.now();
    const at = Math.min(opts.at ?? now, now);
    const h = this.entry(key);
    const b = h.bucket(at);
    if (b) {
      if (opts.rateLimited) b.rateLimited++;
      else b.failed++;
    }
    h.lastFailureAt = Math.max(h.lastFailureAt, at);
    if (at >= h.lastSuccessAt) h.consecutiveFailures++;
    this.noteRecent(h, now, at, false);
    const failureRate = this.failureRate(h, now);
    // The breaker as it was at `at`: half-open once the open period was over.
    const halfOpen = h.state !== 'closed' && at >= h.openUntil;
    const open = h.state !== 'closed' && !halfOpen;
    const trip =
      halfOpen ||
      h.consecutiveFailures >= this.tripAfter ||
      (failureRate !== null && failureRate > 0.5) ||
      (opts.retryAfterMs !== undefined && opts.retryAfterMs > 0);
    let transition = false;
    if (trip) {
      // A failed probe doubles the open period (capped); a failure while already open never shortens it.
      if (halfOpen) h.openFor = Math.min(this.maxOpenMs, Math.max(this.openMs, h.openFor * 2));
      else if (!open) h.openFor = this.openMs;
      const until = at + Math.max(h.openFor, opts.retryAfterMs ?? 0);
      h.openUntil = open ? Math.max(h.openUntil, until) : until;
      if (!open) h.openedAt = at;
      transition = h.state !== 'open' && h.openUntil > now;
      if (h.state !== 'open') h.remoteProbeUntil = 0;
      h.state = 'open';
    }
    if (opts.remote) return;
    h.probeInFlight = false;
    this.observer?.({ kind: 'failure', key, at, rateLimited: opts.rateLimited === true, retryAfterMs: opts.retryAfterMs ?? null, transition });
  }

  recordSuccess(key: string, ttftMs: number | null, tokensPerSecond: number | null, source: OutcomeSource = {}): void {
    const now = this.now();
    const at = Math.min(source.at ?? now, now);
    const h = this.entry(key);
    const b = h.bucket(at);
    if (b) b.ok++;
    if (at >= h.lastFailureAt) h.consecutiveFailures = 0;
    h.lastSuccessAt = Math.max(h.lastSuccessAt, at);
    this.noteRecent(h, now, at, true);
    if (ttftMs !== null && ttftMs >= 0) h.ttft.push(at, ttftMs);
    if (tokensPerSecond !== null && Number.isFinite(tokensPerSecond) && tokensPerSecond > 0) h.tps.push(at, tokensPerSecond);
    let transition = false;
    if (h.state !== 'closed' && at >= h.openedAt) {
      h.state = 'closed';
      h.openFor = 0;
      h.remoteProbeUntil = 0;
      transition = true;
    }
    if (source.remote) return;
    h.probeInFlight = false;
    this.observer?.({ kind: 'success', key, at, ttftMs, tokensPerSecond, transition });
  }

  /** Another replica started a half-open probe at `at`: this one lets it run instead of sending its own. */
  recordRemoteProbe(key: string, at: number): void {
    const h = this.entry(key);
    h.remoteProbeUntil = Math.max(h.remoteProbeUntil, Math.min(at, this.now()) + this.probeClaimMs);
  }

  private noteRecent(h: EndpointHealth, now: number, at: number, ok: boolean): void {
    if (at < now - this.windowMs) return;
    h.recent.push(at, ok ? 1 : 0);
  }

  private failureRate(h: EndpointHealth, now: number): number | null {
    const recent = h.recent.valuesSince(now - this.windowMs);
    if (recent.length < this.minSamples) return null;
    let failed = 0;
    for (const ok of recent) if (ok === 0) failed++;
    return failed / recent.length;
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
   * is already running (here or, as far as this replica heard, on another replica), or a failure
   * inside the recent window (OpenRouter's 30-second rule).
   */
  isDegraded(key: string): boolean {
    const h = this.byEndpoint.get(key);
    if (!h) return false;
    const state = this.state(key);
    if (state === 'open') return true;
    if (state === 'half-open') return h.probeInFlight || this.now() < h.remoteProbeUntil;
    return h.lastFailureAt > 0 && this.now() - h.lastFailureAt < this.windowMs;
  }

  /** Called when an attempt starts; a half-open endpoint lets exactly one probe through. */
  beginAttempt(key: string): void {
    const h = this.byEndpoint.get(key);
    if (!h || this.state(key) !== 'half-open' || h.probeInFlight) return;
    h.probeInFlight = true;
    this.observer?.({ kind: 'probe', key, at: this.now(), transition: false });
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
