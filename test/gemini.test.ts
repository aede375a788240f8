/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from recordings and the mock upstream */
/**
 * Google Gemini adapter (protocol `gemini`, provider `google-ai-studio`).
 *
 * A mock upstream replays Google's own recordings (test/fixtures/cassettes/upstream/TestGoogle*,
 * TestImageUpload*): each test sends the OpenRouter-shaped request that corresponds to a recorded
 * Gemini request through Switchyard, checks that the Gemini request the mock received is the
 * recorded one (path with model and alt=sse, contents, systemInstruction, tools, toolConfig,
 * generationConfig/thinkingConfig), and that the client gets OpenRouter's shapes (docs/COMPATIBILITY.md:
 * non-streaming, streaming, reasoning): text, tool calls with `tool_<name>_<20 alnum>` ids, finish_reason tool_calls with
 * native_finish_reason STOP, google-gemini-v1 reasoning details, usage and cost.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { loadCassette, type Interaction } from './support/cassettes.js';
import { replyFromUpstreamRecording, startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { postChat, readSse, rngPicking, startGateway, type Gateway } from './support/gateway.js';
import { toGeminiParameters, toGeminiSchema, toResponseJsonSchema } from '../src/providers/gemini/schema.js';
import { thinkingConfig, toContents } from '../src/providers/gemini/request.js';
import { GeminiStreamDecoder, parseCompletion } from '../src/providers/gemini/response.js';
import { GeminiAdapter } from '../src/providers/gemini/adapter.js';
import { HealthTracker } from '../src/routing/health.js';
import type { Endpoint } from '../src/catalog/types.js';
import type { ChatRequest } from '../src/ingress/chat-completions/schema.js';
import { chatToModel, toMessages } from '../src/ingress/chat-completions/to-model.js';
import type { GenerationRequest } from '../src/model/request.js';
import { WEATHER_TOOL, numberTool, fetchGeneration as generation } from './support/requests.js';

// ------------------------------------------------------------------------------------------------
// recordings and the OpenRouter-side requests that correspond to them
// ------------------------------------------------------------------------------------------------

const up = (rel: string) => loadCassette(`upstream/${rel}`);
const bodyOf = (it: Interaction): any => JSON.parse(it.request.body);
const pathOf = (it: Interaction): string => {
  const u = new URL(it.request.url);
  return u.pathname + u.search;
};

const SYSTEM = { role: 'system', content: 'You are a helpful assistant' };
/** The system prompt of a recorded multi-tool request (it changed between recordings). */
const multiSystem = (it: Interaction) => ({ role: 'system', content: bodyOf(it).systemInstruction.parts[0].text as string });
const MULTI_TOOLS = [numberTool('add', 'Add two numbers'), numberTool('multiply', 'Multiply two numbers')];

const TOOL_ID = /^tool_[A-Za-z0-9_.:-]+_[A-Za-z0-9]{20}$/;

/** The recorded Gemini body with the client-chosen function call ids (fantasy's "1", "2") removed. */
function withoutCallIds(body: any): any {
  const copy = structuredClone(body);
  for (const c of copy.contents ?? []) {
    for (const p of c.parts ?? []) {
      if (p.functionCall) delete p.functionCall.id;
      if (p.functionResponse) delete p.functionResponse.id;
    }
  }
  return copy;
}

/** Asserts the upstream request is the recorded one (path, key header, body up to call ids). */
function assertUpstreamRequest(sent: ReceivedRequest, rec: Interaction): void {
  assert.equal(sent.method, 'POST');
  assert.equal(sent.path, pathOf(rec), 'path: model, method and alt=sse');
  assert.equal(sent.headers['x-goog-api-key'], 'test-key-google-ai-studio');
  assert.equal(sent.headers.authorization, undefined, 'Gemini takes the key in x-goog-api-key only');
  assert.deepEqual(withoutCallIds(sent.json), withoutCallIds(bodyOf(rec)));
}

/** Every functionCall/functionResponse id the mock received must be the OpenRouter tool-call id. */
function assertCallIds(sent: ReceivedRequest, ids: string[]): void {
  const calls = sent.json.contents.flatMap((c: any) => c.parts.filter((p: any) => p.functionCall).map((p: any) => p.functionCall.id));
  const responses = sent.json.contents.flatMap((c: any) => c.parts.filter((p: any) => p.functionResponse).map((p: any) => p.functionResponse.id));
  assert.deepEqual(calls, ids);
  assert.deepEqual(responses, ids);
}

interface Streamed {
  chunks: any[];
  text: string;
  reasoning: string;
  details: any[];
  toolCalls: { id: string; name: string; arguments: string }[];
  finish: any;
  usage: any;
}

/** Reads a Switchyard SSE response the way a client does. */
async function readStream(res: Response): Promise<Streamed> {
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const { events } = await readSse(res);
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const out: Streamed = { chunks, text: '', reasoning: '', details: [], toolCalls: [], finish: null, usage: null };
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1, 'one generation id');
  assert.match([...ids][0], /^gen-\d+-[A-Za-z0-9]{20}$/);
  assert.equal(res.headers.get('x-generation-id'), [...ids][0]);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.provider, 'Google AI Studio');
    if (c.usage) out.usage = c.usage;
    const choice = c.choices[0];
    assert.equal(choice.delta.role, 'assistant', 'role on every chunk');
    assert.ok(Array.isArray(choice.delta.reasoning_details) ? choice.delta.reasoning_details.length === 1 : true, 'at most one detail per delta');
    if (c.usage) continue;
    if (typeof choice.delta.content === 'string') out.text += choice.delta.content;
    if (typeof choice.delta.reasoning === 'string') out.reasoning += choice.delta.reasoning;
    if (choice.delta.reasoning_details) out.details.push(...choice.delta.reasoning_details);
    for (const tc of choice.delta.tool_calls ?? []) {
      const slot = (out.toolCalls[tc.index] ??= { id: '', name: '', arguments: '' });
      if (tc.id) slot.id = tc.id;
      if (tc.function?.name) slot.name = tc.function.name;
      if (tc.function?.arguments) slot.arguments += tc.function.arguments;
    }
    if (choice.finish_reason) out.finish = { finish_reason: choice.finish_reason, native_finish_reason: choice.native_finish_reason, delta: choice.delta };
  }
  assert.ok(chunks.at(-1).usage, 'the last chunk carries the usage');
  return out;
}


/** Price table of the catalog endpoint that served a model on Google AI Studio. */
function priceOf(gw: Gateway, model: string) {
  const cat = gw.app.settings.catalog;
  return cat.endpointsOf(cat.models.get(model)!).find((e) => e.provider.slug === 'google-ai-studio')!.price;
}

const money = (x: number) => Number(x.toPrecision(12));

/** usage = Gemini's counts: prompt = promptTokenCount, completion = candidates + thoughts; cost from the catalog. */
function assertUsage(gw: Gateway, usage: any, model: string, meta: any): void {
  const thoughts = meta.thoughtsTokenCount ?? 0;
  const completion = (meta.candidatesTokenCount ?? 0) + thoughts;
  assert.equal(usage.prompt_tokens, meta.promptTokenCount);
  assert.equal(usage.completion_tokens, completion);
  assert.equal(usage.total_tokens, meta.promptTokenCount + completion);
  assert.equal(usage.completion_tokens_details.reasoning_tokens, thoughts);
  assert.equal(usage.prompt_tokens_details.cached_tokens, meta.cachedContentTokenCount ?? 0);
  const p = priceOf(gw, model);
  const cached = meta.cachedContentTokenCount ?? 0;
  const promptCost = money((meta.promptTokenCount - cached) * p.prompt + cached * p.cacheRead);
  const completionCost = money(completion * p.completion);
  assert.equal(usage.cost_details.upstream_inference_prompt_cost, promptCost);
  assert.equal(usage.cost_details.upstream_inference_completions_cost, completionCost);
  assert.equal(usage.cost, money(promptCost + completionCost));
  assert.equal(usage.is_byok, false);
}

/** usageMetadata of the last event (streams) or of the body. */
function recordedUsage(it: Interaction): any {
  const body = it.response.body;
  if (body.trimStart().startsWith('data:')) {
    const events = body.split(/\r?\n\r?\n/).filter((e) => e.startsWith('data: '));
    return JSON.parse(events.at(-1)!.slice(6)).usageMetadata;
  }
  return JSON.parse(body).usageMetadata;
}

/** Parts of the recorded model answer (all events of a stream joined). */
function recordedParts(it: Interaction): any[] {
  const body = it.response.body;
  const docs = body.trimStart().startsWith('data:')
    ? body.split(/\r?\n\r?\n/).filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)))
    : [JSON.parse(body)];
  return docs.flatMap((d) => d.candidates?.[0]?.content?.parts ?? []);
}

// ------------------------------------------------------------------------------------------------
// cassette replay through Switchyard
// ------------------------------------------------------------------------------------------------

