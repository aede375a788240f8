/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from recordings and the mock upstreams */
/**
 * Acceptance: the official `openai` SDK's Responses API (`client.responses.*`), unchanged but for
 * its base URL, against Switchyard's Responses front door (`POST /api/v1/responses`,
 * `GET/DELETE /api/v1/responses/{id}`), every provider mocked with recorded traffic
 * (test/fixtures/cassettes/upstream):
 *
 *  - OpenAI-compatible chat upstreams: Groq serving Kimi K2 (TestGroqCommon), Z.AI serving GLM 4.6
 *    with reasoning_content (TestZAICommon);
 *  - Anthropic (TestAnthropicCommon, TestAnthropicThinking): the Messages API, translated;
 *  - Gemini on Google AI Studio (TestGoogleCommon, TestGoogleThinking): generateContent, translated.
 *
 * Scenarios: create (streamed and not), responses.stream() + finalResponse(), function tools with a
 * follow-up by `previous_response_id` and by the full input, `store` on by default (retrieve, delete),
 * reasoning (summaries; signatures that must reach the upstream again on the next turn), errors in
 * OpenAI's shape.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, RateLimitError } from 'openai';
import type { ResponseStreamEvent, ResponseFunctionToolCall, ResponseInputItem, FunctionTool } from 'openai/resources/responses/responses';
import { loadCassette } from './support/cassettes.js';
import { chatCompletion, replyFromRecording, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { startGateway, type Gateway } from './support/gateway.js';
import {
  anthropicTurnOfBody,
  anthropicTurnOfStream,
  chatTurnOf,
  freshHealth,
  geminiTurnOf,
  replay,
  requestJson,
  responseJson,
  sseEvents,
  upstreamRecording,
} from './support/recorded-wire.js';

const KIMI = 'moonshotai/kimi-k2-0905';
const KIMI_UPSTREAM = 'moonshotai/kimi-k2-instruct-0905';
const GLM = 'z-ai/glm-4.6';
const SONNET_4 = 'anthropic/claude-sonnet-4';
const GEMINI = 'google/gemini-2.5-flash';

const GROQ = 'TestGroqCommon/groq-kimi-k2-0905';
const ZAI = 'TestZAICommon/zai-glm-4.6';
const ANTHROPIC = 'TestAnthropicCommon/claude-sonnet-4';
const ANTHROPIC_THINKING = 'TestAnthropicThinking/claude-sonnet-4';
const GOOGLE = 'TestGoogleCommon/gemini-2.5-flash';
const GOOGLE_THINKING = 'TestGoogleThinking/gemini-2.5-flash';

const SYSTEM = 'You are a helpful assistant';
const WEATHER: FunctionTool = {
  type: 'function',
  name: 'weather',
  description: 'Get weather information for a location',
  parameters: { type: 'object', properties: { location: { type: 'string', description: 'the city' } }, required: ['location'] },
  strict: false,
};
const RESP_ID = /^resp_[A-Za-z0-9]+$/;

// ------------------------------------------------------------------------------------------------
// environment
// ------------------------------------------------------------------------------------------------

type Slug = 'groq' | 'zai' | 'anthropic' | 'google';

interface Env {
  mocks: Record<Slug, MockUpstream>;
  gw: Gateway;
  client: OpenAI;
}

async function startEnv(): Promise<Env> {
  const mocks = { groq: await startMockUpstream(), zai: await startMockUpstream(), anthropic: await startMockUpstream(), google: await startMockUpstream() };
  const gw = await startGateway({
    providers: { groq: mocks.groq.baseUrl, 'z-ai': mocks.zai.baseUrl, anthropic: mocks.anthropic.baseUrl, 'google-ai-studio': `${mocks.google.url}/v1beta` },
  });
  const client = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 });
  return { mocks, gw, client };
}

async function stopEnv(env: Env | undefined): Promise<void> {
  if (!env) return;
  await env.gw.close();
  for (const m of Object.values(env.mocks)) await m.close();
}

const counts = (env: Env) => Object.fromEntries(Object.entries(env.mocks).map(([k, m]) => [k, m.requests.length])) as Record<Slug, number>;

function assertOneRequestTo(env: Env, before: Record<Slug, number>, which: Slug): void {
  const now = counts(env);
  for (const k of Object.keys(now) as Slug[]) assert.equal(now[k] - before[k], k === which ? 1 : 0, `${k} upstream requests (expected exactly one, to ${which})`);
}

const last = (mock: MockUpstream) => mock.requests.at(-1)!;

/** The SDK's object as plain JSON (drops the SDK's `output_text` getter-free copy and undefineds). */
const plain = (v: unknown): any => JSON.parse(JSON.stringify(v));

/** Reads a streamed response: every event (sequence numbers checked) and the terminal response. */
async function readEvents(stream: AsyncIterable<ResponseStreamEvent>): Promise<{ events: any[]; final: any; text: string; types: string[] }> {
  const events: any[] = [];
  for await (const e of stream) events.push(plain(e));
  events.forEach((e, i) => assert.equal(e.sequence_number, i, `sequence_number ${i} (event ${e.type})`));
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'response.created', `first event; got ${types.join(',')}`);
  assert.equal(types[1], 'response.in_progress');
  const final = events.at(-1);
  assert.ok(['response.completed', 'response.incomplete', 'response.failed'].includes(final.type), `last event ${final.type}`);
  const text = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  // Every item event names the item output_item.added opened at its output_index; one response id throughout.
  const items = new Map<number, string>();
  for (const e of events) {
    if (e.response) assert.equal(e.response.id, final.response.id, `${e.type}: one response id`);
    if (e.type === 'response.output_item.added') {
      assert.ok(!items.has(e.output_index), `output_index ${e.output_index} added twice`);
      items.set(e.output_index, e.item.id);
      // OpenAI's reasoning items carry no status; messages and calls start in_progress.
      if (e.item.type !== 'reasoning') assert.equal(e.item.status, 'in_progress', `${e.type} ${e.item.type}: status`);
    } else if (e.output_index !== undefined) {
      assert.ok(items.has(e.output_index), `${e.type} for output_index ${e.output_index} before its output_item.added`);
      const id = e.item_id ?? e.item?.id;
      if (id !== undefined) assert.equal(id, items.get(e.output_index), `${e.type}: item id of output ${e.output_index}`);
    }
  }
  assert.equal(events[0].response.status, 'in_progress', 'response.created: in_progress');
  if (final.type === 'response.completed') {
    assert.deepEqual(
      final.response.output.map((i: any) => i.id),
      [...items.keys()].sort((a, b) => a - b).map((k) => items.get(k)),
      'the completed response lists every item added, in output order',
    );
  }
  return { events, final: final.response, text, types };
}

