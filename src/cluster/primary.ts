import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Settings } from '../config/load.js';
import { SharedStateHost } from '../state/cluster-ipc.js';
import { isClusterMessage, type ToPrimary, type ToWorker } from './ipc.js';
import { ClusterCheckpoints, type ClusterCheckpointOptions } from './checkpoints.js';
import { sqliteFileOf } from '../storage/sql.js';
import { ClusterMetrics } from '../observability/cluster-metrics.js';
import { ClusterReload } from './reload.js';

/**
 * The primary process of `switchyard serve --workers N`. It serves no request itself: it forks N
 * workers (each one builds the whole app and listens on the same port; node:cluster's primary
 * accepts the connections and hands them to the workers in turn), hosts the state the workers
 * share when there is no Redis (state/cluster-ipc.ts), replaces a worker that dies, and on
 * SIGTERM/SIGINT asks every worker to drain, then exits once they all did.
 *
 * The caller runs the storage migrations and the start-up checks before calling `runPrimary`, so
 * workers never race on them.
 */
export interface PrimaryOptions {
  settings: Settings;
  log: Logger;
  /** Called once, when every worker of the first start listens, with the URL they all share. */
  onListening(url: string, workers: { id: number; pid: number | undefined }[]): void;
  /**
   * Replacement back-off per worker slot: the first replacement after `initialMs`, doubling while
   * replacements keep dying within `stableMs` of their start, never more than `maxMs`.
   */
  backoff?: { initialMs: number; maxMs: number; stableMs: number };
  /** On shutdown, how long after the drain timeout a worker still running is killed. */
  killGraceMs?: number;
  /** Checkpoints of the embedded database (cluster/checkpoints.ts); false: SQLite's own, in the workers. */
  checkpoints?: ClusterCheckpointOptions | false;
}

interface Slot {
  worker: Worker | null;
  /** The command-line arguments its worker was started with. */
  args: string[];
  startedAt: number;
  /** Its worker listens on the shared port. */
  ready: boolean;
  /** Its worker got as far as listening (on any port). */
  listened: boolean;
  /** Consecutive quick deaths (drives the back-off). */
  failures: number;
  restart: NodeJS.Timeout | null;
}