describe('Gemini adapter: recorded Google traffic through Switchyard', () => {
  let mock: MockUpstream;
  let gw: Gateway;

  before(async () => {
    mock = await startMockUpstream();
    gw = await startGateway({ providers: { 'google-ai-studio': `${mock.url}/v1beta` } });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  const replay = (it: Interaction) => mock.enqueue(replyFromUpstreamRecording(it.response));
  const lastSent = () => mock.requests.at(-1)!;

  it('simple: system + user, non-streaming', async () => {
    const [rec] = up('TestGoogleCommon/gemini-2.5-flash/simple.yaml');
    replay(rec);
    const res = await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [SYSTEM, { role: 'user', content: 'Say hi in Portuguese' }], max_tokens: 4000 });
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assertUpstreamRequest(lastSent(), rec);
    assert.equal(lastSent().json.systemInstruction.parts[0].text, 'You are a helpful assistant');

    assert.match(body.id, /^gen-\d+-[A-Za-z0-9]{20}$/);
    assert.equal(res.headers.get('x-generation-id'), body.id);
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model, 'google/gemini-2.5-flash');
    assert.equal(body.provider, 'Google AI Studio');
    const choice = body.choices[0];
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.message.content, 'Olá!');
    assert.equal(choice.message.reasoning, null);
    assert.equal(choice.message.refusal, null);
    assert.equal(choice.message.reasoning_details, undefined);
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.native_finish_reason, 'STOP');
    assertUsage(gw, body.usage, 'google/gemini-2.5-flash', recordedUsage(rec));
    assert.equal(body.usage.completion_tokens, 26, '2 answer + 24 thinking tokens');

    const g = await generation(gw, body.id);
    assert.equal(g.provider_name, 'Google AI Studio');
    assert.equal(g.upstream_id, 'VgCzac2AGLOHz7IP2pOkkAI');
    assert.equal(g.native_tokens_reasoning, 24);
    assert.equal(g.finish_reason, 'stop');
  });

  it('simple_streaming: the stream ends without [DONE] upstream and is a success', async () => {
    const [rec] = up('TestGoogleCommon/gemini-2.5-flash/simple_streaming.yaml');
    replay(rec);
    const res = await postChat(gw, {
      model: 'google/gemini-2.5-flash',
      messages: [SYSTEM, { role: 'user', content: 'Say hi in Portuguese' }],
      max_tokens: 4000,
      stream: true,
      usage: { include: true },
    });
    const s = await readStream(res);
    assertUpstreamRequest(lastSent(), rec);
    assert.equal(lastSent().headers.accept, 'text/event-stream');
    assert.equal(s.text, 'Olá!');
    assert.deepEqual(s.chunks[0].choices[0].delta, { content: 'Olá!', role: 'assistant' });
    assert.equal(s.chunks[0].model, 'google/gemini-2.5-flash');
    // Finish chunk (2026 shape): empty content, reasoning:null (reasoning model), STOP kept native.
    assert.deepEqual(s.finish, { finish_reason: 'stop', native_finish_reason: 'STOP', delta: { content: '', role: 'assistant', reasoning: null } });
    assertUsage(gw, s.usage, 'google/gemini-2.5-flash', recordedUsage(rec));
    const g = await generation(gw, s.chunks[0].id);
    assert.equal(g.finish_reason, 'stop');
    assert.equal(g.native_finish_reason, 'STOP');
  });

  it('tool: functionCall with thoughtSignature → tool call + encrypted detail; the signature goes back on the functionCall', async () => {
    const [turn1, turn2] = up('TestGoogleCommon/gemini-2.5-flash/tool.yaml');
    const user = { role: 'user', content: "What's the weather in Florence,Italy?" };
    const base = { model: 'google/gemini-2.5-flash', max_tokens: 4000, tools: [WEATHER_TOOL], tool_choice: 'auto' };
    replay(turn1);
    const res1 = await postChat(gw, { ...base, messages: [SYSTEM, user] });
    assert.equal(res1.status, 200);
    const body1: any = await res1.json();
    assertUpstreamRequest(lastSent(), turn1);

    const msg = body1.choices[0].message;
    assert.equal(body1.choices[0].finish_reason, 'tool_calls');
    assert.equal(body1.choices[0].native_finish_reason, 'STOP');
    assert.equal(msg.content, null);
    assert.equal(msg.tool_calls.length, 1);
    const call = msg.tool_calls[0];
    assert.match(call.id, TOOL_ID);
    assert.ok(call.id.startsWith('tool_weather_'));
    assert.deepEqual({ ...call, id: 'X' }, { type: 'function', index: 0, id: 'X', function: { name: 'weather', arguments: '{"location":"Florence,Italy"}' } });
    const signature = recordedParts(turn1)[0].thoughtSignature;
    assert.deepEqual(msg.reasoning_details, [{ type: 'reasoning.encrypted', data: signature, format: 'google-gemini-v1', id: call.id, index: 0 }]);
    assert.deepEqual(Object.keys(msg.reasoning_details[0]), ['type', 'data', 'format', 'id', 'index']);
    assertUsage(gw, body1.usage, 'google/gemini-2.5-flash', recordedUsage(turn1));

    // Turn 2: the client returns the assistant message as received plus the tool result.
    replay(turn2);
    const res2 = await postChat(gw, {
      ...base,
      messages: [SYSTEM, user, { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: call.function }], reasoning_details: msg.reasoning_details }, { role: 'tool', tool_call_id: call.id, content: '40 C' }],
    });
    assert.equal(res2.status, 200);
    const body2: any = await res2.json();
    assertUpstreamRequest(lastSent(), turn2);
    assertCallIds(lastSent(), [call.id]);
    assert.equal(lastSent().json.contents[1].parts[0].thoughtSignature, signature, 'signature exactly as received');
    assert.equal(body2.choices[0].message.content, 'The weather in Florence, Italy is 40 C.');
    assert.equal(body2.choices[0].finish_reason, 'stop');
    assertUsage(gw, body2.usage, 'google/gemini-2.5-flash', recordedUsage(turn2));
  });

  it('tool_streaming: encrypted detail (reasoning:null, id = call id) before the tool call, then STOP → tool_calls', async () => {
    const [turn1, turn2] = up('TestGoogleCommon/gemini-2.5-flash/tool_streaming.yaml');
    const user = { role: 'user', content: "What's the weather in Florence,Italy?" };
    const base = { model: 'google/gemini-2.5-flash', max_tokens: 4000, tools: [WEATHER_TOOL], tool_choice: 'auto', stream: true, stream_options: { include_usage: true }, usage: { include: true } };
    replay(turn1);
    const s = await readStream(await postChat(gw, { ...base, messages: [SYSTEM, user] }));
    assertUpstreamRequest(lastSent(), turn1);

    const signature = recordedParts(turn1)[0].thoughtSignature;
    const [call] = s.toolCalls;
    assert.match(call.id, TOOL_ID);
    assert.deepEqual(s.toolCalls, [{ id: call.id, name: 'weather', arguments: '{"location":"Florence,Italy"}' }]);
    // The chunk sequence of OpenRouter's Gemini recording (docs/COMPATIBILITY.md#streamed-reasoning-shapes).
    const deltas = s.chunks.map((c) => c.choices[0].delta);
    assert.deepEqual(deltas[0], {
      content: '',
      role: 'assistant',
      reasoning: null,
      reasoning_details: [{ type: 'reasoning.encrypted', data: signature, format: 'google-gemini-v1', id: call.id, index: 0 }],
    });
    assert.deepEqual(deltas[1], { content: null, role: 'assistant', tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: 'weather', arguments: '' } }] });
    assert.deepEqual(deltas[2], { content: null, role: 'assistant', tool_calls: [{ index: 0, function: { arguments: '{"location":"Florence,Italy"}' } }] });
    assert.deepEqual(s.finish, { finish_reason: 'tool_calls', native_finish_reason: 'STOP', delta: { content: '', role: 'assistant', reasoning: null } });
    assert.equal(s.chunks.length, 5, 'encrypted, header, arguments, finish, usage');
    for (const c of s.chunks.slice(0, 3)) assert.equal(c.choices[0].finish_reason, null);
    assertUsage(gw, s.usage, 'google/gemini-2.5-flash', recordedUsage(turn1));

    replay(turn2);
    const s2 = await readStream(
      await postChat(gw, {
        ...base,
        messages: [
          SYSTEM,
          user,
          { role: 'assistant', content: '', tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }], reasoning_details: s.details },
          { role: 'tool', tool_call_id: call.id, content: '40 C' },
        ],
      }),
    );
    assertUpstreamRequest(lastSent(), turn2);
    assertCallIds(lastSent(), [call.id]);
    assert.equal(lastSent().json.contents[1].parts[0].thoughtSignature, signature);
    assert.equal(s2.text, 'The weather in Florence,Italy is 40 C.');
    assert.equal(s2.finish.finish_reason, 'stop');
    assertUsage(gw, s2.usage, 'google/gemini-2.5-flash', recordedUsage(turn2));
  });

  it('multi_tool: two calls in one answer, the signature only on the first; both results in one user turn', async () => {
    const [turn1, turn2] = up('TestGoogleCommon/gemini-2.5-flash/multi_tool.yaml');
    const MULTI_SYSTEM = multiSystem(turn1);
    const user = { role: 'user', content: 'Add and multiply the number 2 and 3' };
    const base = { model: 'google/gemini-2.5-flash', max_tokens: 4000, tools: MULTI_TOOLS, tool_choice: 'auto' };
    replay(turn1);
    const body1: any = await (await postChat(gw, { ...base, messages: [MULTI_SYSTEM, user] })).json();
    assertUpstreamRequest(lastSent(), turn1);
    const msg = body1.choices[0].message;
    assert.deepEqual(
      msg.tool_calls.map((t: any) => [t.index, t.function.name, JSON.parse(t.function.arguments)]),
      [
        [0, 'add', { a: 2, b: 3 }],
        [1, 'multiply', { a: 2, b: 3 }],
      ],
    );
    assert.ok(msg.tool_calls.every((t: any) => TOOL_ID.test(t.id)));
    assert.notEqual(msg.tool_calls[0].id, msg.tool_calls[1].id);
    assert.equal(msg.reasoning_details.length, 1);
    assert.equal(msg.reasoning_details[0].id, msg.tool_calls[0].id);
    assert.equal(body1.choices[0].finish_reason, 'tool_calls');

    replay(turn2);
    const body2: any = await (
      await postChat(gw, {
        ...base,
        messages: [
          MULTI_SYSTEM,
          user,
          { role: 'assistant', content: null, tool_calls: msg.tool_calls.map((t: any) => ({ id: t.id, type: 'function', function: t.function })), reasoning_details: msg.reasoning_details },
          { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '5' },
          { role: 'tool', tool_call_id: msg.tool_calls[1].id, content: '6' },
        ],
      })
    ).json();
    assertUpstreamRequest(lastSent(), turn2);
    assertCallIds(lastSent(), msg.tool_calls.map((t: any) => t.id));
    const model = lastSent().json.contents[1];
    assert.equal(model.parts[0].thoughtSignature, msg.reasoning_details[0].data);
    assert.equal(model.parts[1].thoughtSignature, undefined);
    assert.equal(lastSent().json.contents.length, 3, 'user, model, one user turn with both function responses');
    assert.match(body2.choices[0].message.content, /5.*6/s);
  });

  it('multi_tool_streaming (Gemini 3): calls in separate events get indexes 0 and 1', async () => {
    const [turn1, turn2] = up('TestGoogleCommon/gemini-3-pro-preview/multi_tool_streaming.yaml');
    const MULTI_SYSTEM = multiSystem(turn1);
    const user = { role: 'user', content: 'Add and multiply the number 2 and 3' };
    const base = { model: 'google/gemini-3-pro-preview', max_tokens: 4000, tools: MULTI_TOOLS, tool_choice: 'auto', stream: true };
    replay(turn1);
    const s = await readStream(await postChat(gw, { ...base, messages: [MULTI_SYSTEM, user] }));
    assertUpstreamRequest(lastSent(), turn1);
    assert.deepEqual(
      s.toolCalls.map((t) => [t.name, JSON.parse(t.arguments)]),
      [
        ['add', { a: 2, b: 3 }],
        ['multiply', { a: 2, b: 3 }],
      ],
    );
    const headers = s.chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []).filter((t: any) => t.id);
    assert.deepEqual(headers.map((t: any) => t.index), [0, 1]);
    assert.deepEqual(s.details.map((d) => d.id), [s.toolCalls[0].id]);
    assert.equal(s.finish.finish_reason, 'tool_calls');
    assert.equal(s.finish.native_finish_reason, 'STOP');
    assert.equal(s.chunks[0].model, 'google/gemini-3-pro-preview-20251117');

    replay(turn2);
    const s2 = await readStream(
      await postChat(gw, {
        ...base,
        messages: [
          MULTI_SYSTEM,
          user,
          { role: 'assistant', content: null, tool_calls: s.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })), reasoning_details: s.details },
          { role: 'tool', tool_call_id: s.toolCalls[0].id, content: '5' },
          { role: 'tool', tool_call_id: s.toolCalls[1].id, content: '6' },
        ],
      }),
    );
    assertUpstreamRequest(lastSent(), turn2);
    assertCallIds(lastSent(), s.toolCalls.map((t) => t.id));
    // Gemini 3 puts a signature on the final (empty) text part: an encrypted detail without id, after the text.
    const last = recordedParts(turn2).at(-1);
    assert.equal(s2.details.length, 1);
    assert.deepEqual(s2.details[0], { type: 'reasoning.encrypted', data: last.thoughtSignature, format: 'google-gemini-v1', index: 0 });
    const detailChunk = s2.chunks.findIndex((c) => c.choices[0].delta.reasoning_details);
    const lastText = s2.chunks.findLastIndex((c) => c.choices[0].delta.content && c.choices[0].delta.content !== '');
    assert.ok(detailChunk > lastText, 'after the text answer');
    assert.deepEqual(s2.chunks[detailChunk].choices[0].delta, { content: '', role: 'assistant', reasoning: null, reasoning_details: s2.details });
    assert.equal(s2.finish.finish_reason, 'stop');
  });

  it('Gemini 3 text answer then a tool loop with the text signature sent back on the text part', async () => {
    const [t1, t2] = up('TestGoogleCommon/gemini-3-pro-preview/tool_streaming.yaml');
    const user = { role: 'user', content: "What's the weather in Florence,Italy?" };
    const base = { model: 'google/gemini-3-pro-preview', max_tokens: 4000, tools: [WEATHER_TOOL], tool_choice: 'auto', stream: true };
    replay(t1);
    const s1 = await readStream(await postChat(gw, { ...base, messages: [SYSTEM, user] }));
    assertUpstreamRequest(lastSent(), t1);
    replay(t2);
    const assistant = { role: 'assistant', content: null, tool_calls: [{ id: s1.toolCalls[0].id, type: 'function', function: { name: 'weather', arguments: s1.toolCalls[0].arguments } }], reasoning_details: s1.details };
    const s2 = await readStream(await postChat(gw, { ...base, messages: [SYSTEM, user, assistant, { role: 'tool', tool_call_id: s1.toolCalls[0].id, content: '40 C' }] }));
    assertUpstreamRequest(lastSent(), t2);
    assert.equal(s2.text, "The current weather in Florence, Italy is 40°C (104°F). Stay hydrated, it's quite hot!");

    // Third turn: the answer text comes back with its signature (no id) on the text part.
    mock.enqueue({ json: { candidates: [{ content: { parts: [{ text: 'Bye!' }], role: 'model' }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 300, candidatesTokenCount: 2, totalTokenCount: 302 } } });
    const res3 = await postChat(gw, {
      model: 'google/gemini-3-pro-preview',
      tools: [WEATHER_TOOL],
      messages: [SYSTEM, user, assistant, { role: 'tool', tool_call_id: s1.toolCalls[0].id, content: '40 C' }, { role: 'assistant', content: s2.text, reasoning_details: s2.details }, { role: 'user', content: 'Thanks' }],
    });
    assert.equal(res3.status, 200);
    const contents = lastSent().json.contents;
    assert.deepEqual(contents[3], { role: 'model', parts: [{ text: s2.text, thoughtSignature: recordedParts(t2).at(-1).thoughtSignature }] });
    assert.deepEqual(contents[4], { role: 'user', parts: [{ text: 'Thanks' }] });
    assert.equal(lastSent().path, '/v1beta/models/gemini-3-pro-preview:generateContent');
  });

  it('thinking (Gemini 2.5, reasoning.max_tokens): thinkingBudget, thought text as reasoning, signature round trip', async () => {
    const [turn1, turn2] = up('TestGoogleThinking/gemini-2.5-flash/thinking.yaml');
    const user = { role: 'user', content: "What's the weather in Florence, Italy?" };
    const base = { model: 'google/gemini-2.5-flash', tools: [WEATHER_TOOL], tool_choice: 'auto', reasoning: { max_tokens: 128 } };
    replay(turn1);
    const body1: any = await (await postChat(gw, { ...base, messages: [SYSTEM, user] })).json();
    assertUpstreamRequest(lastSent(), turn1);
    assert.deepEqual(lastSent().json.generationConfig, { thinkingConfig: { includeThoughts: true, thinkingBudget: 128 } });

    const parts = recordedParts(turn1);
    const thought = parts.find((p) => p.thought).text;
    const msg = body1.choices[0].message;
    assert.equal(msg.reasoning, thought);
    const call = msg.tool_calls[0];
    assert.deepEqual(msg.reasoning_details, [
      { type: 'reasoning.text', text: thought, format: 'google-gemini-v1', index: 0 },
      { type: 'reasoning.encrypted', data: parts.find((p) => p.thoughtSignature).thoughtSignature, format: 'google-gemini-v1', id: call.id, index: 1 },
    ]);
    assert.equal(body1.choices[0].finish_reason, 'tool_calls');
    assertUsage(gw, body1.usage, 'google/gemini-2.5-flash', recordedUsage(turn1));

    replay(turn2);
    const body2: any = await (
      await postChat(gw, {
        ...base,
        messages: [SYSTEM, user, { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: call.function }], reasoning: msg.reasoning, reasoning_details: msg.reasoning_details }, { role: 'tool', tool_call_id: call.id, content: '40 C' }],
      })
    ).json();
    // The thought text is not sent back (Gemini does not need it); the signature is.
    assertUpstreamRequest(lastSent(), turn2);
    assert.equal(body2.choices[0].message.content, 'The weather in Florence, Italy is 40 C.');
  });

  it('thinking-streaming (Gemini 2.5): reasoning chunk, encrypted chunk, tool call, finish', async () => {
    const [turn1, turn2] = up('TestGoogleThinking/gemini-2.5-flash/thinking-streaming.yaml');
    const user = { role: 'user', content: "What's the weather in Florence, Italy?" };
    const base = { model: 'google/gemini-2.5-flash', tools: [WEATHER_TOOL], tool_choice: 'auto', reasoning: { max_tokens: 128 }, stream: true };
    replay(turn1);
    const s = await readStream(await postChat(gw, { ...base, messages: [SYSTEM, user] }));
    assertUpstreamRequest(lastSent(), turn1);
    const parts = recordedParts(turn1);
    const thought = parts.find((p) => p.thought).text;
    const deltas = s.chunks.map((c) => c.choices[0].delta);
    assert.deepEqual(deltas[0], { content: '', role: 'assistant', reasoning: thought, reasoning_details: [{ type: 'reasoning.text', text: thought, format: 'google-gemini-v1', index: 0 }] });
    assert.equal(deltas[1].reasoning, null);
    assert.equal(deltas[1].reasoning_details[0].type, 'reasoning.encrypted');
    assert.equal(deltas[1].reasoning_details[0].id, s.toolCalls[0].id);
    assert.ok(deltas[2].tool_calls);
    assert.equal(s.reasoning, thought);
    assert.equal(s.finish.finish_reason, 'tool_calls');
    assertUsage(gw, s.usage, 'google/gemini-2.5-flash', recordedUsage(turn1));

    replay(turn2);
    const call = s.toolCalls[0];
    const s2 = await readStream(
      await postChat(gw, {
        ...base,
        messages: [SYSTEM, user, { role: 'assistant', content: '', reasoning: s.reasoning, tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }], reasoning_details: s.details }, { role: 'tool', tool_call_id: call.id, content: '40 C' }],
      }),
    );
    assertUpstreamRequest(lastSent(), turn2);
    assert.equal(s2.text, 'The weather in Florence, Italy is 40 C.');
  });

  it('thinking (Gemini 2.5 Pro) and Gemini 3 (reasoning.effort high → thinkingLevel HIGH)', async () => {
    const [pro] = up('TestGoogleThinking/gemini-2.5-pro/thinking.yaml');
    replay(pro);
    const user = { role: 'user', content: "What's the weather in Florence, Italy?" };
    const r1 = await postChat(gw, { model: 'google/gemini-2.5-pro', messages: [SYSTEM, user], tools: [WEATHER_TOOL], tool_choice: 'auto', reasoning: { max_tokens: 128 } });
    assert.equal(r1.status, 200);
    assertUpstreamRequest(lastSent(), pro);

    const [g3turn1, g3turn2] = up('TestGoogleThinking/gemini-3-pro-preview/thinking.yaml');
    const base = { model: 'google/gemini-3-pro-preview', tools: [WEATHER_TOOL], tool_choice: 'auto', reasoning: { effort: 'high' } };
    replay(g3turn1);
    const body1: any = await (await postChat(gw, { ...base, messages: [SYSTEM, user] })).json();
    assertUpstreamRequest(lastSent(), g3turn1);
    assert.deepEqual(lastSent().json.generationConfig.thinkingConfig, { includeThoughts: true, thinkingLevel: 'HIGH' });
    const msg = body1.choices[0].message;
    assert.equal(body1.model, 'google/gemini-3-pro-preview-20251117');
    assert.ok(msg.reasoning.startsWith('**My Thought Process'));
    assert.deepEqual(msg.reasoning_details.map((d: any) => [d.type, d.id ?? null]), [
      ['reasoning.text', null],
      ['reasoning.encrypted', msg.tool_calls[0].id],
    ]);
    replay(g3turn2);
    const body2: any = await (
      await postChat(gw, {
        ...base,
        messages: [SYSTEM, user, { role: 'assistant', content: null, tool_calls: msg.tool_calls.map((t: any) => ({ id: t.id, type: 'function', function: t.function })), reasoning_details: msg.reasoning_details }, { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '40 C' }],
      })
    ).json();
    assertUpstreamRequest(lastSent(), g3turn2);
    const m2 = body2.choices[0].message;
    assert.equal(m2.content, "The current weather in Florence, Italy is 40°C (104°F). Stay hydrated, it's quite hot!");
    // The answer's signature sits on its text part: an encrypted detail without id.
    assert.deepEqual(m2.reasoning_details.map((d: any) => [d.type, d.id ?? null, d.index]), [
      ['reasoning.text', null, 0],
      ['reasoning.encrypted', null, 1],
    ]);
    assertUsage(gw, body2.usage, 'google/gemini-3-pro-preview', recordedUsage(g3turn2));
  });

  it('thinking-streaming (Gemini 3)', async () => {
    const [turn1, turn2] = up('TestGoogleThinking/gemini-3-pro-preview/thinking-streaming.yaml');
    const user = { role: 'user', content: "What's the weather in Florence, Italy?" };
    const base = { model: 'google/gemini-3-pro-preview', tools: [WEATHER_TOOL], tool_choice: 'auto', reasoning: { effort: 'high' }, stream: true };
    replay(turn1);
    const s = await readStream(await postChat(gw, { ...base, messages: [SYSTEM, user] }));
    assertUpstreamRequest(lastSent(), turn1);
    assert.equal(s.finish.finish_reason, 'tool_calls');
    replay(turn2);
    const call = s.toolCalls[0];
    const s2 = await readStream(
      await postChat(gw, {
        ...base,
        messages: [SYSTEM, user, { role: 'assistant', tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }], reasoning_details: s.details }, { role: 'tool', tool_call_id: call.id, content: '40 C' }],
      }),
    );
    assertUpstreamRequest(lastSent(), turn2);
    assert.equal(s2.finish.native_finish_reason, 'STOP');
    assertUsage(gw, s2.usage, 'google/gemini-3-pro-preview', recordedUsage(turn2));
  });

  it('Gemini 3 simple streaming: signature-only chunk after the text, before the finish chunk', async () => {
    const [rec] = up('TestGoogleCommon/gemini-3-pro-preview/simple_streaming.yaml');
    replay(rec);
    const s = await readStream(await postChat(gw, { model: 'google/gemini-3-pro-preview', messages: [SYSTEM, { role: 'user', content: 'Say hi in Portuguese' }], max_tokens: 4000, stream: true }));
    assertUpstreamRequest(lastSent(), rec);
    const parts = recordedParts(rec);
    assert.equal(s.text, parts.map((p) => p.text).join(''));
    const n = s.chunks.length;
    assert.deepEqual(s.chunks[n - 3].choices[0].delta, {
      content: '',
      role: 'assistant',
      reasoning: null,
      reasoning_details: [{ type: 'reasoning.encrypted', data: parts.at(-1).thoughtSignature, format: 'google-gemini-v1', index: 0 }],
    });
    assert.equal(s.finish.finish_reason, 'stop');
  });

  it('image upload: a base64 data URL becomes inlineData (non-streaming and streaming)', async () => {
    for (const [file, stream] of [
      ['TestImageUploadAgent/gemini-2.5-pro.yaml', false],
      ['TestImageUploadAgentStreaming/gemini-2.5-pro-stream.yaml', true],
    ] as const) {
      const [rec] = up(file);
      const recorded = bodyOf(rec);
      const inline = recorded.contents[0].parts[1].inlineData;
      replay(rec);
      const res = await postChat(gw, {
        model: 'google/gemini-2.5-pro',
        max_tokens: 4000,
        stream,
        messages: [
          SYSTEM,
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe the image briefly in English.' },
              { type: 'image_url', image_url: { url: `data:${inline.mimeType};base64,${inline.data}` } },
            ],
          },
        ],
      });
      const want = recordedParts(rec).map((p) => p.text).join('');
      if (stream) {
        const s = await readStream(res);
        assert.equal(s.text, want);
        assertUsage(gw, s.usage, 'google/gemini-2.5-pro', recordedUsage(rec));
      } else {
        const body: any = await res.json();
        assert.equal(body.choices[0].message.content, want);
        assertUsage(gw, body.usage, 'google/gemini-2.5-pro', recordedUsage(rec));
      }
      assertUpstreamRequest(lastSent(), rec);
    }
  });

  it('image and PDF by URL become fileData; audio becomes inlineData', async () => {
    mock.enqueue({ json: { candidates: [{ content: { parts: [{ text: 'ok' }], role: 'model' }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 1 } } });
    const res = await postChat(gw, {
      model: 'google/gemini-2.5-flash',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: "What's in this image?" },
            { type: 'image_url', image_url: { url: 'https://upload.wikimedia.org/a/b/Gfp-wisconsin-madison-the-nature-boardwalk.jpg' } },
            { type: 'file', file: { filename: 'document.pdf', file_data: 'data:application/pdf;base64,JVBERi0x' } },
            { type: 'file', file: { filename: 'paper.pdf', file_data: 'https://example.com/paper.pdf' } },
            { type: 'input_audio', input_audio: { data: 'UklGRiQ=', format: 'wav' } },
          ],
        },
      ],
    });
    assert.equal(res.status, 200);
    assert.deepEqual(lastSent().json.contents, [
      {
        role: 'user',
        parts: [
          { text: "What's in this image?" },
          { fileData: { fileUri: 'https://upload.wikimedia.org/a/b/Gfp-wisconsin-madison-the-nature-boardwalk.jpg', mimeType: 'image/jpeg' } },
          { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0x' } },
          { fileData: { fileUri: 'https://example.com/paper.pdf', mimeType: 'application/pdf' } },
          { inlineData: { mimeType: 'audio/wav', data: 'UklGRiQ=' } },
        ],
      },
    ]);
  });

  it('object generation: response_format json_schema → responseMimeType + responseJsonSchema', async () => {
    const [simple] = up('TestGoogleObjectGeneration/gemini-2.5-flash/simple_object.yaml');
    const schema = bodyOf(simple).generationConfig.responseJsonSchema;
    replay(simple);
    const body: any = await (
      await postChat(gw, {
        model: 'google/gemini-2.5-flash',
        max_tokens: 4000,
        messages: [{ role: 'user', content: 'Generate information about a person named Alice who is 30 years old and lives in Paris.' }],
        response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: { $schema: 'http://json-schema.org/draft-07/schema#', ...schema } } },
      })
    ).json();
    assertUpstreamRequest(lastSent(), simple);
    assert.deepEqual(JSON.parse(body.choices[0].message.content), { age: 30, city: 'Paris', name: 'Alice' });

    const [complex] = up('TestGoogleObjectGeneration/gemini-2.5-flash/complex_object_streaming.yaml');
    replay(complex);
    const s = await readStream(
      await postChat(gw, {
        model: 'google/gemini-2.5-flash',
        max_tokens: 4000,
        stream: true,
        messages: [{ role: 'user', content: bodyOf(complex).contents[0].parts[0].text }],
        response_format: { type: 'json_schema', json_schema: { name: 'book', schema: bodyOf(complex).generationConfig.responseJsonSchema } },
      }),
    );
    assertUpstreamRequest(lastSent(), complex);
    assert.equal(JSON.parse(s.text).published_year, 1954);
  });

  it('generation parameters: maxOutputTokens, temperature, topP, topK, stop, seed, json_object, tool_choice', async () => {
    const answer: MockReply = { json: { candidates: [{ content: { parts: [{ text: '{}' }], role: 'model' }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 1 } } };
    mock.enqueue(answer);
    await postChat(gw, {
      model: 'google/gemini-2.5-flash',
      messages: [{ role: 'developer', content: [{ type: 'text', text: 'Be brief.' }] }, { role: 'user', content: 'x' }],
      max_completion_tokens: 100,
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      seed: 7,
      stop: 'END',
      response_format: { type: 'json_object' },
      tools: [WEATHER_TOOL],
      tool_choice: { type: 'function', function: { name: 'weather' } },
      user: 'someone',
      frequency_penalty: 0.5,
    });
    const sent = lastSent().json;
    assert.deepEqual(sent.generationConfig, { maxOutputTokens: 100, temperature: 0.2, topP: 0.9, topK: 40, seed: 7, stopSequences: ['END'], responseMimeType: 'application/json' });
    assert.deepEqual(sent.systemInstruction, { parts: [{ text: 'Be brief.' }], role: 'user' });
    assert.deepEqual(sent.toolConfig, { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['weather'] } });
    for (const [choice, mode] of [
      ['required', 'ANY'],
      ['none', 'NONE'],
      ['auto', 'AUTO'],
    ]) {
      mock.enqueue(answer);
      await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], tools: [WEATHER_TOOL], tool_choice: choice });
      assert.deepEqual(lastSent().json.toolConfig, { functionCallingConfig: { mode } });
    }
    mock.enqueue(answer);
    await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], tools: [WEATHER_TOOL] });
    assert.equal(lastSent().json.toolConfig, undefined, 'no tool_choice, no toolConfig');
  });

  it('finish reasons: MAX_TOKENS → length, SAFETY → content_filter, a blocked prompt → content_filter', async () => {
    const cases: [unknown, string, string][] = [
      [{ candidates: [{ content: { parts: [{ text: 'Once upon' }], role: 'model' }, finishReason: 'MAX_TOKENS' }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2 } }, 'length', 'MAX_TOKENS'],
      [{ candidates: [{ content: { parts: [{ text: '' }], role: 'model' }, finishReason: 'SAFETY', safetyRatings: [] }], usageMetadata: { promptTokenCount: 3 } }, 'content_filter', 'SAFETY'],
      [{ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: { promptTokenCount: 3, totalTokenCount: 3 } }, 'content_filter', 'PROHIBITED_CONTENT'],
    ];
    for (const [reply, finish, native] of cases) {
      mock.enqueue({ json: reply });
      const body: any = await (await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] })).json();
      assert.equal(body.choices[0].finish_reason, finish);
      assert.equal(body.choices[0].native_finish_reason, native);
      mock.enqueue({ sse: [`data: ${JSON.stringify(reply)}\r\n\r\n`] });
      const s = await readStream(await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], stream: true }));
      assert.equal(s.finish.finish_reason, finish);
      assert.equal(s.finish.native_finish_reason, native);
    }
  });

  it(
    'a prompt blocked for reason OTHER (or an IMAGE_SAFETY finish) is content_filter',
    async () => {
      mock.enqueue({ json: { promptFeedback: { blockReason: 'OTHER' }, usageMetadata: { promptTokenCount: 3 } } });
      const body: any = await (await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] })).json();
      assert.equal(body.choices[0].finish_reason, 'content_filter');
      mock.enqueue({ json: { candidates: [{ finishReason: 'IMAGE_SAFETY' }] } });
      const body2: any = await (await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] })).json();
      assert.equal(body2.choices[0].finish_reason, 'content_filter');
    },
  );

  it('reasoning.exclude: includeThoughts false upstream; no reasoning details in the non-streaming body', async () => {
    const [rec] = up('TestGoogleThinking/gemini-2.5-flash/thinking.yaml');
    replay(rec);
    const body: any = await (
      await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [SYSTEM, { role: 'user', content: 'x' }], tools: [WEATHER_TOOL], reasoning: { max_tokens: 128, exclude: true } })
    ).json();
    assert.deepEqual(lastSent().json.generationConfig.thinkingConfig, { includeThoughts: false, thinkingBudget: 128 });
    assert.equal(body.choices[0].message.reasoning, null);
    assert.equal(body.choices[0].message.reasoning_details, undefined);
    assert.equal(body.usage.completion_tokens_details.reasoning_tokens, recordedUsage(rec).thoughtsTokenCount, 'still billed');
    assert.ok(body.usage.completion_tokens_details.reasoning_tokens > 0);
  });

  it(
    'reasoning.exclude in streaming: no reasoning_details either',
    async () => {
      const [rec] = up('TestGoogleThinking/gemini-2.5-flash/thinking-streaming.yaml');
      replay(rec);
      const s = await readStream(
        await postChat(gw, { model: 'google/gemini-2.5-flash', stream: true, messages: [SYSTEM, { role: 'user', content: 'x' }], tools: [WEATHER_TOOL], reasoning: { max_tokens: 128, exclude: true } }),
      );
      assert.deepEqual(s.details, []);
      assert.equal(s.reasoning, '');
    },
  );

  it('a stream that ends before any finishReason is a failure, not a success', async () => {
    mock.enqueue({ fault: 'reset-mid-stream', afterEvents: 1, sse: ['data: {"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}]}\r\n\r\n'] });
    const res = await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], stream: true });
    const { events } = await readSse(res);
    const last = JSON.parse(events.at(-2)!);
    assert.equal(last.choices[0].finish_reason, 'error');
    assert.equal(last.error.metadata.provider_name, 'Google AI Studio');
  });

  it('an error event inside the stream (before content) is an upstream failure', async () => {
    const err = { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } };
    mock.enqueue({ sse: [`data: ${JSON.stringify(err)}\r\n\r\n`] });
    const res = await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], stream: true });
    const { events } = await readSse(res);
    const chunk = JSON.parse(events[0]);
    assert.equal(chunk.error.metadata.raw, 'The model is overloaded. Please try again later.');
    assert.equal(chunk.choices[0].finish_reason, 'error');
  });
});

