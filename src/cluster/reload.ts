import type { ReloadReport } from '../config/reload.js';
import type { ReloadResult, ToWorker } from './ipc.js';

/**
 * A reload under `serve --workers N`: SIGHUP to the primary, or `POST /api/v1/admin/reload` on any
 * worker (which asks the primary with `reload.all`), reloads every worker. The primary sends
 * `reload` for a round to each worker that listens; each one reads the configuration again and
 * swaps it in on its own (src/config/reload.ts) and answers `reload.done` with its outcome. The
 * workers read the same files, so they agree; a worker that starts later reads them at its start.
 */

export interface ReloadWorker {
  readonly id: number;
  send(msg: ToWorker): void;
}

interface Round {
  waiting: Set<number>;
  results: ReloadResult[];
  finish: () => void;
}

/** Longer than a reload that reads a large catalog or many cassettes takes. */
const ROUND_TIMEOUT_MS = 10_000;

export class ClusterReload {
  private seq = 0;
  private readonly rounds = new Map<number, Round>();

  constructor(
    private readonly workers: () => ReloadWorker[],
    private readonly timeoutMs = ROUND_TIMEOUT_MS,
  ) {}

  /** Every listening worker reloads; refused if any worker refused (with the first reason). */
  reloadAll(): Promise<ReloadResult & { missing: number[] }> {
    const live = this.workers();
    const round = ++this.seq;
    return new Promise((resolve) => {
      const results: ReloadResult[] = [];
      const waiting = new Set(live.map((w) => w.id));
      const timer = setTimeout(() => finish(), this.timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.rounds.delete(round);
        resolve({ ...combine(results), missing: [...waiting] });
      };
      this.rounds.set(round, { waiting, results, finish });
      if (live.length === 0) return finish();
      for (const w of live) w.send({ sy: 1, t: 'reload', round });
    });
  }

  /** A worker's `reload.done`. */
  done(workerId: number, round: number, result: ReloadResult): void {
    const r = this.rounds.get(round);
    if (!r || !r.waiting.delete(workerId)) return;
    r.results.push(result);
    if (r.waiting.size === 0) r.finish();
  }

  /** A worker exited: no round waits for it. */
  gone(workerId: number): void {
    for (const r of [...this.rounds.values()]) {
      if (r.waiting.delete(workerId) && r.waiting.size === 0) r.finish();
    }
  }
}

function combine(results: ReloadResult[]): ReloadResult {
  const refused = results.find((r) => !r.ok);
  if (refused) return refused;
  const reports = results.filter((r): r is { ok: true; report: ReloadReport } => r.ok).map((r) => r.report);
  if (reports.length === 0) return { ok: false, reason: 'no worker answered the reload' };
  const needsRestart = [...new Set(reports.flatMap((r) => r.needs_restart))];
  return { ok: true, report: { ...reports[0], needs_restart: needsRestart, workers: reports.length } };
}