/** Checks every finished response object must pass. */
function assertResponseShape(r: any, label: string): void {
  assert.match(r.id, RESP_ID, `${label}: id`);
  assert.equal(r.object, 'response', label);
  assert.equal(r.status, 'completed', `${label}: status (error: ${JSON.stringify(r.error)})`);
  assert.equal(r.error, null, label);
  assert.equal(typeof r.created_at, 'number', label);
  assert.ok(Array.isArray(r.output), label);
  assert.ok(r.usage, `${label}: usage`);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens, `${label}: total_tokens`);
}

const messageText = (r: any): string =>
  r.output
    .filter((i: any) => i.type === 'message')
    .flatMap((i: any) => i.content)
    .filter((c: any) => c.type === 'output_text')
    .map((c: any) => c.text)
    .join('');

const functionCalls = (r: any): ResponseFunctionToolCall[] => r.output.filter((i: any) => i.type === 'function_call');

/** A chat-completions conversation without tool-call ids (for comparison with a recording whose ids differ). */
function chatShape(messages: any[]): any[] {
  return messages.map((m) => {
    const out: any = { role: m.role };
    if (m.content !== undefined && m.content !== null && m.content !== '') out.content = typeof m.content === 'string' ? m.content : m.content;
    if (m.tool_calls) out.tool_calls = m.tool_calls.map((t: any) => ({ name: t.function.name, arguments: JSON.parse(t.function.arguments) }));
    return out;
  });
}

/** Every tool message answers a tool call of the assistant turn before it, in order. */
function assertToolIds(messages: any[]): void {
  const calls = messages.flatMap((m) => (m.tool_calls ?? []).map((t: any) => t.id));
  const results = messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id);
  assert.deepEqual(results, calls, 'tool results answer the calls');
}

// ------------------------------------------------------------------------------------------------

