/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from recordings and the mock upstreams */
/**
 * Acceptance: Anthropic's own TypeScript SDK (`@anthropic-ai/sdk`), unchanged but for its base URL,
 * against Switchyard's Messages front door (`POST /api/v1/messages`, `/v1/messages`,
 * `/messages/count_tokens`), every provider mocked:
 *
 *  - through an Anthropic upstream (native passthrough): the mock replays Anthropic's recorded
 *    answers (test/fixtures/cassettes/upstream/TestAnthropic*), the client sends the recorded
 *    request and must receive the recorded body / events with nothing lost (ids, signatures, cache
 *    usage fields, padding), and the upstream must receive what the client sent;
 *  - through OpenAI-compatible upstreams (translated): Groq serving Kimi K2 and Z.AI serving GLM 4.6
 *    replay their recorded chat completions (TestGroqCommon, TestZAICommon) and the SDK must get
 *    the same answer in Anthropic's shapes (text, tool_use, thinking, stop_reason, usage).
 *
 * Scenarios: messages.create, messages.stream (+ finalMessage), a tool_use → tool_result loop,
 * thinking blocks sent back on the next turn, count_tokens, Anthropic's own model ids, errors
 * (upstream 429 → RateLimitError, invalid body → BadRequestError) in Anthropic's error shape.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic, { APIError, AuthenticationError, BadRequestError, RateLimitError } from '@anthropic-ai/sdk';
import { loadCassette } from './support/cassettes.js';
import { replyFromRecording, startMockUpstream, type MockReply, type MockUpstream } from './support/mock-upstream.js';
import { startGateway, type Gateway } from './support/gateway.js';
import {
  anthropicReplyAs,
  anthropicTurnOfStream,
  chatTurnOf,
  freshHealth,
  replay,
  requestJson,
  responseJson,
  sseEvents,
  upstreamRecording,
  type Interaction,
} from './support/recorded-wire.js';

/** Anthropic's own id of Claude Sonnet 4 (an alias of anthropic/claude-sonnet-4): the recorded requests name it. */
const SONNET_4 = 'claude-sonnet-4-20250514';
/** Kimi K2 0905: in this gateway only Groq serves it (upstream id moonshotai/kimi-k2-instruct-0905). */
const KIMI = 'moonshotai/kimi-k2-0905';
const KIMI_UPSTREAM = 'moonshotai/kimi-k2-instruct-0905';
/** GLM 4.6: in this gateway only Z.AI serves it (upstream id glm-4.6); it answers with reasoning_content. */
const GLM = 'z-ai/glm-4.6';

const ANTHROPIC = 'TestAnthropicCommon/claude-sonnet-4';
const ANTHROPIC_CACHE = 'TestAnthropicCommonWithCacheControl/claude-sonnet-4';
const ANTHROPIC_THINKING = 'TestAnthropicThinking/claude-sonnet-4';
const ANTHROPIC_THINKING_CACHE = 'TestAnthropicThinkingWithCacheControl/claude-sonnet-4';
const GROQ = 'TestGroqCommon/groq-kimi-k2-0905';
const ZAI = 'TestZAICommon/zai-glm-4.6';

const SYSTEM = 'You are a helpful assistant';
const WEATHER: Anthropic.Tool = {
  name: 'weather',
  description: 'Get weather information for a location',
  input_schema: { type: 'object', properties: { location: { type: 'string', description: 'the city' } }, required: ['location'] },
};
const GEN_ID = /^gen-\d+-[A-Za-z0-9]{20}$/;

// ------------------------------------------------------------------------------------------------
// environment
// ------------------------------------------------------------------------------------------------

interface Env {
  anthropic: MockUpstream;
  groq: MockUpstream;
  zai: MockUpstream;
  gw: Gateway;
  /** baseURL <gateway>/api: the SDK posts to /api/v1/messages */
  client: Anthropic;
  /** baseURL <gateway>: the SDK posts to /v1/messages, as when ANTHROPIC_BASE_URL names the gateway's root */
  rootClient: Anthropic;
}

async function startEnv(): Promise<Env> {
  const anthropic = await startMockUpstream();
  const groq = await startMockUpstream();
  const zai = await startMockUpstream();
  const gw = await startGateway({ providers: { anthropic: anthropic.baseUrl, groq: groq.baseUrl, 'z-ai': zai.baseUrl } });
  const opts = { apiKey: 'sk-ant-test', maxRetries: 0, timeout: 10_000 };
  return {
    anthropic,
    groq,
    zai,
    gw,
    client: new Anthropic({ ...opts, baseURL: `${gw.url}/api` }),
    rootClient: new Anthropic({ ...opts, baseURL: gw.url }),
  };
}

async function stopEnv(env: Env | undefined): Promise<void> {
  if (!env) return;
  await env.gw.close();
  for (const m of [env.anthropic, env.groq, env.zai]) await m.close();
}

const counts = (env: Env) => ({ anthropic: env.anthropic.requests.length, groq: env.groq.requests.length, zai: env.zai.requests.length });

/** Exactly one upstream request since `before`, to `which`. */
function assertOneRequestTo(env: Env, before: ReturnType<typeof counts>, which: keyof ReturnType<typeof counts>): void {
  const now = counts(env);
  for (const k of Object.keys(now) as (keyof typeof now)[]) {
    assert.equal(now[k] - before[k], k === which ? 1 : 0, `${k} upstream requests during this call (expected exactly one, to ${which})`);
  }
}

/** The last request an upstream received, with the checks every Anthropic-bound request must pass. */
function lastAnthropicRequest(mock: MockUpstream): any {
  const sent = mock.requests.at(-1)!;
  assert.equal(sent.method, 'POST');
  assert.equal(sent.path, '/v1/messages', 'the gateway calls ${base_url}/messages');
  assert.equal(sent.headers['x-api-key'], 'test-key-anthropic', "the gateway's provider key, not the client's");
  assert.ok(sent.headers['anthropic-version'], 'an anthropic-version header (the client\'s own, passed through)');
  return sent.json;
}

function lastChatRequest(mock: MockUpstream): any {
  const sent = mock.requests.at(-1)!;
  assert.equal(sent.method, 'POST');
  assert.equal(sent.path, '/v1/chat/completions');
  return sent.json;
}

