/**
 * The access log: one `info` line per finished request (served, failed, cancelled, refused) with
 * the generation id, key label, front door, model, provider, status, tokens, cost, duration, TTFT
 * and attempts; ISO 8601 times and level names; `log.access: false` switches it off.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatCompletion, startMockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, rngPicking, startGateway } from './support/gateway.js';
import { fetchGeneration } from './support/requests.js';
import { createLogger } from '../src/observability/logger.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const KEY = 'sk-access-log-test-key';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm' };
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

describe('access log', () => {
  it('writes one line per finished request with its facts', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('info', undefined, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const groq = await startMockUpstream();
    const novita = await startMockUpstream();
    const gw = await startGateway({ providers: { groq: groq.baseUrl, novita: novita.baseUrl }, apiKeys: [KEY], logger });
    const auth = { authorization: `Bearer ${KEY}` };
    const access = () => lines.filter((l) => l.msg === 'request');
    try {
      // Served after a fallback, streamed.
      gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
      groq.enqueue({ status: 500, json: { error: { message: 'boom' } } });
      novita.enqueue({
        sse: [chunk({ role: 'assistant', content: 'Hi' }), chunk({}, 'stop'), `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 6, completion_tokens: 2, total_tokens: 8 } })}\n\n`, 'data: [DONE]\n\n'],
      });
      let res = await postChat(gw, { model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }, auth);
      assert.equal(res.status, 200);
      await readSse(res);
      const served = res.headers.get('x-generation-id')!;
      const rec = await fetchGeneration(gw, served, auth);

      // Every provider fails: 502, nobody served.
      (gw.app as unknown as { health: unknown }).health = new (gw.app.health.constructor as new (ms: number) => typeof gw.app.health)(30_000);
      gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
      groq.enqueue({ status: 503, json: { error: { message: 'down' } } });
      novita.enqueue({ status: 503, json: { error: { message: 'down too' } } });
      res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }, auth);
      assert.equal(res.status, 502);
      await res.text();
      const failed = res.headers.get('x-generation-id')!;

      // Refused: no key.
      res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(res.status, 401);
      await res.text();
      const refused = res.headers.get('x-generation-id')!;

      // One body, served first time.
      groq.enqueue({ json: chatCompletion('ok', { prompt_tokens: 4, completion_tokens: 1 }) });
      gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
      (gw.app as unknown as { health: unknown }).health = new (gw.app.health.constructor as new (ms: number) => typeof gw.app.health)(30_000);
      res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }, auth);
      assert.equal(res.status, 200);
      await res.text();
      const plain = res.headers.get('x-generation-id')!;

      for (let i = 0; i < 50 && access().length < 4; i++) await new Promise((r) => setTimeout(r, 10));
      const byId = new Map(access().map((l) => [l.gen, l]));
      assert.equal(access().length, 4, JSON.stringify(access()));
      for (const l of access()) {
        assert.equal(l.level, 'info');
        assert.match(String(l.time), ISO);
      }

      const s = byId.get(served)!;
      assert.equal(s.key, 'env key 1');
      assert.equal(s.api, 'chat_completions');
      assert.equal(s.model, MODEL);
      assert.equal(s.provider, 'novita');
      assert.equal(s.status, 200);
      assert.equal(s.stream, true);
      assert.equal(s.promptTokens, 6);
      assert.equal(s.completionTokens, 2);
      assert.equal(s.cost, rec.total_cost);
      assert.equal(s.durationMs, rec.latency);
      assert.equal(s.ttftMs, rec.ttft);
      assert.equal(s.attempts, 2);
      assert.equal('error' in s, false);

      const f = byId.get(failed)!;
      assert.equal(f.status, 502);
      assert.equal(f.provider, null, 'nobody served');
      assert.equal(f.attempts, 2);
      assert.equal(f.cost, 0);
      assert.match(String(f.error), /down too/);

      const r = byId.get(refused)!;
      assert.equal(r.status, 401);
      assert.equal(r.key, null);
      assert.equal(r.attempts, 0);
      assert.equal(r.provider, null);

      const p = byId.get(plain)!;
      assert.deepEqual([p.status, p.provider, p.attempts, p.promptTokens, p.completionTokens, p.stream], [200, 'groq', 1, 4, 1, false]);
      assert.equal(typeof p.ttftMs, 'number');
    } finally {
      await gw.close();
      await groq.close();
      await novita.close();
    }
  });

  it('log.access: false switches it off; the other lines keep ISO times and level names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-access-off-'));
    writeFileSync(join(dir, 'switchyard.yaml'), 'log:\n  access: false\n');
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('info', undefined, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const groq = await startMockUpstream();
    const gw = await startGateway({ providers: { groq: groq.baseUrl }, configFile: join(dir, 'switchyard.yaml'), logger });
    try {
      groq.enqueue({ status: 500, json: { error: { message: 'boom' } } });
      const res = await postChat(gw, { model: MODEL, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(res.status, 502);
      await res.text();
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(lines.filter((l) => l.msg === 'request').length, 0);
      const warn = lines.find((l) => l.msg === 'upstream attempt failed');
      assert.ok(warn, JSON.stringify(lines));
      assert.equal(warn.level, 'warn');
      assert.match(String(warn.time), ISO);
    } finally {
      await gw.close();
      await groq.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GET /api/v1/generations', () => {
  it('lists generation records newest first, filtered, a page at a time; a key sees its own', async () => {
    const groq = await startMockUpstream();
    groq.onRequest((req) => (req.json?.messages?.[0]?.content === 'fail' ? { status: 500, json: { error: { message: 'boom' } } } : { json: chatCompletion('ok', { prompt_tokens: 3, completion_tokens: 1 }) }));
    const gw = await startGateway({ providers: { groq: groq.baseUrl } });
    try {
      const keys = gw.app.keyStore;
      const mgmt = (await keys.create({ name: 'ops', management: true })).key;
      const a = await keys.create({ name: 'team-a' });
      const b = await keys.create({ name: 'team-b' });
      const auth = (key: string) => ({ authorization: `Bearer ${key}` });
      const made: { id: string; key: string }[] = [];
      const chat = async (key: string, content: string) => {
        const res = await postChat(gw, { model: MODEL, provider: { only: ['groq'] }, messages: [{ role: 'user', content }] }, auth(key));
        await res.text();
        made.push({ id: res.headers.get('x-generation-id')!, key });
        return res.status;
      };
      assert.equal(await chat(a.key, 'one'), 200);
      assert.equal(await chat(a.key, 'fail'), 502);
      assert.equal(await chat(a.key, 'three'), 200);
      assert.equal(await chat(b.key, 'four'), 200);
      const res = await fetch(`${gw.baseUrl}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': b.key },
        body: JSON.stringify({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'five' }] }),
      });
      assert.equal(res.status, 200);
      await res.text();
      made.push({ id: res.headers.get('x-generation-id')!, key: b.key });

      const list = async (query: string, key = mgmt) => {
        const r = await fetch(`${gw.baseUrl}/generations${query}`, { headers: auth(key) });
        const body = (await r.json()) as { data: Record<string, unknown>[]; has_more: boolean; next_cursor: string | null; error?: { message: string } };
        return { status: r.status, ...body };
      };
      const ids = (items: Record<string, unknown>[]) => items.map((g) => g.id);
      const newestFirst = made.map((m) => m.id).reverse();

      const everything = await list('');
      assert.equal(everything.status, 200);
      assert.deepEqual(ids(everything.data), newestFirst);
      assert.equal(everything.has_more, false);
      assert.equal(everything.next_cursor, null);
      const failed = everything.data.find((g) => g.status === 502)!;
      assert.deepEqual(failed.error, { code: 502, message: 'boom' });
      assert.deepEqual((failed.attempts as { outcome: string; status: number }[]).map((t) => [t.outcome, t.status]), [['failed', 500]]);
      const messages = everything.data[0];
      assert.equal(messages.api, 'messages');
      assert.equal(messages.api_key_hash, b.row.hash);
      assert.equal(messages.provider, 'groq');
      assert.equal(messages.provider_name, 'Groq');
      assert.equal(messages.tokens_prompt, 3);
      assert.match(String(messages.created_at), ISO);
      for (const k of ['model', 'status', 'total_cost', 'latency', 'ttft', 'api_key', 'streamed', 'cancelled', 'finish_reason']) assert.ok(k in messages, k);

      assert.deepEqual(ids((await list(`?key=${a.row.hash}`)).data), newestFirst.slice(2));
      assert.deepEqual(ids((await list(`?key=${encodeURIComponent(b.row.label)}`)).data), newestFirst.slice(0, 2));
      assert.deepEqual(ids((await list('?status=error')).data), [failed.id]);
      assert.equal((await list('?status=2xx')).data.length, 4);
      assert.equal((await list('?status=502,200')).data.length, 5);
      assert.deepEqual(ids((await list('?api=messages')).data), [newestFirst[0]]);
      assert.equal((await list('?api=chat_completions')).data.length, 4);
      assert.equal((await list(`?model=${encodeURIComponent(MODEL)}&provider=groq`)).data.length, 5);
      assert.equal((await list('?provider=novita')).data.length, 0);
      assert.equal((await list(`?from=${Date.now() + 3_600_000}`)).data.length, 0);
      assert.equal((await list(`?to=${new Date(Date.now() + 60_000).toISOString()}`)).data.length, 5);

      // Pages of two, following the cursor: every record once, in order.
      const seen: unknown[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...ids(page.data));
        cursor = page.next_cursor;
        assert.equal(page.has_more, cursor !== null);
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.deepEqual(seen, newestFirst);

      // An inference key sees its own generations only.
      assert.deepEqual(ids((await list('', a.key)).data), newestFirst.slice(2));
      assert.deepEqual(ids((await list(`?key=${b.row.hash}`, a.key)).data), []);
      assert.equal((await fetch(`${gw.baseUrl}/generations`)).status, 401);

      for (const bad of ['?limit=0', '?limit=501', '?status=weird', '?cursor=nonsense', '?api=rerank', '?from=yesterday']) {
        const r = await list(bad);
        assert.equal(r.status, 400, bad);
        assert.ok(r.error?.message, bad);
      }
    } finally {
      await gw.close();
      await groq.close();
    }
  });
});