describe('openai SDK responses → Switchyard → OpenAI-compatible chat upstreams (recorded Groq and Z.AI traffic)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => stopEnv(env));
  beforeEach(() => freshHealth(env.gw));

  it('responses.create (non-streamed): the chat request the provider recorded; a completed response; stored by default, retrieve() returns it', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    env.mocks.groq.enqueue(replay(rec));
    const before = counts(env);

    const { data: r, response } = await env.client.responses.create({ model: KIMI, instructions: SYSTEM, input: 'Say hi in Portuguese', max_output_tokens: 4000 }).withResponse();

    assertOneRequestTo(env, before, 'groq');
    const sent = last(env.mocks.groq).json;
    assert.equal(last(env.mocks.groq).path, '/v1/chat/completions');
    assert.equal(sent.model, KIMI_UPSTREAM);
    assert.deepEqual(sent.messages, requestJson(rec).messages, 'instructions → system, input → user, as recorded');
    assert.equal(sent.max_tokens ?? sent.max_completion_tokens, 4000);

    const want = chatTurnOf(rec);
    assert.equal(response.status, 200);
    assertResponseShape(r, 'kimi');
    assert.equal(r.output.length, 1);
    const msg = r.output[0] as any;
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.status, 'completed');
    assert.deepEqual(plain(msg.content), [{ type: 'output_text', text: want.text, annotations: [] }].map((c) => ({ ...c, ...(msg.content[0].logprobs ? { logprobs: msg.content[0].logprobs } : {}) })));
    assert.equal(r.output_text, want.text, "the SDK's output_text");
    assert.equal(r.usage?.input_tokens, want.usage.prompt_tokens);
    assert.equal(r.usage?.output_tokens, want.usage.completion_tokens);
    assert.equal(r.instructions, SYSTEM, 'instructions echoed');
    assert.equal((r as any).store, true, 'store defaults to true (OpenAI default)');

    const got = await env.client.responses.retrieve(r.id);
    assert.equal(got.id, r.id);
    assert.equal(got.status, 'completed');
    assert.deepEqual(plain(got.output), plain(r.output), 'the stored output');
    assert.equal(got.output_text, want.text);
    assert.deepEqual(plain(got.usage), plain(r.usage));
    assert.deepEqual(plain(got), plain(r), 'GET /responses/{id} returns the response object as created');

    const items = [];
    for await (const item of env.client.responses.inputItems.list(r.id)) items.push(plain(item));
    assert.equal(items.length, 1, `input_items: the user message; got ${JSON.stringify(items)}`);
    assert.equal(items[0].type, 'message');
    assert.equal(items[0].role, 'user');
    assert.deepEqual(
      items[0].content.map((c: any) => [c.type, c.text]),
      [['input_text', 'Say hi in Portuguese']],
    );
  });

  it('responses.create({stream:true}): created, in_progress, the message item, text deltas, completed; the completed response is retrievable', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple_streaming`, 1);
    env.mocks.groq.enqueue(replay(rec));
    const want = chatTurnOf(rec);

    const s = await readEvents(await env.client.responses.create({ model: KIMI, instructions: SYSTEM, input: 'Say hi in Portuguese', max_output_tokens: 4000, stream: true }));

    assert.equal(last(env.mocks.groq).json.stream, true);
    assert.equal(s.text, want.text);
    assert.deepEqual(
      s.types.filter((t) => !t.endsWith('.delta')),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assertResponseShape(s.final, 'stream');
    assert.equal(messageText(s.final), want.text);
    assert.equal(s.final.usage.input_tokens, want.usage.prompt_tokens);
    assert.equal(s.final.usage.output_tokens, want.usage.completion_tokens);
    const done = s.events.find((e) => e.type === 'response.output_text.done');
    assert.equal(done.text, want.text);

    const got = await env.client.responses.retrieve(s.final.id);
    assert.equal(got.output_text, want.text, 'a streamed response is stored too');
  });

  it('function tools + previous_response_id (non-streamed): function_call item; the follow-up sends only the output, the provider gets the whole conversation', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool`, 2);
    env.mocks.groq.enqueue(replay(turn1), replay(turn2));
    const want1 = chatTurnOf(turn1);

    const first = await env.client.responses.create({ model: KIMI, instructions: SYSTEM, input: "What's the weather in Florence,Italy?", tools: [WEATHER], tool_choice: 'auto', max_output_tokens: 4000 });
    const sent1 = last(env.mocks.groq).json;
    assert.deepEqual(sent1.messages, requestJson(turn1).messages);
    assert.deepEqual(
      sent1.tools.map((t: any) => [t.type, t.function.name, t.function.description, t.function.parameters]),
      requestJson(turn1).tools.map((t: any) => [t.type, t.function.name, t.function.description, t.function.parameters]),
      'the function tool as recorded',
    );
    assertResponseShape(first, 'turn 1');
    const calls = functionCalls(first);
    assert.equal(calls.length, 1, `one function_call in ${JSON.stringify(first.output)}`);
    assert.equal(calls[0].name, 'weather');
    assert.deepEqual(JSON.parse(calls[0].arguments), JSON.parse(want1.toolCalls[0].arguments));
    assert.equal(typeof calls[0].call_id, 'string');
    assert.ok(calls[0].call_id.length > 0);

    // instructions are not carried over from a previous response (OpenAI's rule): sent again.
    const second = await env.client.responses.create({
      model: KIMI,
      instructions: SYSTEM,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: calls[0].call_id, output: '40 C' }],
      tools: [WEATHER],
      max_output_tokens: 4000,
    });
    const sent2 = last(env.mocks.groq).json;
    const recorded2 = requestJson(turn2).messages;
    assert.deepEqual(chatShape(sent2.messages), chatShape(recorded2), 'system, user, assistant tool call, tool result: the recorded turn 2');
    assert.equal(sent2.messages[3].tool_call_id, sent2.messages[2].tool_calls[0].id, 'the tool message answers the call');
    assertResponseShape(second, 'turn 2');
    assert.equal(second.previous_response_id, first.id);
    assert.equal(second.output_text, chatTurnOf(turn2).text);
  });

  it('a three-response chain: the third turn gets the whole conversation; deleting the first keeps the chain usable (tombstone), not retrievable', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool`, 2);
    env.mocks.groq.enqueue(replay(turn1), replay(turn2), { json: chatCompletion('Prego!') });
    const first = await env.client.responses.create({ model: KIMI, instructions: SYSTEM, input: "What's the weather in Florence,Italy?", tools: [WEATHER] });
    const [call] = functionCalls(first);
    const second = await env.client.responses.create({ model: KIMI, instructions: SYSTEM, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }], tools: [WEATHER] });
    assert.equal((await env.client.responses.retrieve(second.id)).previous_response_id, first.id);

    await env.client.responses.delete(first.id);
    await assert.rejects(env.client.responses.retrieve(first.id), NotFoundError);
    const third = await env.client.responses.create({ model: KIMI, instructions: SYSTEM, previous_response_id: second.id, input: 'Thanks!', tools: [WEATHER] });
    assert.equal(third.output_text, 'Prego!');
    const sent3 = last(env.mocks.groq).json;
    assert.deepEqual(
      chatShape(sent3.messages),
      chatShape([...requestJson(turn2).messages, { role: 'assistant', content: chatTurnOf(turn2).text }, { role: 'user', content: 'Thanks!' }]),
      'turn 3 carries turns 1 and 2 (the deleted first response still continues)',
    );
    assertToolIds(sent3.messages);
  });

  it('function tools with the full input instead (store: false): the client sends back the output items and the result; nothing is stored', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool`, 2);
    env.mocks.groq.enqueue(replay(turn1), replay(turn2));
    const input: ResponseInputItem[] = [{ role: 'user', content: "What's the weather in Florence,Italy?" }];

    const first = await env.client.responses.create({ model: KIMI, instructions: SYSTEM, input, tools: [WEATHER], store: false, max_output_tokens: 4000 });
    assert.equal((first as any).store, false, 'store echoed');
    const [call] = functionCalls(first);
    assert.ok(call, 'a function call');

    input.push(...(first.output as ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: '40 C' });
    const second = await env.client.responses.create({ model: KIMI, instructions: SYSTEM, input, tools: [WEATHER], store: false, max_output_tokens: 4000 });
    const sent2 = last(env.mocks.groq).json;
    assert.deepEqual(chatShape(sent2.messages), chatShape(requestJson(turn2).messages));
    assert.equal(sent2.messages[3].tool_call_id, sent2.messages[2].tool_calls[0].id);
    assert.equal(second.output_text, chatTurnOf(turn2).text);

    await assert.rejects(env.client.responses.retrieve(first.id), (err: unknown) => {
      assert.ok(err instanceof NotFoundError, `store:false → not stored; got ${String(err)}`);
      return true;
    });
  });

  it('function tools streamed (responses.stream + finalResponse): argument deltas, the function_call item; a streamed follow-up by previous_response_id', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool_streaming`, 2);
    env.mocks.groq.enqueue(replay(turn1), replay(turn2));
    const want1 = chatTurnOf(turn1);

    const s1 = env.client.responses.stream({ model: KIMI, instructions: SYSTEM, input: "What's the weather in Florence,Italy?", tools: [WEATHER], max_output_tokens: 4000 });
    const events: any[] = [];
    s1.on('event', (e) => events.push(plain(e)));
    const first = await s1.finalResponse();
    assertResponseShape(first, 'streamed turn 1');
    assert.equal(first.output_text, want1.text);
    const args = events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join('');
    assert.deepEqual(JSON.parse(args), JSON.parse(want1.toolCalls[0].arguments));
    const argsDone = events.find((e) => e.type === 'response.function_call_arguments.done');
    assert.ok(argsDone, 'response.function_call_arguments.done');
    assert.deepEqual(JSON.parse(argsDone.arguments), JSON.parse(want1.toolCalls[0].arguments));
    const [call] = functionCalls(first);
    assert.equal(call.name, 'weather');
    assert.equal(call.status, 'completed');

    // No instructions this time: OpenAI does not carry a previous response's instructions over.
    const s2 = env.client.responses.stream({ model: KIMI, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }], tools: [WEATHER], max_output_tokens: 4000 });
    const second = await s2.finalResponse();
    const sent2 = last(env.mocks.groq).json;
    assert.deepEqual(chatShape(sent2.messages), chatShape(requestJson(turn2).messages.filter((m: any) => m.role !== 'system')), 'the conversation without the earlier instructions');
    assert.equal(second.output_text, chatTurnOf(turn2).text);
  });

  it('two parallel function calls + previous_response_id: two function_call_output items answer them; the provider gets the recorded turn 2', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/multi_tool`, 2);
    env.mocks.groq.enqueue(replay(turn1), replay(turn2));
    const req1 = requestJson(turn1);
    const tools: FunctionTool[] = req1.tools.map((t: any) => ({ type: 'function', name: t.function.name, description: t.function.description, parameters: t.function.parameters, strict: false }));
    const system = req1.messages[0].content;
    const first = await env.client.responses.create({ model: KIMI, instructions: system, input: req1.messages[1].content, tools, max_output_tokens: 4000 });
    const calls = functionCalls(first);
    assert.deepEqual(
      calls.map((c) => [c.name, JSON.parse(c.arguments)]),
      chatTurnOf(turn1).toolCalls.map((c) => [c.name, JSON.parse(c.arguments)]),
    );
    assert.equal(new Set(calls.map((c) => c.call_id)).size, 2, 'distinct call ids');
    const results: Record<string, string> = { add: '5', multiply: '6' };
    const second = await env.client.responses.create({
      model: KIMI,
      instructions: system,
      previous_response_id: first.id,
      input: calls.map((c) => ({ type: 'function_call_output' as const, call_id: c.call_id, output: results[c.name] })),
      tools,
      max_output_tokens: 4000,
    });
    const sent2 = last(env.mocks.groq).json;
    assert.deepEqual(chatShape(sent2.messages), chatShape(requestJson(turn2).messages));
    const ids = sent2.messages[2].tool_calls.map((t: any) => t.id);
    assert.deepEqual(
      sent2.messages.slice(3).map((m: any) => [m.tool_call_id, m.content]),
      [
        [ids[0], '5'],
        [ids[1], '6'],
      ],
      'each result answers its call',
    );
    assert.equal(second.output_text, chatTurnOf(turn2).text);
  });

  it('reasoning (Z.AI reasoning_content): a reasoning item with the text as its summary before the function_call; the follow-up by previous_response_id', async () => {
    const [turn1, turn2] = upstreamRecording(`${ZAI}/tool`, 2);
    env.mocks.zai.enqueue(replay(turn1), replay(turn2));
    const want1 = chatTurnOf(turn1);

    const first = await env.client.responses.create({
      model: GLM,
      instructions: SYSTEM,
      input: "What's the weather in Florence,Italy?",
      tools: [WEATHER],
      reasoning: { effort: 'medium', summary: 'auto' },
      max_output_tokens: 4000,
    });
    assertResponseShape(first, 'GLM');
    assert.deepEqual(
      first.output.map((i) => i.type),
      ['reasoning', 'function_call'],
    );
    const rs = first.output[0] as any;
    assert.match(rs.id, /^rs_/);
    assert.deepEqual(plain(rs.summary), [{ type: 'summary_text', text: want1.reasoning }]);
    const cached = want1.usage.prompt_tokens_details.cached_tokens;
    assert.equal(first.usage?.input_tokens_details.cached_tokens, cached);

    const [call] = functionCalls(first);
    const second = await env.client.responses.create({ model: GLM, instructions: SYSTEM, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }], tools: [WEATHER], reasoning: { effort: 'medium', summary: 'auto' } });
    const sent2 = last(env.mocks.zai).json;
    assert.deepEqual(chatShape(sent2.messages), chatShape(requestJson(turn2).messages));
    const want2 = chatTurnOf(turn2);
    assert.equal(second.output_text, want2.text);
    assert.deepEqual(plain((second.output[0] as any).summary), [{ type: 'summary_text', text: want2.reasoning }]);
  });

  it('reasoning streamed (Z.AI): reasoning_summary_text deltas join into the recorded reasoning', async () => {
    const [turn1] = upstreamRecording(`${ZAI}/tool_streaming`, 2);
    env.mocks.zai.enqueue(replay(turn1));
    const want = chatTurnOf(turn1);
    const s = await readEvents(
      await env.client.responses.create({ model: GLM, instructions: SYSTEM, input: "What's the weather in Florence,Italy?", tools: [WEATHER], reasoning: { summary: 'auto' }, stream: true }),
    );
    const summary = s.events.filter((e) => e.type === 'response.reasoning_summary_text.delta').map((e) => e.delta).join('');
    assert.equal(summary, want.reasoning);
    const rs = s.final.output.find((i: any) => i.type === 'reasoning');
    assert.ok(rs, `a reasoning item in ${JSON.stringify(s.final.output.map((i: any) => i.type))}`);
    assert.equal(rs.summary.map((p: any) => p.text).join(''), want.reasoning);
    assert.equal(messageText(s.final), want.text, 'the content (GLM sends a newline before its reasoning)');
    assert.equal(functionCalls(s.final).length, 1);
  });

  it('max_output_tokens reached (finish_reason length): status incomplete with incomplete_details, streamed (response.incomplete) and not', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    const cut = { ...responseJson(rec) };
    cut.choices = [{ ...cut.choices[0], finish_reason: 'length' }];
    env.mocks.groq.enqueue({ json: cut });
    const r = await env.client.responses.create({ model: KIMI, input: 'Say hi in Portuguese', max_output_tokens: 16 });
    assert.equal(r.status, 'incomplete');
    assert.deepEqual(plain(r.incomplete_details), { reason: 'max_output_tokens' });
    assert.equal(r.output_text, chatTurnOf(rec).text, 'the text so far');

    const [srec] = upstreamRecording(`${GROQ}/simple_streaming`, 1);
    env.mocks.groq.enqueue(replay({ ...srec, response: { ...srec.response, body: srec.response.body.replace('"finish_reason":"stop"', '"finish_reason":"length"') } }));
    const s = await readEvents(await env.client.responses.create({ model: KIMI, input: 'Say hi in Portuguese', max_output_tokens: 16, stream: true }));
    assert.equal(s.types.at(-1), 'response.incomplete');
    assert.equal(s.final.status, 'incomplete');
    assert.deepEqual(s.final.incomplete_details, { reason: 'max_output_tokens' });
  });

  it('request fields translated: tool_choice for one function, temperature, top_p, text.format json_schema', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    env.mocks.groq.enqueue(replay(rec));
    const schema = { type: 'object', properties: { greeting: { type: 'string' } }, required: ['greeting'], additionalProperties: false };
    await env.client.responses.create({
      model: KIMI,
      input: 'Say hi in Portuguese',
      tools: [WEATHER],
      tool_choice: { type: 'function', name: 'weather' },
      parallel_tool_calls: false,
      temperature: 0.2,
      top_p: 0.8,
      text: { format: { type: 'json_schema', name: 'greeting', schema, strict: true } },
    });
    const sent = last(env.mocks.groq).json;
    assert.deepEqual(sent.tool_choice, { type: 'function', function: { name: 'weather' } });
    // parallel_tool_calls: not in this endpoint's supported_parameters (catalog), so dropped as OpenRouter does.
    assert.equal(sent.temperature, 0.2);
    assert.equal(sent.top_p, 0.8);
    assert.equal(sent.response_format?.type, 'json_schema', `text.format → response_format: ${JSON.stringify(sent.response_format)}`);
    assert.deepEqual(sent.response_format.json_schema.schema, schema);
    assert.equal(sent.response_format.json_schema.name, 'greeting');
  });

  it('retrieve / delete: a stored response is returned by GET and removed by DELETE (then 404 in OpenAI\'s shape)', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    env.mocks.groq.enqueue(replay(rec));
    const r = await env.client.responses.create({ model: KIMI, instructions: SYSTEM, input: 'Say hi in Portuguese' });
    const got = await env.client.responses.retrieve(r.id);
    assert.equal(got.output_text, r.output_text);
    await env.client.responses.delete(r.id);
    await assert.rejects(env.client.responses.retrieve(r.id), (err: unknown) => {
      assert.ok(err instanceof NotFoundError, `after delete: expected NotFoundError, got ${String(err)}`);
      const e = err.error as any;
      assert.equal(typeof e?.message, 'string', `OpenAI's error object {message,type,param,code}; got ${JSON.stringify(e)}`);
      assert.ok('type' in e && 'param' in e && 'code' in e, `OpenAI's error fields; got ${JSON.stringify(e)}`);
      return true;
    });
    await assert.rejects(env.client.responses.create({ model: KIMI, previous_response_id: r.id, input: 'again' }), (err: unknown) => {
      assert.ok(err instanceof APIError, String(err));
      assert.ok(err.status === 400 || err.status === 404, `continuing a deleted response: 400 or 404, got ${err.status}`);
      assert.ok(String((err.error as any)?.message).includes(r.id), `the message names the response: ${JSON.stringify(err.error)}`);
      return true;
    });
  });

  it("errors: Groq 429 → RateLimitError with OpenAI's error object (non-streamed and streamed)", async () => {
    const [limited] = loadCassette('openrouter/TestOpenRouterCommon/simple_kimi-k2_groq.yaml');
    assert.equal(limited.response.code, 429);
    for (const stream of [false, true]) {
      freshHealth(env.gw);
      env.mocks.groq.enqueue(replyFromRecording(limited.response, { upstreamModel: KIMI_UPSTREAM }));
      const before = counts(env);
      const call = stream
        ? env.client.responses.create({ model: KIMI, input: 'Say hi in Portuguese', stream: true }).then((s) => readEvents(s))
        : env.client.responses.create({ model: KIMI, input: 'Say hi in Portuguese' });
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof RateLimitError, `stream=${stream}: expected RateLimitError, got ${String(err)}`);
        const e = err.error as any;
        assert.equal(typeof e?.message, 'string', `stream=${stream}: OpenAI's error object; got ${JSON.stringify(e)}`);
        assert.ok('type' in e && 'param' in e && 'code' in e, `OpenAI's error fields {message,type,param,code}; got ${JSON.stringify(e)}`);
        assert.equal(err.code, 'rate_limit_exceeded');
        return true;
      });
      assertOneRequestTo(env, before, 'groq');
    }
  });

  it('errors: the upstream drops mid-stream → response.failed with an error {code, message} after the text so far; not stored', async () => {
    const [rec] = upstreamRecording(`${GROQ}/tool_streaming`, 2);
    const chunks = sseEvents(rec.response.body).map((e) => e.raw);
    env.mocks.groq.enqueue({ fault: 'reset-mid-stream', sse: chunks, afterEvents: 4 });
    const s = await readEvents(await env.client.responses.create({ model: KIMI, instructions: SYSTEM, input: "What's the weather in Florence,Italy?", tools: [WEATHER], stream: true }));
    assert.equal(s.types.at(-1), 'response.failed');
    assert.equal(s.final.status, 'failed');
    assert.equal(typeof s.final.error?.message, 'string');
    assert.equal(s.final.error.code, 'server_error', `a code OpenAI's clients retry on: ${JSON.stringify(s.final.error)}`);
    const want = chatTurnOf({ ...rec, response: { ...rec.response, body: chunks.slice(0, 4).join('') } }).text;
    assert.equal(s.text, want, 'the text streamed before the drop');
    await assert.rejects(env.client.responses.retrieve(s.final.id), NotFoundError, 'a failed response is not stored');
  });

  it('errors: invalid bodies → BadRequestError (invalid_request_error), no upstream call', async () => {
    const before = counts(env);
    const invalid: [string, any][] = [
      ['no input', { model: KIMI }],
      ['input a number', { model: KIMI, input: 42 }],
      ['temperature 7', { model: KIMI, input: 'hi', temperature: 7 }],
      ['unknown model', { model: 'nope/not-a-model', input: 'hi' }],
      ['function tool without a name', { model: KIMI, input: 'hi', tools: [{ type: 'function', parameters: {} }] }],
    ];
    for (const [label, body] of invalid) {
      await assert.rejects(env.client.responses.create(body), (err: unknown) => {
        assert.ok(err instanceof BadRequestError, `${label}: expected BadRequestError, got ${String(err)}`);
        const e = err.error as any;
        assert.equal(e?.type, 'invalid_request_error', `${label}: ${JSON.stringify(e)}`);
        assert.ok(String(e.message).length > 0);
        return true;
      });
    }
    await assert.rejects(env.client.responses.create({ model: KIMI, input: 'hi', previous_response_id: 'resp_doesnotexist0000000000' }), (err: unknown) => {
      assert.ok(err instanceof APIError, String(err));
      assert.ok(err.status === 400 || err.status === 404, `unknown previous_response_id: 400 or 404, got ${err.status}`);
      assert.equal((err.error as any)?.param, 'previous_response_id', `the error names the field: ${JSON.stringify(err.error)}`);
      return true;
    });
    assert.deepEqual(counts(env), before, 'no upstream call');
  });
});

