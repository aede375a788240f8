import cluster from 'node:cluster';
import type { AppOptions } from '../app.js';
import { ClusterBus, ClusterRateLimiter, PrimaryChannel } from '../state/cluster-ipc.js';
import { processTransport, type ReloadResult, type ToWorker } from './ipc.js';
import { SqliteSql } from '../storage/sql.js';
import { workerMetricsLink } from '../observability/cluster-metrics.js';
import { ConfigError } from '../config/load.js';
import type { ReloadReport } from '../config/reload.js';

/** How long a worker waits for every worker's reload (the primary's round gives up after 10 s). */
const RELOAD_WAIT_MS = 15_000;

/** How long a worker holds its writes for the primary's checkpoint before it lets them go anyway. */
const MAX_HOLD_MS = 2000;

/** What a worker of `serve --workers N` needs from its primary (see cluster/primary.ts). */
export interface ClusterMember {
  /** node:cluster's worker id (1, 2, … in start order; a replacement gets a new one). */
  readonly id: number;
  /** The bus and rate limiter shared through the primary, for createApp (used when there is no Redis). */
  readonly appOptions: Pick<AppOptions, 'hostBus' | 'hostLimiter' | 'onSql' | 'clusterMetrics' | 'reload'>;
  /** Tells the primary this worker listens. */
  ready(url: string, port: number): void;
  /** Called when the primary asks this worker to drain and exit. */
  onShutdown(fn: () => void): void;
  /** What the primary's `reload` runs: this worker's own reload. */
  onReload(fn: () => Promise<ReloadReport>): void;
}

export const isClusterWorker = (): boolean => cluster.isWorker;

/** Opens this worker's channel to the primary; call once, early (before the app is built). */
export function joinCluster(): ClusterMember {
  const transport = processTransport();
  const channel = new PrimaryChannel(transport);
  const shutdown = new Set<() => void>();
  let reloadHere: (() => Promise<ReloadReport>) | null = null;
  let sqlite: SqliteSql | null = null;
  // Writes held for the primary's checkpoint (cluster/checkpoints.ts), by round. A release that
  // arrives before the hold took effect (the primary stopped waiting) lets it go at once.
  const holds = new Map<number, () => void>();
  let releasedUpTo = 0;
  const release = (round: number) => {
    releasedUpTo = Math.max(releasedUpTo, round);
    holds.get(round)?.();
    holds.delete(round);
  };
  transport.onClose(() => {
    for (const round of [...holds.keys()]) release(round);
  });
  channel.onMessage((raw) => {
    const msg = raw as ToWorker;
    if (msg.t === 'shutdown') for (const fn of shutdown) fn();
    else if (msg.t === 'reload') {
      const { round } = msg;
      const done = (result: ReloadResult) => channel.send({ sy: 1, t: 'reload.done', round, result });
      if (!reloadHere) return done({ ok: false, reason: 'the worker is still starting' });
      reloadHere().then(
        (report) => done({ ok: true, report }),
        (err: unknown) => done({ ok: false, reason: (err as Error).message }),
      );
    }
    else if (msg.t === 'ckpt.hold') {
      const { round } = msg;
      if (!sqlite) return channel.send({ sy: 1, t: 'ckpt.held', round });
      void sqlite.holdWrites().then((letGo) => {
        if (round <= releasedUpTo || !transport.connected) return letGo();
        const timer = setTimeout(() => release(round), MAX_HOLD_MS);
        holds.set(round, () => {
          clearTimeout(timer);
          letGo();
        });
        channel.send({ sy: 1, t: 'ckpt.held', round });
      });
    } else if (msg.t === 'ckpt.release') release(msg.round);
  });
  return {
    id: cluster.worker?.id ?? 0,
    appOptions: {
      hostBus: () => new ClusterBus(channel),
      hostLimiter: () => new ClusterRateLimiter(channel),
      onSql: (sql) => {
        if (sql instanceof SqliteSql) sqlite = sql;
      },
      clusterMetrics: workerMetricsLink(channel),
      reload: async () => {
        const result = (await channel.request({ t: 'reload.all' }, RELOAD_WAIT_MS)) as ReloadResult;
        if (!result.ok) throw new ConfigError(result.reason);
        return result.report;
      },
    },
    ready: (url, port) => channel.send({ sy: 1, t: 'ready', url, port }),
    onShutdown: (fn) => void shutdown.add(fn),
    onReload: (fn) => {
      reloadHere = fn;
    },
  };
}
