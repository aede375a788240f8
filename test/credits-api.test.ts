/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * `POST /api/v1/credits` (Switchyard extension) over real loopback HTTP on both storage backends:
 * two gateways sharing the embedded SQLite file, and two replicas sharing PostgreSQL + Redis. Who
 * may change the balance, what bodies are refused (OpenRouter's error shape), what each change does
 * to the total and to admission, concurrent top-ups through both gateways summing exactly, the
 * audit log line, and the CLI refusing a total out of range through the same statement.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, startGateway, type Gateway } from './support/gateway.js';
import { sharedStateEnv } from './support/services.js';
import { jsonWithUsage } from './support/usage-upstream.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const MODEL = 'moonshotai/kimi-k2-0905';
const USAGE = { promptTokens: 8, completionTokens: 100 };
// Groq's kimi-k2 price in the catalog: $1/M prompt, $3/M completion.
const CHAT_COST = Number((8e-6 + 100 * 3e-6).toFixed(9));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const usd = (n: number) => Number(n.toFixed(9));

interface Backend {
  name: string;
  setup(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'two gateways on one embedded SQLite file',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'switchyard-credits-'));
      return { env: { SWITCHYARD_DATA_DIR: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'two replicas on PostgreSQL + Redis', setup: sharedStateEnv },
];

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src', 'cli', 'entry.ts'), ...args], {
    cwd: mkdtempSync(join(tmpdir(), 'switchyard-credits-cli-')),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((r) => child.on('exit', (code) => r({ code, stdout, stderr })));
}

