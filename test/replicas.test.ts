/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Budgets that hold across replicas and crashes, with real `switchyard serve` processes:
 *
 * - Concurrency: two replicas sharing PostgreSQL and Redis (and, as the embedded default, one
 *   replica on SQLite), a key with a small limit, a few hundred concurrent streaming requests
 *   through all of them against a mock upstream reporting realistic usage. Every request is served
 *   or refused with 402, settled spend never exceeds the limit, and the ledger equals the sum of the
 *   generation records.
 * - Crash: kill -9 a replica in the middle of streams. Acknowledged records survive, every
 *   generation a client saw an id for has a record, and no reservation stays stuck: they expire and
 *   are reconciled, by the other replica or by the restarted one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { sharedStateEnv } from './support/services.js';
import { startServe, stopProc, type Proc } from './support/process.js';
import { streamWithUsage } from './support/usage-upstream.js';
import { openSql, type Sql } from '../src/storage/sql.js';
import { KeyStore } from '../src/keys/store.js';
import { LocalBus } from '../src/state/bus.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const TTL_MS = 1500;

type Replica = Proc & { url: string };

const startReplica = (env: Record<string, string>, cwd: string): Promise<Replica> => startServe(env, cwd);

const stop = (r: Replica | undefined): Promise<void> => stopProc(r);

interface Outcome {
  status: number;
  id: string | null;
  cost: number | null;
  body: string;
}

