/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from recordings and the mock upstream */
/**
 * Real clients against a real Switchyard: the official `openai` SDK and OpenRouter's own
 * `@openrouter/sdk`, each used unchanged except for its base URL. The OpenRouter SDK validates every
 * response with zod, so it is a strict judge of Switchyard's wire shapes; the OpenAI SDK's stream
 * helper is a strict judge of streamed tool calls (it refuses a tool call without id/type/name).
 *
 * Mock upstreams replay the provider side of OpenRouter recordings (test/fixtures/cassettes); every
 * assertion compares what the SDK hands to the application with what the recording says.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError, AuthenticationError, BadRequestError, InternalServerError, RateLimitError } from 'openai';
import { OpenRouter } from '@openrouter/sdk';
import {
  BadGatewayResponseError,
  BadRequestResponseError,
  OpenRouterError,
  TooManyRequestsResponseError,
  UnauthorizedResponseError,
} from '@openrouter/sdk/models/errors';
import type { ChatFunctionTool, ChatMessages, ChatResult, ChatStreamChunk } from '@openrouter/sdk/models';
import { loadCassette, parseSse, type Interaction } from './support/cassettes.js';
import { replyFromRecording, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { rngPicking, startGateway, type Gateway } from './support/gateway.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const GROQ_MODEL = 'moonshotai/kimi-k2-instruct-0905';
const API_KEY = 'sk-test-123456';
const SLUGS = ['groq', 'wandb', 'baseten'] as const;
type Slug = (typeof SLUGS)[number];

// ------------------------------------------------------------------------------------------------
// recordings
// ------------------------------------------------------------------------------------------------

const CASSETTES = 'openrouter/TestOpenRouterCommon';
const simple = loadCassette(`${CASSETTES}/simple_kimi-k2_groq.yaml`); // [0] Groq 429, [1] 200
const simpleStreaming = loadCassette(`${CASSETTES}/simple_streaming_kimi-k2_groq.yaml`);
const tool = loadCassette(`${CASSETTES}/tool_kimi-k2_groq.yaml`); // two turns
const toolStreaming = loadCassette(`${CASSETTES}/tool_streaming_kimi-k2_groq.yaml`); // two turns
const wandb429 = loadCassette('seeds/simple_streaming_only_wandb_429_then_ok.yaml');
/** BaseTen answers with `"system_fingerprint":null` on every chunk (recorded through OpenRouter in 2025). */
const baseten = loadCassette(`${CASSETTES}/simple_streaming_kimi-k2_baseten.yaml`);

const requestOf = (it: Interaction): any => JSON.parse(it.request.body);
const jsonOf = (it: Interaction): any => JSON.parse(it.response.body);

/** What a recorded stream delivers to a client: the text, the tool calls (joined by index), the usage. */
function recordedStream(it: Interaction): { text: string; toolCalls: { id: string; name: string; arguments: string }[]; usage: any; finish: string | null } {
  let text = '';
  let usage: any = null;
  let finish: string | null = null;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const ev of parseSse(it.response.body).events) {
    if (ev === '[DONE]') continue;
    const j = JSON.parse(ev);
    if (j.usage) usage = j.usage;
    const c = j.choices?.[0];
    if (!c) continue;
    if (typeof c.delta?.content === 'string') text += c.delta.content;
    for (const tc of c.delta?.tool_calls ?? []) {
      const slot = (calls[tc.index] ??= { id: '', name: '', arguments: '' });
      if (tc.id) slot.id = tc.id;
      if (tc.function?.name) slot.name = tc.function.name;
      if (tc.function?.arguments) slot.arguments += tc.function.arguments;
    }
    if (c.finish_reason) finish = c.finish_reason;
  }
  return { text, toolCalls: calls, usage, finish };
}

/** The mock-upstream reply for one recorded OpenRouter response, served by Groq's model id. */
const groqReply = (it: Interaction) => replyFromRecording(it.response, { upstreamModel: GROQ_MODEL });

/** The SSE events of a recorded stream as the provider sends them. */
function upstreamEvents(it: Interaction): string[] {
  const reply = groqReply(it);
  if (!('sse' in reply) || !reply.sse) throw new Error('not a streamed recording');
  return reply.sse.map((e) => (typeof e === 'string' ? e : e.toString('utf8')));
}

// ------------------------------------------------------------------------------------------------
// environment: three mock providers, an open gateway and one that requires an API key
// ------------------------------------------------------------------------------------------------

interface Env {
  mocks: Record<Slug, MockUpstream>;
  gw: Gateway;
  keyed: Gateway;
}

async function startEnv(): Promise<Env> {
  const mocks = {} as Record<Slug, MockUpstream>;
  for (const slug of SLUGS) mocks[slug] = await startMockUpstream();
  const providers = Object.fromEntries(SLUGS.map((s) => [s, mocks[s].baseUrl]));
  const gw = await startGateway({ providers });
  const keyed = await startGateway({ providers, apiKeys: [API_KEY] });
  return { mocks, gw, keyed };
}

