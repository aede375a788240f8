/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from recordings and the mock upstreams */
/**
 * Acceptance: the Vercel AI SDK (`ai` 6, `@ai-sdk/anthropic`, `@ai-sdk/openai`), unchanged but for
 * the base URL (<gateway>/api/v1), against Switchyard, every provider mocked with recorded traffic
 * (test/fixtures/cassettes/upstream):
 *
 *  - `createAnthropic({baseURL})`: the Messages front door, served by Anthropic (passthrough) and by
 *    OpenAI-compatible upstreams (Groq, Z.AI; translated);
 *  - `createOpenAI({baseURL}).responses(model)`: the Responses front door. The provider leaves `store`
 *    on, so from the second step of a tool loop on it sends `item_reference` items for the earlier
 *    output (assistant text, reasoning) that the gateway must resolve from its stored responses.
 *
 * generateText and streamText, multi-step tool loops (`stopWhen: stepCountIs(3)`, a local `execute`),
 * reasoning whose signature must reach the upstream again on the next step.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, jsonSchema, stepCountIs, streamText, tool, type ToolSet } from 'ai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
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
  upstreamRecording,
} from './support/recorded-wire.js';

const SONNET_4 = 'claude-sonnet-4-20250514';
const SONNET_4_SLUG = 'anthropic/claude-sonnet-4';
const KIMI = 'moonshotai/kimi-k2-0905';
const GLM = 'z-ai/glm-4.6';
const GEMINI = 'google/gemini-2.5-flash';

const ANTHROPIC = 'TestAnthropicCommon/claude-sonnet-4';
const ANTHROPIC_THINKING = 'TestAnthropicThinking/claude-sonnet-4';
const GROQ = 'TestGroqCommon/groq-kimi-k2-0905';
const ZAI = 'TestZAICommon/zai-glm-4.6';
const GOOGLE_THINKING = 'TestGoogleThinking/gemini-2.5-flash';

const SYSTEM = 'You are a helpful assistant';

/** The recorded `weather` tool, answered locally with the recorded result. */
function weatherTools(calls: unknown[] = []): ToolSet {
  return {
    weather: tool({
      description: 'Get weather information for a location',
      inputSchema: jsonSchema<{ location: string }>({ type: 'object', properties: { location: { type: 'string', description: 'the city' } }, required: ['location'] }),
      execute: async (input) => {
        calls.push(input);
        return '40 C';
      },
    }),
  };
}

// ------------------------------------------------------------------------------------------------
// environment
// ------------------------------------------------------------------------------------------------

type Slug = 'groq' | 'zai' | 'anthropic' | 'google';

interface Sent {
  url: string;
  body: any;
}

interface Env {
  mocks: Record<Slug, MockUpstream>;
  gw: Gateway;
  /** What the AI SDK sent to the gateway, in order. */
  sent: Sent[];
  anthropic: ReturnType<typeof createAnthropic>;
  openai: ReturnType<typeof createOpenAI>;
}

async function startEnv(): Promise<Env> {
  const mocks = { groq: await startMockUpstream(), zai: await startMockUpstream(), anthropic: await startMockUpstream(), google: await startMockUpstream() };
  const gw = await startGateway({
    providers: { groq: mocks.groq.baseUrl, 'z-ai': mocks.zai.baseUrl, anthropic: mocks.anthropic.baseUrl, 'google-ai-studio': `${mocks.google.url}/v1beta` },
  });
  const sent: Sent[] = [];
  // The SDKs' own fetch, observed: what the client sent is part of what is under test (item_reference).
  const observed: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    sent.push({ url, body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined });
    return fetch(input, init);
  };
  return {
    mocks,
    gw,
    sent,
    anthropic: createAnthropic({ baseURL: gw.baseUrl, apiKey: 'sk-ant-test', fetch: observed }),
    openai: createOpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-test', fetch: observed }),
  };
}

async function stopEnv(env: Env | undefined): Promise<void> {
  if (!env) return;
  await env.gw.close();
  for (const m of Object.values(env.mocks)) await m.close();
}

const last = (mock: MockUpstream) => mock.requests.at(-1)!;
const lastBodies = (mock: MockUpstream, n: number) => mock.requests.slice(-n).map((r) => r.json);

