/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Amazon Bedrock through a mock Bedrock runtime (test/support/bedrock-mock.ts) that verifies each
 * request's SigV4 signature with AWS's own signer (or its API key) and replays recorded Bedrock
 * traffic (test/fixtures/cassettes/upstream/TestBedrock*), binary event streams included.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { loadCassette } from './support/cassettes.js';
import { replyFromUpstreamRecording, startMockUpstream, type MockReply, type MockUpstream } from './support/mock-upstream.js';
import { postChat, startGateway, type Gateway } from './support/gateway.js';
import {
  anthropicChunkFrame,
  BEDROCK_STREAM_TYPE,
  cut,
  eventFrame,
  exceptionFrame,
  framesOf,
  recordedBedrock,
  reframeAnthropicSse,
  replyFromBedrockRecording,
  startMockBedrock,
  THROTTLED,
  bedrockError,
  type MockBedrock,
} from './support/bedrock-mock.js';
import { eventStreamFraming, MAX_HEADERS_BYTES, MAX_MESSAGE_BYTES } from '../src/providers/bedrock/eventstream.js';
import { MalformedStream } from '../src/providers/types.js';
import { bedrockRegion } from '../src/providers/bedrock/routes.js';
import { BedrockAdapter } from '../src/providers/bedrock/adapter.js';
import { parseBedrockError } from '../src/providers/bedrock/errors.js';
import { accessKeyOf } from '../src/upstream/aws-auth.js';
import { loadSettings } from '../src/config/load.js';

const REGION = 'us-west-2';
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION = 'FwoGZXIvYXdzEXAMPLEsessiontoken';
const SONNET = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const HAIKU = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const onlyBedrock = { provider: { only: ['amazon-bedrock'] } };
const WEATHER = { type: 'function', function: { name: 'weather', description: 'Get weather information for a location', parameters: { type: 'object', properties: { location: { type: 'string', description: 'the city' } }, required: ['location'] } } };

/** The `data:` payloads of an SSE body (any wire), parsed. */
async function sseJson(res: Response): Promise<any[]> {
  const raw = await res.text();
  return raw
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));
}

/** A frame whose prelude announces `total` bytes (its own bytes follow, far fewer than announced). */
function announcing(total: number): Buffer {
  const frame = Buffer.from(eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'never read' } }));
  frame.writeUInt32BE(total, 0);
  return frame;
}

const generation = async (gw: Gateway, id: string) => ((await (await fetch(`${gw.baseUrl}/generation?id=${id}`)).json()) as any).data;

const deltas = (chunks: any[], field: 'content' | 'reasoning') => chunks.map((c) => c.choices?.[0]?.delta?.[field] ?? '').join('');

/**
 * Answers with one recording when the request went to the recorded route and, with `sameBody`,
 * carries the recorded body (as JSON: key order aside), as a replaying upstream matches.
 */
function replay(bedrock: MockBedrock, path: string, index = 0, sameBody = false): void {
  const rec = recordedBedrock(path, index);
  const recordedPath = new URL(rec.url).pathname;
  bedrock.answer((r) => {
    if (r.path !== recordedPath) return bedrockError(404, 'ResourceNotFoundException', `unexpected route ${r.path}, recorded ${recordedPath}`);
    if (sameBody && !isDeepStrictEqual(r.json, rec.body)) return bedrockError(400, 'ValidationException', `no recording of this body: ${r.body}`);
    return replyFromBedrockRecording(rec.response);
  });
}

