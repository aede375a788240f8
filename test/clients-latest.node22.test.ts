/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from recordings and the mock upstream */
/**
 * The newest releases of the clients teams point at Switchyard, which need Node 22 or later:
 * `openai` 7, the Vercel AI SDK 7 with `@ai-sdk/openai` 4, and LangChain 1.6 (`@langchain/openai`
 * ChatOpenAI and `@langchain/openrouter` ChatOpenRouter). The test runner runs this file (named
 * `*.node22.test.ts`) on Node 24, installed from the npm registry, when the machine's own Node is
 * older (scripts/run-tests.mjs).
 *
 * LangChain joins the chunks of a stream by concatenating their strings: a final usage chunk that
 * repeats `finish_reason` (as OpenRouter's 2026 streams do) made it report "stopstop" and double
 * the usage. Switchyard's usage chunk carries `finish_reason: null` (docs/COMPATIBILITY.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai-v7';
import { generateText, streamText } from 'ai-v7';
import { createOpenAI } from 'ai-sdk-openai-v4';
import { ChatOpenAI } from '@langchain/openai';
import { ChatOpenRouter } from '@langchain/openrouter';
import { concat } from '@langchain/core/utils/stream';
import type { AIMessageChunk } from '@langchain/core/messages';
import { loadCassette, parseSse, type Interaction } from './support/cassettes.js';
import { replyFromRecording, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { startGateway, type Gateway } from './support/gateway.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const GROQ_MODEL = 'moonshotai/kimi-k2-instruct-0905';
const CASSETTES = 'openrouter/TestOpenRouterCommon';
const simple = loadCassette(`${CASSETTES}/simple_kimi-k2_groq.yaml`)[1]!; // [0] is a 429
const simpleStreaming = loadCassette(`${CASSETTES}/simple_streaming_kimi-k2_groq.yaml`).at(-1)!;
const toolStreaming = loadCassette(`${CASSETTES}/tool_streaming_kimi-k2_groq.yaml`)[0]!;

const reply = (it: Interaction) => replyFromRecording(it.response, { upstreamModel: GROQ_MODEL });
const jsonOf = (it: Interaction): any => JSON.parse(it.response.body);

/** Text, usage and finish reason a recorded stream carries. */
function streamed(it: Interaction): { text: string; usage: any; finish: string | null; toolNames: string[] } {
  let text = '';
  let usage: any = null;
  let finish: string | null = null;
  const toolNames: string[] = [];
  for (const ev of parseSse(it.response.body).events) {
    if (ev === '[DONE]') continue;
    const j = JSON.parse(ev);
    if (j.usage) usage = j.usage;
    const c = j.choices?.[0];
    if (typeof c?.delta?.content === 'string') text += c.delta.content;
    for (const tc of c?.delta?.tool_calls ?? []) if (tc.function?.name) toolNames.push(tc.function.name);
    if (c?.finish_reason) finish = c.finish_reason;
  }
  return { text, usage, finish, toolNames };
}

let groq: MockUpstream;
let gw: Gateway;

before(async () => {
  groq = await startMockUpstream();
  gw = await startGateway({ providers: { groq: groq.baseUrl } });
});
after(async () => {
  await gw?.close();
  await groq?.close();
});

const lastUpstream = () => groq.requests.at(-1)!.json;

describe('openai 7', () => {
  const client = () => new OpenAI({ apiKey: 'sk-test', baseURL: gw.baseUrl, maxRetries: 0 });

  it('chat.completions.create: the recorded answer and usage', async () => {
    groq.enqueue(reply(simple));
    const r = await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say hi in Portuguese' }] });
    const rec = jsonOf(simple);
    assert.equal(r.choices[0]!.message.content, rec.choices[0].message.content);
    assert.equal(r.choices[0]!.finish_reason, 'stop');
    assert.equal(r.usage?.prompt_tokens, rec.usage.prompt_tokens);
    assert.equal(r.model, MODEL);
    assert.equal(lastUpstream().model, GROQ_MODEL);
  });

  it('chat.completions.stream with tools: the stream helper assembles the recorded tool call', async () => {
    groq.enqueue(reply(toolStreaming));
    const stream = client().chat.completions.stream({
      model: MODEL,
      messages: [{ role: 'user', content: "What's the weather in Florence, Italy?" }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } }],
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    const rec = streamed(toolStreaming);
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
    assert.deepEqual(
      final.choices[0]!.message.tool_calls?.map((t: any) => t.function.name),
      rec.toolNames,
    );
    assert.equal(final.usage?.completion_tokens, rec.usage.completion_tokens);
  });

  it('responses.create (streamed) through the Responses door, served by a chat upstream', async () => {
    groq.enqueue(reply(simpleStreaming));
    const stream = client().responses.stream({ model: MODEL, input: 'Say hi in Portuguese', store: false });
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    assert.equal(final.output_text, streamed(simpleStreaming).text);
    assert.equal(final.usage?.output_tokens, streamed(simpleStreaming).usage.completion_tokens);
  });
});

