import { WalCheckpoints } from '../storage/wal-checkpoints.js';
import { openSqlite, type SqliteConnection } from '../storage/sqlite-driver.js';

/**
 * Checkpoints of the embedded database for `serve --workers N`, run by the primary (which serves
 * no request) with the fsyncs off its event loop (storage/wal-checkpoints.ts).
 *
 * A cycle only lets the log restart if no write lands while it runs, and one worker cannot stop
 * the others' writes. So the primary watches the log's size and, when a cycle is due, asks every
 * worker to hold its writes (each one finishes what it has queued and answers), runs the cycle,
 * and releases them. Workers wait a few milliseconds to commit; their event loops never block on
 * a checkpoint. A worker that does not answer in time is not waited for: the cycle is just as
 * safe, only the log may not restart this time. Workers keep SQLite's own automatic checkpoint as
 * a safety net should cycles stop.
 */
export interface WriteHolders {
  /** Asks every live worker to hold its writes; resolves when all answered or `timeoutMs` passed. */
  hold(round: number, timeoutMs: number): Promise<void>;
  /** Lets the workers write again. */
  release(round: number): void;
}

export interface ClusterCheckpointOptions {
  /** How often the primary looks at the log's size. */
  pollMs?: number;
  thresholdFrames?: number;
  /** How long a cycle waits for the workers to hold their writes. */
  holdTimeoutMs?: number;
  onFallback?: (err: Error) => void;
}

export class ClusterCheckpoints {
  readonly cycles: WalCheckpoints;
  private readonly db: SqliteConnection;
  private readonly timer: NodeJS.Timeout;
  private round = 0;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    file: string,
    private readonly workers: WriteHolders,
    private readonly opts: ClusterCheckpointOptions = {},
  ) {
    this.db = openSqlite(file, { mustExist: true });
    this.db.exec('PRAGMA busy_timeout = 5000');
    this.cycles = new WalCheckpoints(file, this.db, { thresholdFrames: opts.thresholdFrames, onFallback: opts.onFallback });
    this.timer = setInterval(() => void this.poll(), opts.pollMs ?? 50);
    this.timer.unref();
  }

  /** Runs a round when the log has grown past the threshold (and none is under way). */
  poll(): Promise<void> {
    if (this.running || this.closed || !this.cycles.due()) return this.running ?? Promise.resolve();
    this.running = this.runRound().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async runRound(): Promise<void> {
    const round = ++this.round;
    try {
      await this.workers.hold(round, this.opts.holdTimeoutMs ?? 500);
      await this.cycles.run();
    } finally {
      this.workers.release(round);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.running;
    await this.cycles.close(() => {
      if (this.db.open) this.db.close();
    });
  }
}