// ------------------------------------------------------------------------------------------------

describe('openai SDK responses → Switchyard → Anthropic upstream (recorded Messages traffic, translated)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => stopEnv(env));
  beforeEach(() => freshHealth(env.gw));

  it('responses.create: a Messages request for the recorded one; the answer as a response; usage', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple`, 1);
    env.mocks.anthropic.enqueue(replay(rec));
    const r = await env.client.responses.create({ model: SONNET_4, instructions: SYSTEM, input: 'Say hi in Portuguese', max_output_tokens: 4000 });
    const sent = last(env.mocks.anthropic);
    assert.equal(sent.path, '/v1/messages');
    const recorded = requestJson(rec);
    assert.deepEqual(sent.json.system, recorded.system);
    assert.deepEqual(sent.json.messages, recorded.messages);
    assert.equal(sent.json.model, recorded.model);
    assert.equal(sent.json.max_tokens, 4000);
    const want = anthropicTurnOfBody(responseJson(rec));
    assertResponseShape(r, 'claude');
    assert.equal(r.output_text, want.text);
    assert.equal(r.usage?.input_tokens, want.usage.input_tokens + want.usage.cache_read_input_tokens + want.usage.cache_creation_input_tokens);
    assert.equal(r.usage?.output_tokens, want.usage.output_tokens);
  });

  it('responses.stream: text deltas join into the recorded text; finalResponse()', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple_streaming`, 1);
    env.mocks.anthropic.enqueue(replay(rec));
    const want = anthropicTurnOfStream(rec.response.body);
    const s = await readEvents(await env.client.responses.create({ model: SONNET_4, instructions: SYSTEM, input: 'Say hi in Portuguese', max_output_tokens: 4000, stream: true }));
    assert.equal(last(env.mocks.anthropic).json.stream, true);
    assert.equal(s.text, want.text);
    assertResponseShape(s.final, 'claude stream');
    assert.equal(s.final.usage.output_tokens, want.usage.output_tokens);
  });

  it('function tools + previous_response_id: the follow-up reaches Anthropic as tool_use / tool_result with the recorded ids', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC}/tool`, 2);
    env.mocks.anthropic.enqueue(replay(turn1), replay(turn2));
    const want1 = anthropicTurnOfBody(responseJson(turn1));

    const first = await env.client.responses.create({ model: SONNET_4, instructions: SYSTEM, input: "What's the weather in Florence,Italy?", tools: [WEATHER], parallel_tool_calls: false, max_output_tokens: 4000 });
    const sent1 = last(env.mocks.anthropic).json;
    assert.equal(sent1.tool_choice?.disable_parallel_tool_use, true, `parallel_tool_calls: false → disable_parallel_tool_use: ${JSON.stringify(sent1.tool_choice)}`);
    assert.deepEqual(sent1.tools, requestJson(turn1).tools.map((t: any) => ({ name: t.name, description: t.description, input_schema: t.input_schema })), 'the tool as Anthropic recorded it');
    assert.equal(first.output_text, want1.text);
    const [call] = functionCalls(first);
    assert.equal(call.call_id, want1.toolUses[0].id, "Anthropic's toolu_ id as call_id");
    assert.deepEqual(JSON.parse(call.arguments), want1.toolUses[0].input);

    const second = await env.client.responses.create({ model: SONNET_4, instructions: SYSTEM, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }], tools: [WEATHER], max_output_tokens: 4000 });
    const sent2 = last(env.mocks.anthropic).json;
    const rec2 = requestJson(turn2);
    assert.deepEqual(sent2.system, rec2.system, 'the instructions sent again');
    assert.equal(sent2.messages.length, 3);
    const assistant = sent2.messages[1];
    assert.equal(assistant.role, 'assistant');
    const use = assistant.content.find((b: any) => b.type === 'tool_use');
    assert.deepEqual([use.id, use.name, use.input], [want1.toolUses[0].id, 'weather', want1.toolUses[0].input]);
    const result = sent2.messages[2].content.find((b: any) => b.type === 'tool_result');
    assert.equal(result.tool_use_id, want1.toolUses[0].id);
    assert.equal(second.output_text, anthropicTurnOfBody(responseJson(turn2)).text);
  });

  it('reasoning (thinking): the signed thinking block reaches Anthropic again on the follow-up, by previous_response_id and by the full input with encrypted_content', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC_THINKING}/thinking`, 2);
    const want1 = anthropicTurnOfBody(responseJson(turn1));
    const signature = want1.thinking[0].signature;
    const ask = { model: SONNET_4, instructions: SYSTEM, tools: [WEATHER], reasoning: { max_tokens: 4000, summary: 'auto' } as any, max_output_tokens: 4096 };

    // by previous_response_id
    env.mocks.anthropic.enqueue(replay(turn1), replay(turn2));
    const first = await env.client.responses.create({ ...ask, input: "What's the weather in Florence, Italy?" });
    const sent1 = last(env.mocks.anthropic).json;
    assert.equal(sent1.thinking?.type, 'enabled', `thinking requested from Anthropic: ${JSON.stringify(sent1.thinking)}`);
    assert.deepEqual(
      first.output.map((i) => i.type),
      ['reasoning', 'function_call'],
    );
    assert.equal((first.output[0] as any).summary[0]?.text, want1.thinking[0].thinking);
    const [call] = functionCalls(first);
    await env.client.responses.create({ ...ask, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }] });
    const sent2 = last(env.mocks.anthropic).json;
    const thinking = sent2.messages[1].content.find((b: any) => b.type === 'thinking');
    assert.ok(thinking, `the assistant turn carries the thinking block: ${JSON.stringify(sent2.messages[1])}`);
    assert.equal(thinking.signature, signature, 'the signature, whole');
    assert.equal(thinking.thinking, want1.thinking[0].thinking);

    // by the full input (store: false), the reasoning item with include: ['reasoning.encrypted_content']
    env.mocks.anthropic.enqueue(replay(turn1), replay(turn2));
    const input: ResponseInputItem[] = [{ role: 'user', content: "What's the weather in Florence, Italy?" }];
    const a = await env.client.responses.create({ ...ask, input, store: false, include: ['reasoning.encrypted_content'] });
    const rs = a.output[0] as any;
    assert.equal(rs.type, 'reasoning');
    assert.equal(typeof rs.encrypted_content, 'string', 'encrypted_content included when asked for');
    // The stored copy (first, by previous_response_id above) gives it on GET with include too.
    const stored = await env.client.responses.retrieve(first.id, { include: ['reasoning.encrypted_content'] });
    assert.equal(typeof (stored.output[0] as any).encrypted_content, 'string', 'GET ?include[]=reasoning.encrypted_content');
    const storedPlain = await env.client.responses.retrieve(first.id);
    assert.equal((storedPlain.output[0] as any).encrypted_content ?? null, null, 'not without include');
    const [c] = functionCalls(a);
    input.push(...(a.output as ResponseInputItem[]), { type: 'function_call_output', call_id: c.call_id, output: '40 C' });
    await env.client.responses.create({ ...ask, input, store: false, include: ['reasoning.encrypted_content'] });
    const sent3 = last(env.mocks.anthropic).json;
    const t3 = sent3.messages[1].content.find((b: any) => b.type === 'thinking');
    assert.equal(t3?.signature, signature, 'the signature from encrypted_content');
  });

  it('reasoning streamed (thinking_delta + signature_delta): summary deltas are the thinking; the streamed signature reaches Anthropic on the follow-up', async () => {
    const [turn1, turn2] = upstreamRecording('TestAnthropicThinking/claude-sonnet-4/thinking-streaming', 2);
    env.mocks.anthropic.enqueue(replay(turn1), replay(turn2));
    const want1 = anthropicTurnOfStream(turn1.response.body);
    const ask = { model: SONNET_4, instructions: SYSTEM, tools: [WEATHER], reasoning: { max_tokens: 4000, summary: 'auto' } as any, max_output_tokens: 4096 };
    const s1 = await readEvents(await env.client.responses.create({ ...ask, input: "What's the weather in Florence, Italy?", stream: true }));
    const summary = s1.events.filter((e) => e.type === 'response.reasoning_summary_text.delta').map((e) => e.delta).join('');
    assert.equal(summary, want1.thinking[0].thinking);
    const [call] = functionCalls(s1.final);
    assert.ok(call, `a function call in ${JSON.stringify(s1.final.output.map((i: any) => i.type))}`);
    assert.equal(call.call_id, want1.toolUses[0].id);
    const s2 = await readEvents(
      await env.client.responses.create({ ...ask, previous_response_id: s1.final.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }], stream: true }),
    );
    const sent2 = last(env.mocks.anthropic).json;
    const thinking = sent2.messages[1].content.find((b: any) => b.type === 'thinking');
    assert.equal(thinking?.signature, want1.thinking[0].signature, 'the streamed signature, whole');
    assert.equal(s2.text, anthropicTurnOfStream(turn2.response.body).text);
  });
});

