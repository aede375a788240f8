/**
 * Shares endpoint health between replicas over the Bus (`state/bus.ts`, channel `health`).
 *
 * Every outcome this replica observes is applied to its own tracker at once, as before, and queued;
 * the queue is published as one message per `intervalMs` (100 ms), or at once when an outcome
 * opened or closed a breaker or a half-open probe starts. Messages from other replicas are applied
 * to the local tracker with the time each outcome happened (`HealthTracker.recordFailure(…, {at,
 * remote})`); a replica's own messages (its random origin id) are ignored. Routing keeps reading
 * the local tracker synchronously: nothing here is on the request path except pushing an event
 * onto an array.
 *
 * Consistency: eventual and best effort. A replica sees another's outcome after at most the batch
 * interval plus the bus latency (about 100 ms plus a few ms with Redis or PostgreSQL on the same
 * network); a breaker change travels in one bus latency. A message lost on the way (bus
 * reconnecting, process killed before its last flush) is not resent: each replica's own traffic
 * still drives its own tracker, and old outcomes age out of every window anyway. Outcomes from
 * different replicas are merged by their timestamps, so clocks are assumed to agree to well under
 * the 30-second failure window; a time in the future counts as now.
 *
 * Half-open probes: a replica that starts a probe announces it at once, and the others treat the
 * endpoint as degraded (tried only after every healthy one) until the probe's result arrives or
 * `probeClaimMs` (30 s) passes. Replicas whose open periods end within one bus latency of each
 * other can still each send a probe, so the bound is one probe per replica in that short race and
 * one for the whole group otherwise. A replica whose own open period ends later than another's
 * (because it saw a different sequence of outcomes) simply waits for the probe's result.
 *
 * With the in-process bus (a single replica) nothing is observed, queued or published.
 *
 * Wire format, version 1 (compact JSON; unknown versions and malformed messages are ignored):
 *
 *   {"v":1,"o":"<origin>","t":<ms epoch>,"k":["<health key>",…],"e":[event,…]}
 *
 * where each event is an array whose first three items are kind, index into `k`, and the
 * time as milliseconds after `t`:
 *
 *   ["s", k, dt, ttftMs|null, tokensPerSecond|null]   a success
 *   ["f", k, dt, rateLimited 0|1, retryAfterMs?]       a failure
 *   ["p", k, dt]                                       a half-open probe started
 *
 * Messages are split to stay under `maxMessageBytes` (PostgreSQL NOTIFY payloads stop at 8000 bytes).
 */
import { randomBytes } from 'node:crypto';
import type { Bus } from '../state/bus.js';
import type { HealthEvent, HealthTracker } from './health.js';

export const HEALTH_CHANNEL = 'health';
const VERSION = 1;
const DAY_MS = 24 * 60 * 60_000;
const MAX_KEY_CHARS = 512;
const MAX_INPUT_CHARS = 1_000_000;

export interface HealthSyncOptions {
  /** How long outcomes are collected before one message carries them (ms). */
  intervalMs?: number;
  /** Upper bound on one message's size in UTF-8 bytes. */
  maxMessageBytes?: number;
  /** This replica's id on the bus (random by default). */
  origin?: string;
  /** Publishing failed (the events of that message are dropped); called at most once a minute. */
  onError?: (err: unknown) => void;
  now?: () => number;
}

type WireEvent = ['s', number, number, number | null, number | null] | ['f', number, number, 0 | 1, number?] | ['p', number, number];

interface Message {
  v: number;
  o: string;
  t: number;
  k: string[];
  e: WireEvent[];
}

