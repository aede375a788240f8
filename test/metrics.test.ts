/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Prometheus metrics at GET /metrics after a known sequence of requests against mock upstreams:
 * served, fallback, upstream 429, cancelled stream, budget refusal, unknown model, Messages door.
 * Counts and sums must match the requests made and their generation records; label values come
 * from the catalog only. Then auth on /metrics, and one scrape summed over `--workers 2`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, rngPicking, startGateway, type Gateway } from './support/gateway.js';
import { fetchGeneration } from './support/requests.js';
import { startServe, stopProc, type Proc } from './support/process.js';
import { streamWithUsage } from './support/usage-upstream.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm' };
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const usage = (p: number, c: number) => `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c } })}\n\n`;
const okStream = (words: string[], p = 11, c = 4) => [chunk({ role: 'assistant', content: '' }), ...words.map((w) => chunk({ content: w })), chunk({}, 'stop'), usage(p, c), 'data: [DONE]\n\n'];

/** Series of an exposition text: name, labels, value. */
export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseExposition(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    assert.ok(m, `unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the series named `name` whose labels include `match`. */
export function sumOf(series: Series[], name: string, match: Record<string, string> = {}): number {
  return series.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

describe('Prometheus metrics after a known mix of requests', () => {
  let groq: MockUpstream;
  let novita: MockUpstream;
  let gw: Gateway;
  let mgmt = '';
  let user = '';
  let broke = '';
  const ids: string[] = [];

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const scrape = async (key = mgmt) => {
    const res = await fetch(`${gw.url}/metrics`, { headers: auth(key) });
    assert.equal(res.status, 200, await res.clone().text());
    assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    return parseExposition(await res.text());
  };
  const groqFirst = () => {
    gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
    (gw.app as any).health = new (gw.app.health.constructor as any)(30_000);
  };

  before(async () => {
    groq = await startMockUpstream();
    novita = await startMockUpstream();
    gw = await startGateway({ providers: { groq: groq.baseUrl, novita: novita.baseUrl } });
    const keys = gw.app.keyStore;
    mgmt = (await keys.create({ name: 'ops', management: true })).key;
    user = (await keys.create({ name: 'app' })).key;
    broke = (await keys.create({ name: 'broke', limitNano: 1 })).key;

    // 1. served, streamed, first choice (groq)
    groqFirst();
    groq.enqueue({ sse: okStream(['Hello', ' there'], 11, 4) });
    let res = await postChat(gw, { model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }, auth(user));
    assert.equal(res.status, 200);
    await readSse(res);
    ids.push(res.headers.get('x-generation-id')!);

    // 2. fallback: groq 503, novita serves (one body)
    groqFirst();
    groq.enqueue({ status: 503, json: { error: { message: 'overloaded' } } });
    novita.enqueue({ json: chatCompletion('From Novita', { prompt_tokens: 7, completion_tokens: 3 }) });
    res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }, auth(user));
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).provider, 'Novita');
    ids.push(res.headers.get('x-generation-id')!);

    // 3. upstream 429 with nowhere else to go: the client gets 429
    groqFirst();
    groq.enqueue({ status: 429, headers: { 'retry-after': '1' }, json: { error: { message: 'slow down' } } });
    res = await postChat(gw, { model: MODEL, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'hi' }] }, auth(user));
    assert.equal(res.status, 429);
    await res.text();
    ids.push(res.headers.get('x-generation-id')!);

    // 4. a stream the client cancels after the first content
    groqFirst();
    groq.enqueue({ sse: okStream(Array.from({ length: 30 }, (_, i) => ` w${i}`)), chunkDelayMs: 40 });
    res = await postChat(gw, { model: MODEL, stream: true, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'long' }] }, auth(user));
    const id = res.headers.get('x-generation-id')!;
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('w0')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    for (let i = 0; i < 100; i++) {
      const rec = await fetchGeneration(gw, id, auth(mgmt)).catch(() => null);
      if (rec?.cancelled) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    ids.push(id);

    // 5. budget refusal: the key's limit is below the worst-case cost
    res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }, auth(broke));
    assert.equal(res.status, 402);
    await res.text();

    // 6. an unknown model: refused before routing, and never a label value
    res = await postChat(gw, { model: 'acme/not-in-the-catalog', messages: [{ role: 'user', content: 'hi' }] }, auth(user));
    assert.equal(res.status, 400);
    await res.text();

    // 7. the Messages front door, served by groq (translated)
    groqFirst();
    groq.enqueue({ json: chatCompletion('Hi from Messages', { prompt_tokens: 9, completion_tokens: 2 }) });
    res = await fetch(`${gw.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': user, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.json();
    ids.push(res.headers.get('x-generation-id')!);
  });
  after(async () => {
    await gw.close();
    await groq.close();
    await novita.close();
  });

  it('counts requests by front door, catalog model, serving provider and the status the client got', async () => {
    const m = await scrape();
    const req = (labels: Record<string, string>) => sumOf(m, 'switchyard_requests_total', labels);
    const chat = { api: 'chat_completions', model: MODEL };
    assert.equal(req({ ...chat, provider: 'groq', status: '200' }), 1, 'served by groq');
    assert.equal(req({ ...chat, provider: 'novita', status: '200' }), 1, 'fallback served by novita');
    assert.equal(req({ ...chat, provider: 'none', status: '429' }), 1, 'upstream 429 passed on');
    assert.equal(req({ ...chat, provider: 'groq', status: '499' }), 1, 'cancelled stream');
    assert.equal(req({ ...chat, provider: 'none', status: '402' }), 1, 'budget refusal');
    assert.equal(req({ api: 'chat_completions', model: 'other', provider: 'none', status: '400' }), 1, 'unknown model');
    assert.equal(req({ api: 'messages', model: MODEL, provider: 'groq', status: '200' }), 1, 'Messages door');
    assert.equal(req({}), 7);
    const models = new Set(m.filter((s) => s.name.startsWith('switchyard_')).map((s) => s.labels.model).filter(Boolean));
    assert.deepEqual([...models].sort(), [MODEL, 'other'], 'client input never becomes a label value');
  });

  it('counts upstream attempts by outcome, fallbacks, budget refusals and open streams', async () => {
    const m = await scrape();
    const att = (provider: string, outcome: string) => sumOf(m, 'switchyard_upstream_attempts_total', { provider, outcome });
    assert.equal(att('groq', 'ok'), 2, 'stream and Messages answer');
    assert.equal(att('groq', 'server_error'), 1);
    assert.equal(att('groq', 'rate_limited'), 1);
    assert.equal(att('groq', 'cancelled'), 1);
    assert.equal(att('novita', 'ok'), 1);
    assert.equal(sumOf(m, 'switchyard_upstream_attempts_total'), 6);
    assert.equal(sumOf(m, 'switchyard_fallbacks_total', { model: MODEL }), 1);
    assert.equal(sumOf(m, 'switchyard_budget_refusals_total', { reason: 'credits' }), 1);
    assert.equal(sumOf(m, 'switchyard_budget_refusals_total', { reason: 'rate_limit' }), 0);
    assert.equal(sumOf(m, 'switchyard_open_streams'), 0);
    for (const provider of ['groq', 'novita']) assert.ok(m.some((s) => s.name === 'switchyard_provider_circuit_open' && s.labels.provider === provider), `breaker gauge for ${provider}`);
    assert.ok(m.some((s) => s.name === 'process_cpu_user_seconds_total'), "prom-client's process metrics");
    assert.ok(m.some((s) => s.name === 'nodejs_heap_size_used_bytes'));
  });

  it('sums tokens and cost as the generation records say, and observes durations and TTFT', async () => {
    const m = await scrape();
    const records = await Promise.all(ids.map((id) => fetchGeneration(gw, id, auth(mgmt))));
    for (const provider of ['groq', 'novita']) {
      const served = records.filter((r) => r.provider_name === (provider === 'groq' ? 'Groq' : 'Novita') && r.status !== 429);
      const tokens = (type: string) => sumOf(m, 'switchyard_tokens_total', { model: MODEL, provider, type });
      assert.equal(tokens('prompt'), served.reduce((n, r) => n + r.tokens_prompt, 0), `${provider} prompt tokens`);
      assert.equal(tokens('completion'), served.reduce((n, r) => n + r.tokens_completion, 0), `${provider} completion tokens`);
      const cost = sumOf(m, 'switchyard_cost_usd_total', { model: MODEL, provider });
      assert.ok(Math.abs(cost - served.reduce((n, r) => n + r.total_cost, 0)) < 1e-12, `${provider} cost ${cost}`);
      assert.ok(cost > 0);
    }
    assert.equal(sumOf(m, 'switchyard_tokens_total', { provider: 'groq', type: 'prompt' }), 11 + 9 + records[3].tokens_prompt);
    // Every request that reached routing has a duration; the ones that sent content a TTFT.
    assert.equal(sumOf(m, 'switchyard_request_duration_seconds_count'), 6);
    assert.equal(sumOf(m, 'switchyard_request_duration_seconds_count', { api: 'chat_completions', provider: 'groq' }), 2);
    assert.equal(sumOf(m, 'switchyard_request_duration_seconds_bucket', { provider: 'groq', api: 'chat_completions', le: '+Inf' }), 2);
    assert.ok(sumOf(m, 'switchyard_request_duration_seconds_sum', { provider: 'groq' }) > 0);
    assert.equal(sumOf(m, 'switchyard_time_to_first_token_seconds_count', { provider: 'groq' }), 3);
    assert.equal(sumOf(m, 'switchyard_time_to_first_token_seconds_count', { provider: 'novita' }), 1);
  });

  it('needs a management key once keys exist, unless metrics are public', async () => {
    assert.equal((await fetch(`${gw.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${gw.url}/metrics`, { headers: auth(user) })).status, 403);
    assert.equal((await fetch(`${gw.url}/api/v1/metrics`, { headers: auth(mgmt) })).status, 404, 'not under the API prefix');
    gw.app.settings.metrics.public = true;
    try {
      const res = await fetch(`${gw.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^# HELP /m);
    } finally {
      gw.app.settings.metrics.public = false;
    }
  });
});

describe('metrics switched off', () => {
  it('answers 404 and counts nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-metrics-off-'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'switchyard.yaml'), 'metrics:\n  enabled: false\n');
    const groq = await startMockUpstream();
    const gw = await startGateway({ providers: { groq: groq.baseUrl }, configFile: join(dir, 'switchyard.yaml') });
    try {
      groq.enqueue({ json: chatCompletion('ok') });
      assert.equal((await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] })).status, 200);
      assert.equal((await fetch(`${gw.url}/metrics`)).status, 404);
    } finally {
      await gw.close();
      await groq.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics with --workers 2', () => {
  let groq: MockUpstream;
  let gw: (Proc & { url: string }) | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-metrics-cluster-'));
  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest(() => streamWithUsage({ promptTokens: 5, completionTokens: 7, words: 2 }));
    gw = await startServe({ SWITCHYARD_DATA_DIR: join(dir, 'data'), GROQ_API_KEY: 'k', GROQ_BASE_URL: groq.baseUrl, LOG_LEVEL: 'info' }, dir, 30_000, ['--workers', '2']);
  });
  after(async () => {
    await stopProc(gw);
    await groq?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one scrape returns the sum over every worker', async () => {
    const N = 8;
    // Each request on a connection of its own: node:cluster hands new connections to the workers in turn.
    await Promise.all(
      Array.from({ length: N }, async () => {
        const fresh = new Agent();
        try {
          const res = await undiciFetch(`${gw!.url}/api/v1/chat/completions`, {
            dispatcher: fresh,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
          });
          assert.equal(res.status, 200);
          await res.text();
        } finally {
          await fresh.close();
        }
      }),
    );
    let m: Series[] = [];
    // Several scrapes, each on a fresh connection (so different workers answer): every one has the whole sum.
    for (let i = 0; i < 4; i++) {
      const fresh = new Agent();
      const res = await undiciFetch(`${gw!.url}/metrics`, { dispatcher: fresh });
      assert.equal(res.status, 200);
      m = parseExposition(await res.text());
      await fresh.close();
      assert.equal(sumOf(m, 'switchyard_requests_total', { provider: 'groq', status: '200' }), N);
      assert.equal(sumOf(m, 'switchyard_tokens_total', { provider: 'groq', type: 'completion' }), N * 7);
      assert.equal(sumOf(m, 'switchyard_request_duration_seconds_count'), N);
    }
    assert.equal(sumOf(m, 'switchyard_upstream_attempts_total', { provider: 'groq', outcome: 'ok' }), N);
    assert.equal(sumOf(m, 'switchyard_open_streams'), 0);
    assert.ok(sumOf(m, 'nodejs_heap_size_used_bytes') > 0);
  });
});
