/**
 * WAL checkpoints on a worker thread (src/storage/wal-checkpointer.ts), on real SQLite files:
 * the main connection stops checkpointing inside its commits, the thread does it, nothing
 * written is lost, and when the thread cannot run, automatic checkpoints come back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteSql } from '../src/storage/sql.js';
import { INLINE_AUTOCHECKPOINT_PAGES, WalCheckpointer, type CheckpointResult } from '../src/storage/wal-checkpointer.js';

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A WAL-mode database file with one table. */
function walFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'switchyard-wal-')), 'db.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
  db.close();
  return file;
}

describe('WAL checkpoints off the event loop', () => {
  it('after the first commits a thread checkpoints, the main connection no longer does, and every row survives', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-wal-'));
    const sql = new SqliteSql(dir);
    await sql.query('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const body = 'x'.repeat(2000);
    const autocheckpoint = async () => (await sql.query<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint'))[0].wal_autocheckpoint;
    assert.equal(await autocheckpoint(), INLINE_AUTOCHECKPOINT_PAGES, 'SQLite checkpoints inline until the thread runs');
    assert.equal(sql.checkpointer.active, false);

    const write = () =>
      sql.tx(async (q) => {
        for (let j = 0; j < 5; j++) await q.query('INSERT INTO t (body) VALUES ($1)', [body]);
      });
    let written = 0;
    for (; written < 100; written++) await write();
    assert.equal(sql.checkpointer.active, true, 'the thread starts after 64 commits');
    // Writes go on, as under load; a checkpoint may find another one (SQLite's own, until the
    // thread is online) under way and report busy, so wait for one that copied frames.
    const deadline = Date.now() + 10_000;
    while (!((sql.checkpointer.lastResult?.checkpointed ?? 0) > 0)) {
      assert.ok(Date.now() < deadline, `no checkpoint copied frames: ${JSON.stringify(sql.checkpointer.lastResult)}`);
      await write();
      written++;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await autocheckpoint(), 0, 'automatic checkpoints are off while the thread runs');
    await sql.close();
    // The last connection to close checkpoints the rest and removes the log.
    assert.equal(existsSync(join(dir, 'switchyard.sqlite-wal')), false);
    const again = new SqliteSql(dir);
    assert.equal((await again.query<{ n: number }>('SELECT count(*) AS n FROM t'))[0].n, written * 5);
    await again.close();
  });

  it('a thread that cannot open the database switches automatic checkpoints back on', async () => {
    const calls: number[] = [];
    const cp = new WalCheckpointer(join(tmpdir(), 'switchyard-no-such-dir', 'missing.sqlite'), {
      setAutocheckpoint: (pages) => calls.push(pages),
      checkpoint: () => assert.fail('no inline checkpoint expected'),
    }, { startAfterCommits: 1 });
    cp.committed();
    await until(() => calls.includes(INLINE_AUTOCHECKPOINT_PAGES), 'the fallback');
    assert.equal(cp.active, false);
    cp.committed(); // after the failure: nothing more is posted or started
    await cp.close();
  });

  it('a thread that was never closed does not keep the process alive', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-wal-'));
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/wal/unclosed.ts', dir], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.signal, null, 'the process had to be killed: the thread kept it alive');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /checkpoints 1/);
  });

  it('a log past maxLogFrames is checkpointed once on the main connection', async () => {
    const file = walFile();
    const db = new Database(file);
    let inline = 0;
    const cp = new WalCheckpointer(file, {
      setAutocheckpoint: (pages) => db.pragma(`wal_autocheckpoint = ${pages}`),
      checkpoint: () => {
        inline++;
        return (db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0];
      },
    }, { startAfterCommits: 1, minIntervalMs: 0, maxLogFrames: 1 });
    db.prepare('INSERT INTO t (body) VALUES (?)').run('a');
    cp.committed();
    await until(() => cp.checkpoints === 1, 'the thread\'s checkpoint');
    assert.equal(inline, 0);
    db.prepare('INSERT INTO t (body) VALUES (?)').run('b');
    cp.committed(); // the thread reported a log of ≥ 1 frame: this one runs here
    assert.equal(inline, 1);
    assert.equal(cp.lastResult!.log, cp.lastResult!.checkpointed);
    await cp.close();
    db.close();
  });
});