async function streamChat(url: string, key: string, i: number): Promise<Outcome> {
  const res = await fetch(`${url}/api/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: MODEL, stream: true, max_tokens: 300, provider: { only: ['groq'] }, messages: [{ role: 'user', content: `request ${i}: say something` }] }),
  });
  const body = await res.text();
  let cost: number | null = null;
  for (const block of body.split('\n\n')) {
    if (!block.startsWith('data: {')) continue;
    const chunk = JSON.parse(block.slice(6));
    if (chunk.usage) cost = chunk.usage.cost;
  }
  return { status: res.status, id: res.headers.get('x-generation-id'), cost, body };
}

interface Backend {
  name: string;
  replicas: number;
  setup(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'two replicas on PostgreSQL + Redis',
    replicas: 2,
    setup: sharedStateEnv,
  },
  {
    name: 'one replica on embedded SQLite',
    replicas: 1,
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'switchyard-replicas-'));
      return { env: { SWITCHYARD_DATA_DIR: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
];

for (const backend of BACKENDS) {
  describe(`budgets under concurrency and crashes (${backend.name})`, () => {
    let groq: MockUpstream;
    let env: Record<string, string>;
    let cleanup: () => Promise<void>;
    let replicas: Replica[] = [];
    let sql: Sql;
    let keys: KeyStore;
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-replicas-cwd-'));

    before(async () => {
      ({ env, cleanup } = await backend.setup());
      groq = await startMockUpstream();
      // Realistic usage: the prompt as the provider would count it (never above the gateway's
      // estimate of JSON length / 4), and a completion between 20 and max_tokens.
      let n = 0;
      groq.onRequest((req) => {
        const prompt = Math.ceil(JSON.stringify(req.json.messages).length / 4) - 2;
        const completion = 20 + ((n++ * 7919) % (req.json.max_tokens - 20));
        return streamWithUsage({ promptTokens: prompt, completionTokens: completion, words: 5, chunkDelayMs: 10 });
      });
      env = { ...env, GROQ_API_KEY: 'k', GROQ_BASE_URL: groq.baseUrl, SWITCHYARD_RESERVATION_TTL_MS: String(TTL_MS), LOG_LEVEL: 'info' };
      replicas = await Promise.all(Array.from({ length: backend.replicas }, () => startReplica(env, cwd)));
      sql = openSql({ databaseUrl: env.DATABASE_URL ?? null, dataDir: env.SWITCHYARD_DATA_DIR ?? '' });
      keys = new KeyStore(sql, new LocalBus());
    });
    after(async () => {
      await Promise.all(replicas.map(stop));
      await sql?.close();
      await groq?.close();
      await cleanup?.();
    });

    it('hundreds of concurrent streams: each served or refused with 402, spend <= limit, ledger == records', async () => {
      const LIMIT_USD = 0.03;
      const { key, row } = await keys.create({ name: 'concurrency', limitNano: LIMIT_USD * 1e9 });
      const N = 300;
      const started = Date.now();
      const outcomes = await Promise.all(
        Array.from({ length: N }, async (_v, i) => {
          await new Promise((r) => setTimeout(r, (i * 37) % 1200)); // spread over ~1.2 s
          return streamChat(replicas[i % replicas.length].url, key, i);
        }),
      );
      const elapsed = Date.now() - started;
      const served = outcomes.filter((o) => o.status === 200);
      const refused = outcomes.filter((o) => o.status === 402);
      assert.equal(served.length + refused.length, N, `unexpected statuses: ${outcomes.filter((o) => o.status !== 200 && o.status !== 402).map((o) => `${o.status} ${o.body.slice(0, 200)}`).join('\n')}`);
      for (const o of served) {
        assert.match(o.body, /data: \[DONE\]\n\n$/);
        assert.ok(o.cost !== null && o.cost > 0, 'every served stream ends with its cost');
      }
      for (const o of refused) assert.match(JSON.parse(o.body).error.message, /^This request requires more credits, or fewer max_tokens/);
      assert.ok(served.length >= 10 && refused.length >= 10, `both outcomes occur (served ${served.length}, refused ${refused.length})`);

      // Settlements are committed with the records a flush interval after each generation ends.
      let row2 = (await keys.get(row.hash))!;
      for (let i = 0; i < 100 && row2.reserved_nano !== 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        row2 = (await keys.get(row.hash))!;
      }
      assert.equal(row2.reserved_nano, 0, 'no reservation left');
      const [ledger] = await sql.query<any>('SELECT COUNT(*) AS n, SUM(charged_nano) AS charged, SUM(actual_nano) AS actual FROM ledger WHERE key_hash = $1', [row.hash]);
      const records = await sql.query<any>('SELECT id, cost FROM generations WHERE api_key_hash = $1', [row.hash]);
      const recordNano = records.reduce((s: number, r: any) => s + Math.round(Number(r.cost) * 1e9), 0);
      const clientNano = served.reduce((s, o) => s + Math.round(o.cost! * 1e9), 0);
      assert.ok(Number(ledger.charged) <= LIMIT_USD * 1e9, `spend ${Number(ledger.charged) / 1e9} <= limit ${LIMIT_USD}`);
      assert.equal(Number(ledger.charged), Number(ledger.actual), 'every actual cost was charged (no estimate exceeded)');
      assert.equal(Number(ledger.actual), recordNano, 'ledger == sum of generation records');
      assert.equal(recordNano, clientNano, 'and == what the clients were told');
      assert.equal(row2.usage_nano, Number(ledger.charged));
      assert.deepEqual(records.map((r: any) => r.id).sort(), served.map((o) => o.id).sort(), 'one record per served request, none for refused ones');
      assert.equal(Number(ledger.n), served.length);
      process.stdout.write(
        `# concurrency (${backend.name}): ${N} requests in ${elapsed} ms, served ${served.length}, refused 402 ${refused.length}, ` +
          `spend $${(Number(ledger.charged) / 1e9).toFixed(6)} of limit $${LIMIT_USD}\n`,
      );
    });

    it('kill -9 mid-stream: acknowledged records survive, reservations are reconciled, nothing is lost', async () => {
      const { key, row } = await keys.create({ name: 'crash', limitNano: 1e9 });
      const victim = replicas[replicas.length - 1];
      // Acknowledged: finished generations whose records are committed (readable from the database).
      const done = await Promise.all(Array.from({ length: 5 }, (_v, i) => streamChat(victim.url, key, i)));
      for (const o of done) assert.equal(o.status, 200);
      for (let i = 0; i < 100; i++) {
        const rows = await sql.query<any>(`SELECT COUNT(*) AS n FROM generations WHERE api_key_hash = $1`, [row.hash]);
        if (Number(rows[0].n) === 5) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      // In flight: long streams, killed after their first content arrived.
      groq.enqueue(...Array.from({ length: 8 }, () => streamWithUsage({ promptTokens: 5, completionTokens: 200, words: 100, chunkDelayMs: 50 })));
      const inflight = await Promise.all(
        Array.from({ length: 8 }, async (_v, i) => {
          const res = await fetch(`${victim.url}/api/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
            body: JSON.stringify({ model: MODEL, stream: true, max_tokens: 300, provider: { only: ['groq'] }, messages: [{ role: 'user', content: `long ${i}` }] }),
          });
          assert.equal(res.status, 200);
          const reader = res.body!.getReader();
          let seen = '';
          while (!seen.includes('w1 ')) seen += new TextDecoder().decode((await reader.read()).value);
          return { id: res.headers.get('x-generation-id')!, reader };
        }),
      );
      const reservedBefore = (await keys.get(row.hash))!.reserved_nano;
      assert.ok(reservedBefore > 0, 'the in-flight streams hold reservations');
      victim.child.kill('SIGKILL');
      const killedAt = Date.now();
      await victim.exited;
      for (const s of inflight) await s.reader.cancel().catch(() => undefined);

      // Restart the killed replica (on SQLite it is the only one, and it does the reconciling).
      const restarted = await startReplica(env, cwd);
      replicas[replicas.length - 1] = restarted;
      const deadline = Date.now() + TTL_MS * 4 + 3000;
      let reserved = reservedBefore;
      let outstanding = 1;
      while (Date.now() < deadline && (reserved !== 0 || outstanding !== 0)) {
        await new Promise((r) => setTimeout(r, 100));
        reserved = (await keys.get(row.hash))!.reserved_nano;
        outstanding = Number((await sql.query<any>('SELECT COUNT(*) AS n FROM reservations WHERE key_hash = $1', [row.hash]))[0].n);
      }
      const reconciledMs = Date.now() - killedAt;
      assert.equal(outstanding, 0, 'no reservation stays stuck');
      assert.equal(reserved, 0, "the key's reserved amount is back to zero");

      const ids = [...done.map((o) => o.id!), ...inflight.map((s) => s.id)];
      const recs = await sql.query<any>(`SELECT id, cost, error_message FROM generations WHERE api_key_hash = $1`, [row.hash]);
      const byId = new Map(recs.map((r: any) => [r.id, r]));
      for (const o of done) assert.ok(byId.has(o.id), `acknowledged record ${o.id} survived`);
      for (const id of ids) assert.ok(byId.has(id), `generation ${id} has a record`);
      for (const s of inflight) assert.match(byId.get(s.id).error_message, /^reconciled:/);
      const [ledger] = await sql.query<any>('SELECT SUM(actual_nano) AS actual, SUM(charged_nano) AS charged FROM ledger WHERE key_hash = $1', [row.hash]);
      const recordNano = recs.reduce((s: number, r: any) => s + Math.round(Number(r.cost) * 1e9), 0);
      assert.equal(Number(ledger.actual), recordNano, 'ledger == sum of generation records after the crash');
      assert.equal((await keys.get(row.hash))!.usage_nano, Number(ledger.charged));

      // The restarted replica serves again.
      const again = await streamChat(restarted.url, key, 99);
      assert.equal(again.status, 200);
      process.stdout.write(`# crash (${backend.name}): ${inflight.length} streams killed; reservations reconciled ${reconciledMs} ms after kill -9 (TTL ${TTL_MS} ms)\n`);
    });
  });
}