// ------------------------------------------------------------------------------------------------
// errors and fallback
// ------------------------------------------------------------------------------------------------

const RESOURCE_EXHAUSTED = `{
  "error": {
    "code": 429,
    "message": "You exceeded your current quota, please check your plan and billing details.",
    "status": "RESOURCE_EXHAUSTED",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": "37s"
      }
    ]
  }
}
`;

describe('Gemini adapter: upstream errors', () => {
  let primary: MockUpstream;
  let backup: MockUpstream;
  let gw: Gateway;
  let single: Gateway;
  const MODEL = 'google/gemini-2.5-flash';

  before(async () => {
    primary = await startMockUpstream();
    backup = await startMockUpstream();
    // A second Gemini endpoint for the same model (e.g. a second AI Studio project), from config.
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-gemini-'));
    const configFile = join(dir, 'switchyard.yaml');
    writeFileSync(
      configFile,
      [
        'catalog:',
        '  providers:',
        '    - { slug: gemini-backup, name: "Gemini Backup", protocol: gemini, base_url: "https://generativelanguage.googleapis.com/v1beta" }',
        '  models:',
        `    - id: ${MODEL}`,
        '      reasoning: true',
        '      endpoints:',
        '        - { provider: google-ai-studio, upstream_model: gemini-2.5-flash, pricing: { prompt: "0.0000003", completion: "0.0000025" } }',
        '        - { provider: gemini-backup, upstream_model: gemini-2.5-flash, pricing: { prompt: "0.0000004", completion: "0.000003" } }',
        '',
      ].join('\n'),
    );
    gw = await startGateway({ providers: { 'google-ai-studio': `${primary.url}/v1beta`, 'gemini-backup': `${backup.url}/v1beta` }, configFile });
    single = await startGateway({ providers: { 'google-ai-studio': `${primary.url}/v1beta` } });
  });
  after(async () => {
    await gw.close();
    await single.close();
    await primary.close();
    await backup.close();
  });

  const ok = (text: string): MockReply => ({ sse: [`data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 1 } })}\r\n\r\n`] });

  /** Forget earlier failures so that the endpoint order is the lottery's again. */
  const freshHealth = () => {
    gw.app.health = new HealthTracker(gw.app.settings.failureWindowMs);
  };

  it('RESOURCE_EXHAUSTED 429 on the first endpoint: Switchyard falls back to the next one', async () => {
    freshHealth();
    gw.app.rng = rngPicking(gw.app, MODEL, 'google-ai-studio');
    primary.enqueue({ status: 429, raw: RESOURCE_EXHAUSTED, headers: { 'content-type': 'application/json; charset=UTF-8' } });
    backup.enqueue(ok('Oi!'));
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'Say hi' }], stream: true });
    const s = await readStreamLoose(res);
    assert.equal(s.text, 'Oi!');
    assert.equal(s.provider, 'Gemini Backup');
    assert.equal(backup.requests.at(-1)!.path, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    const g = await generation(gw, s.id);
    assert.deepEqual(g.provider_responses.map((p: any) => [p.provider_name, p.status]), [
      ['Google AI Studio', 429],
      ['Gemini Backup', 200],
    ]);
  });

  it('RESOURCE_EXHAUSTED 429 with no other endpoint: OpenRouter error body, Google body in metadata.raw', async () => {
    primary.enqueue({ status: 429, raw: RESOURCE_EXHAUSTED, headers: { 'content-type': 'application/json; charset=UTF-8' } });
    const res = await postChat(single, { model: MODEL, messages: [{ role: 'user', content: 'Say hi' }] });
    assert.equal(res.status, 429);
    const body: any = await res.json();
    assert.deepEqual(body, { error: { message: 'Provider returned error', code: 429, metadata: { raw: RESOURCE_EXHAUSTED, provider_name: 'Google AI Studio' } } });
  });

  it('INVALID_ARGUMENT 400 is not retried and keeps its status', async () => {
    const err = JSON.stringify({ error: { code: 400, message: '* GenerateContentRequest.contents: contents is not specified\n', status: 'INVALID_ARGUMENT' } });
    freshHealth();
    gw.app.rng = rngPicking(gw.app, MODEL, 'google-ai-studio');
    const before = backup.requests.length;
    primary.enqueue({ status: 400, raw: err });
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(res.status, 400);
    const body: any = await res.json();
    assert.equal(body.error.metadata.raw, err);
    assert.equal(backup.requests.length, before, 'a request error is not retried elsewhere');
  });

  it('UNAVAILABLE 503 falls back; an invalid API key (400 API_KEY_INVALID) counts as a provider failure', async () => {
    for (const [status, err] of [
      [503, { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } }],
      [400, { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }] } }],
    ] as const) {
      freshHealth();
      gw.app.rng = rngPicking(gw.app, MODEL, 'google-ai-studio');
      primary.enqueue({ status, json: err });
      backup.enqueue({ json: { candidates: [{ content: { parts: [{ text: 'fine' }], role: 'model' }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 1 } } });
      const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
      assert.equal(res.status, 200, `after ${status}`);
      const body: any = await res.json();
      assert.equal(body.provider, 'Gemini Backup');
      assert.equal(body.choices[0].message.content, 'fine');
    }
  });

  it(
    'RetryInfo.retryDelay becomes Retry-After',
    async () => {
      primary.enqueue({ status: 429, raw: RESOURCE_EXHAUSTED });
      const res = await postChat(single, { model: MODEL, messages: [{ role: 'user', content: 'Say hi' }] });
      assert.equal(res.status, 429);
      await res.text();
      assert.equal(res.headers.get('retry-after'), '37');
    },
  );
});

