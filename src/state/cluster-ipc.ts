import { isClusterMessage, type PrimaryTransport, type RequestBody, type ToPrimary, type ToWorker } from '../cluster/ipc.js';
import type { Bus } from './bus.js';
import { MemoryRateLimiter, type RateDecision, type RateLimiter, type RateLimitSpec } from './rate-limit.js';

/**
 * Shared state for the workers of one `switchyard serve --workers N` host when there is no Redis:
 * the rate-limit counters and the bus live in the primary process, and workers reach them over
 * node:cluster's IPC channel (message shapes in cluster/ipc.ts).
 *
 * - Worker side: `PrimaryChannel` correlates requests and replies by id, with a timeout; once the
 *   channel is closed (the primary is gone) every pending and later request fails at once with a
 *   clear error, never hangs. `ClusterRateLimiter` and `ClusterBus` are built on it.
 * - Primary side: `SharedStateHost` answers rate-limit requests from one MemoryRateLimiter (so
 *   counts are exact across the workers) and fans bus publications out to every worker.
 */

const GONE = 'cluster primary is gone (IPC channel closed)';

export interface PrimaryChannelOptions {
  /** How long a request waits for its reply. */
  timeoutMs?: number;
}

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout; what: string };

/** A worker's request/reply channel to the primary, plus the bus deliveries it receives. */
export class PrimaryChannel {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly deliveryHandlers = new Set<(channel: string, message: string) => void>();
  private readonly otherHandlers = new Set<(msg: { sy: 1; t: string }) => void>();
  private closedError: Error | null = null;
  private readonly timeoutMs: number;

  constructor(
    private readonly transport: PrimaryTransport,
    opts: PrimaryChannelOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    transport.onMessage((m) => this.receive(m));
    transport.onClose(() => this.fail(new Error(GONE)));
    if (!transport.connected) this.closedError = new Error(GONE);
    // From now on this worker acknowledges bus deliveries: the primary waits for it.
    else transport.send({ sy: 1, t: 'hello' });
  }

  get connected(): boolean {
    return this.closedError === null && this.transport.connected;
  }