describe('Vercel AI SDK 7 with @ai-sdk/openai 4', () => {
  const provider = () => createOpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-test' });

  it('generateText on chat(): text, usage, finish reason', async () => {
    groq.enqueue(reply(simple));
    const r = await generateText({ model: provider().chat(MODEL), prompt: 'Say hi in Portuguese', maxRetries: 0 });
    const rec = jsonOf(simple);
    assert.equal(r.text, rec.choices[0].message.content);
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, rec.usage.prompt_tokens);
    assert.equal(r.usage.outputTokens, rec.usage.completion_tokens);
  });

  it('streamText on the default (Responses) model: deltas join into the recorded text', async () => {
    groq.enqueue(reply(simpleStreaming));
    const errors: unknown[] = [];
    const r = streamText({ model: provider()(MODEL), prompt: 'Say hi in Portuguese', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    const text = await r.text;
    assert.deepEqual(errors, []);
    const rec = streamed(simpleStreaming);
    assert.equal(text, rec.text);
    assert.equal(await r.finishReason, 'stop');
    assert.equal((await r.usage).outputTokens, rec.usage.completion_tokens);
  });
});

/** Joins a LangChain stream as LangChain's own `concat` does (the way its agents and callbacks join chunks). */
async function joined(stream: AsyncIterable<AIMessageChunk>): Promise<AIMessageChunk> {
  let out: AIMessageChunk | undefined;
  for await (const chunk of stream) out = out === undefined ? chunk : concat(out, chunk);
  assert.ok(out, 'the stream yielded chunks');
  return out;
}

describe('LangChain 1.6', () => {
  it('ChatOpenAI stream: finish_reason "stop" (not "stopstop") and the usage counted once', async () => {
    groq.enqueue(reply(simpleStreaming));
    const llm = new ChatOpenAI({ model: MODEL, apiKey: 'sk-test', configuration: { baseURL: gw.baseUrl }, streamUsage: true, maxRetries: 0 });
    const msg = await joined(await llm.stream('Say hi in Portuguese'));
    const rec = streamed(simpleStreaming);
    assert.equal(msg.content, rec.text);
    assert.equal(msg.response_metadata.finish_reason, 'stop');
    assert.equal(msg.usage_metadata?.input_tokens, rec.usage.prompt_tokens);
    assert.equal(msg.usage_metadata?.output_tokens, rec.usage.completion_tokens);
  });

  it('ChatOpenAI stream with tools: finish_reason "tool_calls" and the tool call assembled', async () => {
    groq.enqueue(reply(toolStreaming));
    const llm = new ChatOpenAI({ model: MODEL, apiKey: 'sk-test', configuration: { baseURL: gw.baseUrl }, streamUsage: true, maxRetries: 0 }).bindTools([
      { type: 'function', function: { name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } },
    ]);
    const msg = await joined(await llm.stream("What's the weather in Florence, Italy?"));
    assert.equal(msg.response_metadata.finish_reason, 'tool_calls');
    assert.deepEqual(
      msg.tool_calls?.map((t) => t.name),
      streamed(toolStreaming).toolNames,
    );
    assert.equal(msg.usage_metadata?.output_tokens, streamed(toolStreaming).usage.completion_tokens);
  });

  it('ChatOpenRouter (@langchain/openrouter) stream: finish reason and usage', async () => {
    groq.enqueue(reply(simpleStreaming));
    const llm = new ChatOpenRouter({ model: MODEL, apiKey: 'sk-test', baseURL: gw.baseUrl });
    const msg = await joined(await llm.stream('Say hi in Portuguese'));
    const rec = streamed(simpleStreaming);
    assert.equal(msg.content, rec.text);
    assert.equal(msg.response_metadata.finish_reason, 'stop');
    assert.equal(msg.usage_metadata?.input_tokens, rec.usage.prompt_tokens);
    assert.equal(msg.usage_metadata?.output_tokens, rec.usage.completion_tokens);
  });

  it('ChatOpenRouter invoke: the recorded answer', async () => {
    groq.enqueue(reply(simple));
    const llm = new ChatOpenRouter({ model: MODEL, apiKey: 'sk-test', baseURL: gw.baseUrl });
    const msg = await llm.invoke('Say hi in Portuguese');
    assert.equal(msg.content, jsonOf(simple).choices[0].message.content);
    assert.equal(msg.usage_metadata?.total_tokens, jsonOf(simple).usage.total_tokens);
  });
});
