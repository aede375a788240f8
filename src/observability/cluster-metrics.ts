import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import type { ToPrimary, ToWorker } from '../cluster/ipc.js';
import type { PrimaryChannel } from '../state/cluster-ipc.js';

/**
 * `/metrics` under `serve --workers N`: one scrape returns the sum over every worker. Each worker
 * keeps its own prom-client registry; the worker that receives the scrape asks the primary
 * (`metrics.get`), the primary asks every ready worker for its series (`metrics.collect`, answered
 * by `metrics.report` with prom-client's JSON), sums them with prom-client's AggregatorRegistry
 * (counters and histograms add up, the breaker gauge takes the maximum) and replies with the text.
 * A worker that does not report within the round's timeout (starting, stuck) is left out of that
 * scrape rather than failing it.
 */

/** A worker's link to the other workers' series (AppOptions.clusterMetrics). */
export interface ClusterMetricsLink {
  /** The exposition text summed over every worker (asks the primary). */
  scrape(): Promise<string>;
  /** This worker's own series, for the primary's collection rounds. */
  provide(local: () => Promise<unknown[]>): void;
}

const require = createRequire(import.meta.url);

/** The worker side, on the worker's channel to its primary. */
export function workerMetricsLink(channel: PrimaryChannel, timeoutMs = 5000): ClusterMetricsLink {
  let local: (() => Promise<unknown[]>) | null = null;
  channel.onMessage((raw) => {
    const msg = raw as ToWorker;
    if (msg.t !== 'metrics.collect') return;
    const round = msg.round;
    const report = (metrics: unknown[]) => channel.send({ sy: 1, t: 'metrics.report', round, metrics });
    if (!local) return report([]);
    local().then(report, () => report([]));
  });
  return {
    scrape: async () => String(await channel.request({ t: 'metrics.get' }, timeoutMs)),
    provide: (fn) => {
      local = fn;
    },
  };
}

export interface MetricsWorker {
  readonly id: number;
  send(msg: ToWorker): void;
}

interface Round {
  waiting: Set<number>;
  reports: unknown[][];
  finish: () => void;
}

/** The primary side: collection rounds over the ready workers. */
export class ClusterMetrics {
  private seq = 0;
  private readonly rounds = new Map<number, Round>();

  constructor(
    /** The workers that serve (ready) now. */
    private readonly workers: () => MetricsWorker[],
    private readonly roundTimeoutMs = 2000,
  ) {}

  /** Handles `metrics.get` and `metrics.report`; false for any other message. */
  handle(from: number, msg: ToPrimary, reply: (msg: ToWorker) => void): boolean {
    if (msg.t === 'metrics.get') {
      const id = msg.id;
      this.gather().then(
        (text) => reply({ sy: 1, t: 'reply', id, ok: true, value: text }),
        (err: unknown) => reply({ sy: 1, t: 'reply', id, ok: false, error: (err as Error).message ?? String(err) }),
      );
      return true;
    }
    if (msg.t === 'metrics.report') {
      const round = this.rounds.get(msg.round);
      if (round?.waiting.delete(from)) {
        if (Array.isArray(msg.metrics)) round.reports.push(msg.metrics);
        if (round.waiting.size === 0) round.finish();
      }
      return true;
    }
    return false;
  }

  /** A worker exited: no round waits for it. */
  gone(id: number): void {
    for (const round of this.rounds.values()) if (round.waiting.delete(id) && round.waiting.size === 0) round.finish();
  }

  /** Every ready worker's series, summed, as exposition text. */
  async gather(): Promise<string> {
    const reports = await this.collect();
    const { AggregatorRegistry } = require('prom-client') as typeof Prom;
    return AggregatorRegistry.aggregate(reports).metrics();
  }

  private collect(): Promise<unknown[][]> {
    const id = ++this.seq;
    const targets = this.workers();
    return new Promise((resolve) => {
      const round: Round = {
        waiting: new Set(targets.map((w) => w.id)),
        reports: [],
        finish: () => {
          if (!this.rounds.delete(id)) return;
          clearTimeout(timer);
          resolve(round.reports);
        },
      };
      const timer = setTimeout(round.finish, this.roundTimeoutMs);
      timer.unref();
      this.rounds.set(id, round);
      if (targets.length === 0) return round.finish();
      for (const w of targets) w.send({ sy: 1, t: 'metrics.collect', round: id });
    });
  }
}