  /** Sends a request and resolves with the reply's value; rejects on an error reply, a timeout, or a closed channel. */
  request(body: RequestBody, timeoutMs = this.timeoutMs): Promise<unknown> {
    if (this.closedError || !this.transport.connected) return Promise.reject(this.closedError ?? new Error(GONE));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`cluster primary did not answer ${body.t} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, what: body.t });
      this.transport.send({ ...body, sy: 1, id } as ToPrimary, (err) => this.settle(id, err));
    });
  }

  /** Bus deliveries (channel, message) fanned out by the primary. */
  onDelivery(fn: (channel: string, message: string) => void): () => void {
    this.deliveryHandlers.add(fn);
    return () => this.deliveryHandlers.delete(fn);
  }

  /** Any other cluster message from the primary (e.g. shutdown). */
  onMessage(fn: (msg: { sy: 1; t: string }) => void): void {
    this.otherHandlers.add(fn);
  }

  send(msg: ToPrimary): void {
    this.transport.send(msg);
  }

  private settle(id: number, err: Error | null, value?: unknown): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(value);
  }

  private receive(raw: unknown): void {
    if (!isClusterMessage(raw)) return;
    const msg = raw as ToWorker;
    if (msg.t === 'reply') {
      this.settle(msg.id, msg.ok ? null : new Error(`cluster primary: ${msg.error}`), msg.ok ? msg.value : undefined);
      return;
    }
    if (msg.t === 'bus.deliver') {
      for (const h of this.deliveryHandlers) {
        try {
          h(msg.channel, msg.message);
        } catch {
          // A failing subscriber must not keep the others (or the acknowledgement) from running.
        }
      }
      this.transport.send({ sy: 1, t: 'bus.delivered', id: msg.id });
      return;
    }
    for (const h of this.otherHandlers) h(msg);
  }

  private fail(err: Error): void {
    this.closedError = err;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new Error(`${err.message}; ${p.what} not answered`));
    }
  }
}

/** Rate-limit counters held by the cluster primary: exact across this host's workers. */
export class ClusterRateLimiter implements RateLimiter {
  readonly kind = 'cluster' as const;
  constructor(private readonly channel: PrimaryChannel) {}

  async hit(id: string, spec: RateLimitSpec): Promise<RateDecision> {
    return (await this.channel.request({ t: 'rl.hit', key: id, spec })) as RateDecision;
  }

  async addTokens(id: string, tokens: number): Promise<void> {
    if (tokens > 0) await this.channel.request({ t: 'rl.tokens', key: id, tokens });
  }

  async close(): Promise<void> {}
}

/**
 * A bus whose messages go through the cluster primary to every worker, this one included (as
 * LocalBus delivers to its own subscribers). `publish` resolves once every worker ran its handlers
 * (or the primary's delivery timeout passed), so a change published before a response is sent is
 * known to every worker by the time the client sees that response.
 */
export class ClusterBus implements Bus {
  readonly kind = 'cluster' as const;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private readonly detach: () => void;

  constructor(
    private readonly channel: PrimaryChannel,
    private readonly publishTimeoutMs = 3000,
  ) {
    this.detach = channel.onDelivery((ch, msg) => {
      for (const h of this.handlers.get(ch) ?? []) h(msg);
    });
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.channel.request({ t: 'bus.publish', channel, message }, this.publishTimeoutMs);
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
  }

  async close(): Promise<void> {
    this.detach();
    this.handlers.clear();
  }
}

/** The primary's view of one worker. */
export interface WorkerLink {
  readonly id: number;
  send(msg: ToWorker): void;
}

export interface SharedStateHostOptions {
  /** How long a publication waits for the workers' acknowledgements before the publisher is answered anyway. */
  deliveryTimeoutMs?: number;
  onSlowDelivery?: (info: { channel: string; missing: number[] }) => void;
}

/** The primary's side: one set of rate-limit counters, and the bus fan-out. */
export class SharedStateHost {
  readonly limiter = new MemoryRateLimiter();
  private readonly workers = new Map<number, { link: WorkerLink; attached: boolean }>();
  private readonly deliveries = new Map<number, { waiting: Set<number>; finish: () => void }>();
  private seq = 0;
  private readonly deliveryTimeoutMs: number;

  constructor(private readonly opts: SharedStateHostOptions = {}) {
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 1000;
  }

  add(link: WorkerLink): void {
    this.workers.set(link.id, { link, attached: false });
  }

  /** A worker exited: it is no longer waited for. */
  remove(id: number): void {
    this.workers.delete(id);
    for (const d of this.deliveries.values()) {
      d.waiting.delete(id);
      if (d.waiting.size === 0) d.finish();
    }
  }

  /** Handles a shared-state message from a worker; false when the message is not one. */
  handle(from: number, raw: unknown): boolean {
    if (!isClusterMessage(raw)) return false;
    const msg = raw as ToPrimary;
    const w = this.workers.get(from);
    if (!w) return false;
    const reply = (id: number, p: Promise<unknown>) =>
      p.then(
        (value) => w.link.send({ sy: 1, t: 'reply', id, ok: true, value }),
        (err: unknown) => w.link.send({ sy: 1, t: 'reply', id, ok: false, error: (err as Error).message ?? String(err) }),
      );
    switch (msg.t) {
      case 'hello':
        w.attached = true;
        return true;
      case 'rl.hit':
        void reply(msg.id, this.limiter.hit(String(msg.key), msg.spec));
        return true;
      case 'rl.tokens':
        void reply(msg.id, this.limiter.addTokens(String(msg.key), Number(msg.tokens)).then(() => null));
        return true;
      case 'bus.publish':
        void reply(msg.id, this.publish(String(msg.channel), String(msg.message)));
        return true;
      case 'bus.delivered': {
        const d = this.deliveries.get(msg.id);
        if (d) {
          d.waiting.delete(from);
          if (d.waiting.size === 0) d.finish();
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** Delivers to every attached worker; resolves with how many acknowledged. */
  private publish(channel: string, message: string): Promise<number> {
    const id = ++this.seq;
    const targets = [...this.workers.values()].filter((w) => w.attached);
    return new Promise((resolve) => {
      const waiting = new Set(targets.map((w) => w.link.id));
      let timer: NodeJS.Timeout | null = null;
      const finish = () => {
        if (!this.deliveries.has(id)) return;
        this.deliveries.delete(id);
        if (timer) clearTimeout(timer);
        resolve(targets.length - waiting.size);
      };
      this.deliveries.set(id, { waiting, finish });
      if (waiting.size === 0) return finish();
      timer = setTimeout(() => {
        this.opts.onSlowDelivery?.({ channel, missing: [...waiting] });
        finish();
      }, this.deliveryTimeoutMs);
      timer.unref();
      for (const w of targets) w.link.send({ sy: 1, t: 'bus.deliver', id, channel, message });
    });
  }

  close(): void {
    for (const d of [...this.deliveries.values()]) d.finish();
    void this.limiter.close();
  }
}
