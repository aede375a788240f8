import type { RateLimitSpec } from '../state/rate-limit.js';
import type { ReloadReport } from '../config/reload.js';

/**
 * Messages between the cluster primary and its workers, sent over node:cluster's IPC channel
 * (`process.send` / `worker.send`, JSON). Every message carries `sy: 1`, so nothing else that
 * travels on the channel is mistaken for one of them.
 *
 * - Lifecycle: a worker says `hello` once its channel listens (from then on it acknowledges bus
 *   deliveries), `ready` once its HTTP server listens; the primary sends `shutdown` to drain it.
 * - Shared state: rate-limit requests (`rl.hit`, `rl.tokens`) and bus publications
 *   (`bus.publish`) are requests with an `id`, answered by a `reply` with the same id. The primary
 *   fans a publication out as `bus.deliver` to every worker, the publisher included, and each
 *   worker answers `bus.delivered` after running its handlers; the publisher's reply comes once
 *   every worker has (or a delivery timeout passed).
 * - Checkpoints (cluster/checkpoints.ts): the primary sends `ckpt.hold` for a round; a worker
 *   answers `ckpt.held` once its queued writes are done and holds later ones until `ckpt.release`.
 * - Metrics (observability/cluster-metrics.ts): a worker asks for the sum over every worker
 *   (`metrics.get`, a request); the primary sends `metrics.collect` for a round to each ready
 *   worker, which answers `metrics.report` with its own series.
 * - Reload (cluster/reload.ts): a worker asks for every worker's reload (`reload.all`, a request);
 *   the primary sends `reload` for a round to each listening worker, which answers `reload.done`.
 */

/** One worker's reload outcome (`reload.done`), or every worker's combined (the reply to `reload.all`). */
export type ReloadResult = { ok: true; report: ReloadReport } | { ok: false; reason: string };

/** Worker → primary. */
export type ToPrimary =
  | { sy: 1; t: 'hello' }
  | { sy: 1; t: 'ready'; url: string; port: number }
  | { sy: 1; t: 'rl.hit'; id: number; key: string; spec: RateLimitSpec }
  | { sy: 1; t: 'rl.tokens'; id: number; key: string; tokens: number }
  | { sy: 1; t: 'bus.publish'; id: number; channel: string; message: string }
  | { sy: 1; t: 'bus.delivered'; id: number }
  | { sy: 1; t: 'ckpt.held'; round: number }
  | { sy: 1; t: 'metrics.get'; id: number }
  | { sy: 1; t: 'metrics.report'; round: number; metrics: unknown[] }
  | { sy: 1; t: 'reload.all'; id: number }
  | { sy: 1; t: 'reload.done'; round: number; result: ReloadResult };

/** Primary → worker. */
export type ToWorker =
  | { sy: 1; t: 'reply'; id: number; ok: true; value?: unknown }
  | { sy: 1; t: 'reply'; id: number; ok: false; error: string }
  | { sy: 1; t: 'bus.deliver'; id: number; channel: string; message: string }
  | { sy: 1; t: 'ckpt.hold'; round: number }
  | { sy: 1; t: 'ckpt.release'; round: number }
  | { sy: 1; t: 'metrics.collect'; round: number }
  | { sy: 1; t: 'reload'; round: number }
  | { sy: 1; t: 'shutdown' };

/** The requests a worker makes (each answered by one `reply`), without their correlation id. */
export type Request = Extract<ToPrimary, { t: 'rl.hit' | 'rl.tokens' | 'bus.publish' | 'metrics.get' | 'reload.all' }>;
export type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id' | 'sy'> : never) : never;

export function isClusterMessage(m: unknown): m is { sy: 1; t: string } {
  return typeof m === 'object' && m !== null && (m as { sy?: unknown }).sy === 1 && typeof (m as { t?: unknown }).t === 'string';
}

/** A worker's side of the channel to its primary. */
export interface PrimaryTransport {
  /** False once the channel is closed (the primary exited). */
  readonly connected: boolean;
  /** Sends; `onError` is called (never thrown) when the message cannot be sent. */
  send(msg: ToPrimary, onError?: (err: Error) => void): void;
  onMessage(fn: (msg: unknown) => void): void;
  onClose(fn: () => void): void;
}

/** The transport of the current process when it is a cluster worker. */
export function processTransport(proc: NodeJS.Process = process): PrimaryTransport {
  return {
    get connected() {
      return typeof proc.send === 'function' && proc.connected;
    },
    send(msg, onError) {
      if (typeof proc.send !== 'function' || !proc.connected) {
        onError?.(new Error('the IPC channel to the cluster primary is closed'));
        return;
      }
      // With a callback, a failed send is reported to it instead of as an 'error' event on process.
      proc.send(msg, undefined, undefined, (err: Error | null) => {
        if (err) onError?.(err);
      });
    },
    onMessage(fn) {
      proc.on('message', fn);
    },
    onClose(fn) {
      proc.once('disconnect', fn);
    },
  };
}
