import cluster from 'node:cluster';
import type { AppOptions } from '../app.js';
import { ClusterBus, ClusterRateLimiter, PrimaryChannel } from '../state/cluster-ipc.js';
import { processTransport } from './ipc.js';

/** What a worker of `serve --workers N` needs from its primary (see cluster/primary.ts). */
export interface ClusterMember {
  /** node:cluster's worker id (1, 2, … in start order; a replacement gets a new one). */
  readonly id: number;
  /** The bus and rate limiter shared through the primary, for createApp (used when there is no Redis). */
  readonly appOptions: Pick<AppOptions, 'hostBus' | 'hostLimiter'>;
  /** Tells the primary this worker listens. */
  ready(url: string, port: number): void;
  /** Called when the primary asks this worker to drain and exit. */
  onShutdown(fn: () => void): void;
}

export const isClusterWorker = (): boolean => cluster.isWorker;

/** Opens this worker's channel to the primary; call once, early (before the app is built). */
export function joinCluster(): ClusterMember {
  const channel = new PrimaryChannel(processTransport());
  const shutdown = new Set<() => void>();
  channel.onMessage((msg) => {
    if (msg.t === 'shutdown') for (const fn of shutdown) fn();
  });
  return {
    id: cluster.worker?.id ?? 0,
    appOptions: { hostBus: () => new ClusterBus(channel), hostLimiter: () => new ClusterRateLimiter(channel) },
    ready: (url, port) => channel.send({ sy: 1, t: 'ready', url, port }),
    onShutdown: (fn) => void shutdown.add(fn),
  };
}