for (const backend of BACKENDS) {
  describe(`POST /credits (${backend.name})`, () => {
    let groq: MockUpstream;
    let a: Gateway;
    let b: Gateway;
    let env: Record<string, string>;
    let cleanup: () => Promise<void>;
    let mkey = '';
    let ikey = '';
    const logs: string[] = [];

    const post = (gw: Gateway, body: unknown, key: string | null = mkey) =>
      fetch(`${gw.baseUrl}/credits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const change = async (gw: Gateway, body: unknown) => {
      const res = await post(gw, body);
      const json = (await res.json()) as any;
      assert.equal(res.status, 200, JSON.stringify(json));
      return json.data;
    };
    const read = async (gw: Gateway) => ((await (await fetch(`${gw.baseUrl}/credits`, { headers: { authorization: `Bearer ${mkey}` } })).json()) as any).data;
    const refused = async (res: Response, status: number, message: RegExp) => {
      const json = (await res.json()) as any;
      assert.equal(res.status, status, JSON.stringify(json));
      assert.deepEqual(Object.keys(json), ['error']);
      assert.equal(json.error.code, status);
      assert.match(json.error.message, message);
    };
    const chatStatus = async (gw: Gateway) => {
      const res = await postChat(gw, { model: MODEL, max_tokens: 100, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${ikey}` });
      await res.text();
      return res.status;
    };

    before(async () => {
      ({ env, cleanup } = await backend.setup());
      groq = await startMockUpstream();
      groq.onRequest(() => jsonWithUsage(USAGE));
      const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
      a = await startGateway({ providers: { groq: groq.baseUrl }, env, logger });
      b = await startGateway({ providers: { groq: groq.baseUrl }, env });
    });
    after(async () => {
      await b?.close();
      await a?.close();
      await groq?.close();
      await cleanup?.();
    });

    it('needs a management key: 401 while auth is off and without a key, 403 for an inference key', async () => {
      const off = await post(a, { add: 5 }, null);
      await refused(off, 401, /^No auth credentials found$/);
      mkey = (await a.app.keyStore.create({ name: 'ops', management: true })).key;
      ikey = (await a.app.keyStore.create({ name: 'app' })).key;
      await refused(await post(a, { add: 5 }, null), 401, /^No auth credentials found$/);
      await refused(await post(b, { add: 5 }, 'sk-sy-v1-' + '0'.repeat(64)), 401, /^User not found\.$/);
      await refused(await post(a, { add: 5 }, ikey), 403, /management keys/);
      assert.equal((await read(a)).unlimited, true, 'nothing changed');
    });

    it('refuses bad bodies with 400 naming the problem, and changes nothing', async () => {
      const cases: [unknown, RegExp][] = [
        ['', /body is empty/],
        ['{"add":', /not valid JSON/],
        [[], /body must be object/],
        [{}, /Give add .* and\/or set/],
        [{ add: '5' }, /^add must be number$/],
        [{ add: null }, /^add must be number$/],
        [{ set: -1 }, /^set must be >= 0$/],
        [{ set: 'unlimited' }, /^set /],
        [{ add: 1e7 }, /^add must be <= 9000000$/],
        [{ add: -1e7 }, /^add must be >= -9000000$/],
        [{ credits: 5 }, /^credits is not a known field$/],
        [{ add: 1, set: null }, /add cannot go with set: null/],
      ];
      for (const [body, message] of cases) await refused(await post(a, body), 400, message);
      // Out of range once applied: the total would go below 0 (from unlimited, add starts at what is used).
      await refused(await post(a, { add: -1 }), 400, /^Credits not changed: total credits would be -\$1; they cannot go below \$0$/);
      await refused(await post(a, { set: 9_000_000, add: 9_000_000 }), 400, /^Credits not changed: total credits would be \$18000000; they cannot exceed \$9000000$/);
      assert.equal((await read(a)).unlimited, true, 'nothing changed');
    });

    it('adds, corrects, sets and makes unlimited; each answer is the new /credits, seen by the other gateway at once', async () => {
      // Some usage first: the first top-up of an unlimited account starts at what is already used.
      assert.equal(await chatStatus(a), 200);
      await a.app.store.flush();
      const used = (await read(a)).total_usage;
      assert.equal(used, CHAT_COST);

      const topped = await change(a, { add: 10 });
      assert.deepEqual(topped, { total_credits: usd(used + 10), total_usage: used });
      assert.deepEqual(await read(b), topped, 'the other gateway reads the same');
      assert.deepEqual(await change(b, { add: -2.5 }), { total_credits: usd(used + 7.5), total_usage: used });
      assert.deepEqual(await change(a, { set: 25 }), { total_credits: 25, total_usage: used });
      assert.deepEqual(await change(a, { set: 3, add: 2 }), { total_credits: 5, total_usage: used }, 'set, then add');
      assert.deepEqual(await change(b, { add: 0.000000001 }), { total_credits: 5.000000001, total_usage: used }, 'to the nano-dollar');

      // A balance used up refuses requests at once (402); a top-up lets them through again.
      await change(a, { set: used });
      assert.equal(await chatStatus(a), 402);
      await change(a, { add: 1 });
      assert.equal(await chatStatus(a), 200);
      await a.app.store.flush();

      const unlimited = await change(b, { set: null });
      assert.deepEqual(unlimited, { total_credits: Number.MAX_SAFE_INTEGER, total_usage: usd(2 * CHAT_COST), unlimited: true });
      assert.deepEqual(await read(a), unlimited);
    });

    it('20 concurrent top-ups through both gateways sum exactly; each saw its own total', async () => {
      await change(a, { set: 1 });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => change(i % 2 ? a : b, { add: 0.1 })));
      const totals = results.map((r) => r.total_credits).sort((x, y) => x - y);
      assert.deepEqual(totals, Array.from({ length: 20 }, (_, i) => usd(1 + 0.1 * (i + 1))), 'every change applied to the one before it');
      assert.equal((await read(a)).total_credits, 3);
      assert.equal((await read(b)).total_credits, 3);
      // And corrections racing top-ups: +0.25 ten times, -0.25 ten times, nothing lost either way.
      await Promise.all(Array.from({ length: 20 }, (_, i) => change(i % 2 ? b : a, { add: i < 10 ? 0.25 : -0.25 })));
      assert.equal((await read(b)).total_credits, 3);
    });

    it('logs who changed the credits, and when', () => {
      const lines = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'credits changed');
      assert.ok(lines.length >= 20, `${lines.length} lines`);
      const first = lines[0];
      assert.equal(first.by, sha256(mkey));
      assert.match(first.by_label, /^sk-sy-v1-\w{3}\.\.\.\w{3}$/);
      assert.equal(first.add, 10);
      assert.equal(typeof first.time, 'number');
      assert.ok(!logs.join('').includes(mkey), 'the key itself is never logged');
    });

    it('the CLI refuses a total out of range through the same statement', async () => {
      const r = await cli(['credits', 'set', '10000000'], { ...env, SWITCHYARD_DATA_DIR: env.SWITCHYARD_DATA_DIR ?? a.dataDir });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /credits set: total credits would be \$10000000; they cannot exceed/);
      assert.equal((await read(a)).total_credits, 3, 'unchanged');
      const ok = await cli(['credits', 'add', '2'], { ...env, SWITCHYARD_DATA_DIR: env.SWITCHYARD_DATA_DIR ?? a.dataDir });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /total_credits \$5 /);
      assert.equal((await read(b)).total_credits, 5);
      // A correction: a negative amount is the amount, not an unknown option.
      const back = await cli(['credits', 'add', '-1.5'], { ...env, SWITCHYARD_DATA_DIR: env.SWITCHYARD_DATA_DIR ?? a.dataDir });
      assert.equal(back.code, 0, back.stderr);
      assert.match(back.stdout, /total_credits \$3\.5 /);
      assert.equal((await read(b)).total_credits, 3.5);
    });
  });
}
