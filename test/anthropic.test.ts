/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * The Anthropic Messages adapter, end to end: a mock upstream replays Anthropic's own recorded
 * answers (test/fixtures/cassettes/upstream/TestAnthropic*, TestImageUpload*), the OpenRouter-shaped
 * request that corresponds to each recorded Anthropic request goes through Switchyard, and
 *  - the request the mock received must equal the recorded Anthropic request (whole body),
 *  - Switchyard's answer must have OpenRouter's shape (compared with OpenRouter's own recordings of
 *    Claude, see docs/COMPATIBILITY.md: #completion-body, #tool-call-deltas, #reasoning, #usage-object).
 * Multi-turn cases build the second request from Switchyard's first answer, as a client would, so
 * tool-call ids, arguments and thinking signatures make the full round trip.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { loadCassette, type Interaction } from './support/cassettes.js';
import { replyFromUpstreamRecording, startMockUpstream, type MockReply, type MockUpstream } from './support/mock-upstream.js';
import { blankIdentity, postChat, readSse, startGateway, type Gateway } from './support/gateway.js';
import { AnthropicAdapter } from '../src/providers/anthropic/adapter.js';
import { anthropicToolId, pythonJson, thinkingBlocks } from '../src/providers/anthropic/request.js';
import { chatToModel, reasoningParts } from '../src/ingress/chat-completions/to-model.js';
import { roundUsd } from '../src/accounting/cost.js';
import type { ChatRequest } from '../src/ingress/chat-completions/schema.js';
import type { UpstreamChunk } from '../src/providers/types.js';
import type { GenerationRequest } from '../src/model/request.js';
import { WEATHER_TOOL as WEATHER, numberTool, fetchGeneration as generation } from './support/requests.js';

const MODEL = 'anthropic/claude-sonnet-4';
const CANONICAL = 'anthropic/claude-4-sonnet-20250522';
const UPSTREAM_MODEL = 'claude-sonnet-4-20250514';
const HAIKU = 'anthropic/claude-haiku-4.5';
const COMMON = 'upstream/TestAnthropicCommon/claude-sonnet-4';
const CACHE = 'upstream/TestAnthropicCommonWithCacheControl/claude-sonnet-4';
const THINKING = 'upstream/TestAnthropicThinking/claude-sonnet-4';
const THINKING_CACHE = 'upstream/TestAnthropicThinkingWithCacheControl/claude-sonnet-4';
/** Claude Sonnet 4 list prices per token (catalog/anthropic.yaml). */
const PRICE = { prompt: 3e-6, completion: 15e-6, cacheRead: 0.3e-6, cacheWrite: 3.75e-6 };

// ------------------------------------------------------------------------------------------------
// OpenRouter-shaped client requests matching the recorded Anthropic requests
// ------------------------------------------------------------------------------------------------

const ADD = numberTool('add', 'Add two numbers');
const MULTIPLY = numberTool('multiply', 'Multiply two numbers');
const SYSTEM = 'You are a helpful assistant';
const EPHEMERAL = { type: 'ephemeral' };

/** The recorded tool cases pin parallel use explicitly (`disable_parallel_tool_use:false`); so does the client. */
const toolRequest = (system: string, user: string, tools: unknown[], extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  max_tokens: 4000,
  messages: [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ],
  tools,
  tool_choice: 'auto',
  parallel_tool_calls: true,
  ...extra,
});

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

const anthropicBody = (it: Interaction): any => JSON.parse(it.request.body);
const reply = (it: Interaction): MockReply => replyFromUpstreamRecording(it.response);

function assertForwarded(mock: MockUpstream, it: Interaction, label = 'upstream request'): any {
  const sent = mock.requests.at(-1)!;
  assert.equal(sent.method, 'POST');
  assert.equal(sent.path, '/v1/messages', 'adapter requests ${base_url}/messages');
  assert.equal(sent.headers['x-api-key'], 'test-key-anthropic');
  assert.equal(sent.headers['anthropic-version'], '2023-06-01');
  assert.equal(sent.headers.authorization, undefined, 'Anthropic authenticates with x-api-key only');
  assert.equal(sent.headers['anthropic-beta'], undefined, 'no beta unless configured');
  assert.match(String(sent.headers['content-type']), /^application\/json/);
  assert.deepEqual(sent.json, anthropicBody(it), `${label} equals the recorded Anthropic request`);
  return sent.json;
}

function cost(prompt: number, completion: number, cached = 0, written = 0, price = PRICE) {
  const p = roundUsd((prompt - cached - written) * price.prompt + cached * price.cacheRead + written * price.cacheWrite);
  const c = roundUsd(completion * price.completion);
  return { prompt: p, completion: c, total: roundUsd(p + c) };
}

/** The 2026 usage object for the given token counts, priced like Switchyard prices them. */
function expectedUsage(prompt: number, completion: number, opts: { cached?: number; written?: number; reasoning?: number; price?: typeof PRICE } = {}) {
  const k = cost(prompt, completion, opts.cached ?? 0, opts.written ?? 0, opts.price ?? PRICE);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cost: k.total,
    is_byok: false,
    prompt_tokens_details: { cached_tokens: opts.cached ?? 0, cache_write_tokens: opts.written ?? 0, audio_tokens: 0, video_tokens: 0 },
    cost_details: { upstream_inference_cost: k.total, upstream_inference_prompt_cost: k.prompt, upstream_inference_completions_cost: k.completion },
    completion_tokens_details: { reasoning_tokens: opts.reasoning ?? 0, image_tokens: 0, audio_tokens: 0 },
  };
}

/** Anthropic SSE events of a recorded stream, parsed. */
function upstreamEvents(it: Interaction): any[] {
  return it.response.body
    .split(/\n\n+/)
    .map((b) => /^data: (.*)$/m.exec(b)?.[1])
    .filter((d): d is string => d !== undefined)
    .map((d) => JSON.parse(d));
}

/** What the recorded Anthropic stream says: text, thinking, signature, tool calls, stop reason, usage. */
function recordedStream(it: Interaction) {
  let text = '';
  let thinking = '';
  let signature = '';
  let stop: string | null = null;
  let usage: any = {};
  const tools: { id: string; name: string; arguments: string }[] = [];
  const toolAt = new Map<number, number>();
  for (const e of upstreamEvents(it)) {
    if (e.type === 'message_start') usage = { ...e.message.usage };
    if (e.type === 'content_block_start' && e.content_block.type === 'tool_use') {
      toolAt.set(e.index, tools.length);
      tools.push({ id: e.content_block.id, name: e.content_block.name, arguments: '' });
    }
    if (e.type === 'content_block_delta') {
      const d = e.delta;
      if (d.type === 'text_delta') text += d.text;
      if (d.type === 'thinking_delta') thinking += d.thinking;
      if (d.type === 'signature_delta') signature += d.signature;
      if (d.type === 'input_json_delta') tools[toolAt.get(e.index)!].arguments += d.partial_json;
    }
    if (e.type === 'message_delta') {
      stop = e.delta.stop_reason;
      usage = { ...usage, ...e.usage };
    }
  }
  return { text, thinking, signature, stop, usage, tools };
}

interface ClientStream {
  events: string[];
  chunks: any[];
  text: string;
  reasoning: string;
  details: any[];
  toolCalls: { id: string; type: string; name: string; arguments: string }[];
  toolFragments: any[];
  finish: string | null;
  native: string | null;
  usage: any;
}

/** Reads Switchyard's SSE answer the way an OpenAI-style client accumulates it. */
async function readClientStream(res: Response, model = CANONICAL): Promise<ClientStream> {
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const { events } = await readSse(res);
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const out: ClientStream = { events: events.slice(0, -1), chunks, text: '', reasoning: '', details: [], toolCalls: [], toolFragments: [], finish: null, native: null, usage: null };
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1, 'one generation id in every chunk');
  assert.equal(res.headers.get('x-generation-id'), chunks[0].id);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.model, model, 'model = canonical slug of the model that served');
    assert.equal(c.provider, 'Anthropic');
    if (c.usage) out.usage = c.usage;
    const ch = c.choices[0];
    if (!ch) continue;
    assert.equal(ch.delta.role, 'assistant', 'every delta names the assistant role');
    if (typeof ch.delta.content === 'string') out.text += ch.delta.content;
    if (typeof ch.delta.reasoning === 'string') out.reasoning += ch.delta.reasoning;
    if (ch.delta.reasoning_details) {
      assert.equal(ch.delta.reasoning_details.length, 1, 'one reasoning detail per delta (docs/COMPATIBILITY.md#reasoning-details)');
      out.details.push(ch.delta.reasoning_details[0]);
    }
    for (const tc of ch.delta.tool_calls ?? []) {
      out.toolFragments.push(tc);
      const slot = (out.toolCalls[tc.index] ??= { id: '', type: '', name: '', arguments: '' });
      if (tc.id) slot.id = tc.id;
      if (tc.type) slot.type = tc.type;
      if (tc.function?.name) slot.name = tc.function.name;
      if (typeof tc.function?.arguments === 'string') slot.arguments += tc.function.arguments;
    }
    if (ch.finish_reason && !c.usage) {
      out.finish = ch.finish_reason;
      out.native = ch.native_finish_reason;
    }
  }
  assert.ok(out.usage, 'a usage chunk before [DONE]');
  assert.ok(chunks.at(-1).usage, 'usage is the last chunk');
  return out;
}