/** The SDK's object without SDK-side decorations, for deep comparison with a recorded body. */
const plain = (v: unknown): any => JSON.parse(JSON.stringify(v));

/** Drop `caller` from tool_use blocks (the recorded follow-ups were sent by a client that strips it). */
function withoutCaller(messages: any[]): any[] {
  return messages.map((m) =>
    Array.isArray(m.content) ? { ...m, content: m.content.map((b: any) => (b.type === 'tool_use' ? { id: b.id, input: b.input, name: b.name, type: b.type } : b)) } : m,
  );
}

/** Canonical JSON (sorted keys), so blocks compare whatever order a client wrote their fields in. */
function canonical(v: any): any {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

/** Reads a Messages stream through the SDK: every event it yields, and its final message. */
async function readStream(stream: ReturnType<Anthropic['messages']['stream']>): Promise<{ events: any[]; final: Anthropic.Message }> {
  const events: any[] = [];
  for await (const ev of stream) events.push(plain(ev));
  return { events, final: await stream.finalMessage() };
}

/** The recorded events the SDK yields (everything but ping, which it swallows), parsed. */
const recordedSdkEvents = (it: Interaction) => sseEvents(it.response.body).filter((e) => e.event !== 'ping').map((e) => e.json);

/** Checks every translated stream must pass: Anthropic's event grammar, one message, blocks opened and closed in order. */
function assertEventGrammar(events: any[], label: string): void {
  assert.ok(events.length >= 4, `${label}: at least message_start, a block, message_delta, message_stop (got ${events.map((e) => e.type).join(',')})`);
  assert.equal(events[0].type, 'message_start', `${label}: first event`);
  assert.equal(events.at(-1).type, 'message_stop', `${label}: last event`);
  assert.equal(events.at(-2).type, 'message_delta', `${label}: message_delta before message_stop`);
  let open: number | null = null;
  let next = 0;
  for (const e of events.slice(1, -2)) {
    if (e.type === 'content_block_start') {
      assert.equal(open, null, `${label}: block ${e.index} starts while block ${open} is open`);
      assert.equal(e.index, next, `${label}: blocks are numbered in order`);
      open = e.index;
      next++;
    } else if (e.type === 'content_block_delta') {
      assert.equal(e.index, open, `${label}: delta for a block that is not open`);
    } else if (e.type === 'content_block_stop') {
      assert.equal(e.index, open, `${label}: stop for a block that is not open`);
      open = null;
    } else assert.fail(`${label}: unexpected event ${e.type} inside the message`);
  }
  assert.equal(open, null, `${label}: every block is closed before message_delta`);
}

/** The Groq / Z.AI reply for a recorded interaction (the recorded bytes as served). */
const chatReply = (it: Interaction): MockReply => replay(it);

// ------------------------------------------------------------------------------------------------

describe('@anthropic-ai/sdk → Switchyard Messages → Anthropic upstream (native passthrough, recorded traffic)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => stopEnv(env));
  beforeEach(() => freshHealth(env.gw));

  it('messages.create: the upstream receives the client body as sent; the client gets the recorded message unchanged', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple`, 1);
    env.anthropic.enqueue(replay(rec));
    const before = counts(env);

    const { data: message, response } = await env.client.messages.create(requestJson(rec)).withResponse();

    assertOneRequestTo(env, before, 'anthropic');
    assert.deepEqual(lastAnthropicRequest(env.anthropic), requestJson(rec), 'the upstream received the recorded request, byte for byte as JSON');
    assert.equal(response.status, 200);
    assert.match(String(response.headers.get('x-generation-id')), GEN_ID, 'X-Generation-Id on the answer');
    assert.deepEqual(plain(message), responseJson(rec), "the client received Anthropic's body unchanged (id msg_…, model, usage with cache fields, service_tier)");
    assert.equal(message.content[0].type, 'text');
  });

  it('messages.create at /v1/messages (baseURL = gateway root) with cache_control: cache usage fields come back as recorded', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC_CACHE}/simple`, 1);
    env.anthropic.enqueue(replay(rec));
    const message = await env.rootClient.messages.create(requestJson(rec));
    const sent = lastAnthropicRequest(env.anthropic);
    assert.deepEqual(sent, requestJson(rec), 'cache_control markers reach Anthropic');
    assert.deepEqual(sent.system[0].cache_control, { type: 'ephemeral' });
    const recorded = responseJson(rec);
    assert.deepEqual(plain(message), recorded);
    assert.equal(message.usage.cache_creation_input_tokens, recorded.usage.cache_creation_input_tokens);
    assert.equal(message.usage.cache_read_input_tokens, recorded.usage.cache_read_input_tokens);
    assert.deepEqual(plain(message.usage.cache_creation), recorded.usage.cache_creation);
  });

  it('non-zero cache usage (cache write then cache read): every usage field reaches the client unchanged, non-streamed and streamed', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC_CACHE}/simple`, 1);
    const usage = {
      input_tokens: 9,
      cache_creation_input_tokens: 2051,
      cache_read_input_tokens: 4104,
      cache_creation: { ephemeral_5m_input_tokens: 2051, ephemeral_1h_input_tokens: 0 },
      output_tokens: 33,
      service_tier: 'standard',
      inference_geo: 'not_available',
    };
    const body = { ...responseJson(rec), usage };
    env.anthropic.enqueue({ json: body });
    const message = await env.client.messages.create(requestJson(rec));
    assert.deepEqual(plain(message.usage), usage);

    const [srec] = upstreamRecording(`${ANTHROPIC}/simple_streaming`, 1);
    // message_start and message_delta both carry the counts.
    const patched = srec.response.body.replace(/"usage":\{"input_tokens":16,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,/g, '"usage":{"input_tokens":9,"cache_creation_input_tokens":2051,"cache_read_input_tokens":4104,');
    assert.equal(patched.split('"cache_read_input_tokens":4104').length, 3, 'the streamed recording was patched in message_start and message_delta');
    env.anthropic.enqueue(replay({ ...srec, response: { ...srec.response, body: patched } }));
    const { final, events } = await readStream(env.client.messages.stream(requestJson(srec)));
    assert.equal(events[0].message.usage.cache_creation_input_tokens, 2051, 'message_start usage as sent');
    assert.equal(events[0].message.usage.cache_read_input_tokens, 4104, 'message_start usage as sent');
    assert.equal(final.usage.cache_creation_input_tokens, 2051);
    assert.equal(final.usage.cache_read_input_tokens, 4104);
    assert.equal(final.usage.input_tokens, 9);
  });

  it('messages.stream: every recorded event reaches the SDK in order, byte for byte; finalMessage() is the recorded message', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple_streaming`, 1);
    env.anthropic.enqueue(replay(rec));
    const req = requestJson(rec);
    delete req.stream; // messages.stream() sets it

    const stream = env.client.messages.stream(req);
    const { events, final } = await readStream(stream);

    assert.deepEqual(lastAnthropicRequest(env.anthropic), requestJson(rec), 'upstream received the recorded streaming request');
    assert.deepEqual(events, recordedSdkEvents(rec), 'the SDK saw exactly the recorded events');
    const want = anthropicTurnOfStream(rec.response.body);
    assert.equal(final.id, want.id, "the upstream's own msg_ id");
    assert.equal(final.model, want.model);
    assert.deepEqual(plain(final.content), want.content);
    assert.equal(final.stop_reason, want.stopReason);
    assert.deepEqual(plain(final.usage), want.usage);

    // The same stream read raw: the recorded SSE blocks, padding included (pings may differ in number).
    env.anthropic.enqueue(replay(rec));
    const res = await env.client.messages.create({ ...req, stream: true }).asResponse();
    assert.equal(res.headers.get('content-type')?.split(';')[0], 'text/event-stream');
    const noPing = (body: string) => sseEvents(body).filter((e) => e.event !== 'ping').map((e) => e.raw.replace(/\r?\n\r?\n$/, ''));
    assert.deepEqual(noPing(await res.text()), noPing(rec.response.body), 'raw SSE events are the recorded bytes');
  });

  it('tools (non-streamed): tool_use with the recorded id and input, then the tool_result turn reaches Anthropic as the client sent it', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC}/tool`, 2);
    env.anthropic.enqueue(replay(turn1), replay(turn2));
    const req1 = requestJson(turn1);

    const first = await env.client.messages.create(req1);
    assert.deepEqual(lastAnthropicRequest(env.anthropic), req1);
    assert.deepEqual(plain(first), responseJson(turn1), 'tool_use message unchanged');
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    assert.ok(use, 'a tool_use block');
    assert.equal(use.name, 'weather');

    const req2 = requestJson(turn2);
    const toolResult = req2.messages.at(-1);
    assert.equal(toolResult.content[0].tool_use_id, use.id, 'the recorded follow-up answers this tool_use id');
    const followUp = { ...req1, messages: [...req1.messages, { role: 'assistant', content: first.content }, toolResult] };
    const second = await env.client.messages.create(followUp);
    const sent = lastAnthropicRequest(env.anthropic);
    assert.deepEqual(sent, plain(followUp), 'the follow-up reached Anthropic exactly as the client sent it');
    assert.deepEqual(canonical(withoutCaller(sent.messages)), canonical(req2.messages), 'and it is the recorded follow-up');
    assert.deepEqual(plain(second), responseJson(turn2));
    assert.equal(second.stop_reason, 'end_turn');
  });

  it('tools (streamed, two parallel calls): input_json_delta events pass through; finalMessage() has both tool_use inputs', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC}/multi_tool_streaming`, 2);
    env.anthropic.enqueue(replay(turn1), replay(turn2));
    const req1 = requestJson(turn1);
    delete req1.stream;

    const s1 = await readStream(env.client.messages.stream(req1));
    assert.deepEqual(s1.events, recordedSdkEvents(turn1));
    const want1 = anthropicTurnOfStream(turn1.response.body);
    assert.deepEqual(plain(s1.final.content), want1.content);
    const uses = s1.final.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    assert.deepEqual(
      uses.map((u) => [u.name, u.input]),
      want1.toolUses.map((u) => [u.name, u.input]),
    );
    assert.equal(uses.length, 2);
    assert.equal(s1.final.stop_reason, 'tool_use');

    const req2 = requestJson(turn2);
    const results = req2.messages.at(-1);
    assert.deepEqual(
      results.content.map((b: any) => b.tool_use_id),
      uses.map((u) => u.id),
      'the recorded follow-up answers these tool_use ids',
    );
    const followUp = { ...req1, messages: [...req1.messages, { role: 'assistant', content: s1.final.content }, results] };
    const s2 = await readStream(env.client.messages.stream(followUp));
    const sent = lastAnthropicRequest(env.anthropic);
    assert.equal(sent.stream, true);
    assert.deepEqual(canonical(withoutCaller(sent.messages)), canonical(req2.messages), 'the follow-up is the recorded one');
    assert.deepEqual(s2.events, recordedSdkEvents(turn2));
    assert.equal(s2.final.stop_reason, 'end_turn');
  });

  it('thinking (non-streamed): thinking block with its signature comes back unchanged and is accepted on the next turn', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC_THINKING}/thinking`, 2);
    env.anthropic.enqueue(replay(turn1), replay(turn2));
    const req1 = requestJson(turn1);

    const first = await env.client.messages.create(req1);
    assert.deepEqual(lastAnthropicRequest(env.anthropic).thinking, { budget_tokens: 4000, type: 'enabled' });
    assert.deepEqual(plain(first), responseJson(turn1));
    const thinking = first.content.find((b): b is Anthropic.ThinkingBlock => b.type === 'thinking');
    assert.ok(thinking, 'a thinking block');
    assert.equal(thinking.signature, responseJson(turn1).content[0].signature, 'the signature, whole');

    const req2 = requestJson(turn2);
    const followUp = { ...req1, messages: [...req1.messages, { role: 'assistant', content: first.content }, req2.messages.at(-1)] };
    const second = await env.client.messages.create(followUp);
    const sent = lastAnthropicRequest(env.anthropic);
    assert.deepEqual(canonical(withoutCaller(sent.messages)), canonical(req2.messages), 'the signed thinking block went back to Anthropic as recorded');
    assert.equal(sent.messages[1].content[0].signature, thinking.signature);
    assert.deepEqual(plain(second), responseJson(turn2));
  });

  it('thinking (streamed, with cache_control): thinking_delta and signature_delta pass through; the signed block is accepted on the next turn', async () => {
    const [turn1, turn2] = upstreamRecording(`${ANTHROPIC_THINKING_CACHE}/thinking-streaming`, 2);
    env.anthropic.enqueue(replay(turn1), replay(turn2));
    const req1 = requestJson(turn1);
    delete req1.stream;

    const s1 = await readStream(env.client.messages.stream(req1));
    assert.deepEqual(s1.events, recordedSdkEvents(turn1));
    const sigs = s1.events.filter((e) => e.delta?.type === 'signature_delta');
    assert.equal(sigs.length, 1, 'one signature_delta');
    const want = anthropicTurnOfStream(turn1.response.body);
    assert.deepEqual(plain(s1.final.content), want.content);
    const block = s1.final.content[0] as Anthropic.ThinkingBlock;
    assert.equal(block.type, 'thinking');
    assert.equal(block.signature, want.thinking[0].signature);
    assert.ok(block.signature.length > 100, 'a real signature');
    for (const k of ['cache_creation_input_tokens', 'cache_read_input_tokens'] as const) {
      assert.equal(s1.events[0].message.usage[k], want.usage[k] === undefined ? undefined : 0, `message_start usage.${k}`);
    }

    const req2 = requestJson(turn2);
    const followUp = { ...req1, messages: [...req1.messages, { role: 'assistant', content: s1.final.content }, req2.messages.at(-1)] };
    const s2 = await readStream(env.client.messages.stream(followUp));
    const sent = lastAnthropicRequest(env.anthropic);
    assert.equal(sent.messages[1].content[0].signature, block.signature, 'the signature went back to Anthropic unchanged');
    assert.equal(sent.messages[1].content[0].thinking, block.thinking);
    assert.deepEqual(s2.events, recordedSdkEvents(turn2));
  });

  it("Anthropic's own model ids: claude-sonnet-4-5 and claude-sonnet-4-5-20250929 reach Anthropic as claude-sonnet-4-5-20250929", async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple`, 1);
    for (const model of ['claude-sonnet-4-5', 'claude-sonnet-4-5-20250929', 'anthropic/claude-sonnet-4.5']) {
      env.anthropic.enqueue(anthropicReplyAs(rec, 'claude-sonnet-4-5-20250929'));
      const before = counts(env);
      const message = await env.client.messages.create({ ...requestJson(rec), model });
      assertOneRequestTo(env, before, 'anthropic');
      const sent = lastAnthropicRequest(env.anthropic);
      assert.equal(sent.model, 'claude-sonnet-4-5-20250929', `${model} → Anthropic's dated id`);
      assert.deepEqual({ ...sent, model: SONNET_4 }, requestJson(rec), `${model}: the rest of the body unchanged`);
      assert.equal(message.model, 'claude-sonnet-4-5-20250929');
      assert.equal(message.content[0].type === 'text' && message.content[0].text, responseJson(rec).content[0].text);
    }
    // And Sonnet 4's own undated alias.
    env.anthropic.enqueue(replay(rec));
    await env.client.messages.create({ ...requestJson(rec), model: 'claude-sonnet-4-0' });
    assert.equal(lastAnthropicRequest(env.anthropic).model, SONNET_4);
  });

  it('client.beta.messages (?beta=true, anthropic-beta header): the betas reach Anthropic with the body unchanged', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple`, 1);
    env.anthropic.enqueue(replay(rec));
    const message = await env.client.beta.messages.create({ ...requestJson(rec), betas: ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27'] });
    const sent = env.anthropic.requests.at(-1)!;
    assert.deepEqual(sent.json, requestJson(rec), 'body unchanged (betas travel as a header)');
    assert.deepEqual(
      String(sent.headers['anthropic-beta'])
        .split(',')
        .map((b) => b.trim())
        .sort(),
      ['context-management-2025-06-27', 'interleaved-thinking-2025-05-14'],
    );
    assert.deepEqual(plain(message), responseJson(rec));
  });

  it('count_tokens: forwarded to the Anthropic upstream that would serve the model; the estimate when it cannot answer', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/tool`, 2);
    const req = requestJson(rec);
    const before = counts(env);
    env.anthropic.enqueue({ json: { input_tokens: 1234 } });
    const withTools = await env.client.messages.countTokens({ model: req.model, system: req.system, messages: req.messages, tools: req.tools });
    assert.deepEqual(plain(withTools), { input_tokens: 1234 }, "the upstream's own count, as it gave it");
    const sent = env.anthropic.requests.at(-1)!;
    assert.equal(sent.path, '/v1/messages/count_tokens');
    assert.equal(sent.headers['x-api-key'], 'test-key-anthropic', "the gateway's provider key");
    assert.ok(sent.headers['anthropic-version']);
    assert.deepEqual(Object.keys(sent.json).sort(), ['messages', 'model', 'system', 'tools'], 'only what count_tokens accepts (no max_tokens, no stream)');
    assert.deepEqual(sent.json.tools, req.tools);
    assert.deepEqual(sent.json.messages, req.messages);

    // An upstream that fails to count: the gateway's estimate (~4 characters per token), larger with tools.
    env.anthropic.enqueue({ status: 500, json: { type: 'error', error: { type: 'api_error', message: 'boom' } } }, { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'busy' } } });
    const estimated = await env.client.messages.countTokens({ model: req.model, system: req.system, messages: req.messages, tools: req.tools });
    const without = await env.rootClient.messages.countTokens({ model: 'claude-sonnet-4-5', system: req.system, messages: req.messages });
    assert.ok(Number.isInteger(estimated.input_tokens) && estimated.input_tokens > 0, `input_tokens ${estimated.input_tokens}`);
    assert.ok(Number.isInteger(without.input_tokens) && without.input_tokens > 0);
    assert.ok(estimated.input_tokens > without.input_tokens, `tools count: ${estimated.input_tokens} > ${without.input_tokens}`);
    assert.deepEqual(Object.keys(plain(estimated)), ['input_tokens']);
    assert.deepEqual(counts(env), { ...before, anthropic: before.anthropic + 3 }, 'one count request per call, to the Anthropic upstream only');
  });

  it('errors: upstream 429 → RateLimitError with Anthropic\'s error body (non-streamed and streamed)', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple`, 1);
    const limited = {
      type: 'error',
      error: {
        type: 'rate_limit_error',
        message: 'This request would exceed the rate limit for your organization of 30,000 input tokens per minute.',
      },
      request_id: 'req_011CTest429',
    };
    const reply429: MockReply = { status: 429, headers: { 'retry-after': '17', 'request-id': 'req_011CTest429' }, json: limited };
    for (const stream of [false, true]) {
      freshHealth(env.gw);
      env.anthropic.enqueue(reply429);
      const before = counts(env);
      const call = stream ? readStream(env.client.messages.stream(requestJson(rec))) : env.client.messages.create(requestJson(rec));
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof RateLimitError, `stream=${stream}: expected RateLimitError, got ${String(err)}`);
        assert.equal(err.status, 429);
        const body = err.error as any;
        assert.equal(body?.type, 'error', `stream=${stream}: Anthropic's envelope {type:"error", error:{type, message}}; got ${JSON.stringify(body)}`);
        assert.equal(body.error?.type, 'rate_limit_error');
        assert.equal(err.type, 'rate_limit_error');
        assert.ok(String(body.error.message).includes(limited.error.message), `stream=${stream}: the upstream's message reaches the client: ${body.error.message}`);
        return true;
      });
      assertOneRequestTo(env, before, 'anthropic');
    }
  });

  it("errors: Anthropic's own mid-stream error event (overloaded_error) reaches the SDK after the text already streamed", async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple_streaming`, 1);
    const events = sseEvents(rec.response.body);
    const cut = events.findIndex((e) => e.json?.type === 'content_block_delta') + 2;
    const overloaded = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
    env.anthropic.enqueue({ sse: [...events.slice(0, cut).map((e) => e.raw), `event: error\ndata: ${JSON.stringify(overloaded)}\n\n`] });
    const req = requestJson(rec);
    delete req.stream;
    const stream = env.client.messages.stream(req);
    let text = '';
    stream.on('text', (t) => (text += t));
    await assert.rejects(stream.finalMessage(), (err: unknown) => {
      assert.ok(err instanceof APIError, `expected an APIError from the error event, got ${String(err)}`);
      const body = err.error as any;
      assert.equal(body?.type, 'error', `Anthropic's error envelope; got ${JSON.stringify(body)}`);
      // Passthrough promises Anthropic's events as sent: the error's type is what clients branch on
      // (Claude Code and the SDKs treat overloaded_error as "retry later").
      assert.equal(
        body.error?.type,
        'overloaded_error',
        `passthrough stream: Anthropic's own error event ${JSON.stringify(overloaded)} must reach the client with its type; got ${JSON.stringify(body)}`,
      );
      assert.equal(err.type, 'overloaded_error');
      assert.ok(String(body.error.message).includes('Overloaded'), body.error.message);
      return true;
    });
    const want = events.slice(0, cut).filter((e) => e.json?.delta?.type === 'text_delta').map((e) => e.json.delta.text).join('');
    assert.equal(text, want, 'the text before the error reached the client');
  });

  it('errors: invalid bodies → BadRequestError (invalid_request_error) before any upstream call; an upstream 400 → BadRequestError', async () => {
    const before = counts(env);
    const invalid: [string, any][] = [
      ['no max_tokens', { model: SONNET_4, messages: [{ role: 'user', content: 'hi' }] }],
      ['no messages', { model: SONNET_4, max_tokens: 10 }],
      ['role "robot" in messages', { model: SONNET_4, max_tokens: 10, messages: [{ role: 'robot', content: 'x' }] }],
      ['max_tokens a string', { model: SONNET_4, max_tokens: 'lots', messages: [{ role: 'user', content: 'hi' }] }],
      ['text block without text', { model: SONNET_4, max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text' }] }] }],
      ['tool_use in a user message', { model: SONNET_4, max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'toolu_1', name: 'x', input: {} }] }] }],
      ['unknown model', { model: 'claude-nonexistent-9', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }],
    ];
    for (const [label, body] of invalid) {
      await assert.rejects(env.client.messages.create(body), (err: unknown) => {
        assert.ok(err instanceof APIError, `${label}: expected an APIError, got ${String(err)}`);
        assert.ok(err instanceof BadRequestError, `${label}: expected BadRequestError (400), got ${err.status} ${JSON.stringify(err.error)}`);
        const e = err.error as any;
        assert.equal(e?.type, 'error', `${label}: Anthropic's envelope, got ${JSON.stringify(e)}`);
        assert.equal(e.error?.type, 'invalid_request_error', label);
        assert.equal(typeof e.error.message, 'string');
        assert.ok(e.error.message.length > 0, label);
        return true;
      });
    }
    assert.deepEqual(counts(env), before, 'no upstream call for an invalid body');

    const [rec] = upstreamRecording(`${ANTHROPIC}/simple`, 1);
    const upstream400 = { type: 'error', error: { type: 'invalid_request_error', message: 'messages.0.content.0.text: text content blocks must be non-empty' } };
    env.anthropic.enqueue({ status: 400, json: upstream400 });
    await assert.rejects(env.client.messages.create(requestJson(rec)), (err: unknown) => {
      assert.ok(err instanceof BadRequestError, `upstream 400: expected BadRequestError, got ${String(err)}`);
      const e = err.error as any;
      assert.equal(e?.error?.type, 'invalid_request_error');
      assert.ok(String(e.error.message).includes(upstream400.error.message), `the upstream's words reach the client: ${e.error.message}`);
      return true;
    });
  });
});