// ------------------------------------------------------------------------------------------------

describe('openai SDK responses → Switchyard → Gemini upstream (recorded generateContent traffic, translated)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => stopEnv(env));
  beforeEach(() => freshHealth(env.gw));

  it('responses.create: generateContent with the recorded contents; the answer and usage', async () => {
    const [rec] = upstreamRecording(`${GOOGLE}/simple`, 1);
    env.mocks.google.enqueue(replay(rec));
    const r = await env.client.responses.create({ model: GEMINI, instructions: SYSTEM, input: 'Say hi in Portuguese', max_output_tokens: 4000 });
    const sent = last(env.mocks.google);
    assert.match(sent.path, /^\/v1beta\/models\/gemini-2\.5-flash:generateContent/);
    const recorded = requestJson(rec);
    assert.deepEqual(sent.json.contents, recorded.contents);
    assert.deepEqual(sent.json.systemInstruction?.parts, recorded.systemInstruction.parts);
    const want = geminiTurnOf(rec);
    assertResponseShape(r, 'gemini');
    assert.equal(r.output_text, want.text);
    assert.equal(r.usage?.input_tokens, want.usage.promptTokenCount);
  });

  it('responses.create({stream:true}): streamGenerateContent; deltas join into the recorded text', async () => {
    const [rec] = upstreamRecording(`${GOOGLE}/simple_streaming`, 1);
    env.mocks.google.enqueue(replay(rec));
    const want = geminiTurnOf(rec);
    const s = await readEvents(await env.client.responses.create({ model: GEMINI, instructions: SYSTEM, input: 'Say hi in Portuguese', max_output_tokens: 4000, stream: true }));
    assert.match(last(env.mocks.google).path, /:streamGenerateContent\?alt=sse/);
    assert.equal(s.text, want.text);
    assertResponseShape(s.final, 'gemini stream');
  });

  it('function tools + previous_response_id: functionCall → function_call; the follow-up sends functionCall and functionResponse', async () => {
    const [turn1, turn2] = upstreamRecording(`${GOOGLE}/tool`, 2);
    env.mocks.google.enqueue(replay(turn1), replay(turn2));
    const want1 = geminiTurnOf(turn1);
    const first = await env.client.responses.create({ model: GEMINI, instructions: SYSTEM, input: "What's the weather in Florence,Italy?", tools: [WEATHER], max_output_tokens: 4000 });
    const [call] = functionCalls(first);
    assert.ok(call, `a function call in ${JSON.stringify(first.output)}`);
    assert.equal(call.name, want1.calls[0].name);
    assert.deepEqual(JSON.parse(call.arguments), want1.calls[0].args);

    const second = await env.client.responses.create({ model: GEMINI, instructions: SYSTEM, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }], tools: [WEATHER], max_output_tokens: 4000 });
    const sent2 = last(env.mocks.google).json;
    const parts = sent2.contents.flatMap((c: any) => c.parts.map((p: any) => [c.role, Object.keys(p).filter((k) => k !== 'thoughtSignature')[0]]));
    assert.deepEqual(parts, [
      ['user', 'text'],
      ['model', 'functionCall'],
      ['user', 'functionResponse'],
    ]);
    const fc = sent2.contents[1].parts[0].functionCall;
    assert.equal(fc.name, 'weather');
    assert.deepEqual(fc.args, want1.calls[0].args);
    assert.equal(sent2.contents[2].parts[0].functionResponse.name, 'weather');
    assert.equal(second.output_text, geminiTurnOf(turn2).text);
  });

  it('reasoning (thoughts + thoughtSignature): summary from the thought text; the signature reaches Gemini again on the follow-up', async () => {
    const [turn1, turn2] = upstreamRecording(`${GOOGLE_THINKING}/thinking`, 2);
    env.mocks.google.enqueue(replay(turn1), replay(turn2));
    const want1 = geminiTurnOf(turn1);
    const recorded1 = responseJson(turn1);
    const signature = recorded1.candidates[0].content.parts.find((p: any) => p.thoughtSignature).thoughtSignature;

    const first = await env.client.responses.create({
      model: GEMINI,
      instructions: SYSTEM,
      input: "What's the weather in Florence, Italy?",
      tools: [WEATHER],
      reasoning: { effort: 'low', summary: 'auto' },
    });
    const sent1 = last(env.mocks.google).json;
    assert.ok(sent1.generationConfig?.thinkingConfig, `thinking asked of Gemini: ${JSON.stringify(sent1.generationConfig)}`);
    const rs = first.output.find((i) => i.type === 'reasoning') as any;
    assert.ok(rs, `a reasoning item in ${JSON.stringify(first.output.map((i) => i.type))}`);
    assert.equal(rs.summary.map((p: any) => p.text).join(''), want1.thoughts);
    const [call] = functionCalls(first);
    assert.ok(call);

    await env.client.responses.create({ model: GEMINI, instructions: SYSTEM, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }], tools: [WEATHER], reasoning: { effort: 'low', summary: 'auto' } });
    const sent2 = last(env.mocks.google).json;
    const model = sent2.contents.find((c: any) => c.role === 'model');
    const signed = model?.parts.find((p: any) => p.functionCall);
    assert.equal(signed?.thoughtSignature, signature, `the functionCall part carries its thoughtSignature back: ${JSON.stringify(model)}`);
  });

  it("errors: Gemini 429 RESOURCE_EXHAUSTED → RateLimitError in OpenAI's shape", async () => {
    env.mocks.google.enqueue({
      status: 429,
      json: { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } },
    });
    await assert.rejects(env.client.responses.create({ model: GEMINI, input: 'hi' }), (err: unknown) => {
      assert.ok(err instanceof RateLimitError, `expected RateLimitError, got ${String(err)}`);
      const e = err.error as any;
      assert.ok(e && 'message' in e && 'type' in e && 'param' in e && 'code' in e, `OpenAI's error fields; got ${JSON.stringify(e)}`);
      return true;
    });
  });
});

