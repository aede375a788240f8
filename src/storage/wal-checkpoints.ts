import { open, type FileHandle } from 'node:fs/promises';
import { isBusy, openSqlite, type SqliteConnection, type SqliteStatement } from './sqlite-driver.js';

/**
 * SQLite's own automatic checkpoint copies the write-ahead log back into the database file from
 * inside the COMMIT that takes the log past 1,000 pages, and fsyncs the log before the copy and the
 * database after it. Under load that is about once a second, ~20 ms with the event loop blocked,
 * three quarters of it in the two fsyncs: every request in flight waits.
 *
 * This class runs the same steps in the same order, with the fsyncs on libuv's thread pool:
 *
 *   1. The main connection opens a read transaction. Its read lock keeps any writer (the CLI,
 *      another process on the file) from restarting the log over frames that step 3 copies,
 *      until step 4 made the copy durable; its snapshot also bounds what step 3 may copy to the
 *      frames that step 2 syncs.
 *   2. fdatasync(log), off the event loop.
 *   3. A PASSIVE checkpoint on a second connection whose `synchronous` is OFF: the copy alone
 *      (~3 µs per frame here), no fsync.
 *   4. fdatasync(database), off the event loop.
 *   5. The read transaction ends; the next write restarts the log from its beginning.
 *
 * The caller runs a cycle where no write to the file can interleave (a single process: behind its
 * own writes in SqliteSql's write chain; `serve --workers N`: in the primary, while every worker
 * holds its writes, cluster/checkpoints.ts), so each cycle copies the whole log and the next write
 * restarts it instead of letting it grow. A crash of the process at any step loses nothing (the
 * page cache survives it); a power loss between steps 3 and 4 finds the log intact and replays it,
 * as after SQLite's own checkpoint.
 *
 * SQLite's automatic checkpoint stays on at its default 1,000 pages as a safety net: cycles start
 * at a quarter of that, so it only runs if they stop or fall behind.
 *
 * `synchronous = OFF` on the second connection affects only its checkpoints: it never writes.
 * The two file handles stay open until both connections are closed: closing any descriptor of
 * the database file would drop the POSIX locks SQLite holds on it in this process.
 */
export interface WalCheckpointOptions {
  /** Frames appended since the last cycle that start the next one (~1 MiB at 4 KiB pages). */
  thresholdFrames?: number;
  /** Told once when a cycle fails; no cycle runs after that (SQLite's automatic checkpoints remain). */
  onFallback?: (err: Error) => void;
}

export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

export class WalCheckpoints {
  /** Completed cycles. */
  cycles = 0;
  /** Cycles skipped because another connection held a lock the cycle needs. */
  skipped = 0;
  lastResult: CheckpointResult | null = null;
  /** Why cycles stopped (SQLite's automatic checkpoints remain), or null. */
  failure: Error | null = null;
  private readonly threshold: number;
  private readonly frames: SqliteStatement;
  private readonly readCookie: SqliteStatement;
  private copier: SqliteConnection | null = null;
  private copy: SqliteStatement | null = null;
  private logFile: FileHandle | null = null;
  private dbFile: FileHandle | null = null;
  /** Frames already backfilled when the last cycle ended (0 once the log restarted). */
  private backfilled = 0;

  constructor(
    private readonly file: string,
    private readonly db: SqliteConnection,
    private readonly opts: WalCheckpointOptions = {},
  ) {
    this.threshold = opts.thresholdFrames ?? 256;
    // NOOP (SQLite 3.51+) only reports the log's size: ~2 µs, so it is asked after every commit.
    this.frames = db.prepare('PRAGMA wal_checkpoint(NOOP)');
    this.readCookie = db.prepare('PRAGMA schema_version');
  }

  /** After a commit on the main connection: whether a cycle is due. */
  due(): boolean {
    if (this.failure) return false;
    const log = this.frames.get<CheckpointResult>()!.log;
    if (log < this.backfilled) this.backfilled = 0; // the log restarted
    return log - this.backfilled >= this.threshold;
  }

  /**
   * One cycle (steps in the class comment). Never rejects: after a failure, cycles stop. A lock
   * held elsewhere (another process checkpointing or recovering the file) skips this cycle only.
   */
  async run(): Promise<void> {
    if (this.failure || !this.db.open) return;
    try {
      await this.openOnce();
      this.db.exec('BEGIN');
      try {
        this.readCookie.get();
        await this.logFile!.datasync();
        const result = this.copy!.get<CheckpointResult>()!;
        if (result.checkpointed > 0) await this.dbFile!.datasync();
        this.lastResult = result;
        this.backfilled = result.checkpointed;
        this.cycles++;
      } finally {
        if (this.db.inTransaction) this.db.exec('COMMIT');
      }
    } catch (err) {
      if (isBusy(err)) this.skipped++;
      else this.fallBack(err as Error);
    }
  }

  private async openOnce(): Promise<void> {
    if (this.copier) return;
    this.logFile = await open(`${this.file}-wal`, 'r');
    this.dbFile = await open(this.file, 'r');
    const copier = openSqlite(this.file, { mustExist: true });
    copier.exec('PRAGMA synchronous = OFF');
    copier.exec('PRAGMA busy_timeout = 5000');
    this.copy = copier.prepare('PRAGMA wal_checkpoint(PASSIVE)');
    this.copier = copier;
  }

  private fallBack(err: Error): void {
    this.failure = err;
    this.opts.onFallback?.(err);
  }

  /**
   * Closes the second connection, then the main one (through closeMain: the last connection to
   * close checkpoints the rest of the log with SQLite's own fsyncs and removes it), then the files.
   */
  async close(closeMain: () => void): Promise<void> {
    if (this.copier?.open) this.copier.close();
    closeMain();
    await this.logFile?.close();
    await this.dbFile?.close();
  }
}