// ------------------------------------------------------------------------------------------------

describe('@anthropic-ai/sdk → Switchyard Messages → OpenAI-compatible upstreams (translated, recorded Groq and Z.AI traffic)', () => {
  let env: Env;
  before(async () => {
    env = await startEnv();
  });
  after(() => stopEnv(env));
  beforeEach(() => freshHealth(env.gw));

  const ask = (model: string, user: string, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}): Anthropic.MessageCreateParamsNonStreaming => ({
    model,
    max_tokens: 4000,
    system: SYSTEM,
    messages: [{ role: 'user', content: user }],
    ...extra,
  });

  it('messages.create: translated chat request; the answer as an Anthropic message (text, end_turn, usage, gen id, requested model)', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    env.groq.enqueue(chatReply(rec));
    const before = counts(env);

    const { data: message, response } = await env.client.messages.create(ask(KIMI, 'Say hi in Portuguese')).withResponse();

    assertOneRequestTo(env, before, 'groq');
    const sent = lastChatRequest(env.groq);
    const recordedReq = requestJson(rec);
    assert.equal(sent.model, KIMI_UPSTREAM);
    assert.deepEqual(sent.messages, recordedReq.messages, 'system + user as the recorded chat request');
    assert.equal(sent.max_tokens, 4000);
    assert.ok(sent.stream !== true);

    const want = chatTurnOf(rec);
    assert.match(message.id, GEN_ID, 'message id = generation id');
    assert.equal(response.headers.get('x-generation-id'), message.id);
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, KIMI, 'the model id the client asked for');
    assert.deepEqual(plain(message.content), [{ type: 'text', text: want.text }]);
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.stop_sequence, null);
    assert.equal(message.usage.input_tokens, want.usage.prompt_tokens);
    assert.equal(message.usage.output_tokens, want.usage.completion_tokens);
    assert.equal(message.usage.cache_read_input_tokens, 0);
    assert.equal(message.usage.cache_creation_input_tokens, 0);
  });

  it('cached prompt tokens (Z.AI prompt_tokens_details.cached_tokens) → cache_read_input_tokens, input_tokens without them', async () => {
    const [rec] = upstreamRecording(`${ZAI}/simple`, 1);
    env.zai.enqueue(chatReply(rec));
    const message = await env.client.messages.create(ask(GLM, 'Say hi in Portuguese'));
    const want = chatTurnOf(rec);
    const cached = want.usage.prompt_tokens_details?.cached_tokens ?? 0;
    assert.equal(message.usage.cache_read_input_tokens, cached);
    assert.equal(message.usage.input_tokens, want.usage.prompt_tokens - cached, "Anthropic's input_tokens excludes cache reads");
    assert.equal(message.usage.output_tokens, want.usage.completion_tokens);
    const text = message.content.filter((b) => b.type === 'text').map((b) => (b as Anthropic.TextBlock).text).join('');
    assert.equal(text, want.text);
  });

  it('messages.stream: a well-formed Anthropic event sequence; text_delta joins into the recorded text; finalMessage() usage', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple_streaming`, 1);
    env.groq.enqueue(chatReply(rec));
    const want = chatTurnOf(rec);

    const { events, final } = await readStream(env.client.messages.stream(ask(KIMI, 'Say hi in Portuguese')));

    const sent = lastChatRequest(env.groq);
    assert.equal(sent.stream, true);
    assert.deepEqual(sent.messages, requestJson(rec).messages);
    assertEventGrammar(events, 'Kimi stream');
    assert.match(events[0].message.id, GEN_ID);
    assert.equal(events[0].message.model, KIMI);
    const text = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');
    assert.equal(text, want.text);
    assert.deepEqual(plain(final.content), [{ type: 'text', text: want.text }]);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.input_tokens, want.usage.prompt_tokens);
    assert.equal(final.usage.output_tokens, want.usage.completion_tokens);
  });

  it('tools (non-streamed): tool_use block with a sendable id; the tool_result turn reaches the upstream as a tool message for that call', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool`, 2);
    env.groq.enqueue(chatReply(turn1), chatReply(turn2));
    const want1 = chatTurnOf(turn1);
    const req = ask(KIMI, "What's the weather in Florence,Italy?", { tools: [WEATHER], tool_choice: { type: 'auto' } });

    const first = await env.client.messages.create(req);
    const sent1 = lastChatRequest(env.groq);
    const recordedTools = requestJson(turn1).tools.map((t: any) => ({ name: t.function.name, description: t.function.description, parameters: t.function.parameters }));
    assert.deepEqual(
      canonical(sent1.tools.map((t: any) => ({ name: t.function.name, description: t.function.description, parameters: t.function.parameters }))),
      canonical(recordedTools),
      'the Anthropic tool became the recorded function tool',
    );
    assert.equal(first.stop_reason, 'tool_use');
    const uses = first.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    assert.equal(uses.length, 1);
    assert.equal(uses[0].name, want1.toolCalls[0].name);
    assert.deepEqual(uses[0].input, JSON.parse(want1.toolCalls[0].arguments));
    assert.match(uses[0].id, /^[a-zA-Z0-9_-]+$/, 'a tool_use id Anthropic would accept back');

    const second = await env.client.messages.create({
      ...req,
      messages: [...req.messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: '40 C' }] }],
    });
    const sent2 = lastChatRequest(env.groq);
    const recorded2 = requestJson(turn2).messages;
    assert.deepEqual(
      sent2.messages.map((m: any) => m.role),
      recorded2.map((m: any) => m.role),
      'system, user, assistant (tool call), tool',
    );
    const call = sent2.messages[2].tool_calls?.[0];
    assert.ok(call, `the assistant turn carries the tool call: ${JSON.stringify(sent2.messages[2])}`);
    assert.equal(call.function.name, 'weather');
    assert.deepEqual(JSON.parse(call.function.arguments), JSON.parse(recorded2[2].tool_calls[0].function.arguments));
    assert.equal(sent2.messages[3].tool_call_id, call.id, 'the tool message answers that call');
    assert.equal(sent2.messages[3].content, '40 C');
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal((second.content[0] as Anthropic.TextBlock).text, chatTurnOf(turn2).text);
  });

  it('tools (streamed): text then tool_use with input_json_delta; finalMessage() input parsed; the follow-up stream answers', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool_streaming`, 2);
    env.groq.enqueue(chatReply(turn1), chatReply(turn2));
    const want1 = chatTurnOf(turn1);
    const req = ask(KIMI, "What's the weather in Florence,Italy?", { tools: [WEATHER] });

    const s1 = await readStream(env.client.messages.stream(req));
    assertEventGrammar(s1.events, 'tool stream');
    const blocks = s1.events.filter((e) => e.type === 'content_block_start').map((e) => e.content_block.type);
    assert.deepEqual(blocks, ['text', 'tool_use']);
    const json = s1.events.filter((e) => e.delta?.type === 'input_json_delta').map((e) => e.delta.partial_json).join('');
    assert.deepEqual(JSON.parse(json), JSON.parse(want1.toolCalls[0].arguments));
    assert.equal(s1.final.stop_reason, 'tool_use');
    assert.equal((s1.final.content[0] as Anthropic.TextBlock).text, want1.text);
    const use = s1.final.content[1] as Anthropic.ToolUseBlock;
    assert.equal(use.name, 'weather');
    assert.deepEqual(use.input, JSON.parse(want1.toolCalls[0].arguments));

    const s2 = await readStream(
      env.client.messages.stream({
        ...req,
        messages: [...req.messages, { role: 'assistant', content: s1.final.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: [{ type: 'text', text: '40 C' }] }] }],
      }),
    );
    const sent = lastChatRequest(env.groq);
    assert.equal(sent.messages[2].content, want1.text, 'the assistant text went back');
    assert.equal(sent.messages[3].tool_call_id, sent.messages[2].tool_calls[0].id);
    assertEventGrammar(s2.events, 'follow-up stream');
    assert.equal((s2.final.content[0] as Anthropic.TextBlock).text, chatTurnOf(turn2).text);
  });

  it('thinking (non-streamed, Z.AI reasoning_content): a thinking block before the tool_use; sent back with the tool_result it is accepted', async () => {
    const [turn1, turn2] = upstreamRecording(`${ZAI}/tool`, 2);
    env.zai.enqueue(chatReply(turn1), chatReply(turn2));
    const want1 = chatTurnOf(turn1);
    const req = ask(GLM, "What's the weather in Florence,Italy?", { tools: [WEATHER], thinking: { type: 'enabled', budget_tokens: 2048 } });

    const first = await env.client.messages.create(req);
    assert.deepEqual(
      first.content.map((b) => b.type),
      ['thinking', 'tool_use'],
    );
    const thinking = first.content[0] as Anthropic.ThinkingBlock;
    assert.equal(thinking.thinking, want1.reasoning);
    assert.equal(typeof thinking.signature, 'string', 'a thinking block always has a signature field');

    const use = first.content[1] as Anthropic.ToolUseBlock;
    const second = await env.client.messages.create({
      ...req,
      messages: [...req.messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '40 C' }] }],
    });
    const sent = lastChatRequest(env.zai);
    assert.equal(sent.messages.at(-1).role, 'tool');
    assert.equal(sent.messages.at(-1).tool_call_id, sent.messages.at(-2).tool_calls[0].id);
    const want2 = chatTurnOf(turn2);
    assert.deepEqual(
      second.content.map((b) => b.type),
      ['thinking', 'text'],
    );
    assert.equal((second.content[0] as Anthropic.ThinkingBlock).thinking, want2.reasoning);
    assert.equal((second.content[1] as Anthropic.TextBlock).text, want2.text);
  });

  it('thinking (streamed, Z.AI): thinking_delta events join into the recorded reasoning; the next turn with the block sent back streams', async () => {
    const [turn1, turn2] = upstreamRecording(`${ZAI}/tool_streaming`, 2);
    env.zai.enqueue(chatReply(turn1), chatReply(turn2));
    const want1 = chatTurnOf(turn1);
    const req = ask(GLM, "What's the weather in Florence,Italy?", { tools: [WEATHER], thinking: { type: 'enabled', budget_tokens: 2048 } });

    const s1 = await readStream(env.client.messages.stream(req));
    assertEventGrammar(s1.events, 'GLM thinking stream');
    const reasoning = s1.events.filter((e) => e.delta?.type === 'thinking_delta').map((e) => e.delta.thinking).join('');
    assert.equal(reasoning, want1.reasoning);
    const thinking = s1.final.content.find((b): b is Anthropic.ThinkingBlock => b.type === 'thinking');
    assert.ok(thinking);
    assert.equal(thinking.thinking, want1.reasoning);
    const use = s1.final.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    assert.ok(use);
    assert.deepEqual(use.input, JSON.parse(want1.toolCalls[0].arguments));
    const cached = want1.usage.prompt_tokens_details.cached_tokens;
    assert.equal(s1.final.usage.cache_read_input_tokens, cached);
    assert.equal(s1.final.usage.input_tokens, want1.usage.prompt_tokens - cached);

    const s2 = await readStream(
      env.client.messages.stream({
        ...req,
        messages: [...req.messages, { role: 'assistant', content: s1.final.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '40 C' }] }],
      }),
    );
    assertEventGrammar(s2.events, 'GLM follow-up stream');
    const want2 = chatTurnOf(turn2);
    const text = s2.final.content.filter((b) => b.type === 'text').map((b) => (b as Anthropic.TextBlock).text).join('');
    assert.equal(text, want2.text);
  });

  it('request fields translated: tool_choice any / tool, stop_sequences, temperature, top_p; finish_reason length → stop_reason max_tokens', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    const cut = { ...responseJson(rec) };
    cut.choices = [{ ...cut.choices[0], finish_reason: 'length' }];
    env.groq.enqueue({ json: cut }, replay(rec));
    const m = await env.client.messages.create(
      ask(KIMI, 'Say hi in Portuguese', { tools: [WEATHER], tool_choice: { type: 'any' }, stop_sequences: ['\n\n', 'END'], temperature: 0.3, top_p: 0.9 } as any),
    );
    const sent = lastChatRequest(env.groq);
    assert.equal(sent.tool_choice, 'required', 'tool_choice {type:"any"} → "required"');
    assert.deepEqual(sent.stop, ['\n\n', 'END']);
    assert.equal(sent.temperature, 0.3);
    assert.equal(sent.top_p, 0.9);
    assert.equal(m.stop_reason, 'max_tokens', 'finish_reason "length" → stop_reason "max_tokens"');

    await env.client.messages.create(ask(KIMI, 'Say hi in Portuguese', { tools: [WEATHER], tool_choice: { type: 'tool', name: 'weather', disable_parallel_tool_use: true } }));
    const sent2 = lastChatRequest(env.groq);
    assert.deepEqual(sent2.tool_choice, { type: 'function', function: { name: 'weather' } });
    // (parallel_tool_calls is not sent: the catalog does not list it for this endpoint, and
    // unsupported parameters are dropped as OpenRouter drops them.)
  });

  it('count_tokens for a model served only by an OpenAI-compatible upstream', async () => {
    const before = counts(env);
    const r = await env.client.messages.countTokens({ model: KIMI, system: SYSTEM, messages: [{ role: 'user', content: "What's the weather in Florence,Italy?" }], tools: [WEATHER] });
    assert.ok(Number.isInteger(r.input_tokens) && r.input_tokens > 0, `input_tokens ${r.input_tokens}`);
    assert.deepEqual(counts(env), before);
  });

  it('errors: Groq 429 → RateLimitError in Anthropic\'s shape (non-streamed and streamed), no other provider tried', async () => {
    // Groq's own 429, recorded through OpenRouter (the upstream side derived from it).
    const [limited] = loadCassette('openrouter/TestOpenRouterCommon/simple_kimi-k2_groq.yaml');
    assert.equal(limited.response.code, 429);
    for (const stream of [false, true]) {
      freshHealth(env.gw);
      env.groq.enqueue(replyFromRecording(limited.response, { upstreamModel: KIMI_UPSTREAM }));
      const before = counts(env);
      const params = ask(KIMI, 'Say hi in Portuguese');
      const call = stream ? readStream(env.client.messages.stream(params)) : env.client.messages.create(params);
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof RateLimitError, `stream=${stream}: expected RateLimitError, got ${String(err)}`);
        const e = err.error as any;
        assert.equal(e?.type, 'error', `stream=${stream}: Anthropic's envelope; got ${JSON.stringify(e)}`);
        assert.equal(e.error?.type, 'rate_limit_error');
        assert.equal(typeof e.error.message, 'string');
        return true;
      });
      assertOneRequestTo(env, before, 'groq');
    }
  });

  it('errors: the upstream connection drops mid-stream → an Anthropic error event; the SDK throws after the text it got', async () => {
    const [rec] = upstreamRecording(`${GROQ}/tool_streaming`, 2);
    const chunks = sseEvents(rec.response.body).map((e) => e.raw);
    env.groq.enqueue({ fault: 'reset-mid-stream', sse: chunks, afterEvents: 4 });
    const want = chatTurnOf({ ...rec, response: { ...rec.response, body: chunks.slice(0, 4).join('') } }).text;
    assert.ok(want.length > 0, 'some text streams before the drop');
    const stream = env.client.messages.stream(ask(KIMI, "What's the weather in Florence,Italy?", { tools: [WEATHER] }));
    const events: any[] = [];
    stream.on('streamEvent', (e) => events.push(plain(e)));
    await assert.rejects(stream.finalMessage(), (err: unknown) => {
      assert.ok(err instanceof APIError, `expected an APIError from an error event, got ${String(err)}`);
      const body = err.error as any;
      assert.equal(body?.type, 'error', `Anthropic's error envelope; got ${JSON.stringify(body)}`);
      assert.ok(['api_error', 'overloaded_error'].includes(body.error?.type), `error type ${body.error?.type}`);
      return true;
    });
    assert.equal(events[0]?.type, 'message_start');
    const text = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');
    assert.equal(text, want, 'the text streamed before the drop');
    assert.ok(!events.some((e) => e.type === 'message_stop'), 'no message_stop after a failure');
  });

  it('errors: invalid body for a translated model → BadRequestError; nothing reaches the upstream', async () => {
    const before = counts(env);
    await assert.rejects(env.client.messages.create({ model: KIMI, max_tokens: 10, messages: [] } as any), (err: unknown) => {
      assert.ok(err instanceof BadRequestError, `empty messages: expected BadRequestError, got ${String(err)}`);
      assert.equal((err.error as any)?.error?.type, 'invalid_request_error');
      return true;
    });
    await assert.rejects(env.client.messages.create({ model: KIMI, max_tokens: 10, temperature: 7, messages: [{ role: 'user', content: 'hi' }] } as any), (err: unknown) => {
      assert.ok(err instanceof BadRequestError, `temperature 7: expected BadRequestError, got ${String(err)}`);
      assert.equal((err.error as any)?.error?.type, 'invalid_request_error');
      return true;
    });
    assert.deepEqual(counts(env), before, 'no upstream call');
  });
});