async function stopEnv(env: Env): Promise<void> {
  await env.gw.close();
  await env.keyed.close();
  for (const m of Object.values(env.mocks)) await m.close();
}

function requestCounts(env: Env): Record<Slug, number> {
  return Object.fromEntries(SLUGS.map((s) => [s, env.mocks[s].requests.length])) as Record<Slug, number>;
}

/** Only `slug` received exactly one request since `before`. */
function assertOnlyCalled(env: Env, before: Record<Slug, number>, slug: Slug): void {
  for (const s of SLUGS) assert.equal(env.mocks[s].requests.length - before[s], s === slug ? 1 : 0, `${s} upstream request count`);
}

/** Upstream-side view of the messages of a recorded client request (what the provider must receive). */
function upstreamMessages(it: Interaction): any[] {
  return requestOf(it).messages;
}

// ------------------------------------------------------------------------------------------------
// openai SDK
// ------------------------------------------------------------------------------------------------

type OpenAIErrorBody = { message?: string; code?: number; metadata?: Record<string, any> };

describe('openai SDK (v6) against Switchyard', () => {
  let env: Env;
  let client: OpenAI;

  const openai = (gw: Gateway, apiKey: string, opts: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
    new OpenAI({ baseURL: gw.baseUrl, apiKey, maxRetries: 0, timeout: 10_000, ...opts });

  before(async () => {
    env = await startEnv();
    client = openai(env.gw, 'sk-unused');
  });
  after(() => stopEnv(env));

  it('non-streaming completion: the recorded answer and usage, gen id in body and header', async () => {
    const rec = simple[1];
    const recorded = jsonOf(rec);
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(rec));
    const before = requestCounts(env);

    const { data: completion, response } = await client.chat.completions
      .create({
        model: MODEL,
        messages: [
          { role: 'system', content: 'You are a helpful assistant' },
          { role: 'user', content: 'Say hi in Portuguese' },
        ],
        max_tokens: 4000,
      })
      .withResponse();

    assertOnlyCalled(env, before, 'groq');
    assert.equal(response.status, 200);
    assert.match(completion.id, /^gen-\d+-[A-Za-z0-9]{20}$/);
    assert.equal(response.headers.get('x-generation-id'), completion.id);
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, MODEL);
    assert.equal((completion as any).provider, 'Groq');
    assert.equal(completion.choices.length, 1);
    const choice = completion.choices[0];
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.message.content, recorded.choices[0].message.content);
    assert.equal(choice.message.content, 'Olá!');
    assert.equal(completion.usage?.prompt_tokens, recorded.usage.prompt_tokens);
    assert.equal(completion.usage?.completion_tokens, recorded.usage.completion_tokens);
    assert.equal(completion.usage?.total_tokens, recorded.usage.total_tokens);
    assert.equal(typeof (completion.usage as any).cost, 'number');

    const sent = env.mocks.groq.requests.at(-1)!;
    assert.equal(sent.json.model, GROQ_MODEL);
    assert.deepEqual(sent.json.messages, upstreamMessages(rec));
    assert.ok(sent.json.stream !== true, 'non-streaming upstream request');
  });

  it('streaming completion: deltas join into the recorded text and the usage chunk arrives', async () => {
    const [rec] = simpleStreaming;
    const want = recordedStream(rec);
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(rec));

    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'You are a helpful assistant' },
        { role: 'user', content: 'Say hi in Portuguese' },
      ],
      max_tokens: 4000,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    const ids = new Set<string>();
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      ids.add(chunk.id);
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      const c = chunk.choices[0];
      if (c?.delta.content) text += c.delta.content;
      if (c?.finish_reason) finish = c.finish_reason;
    }
    assert.ok(chunks >= 3);
    assert.equal(ids.size, 1, 'one generation id across the stream');
    assert.match([...ids][0], /^gen-\d+-[A-Za-z0-9]{20}$/);
    assert.equal(text, want.text);
    assert.equal(text, 'Olá!');
    assert.equal(finish, 'stop');
    assert.ok(usage, 'usage chunk received');
    assert.equal(usage.prompt_tokens, want.usage.prompt_tokens);
    assert.equal(usage.completion_tokens, want.usage.completion_tokens);
    assert.equal(usage.total_tokens, want.usage.total_tokens);
    assert.equal(typeof (usage as any).cost, 'number');
    assert.equal(env.mocks.groq.requests.at(-1)!.json.stream, true);
  });

  it('two-turn tool loop (non-streaming): tool call, client appends the tool result, final answer', async () => {
    const [turn1, turn2] = tool;
    const req1 = requestOf(turn1);
    const req2 = requestOf(turn2);
    const tools = req1.tools as OpenAI.Chat.Completions.ChatCompletionTool[];
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(turn1), groqReply(turn2));

    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are a helpful assistant' },
      { role: 'user', content: "What's the weather in Florence,Italy?" },
    ];
    const first = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 4000, tool_choice: 'auto', tools });
    const m1 = first.choices[0].message;
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    const recordedCall = jsonOf(turn1).choices[0].message.tool_calls[0];
    assert.equal(m1.tool_calls?.length, 1);
    const call = m1.tool_calls![0];
    assert.equal(call.type, 'function');
    assert.ok(call.type === 'function');
    assert.equal(call.id, recordedCall.id);
    assert.equal(call.function.name, 'weather');
    assert.deepEqual(JSON.parse(call.function.arguments), JSON.parse(recordedCall.function.arguments));
    assert.equal(m1.content, jsonOf(turn1).choices[0].message.content);
    assert.deepEqual(env.mocks.groq.requests.at(-1)!.json.tools, req1.tools);

    // The client appends the assistant message as received and the tool's answer.
    const toolResult = req2.messages.at(-1);
    messages.push(m1, { role: 'tool', tool_call_id: call.id, content: toolResult.content });
    const second = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 4000, tool_choice: 'auto', tools });
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.equal(second.choices[0].message.content, jsonOf(turn2).choices[0].message.content);
    assert.equal(second.usage?.prompt_tokens, jsonOf(turn2).usage.prompt_tokens);

    assert.deepEqual(env.mocks.groq.requests.at(-1)!.json.messages, upstreamMessages(turn2), 'turn 2 reached the provider as recorded');
  });

  it('two-turn tool loop (streaming, chat.completions.stream helper): the helper assembles the tool call', async () => {
    const [turn1, turn2] = toolStreaming;
    const req1 = requestOf(turn1);
    const req2 = requestOf(turn2);
    const want1 = recordedStream(turn1);
    const want2 = recordedStream(turn2);
    const tools = req1.tools as OpenAI.Chat.Completions.ChatCompletionTool[];
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(turn1), groqReply(turn2));

    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are a helpful assistant' },
      { role: 'user', content: "What's the weather in Florence,Italy?" },
    ];
    const s1 = client.chat.completions.stream({ model: MODEL, messages, max_tokens: 4000, tool_choice: 'auto', tools, stream_options: { include_usage: true } });
    const final1 = await s1.finalChatCompletion();
    const m1 = final1.choices[0].message;
    assert.equal(final1.choices[0].finish_reason, 'tool_calls');
    assert.equal(m1.content, want1.text);
    assert.equal(m1.tool_calls?.length, 1);
    const call = m1.tool_calls![0];
    assert.ok(call.type === 'function');
    assert.equal(call.id, want1.toolCalls[0].id);
    assert.equal(call.function.name, want1.toolCalls[0].name);
    assert.equal(call.function.arguments, want1.toolCalls[0].arguments);
    assert.equal(final1.usage?.prompt_tokens, want1.usage.prompt_tokens);

    messages.push(m1, { role: 'tool', tool_call_id: call.id, content: req2.messages.at(-1).content });
    const s2 = client.chat.completions.stream({ model: MODEL, messages, max_tokens: 4000, tool_choice: 'auto', tools, stream_options: { include_usage: true } });
    const final2 = await s2.finalChatCompletion();
    assert.equal(final2.choices[0].finish_reason, 'stop');
    assert.equal(final2.choices[0].message.content, want2.text);
    assert.equal(final2.usage?.completion_tokens, want2.usage.completion_tokens);
    assert.deepEqual(env.mocks.groq.requests.at(-1)!.json.messages, upstreamMessages(turn2), 'turn 2 reached the provider as recorded');
  });

  it('provider.only (extra body field) routes to Groq alone even when the lottery favours another provider', async () => {
    const rec = simple[1];
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'baseten');
    env.mocks.groq.enqueue(groqReply(rec));
    const before = requestCounts(env);
    const body = {
      model: MODEL,
      messages: [{ role: 'user' as const, content: 'Say hi in Portuguese' }],
      provider: { only: ['groq'] },
    };
    const completion = await client.chat.completions.create(body);
    assertOnlyCalled(env, before, 'groq');
    assert.equal((completion as any).provider, 'Groq');
    assert.equal(completion.choices[0].message.content, 'Olá!');
    assert.equal(env.mocks.groq.requests.at(-1)!.json.provider, undefined, 'provider preferences are not forwarded upstream');
  });

  it('GET /generation after a completion (plain fetch; the SDK has no method for it)', async () => {
    const rec = simple[1];
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(rec));
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say hi in Portuguese' }],
      user: 'sdk-user-1',
    });
    const res = await fetch(`${env.gw.baseUrl}/generation?id=${encodeURIComponent(completion.id)}`);
    assert.equal(res.status, 200);
    const { data } = (await res.json()) as { data: Record<string, any> };
    assert.equal(data.id, completion.id);
    assert.equal(data.model, MODEL);
    assert.equal(data.provider_name, 'Groq');
    assert.equal(data.streamed, false);
    assert.equal(data.cancelled, false);
    assert.equal(data.finish_reason, 'stop');
    assert.equal(data.native_finish_reason, 'stop');
    assert.equal(data.tokens_prompt, completion.usage?.prompt_tokens);
    assert.equal(data.tokens_completion, completion.usage?.completion_tokens);
    assert.equal(data.total_cost, (completion.usage as any).cost);
    assert.equal(data.external_user, 'sdk-user-1');
    assert.match(String(data.user_agent), /^OpenAI\/JS /);
    assert.deepEqual(
      data.provider_responses.map((p: any) => [p.provider_name, p.status]),
      [['Groq', 200]],
    );
  });

  it('400 for an unknown model id surfaces as BadRequestError with the OpenRouter message', async () => {
    const before = requestCounts(env);
    await assert.rejects(
      client.chat.completions.create({ model: 'nope/not-a-model', messages: [{ role: 'user', content: 'hi' }] }),
      (err: unknown) => {
        assert.ok(err instanceof BadRequestError, `got ${String(err)}`);
        assert.equal(err.status, 400);
        const body = err.error as OpenAIErrorBody;
        assert.equal(body.code, 400);
        assert.equal(body.message, 'nope/not-a-model is not a valid model ID');
        assert.equal(err.message, '400 nope/not-a-model is not a valid model ID');
        return true;
      },
    );
    assert.deepEqual(requestCounts(env), before, 'no upstream was called');
  });

  it('400 for temperature 5 surfaces as BadRequestError naming the field', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], temperature: 5 }),
      (err: unknown) => {
        assert.ok(err instanceof BadRequestError, `got ${String(err)}`);
        assert.equal(err.status, 400);
        const body = err.error as OpenAIErrorBody;
        assert.equal(body.code, 400);
        assert.match(String(body.message), /temperature/);
        return true;
      },
    );
  });

  it('401 without a key and with a wrong key surfaces as AuthenticationError; the right key works', async () => {
    const noKey = openai(env.keyed, 'unused', { defaultHeaders: { Authorization: null } });
    await assert.rejects(noKey.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError, `got ${String(err)}`);
      assert.equal(err.status, 401);
      const body = err.error as OpenAIErrorBody;
      assert.equal(body.code, 401);
      assert.equal(body.message, 'No auth credentials found');
      return true;
    });
    const wrong = openai(env.keyed, 'sk-wrong-000000');
    await assert.rejects(wrong.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError, `got ${String(err)}`);
      assert.equal(err.status, 401);
      assert.equal((err.error as OpenAIErrorBody).message, 'User not found.');
      return true;
    });
    env.keyed.app.rng = rngPicking(env.keyed.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(simple[1]));
    const ok = await openai(env.keyed, API_KEY).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say hi in Portuguese' }] });
    assert.equal(ok.choices[0].message.content, 'Olá!');
  });

  it('429 (streaming request, provider.only wandb) surfaces as RateLimitError with provider metadata, no SDK retry', async () => {
    const [limited] = wandb429;
    const recorded = jsonOf(limited).error;
    env.mocks.wandb.enqueue(replyFromRecording(limited.response));
    const before = requestCounts(env);
    const body = {
      model: MODEL,
      messages: [
        { role: 'system' as const, content: 'You are a helpful assistant' },
        { role: 'user' as const, content: 'Say hi in Portuguese' },
      ],
      max_tokens: 4000,
      stream: true as const,
      stream_options: { include_usage: true },
      provider: { only: ['wandb'] },
    };
    await assert.rejects(client.chat.completions.create(body), (err: unknown) => {
      assert.ok(err instanceof RateLimitError, `got ${String(err)}`);
      assert.equal(err.status, 429);
      assert.equal(err.message, '429 Provider returned error');
      const e = err.error as OpenAIErrorBody;
      assert.equal(e.message, 'Provider returned error');
      assert.equal(e.code, 429);
      assert.equal(e.metadata?.provider_name, 'WandB');
      assert.equal(e.metadata?.raw, recorded.metadata.raw);
      return true;
    });
    assertOnlyCalled(env, before, 'wandb');
  });

  it('429 (non-streaming, provider.only groq, recorded Groq rate limit) surfaces as RateLimitError', async () => {
    const limited = simple[0];
    const recorded = jsonOf(limited).error;
    env.mocks.groq.enqueue(replyFromRecording(limited.response));
    const before = requestCounts(env);
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'Say hi in Portuguese' }], provider: { only: ['groq'] } };
    await assert.rejects(client.chat.completions.create(body), (err: unknown) => {
      assert.ok(err instanceof RateLimitError, `got ${String(err)}`);
      assert.equal(err.status, 429);
      const e = err.error as OpenAIErrorBody;
      assert.equal(e.message, 'Provider returned error');
      assert.equal(e.metadata?.provider_name, 'Groq');
      assert.equal(e.metadata?.raw, recorded.metadata.raw);
      return true;
    });
    assertOnlyCalled(env, before, 'groq');
  });

  it('stream that fails after content: the in-stream error chunk surfaces as APIError from the iterator', async () => {
    const [rec] = simpleStreaming;
    env.mocks.groq.enqueue({ fault: 'reset-mid-stream', sse: upstreamEvents(rec), afterEvents: 3 });
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'Say hi in Portuguese' }], stream: true as const, provider: { only: ['groq'] } };
    const stream = await client.chat.completions.create(body);
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
      (err: unknown) => {
        assert.ok(err instanceof APIError, `got ${String(err)}`);
        assert.equal(err.status, undefined, 'in-stream errors carry no HTTP status');
        const e = err.error as OpenAIErrorBody;
        assert.equal(e.code, 502);
        assert.equal(e.message, 'Provider returned error');
        assert.equal(e.metadata?.provider_name, 'Groq');
        assert.equal(e.metadata?.error_type, 'provider_unavailable');
        return true;
      },
    );
    assert.equal(text, 'Olá', 'the content before the failure reached the application');
  });

  it('stream accepted but closed before any content: in-stream error chunk surfaces as APIError', async () => {
    env.mocks.groq.enqueue({ sse: [] });
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'Say hi in Portuguese' }], stream: true as const, provider: { only: ['groq'] } };
    const stream = await client.chat.completions.create(body);
    await assert.rejects(
      (async () => {
        for await (const _chunk of stream) {
          // nothing but the error is expected
        }
      })(),
      (err: unknown) => {
        assert.ok(err instanceof APIError, `got ${String(err)}`);
        const e = err.error as OpenAIErrorBody;
        assert.equal(e.code, 502);
        assert.equal(e.message, 'Provider returned error');
        assert.equal(e.metadata?.provider_name, 'Groq');
        return true;
      },
    );
  });

  it('upstream connection dropped before headers: 502 surfaces as InternalServerError (no retry)', async () => {
    env.mocks.groq.enqueue({ fault: 'reset-before-headers' });
    const before = requestCounts(env);
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], provider: { only: ['groq'] } };
    await assert.rejects(client.chat.completions.create(body), (err: unknown) => {
      assert.ok(err instanceof InternalServerError, `got ${String(err)}`);
      assert.equal(err.status, 502);
      const e = err.error as OpenAIErrorBody;
      assert.equal(e.code, 502);
      assert.equal(e.metadata?.provider_name, 'Groq');
      return true;
    });
    assertOnlyCalled(env, before, 'groq');
  });
});

