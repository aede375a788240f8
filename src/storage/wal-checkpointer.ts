import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The thread: its own connection to the database file, which copies the log back into the file
 * whenever it is asked to. CommonJS text rather than a module file, so that it runs the same from
 * dist/ and from the TypeScript sources under tsx (a worker does not inherit tsx's loader).
 * PASSIVE: copy what no reader still needs and never wait for the writer; another process's
 * checkpoint running at the same time makes this one return busy at once. A checkpoint copies
 * pages from the log to the file and needs no page cache of its own.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('cache_size = -256');
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  parentPort.postMessage(db.pragma('wal_checkpoint(PASSIVE)')[0]);
});
`;
const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3');

/** SQLite's own default: a checkpoint inside the COMMIT that takes the log past 1,000 pages. */
export const INLINE_AUTOCHECKPOINT_PAGES = 1000;

export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

export interface WalCheckpointerOptions {
  /** Commits before the thread starts: one-shot processes (the CLI) and idle servers never start it. */
  startAfterCommits?: number;
  /** At most one checkpoint per interval. */
  minIntervalMs?: number;
  /** A log this long (in frames) is checkpointed once on the main connection, so that it restarts. */
  maxLogFrames?: number;
}

/**
 * Checkpoints of a WAL-mode SQLite file, run on a worker thread.
 *
 * By default SQLite copies the write-ahead log back into the database file from inside the COMMIT
 * that takes the log past 1,000 pages. Under load that is one commit a second or so that blocks the
 * event loop for 20–25 ms (copying ~4 MiB page by page), and every request in flight waits: most of
 * the router's p99 (bench/README.md). Here the main connection's automatic checkpoint is switched
 * off while a worker thread with its own connection runs a PASSIVE checkpoint after commits, at
 * most one per interval; the main thread only posts a message. A PASSIVE checkpoint never blocks
 * the writer, and SQLite restarts the log from its beginning once everything in it is copied.
 *
 * The log restarts only when a commit finds everything in it copied, which a commit landing while
 * the thread copies can prevent; should the log reach `maxLogFrames` anyway, the next commit is
 * followed by one checkpoint on the main connection, between transactions, which copies the rest
 * and lets the following commit restart the log.
 *
 * The thread (an isolate with its own connection, ~13 MiB) starts after the first commits, not at
 * start-up. If it cannot start or dies, automatic checkpoints are switched back on.
 */
export class WalCheckpointer {
  /** Checkpoints completed by the thread, and the last one's result (for tests and diagnostics). */
  checkpoints = 0;
  lastResult: CheckpointResult | null = null;
  private worker: Worker | null = null;
  private commits = 0;
  private inFlight = false;
  private lastAt = -Infinity;
  private failed = false;
  private closed = false;
  private readonly startAfterCommits: number;
  private readonly minIntervalMs: number;

  private readonly maxLogFrames: number;

  constructor(
    private readonly file: string,
    /** The main connection: sets its `wal_autocheckpoint` (0: off), runs a checkpoint on it. */
    private readonly main: { setAutocheckpoint(pages: number): void; checkpoint(): CheckpointResult },
    opts: WalCheckpointerOptions = {},
  ) {
    this.startAfterCommits = opts.startAfterCommits ?? 64;
    this.minIntervalMs = opts.minIntervalMs ?? 200;
    this.maxLogFrames = opts.maxLogFrames ?? 8192;
  }

  /** Whether checkpoints currently run on the thread (automatic ones are off). */
  get active(): boolean {
    return this.worker !== null && !this.failed;
  }

  /** Called after every commit on the main connection. */
  committed(): void {
    if (this.failed || this.closed) return;
    if (this.worker === null) {
      if (++this.commits < this.startAfterCommits) return;
      this.start();
    }
    if (this.inFlight) return;
    if (this.lastResult && this.lastResult.log >= this.maxLogFrames) {
      this.lastResult = this.main.checkpoint();
      return;
    }
    const now = performance.now();
    if (now - this.lastAt < this.minIntervalMs) return;
    this.inFlight = true;
    this.lastAt = now;
    this.worker!.postMessage('checkpoint');
  }

  /** Stops the thread; the connection that closes last checkpoints what is left. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker || this.failed) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref(); // until it has exited: this wait is what keeps the caller's process going
    worker.postMessage('close');
    await exited;
  }

  private start(): void {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: this.file, driver: DRIVER } });
    this.worker = worker;
    worker.once('online', () => {
      if (!this.failed && !this.closed) this.main.setAutocheckpoint(0);
    });
    worker.on('message', (result: CheckpointResult) => {
      this.inFlight = false;
      this.checkpoints++;
      this.lastResult = result;
    });
    worker.once('error', () => this.fallBack());
    worker.once('exit', () => {
      if (!this.closed) this.fallBack();
    });
    // Not a reason to keep the process alive: close() ends it, and exit takes it down anyway.
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
  }

  private fallBack(): void {
    if (this.failed) return;
    this.failed = true;
    this.inFlight = false;
    if (!this.closed) this.main.setAutocheckpoint(INLINE_AUTOCHECKPOINT_PAGES);
  }
}