// ------------------------------------------------------------------------------------------------

describe('@anthropic-ai/sdk → Switchyard with API keys: x-api-key authenticates; errors in Anthropic\'s shape', () => {
  const KEY = 'sk-sy-messages-000001';
  let anthropic: MockUpstream;
  let gw: Gateway;
  before(async () => {
    anthropic = await startMockUpstream();
    gw = await startGateway({ providers: { anthropic: anthropic.baseUrl }, apiKeys: [KEY] });
  });
  after(async () => {
    await gw?.close();
    await anthropic?.close();
  });

  const client = (apiKey: string) => new Anthropic({ apiKey, baseURL: `${gw.url}/api`, maxRetries: 0, timeout: 10_000 });

  it('the SDK\'s x-api-key is the gateway key: create, stream and count_tokens work; a wrong key is AuthenticationError (authentication_error)', async () => {
    const [rec] = upstreamRecording(`${ANTHROPIC}/simple`, 1);
    const [srec] = upstreamRecording(`${ANTHROPIC}/simple_streaming`, 1);
    anthropic.enqueue(replay(rec), replay(srec));
    const ok = client(KEY);
    const m = await ok.messages.create(requestJson(rec));
    assert.deepEqual(plain(m), responseJson(rec));
    assert.equal(anthropic.requests.at(-1)!.headers['x-api-key'], 'test-key-anthropic', "the provider's key upstream, never the client's");
    const req = requestJson(srec);
    delete req.stream;
    const { final } = await readStream(ok.messages.stream(req));
    assert.equal(final.id, anthropicTurnOfStream(srec.response.body).id);
    const counted = await ok.messages.countTokens({ model: SONNET_4, messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(counted.input_tokens > 0);

    const before = anthropic.requests.length;
    for (const [label, call] of [
      ['create', () => client('sk-wrong-000000').messages.create(requestJson(rec))],
      ['count_tokens', () => client('sk-wrong-000000').messages.countTokens({ model: SONNET_4, messages: [{ role: 'user', content: 'hi' }] })],
    ] as const) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof AuthenticationError, `${label}: expected AuthenticationError (401), got ${String(err)}`);
        const e = err.error as any;
        assert.equal(e?.type, 'error', `${label}: Anthropic's envelope; got ${JSON.stringify(e)}`);
        assert.equal(e.error?.type, 'authentication_error', label);
        return true;
      });
    }
    assert.equal(anthropic.requests.length, before, 'no upstream call without a valid key');
  });
});
