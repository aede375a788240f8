/**
 * Waiting for another process's write lock on the SQLite file (src/storage/sql.ts, withLock):
 * the wait happens on timers, with the event loop free, not in SQLite's busy handler, which
 * sleeps in the calling thread. Two connections in one process show it: the second waits for a
 * transaction the first can only finish on the event loop. With a busy handler sleeping in the
 * thread the first could never commit, and the second would fail after its timeout.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteSql } from '../src/storage/sql.js';

describe('SQLite lock waits', () => {
  it('a transaction, an autocommit write and a read wait for another connection with the event loop free', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-locks-'));
    const first = new SqliteSql(dir, { checkpoints: false });
    const second = new SqliteSql(dir, { checkpoints: false });
    await first.query('CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)');

    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const order: string[] = [];
    // The first connection holds the write lock across 150 ms of timers.
    const holding = first.tx(async (q) => {
      await q.query("INSERT INTO t (who) VALUES ('first')");
      await sleep(150);
      order.push('first commits');
    });
    await sleep(10);
    const started = performance.now();
    assert.equal(order.length, 0, 'the first still holds the lock when the second starts');
    const waitingTx = second.tx(async (q) => {
      await q.query("INSERT INTO t (who) VALUES ('second tx')");
      order.push('second tx');
    });
    const waitingWrite = second.query("INSERT INTO t (who) VALUES ('second autocommit')").then(() => order.push('second autocommit'));
    const read = await second.query<{ n: number }>('SELECT count(*) AS n FROM t');
    assert.equal(Number(read[0].n), 0, 'a read does not wait: it sees the last commit');
    await Promise.all([holding, waitingTx, waitingWrite]);
    clearInterval(ticker);
    const waited = performance.now() - started;

    assert.deepEqual(order, ['first commits', 'second tx', 'second autocommit']);
    // The order shows the waiting; its length in ms depends on the machine's load, so it is not asserted.
    // A busy handler sleeping in the thread would let no timer fire (and the first could not commit
    // before it gave up). How many fire depends on the machine's load, so only "some" is asserted.
    assert.ok(ticks >= 1, `timers kept firing while it waited (${ticks} ticks of 5 ms in ${waited.toFixed(0)} ms)`);
    const rows = await first.query<{ who: string }>('SELECT who FROM t ORDER BY id');
    assert.deepEqual(rows.map((r) => r.who), ['first', 'second tx', 'second autocommit']);
    await first.close();
    await second.close();
  });
});