// ------------------------------------------------------------------------------------------------
// @openrouter/sdk
// ------------------------------------------------------------------------------------------------

type OrResponse = Awaited<ReturnType<OpenRouter['chat']['send']>>;

function asResult(res: OrResponse): ChatResult {
  assert.ok(!(Symbol.asyncIterator in res), 'expected a JSON ChatResult, got a stream');
  return res as ChatResult;
}

function asStream(res: OrResponse): AsyncIterable<ChatStreamChunk> {
  assert.ok(Symbol.asyncIterator in res, 'expected an event stream');
  return res as AsyncIterable<ChatStreamChunk>;
}

interface ZodIssueLike {
  path: PropertyKey[];
  message: string;
  errors?: ZodIssueLike[][];
}

/** `data.error.metadata.error_type: Invalid input (expected string, received undefined)` */
function describeIssue(i: ZodIssueLike): string {
  const branch = i.errors?.at(-1)?.[0]; // for an (open) enum union, the last branch is the plain-string one
  return `${i.path.map(String).join('.')}: ${i.message}${branch ? ` (${branch.message})` : ''}`;
}

/**
 * All chunks of a stream. The SDK zod-parses each event while iterating; a chunk it rejects ends the
 * iteration with a ZodError, turned here into an assertion failure that names the offending fields.
 */
