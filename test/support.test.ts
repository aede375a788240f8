/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON payloads from recordings and HTTP bodies */
// Tests of the test-support helpers themselves (cassette loading, upstream derivation, mock upstream).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  deriveUpstream,
  fixturePath,
  fixtureRoot,
  isStreamBody,
  loadCassette,
  normaliseOpenRouterChunk,
  parseGoDuration,
  parseSse,
  type RecordedResponse,
} from './support/cassettes.js';
import {
  replyFromRecording,
  replyFromUpstreamRecording,
  startMockUpstream,
  type MockUpstream,
} from './support/mock-upstream.js';

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

function listYaml(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listYaml(p));
    else if (name.endsWith('.yaml')) out.push(relative(fixtureRoot(), p).split(sep).join('/'));
  }
  return out.sort();
}

const ALL = listYaml(fixtureRoot());
const SEEDS = ALL.filter((f) => f.startsWith('seeds/'));
const OPENROUTER = ALL.filter((f) => f.startsWith('seeds/') || f.startsWith('openrouter/'));
const UPSTREAM = ALL.filter((f) => f.startsWith('upstream/'));

interface Summary {
  content: string;
  reasoning: string;
  toolArgs: string[];
  toolNames: string[];
  finish: string | null;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

function emptySummary(): Summary {
  return { content: '', reasoning: '', toolArgs: [], toolNames: [], finish: null };
}

function addToolCalls(s: Summary, calls: any[] | undefined) {
  for (const tc of calls ?? []) {
    const i: number = tc.index ?? s.toolArgs.length;
    s.toolArgs[i] = (s.toolArgs[i] ?? '') + (tc.function?.arguments ?? '');
    if (tc.function?.name) s.toolNames[i] = tc.function.name;
  }
}

/** What an OpenRouter stream says (reasoning from `reasoning`, else readable reasoning_details). */
function summariseOpenRouterStream(body: string): Summary {
  const s = emptySummary();
  for (const ev of parseSse(body).events) {
    if (ev === '[DONE]') continue;
    const j = JSON.parse(ev);
    if (j.usage) s.usage = j.usage;
    const c = j.choices?.[0];
    if (!c) continue;
    const d = c.delta ?? {};
    if (typeof d.content === 'string') s.content += d.content;
    if (typeof d.reasoning === 'string' && d.reasoning !== '') s.reasoning += d.reasoning;
    else
      for (const rd of d.reasoning_details ?? []) {
        if (rd.type === 'reasoning.text') s.reasoning += rd.text ?? '';
        if (rd.type === 'reasoning.summary') s.reasoning += rd.summary ?? '';
      }
    addToolCalls(s, d.tool_calls);
    const fr = c.native_finish_reason ?? c.finish_reason;
    if (fr && s.finish === null) s.finish = fr;
  }
  return s;
}

/** What a derived OpenAI-protocol stream says. */
function summariseUpstreamChunks(chunks: string[]): Summary {
  const s = emptySummary();
  for (const raw of chunks) {
    const { events } = parseSse(raw);
    assert.equal(events.length, 1, `one event per chunk: ${raw}`);
    if (events[0] === '[DONE]') continue;
    const j = JSON.parse(events[0]);
    if (j.usage) s.usage = j.usage;
    const c = j.choices?.[0];
    if (!c) continue;
    const d = c.delta ?? {};
    if (typeof d.content === 'string') s.content += d.content;
    if (typeof d.reasoning_content === 'string') s.reasoning += d.reasoning_content;
    addToolCalls(s, d.tool_calls);
    if (c.finish_reason && s.finish === null) s.finish = c.finish_reason;
  }
  return s;
}

const UPSTREAM_CHUNK_KEYS = new Set(['id', 'object', 'created', 'model', 'system_fingerprint', 'choices', 'usage']);
const UPSTREAM_DELTA_KEYS = new Set(['role', 'content', 'reasoning_content', 'tool_calls']);

function assertUpstreamChunk(j: any, where: string) {
  for (const k of Object.keys(j)) assert.ok(UPSTREAM_CHUNK_KEYS.has(k), `${where}: unexpected chunk key ${k}`);
  assert.match(j.id, /^chatcmpl-[0-9a-f]+$/, where);
  assert.equal(j.object, 'chat.completion.chunk', where);
  assert.equal(typeof j.created, 'number', where);
  assert.equal(typeof j.model, 'string', where);
  assert.ok(Array.isArray(j.choices), where);
  if (j.usage) {
    assert.deepEqual(j.choices, [], `${where}: usage chunk has no choices`);
    assert.deepEqual(Object.keys(j.usage), [
      'prompt_tokens',
      'completion_tokens',
      'total_tokens',
      'prompt_tokens_details',
      'completion_tokens_details',
    ]);
  } else {
    assert.equal(j.choices.length, 1, where);
    const c = j.choices[0];
    assert.deepEqual(Object.keys(c), ['index', 'delta', 'logprobs', 'finish_reason'], where);
    for (const k of Object.keys(c.delta)) assert.ok(UPSTREAM_DELTA_KEYS.has(k), `${where}: unexpected delta key ${k}`);
  }
}

async function readTimed(res: Response): Promise<{ text: string; times: number[] }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  const times: number[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    times.push(performance.now());
    text += dec.decode(value, { stream: true });
  }
  return { text, times };
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sse = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;

// ------------------------------------------------------------------------------------------------
// fixtures & loading
// ------------------------------------------------------------------------------------------------

describe('fixtures', () => {
  it('are present with the expected layout', () => {
    assert.equal(SEEDS.length, 5);
    assert.ok(OPENROUTER.length > 100, `openrouter fixtures: ${OPENROUTER.length}`);
    assert.ok(UPSTREAM.length > 50, `upstream fixtures: ${UPSTREAM.length}`);
    assert.ok(existsSync(fixturePath('NOTICE.md')));
    for (const f of [
      'seeds/simple_streaming.yaml',
      'openrouter/TestOpenRouterCommon/simple_streaming_kimi-k2_groq.yaml',
      'upstream/TestGroqCommon/groq-kimi-k2-0905/tool_streaming.yaml',
    ]) {
      assert.ok(existsSync(fixturePath(f)), f);
    }
  });

  it('every cassette loads', () => {
    for (const f of ALL) {
      const its = loadCassette(f);
      assert.ok(its.length > 0, `${f}: no interactions`);
      for (const [i, it] of its.entries()) {
        const w = `${f}#${i}`;
        assert.equal(it.request.method, 'POST', w);
        assert.match(it.request.url, /^https?:\/\//, w);
        assert.doesNotThrow(() => JSON.parse(it.request.body), w);
        assert.ok(Number.isInteger(it.response.code), w);
        assert.ok(Number.isFinite(it.response.durationMs) && it.response.durationMs > 0, w);
        assert.ok(it.response.body.length > 0, w);
        for (const v of Object.values(it.response.headers)) assert.ok(Array.isArray(v), w);
      }
    }
  });

  it('loads a seed exactly', () => {
    const [it0] = loadCassette('seeds/simple_streaming.yaml');
    assert.equal(it0.request.url, 'https://openrouter.ai/api/v1/chat/completions');
    assert.deepEqual(it0.request.headers['Content-Type'], ['application/json']);
    assert.equal(JSON.parse(it0.request.body).model, 'moonshotai/kimi-k2-0905');
    assert.equal(it0.response.code, 200);
    assert.deepEqual(it0.response.headers['Content-Type'], ['text/event-stream']);
    assert.ok(Math.abs(it0.response.durationMs - 553.728583) < 1e-9);
    assert.ok(it0.response.body.endsWith('data: [DONE]\n\n'));
    const wandb = loadCassette('seeds/simple_streaming_only_wandb_429_then_ok.yaml');
    assert.deepEqual(
      wandb.map((x) => x.response.code),
      [429, 200],
    );
  });

  it('parses Go durations', () => {
    assert.equal(parseGoDuration('553.728583ms'), 553.728583);
    assert.equal(parseGoDuration('1.3s'), 1300);
    assert.equal(parseGoDuration('1m2.5s'), 62500);
    assert.equal(parseGoDuration('1h0m0s'), 3_600_000);
    assert.equal(parseGoDuration('850µs'), 0.85);
    assert.equal(parseGoDuration('0s'), 0);
    assert.equal(parseGoDuration(2_000_000), 2);
    assert.throws(() => parseGoDuration('12 parsecs'));
  });
});

describe('parseSse / isStreamBody', () => {
  it('splits comments and data payloads', () => {
    const body = ': OPENROUTER PROCESSING\n\ndata: {"a":1}\n\n:keepalive\n\ndata: line1\ndata: line2\n\nevent: x\ndata: [DONE]\n\n';
    assert.deepEqual(parseSse(body), {
      comments: ['OPENROUTER PROCESSING', 'keepalive'],
      events: ['{"a":1}', 'line1\nline2', '[DONE]'],
    });
    assert.deepEqual(parseSse('data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n').events, ['{"a":1}', '[DONE]']);
  });

  it('tells streams from JSON bodies', () => {
    assert.equal(isStreamBody('data: {}\n\n'), true);
    assert.equal(isStreamBody(': OPENROUTER PROCESSING\n\ndata: {}\n\n'), true);
    assert.equal(isStreamBody('\n         \n{"id":"gen-1"}'), false);
    assert.equal(isStreamBody('{"error":{}}'), false);
  });
});

// ------------------------------------------------------------------------------------------------
// deriveUpstream
// ------------------------------------------------------------------------------------------------

describe('deriveUpstream', () => {
  it('turns each seed stream into a valid OpenAI stream with the recorded usage', () => {
    let streams = 0;
    for (const f of SEEDS) {
      for (const [i, it] of loadCassette(f).entries()) {
        if (it.response.code !== 200) continue;
        streams++;
        const w = `${f}#${i}`;
        const d = deriveUpstream(it.response);
        assert.equal(d.status, 200);
        assert.equal(d.contentType, 'text/event-stream');
        assert.ok(d.chunks && d.chunks.length > 2, w);
        assert.equal(d.body, d.chunks.join(''));
        assert.equal(d.chunks.at(-1), 'data: [DONE]\n\n', w);
        assert.ok(!d.body.includes('OPENROUTER'), w);
        const parsed = d.chunks.slice(0, -1).map((c) => {
          assert.ok(c.startsWith('data: ') && c.endsWith('\n\n'), w);
          return JSON.parse(c.slice(6));
        });
        parsed.forEach((j, k) => assertUpstreamChunk(j, `${w} chunk ${k}`));
        // one id for the whole stream, and the created/model of the recording
        const recorded = parseSse(it.response.body)
          .events.filter((e) => e !== '[DONE]')
          .map((e) => JSON.parse(e));
        assert.equal(new Set(parsed.map((j) => j.id)).size, 1, w);
        assert.ok(parsed.every((j) => j.created === recorded[0].created && j.model === recorded[0].model), w);
        // the last chunk before [DONE] is the usage-only chunk; totals match the recording
        const last = parsed.at(-1);
        const orUsage = recorded.at(-1).usage;
        assert.ok(last.usage && orUsage, w);
        assert.equal(last.usage.prompt_tokens, orUsage.prompt_tokens, w);
        assert.equal(last.usage.completion_tokens, orUsage.completion_tokens, w);
        assert.equal(last.usage.total_tokens, orUsage.total_tokens, w);
        assert.equal(last.usage.prompt_tokens_details.cached_tokens, orUsage.prompt_tokens_details.cached_tokens, w);
        assert.equal(
          last.usage.completion_tokens_details.reasoning_tokens,
          orUsage.completion_tokens_details.reasoning_tokens,
          w,
        );
        assert.equal(parsed.filter((j) => j.usage).length, 1, w);
        // the content, tool calls and finish reason survive
        const a = summariseOpenRouterStream(it.response.body);
        const b = summariseUpstreamChunks(d.chunks);
        assert.deepEqual({ ...b, usage: undefined }, { ...a, usage: undefined }, w);
        assert.ok(a.finish, w);
      }
    }
    assert.equal(streams, 7);
  });

  it('keeps tool-call deltas and the native finish reason (tool_streaming_add)', () => {
    const [first] = loadCassette('seeds/tool_streaming_add.yaml');
    const d = deriveUpstream(first.response, { upstreamModel: 'kimi-k2-0905-preview' });
    const chunks = d.chunks!.slice(0, -1).map((c) => JSON.parse(c.slice(6)));
    assert.ok(chunks.every((c) => c.model === 'kimi-k2-0905-preview'));
    // system_fingerprint is copied per chunk where the recording had it (not on the 2025 usage chunk)
    assert.ok(chunks.filter((c) => !c.usage).every((c) => c.system_fingerprint === 'fpv0_ec889fbb'));
    assert.ok(!('system_fingerprint' in chunks.at(-1)));
    const s = summariseUpstreamChunks(d.chunks!);
    assert.deepEqual(s.toolNames, ['add']);
    assert.deepEqual(JSON.parse(s.toolArgs[0]), { a: 15, b: 27 });
    assert.equal(s.finish, 'tool_calls');
    const firstCall = chunks.find((c) => c.choices[0]?.delta.tool_calls);
    assert.equal(firstCall.choices[0].delta.tool_calls[0].id, 'add:0');
    // no OpenRouter-only keys anywhere
    assert.ok(!/"provider"|native_finish_reason|"cost"|is_byok|"reasoning"/.test(d.body));
  });

  it('converts every OpenRouter fixture without losing content', () => {
    let n = 0;
    for (const f of OPENROUTER) {
      for (const [i, it] of loadCassette(f).entries()) {
        const w = `${f}#${i}`;
        const d = deriveUpstream(it.response);
        n++;
        if (it.response.code >= 400) {
          assert.equal(d.status, it.response.code, w);
          continue;
        }
        if (isStreamBody(it.response.body)) {
          d.chunks!.slice(0, -1).forEach((c, k) => assertUpstreamChunk(JSON.parse(c.slice(6)), `${w} chunk ${k}`));
          const a = summariseOpenRouterStream(it.response.body);
          const b = summariseUpstreamChunks(d.chunks!);
          assert.deepEqual({ ...b, usage: undefined }, { ...a, usage: undefined }, w);
          assert.equal(b.usage?.total_tokens, a.usage?.total_tokens, w);
        } else {
          const or = JSON.parse(it.response.body);
          const up = JSON.parse(d.body);
          assert.equal(d.contentType, 'application/json');
          assert.deepEqual(Object.keys(up).filter((k) => k !== 'system_fingerprint'), [
            'id',
            'object',
            'created',
            'model',
            'choices',
            'usage',
          ]);
          assert.equal(up.object, 'chat.completion', w);
          const m = up.choices[0].message;
          assert.equal(m.content, or.choices[0].message.content, w);
          assert.equal(up.choices[0].finish_reason, or.choices[0].native_finish_reason, w);
          assert.equal((m.tool_calls ?? []).length, (or.choices[0].message.tool_calls ?? []).length, w);
          for (const tc of m.tool_calls ?? []) assert.ok(!('index' in tc), w);
          assert.equal(up.usage.total_tokens, or.usage.total_tokens, w);
          if (or.choices[0].message.reasoning) assert.equal(m.reasoning_content, or.choices[0].message.reasoning, w);
        }
      }
    }
    assert.ok(n > 250, `interactions: ${n}`);
  });

  it('handles the 2026 usage-chunk variants', () => {
    // 2026-03-12: usage chunk with choices: []
    const [weather] = loadCassette('seeds/tool_streaming_weather.yaml');
    const dw = deriveUpstream(weather.response);
    const tail = dw.chunks!.slice(-3).map((c) => (c.startsWith('data: {') ? JSON.parse(c.slice(6)) : c));
    assert.equal(tail[0].choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(tail[1].choices, []);
    assert.equal(tail[2], 'data: [DONE]\n\n');
    // 2026-04: usage chunk repeats the finish reason -> not duplicated upstream
    const [kimi] = loadCassette('openrouter/TestOpenRouterCommon/kimi/simple_streaming.yaml');
    const dk = deriveUpstream(kimi.response);
    const withFinish = dk.chunks!.filter((c) => /"finish_reason":"[a-z_]+"/.test(c));
    assert.equal(withFinish.length, 1);
    assert.match(dk.body, /"reasoning_content":" The"/);
  });

  it('trims whitespace padding and builds a chat.completion', () => {
    const [it0] = loadCassette('openrouter/TestOpenRouterCommon/kimi/simple.yaml');
    assert.ok(it0.response.body.startsWith('\n'));
    const d = deriveUpstream(it0.response, { upstreamModel: 'kimi-k2.5' });
    assert.equal(d.body, d.body.trim());
    const j = JSON.parse(d.body);
    assert.equal(j.model, 'kimi-k2.5');
    assert.match(j.id, /^chatcmpl-/);
    assert.deepEqual(Object.keys(j.choices[0]), ['index', 'message', 'finish_reason', 'logprobs']);
    assert.equal(j.choices[0].finish_reason, 'stop');
    assert.equal(typeof j.choices[0].message.reasoning_content, 'string');
    assert.deepEqual(j.usage, {
      prompt_tokens: 21,
      completion_tokens: 202,
      total_tokens: 223,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 166 },
    });
  });

  it('derives stable ids', () => {
    const [it0] = loadCassette('seeds/simple_streaming.yaml');
    assert.equal(deriveUpstream(it0.response).body, deriveUpstream(it0.response).body);
  });

  it('turns an OpenRouter 429 into an upstream-style error', () => {
    const [err] = loadCassette('seeds/simple_streaming_only_wandb_429_then_ok.yaml');
    const d = deriveUpstream(err.response);
    assert.equal(d.status, 429);
    assert.equal(d.contentType, 'application/json');
    assert.equal(d.chunks, undefined);
    const j = JSON.parse(d.body);
    assert.equal(j.error.type, 'rate_limit_exceeded');
    assert.equal(j.error.code, 'rate_limit_exceeded');
    assert.match(j.error.message, /^moonshotai\/kimi-k2-0905 is temporarily rate-limited upstream/);
    const fake: RecordedResponse = { code: 503, headers: {}, body: '{"error":{"message":"down"}}', durationMs: 1 };
    assert.equal(JSON.parse(deriveUpstream(fake).body).error.type, 'server_error');
  });
});

describe('normaliseOpenRouterChunk', () => {
  it('drops id and created only', () => {
    const chunk = { id: 'gen-1', provider: 'X', model: 'm', object: 'chat.completion.chunk', created: 1, choices: [] };
    const n = normaliseOpenRouterChunk(chunk);
    assert.deepEqual(n, { provider: 'X', model: 'm', object: 'chat.completion.chunk', choices: [] });
    assert.equal(chunk.id, 'gen-1', 'input untouched');
    const usage = { id: 'a', created: 2, choices: [], usage: { prompt_tokens: 1, cost: 0.1 } };
    assert.deepEqual(normaliseOpenRouterChunk(usage), { choices: [], usage: { prompt_tokens: 1, cost: 0.1 } });
  });
});

// ------------------------------------------------------------------------------------------------
// mock upstream
// ------------------------------------------------------------------------------------------------

describe('mock upstream', () => {
  let mock: MockUpstream;
  before(async () => {
    mock = await startMockUpstream();
  });
  after(async () => {
    await mock.close();
  });

  it('has a 127.0.0.1 url and a /v1 base url', () => {
    assert.match(mock.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(mock.baseUrl, `${mock.url}/v1`);
  });

  it('answers 500 when nothing is queued', async () => {
    const res = await fetch(`${mock.baseUrl}/chat/completions`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: { message: 'mock upstream: no reply queued' } });
  });

  it('serves queued JSON replies in order and records requests', async () => {
    const before = mock.requests.length;
    mock.enqueue({ json: { n: 1 } }, { status: 201, headers: { 'X-Test': 'yes' }, json: { n: 2 } });
    const r1 = await fetch(`${mock.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ model: 'm', stream: false }),
    });
    assert.equal(r1.status, 200);
    assert.equal(r1.headers.get('content-type'), 'application/json');
    assert.deepEqual(await r1.json(), { n: 1 });
    const r2 = await fetch(`${mock.url}/other?q=1`);
    assert.equal(r2.status, 201);
    assert.equal(r2.headers.get('x-test'), 'yes');
    assert.deepEqual(await r2.json(), { n: 2 });
    const [a, b] = mock.requests.slice(before);
    assert.equal(a.method, 'POST');
    assert.equal(a.path, '/v1/chat/completions');
    assert.equal(a.headers.authorization, 'Bearer k');
    assert.deepEqual(a.json, { model: 'm', stream: false });
    assert.equal(b.method, 'GET');
    assert.equal(b.path, '/other?q=1');
    assert.equal(b.body, '');
    assert.equal(b.json, undefined);
  });

  it('uses the default handler and serves raw bodies', async () => {
    mock.onRequest((req) => ({ raw: `echo ${req.json?.x}`, headers: { 'content-type': 'text/plain' } }));
    try {
      const res = await fetch(mock.url, { method: 'POST', body: '{"x":42}' });
      assert.equal(res.headers.get('content-type'), 'text/plain');
      assert.equal(await res.text(), 'echo 42');
      mock.enqueue({ status: 400, raw: '{not json' });
      const bad = await fetch(mock.url, { method: 'POST', body: 'not json either' });
      assert.equal(bad.status, 400);
      assert.equal(await bad.text(), '{not json');
      assert.equal(mock.requests.at(-1)!.json, undefined);
    } finally {
      mock.onRequest(() => ({ status: 500, json: { error: { message: 'mock upstream: no reply queued' } } }));
    }
  });

  it('delays JSON replies', async () => {
    mock.enqueue({ json: { ok: true }, delayMs: 120 });
    const t0 = performance.now();
    const res = await fetch(mock.url);
    assert.deepEqual(await res.json(), { ok: true });
    assert.ok(performance.now() - t0 >= 100);
  });

  it('paces SSE events', async () => {
    const events = [0, 1, 2, 3].map((i) => sse({ i }));
    events.push('data: [DONE]\n\n');
    mock.enqueue({ sse: events, firstByteDelayMs: 80, chunkDelayMs: 60 });
    const t0 = performance.now();
    const res = await fetch(`${mock.baseUrl}/chat/completions`, { method: 'POST', body: '{}' });
    const tHeaders = performance.now();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.ok(tHeaders - t0 >= 70, `first byte after ${tHeaders - t0}ms`);
    const { text, times } = await readTimed(res);
    assert.equal(text, events.join(''));
    assert.ok(times.length >= 3, `chunks arrived separately (${times.length} reads)`);
    assert.ok(times.at(-1)! - tHeaders >= 4 * 60 - 20, `stream took ${times.at(-1)! - tHeaders}ms`);
  });

  it('resets before headers', async () => {
    mock.enqueue({ fault: 'reset-before-headers' });
    await assert.rejects(fetch(mock.url, { method: 'POST', body: '{}' }));
  });

  it('resets mid-stream after N events', async () => {
    const events = [sse({ i: 0 }), sse({ i: 1 }), sse({ i: 2 })];
    mock.enqueue({ fault: 'reset-mid-stream', sse: events, afterEvents: 2 });
    const res = await fetch(mock.url, { method: 'POST', body: '{}' });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let got = '';
    await assert.rejects(async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        got += dec.decode(value, { stream: true });
      }
    });
    assert.equal(got, events[0] + events[1]);
  });

  it('counts client aborts on a hanging request', async () => {
    const abortedBefore = mock.aborted;
    mock.enqueue({ fault: 'hang' });
    const n = mock.requests.length;
    const ac = new AbortController();
    const p = fetch(mock.url, { method: 'POST', body: '{}', signal: ac.signal });
    await waitFor(() => mock.requests.length > n);
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(p, { name: 'AbortError' });
    await waitFor(() => mock.aborted === abortedBefore + 1);
  });

  it('counts client aborts mid-stream and stops writing', async () => {
    const abortedBefore = mock.aborted;
    const events = Array.from({ length: 50 }, (_, i) => sse({ i }));
    mock.enqueue({ sse: events, chunkDelayMs: 30 });
    const ac = new AbortController();
    const res = await fetch(mock.url, { method: 'POST', body: '{}', signal: ac.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /^data: \{"i":0\}/);
    ac.abort();
    await waitFor(() => mock.aborted === abortedBefore + 1);
  });

  it('does not count completed or server-reset requests as aborted', async () => {
    const abortedBefore = mock.aborted;
    mock.enqueue({ json: {} }, { sse: [sse({}), 'data: [DONE]\n\n'] }, { fault: 'reset-before-headers' });
    await (await fetch(mock.url)).text();
    await (await fetch(mock.url)).text();
    await assert.rejects(fetch(mock.url));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(mock.aborted, abortedBefore);
  });

  it('serves a derived OpenRouter recording', async () => {
    const [it0] = loadCassette('seeds/simple_streaming_only_groq.yaml');
    const reply = replyFromRecording(it0.response, { upstreamModel: 'moonshotai/kimi-k2-instruct-0905', chunkDelayMs: 1 });
    assert.ok('sse' in reply);
    mock.enqueue(reply);
    const res = await fetch(`${mock.baseUrl}/chat/completions`, { method: 'POST', body: it0.request.body });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const text = await res.text();
    assert.equal(text, deriveUpstream(it0.response, { upstreamModel: 'moonshotai/kimi-k2-instruct-0905' }).body);
    const { events } = parseSse(text);
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(JSON.parse(events[0]).model, 'moonshotai/kimi-k2-instruct-0905');
    assert.deepEqual(mock.requests.at(-1)!.json, JSON.parse(it0.request.body));

    const [err] = loadCassette('seeds/tool_streaming_add.yaml').filter((x) => x.response.code === 429);
    mock.enqueue(replyFromRecording(err.response));
    const r429 = await fetch(mock.url, { method: 'POST', body: '{}' });
    assert.equal(r429.status, 429);
    assert.equal(((await r429.json()) as any).error.type, 'rate_limit_exceeded');
  });

  it('serves upstream recordings byte for byte', async () => {
    for (const f of [
      'upstream/TestGroqCommon/groq-kimi-k2-0905/tool_streaming.yaml',
      'upstream/TestGroqCommon/groq-kimi-k2-0905/tool.yaml',
      'upstream/TestZAICommon/zai-glm-4.6/tool_streaming.yaml',
    ]) {
      const [it0] = loadCassette(f);
      mock.enqueue(replyFromUpstreamRecording(it0.response));
      const res = await fetch(mock.url, { method: 'POST', body: it0.request.body });
      assert.equal(res.status, it0.response.code, f);
      assert.equal(res.headers.get('content-type'), it0.response.headers['Content-Type'][0], f);
      assert.equal(await res.text(), it0.response.body, f);
    }
  });
});

describe('mock upstream close()', () => {
  it('closes with a hanging connection open', async () => {
    const m = await startMockUpstream();
    m.enqueue({ fault: 'hang' });
    const p = fetch(m.url, { method: 'POST', body: '{}' });
    p.catch(() => undefined);
    await waitFor(() => m.requests.length === 1);
    const t0 = performance.now();
    await m.close();
    assert.ok(performance.now() - t0 < 1000);
    await assert.rejects(p);
    assert.equal(m.aborted, 0);
  });

  it('closes in the middle of a paced stream', async () => {
    const m = await startMockUpstream();
    m.enqueue({ sse: Array.from({ length: 100 }, (_, i) => sse({ i })), chunkDelayMs: 50 });
    const res = await fetch(m.url);
    const reader = res.body!.getReader();
    await reader.read();
    await m.close();
    await assert.rejects(async () => {
      for (;;) if ((await reader.read()).done) break;
    });
  });
});