/** A stream read without the Google-AI-Studio provider-name checks (fallback tests). */
async function readStreamLoose(res: Response): Promise<{ id: string; provider: string; text: string }> {
  assert.equal(res.status, 200);
  const { events } = await readSse(res);
  const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
  return {
    id: chunks[0].id,
    provider: chunks[0].provider,
    text: chunks.map((c) => (c.usage ? '' : (c.choices[0]?.delta?.content ?? ''))).join(''),
  };
}

// ------------------------------------------------------------------------------------------------
// the official openai SDK driving a Gemini tool loop
// ------------------------------------------------------------------------------------------------

describe('openai SDK: Gemini tool loop end to end', () => {
  let mock: MockUpstream;
  let gw: Gateway;
  let client: OpenAI;

  before(async () => {
    mock = await startMockUpstream();
    gw = await startGateway({ providers: { 'google-ai-studio': `${mock.url}/v1beta` } });
    client = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-unused', maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  it('streaming: the SDK assembles the tool call; reasoning_details go back and the signature reaches Gemini', async () => {
    const [turn1, turn2] = up('TestGoogleCommon/gemini-2.5-flash/tool_streaming.yaml');
    const tools: OpenAI.ChatCompletionTool[] = [WEATHER_TOOL as OpenAI.ChatCompletionTool];
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are a helpful assistant' },
      { role: 'user', content: "What's the weather in Florence,Italy?" },
    ];
    mock.enqueue(replyFromUpstreamRecording(turn1.response));
    const stream = client.chat.completions.stream({ model: 'google/gemini-2.5-flash', messages, tools, tool_choice: 'auto', max_tokens: 4000 });
    const details: any[] = [];
    for await (const chunk of stream) {
      const d = (chunk.choices[0]?.delta as any)?.reasoning_details;
      if (Array.isArray(d)) details.push(...d);
    }
    const final = await stream.finalChatCompletion();
    assert.deepEqual(withoutCallIds(mock.requests.at(-1)!.json), withoutCallIds(bodyOf(turn1)));
    const choice = final.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    const call = choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.match(call.id, TOOL_ID);
    assert.equal(call.function.name, 'weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Florence,Italy' });
    assert.equal(details.length, 1);
    assert.equal(details[0].id, call.id);

    // Run the tool and send the result back with the reasoning details on the assistant message.
    const args = JSON.parse(call.function.arguments) as { location: string };
    assert.equal(args.location, 'Florence,Italy');
    messages.push({ ...(choice.message as any), reasoning_details: details } as OpenAI.ChatCompletionAssistantMessageParam);
    messages.push({ role: 'tool', tool_call_id: call.id, content: '40 C' });
    mock.enqueue(replyFromUpstreamRecording(turn2.response));
    const stream2 = client.chat.completions.stream({ model: 'google/gemini-2.5-flash', messages, tools, tool_choice: 'auto', max_tokens: 4000 });
    const answer = await stream2.finalChatCompletion();
    const sent = mock.requests.at(-1)!;
    assert.deepEqual(withoutCallIds(sent.json), withoutCallIds(bodyOf(turn2)));
    assert.equal(sent.json.contents[1].parts[0].thoughtSignature, recordedParts(turn1)[0].thoughtSignature);
    assert.equal(answer.choices[0].message.content, 'The weather in Florence,Italy is 40 C.');
    assert.equal(answer.choices[0].finish_reason, 'stop');
    assert.equal(answer.usage?.prompt_tokens, 127);
  });

  it('non-streaming: create() with tools, then the tool result', async () => {
    const [turn1, turn2] = up('TestGoogleCommon/gemini-2.5-flash/multi_tool.yaml');
    const tools = MULTI_TOOLS as OpenAI.ChatCompletionTool[];
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      multiSystem(turn1) as OpenAI.ChatCompletionSystemMessageParam,
      { role: 'user', content: 'Add and multiply the number 2 and 3' },
    ];
    mock.enqueue(replyFromUpstreamRecording(turn1.response));
    const first = await client.chat.completions.create({ model: 'google/gemini-2.5-flash', messages, tools, tool_choice: 'auto', max_tokens: 4000 });
    const calls = first.choices[0].message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[];
    assert.equal(calls.length, 2);
    messages.push(first.choices[0].message as OpenAI.ChatCompletionAssistantMessageParam); // reasoning_details ride along
    for (const c of calls) {
      const { a, b } = JSON.parse(c.function.arguments) as { a: number; b: number };
      messages.push({ role: 'tool', tool_call_id: c.id, content: String(c.function.name === 'add' ? a + b : a * b) });
    }
    mock.enqueue(replyFromUpstreamRecording(turn2.response));
    const second = await client.chat.completions.create({ model: 'google/gemini-2.5-flash', messages, tools, tool_choice: 'auto', max_tokens: 4000 });
    assert.deepEqual(withoutCallIds(mock.requests.at(-1)!.json), withoutCallIds(bodyOf(turn2)));
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.match(second.choices[0].message.content ?? '', /5.*6/s);
  });
});

