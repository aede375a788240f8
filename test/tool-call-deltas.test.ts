/* eslint-disable @typescript-eslint/no-explicit-any -- JSON chunks under test */
/**
 * Tool-call deltas in the 2026 wire era (the default) have one shape whatever the upstream sends
 * (docs/COMPATIBILITY.md#tool-call-deltas, #finish-chunk): per call one header fragment `{index, id, type: "function", function: {name,
 * arguments: ""}}`, then fragments with only `index` and `function.arguments`; exactly one finish
 * chunk, after the last tool call; the usage chunk with null finish reasons.
 *
 * Fed from each provider's recorded stream: the provider-side streams derived from OpenRouter's 2025
 * recordings (which passed every host's fragments through, quirks included: BaseTen repeats `id`,
 * `type` and `name: ""` on every fragment, Chutes sends `id: null, name: null`, Fireworks `id: null`,
 * Fireworks/Novita/WandB omit `arguments` on the first fragment, DeepInfra repeats `finish_reason`
 * on every tool-call chunk), OpenRouter's 2026 recordings, and the hosts' own recorded streams
 * (Groq, Z.AI, which also repeats the finish on its usage chunk, xAI, llama.cpp, OpenAI).
 * What a client assembles from the calls (id, name, concatenated arguments) must equal the recording.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { deriveUpstream, fixturePath, isStreamBody, loadCassette, parseSse, type Interaction } from './support/cassettes.js';
import { replyFromRecording, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, startGateway, type Gateway } from './support/gateway.js';
import { OpenAICompatibleAdapter } from '../src/providers/openai/adapter.js';
import { ChunkEncoder } from '../src/ingress/chat-completions/chunk-encoder.js';
import type { WireEra } from '../src/config/load.js';
import type { TokenUsage, UpstreamChunk } from '../src/model/response.js';

const ZERO: TokenUsage = { promptTokens: 1, completionTokens: 1, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, audioPromptTokens: 0 };

function walk(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.yaml') ? [p] : [];
    })
    .sort();
}

interface Call {
  id: string;
  name: string;
  arguments: string;
}

/** What a client assembles from OpenAI-style tool-call fragments (by index: first id and name, arguments joined). */
function assemble(fragments: any[]): Call[] {
  const calls: Call[] = [];
  for (const f of fragments) {
    const c = (calls[f.index] ??= { id: '', name: '', arguments: '' });
    if (!c.id && typeof f.id === 'string') c.id = f.id;
    if (!c.name && typeof f.function?.name === 'string') c.name = f.function.name;
    if (typeof f.function?.arguments === 'string') c.arguments += f.function.arguments;
  }
  return calls;
}

/** A provider-side stream (SSE events) through the OpenAI-compatible decoder and the chat encoder. */
function encode(events: string[], era: WireEra): any[] {
  const decoder = new OpenAICompatibleAdapter().createStreamDecoder();
  const encoder = new ChunkEncoder(era, 'gen-1777000000-AAAAAAAAAAAAAAAAAAAA', 1777000000, 'm', 'P');
  let out = '';
  let usage = ZERO;
  for (const data of events) {
    const chunks = decoder.decode({ data });
    if (chunks === null) break;
    for (const chunk of chunks as UpstreamChunk[]) {
      if (chunk.usage) usage = chunk.usage;
      out += encoder.encode(chunk);
    }
  }
  if (!encoder.finished) out += encoder.syntheticFinish();
  out += encoder.end(usage, { prompt: 0, completion: 0, total: 0 });
  const payloads = parseSse(out).events;
  assert.equal(payloads.at(-1), '[DONE]');
  return payloads.slice(0, -1).map((e) => JSON.parse(e));
}

