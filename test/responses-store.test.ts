/**
 * Stored responses (src/ingress/responses/store.ts) on SQLite and PostgreSQL: previous_response_id
 * continues a chain of stored responses (reasoning signatures kept even when the client did not
 * ask for them), item_reference finds earlier output items, another key sees nothing, store:false
 * and failed responses are not kept, GET/DELETE bodies, tombstones for deleted responses that
 * others continue, and expiry extended along a chain, then cleaned up. Saves are group-committed:
 * one transaction per event-loop turn, each save resolved once committed, a failed batch rejecting
 * its saves without stopping the next, flush() for shutdown.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../src/core/errors.js';
import { generationId } from '../src/core/ids.js';
import type { GenerationRequest } from '../src/model/request.js';
import type { TokenUsage, UpstreamChunk } from '../src/model/response.js';
import type { ResponseIdentity } from '../src/pipeline/ingress.js';
import { responsesCodec } from '../src/ingress/responses/codec.js';
import type { ResponsesStreamEncoder } from '../src/ingress/responses/encode.js';
import { ResponseStore } from '../src/ingress/responses/store.js';
import { migrate } from '../src/storage/migrations.js';
import { PostgresSql, SqliteSql, type Sql } from '../src/storage/sql.js';
import { createTestDatabase } from './support/services.js';

type Json = Record<string, unknown>;

const CTX = { maxModels: 3 };
const USAGE: TokenUsage = { promptTokens: 10, completionTokens: 5, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, audioPromptTokens: 0 };
const COST = { prompt: 0, completion: 0, total: 0 };
const KEY = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const codec = responsesCodec();

const who = (request: GenerationRequest): ResponseIdentity => ({
  id: generationId(),
  created: Math.floor(Date.now() / 1000),
  model: 'anthropic/claude-sonnet-4.5',
  requestedModel: 'anthropic/claude-sonnet-4.5',
  provider: 'Anthropic',
  upstreamProtocol: 'anthropic',
  request,
});

const text = (content: string): UpstreamChunk => ({ choice: { content, finishReason: null } });
const thinking = (t: string, signature: string): UpstreamChunk => ({
  choice: { reasoningDetails: [{ type: 'reasoning.text', text: t, signature, format: 'anthropic-claude-v1', index: 0 }], finishReason: null },
});

/** One request through the front door as the pipeline runs it: prepare, parse, encode, save. */
async function turn(store: ResponseStore, owner: string, body: Json, chunks: UpstreamChunk[], fail = false): Promise<{ req: GenerationRequest; response: Json; saved: boolean }> {
  await store.prepare(body, owner);
  const req = codec.parse(body, {}, CTX);
  const enc = codec.streamEncoder(who(req)) as ResponsesStreamEncoder;
  enc.start();
  for (const c of chunks) enc.encode(c);
  if (fail) enc.fail({ status: 502, message: 'Provider returned error' });
  else enc.end(USAGE, COST);
  const saved = await store.saveRequest(req, owner);
  return { req, response: enc.response!, saved };
}

function rejects404(fn: () => Promise<unknown>, message: string): Promise<void> {
  return assert.rejects(fn, (err: unknown) => err instanceof ApiError && err.status === 404 && err.message === message);
}