// ------------------------------------------------------------------------------------------------
// unit tests: JSON Schema cleanup, reasoning mapping, message translation, decoding
// ------------------------------------------------------------------------------------------------

describe('toGeminiSchema: JSON Schema → Gemini schema', () => {
  it('upper-cases types and keeps description, enum, required, items', () => {
    assert.deepEqual(
      toGeminiSchema({
        type: 'object',
        properties: { unit: { type: 'string', enum: ['c', 'f'], description: 'unit' }, days: { type: 'array', items: { type: 'integer', minimum: 1 } } },
        required: ['unit'],
      }),
      {
        type: 'OBJECT',
        properties: { unit: { type: 'STRING', description: 'unit', enum: ['c', 'f'] }, days: { type: 'ARRAY', items: { type: 'INTEGER', minimum: 1 } } },
        required: ['unit'],
      },
    );
  });

  it('drops additionalProperties, $schema, strict, examples, default, $id, $comment', () => {
    assert.deepEqual(
      toGeminiSchema({
        $schema: 'http://json-schema.org/draft-07/schema#',
        $id: 'x',
        $comment: 'c',
        type: 'object',
        additionalProperties: false,
        strict: true,
        properties: { q: { type: 'string', default: 'a', examples: ['b'], additionalProperties: false } },
      }),
      { type: 'OBJECT', properties: { q: { type: 'STRING' } } },
    );
  });

  it('resolves $ref into $defs and definitions, siblings of $ref win', () => {
    const schema = {
      type: 'object',
      $defs: { Address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      definitions: { Color: { type: 'string', enum: ['red', 'blue'] } },
      properties: {
        home: { $ref: '#/$defs/Address', description: 'home address' },
        work: { $ref: '#/$defs/Address' },
        color: { $ref: '#/definitions/Color' },
      },
    };
    const address = { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] };
    assert.deepEqual(toGeminiSchema(schema), {
      type: 'OBJECT',
      properties: { home: { ...address, description: 'home address' }, work: address, color: { type: 'STRING', enum: ['red', 'blue'] } },
    });
  });

  it('a recursive $ref stops at an OBJECT placeholder instead of looping', () => {
    const schema = { $defs: { Node: { type: 'object', properties: { value: { type: 'string' }, next: { $ref: '#/$defs/Node' } } } }, $ref: '#/$defs/Node' };
    assert.deepEqual(toGeminiSchema(schema), {
      type: 'OBJECT',
      properties: { value: { type: 'STRING' }, next: { type: 'OBJECT', description: 'recursive structure' } },
    });
  });

  it('anyOf with a null branch becomes nullable; several branches stay anyOf', () => {
    assert.deepEqual(toGeminiSchema({ anyOf: [{ type: 'string' }, { type: 'null' }], description: 'maybe' }), { type: 'STRING', description: 'maybe', nullable: true });
    assert.deepEqual(toGeminiSchema({ oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] }), { anyOf: [{ type: 'STRING' }, { type: 'INTEGER' }], nullable: true });
    assert.deepEqual(toGeminiSchema({ anyOf: [{ $ref: '#/$defs/A' }, { type: 'null' }], $defs: { A: { type: 'number' } } }), { type: 'NUMBER', nullable: true });
  });

  it('type arrays: ["string","null"] → STRING + nullable; ["string","number"] → anyOf', () => {
    assert.deepEqual(toGeminiSchema({ type: ['string', 'null'], description: 'd' }), { type: 'STRING', description: 'd', nullable: true });
    assert.deepEqual(toGeminiSchema({ type: ['string', 'number'] }), { anyOf: [{ type: 'STRING' }, { type: 'NUMBER' }] });
    assert.deepEqual(toGeminiSchema({ type: ['null'] }), { nullable: true });
  });

  it('formats Gemini rejects are dropped; enum/date-time, int32/int64, float/double kept', () => {
    assert.deepEqual(toGeminiSchema({ type: 'string', format: 'uri' }), { type: 'STRING' });
    assert.deepEqual(toGeminiSchema({ type: 'string', format: 'email' }), { type: 'STRING' });
    assert.deepEqual(toGeminiSchema({ type: 'string', format: 'date-time' }), { type: 'STRING', format: 'date-time' });
    assert.deepEqual(toGeminiSchema({ type: 'integer', format: 'int64' }), { type: 'INTEGER', format: 'int64' });
    assert.deepEqual(toGeminiSchema({ type: 'number', format: 'double' }), { type: 'NUMBER', format: 'double' });
  });

  it('non-string enums and const move into the description; string const becomes an enum', () => {
    assert.deepEqual(toGeminiSchema({ type: 'integer', enum: [1, 2, 3], description: 'level' }), { type: 'INTEGER', description: 'level (one of: 1, 2, 3)' });
    assert.deepEqual(toGeminiSchema({ const: 'fixed' }), { type: 'STRING', enum: ['fixed'] });
    assert.deepEqual(toGeminiSchema({ type: 'string', enum: ['a', null] }), { type: 'STRING', enum: ['a'], nullable: true });
  });

  it('allOf is merged; missing types are inferred; required keeps declared properties only', () => {
    assert.deepEqual(
      toGeminiSchema({
        allOf: [
          { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          { properties: { b: { items: { type: 'boolean' } } }, required: ['b', 'ghost'] },
        ],
      }),
      { type: 'OBJECT', properties: { a: { type: 'STRING' }, b: { type: 'ARRAY', items: { type: 'BOOLEAN' } } }, required: ['a', 'b'] },
    );
  });

  it('toGeminiParameters omits no-argument tools; toResponseJsonSchema keeps JSON Schema minus $schema', () => {
    assert.equal(toGeminiParameters({ type: 'object', properties: {} }), undefined);
    assert.equal(toGeminiParameters({ type: 'object', properties: {}, additionalProperties: false }), undefined);
    assert.equal(toGeminiParameters(undefined), undefined);
    assert.deepEqual(toGeminiParameters({ properties: { x: { type: 'string' } } }), { type: 'OBJECT', properties: { x: { type: 'STRING' } } });
    assert.deepEqual(toResponseJsonSchema({ $schema: 'x', type: 'object', additionalProperties: false }), { type: 'object', additionalProperties: false });
  });

  it('a zod-to-json-schema style tool schema passes cleanly', () => {
    const schema = {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 1 },
        filters: {
          type: 'object',
          properties: { since: { type: ['string', 'null'], format: 'date-time' }, tags: { type: 'array', items: { type: 'string' }, maxItems: 5 } },
          additionalProperties: false,
        },
        limit: { type: 'integer', exclusiveMinimum: 0, default: 10 },
      },
      required: ['query'],
      additionalProperties: false,
      $schema: 'http://json-schema.org/draft-07/schema#',
    };
    assert.deepEqual(toGeminiParameters(schema), {
      type: 'OBJECT',
      properties: {
        query: { type: 'STRING', minLength: 1 },
        filters: { type: 'OBJECT', properties: { since: { type: 'STRING', format: 'date-time', nullable: true }, tags: { type: 'ARRAY', items: { type: 'STRING' }, maxItems: 5 } } },
        limit: { type: 'INTEGER', minimum: 0 },
      },
      required: ['query'],
    });
  });
});