describe('Amazon Bedrock (SigV4)', () => {
  let bedrock: MockBedrock;
  let anthropic: MockUpstream;
  let gw: Gateway;
  before(async () => {
    [bedrock, anthropic] = await Promise.all([startMockBedrock({ region: REGION, accessKeys: { [KEY_ID]: SECRET } }), startMockUpstream()]);
    gw = await startGateway({
      providers: { anthropic: anthropic.baseUrl },
      env: { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: SESSION, AWS_REGION: REGION, AMAZON_BEDROCK_BASE_URL: bedrock.url },
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([bedrock.close(), anthropic.close()]);
  });

  it('plain: InvokeModel with the Anthropic body, signed for the region and the service bedrock', async () => {
    replay(bedrock, 'TestBedrockCommon/bedrock-anthropic-claude-sonnet-4-5/simple', 0, true);
    const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'system', content: 'You are a helpful assistant' }, { role: 'user', content: 'Say hi in Portuguese' }], max_tokens: 4000, ...onlyBedrock });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.provider, 'Amazon Bedrock');
    assert.equal(body.choices[0].message.content, 'Olá!');
    assert.equal(body.choices[0].finish_reason, 'stop');
    assert.equal(body.usage.prompt_tokens, 16);
    assert.equal(body.usage.completion_tokens, 7);
    assert.ok(body.usage.cost > 0);
    const sent = bedrock.accepted.at(-1)!;
    assert.equal(sent.path, '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke', 'the model id is one escaped path segment');
    assert.equal(sent.modelId, SONNET);
    assert.equal(sent.principal, KEY_ID);
    assert.equal(sent.headers['x-amz-security-token'], SESSION);
    assert.match(String(sent.headers.authorization), new RegExp(`Credential=${KEY_ID}/\\d{8}/${REGION}/bedrock/aws4_request`));
    assert.equal(sent.json.anthropic_version, 'bedrock-2023-05-31');
    assert.equal(sent.json.model, undefined);
    assert.equal(sent.json.stream, undefined);
    assert.deepEqual(sent.json.system, [{ type: 'text', text: 'You are a helpful assistant' }]);
  });

  it('streaming: the binary event stream, cut at arbitrary bytes, becomes chat chunks with usage and cost', async () => {
    replay(bedrock, 'TestBedrockCommon/bedrock-anthropic-claude-sonnet-4-5/simple_streaming', 0, true);
    const res = await postChat(gw, {
      model: 'anthropic/claude-sonnet-4.5',
      messages: [{ role: 'system', content: 'You are a helpful assistant' }, { role: 'user', content: 'Say hi in Portuguese' }],
      max_tokens: 4000,
      stream: true,
      ...onlyBedrock,
    });
    assert.equal(res.status, 200);
    const chunks = await sseJson(res);
    assert.equal(deltas(chunks, 'content'), 'Olá!');
    assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'stop'));
    const last = chunks.at(-1);
    assert.equal(last.usage.completion_tokens, 7);
    assert.ok(last.usage.cost > 0);
    assert.equal(last.provider, 'Amazon Bedrock');
    assert.equal(bedrock.accepted.at(-1)!.action, 'invoke-with-response-stream');
    assert.equal(bedrock.accepted.at(-1)!.headers.accept, BEDROCK_STREAM_TYPE);
  });

  it('tools: a recorded tool call, one body and streamed', async () => {
    replay(bedrock, 'TestBedrockCommon/bedrock-anthropic-claude-haiku-4-5/tool', 0, true);
    const ask = {
      model: 'anthropic/claude-haiku-4.5',
      messages: [{ role: 'system', content: 'You are a helpful assistant' }, { role: 'user', content: "What's the weather in Florence,Italy?" }],
      tools: [WEATHER],
      tool_choice: 'auto',
      max_tokens: 4000,
      ...onlyBedrock,
    };
    let res = await postChat(gw, ask);
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const call = body.choices[0].message.tool_calls[0];
    assert.equal(call.function.name, 'weather');
    assert.match(call.function.arguments, /Florence/);
    assert.match(call.id, /^toolu_bdrk_/);
    assert.equal(body.choices[0].finish_reason, 'tool_calls');
    assert.equal(bedrock.accepted.at(-1)!.json.tools[0].name, 'weather');

    replay(bedrock, 'TestBedrockCommon/bedrock-anthropic-claude-haiku-4-5/tool_streaming', 0, true);
    res = await postChat(gw, { ...ask, stream: true });
    const chunks = await sseJson(res);
    const args = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []).map((t: any) => t.function?.arguments ?? '').join('');
    assert.deepEqual(JSON.parse(args), { location: 'Florence, Italy' });
    assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'tool_calls'));
  });

  it('thinking: Anthropic thinking events in Bedrock chunks keep their signatures', async () => {
    // Bedrock carries Anthropic's own events; a recorded thinking stream, framed as Bedrock frames it.
    const recording = loadCassette('upstream/TestAnthropicThinking/claude-sonnet-4/thinking-streaming.yaml')[0].response;
    bedrock.answer(() => reframeAnthropicSse(recording));
    const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: "What's the weather in Florence, Italy?" }], tools: [WEATHER], reasoning: { max_tokens: 4000 }, stream: true, ...onlyBedrock });
    assert.equal(res.status, 200);
    const chunks = await sseJson(res);
    assert.ok(deltas(chunks, 'reasoning').length > 20, 'reasoning text streamed');
    const details = chunks.flatMap((c) => c.choices[0]?.delta?.reasoning_details ?? []);
    assert.ok(details.some((d: any) => d.format === 'anthropic-claude-v1' && typeof d.signature === 'string' && d.signature.length > 20));
    const sent = bedrock.accepted.at(-1)!.json;
    assert.deepEqual(sent.thinking, { type: 'enabled', budget_tokens: 4000 });
  });

  it('thinking in one body: reasoning and its signed detail', async () => {
    const recording = loadCassette('upstream/TestAnthropicThinking/claude-sonnet-4/thinking.yaml')[0].response;
    bedrock.answer(() => ({ headers: { 'content-type': 'application/json' }, raw: recording.body }));
    const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: "What's the weather in Florence, Italy?" }], tools: [WEATHER], reasoning: { effort: 'high' }, max_tokens: 4096, ...onlyBedrock });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const message = body.choices[0].message;
    assert.ok(message.reasoning.length > 20);
    assert.ok(message.reasoning_details.some((d: any) => d.type === 'reasoning.text' && d.format === 'anthropic-claude-v1' && d.signature.length > 20));
    assert.equal(bedrock.accepted.at(-1)!.json.thinking.type, 'enabled');
  });

  it('Messages door: the client’s body goes natively (version swapped, betas in anthropic_beta); answers in Anthropic events', async () => {
    replay(bedrock, 'TestBedrockBasicAuth/simple_streaming');
    const res = await fetch(`${gw.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'context-1m-2025-08-07' },
      body: JSON.stringify({
        model: 'claude-haiku-4-5',
        max_tokens: 4000,
        system: [{ type: 'text', text: 'You are a helpful assistant', cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'Say hi in Portuguese' }],
        metadata: { user_id: 'claude-code-session' },
        stream: true,
        ...onlyBedrock,
      }),
    });
    assert.equal(res.status, 200);
    const raw = await res.clone().text();
    const events = await sseJson(res);
    assert.equal(events[0].type, 'message_start');
    assert.match(raw, /^event: message_start\ndata: \{"type":"message_start"/m);
    const text = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text ?? '').join('');
    assert.match(text, /Olá/);
    assert.equal(events.at(-1).type, 'message_stop');
    // Claude's events pass through as Bedrock delivered them (its invocation metrics included).
    assert.match(events[0].message.id, /^msg_bdrk_/);
    assert.ok(events.at(-1)['amazon-bedrock-invocationMetrics'], 'message_stop as Bedrock sent it');
    const sent = bedrock.accepted.at(-1)!.json;
    assert.equal(sent.anthropic_version, 'bedrock-2023-05-31');
    assert.equal(sent.model, undefined);
    assert.equal(sent.stream, undefined);
    assert.deepEqual(sent.system[0].cache_control, { type: 'ephemeral' });
    assert.deepEqual(sent.anthropic_beta, ['context-1m-2025-08-07']);
    assert.equal(sent.provider, undefined, 'routing fields stay with Switchyard');
    assert.equal(sent.metadata, undefined, 'Bedrock refuses metadata');
  });

  it('Messages door, thinking: thinking blocks with their signatures, as Anthropic sent them', async () => {
    const recording = loadCassette('upstream/TestAnthropicThinking/claude-sonnet-4/thinking-streaming.yaml')[0].response;
    bedrock.answer(() => reframeAnthropicSse(recording));
    const res = await fetch(`${gw.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-sonnet-4-5',
        max_tokens: 4096,
        thinking: { type: 'enabled', budget_tokens: 4000 },
        messages: [{ role: 'user', content: "What's the weather in Florence, Italy?" }],
        tools: [{ name: 'weather', description: 'Get weather information for a location', input_schema: WEATHER.function.parameters }],
        stream: true,
        ...onlyBedrock,
      }),
    });
    assert.equal(res.status, 200);
    const events = await sseJson(res);
    assert.ok(events.some((e) => e.type === 'content_block_start' && e.content_block.type === 'thinking'));
    assert.ok(events.some((e) => e.type === 'content_block_delta' && e.delta.type === 'signature_delta' && e.delta.signature.length > 20));
    assert.ok(events.some((e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use' && e.content_block.name === 'weather'));
    assert.deepEqual(bedrock.accepted.at(-1)!.json.thinking, { type: 'enabled', budget_tokens: 4000 });
  });

  it('Messages door, one body', async () => {
    replay(bedrock, 'TestBedrockBasicAuth/simple');
    const res = await fetch(`${gw.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'anthropic/claude-haiku-4.5', max_tokens: 4000, messages: [{ role: 'user', content: 'Say hi in Portuguese' }], ...onlyBedrock }),
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.type, 'message');
    assert.match(body.id, /^msg_bdrk_/, 'the upstream body, passed through');
    assert.match(body.content[0].text, /Olá/);
    assert.equal(body.stop_reason, 'end_turn');
  });

  it('Responses door: streamed and stored', async () => {
    replay(bedrock, 'TestBedrockCommon/bedrock-anthropic-claude-sonnet-4-5/simple_streaming');
    const res = await fetch(`${gw.baseUrl}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'anthropic/claude-sonnet-4.5', instructions: 'You are a helpful assistant', input: 'Say hi in Portuguese', stream: true, ...onlyBedrock }),
    });
    assert.equal(res.status, 200);
    const events = await sseJson(res);
    const done = events.find((e) => e.type === 'response.completed');
    assert.ok(done, 'response.completed');
    assert.equal(done.response.output.find((o: any) => o.type === 'message').content[0].text, 'Olá!');
    assert.equal(done.response.usage.output_tokens, 7);
  });

  it('Responses door: thinking and a tool call become reasoning and function_call items', async () => {
    const recording = loadCassette('upstream/TestAnthropicThinking/claude-sonnet-4/thinking-streaming.yaml')[0].response;
    bedrock.answer(() => reframeAnthropicSse(recording));
    const res = await fetch(`${gw.baseUrl}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'anthropic/claude-sonnet-4.5',
        input: "What's the weather in Florence, Italy?",
        tools: [{ type: 'function', name: 'weather', description: 'Get weather information for a location', parameters: WEATHER.function.parameters }],
        reasoning: { effort: 'medium' },
        include: ['reasoning.encrypted_content'],
        stream: true,
        ...onlyBedrock,
      }),
    });
    assert.equal(res.status, 200);
    const events = await sseJson(res);
    const done = events.find((e) => e.type === 'response.completed');
    assert.ok(done, JSON.stringify(events.at(-1)));
    const reasoning = done.response.output.find((o: any) => o.type === 'reasoning');
    assert.ok(reasoning?.summary?.[0]?.text.length > 20, 'reasoning summary text');
    assert.ok(typeof reasoning.encrypted_content === 'string' && reasoning.encrypted_content.length > 20, 'the signature travels in encrypted_content');
    const call = done.response.output.find((o: any) => o.type === 'function_call');
    assert.equal(call.name, 'weather');
    assert.match(call.arguments, /Florence/);
  });

  it('Responses door: a recorded tool call in one body', async () => {
    replay(bedrock, 'TestBedrockCommon/bedrock-anthropic-claude-haiku-4-5/tool');
    const res = await fetch(`${gw.baseUrl}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'anthropic/claude-haiku-4.5', input: 'What is the weather in Florence, Italy?', tools: [{ type: 'function', name: 'weather', parameters: WEATHER.function.parameters }], ...onlyBedrock }),
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const call = body.output.find((o: any) => o.type === 'function_call');
    assert.equal(call.name, 'weather');
    assert.match(call.call_id, /^toolu_bdrk_/);
  });

  it('a throttled Bedrock falls back to another provider', async () => {
    bedrock.answer(() => THROTTLED);
    anthropic.enqueue(replyFromUpstreamRecording(loadCassette('upstream/TestAnthropicCommon/claude-sonnet-4/simple.yaml')[0].response));
    const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], provider: { order: ['amazon-bedrock', 'anthropic'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.provider, 'Anthropic');
    assert.equal(res.headers.get('x-switchyard-route'), 'amazon-bedrock=429, anthropic=serving');
  });

  it('throttled with nowhere to go: 429 in OpenRouter’s shape, the raw message Bedrock’s', async () => {
    bedrock.answer(() => THROTTLED);
    const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'hi' }], ...onlyBedrock });
    const body = (await res.json()) as any;
    assert.equal(res.status, 429);
    assert.equal(body.error.code, 429);
    assert.equal(body.error.metadata.provider_name, 'Amazon Bedrock');
    assert.match(body.error.metadata.raw, /ThrottlingException: Too many requests/);
  });

  it('an exception frame before any content falls back; after content it ends the stream with an error', async () => {
    const started = anthropicChunkFrame(JSON.stringify({ type: 'message_start', message: { id: 'msg_bdrk_x', type: 'message', role: 'assistant', content: [], model: 'claude', usage: { input_tokens: 3, output_tokens: 1 } } }));
    bedrock.answer(() => ({ headers: { 'content-type': BEDROCK_STREAM_TYPE }, sse: cut(Buffer.concat([started, exceptionFrame('modelStreamErrorException', 'The model stream failed')])) }));
    anthropic.enqueue(replyFromUpstreamRecording(loadCassette('upstream/TestAnthropicCommon/claude-sonnet-4/simple_streaming.yaml')[0].response));
    let res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], stream: true, provider: { order: ['amazon-bedrock', 'anthropic'] } });
    let chunks = await sseJson(res);
    assert.ok(deltas(chunks, 'content').length > 0);
    assert.equal(chunks.at(-1).provider, 'Anthropic');

    const text = anthropicChunkFrame(JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Olá' } }));
    const blockStart = anthropicChunkFrame(JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
    bedrock.answer(() => ({ headers: { 'content-type': BEDROCK_STREAM_TYPE }, sse: cut(Buffer.concat([started, blockStart, text, exceptionFrame('throttlingException', 'Too many tokens')])) }));
    res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], stream: true, ...onlyBedrock });
    chunks = await sseJson(res);
    assert.equal(deltas(chunks, 'content'), 'Olá');
    const failed = chunks.find((c) => c.choices?.[0]?.finish_reason === 'error');
    assert.ok(failed, 'an error chunk ends the stream');
    assert.equal(failed.error.code, 429);
    assert.match(failed.error.metadata.raw, /throttlingException: Too many tokens/);
  });

  it('a frame announcing more than the event-stream format allows fails the attempt: fallback before content, an error after', async () => {
    const huge = 0x7fff_fff0;
    const started = anthropicChunkFrame(JSON.stringify({ type: 'message_start', message: { id: 'msg_bdrk_x', type: 'message', role: 'assistant', content: [], model: 'claude', usage: { input_tokens: 3, output_tokens: 1 } } }));
    const ask = { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], stream: true };
    bedrock.answer(() => ({ headers: { 'content-type': BEDROCK_STREAM_TYPE }, sse: cut(Buffer.concat([started, announcing(huge)]), 7) }));
    let res = await postChat(gw, { ...ask, ...onlyBedrock });
    let chunks = await sseJson(res);
    let failed = chunks.find((c) => c.error);
    assert.ok(failed, JSON.stringify(chunks));
    assert.equal(failed.error.code, 502);
    assert.equal(failed.error.metadata.raw, `upstream announced an event-stream message of ${huge} bytes; the format allows at most ${MAX_MESSAGE_BYTES}`);

    anthropic.enqueue(replyFromUpstreamRecording(loadCassette('upstream/TestAnthropicCommon/claude-sonnet-4/simple_streaming.yaml')[0].response));
    res = await postChat(gw, { ...ask, provider: { order: ['amazon-bedrock', 'anthropic'] } });
    chunks = await sseJson(res);
    assert.ok(deltas(chunks, 'content').length > 0);
    assert.equal(chunks.at(-1).provider, 'Anthropic', 'nothing went out yet: the next provider serves');

    const blockStart = anthropicChunkFrame(JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
    const text = anthropicChunkFrame(JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Olá' } }));
    // Oversized headers, in a message whose total is allowed.
    const badHeaders = announcing(4096);
    badHeaders.writeUInt32BE(MAX_HEADERS_BYTES + 1, 4);
    bedrock.answer(() => ({ headers: { 'content-type': BEDROCK_STREAM_TYPE }, sse: cut(Buffer.concat([started, blockStart, text, badHeaders])) }));
    res = await postChat(gw, { ...ask, ...onlyBedrock });
    chunks = await sseJson(res);
    assert.equal(deltas(chunks, 'content'), 'Olá');
    failed = chunks.find((c) => c.choices?.[0]?.finish_reason === 'error');
    assert.ok(failed, 'an error chunk ends the stream');
    assert.equal(failed.error.code, 502);
    assert.match(failed.error.metadata.raw, new RegExp(`announced ${MAX_HEADERS_BYTES + 1} bytes of event-stream headers; the format allows at most ${MAX_HEADERS_BYTES}`));
  });

  it('a large frame arriving in many small writes is whole once its last byte is in', async () => {
    const long = 'Olá! '.repeat(200_000);
    const frames = [
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: long } }),
      eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
      eventFrame('messageStop', { stopReason: 'end_turn' }),
      eventFrame('metadata', { usage: { inputTokens: 5, outputTokens: 300_000, totalTokens: 300_005 }, metrics: { latencyMs: 300 } }),
    ];
    assert.ok(frames[1].length > 1_000_000);
    const pieces = cut(Buffer.concat(frames), 1500);
    assert.ok(pieces.length > 600);
    bedrock.answer(() => ({ headers: { 'content-type': BEDROCK_STREAM_TYPE }, sse: pieces }));
    const res = await postChat(gw, { model: 'amazon/nova-pro-v1', messages: [{ role: 'user', content: 'Say hi, a lot' }], stream: true });
    assert.equal(res.status, 200);
    const chunks = await sseJson(res);
    assert.equal(deltas(chunks, 'content'), long);
    assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'stop'));
    assert.equal(chunks.at(-1).usage.completion_tokens, 300_000);
  });

  it('Converse for other families (Nova): body shape, cache points, tool call and usage', async () => {
    bedrock.answer((r) => {
      assert.equal(r.action, 'converse');
      return {
        json: {
          output: { message: { role: 'assistant', content: [{ text: 'Checking.' }, { toolUse: { toolUseId: 'tooluse_abc123', name: 'weather', input: { location: 'Florence, Italy' } } }] } },
          stopReason: 'tool_use',
          usage: { inputTokens: 410, outputTokens: 30, totalTokens: 440, cacheReadInputTokens: 0, cacheWriteInputTokens: 400 },
          metrics: { latencyMs: 412 },
        },
      };
    });
    const res = await postChat(gw, {
      model: 'amazon/nova-pro-v1',
      messages: [{ role: 'system', content: [{ type: 'text', text: 'You are a helpful assistant', cache_control: { type: 'ephemeral' } }] }, { role: 'user', content: 'What is the weather in Florence?' }],
      tools: [WEATHER],
      tool_choice: 'required',
      max_tokens: 500,
      temperature: 0.2,
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.provider, 'Amazon Bedrock');
    assert.equal(body.choices[0].message.content, 'Checking.');
    assert.deepEqual(JSON.parse(body.choices[0].message.tool_calls[0].function.arguments), { location: 'Florence, Italy' });
    assert.equal(body.choices[0].finish_reason, 'tool_calls');
    assert.equal(body.usage.prompt_tokens, 810);
    assert.equal(body.usage.prompt_tokens_details.cached_tokens, 0);
    const sent = bedrock.accepted.at(-1)!;
    assert.equal(sent.path, '/model/us.amazon.nova-pro-v1%3A0/converse');
    assert.deepEqual(sent.json.system, [{ text: 'You are a helpful assistant' }, { cachePoint: { type: 'default' } }]);
    assert.deepEqual(sent.json.messages, [{ role: 'user', content: [{ text: 'What is the weather in Florence?' }] }]);
    assert.deepEqual(sent.json.inferenceConfig, { maxTokens: 500, temperature: 0.2 });
    assert.equal(sent.json.toolConfig.tools[0].toolSpec.name, 'weather');
    assert.deepEqual(sent.json.toolConfig.toolChoice, { any: {} });
  });

  it('ConverseStream: events become chunks; the tool loop’s result goes back as a toolResult', async () => {
    const frames = [
      eventFrame('messageStart', { role: 'assistant', p: 'abcd' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Sunny ' } }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'and 25°C.' } }),
      eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
      eventFrame('messageStop', { stopReason: 'end_turn' }),
      eventFrame('metadata', { usage: { inputTokens: 120, outputTokens: 9, totalTokens: 129, cacheReadInputTokens: 100 }, metrics: { latencyMs: 300 } }),
    ];
    bedrock.answer(() => ({ headers: { 'content-type': BEDROCK_STREAM_TYPE }, sse: cut(Buffer.concat(frames), 13) }));
    const res = await postChat(gw, {
      model: 'amazon/nova-pro-v1',
      stream: true,
      tools: [WEATHER],
      messages: [
        { role: 'user', content: 'Weather in Florence?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'tooluse_abc123', type: 'function', function: { name: 'weather', arguments: '{"location":"Florence"}' } }] },
        { role: 'tool', tool_call_id: 'tooluse_abc123', content: 'sunny, 25C' },
      ],
    });
    assert.equal(res.status, 200);
    const chunks = await sseJson(res);
    assert.equal(deltas(chunks, 'content'), 'Sunny and 25°C.');
    assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'stop'));
    assert.equal(chunks.at(-1).usage.prompt_tokens, 220);
    assert.equal(chunks.at(-1).usage.prompt_tokens_details.cached_tokens, 100);
    const sent = bedrock.accepted.at(-1)!;
    assert.equal(sent.action, 'converse-stream');
    assert.deepEqual(sent.json.messages[1], { role: 'assistant', content: [{ toolUse: { toolUseId: 'tooluse_abc123', name: 'weather', input: { location: 'Florence' } } }] });
    assert.deepEqual(sent.json.messages[2], { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_abc123', content: [{ text: 'sunny, 25C' }] } }] });
  });
});

describe('Amazon Bedrock embeddings (InvokeModel, SigV4)', () => {
  let bedrock: MockBedrock;
  let gw: Gateway;
  before(async () => {
    bedrock = await startMockBedrock({ region: REGION, accessKeys: { [KEY_ID]: SECRET } });
    gw = await startGateway({ providers: {}, env: { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: REGION, AMAZON_BEDROCK_BASE_URL: bedrock.url } });
  });
  after(async () => {
    await gw.close();
    await bedrock.mock.close();
  });
  const embed = (body: unknown) => fetch(`${gw.baseUrl}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('Titan: one signed invoke per text, its token count as usage, dimensions passed', async () => {
    bedrock.answer(() => ({ json: { embedding: [0.25, -0.5, 0.125], inputTextTokenCount: 7, embeddingsByType: { float: [0.25, -0.5, 0.125] } } }));
    const res = await embed({ model: 'amazon/titan-embed-text-v2', input: 'The food was delicious', dimensions: 256 });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(body.data, [{ object: 'embedding', index: 0, embedding: [0.25, -0.5, 0.125] }]);
    assert.equal(body.model, 'amazon/titan-embed-text-v2');
    assert.equal(body.usage.prompt_tokens, 7);
    assert.ok(body.usage.cost > 0);
    const sent = bedrock.accepted.at(-1)!;
    assert.equal(sent.path, '/model/amazon.titan-embed-text-v2%3A0/invoke');
    assert.equal(sent.principal, KEY_ID, 'signed with SigV4');
    assert.deepEqual(sent.json, { inputText: 'The food was delicious', normalize: true, dimensions: 256 });
    // Titan takes one text per call: a batch has no Bedrock endpoint to go to.
    const batch = await embed({ model: 'amazon/titan-embed-text-v2', input: ['a', 'b'] });
    assert.equal(batch.status, 400);
    assert.match(((await batch.json()) as any).error.message, /one text per request/);
  });

  it('Cohere: a batch in one call with its input_type, usage estimated', async () => {
    bedrock.answer((r) => ({ json: { id: 'emb-1', response_type: 'embeddings_floats', texts: r.json.texts, embeddings: [[0.1, 0.2], [0.3, 0.4]] } }));
    const res = await embed({ model: 'cohere/embed-english-v3.0', input: ['first text', 'second text'], input_type: 'search_query' });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(body.data.map((d: any) => d.embedding), [[0.1, 0.2], [0.3, 0.4]]);
    assert.ok(body.usage.prompt_tokens > 0);
    const sent = bedrock.accepted.at(-1)!;
    assert.equal(sent.path, '/model/cohere.embed-english-v3/invoke');
    assert.deepEqual(sent.json, { texts: ['first text', 'second text'], input_type: 'search_query', truncate: 'NONE' });
  });

  it('a throttled Bedrock embedding is a 429 in OpenRouter\'s shape', async () => {
    bedrock.answer(() => bedrockError(429, 'ThrottlingException', 'Too many requests, please wait before trying again.'));
    const res = await embed({ model: 'cohere/embed-multilingual-v3.0', input: 'hola' });
    const body = (await res.json()) as any;
    assert.equal(res.status, 429, JSON.stringify(body));
    assert.equal(body.error.code, 429);
  });
});

describe('Amazon Bedrock authorisation', () => {
  it('a Bedrock API key goes as a bearer token (recorded TestBedrockBasicAuth)', async () => {
    const bedrock = await startMockBedrock({ region: 'us-east-1', bearerTokens: ['ABSKtestbedrockapikey'] });
    const gw = await startGateway({ providers: {}, env: { AWS_BEARER_TOKEN_BEDROCK: 'ABSKtestbedrockapikey', AMAZON_BEDROCK_BASE_URL: bedrock.url } });
    try {
      replay(bedrock, 'TestBedrockBasicAuth/simple_streaming');
      const res = await postChat(gw, { model: 'anthropic/claude-haiku-4.5', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], stream: true, ...onlyBedrock });
      const chunks = await sseJson(res);
      assert.match(deltas(chunks, 'content'), /Olá/);
      const sent = bedrock.accepted.at(-1)!;
      assert.equal(sent.principal, 'bearer');
      assert.equal(sent.headers['x-amz-date'], undefined, 'no signature with an API key');
      assert.equal(sent.modelId, HAIKU);
    } finally {
      await gw.close();
      await bedrock.close();
    }
  });

  it('a bad signature is refused with Bedrock’s 403, reported as the provider’s failure', async () => {
    const bedrock = await startMockBedrock({ region: REGION, accessKeys: { [KEY_ID]: SECRET } });
    const gw = await startGateway({ providers: {}, env: { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: 'not-the-secret-key-at-all', AWS_REGION: REGION, AMAZON_BEDROCK_BASE_URL: bedrock.url } });
    try {
      replay(bedrock, 'TestBedrockCommon/bedrock-anthropic-claude-sonnet-4-5/simple');
      const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'hi' }], ...onlyBedrock });
      const body = (await res.json()) as any;
      assert.equal(res.status, 502, JSON.stringify(body));
      assert.equal(body.error.metadata.provider_name, 'Amazon Bedrock');
      assert.match(body.error.metadata.raw, /InvalidSignatureException: The request signature we calculated does not match/);
      assert.equal(bedrock.accepted.length, 0);
    } finally {
      await gw.close();
      await bedrock.close();
    }
  });

  it('AWS_PROFILE reads the shared credentials file; two profiles form a pool and a throttled one rests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-aws-'));
    const file = join(dir, 'credentials');
    writeFileSync(file, `[default]\naws_access_key_id = AKIADEFAULTEXAMPLE00\naws_secret_access_key = nope\n\n[team-a]\naws_access_key_id = AKIATEAMAEXAMPLE0000\naws_secret_access_key = secret-a\n\n[team-b]\naws_access_key_id = AKIATEAMBEXAMPLE0000\naws_secret_access_key = secret-b\n`);
    const bedrock = await startMockBedrock({ region: 'eu-west-1', accessKeys: { AKIATEAMAEXAMPLE0000: 'secret-a', AKIATEAMBEXAMPLE0000: 'secret-b' } });
    const gw = await startGateway({ providers: {}, env: { AWS_PROFILE: 'team-a,team-b', AWS_SHARED_CREDENTIALS_FILE: file, AWS_REGION: 'eu-west-1', AMAZON_BEDROCK_BASE_URL: bedrock.url } });
    try {
      const rec = recordedBedrock('TestBedrockCommon/bedrock-anthropic-claude-sonnet-4-5/simple');
      bedrock.answer((r): MockReply => (r.principal === 'AKIATEAMAEXAMPLE0000' ? THROTTLED : replyFromBedrockRecording(rec.response)));
      for (let i = 0; i < 3; i++) {
        const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'hi' }], ...onlyBedrock });
        assert.equal(res.status, 200, await res.clone().text());
      }
      const principals = bedrock.accepted.map((r) => r.principal);
      assert.equal(principals.filter((p) => p === 'AKIATEAMAEXAMPLE0000').length, 1, 'the throttled account rests after its 429');
      assert.equal(principals.filter((p) => p === 'AKIATEAMBEXAMPLE0000').length, 3);
    } finally {
      await gw.close();
      await bedrock.close();
    }
  });
});

describe('Amazon Bedrock accounts in several regions', () => {
  const WEST = { id: 'AKIAWESTEXAMPLE00000', secret: 'secret-west', region: 'us-west-2' };
  const CENTRAL = { id: 'AKIACENTRALEXAMPLE00', secret: 'secret-central', region: 'eu-central-1' };
  const HOME = { id: 'AKIAHOMEEXAMPLE00000', secret: 'secret-home', region: 'ap-southeast-2' };
  const poolConfig = (dir: string) => {
    const configFile = join(dir, 'switchyard.yaml');
    writeFileSync(
      configFile,
      [
        'providers:',
        '  amazon-bedrock:',
        `    region: ${HOME.region}`,
        '    keys:',
        `      - { key: "${WEST.id}:${WEST.secret}", label: west, region: ${WEST.region} }`,
        `      - { key: "${CENTRAL.id}:${CENTRAL.secret}", label: central, region: ${CENTRAL.region} }`,
        `      - { key: "${HOME.id}:${HOME.secret}", label: home }`,
        '',
      ].join('\n'),
    );
    return configFile;
  };

  it('each key is signed for its own region; a key without one for the provider’s', async () => {
    const bedrock = await startMockBedrock({
      region: HOME.region,
      accessKeys: { [WEST.id]: WEST.secret, [CENTRAL.id]: CENTRAL.secret, [HOME.id]: HOME.secret },
      keyRegions: { [WEST.id]: WEST.region, [CENTRAL.id]: CENTRAL.region },
    });
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-bedrock-regions-'));
    const gw = await startGateway({ providers: {}, configFile: poolConfig(dir), env: { AMAZON_BEDROCK_BASE_URL: bedrock.url } });
    try {
      const rec = recordedBedrock('TestBedrockCommon/bedrock-anthropic-claude-sonnet-4-5/simple');
      bedrock.answer(() => replyFromBedrockRecording(rec.response));
      const served: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'hi' }], ...onlyBedrock });
        const body = (await res.json()) as any;
        assert.equal(res.status, 200, JSON.stringify(body));
        served.push((await generation(gw, body.id)).provider_key);
      }
      assert.deepEqual(served.sort(), ['central', 'home', 'west'], 'each key took one request');
      const scopes = new Map(bedrock.accepted.map((r) => [r.principal, r.region]));
      assert.deepEqual(Object.fromEntries(scopes), { [WEST.id]: WEST.region, [CENTRAL.id]: CENTRAL.region, [HOME.id]: HOME.region });
      for (const r of bedrock.accepted) assert.match(String(r.headers.authorization), new RegExp(`Credential=${r.principal}/\\d{8}/${r.region}/bedrock/aws4_request`));
    } finally {
      await gw.close();
      await bedrock.close();
    }
  });

  it('each key’s requests go to its region’s runtime and control plane', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-bedrock-regions-'));
    const settings = loadSettings({ env: {}, configFile: poolConfig(dir), cwd: dir });
    const provider = settings.providers.get('amazon-bedrock')!;
    const titan = settings.catalog.endpointsOf(settings.catalog.models.get('amazon/titan-embed-text-v2')!)[0];
    const adapter = new BedrockAdapter();
    const hosts = new Map<string, string>();
    for (let i = 0; i < 3; i++) {
      const credential = provider.keys.pick(new Set())!;
      const request = adapter.embeddings.buildRequest({ input: { kind: 'text', texts: ['hola'] }, encodingFormat: 'float' }, titan, provider, credential, undefined);
      hosts.set(credential.label, new URL(request.url).host);
      const signed = await adapter.authorize(request, provider, credential);
      assert.match(signed.headers.authorization, new RegExp(`/${new URL(request.url).host.split('.')[1]}/bedrock/aws4_request`));
      assert.equal(new URL(adapter.probeRequest(provider, credential).url).host, `bedrock.${new URL(request.url).host.split('.')[1]}.amazonaws.com`);
    }
    assert.deepEqual(Object.fromEntries(hosts), {
      west: 'bedrock-runtime.us-west-2.amazonaws.com',
      central: 'bedrock-runtime.eu-central-1.amazonaws.com',
      home: 'bedrock-runtime.ap-southeast-2.amazonaws.com',
    });
    assert.equal(provider.keys.primary!.region, WEST.region);
    const other = join(dir, 'other.yaml');
    writeFileSync(other, 'providers:\n  groq:\n    keys:\n      - { key: gsk_abc, region: us-west-2 }\n');
    assert.throws(() => loadSettings({ env: {}, configFile: other, cwd: dir }), /providers\.groq\.keys: region is for Amazon Bedrock keys only/);
  });

  it("AWS_PROFILE profiles sign for their own region from the shared config file, unless a region is set for the provider", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-bedrock-profiles-'));
    const credentials = join(dir, 'credentials');
    writeFileSync(credentials, `[west]\naws_access_key_id = ${WEST.id}\naws_secret_access_key = ${WEST.secret}\n\n[home]\naws_access_key_id = ${HOME.id}\naws_secret_access_key = ${HOME.secret}\n`);
    const config = join(dir, 'config');
    writeFileSync(config, `[profile west]\nregion = ${WEST.region}\n\n[profile home]\noutput = json\n`);
    const env = { AWS_PROFILE: 'west,home', AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: config };
    const regionsOf = (extra: Record<string, string>) => {
      const provider = loadSettings({ env: { ...env, ...extra }, cwd: dir }).providers.get('amazon-bedrock')!;
      const out: Record<string, string> = {};
      for (let i = 0; i < 2; i++) {
        const credential = provider.keys.pick(new Set())!;
        out[credential.label] = bedrockRegion(provider, credential);
      }
      return out;
    };
    assert.deepEqual(regionsOf({}), { west: WEST.region, home: 'us-east-1' });
    assert.deepEqual(regionsOf({ AWS_REGION: CENTRAL.region }), { west: CENTRAL.region, home: CENTRAL.region });
  });
});

describe('Amazon Bedrock configuration', () => {
  it('configured keys: API keys and access key pairs, labelled; region from AWS_REGION over the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-bedrock-cfg-'));
    const configFile = join(dir, 'switchyard.yaml');
    writeFileSync(configFile, `providers:\n  amazon-bedrock:\n    region: eu-central-1\n    keys:\n      - { key: "${KEY_ID}:${SECRET}", label: account-a }\n      - { key: ABSKsomeapikey, label: account-b, weight: 2 }\n`);
    let settings = loadSettings({ env: {}, configFile, cwd: dir });
    let bedrock = settings.providers.get('amazon-bedrock')!;
    assert.equal(bedrock.enabled, true);
    assert.equal(bedrock.region, 'eu-central-1');
    assert.deepEqual(bedrock.keys.labels(), ['account-a', 'account-b']);
    assert.deepEqual(accessKeyOf(bedrock.keys.secrets()[0]), { accessKeyId: KEY_ID, secretAccessKey: SECRET });
    assert.equal(accessKeyOf(bedrock.keys.secrets()[1]), null, 'no colon: a Bedrock API key');
    settings = loadSettings({ env: { AWS_REGION: 'ap-southeast-2', AWS_ACCESS_KEY_ID: 'a1,a2', AWS_SECRET_ACCESS_KEY: 's1,s2' }, configFile, cwd: dir });
    bedrock = settings.providers.get('amazon-bedrock')!;
    assert.equal(bedrock.region, 'ap-southeast-2');
    assert.deepEqual(bedrock.keys.labels(), ['key-1', 'key-2'], 'the environment wins over the file');
    assert.throws(() => loadSettings({ env: { AWS_ACCESS_KEY_ID: 'a1' }, cwd: dir }), /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    assert.throws(() => loadSettings({ env: { AWS_PROFILE: 'nobody', AWS_SHARED_CREDENTIALS_FILE: join(dir, 'missing') }, cwd: dir }), /shared credentials file/);
    const empty = mkdtempSync(join(tmpdir(), 'switchyard-bedrock-none-'));
    assert.equal(loadSettings({ env: {}, cwd: empty }).providers.get('amazon-bedrock')!.enabled, false, 'off without credentials');
  });
});

describe('Amazon Bedrock recorded and replayed', () => {
  it('records the binary event stream as its bytes, without credentials, and replays it', async () => {
    const bedrock = await startMockBedrock({ region: REGION, accessKeys: { [KEY_ID]: SECRET } });
    const recordDir = mkdtempSync(join(tmpdir(), 'switchyard-bedrock-rec-'));
    const recorder = await startGateway({ providers: {}, env: { AWS_ACCESS_KEY_ID: KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET, AWS_REGION: REGION, AMAZON_BEDROCK_BASE_URL: bedrock.url, SWITCHYARD_RECORD_DIR: recordDir } });
    const ask = { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], stream: true, ...onlyBedrock };
    let player: Gateway | undefined;
    try {
      replay(bedrock, 'TestBedrockCommon/bedrock-anthropic-claude-sonnet-4-5/simple_streaming');
      const first = await postChat(recorder, ask, { 'X-Switchyard-Cassette': 'bedrock' });
      assert.equal(deltas(await sseJson(first), 'content'), 'Olá!');
      const text = readFileSync(join(recordDir, 'bedrock.yaml'), 'utf8');
      assert.match(text, /body: !!binary/);
      assert.ok(!text.includes(SECRET) && !/authorization|x-amz-security-token/i.test(text), 'no credentials in the cassette');
      const recorded = loadCassette(join(recordDir, 'bedrock.yaml'))[0].response.bodyBytes!;
      assert.deepEqual(recorded, recordedBedrock('TestBedrockCommon/bedrock-anthropic-claude-sonnet-4-5/simple_streaming').response.bodyBytes);

      const configFile = join(recordDir, 'switchyard.yaml');
      writeFileSync(configFile, `replay:\n  pace: fast\nproviders:\n  amazon-bedrock:\n    replay: ${JSON.stringify(recordDir)}\n`);
      player = await startGateway({ providers: {}, configFile });
      const again = await postChat(player, ask);
      assert.equal(again.status, 200);
      assert.equal(deltas(await sseJson(again), 'content'), 'Olá!');
    } finally {
      await player?.close();
      await recorder.close();
      await bedrock.close();
    }
  });
});

describe('Bedrock wire units', () => {
  it('decodes every frame of the recorded event streams, whatever the read boundaries', async () => {
    const bytes = loadCassette('upstream/TestBedrockCommon/bedrock-anthropic-claude-haiku-4-5/tool_streaming.yaml')[0].response.bodyBytes!;
    const whole = await framesOf(bytes);
    for (const size of [1, 5, 64, bytes.length]) {
      async function* reads() {
        yield* cut(bytes, size);
      }
      const names: string[] = [];
      for await (const frame of eventStreamFraming.frames(reads())) names.push(...eventStreamFraming.events(frame).map((e) => e.event ?? ''));
      assert.equal(names.length, whole.length);
      assert.ok(names.every((n) => n === 'chunk'));
    }
    const decoder = new BedrockAdapter().createStreamDecoder();
    const chunks = whole.flatMap((f) => eventStreamFraming.events(f)).map((e) => decoder.decode(e));
    assert.equal(chunks.at(-1), null, 'message_stop ends the stream');
    const corrupt = Buffer.from(whole[1]);
    corrupt[corrupt.length - 6] ^= 0xff;
    assert.throws(() => eventStreamFraming.events(corrupt), /checksum/);
  });

  it('refuses a frame longer than the format allows as soon as its length is read, and a body cut inside a frame', async () => {
    const frames = async (pieces: Buffer[]) => {
      const out: Uint8Array[] = [];
      async function* reads() {
        yield* pieces;
      }
      for await (const f of eventStreamFraming.frames(reads())) out.push(f);
      return out;
    };
    const whole = eventFrame('contentBlockStop', { contentBlockIndex: 0 });
    // The length alone, split over two reads, is enough to refuse the frame.
    const over = announcing(MAX_MESSAGE_BYTES + 1).subarray(0, 4);
    await assert.rejects(frames([whole, over.subarray(0, 2), over.subarray(2)]), (err: Error) => err instanceof MalformedStream && /of 25296913 bytes; the format allows at most 25296912/.test(err.message));
    // The largest allowed length is not refused for its size; the body then ends inside it.
    await assert.rejects(frames([whole, announcing(MAX_MESSAGE_BYTES)]), (err: Error) => err instanceof MalformedStream && /ended the event stream inside a message/.test(err.message));
    await assert.rejects(frames([announcing(8)]), /shorter than its own prelude and checksums/);
    const headers = Buffer.from(whole);
    headers.writeUInt32BE(whole.length, 4);
    await assert.rejects(frames([headers]), new RegExp(`${whole.length} bytes of event-stream headers in a message of ${whole.length} bytes`));
    assert.equal((await frames(cut(Buffer.concat([whole, whole, whole]), 3))).length, 3);
  });

  it('maps Bedrock’s error types to the statuses that drive fallback', () => {
    const typed = (status: number, type: string, message = 'm') => parseBedrockError(status, JSON.stringify({ message }), { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
    assert.equal(typed(429, 'ThrottlingException').status, 429);
    assert.equal(typed(400, 'ServiceQuotaExceededException').status, 429);
    assert.equal(typed(429, 'ModelNotReadyException').status, 503);
    assert.equal(typed(408, 'ModelTimeoutException').status, 408);
    assert.equal(typed(424, 'ModelErrorException').status, 502);
    assert.equal(typed(400, 'ValidationException', 'bad').raw, 'ValidationException: bad');
    assert.equal(typed(400, 'ValidationException').status, 400);
    assert.equal(typed(403, 'AccessDeniedException').status, 403);
    assert.equal(typed(404, 'ResourceNotFoundException').status, 404);
    assert.equal(typed(500, 'InternalServerException').status, 500);
    assert.equal(typed(503, 'ServiceUnavailableException').status, 503);
    assert.equal(parseBedrockError(400, JSON.stringify({ __type: 'com.amazon.coral.service#ThrottlingException', message: 'slow down' })).status, 429);
    assert.deepEqual(parseBedrockError(502, '<html>bad gateway</html>'), { status: 502, raw: '<html>bad gateway</html>' });
  });
});
