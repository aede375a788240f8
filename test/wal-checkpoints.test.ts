/**
 * Checkpoints with their fsyncs off the event loop (src/storage/wal-checkpoints.ts), on real SQLite
 * files: cycles copy the log and let it restart long before SQLite's own checkpoint would run inside
 * a commit, nothing committed is lost (also with another writer on the file, and when the process
 * is killed mid-write), a failing cycle leaves checkpoints to SQLite, and the cluster primary's
 * rounds hold the workers' writes around a cycle. Connections come from the driver this process
 * chose (SWITCHYARD_SQLITE_DRIVER forces one).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteSql } from '../src/storage/sql.js';
import { openSqlite, pragmaValue } from '../src/storage/sqlite-driver.js';
import { WalCheckpoints } from '../src/storage/wal-checkpoints.js';
import { ClusterCheckpoints } from '../src/cluster/checkpoints.js';

const PAGE_FRAME = 4096 + 24; // a WAL frame: header + one 4 KiB page
const dataDir = () => mkdtempSync(join(tmpdir(), 'switchyard-wal-'));

function reopened(dir: string): { rows: number; integrity: string } {
  const db = openSqlite(join(dir, 'switchyard.sqlite'));
  const rows = Number(db.prepare('SELECT count(*) AS n FROM t').get()!.n);
  const integrity = String(pragmaValue(db, 'integrity_check'));
  db.close();
  return { rows, integrity };
}

describe('WAL checkpoints off the event loop', () => {
  it('cycles copy the log, the log restarts instead of growing, and every row survives', async () => {
    const dir = dataDir();
    const threshold = 16;
    const sql = new SqliteSql(dir, { checkpoints: { thresholdFrames: threshold } });
    await sql.query('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const body = 'x'.repeat(2000);
    let written = 0;
    for (let i = 0; i < 200; i++) {
      await sql.tx(async (q) => {
        for (let j = 0; j < 5; j++) await q.query('INSERT INTO t (body) VALUES ($1)', [body]);
      });
      written += 5;
    }
    const wal = join(dir, 'switchyard.sqlite-wal');
    const cp = sql.checkpoints!;
    assert.ok(cp.cycles >= 10, `cycles: ${cp.cycles}`);
    assert.equal(cp.failure, null);
    // ~1,000 rows of 2 KB went through the log: without restarts it would hold ~600 frames (SQLite's
    // own checkpoint waits for 1,000).
    assert.ok(statSync(wal).size < threshold * 4 * PAGE_FRAME, `log file ${statSync(wal).size} B`);
    await sql.close();
    assert.equal(existsSync(wal), false, 'the last connection to close removes the log');
    assert.deepEqual(reopened(dir), { rows: written, integrity: 'ok' });
  });

  it('a cycle waits for its fsyncs with the event loop free, holding its read transaction', async () => {
    const file = join(dataDir(), 'db.sqlite');
    const db = openSqlite(file);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const cp = new WalCheckpoints(file, db, { thresholdFrames: 1 });
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    insert.all(['a'.repeat(5000)]);
    assert.equal(cp.due(), true);
    await cp.run(); // the first cycle also opens the files and the second connection
    insert.all(['b'.repeat(5000)]);
    const cycle = cp.run();
    // The loop turns while the cycle waits for fdatasync on the thread pool; meanwhile the main
    // connection's read lock keeps any writer from restarting the log over the copied frames.
    const midway = await new Promise<boolean>((resolve) => setImmediate(() => resolve(db.inTransaction)));
    assert.equal(midway, true, 'the cycle had already finished: it did not yield to the event loop');
    await cycle;
    assert.equal(db.inTransaction, false);
    assert.equal(cp.cycles, 2);
    assert.equal(cp.lastResult!.checkpointed, cp.lastResult!.log, JSON.stringify(cp.lastResult));
    assert.equal(cp.due(), false);
    insert.all(['c']); // the first write after a complete cycle restarts the log
    assert.ok(db.prepare('PRAGMA wal_checkpoint(NOOP)').get<{ log: number }>()!.log < cp.lastResult!.log);
    await cp.close(() => db.close());
  });

  it('another writer on the file during the cycles (the CLI, another process) loses nothing', async () => {
    const dir = dataDir();
    const sql = new SqliteSql(dir, { checkpoints: { thresholdFrames: 8 } });
    await sql.query('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const other = openSqlite(join(dir, 'switchyard.sqlite'));
    other.exec('PRAGMA busy_timeout = 5000');
    const insertOther = other.prepare('INSERT INTO t (body) VALUES (?)');
    const body = 'z'.repeat(1800);
    let ours = 0;
    let theirs = 0;
    for (let i = 0; i < 150; i++) {
      const write = sql.tx(async (q) => {
        for (let j = 0; j < 3; j++) await q.query('INSERT INTO t (body) VALUES ($1)', [body]);
      });
      // The other connection commits while our writes and cycles are queued or in flight.
      await new Promise((r) => setImmediate(r));
      insertOther.all([body]);
      theirs++;
      await write;
      ours += 3;
    }
    assert.ok(sql.checkpoints!.cycles > 0);
    other.close();
    await sql.close();
    assert.deepEqual(reopened(dir), { rows: ours + theirs, integrity: 'ok' });
  });

  it('a process killed in the middle of writes and cycles loses no committed row', async () => {
    const dir = dataDir();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/wal/writer.ts', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the writer made no progress: ${err}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        const last = out.trim().split('\n').at(-1)!.split(' ').map(Number);
        if (last[1] >= 20) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    await exited;
    const lines = out.trim().split('\n');
    const acknowledged = Number(lines.at(-1)!.split(' ')[0]);
    const { rows, integrity } = reopened(dir);
    assert.equal(integrity, 'ok');
    // Every commit the writer saw resolve is there; at most the one in flight beyond it.
    assert.ok(rows >= acknowledged && rows <= acknowledged + 4, `rows ${rows}, acknowledged ${acknowledged}`);
  });

  it('a cycle that cannot run stops the cycles and leaves checkpoints to SQLite', async () => {
    const file = join(dataDir(), 'rollback-journal.sqlite');
    const db = openSqlite(file); // journal_mode DELETE: there is no log file to sync
    db.exec('CREATE TABLE t (x)');
    const failures: Error[] = [];
    const cp = new WalCheckpoints(file, db, { thresholdFrames: 1, onFallback: (e) => failures.push(e) });
    await cp.run();
    assert.equal(failures.length, 1);
    assert.ok(cp.failure);
    assert.equal(pragmaValue(db, 'wal_autocheckpoint'), 1000, "SQLite's own checkpoint is on, as by default");
    assert.equal(db.inTransaction, false);
    assert.equal(cp.due(), false);
    await cp.run();
    assert.equal(failures.length, 1);
    assert.equal(cp.cycles, 0);
    await cp.close(() => db.close());
  });

  it('holdWrites: writes queued before it finish first, writes queued after wait for the release', async () => {
    const sql = new SqliteSql(dataDir(), { checkpoints: false });
    await sql.query('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const order: string[] = [];
    const before = sql.query('INSERT INTO t (body) VALUES ($1)', ['before']).then(() => order.push('before'));
    const held = sql.holdWrites().then((release) => {
      order.push('held');
      return release;
    });
    const after = sql.query('INSERT INTO t (body) VALUES ($1)', ['after']).then(() => order.push('after'));
    const release = await held;
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(order, ['before', 'held'], 'the write queued after the hold waits');
    // Reads are not held.
    assert.equal((await sql.query<{ n: number }>('SELECT count(*) AS n FROM t'))[0].n, 1);
    release();
    await Promise.all([before, after]);
    assert.deepEqual(order, ['before', 'held', 'after']);
    await sql.close();
  });

  it('the cluster primary: a due log makes a round (hold the workers, cycle, release) and the log restarts', async () => {
    const file = join(dataDir(), 'db.sqlite');
    const worker = openSqlite(file); // a worker's connection
    worker.exec('PRAGMA journal_mode = WAL');
    worker.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = worker.prepare('INSERT INTO t (body) VALUES (?)');
    const events: string[] = [];
    let holding = false;
    const primary = new ClusterCheckpoints(
      file,
      {
        hold: async (round) => {
          events.push(`hold ${round}`);
          holding = true;
        },
        release: (round) => {
          events.push(`release ${round}`);
          holding = false;
        },
      },
      { thresholdFrames: 8, pollMs: 60_000 },
    );
    await primary.poll();
    assert.deepEqual(events, [], 'nothing to do while the log is short');
    for (let i = 0; i < 20; i++) insert.all(['w'.repeat(3000)]);
    const round = primary.poll();
    assert.equal(holding, true);
    await round;
    assert.deepEqual(events, ['hold 1', 'release 1']);
    assert.equal(primary.cycles.cycles, 1);
    const { log, checkpointed } = primary.cycles.lastResult!;
    assert.ok(log >= 20 && checkpointed === log, JSON.stringify(primary.cycles.lastResult));
    insert.all(['after the round']); // the first write after a whole-log cycle restarts the log
    assert.ok(worker.prepare('PRAGMA wal_checkpoint(NOOP)').get<{ log: number }>()!.log < log);
    await primary.close();
    assert.equal(Number(worker.prepare('SELECT count(*) AS n FROM t').get()!.n), 21);
    assert.equal(pragmaValue(worker, 'integrity_check'), 'ok');
    worker.close();
  });
});