describe('reasoning → thinkingConfig', () => {
  const ep = (upstreamModel: string): Endpoint => ({ upstreamModel, maxCompletionTokens: 65536 }) as Endpoint;
  const req = (r: Partial<ChatRequest>): GenerationRequest => {
    const chat = { model: 'm', messages: [], ...r } as ChatRequest;
    return chatToModel(chat, JSON.stringify(chat.messages ?? '').length);
  };

  it('nothing asked: no thinkingConfig (the model default applies)', () => {
    assert.equal(thinkingConfig(req({}), ep('gemini-2.5-flash')), undefined);
    assert.equal(thinkingConfig(req({ reasoning: { exclude: true } }), ep('gemini-2.5-flash')), undefined);
  });

  it('Gemini 2.5: max_tokens is the budget (clamped to the model range); effort uses the ratios', () => {
    assert.deepEqual(thinkingConfig(req({ reasoning: { max_tokens: 128 } }), ep('gemini-2.5-flash')), { includeThoughts: true, thinkingBudget: 128 });
    assert.deepEqual(thinkingConfig(req({ reasoning: { max_tokens: 100000 } }), ep('gemini-2.5-pro')), { includeThoughts: true, thinkingBudget: 32768 });
    assert.deepEqual(thinkingConfig(req({ reasoning: { max_tokens: 100 } }), ep('gemini-2.5-flash-lite')), { includeThoughts: true, thinkingBudget: 512 });
    assert.deepEqual(thinkingConfig(req({ max_tokens: 4000, reasoning: { effort: 'medium' } }), ep('gemini-2.5-flash')), { includeThoughts: true, thinkingBudget: 2000 });
    assert.deepEqual(thinkingConfig(req({ max_tokens: 10000, reasoning_effort: 'high' }), ep('gemini-2.5-pro')), { includeThoughts: true, thinkingBudget: 8000 });
    assert.deepEqual(thinkingConfig(req({ max_tokens: 4000, reasoning: { effort: 'minimal' } }), ep('gemini-2.5-flash')), { includeThoughts: true, thinkingBudget: 1024 });
    assert.deepEqual(thinkingConfig(req({ reasoning: { enabled: true } }), ep('gemini-2.5-flash')), { includeThoughts: true, thinkingBudget: 24576 });
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'high', exclude: true } }), ep('gemini-2.5-flash')), { includeThoughts: false, thinkingBudget: 24576 });
  });

  it('Gemini 2.5: effort none / enabled false turn thinking off where the model allows it', () => {
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'none' } }), ep('gemini-2.5-flash')), { thinkingBudget: 0 });
    assert.deepEqual(thinkingConfig(req({ reasoning: { enabled: false } }), ep('gemini-2.5-flash-lite')), { thinkingBudget: 0 });
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'none' } }), ep('gemini-2.5-pro')), { thinkingBudget: 128 }, '2.5 Pro cannot stop thinking');
  });

  it('Gemini 3: effort → thinkingLevel, snapped to the levels the model has; max_tokens passes as thinkingBudget', () => {
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'high' } }), ep('gemini-3-pro-preview')), { includeThoughts: true, thinkingLevel: 'HIGH' });
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'xhigh' } }), ep('gemini-3-flash-preview')), { includeThoughts: true, thinkingLevel: 'HIGH' });
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'minimal' } }), ep('gemini-3-pro-preview')), { includeThoughts: true, thinkingLevel: 'LOW' });
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'medium' } }), ep('gemini-3-pro-preview')), { includeThoughts: true, thinkingLevel: 'HIGH' });
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'medium' } }), ep('gemini-3.1-pro-preview')), { includeThoughts: true, thinkingLevel: 'MEDIUM' });
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'minimal' } }), ep('gemini-3.1-flash-lite-preview')), { includeThoughts: true, thinkingLevel: 'MINIMAL' });
    assert.deepEqual(thinkingConfig(req({ reasoning: { effort: 'none' } }), ep('gemini-3-flash-preview')), { thinkingLevel: 'MINIMAL' });
    assert.deepEqual(thinkingConfig(req({ reasoning: { max_tokens: 2048 } }), ep('gemini-3-pro-preview')), { includeThoughts: true, thinkingBudget: 2048 });
    assert.deepEqual(thinkingConfig(req({ include_reasoning: true }), ep('gemini-3-pro-preview')), { includeThoughts: true });
  });
});