async function behaves(open: () => Promise<Sql>): Promise<void> {
  const sql = await open();
  let clock = Date.now();
  const store = new ResponseStore(sql, { ttlMs: 1_000_000, now: () => clock });
  try {
    await migrate(sql);

    // 1. A first turn with signed thinking; the client did not ask for encrypted content.
    const first = await turn(store, KEY, { model: 'm', instructions: 'Be nice.', input: 'My name is Ada.' }, [thinking('Greet her.', 'sig-1'), text('Hello Ada')]);
    assert.equal(first.saved, true);
    const r1 = String(first.response.id);
    assert.equal(((first.response.output as Json[])[0]).encrypted_content, undefined, 'not shown to the client');

    // 2. Continued by id: the previous input and output come first, its instructions do not.
    const second = await turn(store, KEY, { model: 'm', instructions: 'Be terse.', previous_response_id: r1, input: 'What is my name?' }, [text('Ada.')]);
    assert.deepEqual(
      second.req.messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'user'],
    );
    assert.deepEqual(second.req.messages[0].content, [{ type: 'text', text: 'Be terse.' }]);
    assert.deepEqual(second.req.messages[2].content, [
      { type: 'reasoning', format: 'anthropic-claude-v1', text: 'Greet her.', signature: 'sig-1' },
      { type: 'text', text: 'Hello Ada' },
    ]);
    assert.equal(second.response.previous_response_id, r1);
    const r2 = String(second.response.id);

    // 3. A chain of three reads back in one query.
    const third = await turn(store, KEY, { model: 'm', previous_response_id: r2, input: 'And again?' }, [text('Still Ada.')]);
    assert.deepEqual(
      third.req.messages.map((m) => m.role),
      ['user', 'assistant', 'user', 'assistant', 'user'],
    );
    const r3 = String(third.response.id);

    // 4. item_reference: an output item of an earlier response.
    const messageId = String(((first.response.output as Json[])[1]).id);
    const ref = await turn(store, KEY, { model: 'm', store: false, input: [{ type: 'item_reference', id: messageId }, { role: 'user', content: 'ok?' }] }, [text('ok')]);
    assert.deepEqual(ref.req.messages[0], { role: 'assistant', content: [{ type: 'text', text: 'Hello Ada' }] });
    assert.equal(ref.saved, false, 'store:false is not kept');
    assert.equal(await store.load(String(ref.response.id), KEY), null);
    assert.deepEqual(await store.resolveItem(messageId, KEY), (first.response.output as Json[])[1]);

    // 5. Another key sees none of it.
    await rejects404(() => turn(store, OTHER, { model: 'm', previous_response_id: r1, input: 'x' }, []), `Previous response with id '${r1}' not found.`);
    await rejects404(() => turn(store, OTHER, { model: 'm', input: [{ type: 'item_reference', id: messageId }] }, []), `Item with id '${messageId}' not found.`);
    assert.equal(await store.resolveItem(messageId, OTHER), null);
    assert.equal((await store.getBody(r1, OTHER)).status, 404);
    assert.equal((await store.deleteBody(r1, OTHER)).status, 404);

    // 6. GET: the response object; encrypted reasoning only with include.
    const got = await store.getBody(r1, KEY);
    assert.equal(got.status, 200);
    const body = got.body as Json;
    assert.equal(body.id, r1);
    assert.equal(body.instructions, 'Be nice.');
    assert.equal(((body.output as Json[])[0]).encrypted_content, undefined);
    const withEnc = (await store.getBody(r1, KEY, ['reasoning.encrypted_content'])).body as Json;
    assert.match(String(((withEnc.output as Json[])[0]).encrypted_content), /^swy1:/);
    const items = (await store.inputItemsBody(r2, KEY, 'asc')).body as Json;
    assert.deepEqual(items.data, [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is my name?' }] }]);
    assert.deepEqual(await store.getBody('resp_nope', KEY), {
      status: 404,
      body: { error: { message: "Response with id 'resp_nope' not found.", type: 'invalid_request_error', param: null, code: 'not_found' } },
    });

    // 7. Failed responses are not kept.
    const failed = await turn(store, KEY, { model: 'm', input: 'x' }, [text('par')], true);
    assert.equal(failed.saved, false);

    // 8. Deleting a response another continues hides it but keeps the chain whole.
    assert.deepEqual(await store.deleteBody(r2, KEY), { status: 200, body: { id: r2, object: 'response', deleted: true } });
    assert.equal((await store.getBody(r2, KEY)).status, 404);
    await rejects404(() => turn(store, KEY, { model: 'm', previous_response_id: r2, input: 'x' }, []), `Previous response with id '${r2}' not found.`);
    const afterDelete = await turn(store, KEY, { model: 'm', store: false, previous_response_id: r3, input: 'still?' }, [text('yes')]);
    assert.equal(afterDelete.req.messages.length, 7, 'r1, r2 (hidden) and r3 still make the conversation');
    // Deleting the last one takes the hidden one with it; r1 stays.
    await store.delete(r3, KEY);
    const ids = (await sql.query<{ id: string }>('SELECT id FROM stored_responses ORDER BY created_at')).map((r) => r.id);
    assert.deepEqual(ids, [r1]);

    // 9. Expiry: a continuation extends its chain; cleanup removes what expired.
    clock += 600_000;
    const late = await turn(store, KEY, { model: 'm', previous_response_id: r1, input: 'later' }, [text('hi')]);
    clock += 600_000; // r1 would have expired by now without the extension
    assert.ok(await store.load(r1, KEY), 'extended with its continuation');
    assert.equal(await store.cleanup(), 0);
    clock += 1_000_000;
    assert.equal(await store.load(String(late.response.id), KEY), null);
    assert.equal(await store.cleanup(), 2);
    assert.equal((await sql.query('SELECT id FROM stored_responses')).length, 0);
  } finally {
    store.stop();
    await sql.close();
  }
}

describe('response store', () => {
  it('SQLite: conversations, item references, owners, GET/DELETE, tombstones, expiry', async () => {
    await behaves(async () => new SqliteSql(mkdtempSync(join(tmpdir(), 'switchyard-responses-')), { checkpoints: false }));
  });

  it('PostgreSQL: the same', async () => {
    const db = await createTestDatabase();
    try {
      await behaves(async () => new PostgresSql(db.url));
    } finally {
      await db.drop();
    }
  });

  it('saves of one event-loop turn are written in one transaction, each resolved once it is committed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-responses-'));
    const sql = new SqliteSql(dir, { checkpoints: false });
    await migrate(sql);
    // Another connection to the same file: what another worker process would read.
    const other = new SqliteSql(dir, { checkpoints: false });
    let transactions = 0;
    const tx = sql.tx.bind(sql);
    sql.tx = ((fn: Parameters<Sql['tx']>[0]) => {
      transactions++;
      return tx(fn);
    }) as Sql['tx'];
    const store = new ResponseStore(sql);
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `resp_batch${i}`);
      const visibleAtResolve = await Promise.all(
        ids.map(async (id) => {
          await store.save({ previousResponseId: null, input: [], response: { id, output: [], status: 'completed' } }, KEY);
          return (await other.query('SELECT id FROM stored_responses WHERE id = $1', [id])).length;
        }),
      );
      assert.deepEqual(visibleAtResolve, ids.map(() => 1), 'committed, for another connection, when save() resolves');
      assert.equal(transactions, 1);
      assert.equal(store.pending, 0);
      // Saved while a batch is being written (here: waiting for the write lock another process
      // holds): one batch more, right after it.
      let release!: () => void;
      const held = other.tx(() => new Promise<void>((r) => (release = r)));
      await new Promise((r) => setImmediate(r));
      const first = store.save({ previousResponseId: null, input: [], response: { id: 'resp_next0', output: [], status: 'completed' } }, KEY);
      while (transactions < 2) await new Promise((r) => setTimeout(r, 1));
      const later = [1, 2, 3].map((i) => store.save({ previousResponseId: 'resp_next0', input: [], response: { id: `resp_next${i}`, output: [], status: 'completed' } }, KEY));
      assert.equal(store.pending, 4);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(transactions, 2, 'the next batch waits for the one being written');
      release();
      await held;
      await Promise.all([first, ...later]);
      assert.equal(transactions, 3);
      assert.equal((await other.query('SELECT id FROM stored_responses WHERE previous_response_id = $1', ['resp_next0'])).length, 3);
    } finally {
      await sql.close();
      await other.close();
    }
  });

  it('a failed batch rejects each of its saves; the store goes on with the next batch; flush() waits for queued saves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-responses-'));
    const sql = new SqliteSql(dir, { checkpoints: false });
    await migrate(sql);
    const store = new ResponseStore(sql);
    const record = (id: string) => ({ previousResponseId: null, input: [], response: { id, output: [], status: 'completed' } });
    try {
      await sql.query("CREATE TRIGGER refuse_responses BEFORE INSERT ON stored_responses BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END");
      const outcomes = await Promise.allSettled([store.save(record('resp_f1'), KEY), store.save(record('resp_f2'), KEY)]);
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'saved')),
        ['disk full (test)', 'disk full (test)'],
      );
      assert.equal(store.pending, 0);
      await sql.query('DROP TRIGGER refuse_responses');
      await store.save(record('resp_ok'), KEY);
      assert.ok(await store.load('resp_ok', KEY));
      assert.equal(await store.load('resp_f1', KEY), null);

      // Not awaited: flush() is what shutdown waits on before the database closes.
      const queued = ['resp_q1', 'resp_q2', 'resp_q3'].map((id) => store.save(record(id), KEY));
      assert.equal(store.pending, 3);
      await store.flush();
      assert.equal(store.pending, 0);
      await Promise.all(queued);
      assert.equal((await sql.query("SELECT id FROM stored_responses WHERE id LIKE 'resp_q%'")).length, 3);
    } finally {
      await sql.close();
    }
  });

  it('periodic cleanup runs on an unref timer and stops', async () => {
    const sql = new SqliteSql(mkdtempSync(join(tmpdir(), 'switchyard-responses-')), { checkpoints: false });
    await migrate(sql);
    let clock = 0;
    const store = new ResponseStore(sql, { ttlMs: 10, now: () => clock });
    await store.save({ previousResponseId: null, input: [], response: { id: 'resp_x', output: [], status: 'completed' } }, null);
    clock = 100;
    store.startCleanup(5);
    await new Promise((r) => setTimeout(r, 40));
    store.stop();
    assert.equal((await sql.query('SELECT id FROM stored_responses')).length, 0);
    await sql.close();
  });
});