async function collect(stream: AsyncIterable<ChatStreamChunk>): Promise<ChatStreamChunk[]> {
  const out: ChatStreamChunk[] = [];
  try {
    for await (const chunk of stream) out.push(chunk);
  } catch (err) {
    const issues = (err as { issues?: ZodIssueLike[] }).issues;
    if (issues) assert.fail(`@openrouter/sdk rejected a chunk sent by Switchyard after ${out.length} good chunk(s): ${issues.map(describeIssue).join('; ')}`);
    throw err;
  }
  return out;
}

/** Everything a stream delivered, as an application would accumulate it. */
async function drain(stream: AsyncIterable<ChatStreamChunk>) {
  let text = '';
  let finish: string | null = null;
  let usage: ChatStreamChunk['usage'];
  const ids = new Set<string>();
  const calls: { id: string; name: string; arguments: string }[] = [];
  let chunks = 0;
  for (const chunk of await collect(stream)) {
    chunks++;
    ids.add(chunk.id);
    if (chunk.error) throw new Error(`in-stream error: ${JSON.stringify(chunk.error)}`);
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    if (c.delta.content) text += c.delta.content;
    for (const tc of c.delta.toolCalls ?? []) {
      const slot = (calls[tc.index] ??= { id: '', name: '', arguments: '' });
      if (tc.id) slot.id = tc.id;
      if (tc.function?.name) slot.name = tc.function.name;
      if (tc.function?.arguments) slot.arguments += tc.function.arguments;
    }
    if (c.finishReason) finish = c.finishReason;
  }
  return { text, finish, usage, ids, calls, chunks };
}