/** Asserts the 2026 shape of an encoded stream and returns the calls a client assembles from it. */
function assert2026Shape(chunks: any[], where: string): Call[] {
  const fragments: any[] = [];
  const opened = new Set<number>();
  let finishAt = -1;
  chunks.forEach((c, i) => {
    const choice = c.choices[0];
    if (choice.finish_reason !== null) {
      assert.equal(finishAt, -1, `${where}: a second finish chunk at event ${i}`);
      finishAt = i;
    }
    const calls = choice.delta.tool_calls;
    if (!calls) return;
    assert.equal(finishAt, -1, `${where}: tool call after the finish chunk (event ${i})`);
    assert.equal(calls.length, 1, `${where}: one fragment per chunk`);
    assert.equal(choice.delta.content, null, `${where}: tool-call chunks say content null`);
    assert.equal(choice.delta.role, 'assistant');
    const f = calls[0];
    if (!opened.has(f.index)) {
      opened.add(f.index);
      assert.deepEqual(Object.keys(f), ['index', 'id', 'type', 'function'], `${where}: header keys (event ${i})`);
      assert.deepEqual(Object.keys(f.function), ['name', 'arguments'], `${where}: header function keys (event ${i})`);
      assert.equal(typeof f.id, 'string');
      assert.ok(f.id.length > 0, `${where}: header has an id (event ${i})`);
      assert.equal(f.type, 'function');
      assert.ok(f.function.name.length > 0, `${where}: header has a name (event ${i})`);
      assert.equal(f.function.arguments, '', `${where}: header arguments are empty (event ${i})`);
    } else {
      assert.deepEqual(Object.keys(f), ['index', 'function'], `${where}: a later fragment has only index and function (event ${i}: ${JSON.stringify(f)})`);
      assert.deepEqual(Object.keys(f.function), ['arguments'], `${where}: a later fragment's function has only arguments (event ${i})`);
      assert.equal(typeof f.function.arguments, 'string');
    }
    fragments.push(f);
  });
  assert.ok(finishAt >= 0, `${where}: has a finish chunk`);
  assert.equal(chunks[finishAt].choices[0].finish_reason, 'tool_calls', `${where}: finish reason`);
  const usage = chunks.at(-1);
  assert.ok(usage.usage, `${where}: ends with the usage chunk`);
  assert.equal(finishAt, chunks.length - 2, `${where}: the finish chunk comes right before the usage chunk`);
  assert.equal(usage.choices[0].finish_reason, null);
  assert.equal(usage.choices[0].native_finish_reason, null);
  return assemble(fragments);
}

/** Tool-call fragments of a recorded stream (OpenRouter's or a host's own). */
function recordedFragments(events: string[]): any[] {
  const out: any[] = [];
  for (const e of events) {
    if (e === '[DONE]') continue;
    const j = JSON.parse(e);
    for (const f of j.choices?.[0]?.delta?.tool_calls ?? []) out.push(f);
  }
  return out;
}

const hasToolCalls = (body: string) => body.includes('"tool_calls"');

// ---------------------------------------------------------------------------------------------

describe('tool-call deltas in the 2026 era: one shape for every upstream', () => {
  const root = fixturePath('openrouter');
  const recordings: { label: string; rec: Interaction; provider: string }[] = [];
  for (const file of [...walk(root), ...walk(fixturePath('seeds'))]) {
    loadCassette(file).forEach((rec, i) => {
      if (rec.response.code !== 200 || !isStreamBody(rec.response.body) || !hasToolCalls(rec.response.body)) return;
      const provider = /"provider":"([^"]+)"/.exec(rec.response.body)![1];
      recordings.push({ label: `${relative(fixturePath(''), file)}#${i}`, rec, provider });
    });
  }

  it('the recordings cover every host quirk named in issue 18', () => {
    const providers = new Set(recordings.map((r) => r.provider));
    for (const p of ['BaseTen', 'Chutes', 'Fireworks', 'DeepInfra', 'Novita', 'WandB', 'SiliconFlow', 'Groq', 'Moonshot AI', 'Together', 'Z.AI', 'AtlasCloud']) {
      assert.ok(providers.has(p), `a recorded tool-call stream served by ${p}`);
    }
    const fragments = recordings.flatMap((r) => recordedFragments(parseSse(r.rec.response.body).events).map((f) => ({ f, p: r.provider })));
    const quirk = (p: string, test: (f: any) => boolean) => assert.ok(fragments.some((x) => x.p === p && test(x.f)), `${p}'s quirk is in the recordings`);
    quirk('BaseTen', (f) => f.function?.name === '' && typeof f.id === 'string');
    quirk('Chutes', (f) => f.id === null && f.function?.name === null);
    quirk('Fireworks', (f) => f.id === null);
    quirk('Fireworks', (f) => typeof f.function?.name === 'string' && !('arguments' in f.function));
  });

  for (const { label, rec, provider } of recordings) {
    it(`${label} (${provider})`, () => {
      const derived = deriveUpstream(rec.response);
      const events = parseSse(derived.body).events;
      const got = assert2026Shape(encode(events, '2026'), label);
      const want = assemble(recordedFragments(parseSse(rec.response.body).events));
      assert.deepEqual(got, want, `${label}: the calls a client assembles`);
    });
  }

  const hostStreams = [
    'upstream/TestGroqCommon/groq-kimi-k2-0905',
    'upstream/TestOpenAICompatibleCommon/zai-glm-4.5',
    'upstream/TestOpenAICompatibleCommon/groq-kimi-k2',
    'upstream/TestOpenAICompatibleCommon/llama-cpp-gpt-oss',
    'upstream/TestXAICommon',
    'upstream/TestZAICommon',
    'upstream/TestOpenAICommon',
    'upstream/TestCerebrasCommon',
  ];
  for (const dir of hostStreams) {
    for (const file of walk(fixturePath(dir))) {
      loadCassette(file).forEach((rec, i) => {
        if (rec.response.code !== 200 || !isStreamBody(rec.response.body) || !hasToolCalls(rec.response.body)) return;
        const label = `${relative(fixturePath(''), file)}#${i}`;
        it(`${label} (the host's own stream)`, () => {
          const events = parseSse(rec.response.body).events;
          const got = assert2026Shape(encode(events, '2026'), label);
          assert.deepEqual(got, assemble(recordedFragments(events)), `${label}: the calls a client assembles`);
        });
      });
    }
  }
});