// ------------------------------------------------------------------------------------------------

describe('openai SDK responses → Switchyard with API keys: stored responses belong to the key that made them', () => {
  const KEY_A = 'sk-sy-responses-a00001';
  const KEY_B = 'sk-sy-responses-b00002';
  let groq: MockUpstream;
  let gw: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    gw = await startGateway({ providers: { groq: groq.baseUrl }, apiKeys: [KEY_A, KEY_B] });
  });
  after(async () => {
    await gw?.close();
    await groq?.close();
  });
  const client = (apiKey: string) => new OpenAI({ baseURL: gw.baseUrl, apiKey, maxRetries: 0, timeout: 10_000 });

  it("another key can neither retrieve, continue nor delete a response (404); its owner can; a wrong key is AuthenticationError", async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool`, 2);
    groq.enqueue(replay(turn1), replay(turn2));
    const a = client(KEY_A);
    const b = client(KEY_B);
    const first = await a.responses.create({ model: KIMI, instructions: SYSTEM, input: "What's the weather in Florence,Italy?", tools: [WEATHER] });
    const [call] = functionCalls(first);
    const before = groq.requests.length;
    const notFound = (what: string) => (err: unknown) => {
      assert.ok(err instanceof APIError, `${what}: ${String(err)}`);
      assert.ok(err.status === 404 || err.status === 400, `${what}: another key's response does not exist for this key (got ${err.status})`);
      return true;
    };
    await assert.rejects(b.responses.retrieve(first.id), notFound('retrieve'));
    await assert.rejects(
      b.responses.create({ model: KIMI, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }], tools: [WEATHER] }),
      notFound('previous_response_id'),
    );
    await assert.rejects(b.responses.delete(first.id), notFound('delete'));
    assert.equal(groq.requests.length, before, 'nothing reached the upstream for key B');
    await assert.rejects(client('sk-wrong-000000').responses.retrieve(first.id), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError, `wrong key: ${String(err)}`);
      return true;
    });

    const second = await a.responses.create({ model: KIMI, instructions: SYSTEM, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: '40 C' }], tools: [WEATHER] });
    assert.equal(second.output_text, chatTurnOf(turn2).text);
    assert.equal((await a.responses.retrieve(first.id)).id, first.id);
  });
});
