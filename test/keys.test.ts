/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Keys, credits and limits over real loopback HTTP, on both storage backends: the embedded SQLite
 * default, and PostgreSQL + Redis (a database and a key prefix of its own per run). The key API in
 * OpenRouter's shapes, the CLI bootstrap, 401/402/429 as clients see them (openai SDK and fetch),
 * reserve-then-settle accounting, analytics, and what must never leak.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import pino from 'pino';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, startGateway, type Gateway } from './support/gateway.js';
import { sharedStateEnv } from './support/services.js';
import { jsonWithUsage, streamWithUsage } from './support/usage-upstream.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const MODEL = 'moonshotai/kimi-k2-0905';
// Groq's kimi-k2 price in the catalog: $1/M prompt, $3/M completion.
const cost = (p: number, c: number) => Number((p * 1e-6 + c * 3e-6).toFixed(9));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const USAGE = { promptTokens: 8, completionTokens: 100 };

interface Backend {
  name: string;
  setup(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  { name: 'embedded SQLite', setup: async () => ({ env: {}, cleanup: async () => undefined }) },
  {
    name: 'PostgreSQL + Redis',
    setup: sharedStateEnv,
  },
];

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src', 'cli', 'entry.ts'), ...args], {
    cwd: mkdtempSync(join(tmpdir(), 'switchyard-keys-cli-')),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((r) => child.on('exit', (code) => r({ code, stdout, stderr })));
}

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const json = (key: string) => ({ ...auth(key), 'content-type': 'application/json' });
const chat = (max_tokens = 100, stream = true) => ({ model: MODEL, stream, max_tokens, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'hi' }] });