describe('messages → contents', () => {
  it('tool results name the function of the earlier call; JSON object results stay objects; images ride along', () => {
    const { contents } = toContents(
      toMessages([
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"q":"a"}' } },
            { id: 'c2', type: 'function', function: { name: 'snap', arguments: '' } },
          ],
          reasoning_details: [
            { type: 'reasoning.encrypted', data: 'SIG1', format: 'google-gemini-v1', id: 'c1', index: 0 },
            { type: 'reasoning.encrypted', data: 'OPENAI', format: 'openai-responses-v1', id: 'c2', index: 0 },
            { type: 'reasoning.text', text: 'thinking…', format: 'google-gemini-v1', index: 0 },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: '{"hits":3}' },
        { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'here' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      ]),
      'gemini-2.5-flash',
    );
    assert.deepEqual(contents, [
      { role: 'user', parts: [{ text: 'go' }] },
      {
        role: 'model',
        parts: [{ text: 'Checking.' }, { functionCall: { name: 'lookup', args: { q: 'a' }, id: 'c1' }, thoughtSignature: 'SIG1' }, { functionCall: { name: 'snap', args: {}, id: 'c2' } }],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'lookup', response: { hits: 3 }, id: 'c1' } },
          { functionResponse: { name: 'snap', response: { result: 'here' }, id: 'c2' } },
          { inlineData: { mimeType: 'image/png', data: 'AAAA' } },
        ],
      },
    ]);
  });

  it('Gemini 3: a function call without a signature (other model, dropped details) gets the documented skip value', () => {
    const { contents } = toContents(
      toMessages([
        { role: 'user', content: 'go' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'toolu_2', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'a' },
        { role: 'tool', tool_call_id: 'toolu_2', content: 'b' },
      ]),
      'gemini-3-pro-preview',
    );
    assert.equal(contents[1].parts[0].thoughtSignature, 'skip_thought_signature_validator');
    assert.equal(contents[1].parts[1].thoughtSignature, undefined);
  });

  it('a signature without id attaches to the first text part', () => {
    const { contents } = toContents(
      toMessages([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Hello!', reasoning_details: [{ type: 'reasoning.encrypted', data: 'TXT', format: 'google-gemini-v1', index: 0 }] }]),
      'gemini-3-flash-preview',
    );
    assert.deepEqual(contents[1], { role: 'model', parts: [{ text: 'Hello!', thoughtSignature: 'TXT' }] });
  });
});