/** A chat-completions conversation without tool-call ids, for comparison with a recording. */
function chatShape(messages: any[]): any[] {
  return messages.map((m) => {
    const out: any = { role: m.role };
    const content = typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map((p: any) => p.text ?? '').join('') : undefined;
    if (content) out.content = content;
    if (m.tool_calls) out.tool_calls = m.tool_calls.map((t: any) => ({ name: t.function.name, arguments: JSON.parse(t.function.arguments) }));
    return out;
  });
}

/** Every upstream tool call answered by the tool message after it (ids consistent within the request). */
function assertToolIdsConsistent(messages: any[]): void {
  const calls = messages.flatMap((m) => (m.tool_calls ?? []).map((t: any) => t.id));
  const results = messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id);
  assert.deepEqual(results, calls, 'each tool message answers a tool call of the assistant turn, in order');
}

// ------------------------------------------------------------------------------------------------

describe('AI SDK @ai-sdk/anthropic → Switchyard Messages (Anthropic passthrough; Groq and Z.AI translated)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => stopEnv(env));
  beforeEach(() => freshHealth(env.gw));

  it('generateText through Anthropic: the recorded text, finish reason, usage with cache fields, the upstream message id', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple`, 1);
    env.mocks.anthropic.enqueue(replay(rec));
    const want = anthropicTurnOfBody(responseJson(rec));

    const r = await generateText({ model: env.anthropic(SONNET_4), system: SYSTEM, prompt: 'Say hi in Portuguese', maxOutputTokens: 4000, maxRetries: 0 });

    assert.equal(env.sent.at(-1)!.url, `${env.gw.baseUrl}/messages`);
    const sent = last(env.mocks.anthropic).json;
    const recorded = requestJson(rec);
    assert.equal(sent.model, SONNET_4);
    assert.deepEqual(sent.messages, recorded.messages, 'the recorded Anthropic messages');
    assert.deepEqual(sent.system, recorded.system);
    assert.equal(r.text, want.text);
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, want.usage.input_tokens + want.usage.cache_read_input_tokens + want.usage.cache_creation_input_tokens);
    assert.equal(r.usage.outputTokens, want.usage.output_tokens);
    assert.equal(r.response.id, want.id, "passthrough: Anthropic's own msg_ id");
    assert.equal((r.providerMetadata?.anthropic as any)?.cacheCreationInputTokens, want.usage.cache_creation_input_tokens);
  });

  it('streamText through Anthropic: text deltas join into the recorded text; usage and finish reason', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple_streaming`, 1);
    env.mocks.anthropic.enqueue(replay(rec));
    const want = anthropicTurnOfStream(rec.response.body);
    const errors: unknown[] = [];
    const r = streamText({ model: env.anthropic(SONNET_4), system: SYSTEM, prompt: 'Say hi in Portuguese', maxOutputTokens: 4000, maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = '';
    for await (const t of r.textStream) text += t;
    assert.deepEqual(errors, []);
    assert.equal(text, want.text);
    assert.equal(await r.finishReason, 'stop');
    const usage = await r.usage;
    assert.equal(usage.outputTokens, want.usage.output_tokens);
    assert.equal(last(env.mocks.anthropic).json.stream, true);
  });

  it('generateText tool loop through Anthropic (stopWhen: stepCountIs(3)): tool_use, local execute, tool_result, final text', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC}/tool`, 2);
    env.mocks.anthropic.enqueue(replay(turn1), replay(turn2));
    const want1 = anthropicTurnOfBody(responseJson(turn1));
    const calls: unknown[] = [];

    const r = await generateText({
      model: env.anthropic(SONNET_4),
      system: SYSTEM,
      prompt: "What's the weather in Florence,Italy?",
      tools: weatherTools(calls),
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4000,
      maxRetries: 0,
    });

    assert.equal(r.steps.length, 2, 'tool step + answer step');
    assert.deepEqual(calls, [want1.toolUses[0].input], 'the tool ran once with the recorded input');
    assert.equal(r.steps[0].toolCalls[0].toolCallId, want1.toolUses[0].id);
    assert.equal(r.steps[0].finishReason, 'tool-calls');
    const [, second] = lastBodies(env.mocks.anthropic, 2);
    const assistant = second.messages[1];
    assert.equal(assistant.role, 'assistant');
    const use = assistant.content.find((b: any) => b.type === 'tool_use');
    assert.deepEqual([use.id, use.name, use.input], [want1.toolUses[0].id, 'weather', want1.toolUses[0].input]);
    const result = second.messages[2].content.find((b: any) => b.type === 'tool_result');
    assert.equal(result.tool_use_id, want1.toolUses[0].id);
    assert.equal(r.text, anthropicTurnOfBody(responseJson(turn2)).text);
    assert.equal(r.finishReason, 'stop');
  });

  it('generateText tool loop with thinking through Anthropic: the signed thinking block goes back on step 2', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC_THINKING}/thinking`, 2);
    env.mocks.anthropic.enqueue(replay(turn1), replay(turn2));
    const want1 = anthropicTurnOfBody(responseJson(turn1));

    const r = await generateText({
      model: env.anthropic(SONNET_4),
      system: SYSTEM,
      prompt: "What's the weather in Florence, Italy?",
      tools: weatherTools(),
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4096,
      maxRetries: 0,
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 4000 } } },
    });

    const [first, second] = lastBodies(env.mocks.anthropic, 2);
    assert.deepEqual(first.thinking, { type: 'enabled', budget_tokens: 4000 });
    assert.equal(r.steps[0].reasoningText, want1.thinking[0].thinking);
    const thinking = second.messages[1].content.find((b: any) => b.type === 'thinking');
    assert.ok(thinking, `step 2 sends the thinking block back: ${JSON.stringify(second.messages[1])}`);
    assert.equal(thinking.signature, want1.thinking[0].signature, 'with its signature, whole');
    assert.equal(thinking.thinking, want1.thinking[0].thinking);
    assert.equal(r.text, anthropicTurnOfBody(responseJson(turn2)).text);
  });

  it('streamText tool loop with thinking through Anthropic: signature_delta reaches the SDK and goes back on step 2', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC_THINKING}/thinking-streaming`, 2);
    env.mocks.anthropic.enqueue(replay(turn1), replay(turn2));
    const want1 = anthropicTurnOfStream(turn1.response.body);
    const errors: unknown[] = [];
    const r = streamText({
      model: env.anthropic(SONNET_4),
      system: SYSTEM,
      prompt: "What's the weather in Florence, Italy?",
      tools: weatherTools(),
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4096,
      maxRetries: 0,
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 4000 } } },
      onError: ({ error }) => void errors.push(error),
    });
    const text = await r.text;
    assert.deepEqual(errors, []);
    assert.equal((await r.steps).length, 2);
    const [, second] = lastBodies(env.mocks.anthropic, 2);
    const thinking = second.messages[1].content.find((b: any) => b.type === 'thinking');
    assert.equal(thinking?.signature, want1.thinking[0].signature, 'the streamed signature went back whole');
    assert.equal(text, anthropicTurnOfStream(turn2.response.body).text);
  });

  it('generateText through Groq (translated): the recorded text and usage; the model id the SDK asked for', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    env.mocks.groq.enqueue(replay(rec));
    const want = chatTurnOf(rec);
    const r = await generateText({ model: env.anthropic(KIMI), system: SYSTEM, prompt: 'Say hi in Portuguese', maxOutputTokens: 4000, maxRetries: 0 });
    assert.deepEqual(last(env.mocks.groq).json.messages, requestJson(rec).messages);
    assert.equal(r.text, want.text);
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, want.usage.prompt_tokens);
    assert.equal(r.usage.outputTokens, want.usage.completion_tokens);
    assert.equal(r.response.modelId, KIMI);
  });

  it('streamText tool loop through Groq (translated): text + tool call, execute, final text; consistent tool ids upstream', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool_streaming`, 2);
    env.mocks.groq.enqueue(replay(turn1), replay(turn2));
    const want1 = chatTurnOf(turn1);
    const calls: unknown[] = [];
    const errors: unknown[] = [];
    const r = streamText({
      model: env.anthropic(KIMI),
      system: SYSTEM,
      prompt: "What's the weather in Florence,Italy?",
      tools: weatherTools(calls),
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4000,
      maxRetries: 0,
      onError: ({ error }) => void errors.push(error),
    });
    const text = await r.text;
    assert.deepEqual(errors, []);
    assert.deepEqual(calls, [JSON.parse(want1.toolCalls[0].arguments)]);
    const steps = await r.steps;
    assert.equal(steps.length, 2);
    assert.equal(steps[0].text, want1.text);
    const [, second] = lastBodies(env.mocks.groq, 2);
    assert.deepEqual(chatShape(second.messages), chatShape(requestJson(turn2).messages));
    assertToolIdsConsistent(second.messages);
    assert.equal(text, chatTurnOf(turn2).text);
  });

  it('generateText tool loop with reasoning through Z.AI (translated): reasoning text on step 1, the loop completes', async () => {
    const [turn1, turn2] = upstreamRecording(`${ZAI}/tool`, 2);
    env.mocks.zai.enqueue(replay(turn1), replay(turn2));
    const want1 = chatTurnOf(turn1);
    const r = await generateText({
      model: env.anthropic(GLM),
      system: SYSTEM,
      prompt: "What's the weather in Florence,Italy?",
      tools: weatherTools(),
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4000,
      maxRetries: 0,
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 2048 } } },
    });
    assert.equal(r.steps[0].reasoningText, want1.reasoning);
    const [, second] = lastBodies(env.mocks.zai, 2);
    assert.deepEqual(chatShape(second.messages), chatShape(requestJson(turn2).messages));
    assertToolIdsConsistent(second.messages);
    assert.equal(r.text, chatTurnOf(turn2).text);
  });
});