describe('tool-call quirks, one by one (2026 era)', () => {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
  const usage = JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } });
  const toolCalls = (chunks: any[]) => chunks.filter((c) => c.choices[0].delta.tool_calls).map((c) => c.choices[0].delta.tool_calls[0]);

  it('BaseTen: id, type and name "" repeated on every fragment become plain argument fragments', () => {
    const out = encode(
      [
        chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'functions.add:0', type: 'function', function: { name: 'add', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, id: 'functions.add:0', type: 'function', function: { name: '', arguments: '{"a"' } }] }),
        chunk({ tool_calls: [{ index: 0, id: 'functions.add:0', type: 'function', function: { name: '', arguments: ': 1}' } }] }),
        chunk({}, 'tool_calls'),
        usage,
      ],
      '2026',
    );
    assert.deepEqual(toolCalls(out), [
      { index: 0, id: 'functions.add:0', type: 'function', function: { name: 'add', arguments: '' } },
      { index: 0, function: { arguments: '{"a"' } },
      { index: 0, function: { arguments: ': 1}' } },
    ]);
    assert2026Shape(out, 'baseten');
  });

  it('Chutes and Fireworks: id null and name null (or absent) on later fragments', () => {
    const out = encode(
      [
        chunk({ tool_calls: [{ id: 'call_1', index: 0, type: 'function', function: { name: 'add', arguments: '{"a":' } }] }),
        chunk({ tool_calls: [{ id: null, index: 0, type: 'function', function: { name: null, arguments: '1}' } }] }),
        chunk({ tool_calls: [{ id: null, index: 0, type: 'function', function: { arguments: '' } }] }),
        chunk({}, 'tool_calls'),
        usage,
      ],
      '2026',
    );
    assert.deepEqual(toolCalls(out), [
      { index: 0, id: 'call_1', type: 'function', function: { name: 'add', arguments: '' } },
      { index: 0, function: { arguments: '{"a":' } },
      { index: 0, function: { arguments: '1}' } },
      { index: 0, function: { arguments: '' } },
    ]);
  });

  it('arguments absent on the first fragment: the header still says arguments ""', () => {
    const out = encode([chunk({ tool_calls: [{ index: 0, id: 'c', type: 'function', function: { name: 'add' } }] }), chunk({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] }), chunk({}, 'tool_calls'), usage], '2026');
    assert.deepEqual(toolCalls(out), [
      { index: 0, id: 'c', type: 'function', function: { name: 'add', arguments: '' } },
      { index: 0, function: { arguments: '{}' } },
    ]);
  });

  it('DeepInfra: a finish reason on every tool-call chunk becomes one finish chunk after the last call', () => {
    const out = encode(
      [
        chunk({ role: 'assistant', content: '' }),
        chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: '0', function: { arguments: '{"a": 2}', name: 'add' }, type: 'function' }] }, 'tool_calls'),
        chunk({ role: 'assistant', content: null, tool_calls: [{ index: 1, id: '1', function: { arguments: '{"a": 3}', name: 'multiply' }, type: 'function' }] }, 'tool_calls'),
        chunk({ role: 'assistant', content: '' }, 'tool_calls'), // Z.AI repeats it once more, with the usage
        usage,
      ],
      '2026',
    );
    const calls = assert2026Shape(out, 'deepinfra');
    assert.deepEqual(calls, [
      { id: '0', name: 'add', arguments: '{"a": 2}' },
      { id: '1', name: 'multiply', arguments: '{"a": 3}' },
    ]);
    assert.equal(out.at(-2).choices[0].native_finish_reason, 'tool_calls');
  });

  it('a call whose name comes after its first fragment waits for it; a call with no id gets a stable one', () => {
    const out = encode(
      [
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { name: 'add', arguments: ':1}' } }] }),
        chunk({}, 'tool_calls'),
        usage,
      ],
      '2026',
    );
    const calls = assert2026Shape(out, 'late name');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'add');
    assert.equal(calls[0].arguments, '{"a":1}');
    assert.match(calls[0].id, /^call_[0-9a-f]{24}$/);
    assert.equal(encode([chunk({ tool_calls: [{ index: 0, function: { name: 'add', arguments: '{}' } }] }), chunk({}, 'tool_calls'), usage], '2026')[0].choices[0].delta.tool_calls[0].id, calls[0].id, 'the same generation and index give the same id');
  });

  it('a host that numbers every call 0 gets its second call under its own index', () => {
    const out = encode(
      [
        chunk({ tool_calls: [{ index: 0, id: 'a', type: 'function', function: { name: 'add', arguments: '{}' } }] }),
        chunk({ tool_calls: [{ index: 0, id: 'b', type: 'function', function: { name: 'multiply', arguments: '{}' } }] }),
        chunk({}, 'tool_calls'),
        usage,
      ],
      '2026',
    );
    assert.deepEqual(assert2026Shape(out, 'index 0 twice'), [
      { id: 'a', name: 'add', arguments: '{}' },
      { id: 'b', name: 'multiply', arguments: '{}' },
    ]);
  });

  it('the 2025 era keeps OpenRouter 2025 bytes: the upstream fragments as sent, every finish, a null-finish usage chunk', () => {
    const events = [
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'functions.add:0', type: 'function', function: { name: 'add', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, id: 'functions.add:0', type: 'function', function: { name: '', arguments: '{}' } }] }, 'tool_calls'),
      usage,
    ];
    const out = encode(events, '2025');
    assert.deepEqual(toolCalls(out)[1], { index: 0, id: 'functions.add:0', type: 'function', function: { name: '', arguments: '{}' } });
    assert.equal(out.at(-1).choices[0].finish_reason, null);
  });
});