describe('@openrouter/sdk (1.3.19) against Switchyard', () => {
  let env: Env;
  let or: OpenRouter;

  const openrouter = (gw: Gateway, apiKey?: string) =>
    new OpenRouter({ serverURL: gw.baseUrl, apiKey, retryConfig: { strategy: 'none' }, timeoutMs: 10_000 });

  const baseMessages = (): ChatMessages[] => [
    { role: 'system', content: 'You are a helpful assistant' },
    { role: 'user', content: 'Say hi in Portuguese' },
  ];
  const weatherMessages = (): ChatMessages[] => [
    { role: 'system', content: 'You are a helpful assistant' },
    { role: 'user', content: "What's the weather in Florence,Italy?" },
  ];
  /** The recorded tool definitions in the SDK's (camelCase) input shape. */
  const sdkTools = (it: Interaction): ChatFunctionTool[] =>
    (requestOf(it).tools as any[]).map((t) => ({ type: 'function', function: { ...t.function } }));

  before(async () => {
    env = await startEnv();
    or = openrouter(env.gw, 'sk-unused');
  });
  after(() => stopEnv(env));

  it('non-streaming chat.send: passes the SDK schema, the recorded answer and usage', async () => {
    const rec = simple[1];
    const recorded = jsonOf(rec);
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(rec));
    const before = requestCounts(env);

    const result = asResult(await or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), maxTokens: 4000 } }));
    assertOnlyCalled(env, before, 'groq');
    assert.match(result.id, /^gen-\d+-[A-Za-z0-9]{20}$/);
    assert.equal(result.object, 'chat.completion');
    assert.equal(result.model, MODEL);
    assert.equal(result.choices.length, 1);
    assert.equal(result.choices[0].finishReason, 'stop');
    assert.equal(result.choices[0].message.role, 'assistant');
    assert.equal(result.choices[0].message.content, recorded.choices[0].message.content);
    assert.equal(result.systemFingerprint, recorded.system_fingerprint);
    assert.equal(result.usage?.promptTokens, recorded.usage.prompt_tokens);
    assert.equal(result.usage?.completionTokens, recorded.usage.completion_tokens);
    assert.equal(result.usage?.totalTokens, recorded.usage.total_tokens);
    assert.equal(typeof result.usage?.cost, 'number');
    assert.equal(typeof result.usage?.costDetails?.upstreamInferencePromptCost, 'number');
    assert.equal(env.mocks.groq.requests.at(-1)!.json.max_tokens, 4000);
    assert.deepEqual(env.mocks.groq.requests.at(-1)!.json.messages, upstreamMessages(rec));
  });

  it('streaming chat.send: every chunk passes the SDK schema; deltas join into the recorded text; usage chunk', async () => {
    const [rec] = simpleStreaming;
    const want = recordedStream(rec);
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(rec));

    const stream = asStream(await or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), maxTokens: 4000, stream: true } }));
    const got = await drain(stream);
    assert.ok(got.chunks >= 3);
    assert.equal(got.ids.size, 1, 'one generation id across the stream');
    assert.equal(got.text, want.text);
    assert.equal(got.text, 'Olá!');
    assert.equal(got.finish, 'stop');
    assert.ok(got.usage, 'usage chunk received');
    assert.equal(got.usage.promptTokens, want.usage.prompt_tokens);
    assert.equal(got.usage.completionTokens, want.usage.completion_tokens);
    assert.equal(got.usage.totalTokens, want.usage.total_tokens);
    assert.equal(typeof got.usage.cost, 'number');
    assert.equal(env.mocks.groq.requests.at(-1)!.json.stream, true);
  });

  it('two-turn tool loop (non-streaming): tool call, client appends the tool result, final answer', async () => {
    const [turn1, turn2] = tool;
    const req2 = requestOf(turn2);
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(turn1), groqReply(turn2));

    const messages = weatherMessages();
    const tools = sdkTools(turn1);
    const first = asResult(await or.chat.send({ chatRequest: { model: MODEL, messages, maxTokens: 4000, toolChoice: 'auto', tools } }));
    assert.equal(first.choices[0].finishReason, 'tool_calls');
    const m1 = first.choices[0].message;
    const recordedCall = jsonOf(turn1).choices[0].message.tool_calls[0];
    assert.equal(m1.toolCalls?.length, 1);
    const call = m1.toolCalls![0];
    assert.equal(call.type, 'function');
    assert.equal(call.id, recordedCall.id);
    assert.equal(call.function.name, 'weather');
    assert.deepEqual(JSON.parse(call.function.arguments), JSON.parse(recordedCall.function.arguments));
    assert.deepEqual(env.mocks.groq.requests.at(-1)!.json.tools, requestOf(turn1).tools);

    messages.push({ ...m1, role: 'assistant' }, { role: 'tool', toolCallId: call.id, content: req2.messages.at(-1).content });
    const second = asResult(await or.chat.send({ chatRequest: { model: MODEL, messages, maxTokens: 4000, toolChoice: 'auto', tools } }));
    assert.equal(second.choices[0].finishReason, 'stop');
    assert.equal(second.choices[0].message.content, jsonOf(turn2).choices[0].message.content);
    assert.deepEqual(env.mocks.groq.requests.at(-1)!.json.messages, upstreamMessages(turn2), 'turn 2 reached the provider as recorded');
  });

  it('two-turn tool loop (streaming): tool-call deltas assemble by index, second turn answers', async () => {
    const [turn1, turn2] = toolStreaming;
    const req2 = requestOf(turn2);
    const want1 = recordedStream(turn1);
    const want2 = recordedStream(turn2);
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(turn1), groqReply(turn2));

    const messages = weatherMessages();
    const tools = sdkTools(turn1);
    const got1 = await drain(asStream(await or.chat.send({ chatRequest: { model: MODEL, messages, maxTokens: 4000, toolChoice: 'auto', tools, stream: true } })));
    assert.equal(got1.finish, 'tool_calls');
    assert.equal(got1.text, want1.text);
    assert.deepEqual(got1.calls, want1.toolCalls);
    assert.equal(got1.usage?.promptTokens, want1.usage.prompt_tokens);

    const call = got1.calls[0];
    messages.push(
      { role: 'assistant', content: got1.text, toolCalls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }] },
      { role: 'tool', toolCallId: call.id, content: req2.messages.at(-1).content },
    );
    const got2 = await drain(asStream(await or.chat.send({ chatRequest: { model: MODEL, messages, maxTokens: 4000, toolChoice: 'auto', tools, stream: true } })));
    assert.equal(got2.finish, 'stop');
    assert.equal(got2.text, want2.text);
    assert.deepEqual(env.mocks.groq.requests.at(-1)!.json.messages, upstreamMessages(turn2), 'turn 2 reached the provider as recorded');
  });

  it('provider: { only: ["groq"] } routes to Groq alone even when the lottery favours another provider', async () => {
    const rec = simple[1];
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'baseten');
    env.mocks.groq.enqueue(groqReply(rec));
    const before = requestCounts(env);
    const result = asResult(await or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), provider: { only: ['groq'] } } }));
    assertOnlyCalled(env, before, 'groq');
    assert.equal(result.choices[0].message.content, 'Olá!');
  });

  it('generations.getGeneration parses Switchyard\'s GET /generation after a streamed completion', async () => {
    const [rec] = simpleStreaming;
    const want = recordedStream(rec);
    env.gw.app.rng = rngPicking(env.gw.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(rec));
    const got = await drain(asStream(await or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), stream: true, user: 'sdk-user-2' } })));
    const id = [...got.ids][0];

    const { data } = await or.generations.getGeneration({ id });
    assert.equal(data.id, id);
    assert.equal(data.model, MODEL);
    assert.equal(data.providerName, 'Groq');
    assert.equal(data.streamed, true);
    assert.equal(data.cancelled, false);
    assert.equal(data.finishReason, 'stop');
    assert.equal(data.tokensPrompt, want.usage.prompt_tokens);
    assert.equal(data.tokensCompletion, want.usage.completion_tokens);
    assert.equal(data.totalCost, got.usage?.cost);
    assert.equal(data.externalUser, 'sdk-user-2');
    assert.equal(data.apiType, 'completions');
    assert.deepEqual(
      data.providerResponses?.map((p) => [p.providerName, p.status]),
      [['Groq', 200]],
    );
  });

  it('getGeneration for an unknown id is a typed 404', async () => {
    await assert.rejects(or.generations.getGeneration({ id: 'gen-0-doesnotexist000000000' }), (err: unknown) => {
      assert.ok(err instanceof OpenRouterError, `got ${String(err)}`);
      assert.equal(err.statusCode, 404);
      assert.equal(err.constructor.name, 'NotFoundResponseError');
      return true;
    });
  });

  it('400 for an unknown model id surfaces as BadRequestResponseError', async () => {
    await assert.rejects(or.chat.send({ chatRequest: { model: 'nope/not-a-model', messages: baseMessages() } }), (err: unknown) => {
      assert.ok(err instanceof BadRequestResponseError, `got ${String(err)}`);
      assert.equal(err.statusCode, 400);
      assert.equal(err.error.code, 400);
      assert.equal(err.error.message, 'nope/not-a-model is not a valid model ID');
      assert.equal(err.message, 'nope/not-a-model is not a valid model ID');
      return true;
    });
  });

  it('400 for temperature 5 surfaces as BadRequestResponseError (the SDK does not check the range itself)', async () => {
    await assert.rejects(or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), temperature: 5 } }), (err: unknown) => {
      assert.ok(err instanceof BadRequestResponseError, `got ${String(err)}`);
      assert.equal(err.statusCode, 400);
      assert.match(err.error.message, /temperature/);
      return true;
    });
  });

  it('401 without a key and with a wrong key surfaces as UnauthorizedResponseError; the right key works', async () => {
    // An empty key (not undefined, which falls back to OPENROUTER_API_KEY) makes the SDK omit the header.
    await assert.rejects(openrouter(env.keyed, '').chat.send({ chatRequest: { model: MODEL, messages: baseMessages() } }), (err: unknown) => {
      assert.ok(err instanceof UnauthorizedResponseError, `got ${String(err)}`);
      assert.equal(err.statusCode, 401);
      assert.equal(err.error.code, 401);
      assert.equal(err.error.message, 'No auth credentials found');
      return true;
    });
    await assert.rejects(openrouter(env.keyed, 'sk-wrong-000000').chat.send({ chatRequest: { model: MODEL, messages: baseMessages() } }), (err: unknown) => {
      assert.ok(err instanceof UnauthorizedResponseError, `got ${String(err)}`);
      assert.equal(err.statusCode, 401);
      assert.equal(err.error.message, 'User not found.');
      return true;
    });
    env.keyed.app.rng = rngPicking(env.keyed.app, MODEL, 'groq');
    env.mocks.groq.enqueue(groqReply(simple[1]));
    const ok = asResult(await openrouter(env.keyed, API_KEY).chat.send({ chatRequest: { model: MODEL, messages: baseMessages() } }));
    assert.equal(ok.choices[0].message.content, 'Olá!');
  });

  it('429 (streaming request, provider.only wandb) surfaces as TooManyRequestsResponseError with provider metadata', async () => {
    const [limited] = wandb429;
    const recorded = jsonOf(limited).error;
    env.mocks.wandb.enqueue(replyFromRecording(limited.response));
    const before = requestCounts(env);
    await assert.rejects(
      or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), maxTokens: 4000, stream: true, provider: { only: ['wandb'] } } }),
      (err: unknown) => {
        assert.ok(err instanceof TooManyRequestsResponseError, `got ${String(err)}`);
        assert.equal(err.statusCode, 429);
        assert.equal(err.message, 'Provider returned error');
        assert.equal(err.error.code, 429);
        assert.equal(err.error.message, 'Provider returned error');
        assert.equal(err.error.metadata?.provider_name, 'WandB');
        assert.equal(err.error.metadata?.raw, recorded.metadata.raw);
        return true;
      },
    );
    assertOnlyCalled(env, before, 'wandb');
  });

  it('429 (non-streaming, provider.only groq, recorded Groq rate limit) surfaces as TooManyRequestsResponseError', async () => {
    const limited = simple[0];
    env.mocks.groq.enqueue(replyFromRecording(limited.response));
    const before = requestCounts(env);
    await assert.rejects(or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), provider: { only: ['groq'] } } }), (err: unknown) => {
      assert.ok(err instanceof TooManyRequestsResponseError, `got ${String(err)}`);
      assert.equal(err.statusCode, 429);
      assert.equal(err.error.metadata?.provider_name, 'Groq');
      assert.equal(err.error.metadata?.raw, jsonOf(limited).error.metadata.raw);
      return true;
    });
    assertOnlyCalled(env, before, 'groq');
  });

  it('streaming from an upstream whose chunks carry system_fingerprint null (BaseTen): every chunk passes the SDK schema', async () => {
    const [rec] = baseten;
    const want = recordedStream(rec);
    env.mocks.baseten.enqueue(replyFromRecording(rec.response, { upstreamModel: 'moonshotai/Kimi-K2-Instruct-0905' }));
    const stream = asStream(await or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), stream: true, provider: { only: ['baseten'] } } }));
    const got = await drain(stream);
    assert.equal(got.text, want.text);
    assert.equal(got.finish, 'stop');
    assert.equal(got.usage?.promptTokens, want.usage.prompt_tokens);
  });

  it('stream that fails after content: the error chunk parses and carries code, message and error_type', async () => {
    const [rec] = simpleStreaming;
    env.mocks.groq.enqueue({ fault: 'reset-mid-stream', sse: upstreamEvents(rec), afterEvents: 3 });
    const stream = asStream(await or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), stream: true, provider: { only: ['groq'] } } }));
    const chunks = await collect(stream);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const errors = chunks.filter((c) => c.error);
    assert.equal(text, 'Olá');
    assert.equal(errors.length, 1);
    const [failed] = errors;
    assert.equal(failed.error?.code, 502);
    assert.equal(failed.error?.message, 'Provider returned error');
    assert.equal(failed.error?.metadata?.errorType, 'provider_unavailable');
    assert.equal(failed.choices[0]?.finishReason, 'error');
  });

  it('stream accepted but closed before any content: the error chunk parses (metadata.error_type present)', async () => {
    env.mocks.groq.enqueue({ sse: [] });
    const stream = asStream(await or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), stream: true, provider: { only: ['groq'] } } }));
    const errors = (await collect(stream)).filter((c) => c.error);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].error?.code, 502);
    assert.equal(errors[0].error?.message, 'Provider returned error');
    assert.equal(typeof errors[0].error?.metadata?.errorType, 'string');
    assert.equal(errors[0].choices[0]?.finishReason, 'error');
  });

  it('upstream connection dropped before headers: 502 surfaces as BadGatewayResponseError', async () => {
    env.mocks.groq.enqueue({ fault: 'reset-before-headers' });
    await assert.rejects(or.chat.send({ chatRequest: { model: MODEL, messages: baseMessages(), provider: { only: ['groq'] } } }), (err: unknown) => {
      assert.ok(err instanceof BadGatewayResponseError, `got ${String(err)}`);
      assert.equal(err.statusCode, 502);
      assert.equal(err.error.code, 502);
      assert.equal(err.error.metadata?.provider_name, 'Groq');
      return true;
    });
  });
});
