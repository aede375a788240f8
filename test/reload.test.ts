/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON bodies of the gateway's answers */
/**
 * Reload without restart (src/config/reload.ts): a spawned `switchyard serve` under a steady load
 * of concurrent requests, streamed and not, has its configuration file changed (a provider's base
 * URL moved to a second upstream, a model's price changed) and reloaded by SIGHUP, then by
 * `POST /api/v1/admin/reload`. No request fails; a stream open across the reload finishes on the
 * old upstream; requests started after it use the new upstream and are recorded at the new price;
 * an invalid file is refused with the offending field named and the settings in use stay.
 * Under `--workers 2` one SIGHUP to the primary, or the endpoint on any worker, reloads both.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockUpstream, type MockReply, type MockUpstream } from './support/mock-upstream.js';
import { runCli, startServe, stopProc, waitFor, type Proc } from './support/process.js';
import pino from 'pino';
import { ConfigError, loadSettings } from '../src/config/load.js';
import { prepareReload } from '../src/config/reload.js';
import { createApp } from '../src/app.js';

const MODEL = 'test/reload-model';
const INFERENCE_KEY = 'sk-reload-test-inference';
const USAGE = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };

/** $ per token: prompt, completion. */
type Price = [number, number];
const costOf = ([p, c]: Price) => Number((USAGE.prompt_tokens * p + USAGE.completion_tokens * c).toFixed(9));

function config(upstream: MockUpstream, price: Price, extra = ''): string {
  return [
    'auth:',
    `  keys: ["${INFERENCE_KEY}"]`,
    'providers:',
    '  groq:',
    `    base_url: ${upstream.baseUrl}`,
    '    api_key: upstream-key',
    'catalog:',
    '  models:',
    `    - id: ${MODEL}`,
    '      name: Reload test model',
    '      endpoints:',
    '        - provider: groq',
    '          upstream_model: up-model',
    `          pricing: { prompt: "${price[0]}", completion: "${price[1]}" }`,
    extra,
    '',
  ].join('\n');
}

const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

/** An upstream whose every word names it, so a response shows which one served it (all of it). */
function answerAs(name: string, streamWords: number, chunkDelayMs: number): (req: { json: { stream?: boolean } }) => MockReply {
  const base = { id: `chatcmpl-${name}`, object: 'chat.completion.chunk', created: 1, model: 'up-model' };
  return (req) => {
    if (!req.json?.stream) {
      return {
        delayMs: 50,
        json: { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `${name}0 ${name}1` }, finish_reason: 'stop' }], usage: USAGE },
      };
    }
    const events = Array.from({ length: streamWords }, (_, i) => sse({ ...base, choices: [{ index: 0, delta: { content: `${name}${i} ` }, finish_reason: null }] }));
    events.push(sse({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }), sse({ ...base, choices: [], usage: USAGE }), 'data: [DONE]\n\n');
    return { sse: events, chunkDelayMs };
  };
}

interface Outcome {
  id: string | null;
  status: number;
  stream: boolean;
  /** Which upstream every word came from ('mixed' would be a failure). */
  upstream: string;
  cost: number | null;
  complete: boolean;
  startedAt: number;
  endedAt: number;
  error?: string;
}

async function chat(url: string, stream: boolean, words = 0): Promise<Outcome> {
  const startedAt = Date.now();
  try {
    const res = await fetch(`${url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INFERENCE_KEY}` },
      body: JSON.stringify({ model: MODEL, stream, messages: [{ role: 'user', content: words ? `long ${words}` : 'hi' }] }),
    });
    const text = await res.text();
    const id = res.headers.get('x-generation-id');
    let content = '';
    let cost: number | null = null;
    let complete = false;
    if (res.status === 200 && stream) {
      for (const block of text.split('\n\n')) {
        if (block === 'data: [DONE]') complete = true;
        if (!block.startsWith('data: {')) continue;
        const chunk = JSON.parse(block.slice(6));
        content += chunk.choices?.[0]?.delta?.content ?? '';
        if (chunk.usage) cost = chunk.usage.cost;
      }
    } else if (res.status === 200) {
      const body = JSON.parse(text);
      content = body.choices[0].message.content;
      cost = body.usage?.cost ?? null;
      complete = true;
    }
    const names = new Set(content.trim().split(/\s+/).filter(Boolean).map((w) => w.replace(/\d+$/, '')));
    return { id, status: res.status, stream, upstream: names.size === 1 ? [...names][0] : names.size === 0 ? 'none' : 'mixed', cost, complete, startedAt, endedAt: Date.now(), error: res.status === 200 ? undefined : text };
  } catch (err) {
    return { id: null, status: 0, stream, upstream: 'none', cost: null, complete: false, startedAt, endedAt: Date.now(), error: (err as Error).message };
  }
}