describe('through the HTTP server (2026 era)', () => {
  const mocks: Record<string, MockUpstream> = {};
  let gw: Gateway;
  before(async () => {
    for (const slug of ['baseten', 'chutes', 'deepinfra', 'fireworks']) mocks[slug] = await startMockUpstream();
    gw = await startGateway({ providers: Object.fromEntries(Object.entries(mocks).map(([k, m]) => [k, m.baseUrl])) });
  });
  after(async () => {
    await gw.close();
    for (const m of Object.values(mocks)) await m.close();
  });

  for (const slug of ['baseten', 'chutes', 'deepinfra', 'fireworks']) {
    it(`multi_tool_streaming_kimi-k2_${slug}: the recorded stream reaches the client in the 2026 shape`, async () => {
      const [rec] = loadCassette(`openrouter/TestOpenRouterCommon/multi_tool_streaming_kimi-k2_${slug}.yaml`);
      mocks[slug].enqueue(replyFromRecording(rec.response));
      const res = await postChat(gw, rec.request.body);
      assert.equal(res.status, 200);
      const chunks = (await readSse(res)).events.slice(0, -1).map((e) => JSON.parse(e));
      const calls = assert2026Shape(chunks, slug);
      assert.deepEqual(calls, assemble(recordedFragments(parseSse(rec.response.body).events)));
      assert.ok(calls.length >= 2, 'both calls');
    });
  }
});