export function runPrimary(opts: PrimaryOptions): void {
  const { settings, log } = opts;
  const backoff = opts.backoff ?? { initialMs: 100, maxMs: 30_000, stableMs: 10_000 };
  const killGraceMs = opts.killGraceMs ?? 10_000;
  const baseArgs = process.argv.slice(2);
  const slots: Slot[] = Array.from({ length: settings.workers }, () => ({ worker: null, args: baseArgs, startedAt: 0, ready: false, listened: false, failures: 0, restart: null }));
  const host = new SharedStateHost({
    onSlowDelivery: ({ channel, missing }) => log.warn({ channel, workers: missing }, 'a bus message was not acknowledged in time by every worker'),
  });
  let port: number | null = null;
  let url: string | null = null;
  let announced = false;
  let stopping = false;
  let exitCode = 0;
  let forceKill: NodeJS.Timeout | null = null;

  const send = (worker: Worker, msg: ToWorker) => {
    if (!worker.isConnected()) return;
    // With a callback a failed send (the worker is exiting) is not an 'error' event; its exit is handled below.
    worker.send(msg, () => undefined);
  };
  // One /metrics scrape sums the series of every worker that serves.
  const metrics = new ClusterMetrics(() => slots.filter((s) => s.worker && s.ready).map((s) => ({ id: s.worker!.id, send: (m: ToWorker) => send(s.worker!, m) })));

  // A reload (SIGHUP here, or the admin endpoint on any worker) reaches every worker that listens.
  const reloads = new ClusterReload(() => slots.filter((s) => s.worker && s.ready).map((s) => ({ id: s.worker!.id, send: (m: ToWorker) => send(s.worker!, m) })));
  const reloadAll = async (trigger: string) => {
    const { missing, ...result } = await reloads.reloadAll();
    if (missing.length > 0) log.warn({ workers: missing }, 'workers did not answer the reload in time');
    if (result.ok) log.info({ trigger, workers: result.report.workers, needs_restart: result.report.needs_restart }, 'configuration reloaded in every worker');
    else log.error({ trigger, reason: result.reason }, 'configuration reload refused; the settings in use stay');
    return result;
  };

  // Checkpoint rounds: the workers that listen hold their writes while the primary checkpoints.
  let holding: { round: number; waiting: Set<number>; done: () => void } | null = null;
  const file = opts.checkpoints === false || settings.checkpointPages === 0 ? null : sqliteFileOf(settings);
  const checkpoints = file
    ? new ClusterCheckpoints(
        file,
        {
          hold: (round, timeoutMs) =>
            new Promise<void>((resolve) => {
              const live = slots.filter((s) => s.worker && s.ready).map((s) => s.worker!);
              const timer = setTimeout(() => finish(), timeoutMs);
              const finish = () => {
                clearTimeout(timer);
                holding = null;
                resolve();
              };
              holding = { round, waiting: new Set(live.map((w) => w.id)), done: finish };
              if (live.length === 0) return finish();
              for (const w of live) send(w, { sy: 1, t: 'ckpt.hold', round });
            }),
          release: (round) => {
            for (const s of slots) if (s.worker && s.ready) send(s.worker, { sy: 1, t: 'ckpt.release', round });
          },
        },
        { thresholdFrames: settings.checkpointPages, ...(opts.checkpoints || {}), onFallback: (err) => log.warn({ err: err.message }, 'checkpointing from the primary failed; the workers checkpoint inside their commits again') },
      )
    : null;
  const held = (workerId: number, round: number) => {
    if (!holding || holding.round !== round) return;
    holding.waiting.delete(workerId);
    if (holding.waiting.size === 0) holding.done();
  };

  const fork = (slot: Slot) => {
    slot.restart = null;
    if (stopping) return;
    // node:cluster shares one listening socket among the workers that listen on the same host and
    // port *as they asked for it*: with --port 0 every worker asks for 0 and gets the primary's one
    // socket. A replacement therefore asks exactly what the listening workers asked; only when none
    // listens (the socket is closed) does it ask for the port they had, to keep the announced URL.
    const live = slots.find((s) => s !== slot && s.worker && s.ready);
    slot.args = live ? live.args : port === null ? baseArgs : [...baseArgs, '--port', String(port)];
    cluster.setupPrimary({ args: slot.args });
    const worker = cluster.fork();
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.ready = false;
    slot.listened = false;
    host.add({ id: worker.id, send: (m) => send(worker, m) });
    worker.on('error', (err: Error) => log.debug({ worker: worker.id, err: err.message }, 'worker channel error'));
    worker.on('message', (msg: unknown) => {
      if (!isClusterMessage(msg)) return;
      const m = msg as ToPrimary;
      if (m.t === 'ready') onReady(slot, worker, m);
      else if (m.t === 'ckpt.held') held(worker.id, m.round);
      else if (m.t === 'metrics.get' || m.t === 'metrics.report') metrics.handle(worker.id, m, (reply) => send(worker, reply));
      else if (m.t === 'reload.done') reloads.done(worker.id, m.round, m.result);
      else if (m.t === 'reload.all') void reloadAll('admin endpoint').then((value) => send(worker, { sy: 1, t: 'reply', id: m.id, ok: true, value }));
      else host.handle(worker.id, msg);
    });
    worker.on('exit', (code: number | null, signal: string | null) => onExit(slot, worker, code, signal));
  };

  const onReady = (slot: Slot, worker: Worker, msg: Extract<ToPrimary, { t: 'ready' }>) => {
    if (port === null) {
      port = msg.port;
      url = msg.url;
    } else if (msg.port !== port) {
      // Only possible if every other worker died while this one was starting: it is stopped and
      // replaced (asking for the announced port, which is free again).
      log.error({ worker: worker.id, pid: worker.process.pid, port: msg.port, expected: port }, 'a worker listens on another port than the others; replacing it');
      slot.listened = true;
      worker.process.kill('SIGTERM');
      return;
    }
    slot.ready = true;
    slot.listened = true;
    // Not "url": the first "url" field in the log is the one of the "listening" line.
    log.info({ worker: worker.id, pid: worker.process.pid, port: msg.port }, 'worker ready');
    if (stopping) {
      send(worker, { sy: 1, t: 'shutdown' });
      return;
    }
    if (!announced && slots.every((s) => s.ready)) {
      announced = true;
      opts.onListening(url!, slots.map((s) => ({ id: s.worker!.id, pid: s.worker!.process.pid })));
    }
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    host.remove(worker.id);
    metrics.gone(worker.id);
    reloads.gone(worker.id);
    held(worker.id, holding?.round ?? -1); // a round does not wait for a worker that is gone
    const listened = slot.listened;
    if (slot.worker === worker) {
      slot.worker = null;
      slot.ready = false;
    }
    const info = { worker: worker.id, pid: worker.process.pid, code, signal };
    if (stopping) {
      if (code !== 0 && exitCode === 0) exitCode = 1;
      log.info(info, 'worker stopped');
      finishIfDone();
      return;
    }
    if (!announced && !listened) {
      // A worker could not start (it printed why): the whole start fails, as a single process's would.
      log.error(info, 'a worker failed to start; stopping');
      exitCode = code || 1;
      shutdown('start-up failure');
      return;
    }
    slot.failures = Date.now() - slot.startedAt >= backoff.stableMs ? 1 : slot.failures + 1;
    const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** (slot.failures - 1));
    log.warn({ ...info, restartInMs: delay }, 'worker exited unexpectedly; starting a replacement');
    slot.restart = setTimeout(() => fork(slot), delay);
  };

  const finishIfDone = () => {
    if (!stopping || slots.some((s) => s.worker)) return;
    if (forceKill) clearTimeout(forceKill);
    host.close();
    void (checkpoints?.close() ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        log.info('stopped');
        process.exit(exitCode);
      });
  };

  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    for (const s of slots) {
      if (s.restart) clearTimeout(s.restart);
      s.restart = null;
    }
    const live = slots.filter((s) => s.worker);
    log.info({ signal: reason, workers: live.length }, 'draining open requests');
    for (const s of live) {
      // A worker still starting has nothing to drain (and may not listen for messages yet).
      if (s.ready) send(s.worker!, { sy: 1, t: 'shutdown' });
      else s.worker!.process.kill('SIGTERM');
    }
    forceKill = setTimeout(() => {
      for (const s of slots) {
        if (!s.worker) continue;
        log.error({ worker: s.worker.id, pid: s.worker.process.pid }, 'worker did not stop in time; killing it');
        exitCode = 1;
        s.worker.process.kill('SIGKILL');
      }
    }, settings.drainTimeoutMs + killGraceMs);
    finishIfDone();
  };

  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => void reloadAll('SIGHUP'));
  log.info({ workers: slots.length }, 'starting workers');
  for (const slot of slots) fork(slot);
}
