/**
 * The generation store's queue (src/storage/generations.ts) on a real SQLite file: records are
 * readable from memory while queued and while their batch is being written, a batch whose
 * transaction fails is queued again (a newer version of a record queued meanwhile wins), and the
 * next flush writes it. The routing explanations' shared tails (src/storage/routing-lists.ts) are
 * written once, with the first batch that commits, on SQLite and PostgreSQL alike.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresSql, SqliteSql, type Sql } from '../src/storage/sql.js';
import { createTestDatabase } from './support/services.js';
import { migrate } from '../src/storage/migrations.js';
import { GenerationStore, placeholderRecord, type BatchParticipant, type GenerationRecord } from '../src/storage/generations.js';

function record(id: string, status: number): GenerationRecord {
  return { ...placeholderRecord(id, Date.now(), 'moonshotai/kimi-k2-0905', null), cancelled: false, status, errorCode: null, errorMessage: null };
}

describe('generation store queue', () => {
  it('a failed batch is queued again, readable meanwhile, and a newer version queued during the flush wins', async () => {
    const sql = new SqliteSql(mkdtempSync(join(tmpdir(), 'switchyard-store-')), { checkpoints: false });
    await migrate(sql);
    const store = new GenerationStore(sql, 60_000);
    let failNext = true;
    let duringFlush: (() => void) | null = null;
    const participant: BatchParticipant<string> = {
      take: () => ['settlement'],
      write: async () => {
        duringFlush?.();
        if (failNext) {
          failNext = false;
          throw new Error('disk full');
        }
      },
      done: () => undefined,
    };
    store.addParticipant(participant);
    store.onError = () => undefined;

    store.save(record('gen-a', 200));
    store.save(record('gen-b', 200));
    duringFlush = () => {
      // While the batch is being written: both records are still readable; a newer version of one arrives.
      assert.equal(store.queued, 2);
      store.save(record('gen-b', 499));
      duringFlush = null;
    };
    await assert.rejects(store.flush(), /disk full/);
    assert.equal(store.queued, 2, 'the failed batch is queued again, merged with what arrived meanwhile');
    assert.equal((await store.get('gen-a'))?.status, 200);
    assert.equal((await store.get('gen-b'))?.status, 499, 'the version queued during the flush wins');

    await store.flush();
    assert.equal(store.queued, 0);
    const rows = await sql.query<{ id: string; status: number }>('SELECT id, status FROM generations ORDER BY id');
    assert.deepEqual(rows.map((r) => [r.id, Number(r.status)]), [['gen-a', 200], ['gen-b', 499]]);
    assert.equal((await store.get('gen-b'))?.status, 499, 'read back from the database');
    await store.close();
    await sql.close();
  });
});

describe('routing explanations in the generation store', () => {
  const M = 'moonshotai/kimi-k2-0905';
  const explained = (id: string, latencyMs: number): GenerationRecord => ({
    ...record(id, 200),
    attempts: [
      { provider: 'Groq', endpoint: 'groq', model: M, status: 200, latencyMs, outcome: 'served' },
      ...['baseten', 'chutes', 'deepinfra', 'fireworks', 'novita'].map((e) => ({ provider: e, endpoint: e, model: M, status: null, latencyMs: 0, outcome: 'skipped' as const, reason: 'provider not configured' })),
    ],
  });

  async function storesTailsOnce(open: () => Sql): Promise<void> {
    const sql = open();
    await migrate(sql);
    const store = new GenerationStore(sql, 60_000);
    let fail = true;
    store.addParticipant({
      take: () => ['x'],
      write: async () => {
        if (fail) throw new Error('disk full');
      },
      done: () => undefined,
    });
    store.onError = () => undefined;
    store.save(explained('gen-1', 10));
    await assert.rejects(store.flush(), /disk full/);
    assert.equal((await sql.query('SELECT id FROM routing_lists')).length, 0, 'rolled back with its batch');
    fail = false;
    await store.flush();
    for (let i = 2; i <= 5; i++) store.save(explained(`gen-${i}`, i));
    await store.flush();
    const lists = await sql.query<{ id: string; body: string }>('SELECT id, body FROM routing_lists');
    assert.equal(lists.length, 1, 'a failed batch does not count its tail as stored; five records share one tail');
    const rows = await sql.query<{ attempts: string }>('SELECT attempts FROM generations');
    assert.equal(rows.length, 5);
    for (const r of rows) assert.ok(r.attempts.includes(lists[0].id) && !r.attempts.includes('baseten'), r.attempts);
    await store.close();
    await sql.close();

    // Another process: nothing cached, the tail comes from the database.
    const sql2 = open();
    const store2 = new GenerationStore(sql2, 60_000);
    assert.deepEqual((await store2.get('gen-3'))?.attempts, explained('gen-3', 3).attempts);
    store2.save(explained('gen-6', 6));
    await store2.flush();
    assert.equal((await sql2.query('SELECT id FROM routing_lists')).length, 1, 'a tail read back is known to be stored');
    assert.deepEqual((await store2.get('gen-6'))?.attempts, explained('gen-6', 6).attempts);
    await store2.close();
    await sql2.close();
  }

  it('SQLite: stores a repeated tail once, with the batch that first needs it, and reads it back in a fresh process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-tails-'));
    await storesTailsOnce(() => new SqliteSql(dir, { checkpoints: false }));
  });

  it('PostgreSQL: the same', async () => {
    const db = await createTestDatabase();
    try {
      await storesTailsOnce(() => new PostgresSql(db.url));
    } finally {
      await db.drop();
    }
  });
});