/** Tool-call streaming contract (docs/COMPATIBILITY.md#tool-call-deltas): header {id,type,name,arguments:""}, then bare argument fragments. */
function assertToolFragments(s: ClientStream, expected: { id: string; name: string; arguments: string }[]) {
  for (const [i, want] of expected.entries()) {
    const frags = s.toolFragments.filter((f) => f.index === i);
    assert.deepEqual(frags[0], { index: i, id: want.id, type: 'function', function: { name: want.name, arguments: '' } }, `tool call ${i} header`);
    for (const f of frags.slice(1)) assert.deepEqual(Object.keys(f), ['index', 'function'], 'argument fragments carry only index and arguments');
    assert.equal(frags.map((f) => f.function.arguments).join(''), want.arguments, `tool call ${i} arguments`);
  }
  assert.equal(s.toolCalls.length, expected.length);
  for (const c of s.chunks) if (c.choices[0]?.delta.tool_calls) assert.equal(c.choices[0].delta.content, null, 'content:null on tool-call chunks');
}

async function jsonOk(res: Response): Promise<any> {
  assert.equal(res.status, 200);
  return res.json();
}

/** The assistant message a client appends after a non-streamed turn (what it received, sent back). */
function assistantFrom(body: any): any {
  const m = body.choices[0].message;
  const out: any = { role: 'assistant', content: m.content };
  if (m.tool_calls) out.tool_calls = m.tool_calls.map((t: any) => ({ id: t.id, type: 'function', function: t.function }));
  if (m.reasoning_details) out.reasoning_details = m.reasoning_details;
  if (m.reasoning) out.reasoning = m.reasoning;
  return out;
}

// ------------------------------------------------------------------------------------------------