export class HealthSync {
  readonly origin: string;
  /** False with the in-process bus: then start, flush and stop do nothing. */
  readonly enabled: boolean;
  private readonly intervalMs: number;
  private readonly maxMessageBytes: number;
  private readonly onError: (err: unknown) => void;
  private readonly now: () => number;
  private pending: HealthEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly publishing = new Set<Promise<void>>();
  private subscribed = false;
  private stopped = false;
  private lastErrorAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly health: HealthTracker,
    private readonly bus: Bus,
    opts: HealthSyncOptions = {},
  ) {
    this.origin = opts.origin ?? randomBytes(8).toString('base64url');
    this.enabled = bus.kind !== 'local';
    this.intervalMs = opts.intervalMs ?? 100;
    this.maxMessageBytes = opts.maxMessageBytes ?? 7000;
    this.onError = opts.onError ?? (() => undefined);
    this.now = opts.now ?? Date.now;
    if (this.enabled) health.observe((e) => this.enqueue(e));
  }

  /** Subscribes to other replicas' outcomes; idempotent. */
  async start(): Promise<void> {
    if (!this.enabled || this.subscribed || this.stopped) return;
    this.subscribed = true;
    await this.bus.subscribe(HEALTH_CHANNEL, (message) => {
      if (!this.stopped) this.receive(message);
    });
  }

  /**
   * Publishes what is queued and stops observing; call before closing the bus. Waits at most
   * `waitMs` for the publishes to finish, so an unreachable bus does not hold up a shutdown.
   */
  async stop(waitMs = 2000): Promise<void> {
    if (this.stopped) return;
    void this.flush();
    this.stopped = true;
    if (this.enabled) this.health.observe(null);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled([...this.publishing]), timeout]);
    clearTimeout(timer);
  }

  /** Events waiting for the next message. */
  get queued(): number {
    return this.pending.length;
  }

  private enqueue(event: HealthEvent): void {
    if (this.stopped) return;
    this.pending.push(event);
    if (event.transition || event.kind === 'probe') {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Publishes every queued event now (in order, as one or more messages). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0) return Promise.resolve();
    const events = this.pending;
    this.pending = [];
    const sends = this.encode(events).map((message) => {
      const p = this.bus.publish(HEALTH_CHANNEL, message).catch((err: unknown) => this.reportError(err));
      this.publishing.add(p);
      void p.finally(() => this.publishing.delete(p));
      return p;
    });
    return Promise.all(sends).then(() => undefined);
  }

  private reportError(err: unknown): void {
    const now = this.now();
    if (now - this.lastErrorAt < 60_000) return;
    this.lastErrorAt = now;
    this.onError(err);
  }

  /** The events as messages of at most maxMessageBytes (a single oversized event goes alone). */
  encode(events: HealthEvent[]): string[] {
    const message = encodeMessage(this.origin, events);
    if (Buffer.byteLength(message) <= this.maxMessageBytes || events.length === 1) return [message];
    const half = Math.ceil(events.length / 2);
    return [...this.encode(events.slice(0, half)), ...this.encode(events.slice(half))];
  }

  /** Applies another replica's message to the local tracker; returns how many events were applied. */
  receive(message: string): number {
    const m = parseMessage(message);
    if (!m || m.o === this.origin) return 0;
    const oldest = this.now() - DAY_MS;
    let applied = 0;
    for (const e of m.e) {
      if (!Array.isArray(e)) continue;
      const [kind, k, dt] = e as unknown[];
      if (!Number.isInteger(k) || (k as number) < 0 || (k as number) >= m.k.length) continue;
      if (typeof dt !== 'number' || !Number.isFinite(dt) || dt < 0) continue;
      const key = m.k[k as number];
      const at = m.t + dt;
      if (at < oldest) continue;
      if (kind === 's') {
        const ttft = e[3] ?? null;
        const tps = e[4] ?? null;
        if (!nullableNumber(ttft) || !nullableNumber(tps)) continue;
        this.health.recordSuccess(key, ttft, tps, { at, remote: true });
      } else if (kind === 'f') {
        const limited = e[3];
        const retry = e[4];
        if (limited !== 0 && limited !== 1) continue;
        if (retry !== undefined && (typeof retry !== 'number' || !Number.isFinite(retry) || retry < 0)) continue;
        this.health.recordFailure(key, { rateLimited: limited === 1, retryAfterMs: retry || undefined, at, remote: true });
      } else if (kind === 'p') {
        this.health.recordRemoteProbe(key, at);
      } else {
        continue;
      }
      applied++;
    }
    return applied;
  }
}

function nullableNumber(v: unknown): v is number | null {
  return v === null || (typeof v === 'number' && Number.isFinite(v));
}

function encodeMessage(origin: string, events: HealthEvent[]): string {
  const t = events.reduce((min, e) => Math.min(min, e.at), Number.POSITIVE_INFINITY);
  const keys: string[] = [];
  const index = new Map<string, number>();
  const e: WireEvent[] = events.map((ev) => {
    let k = index.get(ev.key);
    if (k === undefined) {
      k = keys.push(ev.key) - 1;
      index.set(ev.key, k);
    }
    const dt = ev.at - t;
    if (ev.kind === 'success') {
      const ttft = ev.ttftMs === null ? null : Math.round(ev.ttftMs);
      const tps = ev.tokensPerSecond === null || !Number.isFinite(ev.tokensPerSecond) ? null : Math.round(ev.tokensPerSecond * 100) / 100;
      return ['s', k, dt, ttft, tps];
    }
    if (ev.kind === 'failure') return ev.retryAfterMs ? ['f', k, dt, ev.rateLimited ? 1 : 0, Math.round(ev.retryAfterMs)] : ['f', k, dt, ev.rateLimited ? 1 : 0];
    return ['p', k, dt];
  });
  const m: Message = { v: VERSION, o: origin, t, k: keys, e };
  return JSON.stringify(m);
}

/** The message's envelope, checked; null for anything that is not a version-1 health message. */
function parseMessage(message: unknown): Message | null {
  if (typeof message !== 'string' || message.length > MAX_INPUT_CHARS) return null;
  let m: unknown;
  try {
    m = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return null;
  const { v, o, t, k, e } = m as Record<string, unknown>;
  if (v !== VERSION) return null;
  if (typeof o !== 'string' || o.length === 0 || o.length > 64) return null;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) return null;
  if (!Array.isArray(k) || !k.every((key) => typeof key === 'string' && key.length > 0 && key.length <= MAX_KEY_CHARS)) return null;
  if (!Array.isArray(e)) return null;
  return { v, o, t, k: k as string[], e: e as WireEvent[] };
}