// ------------------------------------------------------------------------------------------------

describe('AI SDK @ai-sdk/openai responses() → Switchyard Responses (store on, item_reference on follow-up steps)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => stopEnv(env));
  beforeEach(() => freshHealth(env.gw));

  /** The Responses request bodies the SDK sent for the last `n` steps. */
  const sentResponses = (n: number) => {
    const bodies = env.sent.slice(-n);
    for (const b of bodies) assert.equal(b.url, `${env.gw.baseUrl}/responses`, 'the Responses API');
    return bodies.map((b) => b.body);
  };
  const references = (body: any): string[] => body.input.filter((i: any) => i.type === 'item_reference').map((i: any) => i.id);

  it('generateText through Groq: POST /responses; the recorded text and usage; the response id in providerMetadata', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    env.mocks.groq.enqueue(replay(rec));
    const want = chatTurnOf(rec);
    const r = await generateText({ model: env.openai.responses(KIMI), system: SYSTEM, prompt: 'Say hi in Portuguese', maxOutputTokens: 4000, maxRetries: 0 });
    const [body] = sentResponses(1);
    assert.equal(body.store, undefined, 'the SDK leaves store to the server default (true)');
    assert.deepEqual(last(env.mocks.groq).json.messages, requestJson(rec).messages);
    assert.equal(r.text, want.text);
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, want.usage.prompt_tokens);
    assert.equal(r.usage.outputTokens, want.usage.completion_tokens);
    const id = (r.providerMetadata?.openai as any)?.responseId;
    assert.match(String(id), /^resp_/);
    const stored = await fetch(`${env.gw.baseUrl}/responses/${id}`);
    assert.equal(stored.status, 200, 'stored by default');
  });

  it('streamText through Groq: deltas join into the recorded text; usage; finish reason', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple_streaming`, 1);
    env.mocks.groq.enqueue(replay(rec));
    const want = chatTurnOf(rec);
    const errors: unknown[] = [];
    const r = streamText({ model: env.openai.responses(KIMI), system: SYSTEM, prompt: 'Say hi in Portuguese', maxOutputTokens: 4000, maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = '';
    for await (const t of r.textStream) text += t;
    assert.deepEqual(errors, []);
    assert.equal(text, want.text);
    assert.equal(await r.finishReason, 'stop');
    assert.equal((await r.usage).outputTokens, want.usage.completion_tokens);
  });

  it('streamText tool loop through Groq: step 2 sends an item_reference for the step-1 text; the provider gets the recorded conversation', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool_streaming`, 2);
    env.mocks.groq.enqueue(replay(turn1), replay(turn2));
    const want1 = chatTurnOf(turn1);
    const calls: unknown[] = [];
    const errors: unknown[] = [];
    const r = streamText({
      model: env.openai.responses(KIMI),
      system: SYSTEM,
      prompt: "What's the weather in Florence,Italy?",
      tools: weatherTools(calls),
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4000,
      maxRetries: 0,
      onError: ({ error }) => void errors.push(error),
    });
    const text = await r.text;
    assert.deepEqual(errors, []);
    assert.deepEqual(calls, [JSON.parse(want1.toolCalls[0].arguments)]);
    const [step1, step2] = sentResponses(2);
    assert.equal(references(step1).length, 0);
    const refs = references(step2);
    assert.equal(refs.length, 1, `step 2 refers to the step-1 message by id: ${JSON.stringify(step2.input)}`);
    assert.match(refs[0], /^msg_/);
    assert.ok(step2.input.some((i: any) => i.type === 'function_call_output' && i.output === '40 C'));

    const [, second] = lastBodies(env.mocks.groq, 2);
    assert.deepEqual(chatShape(second.messages), chatShape(requestJson(turn2).messages), 'the item_reference resolved to the assistant text');
    assertToolIdsConsistent(second.messages);
    assert.equal(text, chatTurnOf(turn2).text);
  });

  it('generateText tool loop through Anthropic: the step-1 text (item_reference) and the function_call become one assistant turn [text, tool_use]', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC}/tool`, 2);
    env.mocks.anthropic.enqueue(replay(turn1), replay(turn2));
    const want1 = anthropicTurnOfBody(responseJson(turn1));
    const r = await generateText({
      model: env.openai.responses(SONNET_4_SLUG),
      system: SYSTEM,
      prompt: "What's the weather in Florence,Italy?",
      tools: weatherTools(),
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4000,
      maxRetries: 0,
    });
    const [, step2] = sentResponses(2);
    assert.equal(references(step2).length, 1, `step 2 refers to the step-1 message: ${JSON.stringify(step2.input)}`);
    const [, second] = lastBodies(env.mocks.anthropic, 2);
    const recorded2 = requestJson(turn2);
    assert.deepEqual(
      second.messages.map((m: any) => [m.role, (typeof m.content === 'string' ? [{ type: 'text' }] : m.content).map((b: any) => b.type)]),
      recorded2.messages.map((m: any) => [m.role, m.content.map((b: any) => b.type)]),
      `Anthropic gets user, assistant [text, tool_use], user [tool_result] as recorded; got ${JSON.stringify(second.messages)}`,
    );
    const assistant = second.messages[1].content;
    assert.equal(assistant[0].text, want1.text);
    assert.deepEqual([assistant[1].id, assistant[1].input], [want1.toolUses[0].id, want1.toolUses[0].input]);
    assert.equal(second.messages[2].content[0].tool_use_id, want1.toolUses[0].id);
    assert.equal(r.text, anthropicTurnOfBody(responseJson(turn2)).text);
  });

  it('generateText with two parallel tool calls through Groq: both run, both results go back, the provider gets the recorded turn 2', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/multi_tool`, 2);
    env.mocks.groq.enqueue(replay(turn1), replay(turn2));
    const req1 = requestJson(turn1);
    const ran: string[] = [];
    const numberTool = (name: string, description: string, f: (a: number, b: number) => number) =>
      tool({
        description,
        inputSchema: jsonSchema<{ a: number; b: number }>({
          type: 'object',
          properties: { a: { type: 'integer', description: 'first number' }, b: { type: 'integer', description: 'second number' } },
          required: ['a', 'b'],
        }),
        execute: async ({ a, b }) => {
          ran.push(name);
          return String(f(a, b));
        },
      });
    const r = await generateText({
      model: env.openai.responses(KIMI),
      system: req1.messages[0].content,
      prompt: req1.messages[1].content,
      tools: { add: numberTool('add', 'Add two numbers', (a, b) => a + b), multiply: numberTool('multiply', 'Multiply two numbers', (a, b) => a * b) },
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4000,
      maxRetries: 0,
    });
    assert.deepEqual(ran.sort(), ['add', 'multiply']);
    const [, step2] = sentResponses(2);
    assert.deepEqual(
      step2.input.filter((i: any) => i.type === 'function_call_output').map((i: any) => i.output),
      ['5', '6'],
    );
    const [, second] = lastBodies(env.mocks.groq, 2);
    assert.deepEqual(chatShape(second.messages), chatShape(requestJson(turn2).messages));
    assertToolIdsConsistent(second.messages);
    assert.equal(r.text, chatTurnOf(turn2).text);
  });

  it('generateText tool loop with reasoning through Z.AI: step 2 refers to the reasoning item; the loop completes', async () => {
    const [turn1, turn2] = upstreamRecording(`${ZAI}/tool`, 2);
    env.mocks.zai.enqueue(replay(turn1), replay(turn2));
    const want1 = chatTurnOf(turn1);
    const r = await generateText({
      model: env.openai.responses(GLM),
      system: SYSTEM,
      prompt: "What's the weather in Florence,Italy?",
      tools: weatherTools(),
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4000,
      maxRetries: 0,
      providerOptions: { openai: { reasoningSummary: 'auto', forceReasoning: true } },
    });
    assert.equal(r.steps[0].reasoningText, want1.reasoning);
    const [, step2] = sentResponses(2);
    const refs = references(step2);
    assert.ok(
      refs.some((id) => id.startsWith('rs_')),
      `step 2 refers to the reasoning item: ${JSON.stringify(step2.input)}`,
    );
    const [, second] = lastBodies(env.mocks.zai, 2);
    assert.deepEqual(chatShape(second.messages), chatShape(requestJson(turn2).messages));
    assertToolIdsConsistent(second.messages);
    assert.equal(r.text, chatTurnOf(turn2).text);
  });

  it('generateText tool loop with thinking through Anthropic: the reasoning item_reference brings the signed thinking block back to Anthropic', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC_THINKING}/thinking`, 2);
    env.mocks.anthropic.enqueue(replay(turn1), replay(turn2));
    const want1 = anthropicTurnOfBody(responseJson(turn1));
    const r = await generateText({
      model: env.openai.responses(SONNET_4_SLUG),
      system: SYSTEM,
      prompt: "What's the weather in Florence, Italy?",
      tools: weatherTools(),
      stopWhen: stepCountIs(3),
      maxOutputTokens: 4096,
      maxRetries: 0,
      providerOptions: { openai: { reasoningEffort: 'medium', reasoningSummary: 'auto', forceReasoning: true } },
    });
    const [first, second] = lastBodies(env.mocks.anthropic, 2);
    assert.equal(first.thinking?.type, 'enabled', `thinking asked of Anthropic: ${JSON.stringify(first.thinking)}`);
    assert.equal(r.steps[0].reasoningText, want1.thinking[0].thinking);
    const [, step2] = sentResponses(2);
    assert.ok(
      references(step2).some((id) => id.startsWith('rs_')),
      `step 2 refers to the reasoning item: ${JSON.stringify(step2.input)}`,
    );
    const thinking = second.messages[1].content.find((b: any) => b.type === 'thinking');
    assert.ok(thinking, `Anthropic gets the thinking block back: ${JSON.stringify(second.messages[1])}`);
    assert.equal(thinking.signature, want1.thinking[0].signature);
    const use = second.messages[1].content.find((b: any) => b.type === 'tool_use');
    assert.equal(use?.id, want1.toolUses[0].id);
    assert.equal(r.text, anthropicTurnOfBody(responseJson(turn2)).text);
  });

  it('streamText tool loop with thoughts through Gemini: the thoughtSignature comes back to Gemini on step 2', async () => {
    const [turn1, turn2] = upstreamRecording(`${GOOGLE_THINKING}/thinking-streaming`, 2);
    env.mocks.google.enqueue(replay(turn1), replay(turn2));
    const want1 = geminiTurnOf(turn1);
    const signature = (turn1.response.body.match(/"thoughtSignature": ?"([^"]+)"/) ?? [])[1];
    assert.ok(signature, 'the recording has a thoughtSignature');
    const errors: unknown[] = [];
    const r = streamText({
      model: env.openai.responses(GEMINI),
      system: SYSTEM,
      prompt: "What's the weather in Florence, Italy?",
      tools: weatherTools(),
      stopWhen: stepCountIs(3),
      maxRetries: 0,
      providerOptions: { openai: { reasoningEffort: 'low', reasoningSummary: 'auto', forceReasoning: true } },
      onError: ({ error }) => void errors.push(error),
    });
    const text = await r.text;
    assert.deepEqual(errors, []);
    const steps = await r.steps;
    assert.equal(steps.length, 2);
    assert.equal(steps[0].reasoningText ?? '', want1.thoughts);
    const [, second] = lastBodies(env.mocks.google, 2);
    const model = second.contents.find((c: any) => c.role === 'model');
    const call = model?.parts.find((p: any) => p.functionCall);
    assert.equal(call?.thoughtSignature, signature, `Gemini gets its signature back: ${JSON.stringify(model)}`);
    assert.equal(text, geminiTurnOf(turn2).text);
  });
});