describe('decoding Gemini responses', () => {
  it('usage: cached and reasoning tokens, audio prompt tokens', () => {
    const c = parseCompletion({
      candidates: [{ content: { parts: [{ text: 'x' }], role: 'model' }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 1000, cachedContentTokenCount: 800, candidatesTokenCount: 10, thoughtsTokenCount: 90, promptTokensDetails: [{ modality: 'AUDIO', tokenCount: 40 }] },
      responseId: 'r1',
    });
    assert.deepEqual(c.usage, { promptTokens: 1000, completionTokens: 100, cachedTokens: 800, cacheWriteTokens: 0, reasoningTokens: 90, audioPromptTokens: 40 });
    assert.equal(c.upstreamId, 'r1');
  });

  it('cached tokens are priced at the cache-read price', async () => {
    const mock = await startMockUpstream();
    const gw = await startGateway({ providers: { 'google-ai-studio': `${mock.url}/v1beta` } });
    try {
      mock.enqueue({ json: { candidates: [{ content: { parts: [{ text: 'x' }], role: 'model' }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 1000, cachedContentTokenCount: 800, candidatesTokenCount: 10 } } });
      const body: any = await (await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] })).json();
      assert.equal(body.usage.prompt_tokens_details.cached_tokens, 800);
      assert.equal(body.usage.cost_details.upstream_inference_prompt_cost, money(200 * 0.0000003 + 800 * 0.00000003));
      assert.equal(body.usage.cost_details.upstream_inference_completions_cost, money(10 * 0.0000025));
    } finally {
      await gw.close();
      await mock.close();
    }
  });

  it('one stream event with text, a call, the finish and usage yields them in order', () => {
    const d = new GeminiStreamDecoder();
    const chunks = d.decode({
      data: JSON.stringify({
        candidates: [{ content: { parts: [{ text: 'Let me check.' }, { functionCall: { name: 'f', args: { x: 1 } }, thoughtSignature: 'S' }, { functionCall: { name: 'g' } }], role: 'model' }, finishReason: 'STOP' }],
        usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4 },
        responseId: 'abc',
      }),
    })!;
    assert.equal(chunks[0].choice!.content, 'Let me check.');
    const fId = chunks[2].choice!.toolCalls![0].id!;
    assert.deepEqual(chunks[1].choice!.reasoningDetails, [{ type: 'reasoning.encrypted', data: 'S', format: 'google-gemini-v1', id: fId, index: 0 }]);
    assert.equal(chunks[1].choice!.reasoning, null);
    assert.deepEqual({ ...chunks[2].choice!.toolCalls![0], id: 'X' }, { index: 0, id: 'X', type: 'function', name: 'f', arguments: '{"x":1}' });
    assert.deepEqual({ ...chunks[3].choice!.toolCalls![0], id: 'X' }, { index: 1, id: 'X', type: 'function', name: 'g', arguments: '{}' });
    assert.deepEqual(chunks[4], { choice: { reasoning: null, finishReason: 'STOP' } }, 'the model reasoned (signature): reasoning:null on the finish');
    const plain = new GeminiStreamDecoder().decode({ data: '{"candidates":[{"content":{"parts":[{"text":"hi"}]},"finishReason":"STOP"}]}' })!;
    assert.deepEqual(plain.at(-1), { choice: { finishReason: 'STOP' } }, 'no reasoning, no reasoning key');
    assert.equal(chunks[5].usage!.completionTokens, 4);
    assert.equal(chunks[5].upstreamId, 'abc');
    assert.deepEqual(d.decode({ data: '' }), []);
  });

  it('parseError keeps Google\'s body as raw and maps API_KEY_INVALID to 401', () => {
    const a = new GeminiAdapter();
    assert.deepEqual(a.parseError(429, RESOURCE_EXHAUSTED), { status: 429, raw: RESOURCE_EXHAUSTED, retryAfterSeconds: 37 });
    const bad = JSON.stringify({ error: { code: 400, message: 'API key not valid.', status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }] } });
    assert.equal(a.parseError(400, bad).status, 401);
    assert.deepEqual(a.parseError(502, '<html>bad gateway</html>'), { status: 502, raw: '<html>bad gateway</html>' });
  });
});

describe('model features → Gemini request', () => {
  const ep = (upstreamModel: string): Endpoint => ({ upstreamModel, maxCompletionTokens: 65536, supportedParameters: new Set<string>() }) as unknown as Endpoint;
  const gen = (r: Partial<GenerationRequest>): GenerationRequest => ({
    api: 'responses',
    model: 'm',
    models: [],
    provider: null,
    messages: [],
    tools: [],
    stream: false,
    extra: {},
    promptChars: 0,
    parameters: [],
    ...r,
  });
  const body = (r: Partial<GenerationRequest>, model = 'gemini-2.5-flash') => {
    const a = new GeminiAdapter();
    const provider = { entry: { slug: 'google-ai-studio' }, headers: {}, baseUrl: 'https://g', apiKey: 'k' } as never;
    return JSON.parse(a.buildRequest(gen(r), ep(model), provider, false).body);
  };

  it('a custom (free-form) tool is a function of one string; its calls send the text as that argument', () => {
    const b = body({
      tools: [
        { type: 'function', kind: 'custom', name: 'apply_patch', description: 'Apply a patch', format: { type: 'grammar', syntax: 'lark', definition: 'start: /.+/' } },
        { type: 'hosted', name: 'web_search', config: { type: 'web_search' } },
        { type: 'hosted', name: 'code_interpreter', config: { type: 'code_interpreter' } },
      ],
      toolChoice: { name: 'apply_patch' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'fix it' }] },
        { role: 'assistant', content: [{ type: 'tool-call', kind: 'custom', id: 'call_1', name: 'apply_patch', arguments: '*** Begin Patch' }] },
        { role: 'tool', content: [{ type: 'tool-result', kind: 'custom', callId: 'call_1', content: [{ type: 'text', text: 'done' }] }] },
      ],
    });
    const decl = b.tools[0].functionDeclarations[0];
    assert.equal(decl.name, 'apply_patch');
    assert.equal(decl.description, 'Apply a patch');
    assert.deepEqual(Object.keys(decl.parameters.properties), ['input']);
    assert.equal(decl.parameters.properties.input.type, 'STRING');
    assert.match(decl.parameters.properties.input.description, /lark grammar:\nstart: \/\.\+\//);
    assert.deepEqual(decl.parameters.required, ['input']);
    assert.deepEqual(b.tools[1], { google_search: {} }, 'hosted web search is Google Search grounding');
    assert.equal(b.tools.length, 2, 'other hosted tools are left out');
    assert.deepEqual(b.toolConfig, { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['apply_patch'] } });
    assert.deepEqual(b.contents[1].parts[0].functionCall, { name: 'apply_patch', args: { input: '*** Begin Patch' }, id: 'call_1' });
    assert.deepEqual(b.contents[2].parts, [{ functionResponse: { name: 'apply_patch', response: { result: 'done' }, id: 'call_1' } }]);
  });

  it('a tool result with an image and a document: both ride next to the functionResponse; an error result says so', () => {
    const { contents } = toContents(
      [
        { role: 'assistant', content: [{ type: 'tool-call', id: 'c1', name: 'shot', arguments: '{}' }, { type: 'tool-call', id: 'c2', name: 'fail', arguments: '{}' }] },
        {
          role: 'tool',
          content: [
            {
              type: 'tool-result',
              callId: 'c1',
              content: [
                { type: 'text', text: 'screenshot' },
                { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBO' } },
                { type: 'file', filename: 'spec.pdf', source: { kind: 'url', url: 'https://example.com/files/spec' } },
              ],
            },
            { type: 'tool-result', callId: 'c2', isError: true, content: [{ type: 'text', text: 'no such page' }] },
          ],
        },
      ],
      'gemini-2.5-flash',
    );
    assert.deepEqual(contents[1], {
      role: 'user',
      parts: [
        { functionResponse: { name: 'shot', response: { result: 'screenshot' }, id: 'c1' } },
        { functionResponse: { name: 'fail', response: { error: 'no such page' }, id: 'c2' } },
        { inlineData: { mimeType: 'image/png', data: 'iVBO' } },
        { fileData: { fileUri: 'https://example.com/files/spec', mimeType: 'application/pdf' } },
      ],
    });
  });

  it('file parts: inline bytes, URLs, provider file ids and text documents', () => {
    const { contents } = toContents(
      [
        {
          role: 'user',
          content: [
            { type: 'file', filename: 'a.pdf', source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBERi0=' } },
            { type: 'file', filename: 'notes.md', source: { kind: 'url', url: 'https://example.com/notes.md' } },
            { type: 'file', source: { kind: 'file-id', fileId: 'https://generativelanguage.googleapis.com/v1beta/files/abc' } },
            { type: 'file', filename: 'b.txt', source: { kind: 'text', mediaType: 'text/plain', text: 'héllo' } },
            { type: 'file', filename: 'c.csv', source: { kind: 'base64', mediaType: 'application/octet-stream', data: 'YSxi' } },
            { type: 'audio', data: 'UklG', format: 'MP3' },
            { type: 'video', url: 'https://www.youtube.com/watch?v=x' },
          ],
        },
      ],
      'gemini-2.5-flash',
    );
    assert.deepEqual(contents[0].parts, [
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
      { fileData: { fileUri: 'https://example.com/notes.md', mimeType: 'text/md' } },
      { fileData: { fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/abc', mimeType: 'application/pdf' } },
      { inlineData: { mimeType: 'text/plain', data: Buffer.from('héllo').toString('base64') } },
      { inlineData: { mimeType: 'text/csv', data: 'YSxi' } },
      { inlineData: { mimeType: 'audio/mp3', data: 'UklG' } },
      { fileData: { fileUri: 'https://www.youtube.com/watch?v=x' } },
    ]);
  });
});