describe('Anthropic Messages adapter (recorded upstream traffic, 2026 wire era)', () => {
  let mock: MockUpstream;
  let gw: Gateway;
  const freshHealth = () => {
    (gw.app as any).health = new (gw.app.health.constructor as any)(30_000);
  };

  before(async () => {
    mock = await startMockUpstream();
    gw = await startGateway({ providers: { anthropic: `${mock.url}/v1` } });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  it('simple (non-streaming): translated request, chat.completion body, end_turn → stop, usage and cost', async () => {
    const [rec] = loadCassette(`${COMMON}/simple.yaml`);
    mock.enqueue(reply(rec));
    const res = await postChat(gw, {
      model: MODEL,
      max_tokens: 4000,
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: 'Say hi in Portuguese' },
      ],
    });
    const body = await jsonOk(res);
    assertForwarded(mock, rec);
    const upstream = JSON.parse(rec.response.body);
    assert.deepEqual(Object.keys(body), ['id', 'object', 'created', 'model', 'provider', 'system_fingerprint', 'choices', 'usage']);
    assert.equal(body.model, CANONICAL);
    assert.equal(body.provider, 'Anthropic');
    assert.equal(body.system_fingerprint, null);
    assert.equal(res.headers.get('x-generation-id'), body.id);
    assert.deepEqual(body.choices, [
      {
        index: 0,
        logprobs: null,
        finish_reason: 'stop',
        native_finish_reason: 'end_turn',
        message: { role: 'assistant', content: upstream.content[0].text, refusal: null, reasoning: null },
      },
    ]);
    assert.deepEqual(body.usage, expectedUsage(16, 34));
    assert.equal(body.usage.cost, 0.000558); // 16 × $3/M + 34 × $15/M
  });

  it('simple_streaming: text deltas in order, no empty lead chunk, finish and usage chunks', async () => {
    const [rec] = loadCassette(`${COMMON}/simple_streaming.yaml`);
    mock.enqueue(reply(rec));
    const res = await postChat(gw, {
      model: MODEL,
      max_tokens: 4000,
      stream: true,
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: 'Say hi in Portuguese' },
      ],
    });
    const s = await readClientStream(res);
    const sent = assertForwarded(mock, rec);
    assert.equal(sent.stream, true);
    assert.equal(mock.requests.at(-1)!.headers.accept, 'text/event-stream');
    const want = recordedStream(rec);
    assert.equal(s.text, want.text);
    const deltas = upstreamEvents(rec).filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text);
    // one OpenRouter chunk per text delta, then the finish chunk, then the usage chunk
    assert.equal(s.chunks.length, deltas.length + 2);
    assert.equal(
      blankIdentity(s.events[0]),
      `{"id":"gen-X","object":"chat.completion.chunk","created":0,"model":"${CANONICAL}","provider":"Anthropic","choices":[{"index":0,"delta":{"content":${JSON.stringify(deltas[0])},"role":"assistant"},"finish_reason":null,"native_finish_reason":null}]}`,
    );
    // As OpenRouter's Claude streams end (TestOpenRouterThinking/claude-sonnet-4, 2nd turn): no reasoning key.
    assert.equal(
      blankIdentity(s.events.at(-2)!),
      `{"id":"gen-X","object":"chat.completion.chunk","created":0,"model":"${CANONICAL}","provider":"Anthropic","choices":[{"index":0,"delta":{"content":"","role":"assistant"},"finish_reason":"stop","native_finish_reason":"end_turn"}]}`,
    );
    assert.deepEqual(s.usage, expectedUsage(16, 38));
    // The usage chunk's finish reasons are null (docs/COMPATIBILITY.md, deliberate differences: LangChain concatenates them).
    assert.deepEqual(s.chunks.at(-1).choices, [{ index: 0, delta: { content: '', role: 'assistant' }, finish_reason: null, native_finish_reason: null }]);
  });

  it('tool (non-streaming, two turns): tool_use → tool_calls with Anthropic ids; tool result goes back as tool_result', async () => {
    const [turn1, turn2] = loadCassette(`${COMMON}/tool.yaml`);
    const req = toolRequest(SYSTEM, "What's the weather in Florence,Italy?", [WEATHER]);
    mock.enqueue(reply(turn1));
    const body1 = await jsonOk(await postChat(gw, req));
    assertForwarded(mock, turn1, 'turn 1');
    const up1 = JSON.parse(turn1.response.body);
    const toolUse = up1.content.find((b: any) => b.type === 'tool_use');
    const msg = body1.choices[0].message;
    assert.deepEqual(Object.keys(msg), ['role', 'content', 'refusal', 'reasoning', 'tool_calls']);
    assert.equal(msg.content, up1.content[0].text);
    // OpenRouter prints Anthropic's tool input with Python-style separators (recorded: {"a": 2, "b": 3}).
    assert.deepEqual(msg.tool_calls, [{ type: 'function', index: 0, id: toolUse.id, function: { name: 'weather', arguments: '{"location": "Florence,Italy"}' } }]);
    assert.equal(body1.choices[0].finish_reason, 'tool_calls');
    assert.equal(body1.choices[0].native_finish_reason, 'tool_use');
    assert.deepEqual(body1.usage, expectedUsage(394, 66));

    mock.enqueue(reply(turn2));
    const messages = [...req.messages, assistantFrom(body1), { role: 'tool', tool_call_id: toolUse.id, content: '40 C' }];
    const body2 = await jsonOk(await postChat(gw, { ...req, messages }));
    assertForwarded(mock, turn2, 'turn 2');
    assert.equal(body2.choices[0].message.content, JSON.parse(turn2.response.body).content[0].text);
    assert.equal(body2.choices[0].finish_reason, 'stop');
  });

  it('tool_streaming (two turns): header fragment with id and name, argument fragments, tool_use → tool_calls', async () => {
    const [turn1, turn2] = loadCassette(`${COMMON}/tool_streaming.yaml`);
    const req = toolRequest(SYSTEM, "What's the weather in Florence,Italy?", [WEATHER], { stream: true });
    mock.enqueue(reply(turn1));
    const s1 = await readClientStream(await postChat(gw, req));
    assertForwarded(mock, turn1, 'turn 1');
    const want = recordedStream(turn1);
    assert.equal(s1.text, want.text);
    assertToolFragments(s1, want.tools);
    // Anthropic's leading empty partial_json is passed on, as OpenRouter does with Claude
    // (TestOpenRouterThinking/claude-sonnet-4/thinking-streaming.yaml has empty argument fragments).
    assert.equal(s1.toolFragments[1].function.arguments, '');
    assert.equal(s1.finish, 'tool_calls');
    assert.equal(s1.native, 'tool_use');
    assert.deepEqual(s1.usage, expectedUsage(394, 67));

    mock.enqueue(reply(turn2));
    const call = s1.toolCalls[0];
    const messages = [
      ...req.messages,
      { role: 'assistant', content: s1.text, tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }] },
      { role: 'tool', tool_call_id: call.id, content: '40 C' },
    ];
    const s2 = await readClientStream(await postChat(gw, { ...req, messages }));
    assertForwarded(mock, turn2, 'turn 2');
    assert.equal(s2.text, recordedStream(turn2).text);
    assert.equal(s2.finish, 'stop');
    assert.equal(s2.native, 'end_turn');
  });

  it('multi_tool (non-streaming): two tool calls, indexes 0 and 1; consecutive tool results merge into one user turn', async () => {
    const [turn1, turn2] = loadCassette(`${COMMON}/multi_tool.yaml`);
    const req = toolRequest('You are a helpful assistant. CRITICAL: Always use both add and multiply at the same time ALWAYS.', 'Add and multiply the number 2 and 3', [ADD, MULTIPLY]);
    mock.enqueue(reply(turn1));
    const body1 = await jsonOk(await postChat(gw, req));
    assertForwarded(mock, turn1, 'turn 1');
    const calls = body1.choices[0].message.tool_calls;
    assert.deepEqual(
      calls.map((c: any) => [c.index, c.function.name, c.function.arguments]),
      [
        [0, 'add', '{"a": 2, "b": 3}'],
        [1, 'multiply', '{"a": 2, "b": 3}'],
      ],
    );
    mock.enqueue(reply(turn2));
    const messages = [
      ...req.messages,
      assistantFrom(body1),
      { role: 'tool', tool_call_id: calls[0].id, content: '5' },
      { role: 'tool', tool_call_id: calls[1].id, content: '6' },
    ];
    const body2 = await jsonOk(await postChat(gw, { ...req, messages }));
    const sent = assertForwarded(mock, turn2, 'turn 2');
    assert.equal(sent.messages.length, 3, 'user, assistant, one user turn holding both tool results');
    assert.equal(body2.choices[0].message.content, 'The results are:\n- 2 + 3 = 5\n- 2 × 3 = 6');
  });

  it('multi_tool_streaming: two streamed tool calls with their own index, id and arguments', async () => {
    const [turn1, turn2] = loadCassette(`${COMMON}/multi_tool_streaming.yaml`);
    const req = toolRequest('You are a helpful assistant. Always use both add and multiply at the same time.', 'Add and multiply the number 2 and 3', [ADD, MULTIPLY], { stream: true });
    mock.enqueue(reply(turn1));
    const s1 = await readClientStream(await postChat(gw, req));
    assertForwarded(mock, turn1, 'turn 1');
    const want = recordedStream(turn1);
    assertToolFragments(s1, want.tools);
    assert.deepEqual(s1.toolCalls.map((c) => c.name), ['add', 'multiply']);
    assert.equal(s1.finish, 'tool_calls');
    assert.deepEqual(s1.usage, expectedUsage(502, 137));

    mock.enqueue(reply(turn2));
    const messages = [
      ...req.messages,
      { role: 'assistant', content: s1.text, tool_calls: s1.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) },
      { role: 'tool', tool_call_id: s1.toolCalls[0].id, content: '5' },
      { role: 'tool', tool_call_id: s1.toolCalls[1].id, content: '6' },
    ];
    const s2 = await readClientStream(await postChat(gw, { ...req, messages }));
    assertForwarded(mock, turn2, 'turn 2');
    assert.equal(s2.text, recordedStream(turn2).text);
  });

  it('thinking (non-streaming loop): reasoning.max_tokens → thinking budget; signature returned and sent back byte for byte', async () => {
    const [turn1, turn2] = loadCassette(`${THINKING}/thinking.yaml`);
    const req = toolRequest(SYSTEM, "What's the weather in Florence, Italy?", [WEATHER], { max_tokens: 4096, reasoning: { max_tokens: 4000 } });
    mock.enqueue(reply(turn1));
    const body1 = await jsonOk(await postChat(gw, req));
    const sent1 = assertForwarded(mock, turn1, 'turn 1');
    assert.deepEqual(sent1.thinking, { budget_tokens: 4000, type: 'enabled' });
    const up1 = JSON.parse(turn1.response.body);
    const thinking = up1.content[0];
    const msg = body1.choices[0].message;
    // OpenRouter's non-streaming Claude message (TestOpenRouterThinking/claude-sonnet-4/thinking.yaml, 2026):
    // content null, reasoning text, tool_calls, then reasoning_details with the signature.
    assert.deepEqual(Object.keys(msg), ['role', 'content', 'refusal', 'reasoning', 'tool_calls', 'reasoning_details']);
    assert.equal(msg.content, null);
    assert.equal(msg.reasoning, thinking.thinking);
    assert.deepEqual(msg.reasoning_details, [{ type: 'reasoning.text', text: thinking.thinking, format: 'anthropic-claude-v1', index: 0, signature: thinking.signature }]);
    assert.deepEqual(Object.keys(msg.reasoning_details[0]), ['type', 'text', 'format', 'index', 'signature']);
    assert.equal(msg.tool_calls[0].function.arguments, '{"location": "Florence, Italy"}');
    assert.equal(body1.choices[0].native_finish_reason, 'tool_use');
    const usage = body1.usage;
    assert.equal(usage.completion_tokens, 118);
    // Anthropic does not split thinking tokens out; Switchyard estimates them (~4 chars/token), as OpenRouter reports some.
    assert.equal(usage.completion_tokens_details.reasoning_tokens, Math.ceil(thinking.thinking.length / 4));
    assert.equal(usage.cost, cost(424, 118).total, 'reasoning tokens are billed as completion tokens');

    mock.enqueue(reply(turn2));
    const toolId = msg.tool_calls[0].id;
    const messages = [...req.messages, assistantFrom(body1), { role: 'tool', tool_call_id: toolId, content: '40 C' }];
    const body2 = await jsonOk(await postChat(gw, { ...req, messages }));
    const sent2 = assertForwarded(mock, turn2, 'turn 2');
    assert.equal(sent2.messages[1].content[0].signature, thinking.signature, 'signature exactly as received');
    assert.equal(sent2.messages[1].content[0].type, 'thinking');
    assert.equal(sent2.messages[1].content[1].type, 'tool_use', 'thinking precedes tool_use');
    assert.equal(body2.choices[0].message.reasoning, null);
    assert.equal(body2.choices[0].message.reasoning_details, undefined);
  });

  it('thinking-streaming loop: reasoning deltas, a text-less signature chunk, then the tool call; the streamed details go back verbatim', async () => {
    const [turn1, turn2] = loadCassette(`${THINKING}/thinking-streaming.yaml`);
    const req = toolRequest(SYSTEM, "What's the weather in Florence, Italy?", [WEATHER], { max_tokens: 4096, reasoning: { max_tokens: 4000 }, stream: true });
    mock.enqueue(reply(turn1));
    const s1 = await readClientStream(await postChat(gw, req));
    assertForwarded(mock, turn1, 'turn 1');
    const want = recordedStream(turn1);
    assert.equal(s1.reasoning, want.thinking);
    assert.equal(s1.text, '');

    // Chunk shapes as OpenRouter streams Claude (docs/COMPATIBILITY.md#streamed-reasoning-shapes, TestOpenRouterThinking/claude-sonnet-4):
    const head = `{"id":"gen-X","object":"chat.completion.chunk","created":0,"model":"${CANONICAL}","provider":"Anthropic","choices":[{"index":0,"delta":`;
    const firstThinking = upstreamEvents(turn1).find((e) => e.delta?.type === 'thinking_delta').delta.thinking;
    assert.equal(
      blankIdentity(s1.events[0]),
      `${head}{"content":"","role":"assistant","reasoning":${JSON.stringify(firstThinking)},"reasoning_details":[{"type":"reasoning.text","text":${JSON.stringify(firstThinking)},"format":"anthropic-claude-v1","index":0}]},"finish_reason":null,"native_finish_reason":null}]}`,
    );
    const sigIdx = s1.chunks.findIndex((c) => c.choices[0]?.delta.reasoning_details?.[0].signature);
    assert.equal(
      blankIdentity(s1.events[sigIdx]),
      `${head}{"content":"","role":"assistant","reasoning_details":[{"type":"reasoning.text","signature":${JSON.stringify(want.signature)},"format":"anthropic-claude-v1","index":0}]},"finish_reason":null,"native_finish_reason":null}]}`,
      'the signature chunk has no reasoning key and no text',
    );
    const toolIdx = s1.chunks.findIndex((c) => c.choices[0]?.delta.tool_calls);
    assert.ok(sigIdx < toolIdx, 'signature before the tool call, in upstream order');
    assert.ok(s1.details.slice(0, -1).every((d) => Object.keys(d).join() === 'type,text,format,index'));
    assertToolFragments(s1, want.tools);
    assert.equal(
      blankIdentity(s1.events.at(-2)!),
      `${head}{"content":"","role":"assistant","reasoning":null},"finish_reason":"tool_calls","native_finish_reason":"tool_use"}]}`,
    );
    assert.equal(s1.usage.completion_tokens, 119);
    assert.equal(s1.usage.completion_tokens_details.reasoning_tokens, Math.ceil(want.thinking.length / 4));
    assert.equal(s1.usage.cost, cost(424, 119).total);

    // Turn 2: the client returns every streamed detail as it received it (unmerged fragments).
    mock.enqueue(reply(turn2));
    const call = s1.toolCalls[0];
    const messages = [
      ...req.messages,
      {
        role: 'assistant',
        content: null,
        reasoning: s1.reasoning,
        reasoning_details: s1.details,
        tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }],
      },
      { role: 'tool', tool_call_id: call.id, content: '40 C' },
    ];
    const s2 = await readClientStream(await postChat(gw, { ...req, messages }));
    const sent = assertForwarded(mock, turn2, 'turn 2');
    assert.equal(sent.messages[1].content[0].signature, want.signature);
    assert.equal(sent.messages[1].content[0].thinking, want.thinking);
    assert.equal(s2.text, recordedStream(turn2).text);
    assert.equal(s2.finish, 'stop');
    assert.equal(s2.reasoning, '');
    assert.ok(!s2.events.at(-2)!.includes('"reasoning"'), 'no reasoning key when the turn had none');
  });

  it('thinking: fantasy-style merged detail ({text, signature} in one item) is accepted the same way', async () => {
    const [turn1, turn2] = loadCassette(`${THINKING}/thinking-streaming.yaml`);
    const want = recordedStream(turn1);
    const toolUse = anthropicBody(turn2).messages[1].content[1];
    const req = toolRequest(SYSTEM, "What's the weather in Florence, Italy?", [WEATHER], { max_tokens: 4096, reasoning: { max_tokens: 4000 }, stream: true });
    mock.enqueue(reply(turn2));
    const messages = [
      ...req.messages,
      {
        role: 'assistant',
        tool_calls: [{ id: toolUse.id, type: 'function', function: { name: 'weather', arguments: '{"location": "Florence, Italy"}' } }],
        reasoning_details: [{ format: 'anthropic-claude-v1', index: 0, signature: want.signature, text: want.thinking, type: 'reasoning.text' }],
        reasoning: want.thinking,
      },
      { role: 'tool', tool_call_id: toolUse.id, content: '40 C' },
    ];
    await readClientStream(await postChat(gw, { ...req, messages }));
    assertForwarded(mock, turn2);
  });

  it('cache control (non-streaming tool loop): message-level, tool_calls[]-level and tool-message markers land on the right blocks', async () => {
    const [turn1, turn2] = loadCassette(`${CACHE}/tool.yaml`);
    const req = {
      ...toolRequest(SYSTEM, "What's the weather in Florence,Italy?", [WEATHER]),
      messages: [
        { role: 'system', content: SYSTEM, cache_control: EPHEMERAL },
        { role: 'user', content: "What's the weather in Florence,Italy?", cache_control: EPHEMERAL },
      ],
    };
    mock.enqueue(reply(turn1));
    const body1 = await jsonOk(await postChat(gw, req));
    assertForwarded(mock, turn1, 'turn 1');
    const call = body1.choices[0].message.tool_calls[0];
    mock.enqueue(reply(turn2));
    // As the recorded client does: the marker moves to the newest messages.
    const messages = [
      req.messages[0],
      { role: 'user', content: "What's the weather in Florence,Italy?" },
      { role: 'assistant', content: body1.choices[0].message.content, tool_calls: [{ id: call.id, type: 'function', function: call.function, cache_control: EPHEMERAL }] },
      { role: 'tool', tool_call_id: call.id, content: '40 C', cache_control: EPHEMERAL },
    ];
    await jsonOk(await postChat(gw, { ...req, messages }));
    assertForwarded(mock, turn2, 'turn 2');
  });

  it('cache control (streaming, two tool calls): the marker on the second tool call and the last tool result', async () => {
    const [turn1, turn2] = loadCassette(`${CACHE}/multi_tool_streaming.yaml`);
    const system = 'You are a helpful assistant. Always use both add and multiply at the same time.';
    const user = 'Add and multiply the number 2 and 3';
    const req = {
      ...toolRequest(system, user, [ADD, MULTIPLY], { stream: true }),
      messages: [
        { role: 'system', content: system, cache_control: EPHEMERAL },
        { role: 'user', content: [{ type: 'text', text: user, cache_control: EPHEMERAL }] },
      ],
    };
    mock.enqueue(reply(turn1));
    const s1 = await readClientStream(await postChat(gw, req));
    assertForwarded(mock, turn1, 'turn 1');
    mock.enqueue(reply(turn2));
    const [add, mul] = s1.toolCalls;
    const messages = [
      req.messages[0],
      { role: 'user', content: user },
      {
        role: 'assistant',
        content: s1.text,
        tool_calls: [
          { id: add.id, type: 'function', function: { name: add.name, arguments: add.arguments } },
          { id: mul.id, type: 'function', function: { name: mul.name, arguments: mul.arguments }, cache_control: EPHEMERAL },
        ],
      },
      { role: 'tool', tool_call_id: add.id, content: '5' },
      { role: 'tool', tool_call_id: mul.id, content: '6', cache_control: EPHEMERAL },
    ];
    await readClientStream(await postChat(gw, { ...req, messages }));
    assertForwarded(mock, turn2, 'turn 2');
  });

  it('cache control with thinking (streaming loop): markers and signature together', async () => {
    const [turn1, turn2] = loadCassette(`${THINKING_CACHE}/thinking-streaming.yaml`);
    const user = "What's the weather in Florence, Italy?";
    const req = {
      ...toolRequest(SYSTEM, user, [WEATHER], { max_tokens: 4096, reasoning: { max_tokens: 4000 }, stream: true }),
      messages: [
        { role: 'system', content: SYSTEM, cache_control: EPHEMERAL },
        { role: 'user', content: user, cache_control: EPHEMERAL },
      ],
    };
    mock.enqueue(reply(turn1));
    const s1 = await readClientStream(await postChat(gw, req));
    assertForwarded(mock, turn1, 'turn 1');
    mock.enqueue(reply(turn2));
    const call = s1.toolCalls[0];
    const messages = [
      req.messages[0],
      { role: 'user', content: user },
      {
        role: 'assistant',
        content: '',
        reasoning_details: s1.details,
        tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments }, cache_control: EPHEMERAL }],
      },
      { role: 'tool', tool_call_id: call.id, content: '40 C', cache_control: EPHEMERAL },
    ];
    await readClientStream(await postChat(gw, { ...req, messages }));
    assertForwarded(mock, turn2, 'turn 2');
  });

  it('cache hit and write: Anthropic disjoint counts become prompt_tokens = input + read + creation, priced per catalog', async () => {
    const [rec] = loadCassette(`${CACHE}/simple.yaml`);
    // The recorded prompts are below Claude's minimum cacheable size (all cache counts 0); the same
    // answer with cache counts, as Anthropic reports a hit (read) plus a new breakpoint (creation).
    const upstream = JSON.parse(rec.response.body);
    upstream.usage = { ...upstream.usage, input_tokens: 16, cache_read_input_tokens: 2048, cache_creation_input_tokens: 1100 };
    mock.enqueue({ json: upstream });
    const body = await jsonOk(
      await postChat(gw, {
        model: MODEL,
        max_tokens: 4000,
        messages: [
          { role: 'system', content: [{ type: 'text', text: SYSTEM, cache_control: EPHEMERAL }] },
          { role: 'user', content: [{ type: 'text', text: 'Say hi in Portuguese', cache_control: EPHEMERAL }] },
        ],
      }),
    );
    assertForwarded(mock, rec);
    const out = upstream.usage.output_tokens;
    assert.deepEqual(body.usage, expectedUsage(16 + 2048 + 1100, out, { cached: 2048, written: 1100 }));
    // 16 × $3/M + 2048 × $0.30/M + 1100 × $3.75/M = 0.0000480 + 0.0006144 + 0.004125
    assert.equal(body.usage.cost_details.upstream_inference_prompt_cost, 0.0047874);

    // Streaming (a minimal synthetic stream): message_start carries the cache counts, message_delta
    // only the final output count.
    mock.enqueue({
      sse: [
        `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_cache', type: 'message', role: 'assistant', model: UPSTREAM_MODEL, content: [], stop_reason: null, usage: { input_tokens: 16, cache_read_input_tokens: 2048, cache_creation_input_tokens: 1100, output_tokens: 1 } } })}\n\n`,
        `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
        `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Olá!"}}\n\n`,
        `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
        `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}\n\n`,
        `event: message_stop\ndata: {"type":"message_stop"}\n\n`,
      ],
    });
    const s = await readClientStream(await postChat(gw, { model: MODEL, stream: true, messages: [{ role: 'user', content: 'Say hi in Portuguese' }] }));
    assert.equal(s.text, 'Olá!');
    assert.deepEqual(s.usage, expectedUsage(16 + 2048 + 1100, 5, { cached: 2048, written: 1100 }));
    assert.equal(mock.requests.at(-1)!.json.max_tokens, 64000, 'no max_tokens from the client: the catalog max output');
  });

  it('image upload (base64 data URL → image block), non-streaming and streaming', async () => {
    const [rec] = loadCassette('upstream/TestImageUploadAgent/anthropic-claude-sonnet-4.yaml');
    const image = anthropicBody(rec).messages[0].content[1].source;
    const request = {
      model: MODEL,
      max_tokens: 4000,
      messages: [
        { role: 'system', content: SYSTEM },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Describe the image briefly in English.' },
            { type: 'image_url', image_url: { url: `data:${image.media_type};base64,${image.data}` } },
          ],
        },
      ],
    };
    mock.enqueue(reply(rec));
    const body = await jsonOk(await postChat(gw, request));
    assertForwarded(mock, rec);
    assert.equal(body.choices[0].message.content, JSON.parse(rec.response.body).content[0].text);
    assert.deepEqual(body.usage, expectedUsage(27, 65));

    const [srec] = loadCassette('upstream/TestImageUploadAgentStreaming/anthropic-claude-sonnet-4-stream.yaml');
    mock.enqueue(reply(srec));
    const s = await readClientStream(await postChat(gw, { ...request, stream: true }));
    assertForwarded(mock, srec);
    assert.equal(s.text, recordedStream(srec).text);
    assert.equal(s.finish, 'stop');
  });

  it('max_tokens stop: max_tokens → length, native max_tokens', async () => {
    const [rec] = loadCassette(`${COMMON}/simple.yaml`);
    const upstream = { ...JSON.parse(rec.response.body), stop_reason: 'max_tokens' };
    mock.enqueue({ json: upstream });
    const body = await jsonOk(await postChat(gw, { model: MODEL, max_tokens: 34, messages: [{ role: 'user', content: 'Say hi in Portuguese' }] }));
    assert.equal(body.choices[0].finish_reason, 'length');
    assert.equal(body.choices[0].native_finish_reason, 'max_tokens');
    assert.equal(mock.requests.at(-1)!.json.max_tokens, 34);
  });

  // ----------------------------------------------------------------------------------------------
  // errors and fallback
  // ----------------------------------------------------------------------------------------------

  const anthropicError = (type: string, message: string) => ({ type: 'error', error: { type, message } });

  it('529 overloaded_error: Switchyard falls back (models list) and the client never sees the 529', async () => {
    freshHealth();
    const [rec] = loadCassette(`${COMMON}/simple.yaml`);
    mock.enqueue({ status: 529, json: anthropicError('overloaded_error', 'Overloaded') }, reply(rec));
    const before = mock.requests.length;
    const res = await postChat(gw, { model: MODEL, models: [HAIKU], max_tokens: 4000, messages: [{ role: 'user', content: 'Say hi in Portuguese' }] });
    const body = await jsonOk(res);
    assert.equal(mock.requests.length - before, 2);
    assert.equal(mock.requests.at(-2)!.json.model, UPSTREAM_MODEL);
    assert.equal(mock.requests.at(-1)!.json.model, 'claude-haiku-4-5-20251001');
    assert.equal(body.model, 'anthropic/claude-4.5-haiku-20251001');
    // Haiku 4.5 prices: 16 × $1/M + 34 × $5/M
    assert.equal(body.usage.cost, 0.000186);
    const gen = await generation(gw, res.headers.get('x-generation-id')!);
    assert.deepEqual(gen.provider_responses.map((p: any) => [p.provider_name, p.status]), [
      ['Anthropic', 529],
      ['Anthropic', 200],
    ]);
  });

  it('529 with nothing left to try: OpenRouter error body, metadata.raw = Anthropic message', async () => {
    freshHealth();
    mock.enqueue({ status: 529, json: anthropicError('overloaded_error', 'Overloaded') });
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 502);
    const body: any = await res.json();
    assert.deepEqual(body.error, { message: 'Provider returned error', code: 502, metadata: { raw: 'Overloaded', provider_name: 'Anthropic' } });
  });

  it('429 rate_limit_error with retry-after: status 429, Retry-After passed on, raw message kept', async () => {
    freshHealth();
    const message = 'This request would exceed the rate limit for your organization of 50 requests per minute.';
    mock.enqueue({ status: 429, headers: { 'retry-after': '17' }, json: anthropicError('rate_limit_error', message) });
    const res = await postChat(gw, { model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '17');
    const body: any = await res.json();
    assert.deepEqual(body.error, { message: 'Provider returned error', code: 429, metadata: { raw: message, provider_name: 'Anthropic' } });
  });

  it('400 invalid_request_error: not retried; the client gets 400 with the raw message', async () => {
    freshHealth();
    const message = 'messages.1.content.0.thinking.signature: Field required';
    mock.enqueue({ status: 400, json: anthropicError('invalid_request_error', message) });
    const before = mock.requests.length;
    // (With `models: [...]` the next model would get its turn, docs/COMPATIBILITY.md#fallback-models; see routing-integration.test.ts.)
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 400);
    assert.equal(mock.requests.length - before, 1, 'a client error is not retried');
    const body: any = await res.json();
    assert.equal(body.error.metadata.raw, message);
  });

  it('error event in the stream before any content: treated as a failed attempt, the fallback answers', async () => {
    freshHealth();
    const [rec] = loadCassette(`${COMMON}/simple_streaming.yaml`);
    const start = reply(rec) as { sse: string[] };
    mock.enqueue({ sse: [start.sse[0], `event: error\ndata: ${JSON.stringify(anthropicError('overloaded_error', 'Overloaded'))}\n\n`] }, reply(rec));
    const res = await postChat(gw, { model: MODEL, models: [HAIKU], max_tokens: 4000, stream: true, messages: [{ role: 'user', content: 'Say hi in Portuguese' }] });
    // every chunk names Haiku: nothing of the failed Sonnet attempt leaked
    const s = await readClientStream(res, 'anthropic/claude-4.5-haiku-20251001');
    assert.equal(s.text, recordedStream(rec).text);
    const gen = await generation(gw, res.headers.get('x-generation-id')!);
    // The failed attempt had status 200 (the error came inside the stream), then Haiku answered.
    assert.deepEqual(gen.provider_responses.map((p: any) => [p.status, p.model_permaslug]), [
      [200, MODEL],
      [200, HAIKU],
    ]);
  });

  // ----------------------------------------------------------------------------------------------
  // ----------------------------------------------------------------------------------------------

  it('streaming with reasoning.exclude: no reasoning text or details reach the client (docs/COMPATIBILITY.md#reasoning-request)', async () => {
    const [rec] = loadCassette(`${THINKING}/thinking-streaming.yaml`);
    mock.enqueue(reply(rec));
    const req = toolRequest(SYSTEM, "What's the weather in Florence, Italy?", [WEATHER], { max_tokens: 4096, reasoning: { max_tokens: 4000, exclude: true }, stream: true });
    const s = await readClientStream(await postChat(gw, req));
    assert.equal(mock.requests.at(-1)!.json.thinking.budget_tokens, 4000, 'the model still reasons (and is billed)');
    assert.equal(s.reasoning, '');
    assert.deepEqual(s.details, []);
  });

  it("stop_reason model_context_window_exceeded → finish_reason length", async () => {
    const [rec] = loadCassette(`${COMMON}/simple.yaml`);
    mock.enqueue({ json: { ...JSON.parse(rec.response.body), stop_reason: 'model_context_window_exceeded' } });
    const body = await jsonOk(await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'Say hi in Portuguese' }] }));
    assert.equal(body.choices[0].native_finish_reason, 'model_context_window_exceeded');
    assert.equal(body.choices[0].finish_reason, 'length');
  });

  // ----------------------------------------------------------------------------------------------
  // the official openai SDK drives a Claude tool loop
  // ----------------------------------------------------------------------------------------------

  it('openai SDK: non-streaming Claude tool loop', async () => {
    const client = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'unused', maxRetries: 0, timeout: 10_000 });
    const [turn1, turn2] = loadCassette(`${COMMON}/tool.yaml`);
    const req = toolRequest(SYSTEM, "What's the weather in Florence,Italy?", [WEATHER]);
    mock.enqueue(reply(turn1), reply(turn2));
    const messages: any[] = [...req.messages];
    const first = await client.chat.completions.create({ ...(req as any), messages });
    assertForwarded(mock, turn1, 'turn 1');
    const call = first.choices[0].message.tool_calls![0] as any;
    assert.equal(call.id, JSON.parse(turn1.response.body).content[1].id);
    assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Florence,Italy' });
    messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '40 C' });
    const second = await client.chat.completions.create({ ...(req as any), messages });
    assertForwarded(mock, turn2, 'turn 2');
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.equal(second.usage?.prompt_tokens, 475);
  });

  it('openai SDK: streaming Claude tool loop with chat.completions.stream (the helper assembles the tool call)', async () => {
    const client = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'unused', maxRetries: 0, timeout: 10_000 });
    const [turn1, turn2] = loadCassette(`${COMMON}/tool_streaming.yaml`);
    const req = toolRequest(SYSTEM, "What's the weather in Florence,Italy?", [WEATHER]);
    mock.enqueue(reply(turn1), reply(turn2));
    const messages: any[] = [...req.messages];
    const s1 = client.chat.completions.stream({ ...(req as any), messages, stream_options: { include_usage: true } });
    const done1 = await s1.finalChatCompletion();
    const want = recordedStream(turn1);
    const call = done1.choices[0].message.tool_calls![0] as any;
    assert.deepEqual({ id: call.id, name: call.function.name, arguments: call.function.arguments }, want.tools[0]);
    assert.equal(done1.choices[0].finish_reason, 'tool_calls');
    messages.push(done1.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '40 C' });
    const s2 = client.chat.completions.stream({ ...(req as any), messages, stream_options: { include_usage: true } });
    const done2 = await s2.finalChatCompletion();
    assertForwarded(mock, turn2, 'turn 2');
    assert.equal(done2.choices[0].message.content, recordedStream(turn2).text);
  });
});


// ------------------------------------------------------------------------------------------------
// unit level: request translation details the recordings do not cover
// ------------------------------------------------------------------------------------------------

describe('Anthropic adapter units', () => {
  let gw: Gateway;
  const adapter = new AnthropicAdapter();
  before(async () => {
    gw = await startGateway({ providers: { anthropic: 'http://127.0.0.1:9/v1' } });
  });
  after(async () => {
    await gw.close();
  });
  const endpoint = (model = MODEL) => gw.app.settings.catalog.endpointsOf(gw.app.settings.catalog.models.get(model)!)[0];
  const provider = (headers: Record<string, string> = {}) => ({ ...gw.app.settings.providers.get('anthropic')!, headers });
  const build = (req: Record<string, unknown>, opts: { stream?: boolean; headers?: Record<string, string>; model?: string } = {}) => {
    const chat = req as ChatRequest;
    const r = adapter.buildRequest(chatToModel(chat, JSON.stringify(chat.messages).length), endpoint(opts.model), provider(opts.headers), opts.stream ?? false);
    return { ...r, json: JSON.parse(r.body) };
  };
  const user = [{ role: 'user', content: 'hi' }];

  it('reasoning → thinking budget (docs/COMPATIBILITY.md#reasoning-request): effort ratios, 1024 floor, 128000 ceiling, max_tokens kept above the budget', () => {
    assert.deepEqual(build({ messages: user, max_tokens: 10000, reasoning: { effort: 'medium' } }).json.thinking, { type: 'enabled', budget_tokens: 5000 });
    assert.deepEqual(build({ messages: user, max_tokens: 10000, reasoning: { effort: 'high' } }).json.thinking, { type: 'enabled', budget_tokens: 8000 });
    assert.deepEqual(build({ messages: user, max_tokens: 10000, reasoning_effort: 'low' }).json.thinking, { type: 'enabled', budget_tokens: 2000 });
    assert.deepEqual(build({ messages: user, max_tokens: 4000, reasoning: { effort: 'minimal' } }).json.thinking, { type: 'enabled', budget_tokens: 1024 });
    // No max_tokens: the catalog's max output (Opus 4.6: 128000) × 0.95, capped at 128000.
    const big = build({ messages: user, reasoning: { effort: 'xhigh' } }, { model: 'anthropic/claude-opus-4.6' }).json;
    assert.deepEqual(big.thinking, { type: 'enabled', budget_tokens: 121600 });
    assert.equal(big.max_tokens, 128000);
    // enabled:true alone = medium over the catalog max (Sonnet 4: 64000).
    assert.deepEqual(build({ messages: user, reasoning: { enabled: true } }).json.thinking, { type: 'enabled', budget_tokens: 32000 });
    // budget ≥ max_tokens: max_tokens grows so the answer keeps its room.
    const tight = build({ messages: user, max_tokens: 1000, reasoning: { max_tokens: 2000 } }).json;
    assert.deepEqual(tight.thinking, { type: 'enabled', budget_tokens: 2000 });
    assert.equal(tight.max_tokens, 3000);
    assert.ok(tight.max_tokens > tight.thinking.budget_tokens);
    // off
    assert.equal(build({ messages: user, reasoning: { effort: 'none' } }).json.thinking, undefined);
    assert.equal(build({ messages: user, reasoning: { enabled: false, max_tokens: 3000 } }).json.thinking, undefined);
    assert.equal(build({ messages: user }).json.thinking, undefined);
  });

  it('sampling and limits: stop → stop_sequences, temperature/top_p/top_k, thinking-incompatible sampling left out', () => {
    const a = build({ messages: user, max_tokens: 100, temperature: 0.3, top_k: 5, stop: 'END' }).json;
    assert.deepEqual([a.temperature, a.top_k, a.stop_sequences, a.max_tokens], [0.3, 5, ['END'], 100]);
    assert.equal(build({ messages: user, temperature: 1.7 }).json.temperature, 1, "clamped to Anthropic's 0..1");
    assert.equal(build({ messages: user, top_p: 0.9 }).json.top_p, 0.9);
    const t = build({ messages: user, temperature: 0.2, top_k: 5, top_p: 0.5, reasoning: { effort: 'low' } }).json;
    assert.deepEqual([t.temperature, t.top_k, t.top_p], [undefined, undefined, undefined]);
    assert.deepEqual(build({ messages: user, stop: ['a', 'b'], seed: 3, frequency_penalty: 1 }).json.stop_sequences, ['a', 'b']);
    assert.equal(build({ messages: user, max_tokens: null }).json.max_tokens, 64000);
  });

  it('tool_choice mapping and parallel_tool_calls', () => {
    const tools = [WEATHER];
    assert.deepEqual(build({ messages: user, tools, tool_choice: 'auto' }).json.tool_choice, { type: 'auto' });
    assert.deepEqual(build({ messages: user, tools, tool_choice: 'none' }).json.tool_choice, { type: 'none' });
    assert.deepEqual(build({ messages: user, tools, tool_choice: 'required' }).json.tool_choice, { type: 'any' });
    assert.deepEqual(build({ messages: user, tools, tool_choice: { type: 'function', function: { name: 'weather' } } }).json.tool_choice, { type: 'tool', name: 'weather' });
    assert.deepEqual(build({ messages: user, tools, parallel_tool_calls: false }).json.tool_choice, { type: 'auto', disable_parallel_tool_use: true });
    assert.deepEqual(build({ messages: user, tools, tool_choice: 'required', parallel_tool_calls: false }).json.tool_choice, { type: 'any', disable_parallel_tool_use: true });
    assert.equal(build({ messages: user, tool_choice: 'auto' }).json.tool_choice, undefined, 'no tools, no tool_choice');
    assert.equal(build({ messages: user, tools }).json.tool_choice, undefined);
    // strict is stripped unless the structured-outputs beta is configured
    const strict = { ...WEATHER, function: { ...WEATHER.function, strict: true } };
    assert.equal(build({ messages: user, tools: [strict] }).json.tools[0].strict, undefined);
    const beta = build({ messages: user, tools: [strict] }, { headers: { 'anthropic-beta': 'structured-outputs-2025-11-13' } });
    assert.equal(beta.json.tools[0].strict, true);
    assert.equal(beta.headers['anthropic-beta'], 'structured-outputs-2025-11-13');
    const xbeta = build({ messages: user }, { headers: { 'x-anthropic-beta': 'context-1m-2025-08-07', 'X-Custom': 'v' } }).headers;
    assert.equal(xbeta['anthropic-beta'], 'context-1m-2025-08-07');
    assert.equal(xbeta['x-anthropic-beta'], undefined);
    assert.equal(xbeta['x-custom'], 'v');
  });

  it('content parts: image URL, PDF (base64 and URL), text file, developer → system, user name prefix, tool result with an image', () => {
    const png = 'iVBORw0KGgo=';
    const j = build({
      messages: [
        { role: 'developer', content: [{ type: 'text', text: 'Be brief.' }] },
        { role: 'system', content: 'Second rule.', cache_control: { type: 'ephemeral', ttl: '1h' } },
        {
          role: 'user',
          name: 'alice',
          content: [
            { type: 'text', text: 'Look:' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
            { type: 'file', file: { filename: 'doc.pdf', file_data: 'data:application/pdf;base64,JVBERi0x' } },
            { type: 'file', file: { file_data: 'https://example.com/paper.pdf' } },
            { type: 'file', file: { filename: 'notes.txt', file_data: `data:text/plain;base64,${Buffer.from('hello').toString('base64')}` } },
            { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'functions.shot:0', type: 'function', function: { name: 'shot', arguments: '' } }] },
        {
          role: 'tool',
          tool_call_id: 'functions.shot:0',
          content: [
            { type: 'text', text: 'screenshot:' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
          ],
        },
      ],
    }).json;
    assert.deepEqual(j.system, [
      { type: 'text', text: 'Be brief.' },
      { type: 'text', text: 'Second rule.', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ]);
    assert.deepEqual(j.messages[0].content, [
      { type: 'text', text: 'alice: Look:' },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0x' }, title: 'doc.pdf' },
      { type: 'document', source: { type: 'url', url: 'https://example.com/paper.pdf' } },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'hello' }, title: 'notes.txt' },
    ]);
    const id = anthropicToolId('functions.shot:0');
    assert.match(id, /^[a-zA-Z0-9_-]+$/);
    assert.equal(id, anthropicToolId('functions.shot:0'), 'deterministic');
    assert.deepEqual(j.messages[1], { role: 'assistant', content: [{ type: 'tool_use', id, name: 'shot', input: {} }] });
    assert.deepEqual(j.messages[2], {
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: id,
          content: [
            { type: 'text', text: 'screenshot:' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
          ],
        },
      ],
    });
  });

  it('cache breakpoints: top-level cache_control marks the last block; at most four kept, the latest ones', () => {
    const auto = build({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }], cache_control: EPHEMERAL }).json;
    assert.deepEqual(auto.messages[2].content, [{ type: 'text', text: 'c', cache_control: EPHEMERAL }]);
    assert.equal(auto.cache_control, undefined);
    const many = build({
      messages: [
        { role: 'system', content: 's', cache_control: EPHEMERAL },
        ...['1', '2', '3', '4', '5'].map((t) => ({ role: 'user', content: [{ type: 'text', text: t, cache_control: EPHEMERAL }] })),
      ],
    }).json;
    assert.equal(many.system[0].cache_control, undefined);
    const marked = many.messages.map((m: any) => m.content[0].cache_control !== undefined);
    assert.deepEqual(marked, [false, true, true, true, true]);
  });

  it('thinking in an open tool loop whose assistant turn came back without its thinking block: runs without thinking', () => {
    const loop = (details?: unknown[]) => [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, reasoning_details: details, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '40 C' },
    ];
    const reasoning = { max_tokens: 2000 };
    assert.equal(build({ messages: loop(), max_tokens: 4096, reasoning, tools: [WEATHER] }).json.thinking, undefined);
    const signed = [{ type: 'reasoning.text', text: 't', signature: 's', format: 'anthropic-claude-v1', index: 0 }];
    assert.deepEqual(build({ messages: loop(signed), max_tokens: 4096, reasoning, tools: [WEATHER] }).json.thinking, { type: 'enabled', budget_tokens: 2000 });
  });

  it('assistant prefill: trailing whitespace trimmed (Anthropic rejects it), empty assistant turns dropped', () => {
    const j = build({
      messages: [
        { role: 'user', content: 'Write a haiku' },
        { role: 'assistant', content: null },
        { role: 'user', content: 'About the sea' },
        { role: 'assistant', content: 'Waves \n' },
      ],
    }).json;
    assert.deepEqual(j.messages, [
      { role: 'user', content: [{ type: 'text', text: 'Write a haiku' }] },
      { role: 'user', content: [{ type: 'text', text: 'About the sea' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Waves' }] },
    ]);
  });

  it('reasoning_details → thinking blocks: fragments merged by index, redacted thinking kept, foreign formats dropped', () => {
    const F = 'anthropic-claude-v1';
    assert.deepEqual(
      thinkingBlocks(reasoningParts([
        { type: 'reasoning.text', text: 'A', format: F, index: 0 },
        { type: 'reasoning.text', text: 'B', format: F, index: 0 },
        { type: 'reasoning.text', signature: 'sig1', format: F, index: 0 },
        { type: 'reasoning.encrypted', data: 'opaque', format: F, index: 1 },
        { type: 'reasoning.text', text: 'C', signature: 'sig2', format: F, index: 2 },
        { type: 'reasoning.text', text: 'unsigned', format: F, index: 3 },
        { type: 'reasoning.summary', summary: 'x', format: 'openai-responses-v1', index: 0 },
        { type: 'reasoning.encrypted', data: 'gemini', format: 'google-gemini-v1', index: 0 },
        { type: 'reasoning.text', text: 'kimi', format: 'unknown', index: 0 },
      ])),
      [
        { type: 'thinking', thinking: 'AB', signature: 'sig1' },
        { type: 'redacted_thinking', data: 'opaque' },
        { type: 'thinking', thinking: 'C', signature: 'sig2' },
      ],
    );
    assert.equal(pythonJson({ a: 2, b: [1, { c: 'x' }], d: {} }), '{"a": 2, "b": [1, {"c": "x"}], "d": {}}');
  });

  it('stream decoder: redacted thinking, second thinking block index, a parameterless tool, ping, error statuses', () => {
    const d = adapter.createStreamDecoder();
    const ev = (obj: unknown): UpstreamChunk[] | null => d.decode({ event: (obj as any).type, data: JSON.stringify(obj) });
    assert.deepEqual(ev({ type: 'ping' }), []);
    assert.deepEqual(ev({ type: 'content_block_start', index: 0, content_block: { type: 'redacted_thinking', data: 'ENC' } }), [
      { choice: { reasoning: null, reasoningDetails: [{ type: 'reasoning.encrypted', data: 'ENC', format: 'anthropic-claude-v1', index: 0 }], finishReason: null } },
    ]);
    ev({ type: 'content_block_stop', index: 0 });
    ev({ type: 'content_block_start', index: 1, content_block: { type: 'thinking', thinking: '', signature: '' } });
    assert.equal(ev({ type: 'content_block_delta', index: 1, delta: { type: 'thinking_delta', thinking: 'hm' } })![0].choice!.reasoningDetails![0].index, 1);
    const sig = ev({ type: 'content_block_delta', index: 1, delta: { type: 'signature_delta', signature: 'S' } })![0].choice!;
    assert.equal('reasoning' in sig, false, 'signature chunk: reasoning left undefined');
    assert.deepEqual(ev({ type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'now', input: {} } })![0].choice!.toolCalls, [
      { index: 0, id: 'toolu_1', type: 'function', name: 'now', arguments: '' },
    ]);
    ev({ type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '' } });
    assert.deepEqual(ev({ type: 'content_block_stop', index: 2 })![0].choice!.toolCalls, [{ index: 0, arguments: '{}' }], 'parameterless tool gets "{}"');
    assert.deepEqual(ev({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } })![0].choice, { finishReason: 'tool_use' });
    assert.equal(ev({ type: 'message_stop' }), null);
    const status = (type: string) => adapter.createStreamDecoder().decode({ event: 'error', data: JSON.stringify({ type: 'error', error: { type, message: 'm' } }) })![0].error!.status;
    assert.deepEqual(['overloaded_error', 'rate_limit_error', 'api_error', 'invalid_request_error'].map(status), [529, 429, 500, 400]);
    assert.deepEqual(adapter.parseError(529, JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })), { status: 529, raw: 'Overloaded' });
    assert.deepEqual(adapter.parseError(502, '<html>bad gateway</html>'), { status: 502, raw: '<html>bad gateway</html>' });
  });

  /** A model request (what any front door produces), for what the chat wire cannot express. */
  const modelReq = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({ ...chatToModel({ messages: user } as ChatRequest, 2), ...over });
  const buildModel = (req: GenerationRequest, opts: { stream?: boolean; headers?: Record<string, string> } = {}) => {
    const r = adapter.buildRequest(req, endpoint(), provider(opts.headers), opts.stream ?? false);
    return { ...r, json: JSON.parse(r.body) };
  };

  it('native passthrough: the client body as received (order, unknown fields), routing fields removed, model and max_tokens replaced, betas merged', () => {
    const body = {
      model: 'anthropic/claude-sonnet-4',
      max_tokens: 100000,
      provider: { order: ['anthropic'] },
      system: [{ type: 'text', text: 'S', cache_control: { ttl: '1h', type: 'ephemeral', future: 1 } }],
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 't', signature: 'SIG' }, { type: 'text', text: 'a' }] },
        { role: 'user', content: [{ type: 'text', text: 'go', cache_control: { type: 'ephemeral' } }] },
      ],
      models: ['anthropic/claude-opus-4.6'],
      thinking: { type: 'adaptive' },
      context_management: { edits: [{ type: 'clear_tool_uses_20250919' }] },
      tools: [{ name: 'x', input_schema: { type: 'object' }, defer_loading: true }],
      some_future_field: { nested: [1, 2] },
      stream: true,
      metadata: { user_id: 'u' },
      route: 'fallback',
    };
    const req = modelReq({
      maxTokens: 100000,
      maxTokensPolicy: 'clamp',
      reasoning: { adaptive: true },
      native: {
        protocol: 'anthropic',
        body,
        headers: { 'anthropic-beta': 'context-management-2025-06-27, interleaved-thinking-2025-05-14', 'anthropic-version': '2023-06-01' },
        routingFields: ['provider', 'models', 'route'],
      },
    });
    const r = adapter.buildRequest(req, endpoint(), provider({ 'anthropic-beta': 'interleaved-thinking-2025-05-14,files-api-2025-04-14' }), true);
    const { provider: _p, models: _m, route: _r, ...rest } = body;
    // Same keys in the same order, values byte for byte, except model and max_tokens (clamped to Sonnet 4's 64000).
    assert.equal(r.body, JSON.stringify({ ...rest, model: UPSTREAM_MODEL, max_tokens: 64000 }));
    assert.deepEqual(Object.keys(JSON.parse(r.body)), ['model', 'max_tokens', 'system', 'messages', 'thinking', 'context_management', 'tools', 'some_future_field', 'stream', 'metadata']);
    assert.equal(r.headers['anthropic-beta'], 'context-management-2025-06-27,interleaved-thinking-2025-05-14,files-api-2025-04-14');
    assert.equal(r.headers['anthropic-version'], '2023-06-01');
    assert.equal(r.headers.accept, 'text/event-stream');
    assert.equal(r.url.endsWith('/messages'), true);
    // Not streamed this time: `stream: true` is removed; a client's `stream: false` stays; no betas of the client's own, only the operator's.
    const json = adapter.buildRequest({ ...req, native: { ...req.native!, headers: {} } }, endpoint(), provider({ 'anthropic-beta': 'files-api-2025-04-14' }), false);
    assert.equal('stream' in JSON.parse(json.body), false);
    assert.equal(json.headers['anthropic-beta'], 'files-api-2025-04-14');
    assert.equal(json.headers['anthropic-version'], '2023-06-01');
    const off = adapter.buildRequest({ ...req, native: { ...req.native!, body: { ...body, stream: false } } }, endpoint(), provider(), false);
    assert.equal(JSON.parse(off.body).stream, false);
    // The same request without its native body is translated: adaptive thinking becomes enabled thinking at the default effort.
    const translated = buildModel({ ...req, native: undefined, maxTokens: 10000, maxTokensPolicy: undefined }).json;
    assert.deepEqual(translated.thinking, { type: 'enabled', budget_tokens: 5000 });
  });

  it('max_tokens over the endpoint limit: clamped only when the request allows it', () => {
    assert.equal(buildModel(modelReq({ maxTokens: 100000, maxTokensPolicy: 'clamp' })).json.max_tokens, 64000);
    assert.equal(buildModel(modelReq({ maxTokens: 100000 })).json.max_tokens, 100000);
  });

  it('custom tools, hosted web search, tool errors', () => {
    const req = modelReq({
      tools: [
        { type: 'function', name: 'apply_patch', description: 'Patch files', kind: 'custom', format: { type: 'grammar', syntax: 'lark', definition: 'start: "x"' } },
        { type: 'hosted', name: 'web_search', config: { type: 'web_search', search_context_size: 'high', user_location: { type: 'approximate', city: 'Paris' }, filters: { allowed_domains: ['example.com'] } } },
        { type: 'hosted', name: 'code_interpreter', config: { type: 'code_interpreter' } },
      ],
      toolChoice: 'auto',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'patch it' }] },
        {
          role: 'assistant',
          content: [
            { type: 'tool-call', id: 'call_1', name: 'apply_patch', arguments: '*** Begin Patch\n', kind: 'custom' },
            { type: 'tool-call', id: 'call_2', name: 'weather', arguments: '{"city":"Paris"}' },
          ],
        },
        { role: 'tool', content: [{ type: 'tool-result', callId: 'call_1', content: [{ type: 'text', text: 'conflict' }], isError: true, kind: 'custom' }] },
        { role: 'tool', content: [{ type: 'tool-result', callId: 'call_2', content: [{ type: 'text', text: 'sunny' }] }] },
      ],
    });
    const j = buildModel(req).json;
    assert.deepEqual(j.tools[0].name, 'apply_patch');
    assert.deepEqual(j.tools[0].input_schema.required, ['input']);
    assert.match(j.tools[0].input_schema.properties.input.description, /lark grammar:\nstart: "x"/);
    assert.deepEqual(j.tools[1], { type: 'web_search_20250305', name: 'web_search', user_location: { type: 'approximate', city: 'Paris' }, allowed_domains: ['example.com'] });
    assert.equal(j.tools.length, 2, 'hosted tools Anthropic does not run are left out');
    assert.deepEqual(j.tool_choice, { type: 'auto' });
    assert.deepEqual(j.messages[1].content, [
      { type: 'tool_use', id: 'call_1', name: 'apply_patch', input: { input: '*** Begin Patch\n' } },
      { type: 'tool_use', id: 'call_2', name: 'weather', input: { city: 'Paris' } },
    ]);
    assert.deepEqual(j.messages[2], {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'conflict' }], is_error: true },
        { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: 'sunny' }] },
      ],
    });
    // Anthropic's own web search definition keeps its version and settings.
    const own = buildModel(modelReq({ tools: [{ type: 'hosted', name: 'web_search', config: { type: 'web_search_20250305', name: 'web_search', max_uses: 3, blocked_domains: ['x.com'] } }] })).json;
    assert.deepEqual(own.tools, [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3, blocked_domains: ['x.com'] }]);
    // Only hosted tools Anthropic lacks: no tools, no tool_choice.
    const none = buildModel(modelReq({ tools: [{ type: 'hosted', name: 'file_search', config: {} }], toolChoice: 'required' })).json;
    assert.deepEqual([none.tools, none.tool_choice], [undefined, undefined]);
  });

  it('stream decoder with keepNative: every event text rides on its first chunk; empty events and the end marker are kept too', () => {
    const events = [
      { event: 'message_start', data: JSON.stringify({ type: 'message_start', message: { id: 'msg_1', usage: { input_tokens: 5, output_tokens: 1 } } }) },
      { event: 'ping', data: '{"type": "ping"}' },
      { event: 'content_block_start', data: JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) },
      { event: 'content_block_delta', data: JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }) },
      { event: 'content_block_stop', data: JSON.stringify({ type: 'content_block_stop', index: 0 }) },
      { event: 'message_delta', data: JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }) },
    ];
    const plain = adapter.createStreamDecoder();
    const native = adapter.createStreamDecoder({ keepNative: true });
    const text = (e: { event: string; data: string }) => `event: ${e.event}\ndata: ${e.data}\n\n`;
    for (const e of events) {
      const want = plain.decode(e)!;
      const got = native.decode(e)!;
      if (want.length === 0) {
        assert.deepEqual(got, [{ native: text(e) }], e.event);
      } else {
        assert.equal(got[0].native, text(e), e.event);
        assert.deepEqual(
          got.map(({ native: _n, ...rest }) => rest),
          want,
          `${e.event}: the same chunks otherwise`,
        );
      }
    }
    const stop = { event: 'message_stop', data: '{"type":"message_stop"}' };
    assert.equal(plain.decode(stop), null);
    assert.equal(native.decode(stop), null, 'the end marker still ends the stream');
    assert.equal((native as { pendingNative?: string }).pendingNative, text(stop), "and leaves its text for the client's wire");
    assert.equal((plain as { pendingNative?: string }).pendingNative, undefined);
    // No event name: data only.
    const bare = adapter.createStreamDecoder({ keepNative: true }).decode({ data: '{"type":"ping"}' });
    assert.deepEqual(bare, [{ native: 'data: {"type":"ping"}\n\n' }]);
  });

  it('parseCompletion keeps the upstream body as native', () => {
    const body = { id: 'msg_1', type: 'message', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 1 }, future: true };
    const c = adapter.parseCompletion(body);
    assert.equal(c.content, 'hi');
    assert.deepEqual(c.native, body);
    assert.deepEqual(adapter.parseError(502, '  {"detail":"gateway down"} '), { status: 502, raw: 'gateway down' });
  });
});

describe('Anthropic adapter in the 2025 wire era', () => {
  let mock: MockUpstream;
  let gw: Gateway;
  before(async () => {
    mock = await startMockUpstream();
    gw = await startGateway({ era: '2025', providers: { anthropic: `${mock.url}/v1` } });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  it('tool_streaming: 2025 envelope, requested model id, tool call fragments, usage', async () => {
    const [turn1] = loadCassette(`${COMMON}/tool_streaming.yaml`);
    mock.enqueue(reply(turn1));
    const res = await postChat(gw, toolRequest(SYSTEM, "What's the weather in Florence,Italy?", [WEATHER], { stream: true }));
    const { events } = await readSse(res);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    assert.deepEqual(Object.keys(chunks[0]), ['id', 'provider', 'model', 'object', 'created', 'choices']);
    assert.ok(chunks.every((c) => c.model === MODEL && c.provider === 'Anthropic'));
    const want = recordedStream(turn1);
    const frags = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    assert.deepEqual(frags[0], { index: 0, id: want.tools[0].id, type: 'function', function: { name: 'weather', arguments: '' } });
    assert.equal(frags.map((f) => f.function.arguments).join(''), want.tools[0].arguments);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    assert.equal(finish.choices[0].finish_reason, 'tool_calls');
    assert.equal(chunks.at(-1).usage.prompt_tokens, 394);
    assert.equal(chunks.at(-1).usage.cost, cost(394, 67).total);
  });
});