/** `concurrency` loops of requests (every other one streamed) until stopped. */
function steadyLoad(url: string, concurrency: number): { outcomes: Outcome[]; stop(): Promise<void> } {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async (_, n) => {
    for (let i = n; running; i++) outcomes.push(await chat(url, i % 2 === 0));
  });
  return {
    outcomes,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const adminReload = (url: string, key?: string) =>
  fetch(`${url}/api/v1/admin/reload`, { method: 'POST', headers: key ? { authorization: `Bearer ${key}` } : {} }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

async function managementKey(env: Record<string, string>, cwd: string, configFile: string): Promise<string> {
  const p = runCli(['keys', 'create', '--management', '--label', 'ops', '--config', configFile], env, cwd);
  assert.equal(await p.exited, 0, p.output());
  return /sk-sy-v1-[0-9a-f]+/.exec(p.output())![0];
}

async function recordedCost(url: string, id: string): Promise<number> {
  let res: Response | null = null;
  await until(`the record of ${id}`, async () => {
    res = await fetch(`${url}/api/v1/generation?id=${id}`, { headers: { authorization: `Bearer ${INFERENCE_KEY}` } });
    return res.status === 200;
  });
  return ((await res!.json()) as any).data.total_cost;
}

describe('reload without restart', () => {
  const P1: Price = [0.000001, 0.000002];
  const P2: Price = [0.00001, 0.00002];
  const P3: Price = [0.000005, 0.000007];
  let a: MockUpstream;
  let b: MockUpstream;
  let dir: string;
  let file: string;
  let env: Record<string, string>;
  let gw: (Proc & { url: string }) | undefined;
  let mkey: string;

  before(async () => {
    a = await startMockUpstream();
    b = await startMockUpstream();
    a.onRequest(answerAs('A', 8, 40));
    b.onRequest(answerAs('B', 8, 40));
    dir = mkdtempSync(join(tmpdir(), 'switchyard-reload-'));
    file = join(dir, 'switchyard.yaml');
    env = { SWITCHYARD_DATA_DIR: join(dir, 'data') };
    writeFileSync(file, config(a, P1));
    mkey = await managementKey(env, dir, file);
    gw = await startServe(env, dir, 30_000, ['--config', file]);
  });

  after(async () => {
    await stopProc(gw);
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGHUP, then the endpoint: new base URL and price under load, no failed request, old requests on the old settings', async () => {
    const url = gw!.url;
    const load = steadyLoad(url, 4);
    let sighupAt = 0;
    let reloadedAt = 0;
    let endpointAt = 0;
    let endpointDoneAt = 0;
    try {
      await until('requests served on the first settings', () => load.outcomes.length >= 8);
      // A stream that is open across the reload: 40 words, 100 ms apart.
      a.onRequest((req) => (String(req.json?.messages?.[0]?.content).startsWith('long') ? answerAs('A', 40, 100)(req) : answerAs('A', 8, 40)(req)));
      const long = chat(url, true, 40);
      await until('the long stream to reach the upstream', () => a.requests.some((r) => String(r.json?.messages?.[0]?.content).startsWith('long')));

      // 1. SIGHUP: base URL to upstream B, price P2.
      writeFileSync(file, config(b, P2));
      sighupAt = Date.now();
      const logged = (gw!.output().match(/configuration reloaded/g) ?? []).length;
      gw!.child.kill('SIGHUP');
      await until('the SIGHUP reload to be logged', () => (gw!.output().match(/configuration reloaded/g) ?? []).length > logged);
      reloadedAt = Date.now();
      const longOutcome = await long;
      assert.equal(longOutcome.status, 200);
      assert.ok(longOutcome.complete, 'the long stream ended with [DONE]');
      assert.equal(longOutcome.upstream, 'A', 'a stream open across the reload finishes on the old upstream');
      assert.ok(longOutcome.endedAt > reloadedAt, 'the long stream was still open when the reload was done');
      assert.equal(longOutcome.cost, costOf(P1), 'and is charged at the old price');
      await until('requests served on the reloaded settings', () => load.outcomes.filter((o) => o.startedAt > reloadedAt).length >= 8);

      // 2. The endpoint: back to upstream A at price P3; a restart-only setting is reported, not applied.
      writeFileSync(file, config(a, P3, 'server:\n  max_connections: 5000\n'));
      assert.equal((await adminReload(url)).status, 401, 'no key');
      const refusedKind = await adminReload(url, INFERENCE_KEY);
      assert.equal(refusedKind.status, 403, 'an inference key');
      assert.equal(refusedKind.body.error.code, 403);
      endpointAt = Date.now();
      const reloaded = await adminReload(url, mkey);
      endpointDoneAt = Date.now();
      assert.equal(reloaded.status, 200, JSON.stringify(reloaded.body));
      assert.equal(reloaded.body.status, 'reloaded');
      assert.deepEqual(reloaded.body.needs_restart, ['server.max_connections']);
      assert.ok(reloaded.body.providers.includes('groq'));
      await until('requests served after the endpoint reload', () => load.outcomes.filter((o) => o.startedAt > endpointDoneAt).length >= 8);

      // 3. An invalid file: refused with the field named, by the endpoint and by SIGHUP; the settings in use stay.
      writeFileSync(file, config(b, P2).replace(/prompt: "[^"]*"/, 'prompt: "cheap"'));
      const invalid = await adminReload(url, mkey);
      assert.equal(invalid.status, 422, JSON.stringify(invalid.body));
      assert.equal(invalid.body.error.code, 422);
      assert.match(invalid.body.error.message, /models\[0\]\.endpoints\[0\]\.pricing\.prompt/);
      writeFileSync(file, config(b, P2).replace('providers:\n', 'providers:\n  nobody: {}\n'));
      gw!.child.kill('SIGHUP');
      await waitFor(gw!, /"reason":"providers\.nobody: unknown provider[^\n]*"msg":"configuration reload refused; the settings in use stay"/);
      const invalidDoneAt = Date.now();
      await until('requests served after the refused reloads', () => load.outcomes.filter((o) => o.startedAt > invalidDoneAt).length >= 8);
    } finally {
      await load.stop();
    }

    const all = load.outcomes;
    const failed = all.filter((o) => o.status !== 200 || !o.complete || o.upstream === 'mixed' || o.upstream === 'none');
    assert.deepEqual(failed, [], 'no request failed');
    assert.ok(all.some((o) => o.stream) && all.some((o) => !o.stream));
    const settingsOf = (o: Outcome) => `${o.upstream} at ${o.cost}`;
    const first = `A at ${costOf(P1)}`;
    const second = `B at ${costOf(P2)}`;
    const third = `A at ${costOf(P3)}`;
    // Each request ran on one snapshot: its upstream and its price always belong together.
    for (const o of all) assert.ok([first, second, third].includes(settingsOf(o)), settingsOf(o));
    // Before each reload the old settings, after it the new ones; the refused reloads changed nothing.
    for (const o of all.filter((x) => x.endedAt < sighupAt)) assert.equal(settingsOf(o), first);
    for (const o of all.filter((x) => x.startedAt > reloadedAt && x.endedAt < endpointAt)) assert.equal(settingsOf(o), second);
    for (const o of all.filter((x) => x.startedAt > endpointDoneAt)) assert.equal(settingsOf(o), third);
    for (const o of all.filter((x) => x.startedAt > sighupAt && x.endedAt < reloadedAt)) assert.ok([first, second].includes(settingsOf(o)));

    // The generation records carry the price of the settings each request ran on.
    const one = (s: string) => all.find((o) => settingsOf(o) === s)!;
    assert.equal(await recordedCost(gw!.url, one(first).id!), costOf(P1));
    assert.equal(await recordedCost(gw!.url, one(second).id!), costOf(P2));
    assert.equal(await recordedCost(gw!.url, one(third).id!), costOf(P3));
  });
});

/** POST over a new connection, so node:cluster hands it to the next worker. */
function postFresh(url: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('reload under --workers 2', () => {
  let a: MockUpstream;
  let b: MockUpstream;
  let dir: string;
  let gw: (Proc & { url: string }) | undefined;

  before(async () => {
    a = await startMockUpstream();
    b = await startMockUpstream();
    a.onRequest(answerAs('A', 2, 0));
    b.onRequest(answerAs('B', 2, 0));
    dir = mkdtempSync(join(tmpdir(), 'switchyard-reload-cluster-'));
  });

  after(async () => {
    await stopProc(gw);
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGHUP to the primary and the endpoint on one worker reload every worker; an invalid file is refused everywhere', async () => {
    const file = join(dir, 'switchyard.yaml');
    const env = { SWITCHYARD_DATA_DIR: join(dir, 'data') };
    writeFileSync(file, config(a, [0.000001, 0.000002]));
    const mkey = await managementKey(env, dir, file);
    gw = await startServe(env, dir, 60_000, ['--config', file, '--workers', '2']);
    const url = gw.url;
    const servedBy = async (n: number) => {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) {
        const r = await postFresh(url, '/api/v1/chat/completions', { authorization: `Bearer ${INFERENCE_KEY}` }, JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
        assert.equal(r.status, 200, r.text);
        seen.add(JSON.parse(r.text).choices[0].message.content[0]);
      }
      return [...seen];
    };
    assert.deepEqual(await servedBy(6), ['A']);

    writeFileSync(file, config(b, [0.00001, 0.00002]));
    gw.child.kill('SIGHUP');
    await waitFor(gw, /"workers":2,[^\n]*"msg":"configuration reloaded in every worker"/, 20_000);
    // Each worker logs its own reload (log lines are written in batches: within 250 ms).
    await until('both workers to log their reload', () => new Set([...gw!.output().matchAll(/"worker":(\d+)[^\n]*"msg":"configuration reloaded"/g)].map((m) => m[1])).size === 2);
    // Fresh connections reach both workers in turn: every one answers from B.
    assert.deepEqual(await servedBy(6), ['B']);

    writeFileSync(file, config(a, [0.00001, 0.00002]));
    const r = await postFresh(url, '/api/v1/admin/reload', { authorization: `Bearer ${mkey}` }, '');
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).workers, 2);
    assert.deepEqual(await servedBy(6), ['A']);

    writeFileSync(file, `${config(b, [0.00001, 0.00002])}routing:\n  max_models: many\n`);
    const refused = await postFresh(url, '/api/v1/admin/reload', { authorization: `Bearer ${mkey}` }, '');
    assert.equal(refused.status, 422, refused.text);
    assert.match(JSON.parse(refused.text).error.message, /routing\.max_models/);
    assert.deepEqual(await servedBy(6), ['A']);
  });
});

describe('the settings snapshot', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-snapshot-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const groq = (baseUrl: string, keys: string[]) => ['providers:', '  groq:', `    base_url: ${baseUrl}`, '    keys:', ...keys.map((k) => `      - key: ${k}`)].join('\n');

  it('keeps a key pool whose keys are unchanged, reports restart-only settings and keeps their running values, names a moved provider', () => {
    const file = join(dir, 'pool.yaml');
    writeFileSync(file, `server:\n  port: 9100\n${groq('http://127.0.0.1:1/v1', ['k1', 'k2'])}\n`);
    const current = loadSettings({ configFile: file, env: { SWITCHYARD_DATA_DIR: dir }, cwd: dir });
    const pool = current.providers.get('groq')!.keys;
    assert.ok(pool.outcome('key-1', 'scope', 429, 60) > 0, 'key-1 rests');

    writeFileSync(file, `server:\n  port: 9200\n${groq('http://127.0.0.1:2/v1', ['k1', 'k2'])}\n`);
    const { next, report, moved } = prepareReload(current);
    assert.equal(next.providers.get('groq')!.keys, pool, 'the same pool: key-1 still rests');
    assert.equal(next.providers.get('groq')!.baseUrl, 'http://127.0.0.1:2/v1');
    assert.deepEqual(report.needs_restart, ['server.port']);
    assert.equal(next.port, 9100, 'the running port stays in the snapshot');
    assert.deepEqual(moved, ['groq']);

    writeFileSync(file, `server:\n  port: 9100\n${groq('http://127.0.0.1:2/v1', ['k1', 'k3'])}\n`);
    const again = prepareReload(next);
    assert.notEqual(again.next.providers.get('groq')!.keys, pool, 'other keys: a new pool');
    assert.deepEqual(again.report.needs_restart, []);
    assert.deepEqual(again.moved, []);

    writeFileSync(file, 'server:\n  port: "many"\n');
    assert.throws(() => prepareReload(next), (err: Error) => err instanceof ConfigError && /server\.port/.test(err.message));
  });

  it('refuses a reload that would leave no key on a non-loopback address; the settings in use stay', async () => {
    const file = join(dir, 'auth.yaml');
    writeFileSync(file, 'server:\n  host: 0.0.0.0\nauth:\n  keys: ["sk-only-key"]\n');
    const app = createApp(loadSettings({ configFile: file, env: { SWITCHYARD_DATA_DIR: join(dir, 'auth-data') }, cwd: dir }), { logger: pino({ level: 'silent' }) });
    await app.init();
    try {
      writeFileSync(file, 'server:\n  host: 0.0.0.0\n');
      await assert.rejects(app.reloadHere(), (err: Error) => err instanceof ConfigError && /^auth\.keys: /.test(err.message));
      assert.equal(app.latest(), app);
      writeFileSync(file, 'server:\n  host: 0.0.0.0\nauth:\n  keys: ["sk-other-key"]\n');
      await app.reloadHere();
      assert.deepEqual(app.latest().settings.apiKeys.map((k) => k.key), ['sk-other-key']);
      assert.deepEqual(app.settings.apiKeys.map((k) => k.key), ['sk-only-key'], 'the start-up snapshot itself never changes');
    } finally {
      await app.close();
    }
  });
});