for (const backend of BACKENDS) {
  describe(`keys, credits and limits (${backend.name})`, () => {
    let groq: MockUpstream;
    let gw: Gateway;
    let env: Record<string, string>;
    let cleanup: () => Promise<void>;
    let mkey = '';
    const logs: string[] = [];
    const api = (path: string, key: string, init: RequestInit = {}) => fetch(`${gw.baseUrl}${path}`, { ...init, headers: { ...json(key), ...(init.headers ?? {}) } });
    const newKey = async (body: Record<string, unknown>) => {
      const res = await api('/keys', mkey, { method: 'POST', body: JSON.stringify(body) });
      assert.equal(res.status, 201);
      return (await res.json()) as { data: any; key: string };
    };

    before(async () => {
      ({ env, cleanup } = await backend.setup());
      groq = await startMockUpstream();
      groq.onRequest((req) => (req.json?.stream ? streamWithUsage(USAGE) : jsonWithUsage(USAGE)));
      const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
      gw = await startGateway({ providers: { groq: groq.baseUrl }, env: { ...env, SWITCHYARD_RESERVATION_TTL_MS: '3000' }, logger });
    });
    after(async () => {
      await gw?.close();
      await groq?.close();
      await cleanup?.();
    });

    it('auth stays off while no key exists; the key API then needs the CLI bootstrap', async () => {
      const res = await postChat(gw, chat());
      assert.equal(res.status, 200);
      await res.text();
      const me = (await (await fetch(`${gw.baseUrl}/key`)).json()) as any;
      assert.equal(me.data.label, 'anonymous');
      assert.equal(me.data.limit, null);
      const keys = await fetch(`${gw.baseUrl}/keys`);
      assert.equal(keys.status, 401);
      assert.match(((await keys.json()) as any).error.metadata.hint, /switchyard keys create --management/);
      const credits = (await (await fetch(`${gw.baseUrl}/credits`)).json()) as any;
      assert.equal(credits.data.unlimited, true);
      assert.equal(typeof credits.data.total_credits, 'number');
    });

    it('switchyard keys create --management bootstraps the first key (printed once); auth turns on', async () => {
      const r = await cli(['keys', 'create', '--management', '--label', 'ops'], { ...env, SWITCHYARD_DATA_DIR: gw.dataDir });
      assert.equal(r.code, 0, r.stderr);
      mkey = r.stdout.trim();
      assert.match(mkey, /^sk-sy-v1-[0-9a-f]{64}$/);
      assert.match(r.stderr, new RegExp(`management key "ops" \\(hash ${sha256(mkey)}\\)`));
      // The first key anywhere turns auth on at once, on a running server too.
      const anon = await postChat(gw, chat());
      assert.deepEqual([anon.status, await anon.json()], [401, { error: { message: 'No auth credentials found', code: 401 } }]);
      const wrong = await postChat(gw, chat(), auth('sk-sy-v1-' + '0'.repeat(64)));
      assert.deepEqual([wrong.status, ((await wrong.json()) as any).error.message], [401, 'User not found.']);
      const list = await cli(['keys', 'list'], { ...env, SWITCHYARD_DATA_DIR: gw.dataDir });
      assert.match(list.stdout, new RegExp(`${sha256(mkey)}  management  enabled`));
      assert.doesNotMatch(list.stdout + list.stderr, new RegExp(mkey));
    });

    it('key lifecycle through /api/v1/keys in OpenRouter shapes', async () => {
      const created = await newKey({ name: 'app one', limit: 5, limit_reset: 'monthly', rate_limit: { requests: 100, interval: '1m' } });
      assert.match(created.key, /^sk-sy-v1-[0-9a-f]{64}$/);
      assert.equal(created.data.hash, sha256(created.key));
      assert.equal(created.data.label, `${created.key.slice(0, 12)}...${created.key.slice(-3)}`);
      for (const field of ['hash', 'name', 'label', 'disabled', 'limit', 'limit_remaining', 'limit_reset', 'include_byok_in_limit', 'usage', 'usage_daily', 'usage_weekly', 'usage_monthly', 'byok_usage', 'byok_usage_daily', 'byok_usage_weekly', 'byok_usage_monthly', 'created_at', 'updated_at', 'expires_at', 'creator_user_id', 'workspace_id']) {
        assert.ok(field in created.data, `ApiKey.${field}`);
      }
      assert.deepEqual([created.data.limit, created.data.limit_remaining, created.data.limit_reset, created.data.usage, created.data.disabled], [5, 5, 'monthly', 0, false]);
      assert.match(created.data.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const hash = created.data.hash as string;

      const list = (await (await api('/keys', mkey)).json()) as any;
      assert.ok(list.data.some((k: any) => k.hash === hash));
      assert.equal((await (await api(`/keys/${hash}`, mkey)).json() as any).data.name, 'app one');
      const patched = (await (await api(`/keys/${hash}`, mkey, { method: 'PATCH', body: JSON.stringify({ name: 'app 1', limit: 7 }) })).json()) as any;
      assert.deepEqual([patched.data.name, patched.data.limit], ['app 1', 7]);
      assert.notEqual(patched.data.updated_at, null);

      const ok = await postChat(gw, chat(), auth(created.key));
      assert.equal(ok.status, 200);
      await ok.text();
      assert.deepEqual(await (await api(`/keys/${hash}`, mkey, { method: 'DELETE' })).json(), { deleted: true });
      assert.equal((await api(`/keys/${hash}`, mkey)).status, 404);
      assert.equal((await api(`/keys/${hash}`, mkey, { method: 'DELETE' })).status, 404);
      const gone = await postChat(gw, chat(), auth(created.key));
      assert.deepEqual([gone.status, ((await gone.json()) as any).error.message], [401, 'User not found.']);

      const bad = await api('/keys', mkey, { method: 'POST', body: JSON.stringify({ limit: 1 }) });
      assert.deepEqual([bad.status, ((await bad.json()) as any).error.message], [400, 'name is required']);
      const badReset = await api('/keys', mkey, { method: 'POST', body: JSON.stringify({ name: 'x', limit_reset: 'hourly' }) });
      assert.equal(badReset.status, 400);
      const zone = await api('/keys', mkey, { method: 'POST', body: JSON.stringify({ name: 'x', expires_at: '2030-01-01T00:00:00+02:00' }) });
      assert.equal(zone.status, 400);
      assert.equal((await api(`/keys/${'f'.repeat(64)}`, mkey, { method: 'PATCH', body: '{"name":"y"}' })).status, 404);
    });

    it('keys are stored only as their SHA-256; management and inference keys stay in their lanes', async () => {
      const { key, data } = await newKey({ name: 'lanes' });
      const rows = await gw.app.sql.query<Record<string, unknown>>('SELECT * FROM api_keys');
      const dump = JSON.stringify(rows);
      assert.ok(!dump.includes(key) && !dump.includes(mkey), 'no plaintext key in the database');
      assert.ok(dump.includes(data.hash));
      // Inference key on management endpoints: 403; management key for inference: 403.
      for (const [method, path] of [['GET', '/keys'], ['POST', '/keys'], ['GET', `/keys/${data.hash}`], ['PATCH', `/keys/${data.hash}`], ['DELETE', `/keys/${data.hash}`], ['GET', '/credits']]) {
        const res = await api(path, key, { method, body: method === 'POST' || method === 'PATCH' ? '{"name":"z"}' : undefined });
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal(((await res.json()) as any).error.code, 403);
      }
      const mgmtChat = await postChat(gw, chat(), auth(mkey));
      assert.equal(mgmtChat.status, 403);
      assert.match(((await mgmtChat.json()) as any).error.message, /Management keys cannot be used for inference/);
      // GET /key accepts both kinds.
      assert.equal(((await (await api('/key', mkey)).json()) as any).data.is_management_key, true);
      assert.equal(((await (await api('/key', key)).json()) as any).data.is_management_key, false);
      assert.equal((await api('/auth/key', key)).status, 200);
    });

    it('402 in OpenRouter shape through the openai SDK when the key limit cannot cover the worst case', async () => {
      const { key, data } = await newKey({ name: 'small', limit: 0.001 });
      const client = new OpenAI({ baseURL: gw.baseUrl, apiKey: key, maxRetries: 0 });
      // Worst case: 8 prompt tokens + 1000 output tokens at $3/M = $0.003008 > $0.001.
      await assert.rejects(
        client.chat.completions.create({ model: MODEL, max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] }),
        (err: any) => {
          assert.equal(err.status, 402);
          assert.equal(err.error.code, 402);
          assert.match(err.error.message, /^This request requires more credits, or fewer max_tokens\. You requested up to 1000 tokens, but can only afford \d+\. To increase, /);
          assert.deepEqual(err.error.metadata, { provider_name: null });
          return true;
        },
      );
      const before = groq.requests.length;
      const raw = await postChat(gw, chat(1000, false), auth(key));
      assert.equal(raw.status, 402);
      assert.deepEqual(Object.keys(((await raw.json()) as any).error), ['message', 'code', 'metadata']);
      assert.equal(groq.requests.length, before, 'a refused request never reaches a provider');
      // A request whose worst case fits is served and charged its actual cost.
      const done = await client.chat.completions.create({ model: MODEL, max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(done.usage?.completion_tokens, 100);
      await gw.app.store.flush();
      const me = (await (await api('/key', key)).json()) as any;
      assert.equal(me.data.usage, cost(8, 100));
      assert.equal(me.data.limit_remaining, Number((0.001 - cost(8, 100)).toFixed(9)));
      assert.equal((await gw.app.keyStore.get(data.hash))!.reserved_nano, 0, 'nothing stays reserved');
    });

    it('429 with Retry-After and X-RateLimit-* headers; tokens per minute too', async () => {
      const { key } = await newKey({ name: 'rl', rate_limit: { requests: 2, interval: '1h' } });
      for (let i = 0; i < 2; i++) {
        const res = await postChat(gw, chat(), auth(key));
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-ratelimit-limit'), null, 'no rate-limit headers on success');
        await res.text();
      }
      const res = await postChat(gw, chat(), auth(key));
      assert.equal(res.status, 429);
      assert.deepEqual(await res.json(), { error: { message: 'Rate limit exceeded', code: 429, metadata: { error_type: 'rate_limit_exceeded', limit_type: 'requests' } } });
      const retry = Number(res.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 3600, `Retry-After ${retry}`);
      assert.equal(res.headers.get('x-ratelimit-limit'), '2');
      assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
      const reset = Number(res.headers.get('x-ratelimit-reset'));
      assert.ok(reset > Date.now() && reset <= Date.now() + 3_600_000, 'reset is epoch ms');
      const client = new OpenAI({ baseURL: gw.baseUrl, apiKey: key, maxRetries: 0 });
      await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }), (err: any) => err.status === 429);

      const tpm = await newKey({ name: 'tpm', rate_limit: { tokens_per_minute: 50 } });
      const first = await postChat(gw, chat(), auth(tpm.key));
      assert.equal(first.status, 200);
      await first.text();
      const second = await postChat(gw, chat(), auth(tpm.key));
      assert.equal(second.status, 429);
      assert.equal(((await second.json()) as any).error.metadata.limit_type, 'tokens');
    });

    it('a disabled key is refused at once; enabled again it works', async () => {
      const { key, data } = await newKey({ name: 'toggle' });
      const warm = await postChat(gw, chat(), auth(key)); // cached on this replica now
      assert.equal(warm.status, 200);
      await warm.text();
      assert.equal((await api(`/keys/${data.hash}`, mkey, { method: 'PATCH', body: '{"disabled":true}' })).status, 200);
      const refused = await postChat(gw, chat(), auth(key));
      assert.deepEqual([refused.status, ((await refused.json()) as any).error.message], [401, 'User not found.']);
      assert.equal((await api('/key', key)).status, 401);
      const listed = (await (await api('/keys', mkey)).json()) as any;
      assert.ok(!listed.data.some((k: any) => k.hash === data.hash), 'disabled keys are hidden by default');
      const all = (await (await api('/keys?include_disabled=true', mkey)).json()) as any;
      assert.equal(all.data.find((k: any) => k.hash === data.hash).disabled, true);
      await api(`/keys/${data.hash}`, mkey, { method: 'PATCH', body: '{"disabled":false}' });
      const back = await postChat(gw, chat(), auth(key));
      assert.equal(back.status, 200);
      await back.text();
    });

    it('a key disabled with the CLI in another process is refused by the running server at once', async () => {
      const { key, data } = await newKey({ name: 'cli-toggle' });
      const warm = await postChat(gw, chat(), auth(key)); // the row is cached on the server now
      assert.equal(warm.status, 200);
      await warm.text();
      const cliEnv = { ...env, SWITCHYARD_DATA_DIR: gw.dataDir };
      const off = await cli(['keys', 'disable', data.hash], cliEnv);
      assert.equal(off.code, 0, off.stderr);
      const refused = await postChat(gw, chat(), auth(key));
      assert.deepEqual([refused.status, ((await refused.json()) as any).error.message], [401, 'User not found.']);
      const on = await cli(['keys', 'enable', data.hash], cliEnv);
      assert.equal(on.code, 0, on.stderr);
      const back = await postChat(gw, chat(), auth(key));
      assert.equal(back.status, 200);
      await back.text();
    });

    it("a key cannot read another key's generations; a management key reads all", async () => {
      const a = await newKey({ name: 'a' });
      const b = await newKey({ name: 'b' });
      const res = await postChat(gw, chat(), auth(a.key));
      const id = res.headers.get('x-generation-id')!;
      await res.text();
      assert.equal((await api(`/generation?id=${id}`, a.key)).status, 200);
      const other = await api(`/generation?id=${id}`, b.key);
      assert.deepEqual([other.status, ((await other.json()) as any).error.message], [404, 'Generation not found']);
      assert.equal((await api(`/generation?id=${id}`, mkey)).status, 200);
    });

    it('account balance: 402 once the credits are used up; /credits in OpenRouter shape', async () => {
      const { key } = await newKey({ name: 'acct' });
      const acct = await gw.app.keyStore.account();
      await gw.app.keyStore.setCredits(acct.usageNano + 100_000); // $0.0001 left: less than one worst case
      try {
        const res = await postChat(gw, chat(), auth(key));
        assert.equal(res.status, 402);
        const credits = (await (await api('/credits', mkey)).json()) as any;
        assert.deepEqual(Object.keys(credits.data), ['total_credits', 'total_usage']);
        assert.ok(credits.data.total_credits - credits.data.total_usage < 0.0002);
      } finally {
        await gw.app.keyStore.setCredits(null);
      }
      const ok = await postChat(gw, chat(), auth(key));
      assert.equal(ok.status, 200);
      await ok.text();
    });

    it('a cancelled stream is settled with its partial usage and its reservation released', async () => {
      const { key, data } = await newKey({ name: 'cancel', limit: 1 });
      groq.enqueue({ ...streamWithUsage({ ...USAGE, words: 40, chunkDelayMs: 20 }) });
      const res = await postChat(gw, chat(), { ...auth(key) });
      const id = res.headers.get('x-generation-id')!;
      const reader = res.body!.getReader();
      let seen = '';
      while (!seen.includes('w2 ')) seen += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      let rec: any = null;
      for (let i = 0; i < 100 && !rec?.cancelled; i++) {
        await new Promise((r) => setTimeout(r, 20));
        rec = await gw.app.store.get(id);
      }
      assert.equal(rec.cancelled, true);
      await gw.app.store.flush();
      const row = (await gw.app.keyStore.get(data.hash))!;
      assert.equal(row.reserved_nano, 0);
      assert.ok(rec.cost > 0, 'partial output is billed');
      assert.equal(row.usage_nano, Math.round(rec.cost * 1e9));
    });

    it('a provider billing above the worst case is charged only up to the limit; the ledger keeps both', async () => {
      const { key, data } = await newKey({ name: 'overage', limit: 0.002 });
      // Worst case for max_tokens 100: 8 prompt + 100 output = $0.000308; the provider reports 5,000 prompt tokens.
      groq.enqueue(streamWithUsage({ promptTokens: 5000, completionTokens: 100 }));
      const res = await postChat(gw, chat(100), auth(key));
      const id = res.headers.get('x-generation-id')!;
      await res.text();
      await gw.app.store.flush();
      const row = (await gw.app.keyStore.get(data.hash))!;
      assert.equal(row.usage_nano, 2_000_000, 'charged exactly up to the $0.002 limit');
      const [entry] = await gw.app.sql.query<any>('SELECT charged_nano, actual_nano FROM ledger WHERE id = $1', [id]);
      assert.deepEqual([Number(entry.charged_nano), Number(entry.actual_nano)], [2_000_000, Math.round(cost(5000, 100) * 1e9)]);
      const next = await postChat(gw, chat(10), auth(key));
      assert.equal(next.status, 402);
    });

    it('usage analytics per key, model, provider and day; a key sees only its own', async () => {
      const { key, data } = await newKey({ name: 'analytics' });
      for (let i = 0; i < 3; i++) await (await postChat(gw, chat(), auth(key))).text();
      const mine = (await (await api('/analytics/usage?group_by=key', key)).json()) as any;
      assert.deepEqual(mine.data.map((r: any) => r.key), [data.hash]);
      assert.deepEqual([mine.data[0].requests, mine.data[0].prompt_tokens, mine.data[0].completion_tokens, mine.data[0].cost], [3, 24, 300, Number((3 * cost(8, 100)).toFixed(9))]);
      const byKey = (await (await api('/analytics/usage?group_by=key', mkey)).json()) as any;
      assert.ok(byKey.data.length > 2);
      const byModel = (await (await api('/analytics/usage?group_by=model', mkey)).json()) as any;
      assert.equal(byModel.data[0].model, MODEL);
      const byProvider = (await (await api('/analytics/usage?group_by=provider', mkey)).json()) as any;
      assert.deepEqual([byProvider.data[0].provider, byProvider.data[0].provider_name], ['groq', 'Groq']);
      const today = new Date().toISOString().slice(0, 10);
      const byDay = (await (await api(`/analytics/usage?group_by=day&from=${today}`, mkey)).json()) as any;
      assert.equal(byDay.data.at(-1).day, today);
      const total = byKey.data.reduce((n: number, r: any) => n + r.requests, 0);
      assert.equal(byDay.data.reduce((n: number, r: any) => n + r.requests, 0), total);
      // A series per key over hours (the console's charts): the same totals, each row in its UTC hour.
      const byHourKey = (await (await api('/analytics/usage?group_by=hour,key', mkey)).json()) as any;
      assert.equal(byHourKey.data.reduce((n: number, r: any) => n + r.requests, 0), total);
      const mineHourly = byHourKey.data.filter((r: any) => r.key === data.hash);
      assert.equal(mineHourly.reduce((n: number, r: any) => n + r.requests, 0), 3);
      for (const r of byHourKey.data) assert.match(r.hour, /^\d{4}-\d\d-\d\dT\d\d:00:00Z$/);
      assert.equal(mineHourly[0].label, data.label);
      assert.equal((await api('/analytics/usage?group_by=color', mkey)).status, 400);
      const past = (await (await api('/analytics/usage?from=2020-01-01&to=2020-01-02', mkey)).json()) as any;
      assert.deepEqual(past.data, []);
    });

    it('the ledger equals the generation records and nothing stays reserved', async () => {
      await gw.app.store.flush();
      const [l] = await gw.app.sql.query<any>('SELECT COALESCE(SUM(actual_nano), 0) AS s FROM ledger');
      const recs = await gw.app.sql.query<any>('SELECT cost FROM generations');
      const fromRecords = recs.reduce((n: number, r: any) => n + Math.round(Number(r.cost) * 1e9), 0);
      assert.equal(Number(l.s), fromRecords);
      assert.equal(await gw.app.ledger.outstanding(), 0);
    });

    it('keys never appear in logs or generation records', async () => {
      const dump = JSON.stringify(await gw.app.sql.query('SELECT * FROM generations'));
      const text = logs.join('');
      assert.ok(logs.length > 0);
      assert.ok(!/sk-sy-v1-[0-9a-f]{64}/.test(dump), 'no key in generation records');
      assert.ok(!/sk-sy-v1-[0-9a-f]{64}/.test(text), 'no key in logs');
    });

    it('configured keys keep working next to database keys', async () => {
      const cfg = await startGateway({ providers: { groq: groq.baseUrl }, env: { ...env }, apiKeys: ['sk-sy-config-key-1'] });
      try {
        const res = await postChat(cfg, chat(), auth('sk-sy-config-key-1'));
        assert.equal(res.status, 200);
        const id = res.headers.get('x-generation-id')!;
        await res.text();
        assert.equal((await fetch(`${cfg.baseUrl}/generation?id=${id}`, { headers: auth('sk-sy-config-key-1') })).status, 200);
        const me = (await (await fetch(`${cfg.baseUrl}/key`, { headers: auth('sk-sy-config-key-1') })).json()) as any;
        assert.equal(me.data.label, 'env key 1');
        assert.equal(me.data.usage, cost(8, 100));
        assert.equal((await fetch(`${cfg.baseUrl}/keys`, { headers: auth('sk-sy-config-key-1') })).status, 403);
      } finally {
        await cfg.close();
      }
    });
  });
}
