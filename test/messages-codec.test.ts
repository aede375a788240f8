/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Anthropic Messages front door (src/ingress/messages/): request parsing into the wire-neutral
 * model (every Claude Code request recorded in test/fixtures/agent-traffic/claude-code/, and in
 * the full capture when it is present on this machine), the SSE encoder, the non-streamed body,
 * error envelopes and count_tokens. Encoder output is also read back with the real Anthropic SDK
 * (@anthropic-ai/sdk: its SSE parser and MessageStream accumulator), as a client would.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError } from '../src/core/errors.js';
import { messagesCodec } from '../src/ingress/messages/codec.js';
import { countTokens, parseCountTokensRequest } from '../src/ingress/messages/count-tokens.js';
import { anthropicErrorType, clientToolId, PING_EVENT, stopReasonOf } from '../src/ingress/messages/encode.js';
import { hostedToolName } from '../src/ingress/messages/to-model.js';
import type { GenerationRequest } from '../src/model/request.js';
import type { Completion, TokenUsage, UpstreamChunk } from '../src/model/response.js';
import type { ResponseIdentity } from '../src/pipeline/ingress.js';

const FIXTURES = 'test/fixtures/agent-traffic/claude-code';
/** The full capture (outside the repository); its files are parsed too when it is there. */
const FORMAT = 'anthropic-claude-v1';

const codec = messagesCodec();
const ctx = { maxModels: 3 };
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
const parse = (body: unknown, headers: Record<string, string> = {}) => codec.parse(body, headers, ctx);
const minimal = (extra: Record<string, unknown> = {}) => ({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...extra });

function rejects(body: unknown, message: RegExp): void {
  assert.throws(
    () => parse(body),
    (err: unknown) => {
      assert.ok(err instanceof ApiError, `not an ApiError: ${String(err)}`);
      assert.equal(err.status, 400);
      assert.match(err.message, message);
      return true;
    },
  );
}

const USAGE: TokenUsage = { promptTokens: 100, completionTokens: 20, cachedTokens: 30, cacheWriteTokens: 20, reasoningTokens: 0, audioPromptTokens: 0 };
const COST = { prompt: 0, completion: 0, total: 0 };

function identity(request: GenerationRequest, upstreamProtocol = 'openai'): ResponseIdentity {
  return {
    id: 'gen-1765000000-ABCDEFGHIJKLMNOPQRST',
    created: 1765000000,
    model: 'anthropic/claude-4.5-sonnet-20250929',
    requestedModel: 'claude-sonnet-4-5',
    provider: 'Test',
    upstreamProtocol,
    request,
  };
}

/** SSE text → [event, data] pairs. */
function events(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter((b) => b.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))!.slice(7);
      const data = JSON.parse(
        lines
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n'),
      );
      assert.equal(data.type, event, 'data.type names the event');
      return { event, data };
    });
}

/** A whole stream: start, each chunk, then the end (or syntheticFinish + end). */
function stream(chunks: UpstreamChunk[], opts: { upstream?: string; request?: GenerationRequest; synthetic?: boolean; usage?: TokenUsage } = {}) {
  const enc = codec.streamEncoder(identity(opts.request ?? parse(minimal()), opts.upstream));
  let out = enc.start();
  for (const c of chunks) out += enc.encode(c);
  if (opts.synthetic) out += enc.syntheticFinish();
  out += enc.end(opts.usage ?? USAGE, COST);
  return { out, enc };
}

/** The Anthropic SDK reading `sse` as the answer to messages.stream(): every event and the final message. */
async function sdkStream(sse: string): Promise<{ events: any[]; message: any }> {
  const client = new Anthropic({
    apiKey: 'test',
    baseURL: 'http://switchyard.test',
    maxRetries: 0,
    fetch: async () => new Response(sse, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
  });
  const s = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  const seen: any[] = [];
  for await (const ev of s) seen.push(ev);
  return { events: seen, message: await s.finalMessage() };
}

/** The Anthropic SDK's messages.create() answered with `status` and `body`. */
function sdkCreate(status: number, body: unknown): Promise<any> {
  const client = new Anthropic({
    apiKey: 'test',
    baseURL: 'http://switchyard.test',
    maxRetries: 0,
    fetch: async () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } }),
  });
  return client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
}

const text = (content: string): UpstreamChunk => ({ choice: { content, finishReason: null } });
const finish = (reason: string): UpstreamChunk => ({ choice: { finishReason: reason } });
const thinking = (t: string, index = 0): UpstreamChunk => ({
  choice: { reasoning: t, reasoningDetails: [{ type: 'reasoning.text', text: t, format: FORMAT, index }], finishReason: null },
});
const signature = (sig: string, index = 0): UpstreamChunk => ({
  choice: { reasoningDetails: [{ type: 'reasoning.text', signature: sig, format: FORMAT, index }], finishReason: null },
});
const toolHead = (index: number, id: string, name: string): UpstreamChunk => ({
  choice: { content: null, toolCalls: [{ index, id, type: 'function', name, arguments: '' }], finishReason: null },
});
const toolArgs = (index: number, args: string): UpstreamChunk => ({ choice: { content: null, toolCalls: [{ index, arguments: args }], finishReason: null } });

// ------------------------------------------------------------------------------------------------

describe('messages request parsing: Claude Code traffic', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));

  it('parses every recorded request', () => {
    const all = files.map((f) => ({ name: f, data: fixture(f) }));
    let messages = 0;
    let counts = 0;
    for (const { name, data } of all) {
      const { path, headers, body } = data.request;
      if (path.endsWith('/count_tokens')) {
        const n = countTokens(body);
        assert.ok(n.input_tokens > 0, name);
        counts++;
        continue;
      }
      const req = parse(body, headers);
      assert.equal(req.api, 'messages', name);
      assert.equal(req.model, body.model, name);
      assert.equal(req.native?.body, body, `${name}: the native body is the client's object`);
      assert.ok(req.messages.length > 0, name);
      messages++;
    }
    assert.ok(messages >= 4 && counts >= 1);
  });

  it('maps a Claude Code request: system blocks, mid-conversation system, thinking, tool loop, tools, effort, betas', () => {
    const { request } = fixture('cc-thinking-tool__002-POST-v1-messages.json');
    const req = parse(request.body, request.headers);
    const body = request.body;

    assert.equal(req.maxTokens, 128000);
    assert.equal(req.maxTokensPolicy, 'clamp');
    assert.equal(req.stream, true);
    assert.deepEqual(req.reasoning, { adaptive: true, effort: 'medium' });
    assert.equal(req.user, body.metadata.user_id);
    assert.deepEqual(req.native, {
      protocol: 'anthropic',
      body,
      headers: { 'anthropic-beta': request.headers['anthropic-beta'], 'anthropic-version': '2023-06-01' },
      routingFields: ['provider', 'models', 'route', 'transforms', 'plugins', 'usage', 'session_id'],
    });
    assert.equal(req.promptChars, JSON.stringify(body.system).length + JSON.stringify(body.messages).length);
    assert.deepEqual(req.parameters, ['max_tokens', 'tools', 'reasoning']);

    // The top-level system: one system message, one part per block, cache markers kept.
    const [system, user, midSystem, assistant, tool] = req.messages;
    assert.equal(system.role, 'system');
    assert.equal(system.content.length, body.system.length);
    assert.deepEqual((system.content[1] as any).cache, { type: 'ephemeral' });
    assert.equal((system.content[0] as any).cache, undefined);
    assert.equal(user.role, 'user');
    assert.equal(user.content.length, 2);
    // Claude Code's `system` message inside `messages` stays where it was.
    assert.equal(midSystem.role, 'system');
    assert.equal((midSystem.content[0] as any).text, body.messages[1].content);
    // Signed thinking, then the tool call with its input as JSON text.
    assert.equal(assistant.role, 'assistant');
    assert.deepEqual(assistant.content[0], {
      type: 'reasoning',
      text: 'The user wants a short answer; mock reasoning.',
      signature: body.messages[2].content[0].signature,
      format: FORMAT,
    });
    assert.deepEqual(assistant.content[1], {
      type: 'tool-call',
      id: 'toolu_0001mock',
      name: 'Bash',
      arguments: JSON.stringify({ command: 'echo hello-from-tool', description: 'Print a test string' }),
    });
    // tool_result → a tool message (is_error false is no error; the cache marker stays on the result).
    assert.deepEqual(tool, {
      role: 'tool',
      content: [{ type: 'tool-result', callId: 'toolu_0001mock', content: [{ type: 'text', text: 'hello-from-tool' }], cache: { type: 'ephemeral' } }],
    });
    assert.equal(req.messages.length, 5);

    // Every tool is a function tool, deferred ones included.
    assert.equal(req.tools.length, body.tools.length);
    const deferred = req.tools.find((t) => t.type === 'function' && t.name === 'DeferredToolPlaceholder');
    assert.ok(deferred && deferred.type === 'function' && deferred.parameters);
    const bash = req.tools.find((t) => t.type === 'function' && t.name === 'Bash');
    assert.ok(bash && bash.type === 'function');
    assert.deepEqual(bash.parameters, body.tools.find((t: any) => t.name === 'Bash').input_schema);
  });

  it('puts parallel tool results in one tool message, in order', () => {
    const { request } = fixture('cc-parallel-tools__002-POST-v1-messages.json');
    const req = parse(request.body, request.headers);
    const assistant = req.messages.find((m) => m.role === 'assistant')!;
    assert.deepEqual(
      assistant.content.map((p: any) => [p.type, p.id]),
      [
        ['tool-call', 'toolu_0001mock'],
        ['tool-call', 'toolu_0002mock'],
      ],
    );
    const tool = req.messages[req.messages.length - 1];
    assert.equal(tool.role, 'tool');
    assert.deepEqual(
      tool.content.map((p: any) => [p.callId, p.content[0].text, p.cache?.type]),
      [
        ['toolu_0001mock', 'hello-from-tool', undefined],
        ['toolu_0002mock', 'second-tool', 'ephemeral'],
      ],
    );
  });

  it('keeps a non-Anthropic model id and the effort Claude Code sends for it', () => {
    const { request } = fixture('cc-model-kimi__001-POST-v1-messages.json');
    const req = parse(request.body, request.headers);
    assert.equal(req.model, 'moonshotai/kimi-k2-0905');
    assert.equal(req.maxTokens, 32000);
    assert.equal(req.reasoning?.effort, 'high');
    assert.ok(!req.native!.headers['anthropic-beta'].includes('per-turn-control'));
  });
});

describe('messages request parsing: mapping', () => {
  it('splits a user message around its tool results, preserving order', () => {
    const req = parse(
      minimal({
        messages: [
          { role: 'user', content: 'run it' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'a', input: {} }, { type: 'tool_use', id: 'toolu_2', name: 'b', input: { x: 1 } }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'before' },
              { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'one' }, { type: 'image', source: { type: 'url', url: 'https://x/y.png' } }], is_error: true },
              { type: 'tool_result', tool_use_id: 'toolu_2' },
              { type: 'text', text: 'after' },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(
      req.messages.map((m) => m.role),
      ['user', 'assistant', 'user', 'tool', 'user'],
    );
    assert.deepEqual((req.messages[1].content[0] as any).arguments, '{}');
    assert.deepEqual((req.messages[1].content[1] as any).arguments, '{"x":1}');
    assert.deepEqual(req.messages[3].content, [
      {
        type: 'tool-result',
        callId: 'toolu_1',
        content: [
          { type: 'text', text: 'one' },
          { type: 'image', source: { kind: 'url', url: 'https://x/y.png' } },
        ],
        isError: true,
      },
      { type: 'tool-result', callId: 'toolu_2', content: [] },
    ]);
    assert.deepEqual(req.messages[4].content, [{ type: 'text', text: 'after' }]);
  });

  it('maps images, documents, redacted thinking; leaves server-tool blocks and unknown blocks out', () => {
    const req = parse(
      minimal({
        system: 'Be brief.',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' }, cache_control: { type: 'ephemeral', ttl: '1h' } },
              { type: 'image', source: { type: 'file', file_id: 'file_1' } },
              { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' }, title: 'paper.pdf' },
              { type: 'document', source: { type: 'url', url: 'https://x/a.pdf' } },
              { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain words' }, title: 'notes' },
              { type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] } },
              { type: 'document', source: { type: 'file', file_id: 'file_2' } },
              { type: 'a_block_from_the_future', whatever: true },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'redacted_thinking', data: 'ENCRYPTED' },
              { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'q' } },
              { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] },
              { type: 'text', text: 'Found it.', citations: [] },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(req.messages[0], { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] });
    assert.deepEqual(req.messages[1].content, [
      { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBOR' }, cache: { type: 'ephemeral', ttl: '1h' } },
      { type: 'image', source: { kind: 'file-id', fileId: 'file_1' } },
      { type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBER' }, filename: 'paper.pdf' },
      { type: 'file', source: { kind: 'url', url: 'https://x/a.pdf' } },
      { type: 'file', source: { kind: 'text', mediaType: 'text/plain', text: 'plain words' }, filename: 'notes' },
      { type: 'file', source: { kind: 'text', mediaType: 'text/plain', text: 'a\n\nb' } },
      { type: 'file', source: { kind: 'file-id', fileId: 'file_2' } },
    ]);
    assert.deepEqual(req.messages[2].content, [
      { type: 'reasoning', encrypted: 'ENCRYPTED', format: FORMAT },
      { type: 'text', text: 'Found it.' },
    ]);
  });

  it('maps tools, tool_choice, thinking, sampling, stop sequences, output format and routing fields', () => {
    const req = parse(
      minimal({
        tools: [
          { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: {} }, cache_control: { type: 'ephemeral' }, strict: true },
          { type: 'custom', name: 'other', input_schema: { type: 'object' } },
          { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
          { type: 'code_execution_20250825', name: 'code_execution' },
          { type: 'bash_20250124', name: 'bash' },
        ],
        tool_choice: { type: 'any', disable_parallel_tool_use: true },
        thinking: { type: 'enabled', budget_tokens: 2048 },
        temperature: 0.5,
        top_p: 0.9,
        top_k: 40,
        stop_sequences: ['END'],
        output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
        provider: { order: ['anthropic'] },
        models: ['openai/gpt-4o'],
        route: 'fallback',
        session_id: 'sess-1',
        cache_control: { type: 'ephemeral' },
        stream: false,
      }),
    );
    assert.deepEqual(req.tools, [
      { type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} }, description: 'Weather', strict: true, cache: { type: 'ephemeral' } },
      { type: 'function', name: 'other', parameters: { type: 'object' } },
      { type: 'hosted', name: 'web_search', config: { type: 'web_search_20250305', name: 'web_search', max_uses: 3 } },
      { type: 'hosted', name: 'code_interpreter', config: { type: 'code_execution_20250825', name: 'code_execution' } },
      { type: 'hosted', name: 'bash', config: { type: 'bash_20250124', name: 'bash' } },
    ]);
    assert.equal(req.toolChoice, 'required');
    assert.equal(req.parallelToolCalls, false);
    assert.deepEqual(req.reasoning, { maxTokens: 2048 });
    assert.equal(req.temperature, 0.5);
    assert.equal(req.topP, 0.9);
    assert.equal(req.topK, 40);
    assert.deepEqual(req.stop, ['END']);
    assert.deepEqual(req.responseFormat, { type: 'json_schema', schema: { type: 'object' } });
    assert.deepEqual(req.provider, { order: ['anthropic'] });
    assert.deepEqual(req.models, ['openai/gpt-4o']);
    assert.equal(req.route, 'fallback');
    assert.equal(req.sessionId, 'sess-1');
    assert.deepEqual(req.cache, { type: 'ephemeral' });
    assert.equal(req.stream, false);
    assert.deepEqual(req.parameters, ['max_tokens', 'temperature', 'top_p', 'top_k', 'stop', 'tools', 'tool_choice', 'parallel_tool_calls', 'reasoning', 'response_format']);

    assert.deepEqual(parse(minimal({ tool_choice: { type: 'tool', name: 'get_weather' } })).toolChoice, { name: 'get_weather' });
    assert.equal(parse(minimal({ tool_choice: { type: 'none' } })).toolChoice, 'none');
    const auto = parse(minimal({ tool_choice: { type: 'auto', disable_parallel_tool_use: false } }));
    assert.equal(auto.toolChoice, 'auto');
    assert.equal(auto.parallelToolCalls, true);
    assert.deepEqual(parse(minimal({ thinking: { type: 'disabled' } })).reasoning, { enabled: false });
    assert.ok(!parse(minimal({ thinking: { type: 'disabled' } })).parameters.includes('reasoning'));
    assert.deepEqual(parse(minimal({ thinking: { type: 'adaptive' }, output_config: { effort: 'max' } })).reasoning, { adaptive: true, effort: 'max' });
    assert.equal(parse(minimal({}), { 'x-session-id': 'from-header' }).sessionId, 'from-header');
    assert.deepEqual(hostedToolName('computer_20250124'), 'computer_use');
    assert.deepEqual(hostedToolName('text_editor_20250728'), 'text_editor');
    assert.deepEqual(hostedToolName('something_new_20270101'), 'something_new');
  });

  it('answers malformed requests with a 400 that names the field', () => {
    rejects(null, /body must be a JSON object/);
    rejects([], /body must be a JSON object/);
    rejects({ max_tokens: 1, messages: [] }, /model is required/);
    rejects({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, /^max_tokens is required$/);
    rejects(minimal({ max_tokens: 0 }), /max_tokens/);
    rejects(minimal({ max_tokens: 1.5 }), /max_tokens must be integer/);
    rejects(minimal({ messages: 'hi' }), /messages must be array/);
    rejects(minimal({ messages: [] }), /messages/);
    rejects(minimal({ messages: [{ role: 'tool', content: 'x' }] }), /messages\[0\]\.role must be one of "user", "assistant", "system"/);
    rejects(minimal({ messages: [{ role: 'user', content: [{ text: 'no type' }] }] }), /messages\[0\]\.content\[0\]\.type is required/);
    rejects(minimal({ messages: [{ role: 'user', content: [{ type: 'text' }] }] }), /messages\[0\]\.content\[0\]\.text is required/);
    rejects(minimal({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'ftp', url: 'x' } }] }] }), /messages\[0\]\.content\[0\]\.source\.type must be one of/);
    rejects(minimal({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'x' } }] }] }), /messages\[0\]\.content\[0\]\.source\.media_type is required/);
    rejects(minimal({ messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'b', input: {} }] }] }), /messages\[0\]\.content\[0\]: tool_use blocks belong in assistant messages/);
    rejects(minimal({ messages: [{ role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 'a' }] }] }), /tool_result blocks belong in user messages/);
    rejects(minimal({ messages: [{ role: 'user', content: [{ type: 'tool_result' }] }] }), /messages\[0\]\.content\[0\]\.tool_use_id is required/);
    rejects(minimal({ messages: [{ role: 'assistant', content: [{ type: 'thinking', thinking: 5 }] }] }), /messages\[0\]\.content\[0\]\.thinking must be a string/);
    rejects(minimal({ tools: [{ name: 'x' }] }), /tools\[0\]\.input_schema is required/);
    rejects(minimal({ tools: [{ input_schema: { type: 'object' } }] }), /tools\[0\]\.name is required/);
    rejects(minimal({ tool_choice: { type: 'tool' } }), /tool_choice\.name is required/);
    rejects(minimal({ tool_choice: { type: 'sometimes' } }), /tool_choice\.type must be one of/);
    rejects(minimal({ thinking: { type: 'enabled' } }), /thinking\.budget_tokens is required/);
    rejects(minimal({ system: [{ type: 'image' }] }), /system/);
    rejects(minimal({ temperature: 3 }), /temperature/);
    rejects(minimal({ models: ['a', 'b', 'c', 'd'] }), /models may list at most 3 models/);
  });
});

describe('count_tokens', () => {
  it('estimates ~4 characters per token over system, messages and tools', () => {
    const { request } = fixture('cc-context-cmd__001-POST-v1-messages-count-tokens.json');
    const chars = JSON.stringify(request.body.messages).length;
    assert.deepEqual(countTokens(request.body), { input_tokens: Math.ceil(chars / 4) });
    const tools = [{ name: 'a', input_schema: { type: 'object' } }];
    const withAll = parseCountTokensRequest({ model: 'm', system: 'sys', messages: [{ role: 'user', content: 'hello' }], tools });
    const expected = JSON.stringify('sys').length + JSON.stringify([{ role: 'user', content: 'hello' }]).length + JSON.stringify(tools).length;
    assert.equal(withAll.inputTokens, Math.ceil(expected / 4));
    assert.equal(withAll.model, 'm');
  });

  it('validates like a Messages request, without max_tokens', () => {
    assert.throws(() => countTokens({ model: 'm' }), /messages is required/);
    assert.throws(() => countTokens({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text' }] }] }), /messages\[0\]\.content\[0\]\.text is required/);
  });
});

// ------------------------------------------------------------------------------------------------

describe('messages stream encoder', () => {
  it('text: message_start, one text block, message_delta with the usage, message_stop (byte for byte)', async () => {
    const { out, enc } = stream([text('Hel'), text('lo'), finish('stop'), { usage: USAGE }]);
    const id = 'gen-1765000000-ABCDEFGHIJKLMNOPQRST';
    assert.equal(
      out,
      `event: message_start\ndata: {"type":"message_start","message":{"id":"${id}","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}\n\n` +
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}\n\n' +
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n' +
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":50,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":20}}\n\n' +
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
    assert.equal(enc.finished, true);
    assert.equal(enc.finishReason, 'stop');
    assert.equal(enc.nativeFinish, 'stop');

    const sdk = await sdkStream(out);
    assert.equal(sdk.message.id, id);
    assert.equal(sdk.message.model, 'claude-sonnet-4-5');
    assert.deepEqual(sdk.message.content, [{ type: 'text', text: 'Hello' }]);
    assert.equal(sdk.message.stop_reason, 'end_turn');
    assert.deepEqual(
      { ...sdk.message.usage },
      { ...sdk.message.usage, input_tokens: 50, cache_creation_input_tokens: 20, cache_read_input_tokens: 30, output_tokens: 20 },
    );
  });

  it('thinking with a signature, then text (Anthropic-format reasoning details)', async () => {
    const { out } = stream([thinking('Let me'), thinking(' think.'), signature('SIG-1'), text('Answer.'), finish('end_turn')]);
    const ev = events(out);
    assert.deepEqual(
      ev.map((e) => [e.event, e.data.index, e.data.content_block?.type ?? e.data.delta?.type]),
      [
        ['message_start', undefined, undefined],
        ['content_block_start', 0, 'thinking'],
        ['content_block_delta', 0, 'thinking_delta'],
        ['content_block_delta', 0, 'thinking_delta'],
        ['content_block_delta', 0, 'signature_delta'],
        ['content_block_stop', 0, undefined],
        ['content_block_start', 1, 'text'],
        ['content_block_delta', 1, 'text_delta'],
        ['content_block_stop', 1, undefined],
        ['message_delta', undefined, undefined],
        ['message_stop', undefined, undefined],
      ],
    );
    assert.deepEqual(ev[1].data.content_block, { type: 'thinking', thinking: '', signature: '' });
    const sdk = await sdkStream(out);
    assert.deepEqual(sdk.message.content, [
      { type: 'thinking', thinking: 'Let me think.', signature: 'SIG-1' },
      { type: 'text', text: 'Answer.' },
    ]);
  });

  it('interleaved thinking blocks, redacted thinking; other providers’ signatures and encrypted reasoning are not passed on', async () => {
    const { out } = stream([
      thinking('first', 0),
      signature('S0', 0),
      { choice: { reasoningDetails: [{ type: 'reasoning.encrypted', data: 'REDACTED', format: FORMAT, index: 1 }], finishReason: null } },
      thinking('second', 2),
      signature('S2', 2),
      { choice: { reasoningDetails: [{ type: 'reasoning.encrypted', data: 'gAAA', format: 'openai-responses-v1', index: 3 }], finishReason: null } },
      { choice: { reasoningDetails: [{ type: 'reasoning.text', text: 'gemini thought', signature: 'GEMSIG', format: 'google-gemini-v1', index: 4 }], finishReason: null } },
      { choice: { reasoning: 'plain reasoning', finishReason: null } },
      finish('stop'),
    ]);
    const sdk = await sdkStream(out);
    assert.deepEqual(sdk.message.content, [
      { type: 'thinking', thinking: 'first', signature: 'S0' },
      { type: 'redacted_thinking', data: 'REDACTED' },
      { type: 'thinking', thinking: 'second', signature: 'S2' },
      { type: 'thinking', thinking: 'gemini thought', signature: '' },
      { type: 'thinking', thinking: 'plain reasoning', signature: '' },
    ]);
  });

  it('tool_use: input {} at the start, arguments as input_json_delta, stop_reason tool_use', async () => {
    const { out, enc } = stream([text('Running it.'), toolHead(0, 'call_abc', 'Bash'), toolArgs(0, '{"comm'), toolArgs(0, 'and":"ls"}'), finish('tool_calls')]);
    const ev = events(out);
    const start = ev.find((e) => e.event === 'content_block_start' && e.data.content_block.type === 'tool_use')!;
    assert.deepEqual(start.data, { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_abc', name: 'Bash', input: {} } });
    assert.deepEqual(
      ev.filter((e) => e.data.delta?.type === 'input_json_delta').map((e) => e.data),
      [
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"comm' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: 'and":"ls"}' } },
      ],
    );
    assert.equal(ev.find((e) => e.event === 'message_delta')!.data.delta.stop_reason, 'tool_use');
    assert.equal(enc.finishReason, 'tool_calls');
    const sdk = await sdkStream(out);
    assert.deepEqual(
      sdk.message.content.map((b: any) => ({ ...b })),
      [
        { type: 'text', text: 'Running it.' },
        { type: 'tool_use', id: 'call_abc', name: 'Bash', input: { command: 'ls' } },
      ],
    );
    assert.equal(sdk.message.stop_reason, 'tool_use');
  });

  it('parallel tool calls: one block each; ids other upstreams make are made Anthropic-safe; index reuse starts a new call', async () => {
    const { out } = stream([
      toolHead(0, 'functions.Bash:0', 'Bash'),
      toolArgs(0, '{"command":"echo a"}'),
      toolHead(1, 'functions.Bash:1', 'Bash'),
      toolArgs(1, '{"command":"echo b"}'),
      // Gemini-style: every call at index 0, told apart by its id.
      { choice: { toolCalls: [{ index: 0, id: 'call_x', name: 'Read', arguments: '{"path":"/a"}' }], finishReason: null } },
      // A repeated id on a later fragment continues the call.
      { choice: { toolCalls: [{ index: 0, id: 'call_x', arguments: '' }], finishReason: null } },
      // The end: an upstream that says "stop" after tool calls still ends a tool_use turn.
      finish('stop'),
    ]);
    const sdk = await sdkStream(out);
    const blocks = sdk.message.content;
    assert.equal(blocks.length, 3);
    assert.deepEqual(
      blocks.map((b: any) => [b.name, b.input]),
      [
        ['Bash', { command: 'echo a' }],
        ['Bash', { command: 'echo b' }],
        ['Read', { path: '/a' }],
      ],
    );
    assert.match(blocks[0].id, /^functions_Bash_0_[0-9a-f]{8}$/);
    assert.equal(blocks[0].id, clientToolId('functions.Bash:0'), 'the same id maps the same way every time');
    assert.notEqual(blocks[0].id, blocks[1].id);
    assert.equal(blocks[2].id, 'call_x');
    assert.equal(sdk.message.stop_reason, 'tool_use');
    assert.match(clientToolId(undefined), /^toolu_[A-Za-z0-9]{24}$/);
  });

  it('a stream that ended without a finish reason: syntheticFinish closes the block; end_turn', async () => {
    const { out, enc } = stream([text('cut short')], { synthetic: true });
    assert.equal(enc.finished, true);
    assert.equal(enc.finishReason, 'stop');
    const sdk = await sdkStream(out);
    assert.equal(sdk.message.stop_reason, 'end_turn');
    assert.deepEqual(sdk.message.content, [{ type: 'text', text: 'cut short' }]);
  });

  it('max_tokens, refusal, and an empty answer', async () => {
    assert.equal((await sdkStream(stream([text('long'), finish('length')]).out)).message.stop_reason, 'max_tokens');
    const refused = await sdkStream(stream([{ choice: { refusal: 'I cannot help with that.', finishReason: null } }, finish('stop')]).out);
    assert.equal(refused.message.stop_reason, 'refusal');
    assert.deepEqual(refused.message.content, [{ type: 'text', text: 'I cannot help with that.' }]);
    const empty = await sdkStream(stream([finish('stop')]).out);
    assert.deepEqual(empty.message.content, []);
    assert.equal(empty.message.stop_reason, 'end_turn');
  });

  it('a failure after content: an error event, then nothing (the SDK raises it)', async () => {
    const enc = codec.streamEncoder(identity(parse(minimal())));
    let out = enc.start() + enc.encode(text('partial'));
    out += enc.fail({ status: 502, message: 'Provider returned error', metadata: { raw: 'connection reset', provider_name: 'Groq' } });
    assert.equal(enc.end(USAGE, COST), '');
    const last = events(out).at(-1)!;
    assert.deepEqual(last, {
      event: 'error',
      data: { type: 'error', error: { type: 'api_error', message: 'Provider returned error (Groq): connection reset' } },
    });
    assert.equal(enc.finishReason, 'error');
    await assert.rejects(sdkStream(out), (err: any) => {
      assert.ok(err instanceof Anthropic.APIError);
      assert.equal(err.type, 'api_error');
      return true;
    });
    const overloaded = codec.streamEncoder(identity(parse(minimal())));
    assert.match(overloaded.fail({ status: 529, message: 'Overloaded' }), /"type":"overloaded_error"/);
  });

  it('keep-alive is Anthropic’s ping event, which the SDK skips', async () => {
    assert.equal(codec.keepAlive, PING_EVENT);
    assert.equal(codec.keepAlive, 'event: ping\ndata: {"type": "ping"}\n\n');
    assert.equal(codec.jsonKeepAlive, false);
    const enc = codec.streamEncoder(identity(parse(minimal())));
    const out = PING_EVENT + enc.start() + PING_EVENT + enc.encode(text('ok')) + PING_EVENT + enc.encode(finish('end_turn')) + enc.end(USAGE, COST);
    const sdk = await sdkStream(out);
    assert.deepEqual(sdk.message.content, [{ type: 'text', text: 'ok' }]);
  });

  it('native passthrough: the Anthropic upstream’s own events, unchanged; nothing added', async () => {
    const { request, response } = fixture('cc-thinking-tool__001-POST-v1-messages.json');
    const req = parse(request.body, request.headers);
    const raw: string = response.sse_raw;
    const nativeEvents = raw.split(/(?<=\n\n)/);
    const chunks: UpstreamChunk[] = nativeEvents.map((ev) => {
      const chunk: UpstreamChunk = { native: ev };
      if (ev.startsWith('event: message_delta')) chunk.choice = { finishReason: JSON.parse(ev.split('data: ')[1]).delta.stop_reason };
      if (ev.includes('"type":"tool_use"')) chunk.choice = { toolCalls: [{ index: 0, id: 'toolu_x', name: 'Bash', arguments: '' }], finishReason: null };
      return chunk;
    });
    // As the Anthropic decoder hands them over: message_stop ends the stream without a chunk.
    const withoutStop = chunks.filter((c) => !c.native!.startsWith('event: message_stop'));
    const enc = codec.streamEncoder(identity(req, 'anthropic'));
    let out = enc.start();
    assert.equal(out, '');
    for (const c of withoutStop) out += enc.encode(c);
    assert.equal(enc.syntheticFinish(), '');
    const tail = enc.end(USAGE, COST);
    assert.equal(tail, 'event: message_stop\ndata: {"type":"message_stop"}\n\n', 'only the missing message_stop');
    assert.equal(out + tail, raw.replace('event: message_stop\ndata: {"type":"message_stop"}\n\n', '') + tail);
    assert.equal(enc.nativeFinish, 'tool_use');
    assert.equal(enc.finishReason, 'tool_calls');

    // When the message_stop event does come through, nothing at all is added.
    const enc2 = codec.streamEncoder(identity(req, 'anthropic'));
    let out2 = enc2.start();
    for (const c of chunks) out2 += enc2.encode(c);
    out2 += enc2.end(USAGE, COST);
    assert.equal(out2, raw);
    const sdk = await sdkStream(out2);
    assert.equal(sdk.message.id, 'msg_0003mock');
    assert.equal(sdk.message.stop_reason, 'tool_use');
    assert.deepEqual(sdk.message.content.map((b: any) => b.type), ['thinking', 'tool_use']);

    // Another protocol's upstream for the same request: encoded, not passed through.
    const translated = codec.streamEncoder(identity(req, 'openai'));
    assert.match(translated.start(), /^event: message_start/);
  });
});

describe('non-streamed body and errors', () => {
  const completion = (over: Partial<Completion> = {}): Completion => ({
    content: null,
    reasoning: null,
    reasoningDetails: [],
    toolCalls: [],
    refusal: null,
    finishReason: 'stop',
    usage: USAGE,
    ...over,
  });

  it('blocks in order: thinking (signed), redacted thinking, text, tool_use; stop_reason and usage', async () => {
    const who = identity(parse(minimal()));
    const { body, finishReason } = codec.completionBody(
      who,
      completion({
        content: 'Here.',
        reasoning: 'hmm',
        reasoningDetails: [
          { type: 'reasoning.text', text: 'hm', format: FORMAT, index: 0 },
          { type: 'reasoning.text', text: 'm', format: FORMAT, index: 0 },
          { type: 'reasoning.text', signature: 'SIG', format: FORMAT, index: 0 },
          { type: 'reasoning.encrypted', data: 'RED', format: FORMAT, index: 1 },
        ],
        toolCalls: [
          { id: 'call_1', type: 'function', name: 'Bash', arguments: '{"command": "ls"}' },
          { id: 'call_2', type: 'function', name: 'Noop', arguments: '' },
        ],
        finishReason: 'tool_calls',
      }),
      USAGE,
      COST,
    );
    assert.equal(finishReason, 'tool_calls');
    assert.deepEqual(body, {
      id: who.id,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [
        { type: 'thinking', thinking: 'hmm', signature: 'SIG' },
        { type: 'redacted_thinking', data: 'RED' },
        { type: 'text', text: 'Here.' },
        { type: 'tool_use', id: 'call_1', name: 'Bash', input: { command: 'ls' } },
        { type: 'tool_use', id: 'call_2', name: 'Noop', input: {} },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 50, cache_creation_input_tokens: 20, cache_read_input_tokens: 30, output_tokens: 20 },
    });
    const message = await sdkCreate(200, body);
    assert.equal(message.content[3].input.command, 'ls');
    assert.equal(message.usage.input_tokens, 50);
  });

  it('finish reasons, reasoning without details, a refusal', () => {
    const who = identity(parse(minimal()));
    const b1 = codec.completionBody(who, completion({ content: 'x', finishReason: 'length' }), USAGE, COST);
    assert.equal((b1.body as any).stop_reason, 'max_tokens');
    assert.equal(b1.finishReason, 'length');
    const b2 = codec.completionBody(who, completion({ content: 'x', reasoning: 'thought', finishReason: 'STOP' }), USAGE, COST);
    assert.deepEqual((b2.body as any).content, [
      { type: 'thinking', thinking: 'thought', signature: '' },
      { type: 'text', text: 'x' },
    ]);
    assert.equal((b2.body as any).stop_reason, 'end_turn');
    const b3 = codec.completionBody(who, completion({ refusal: 'No.' }), USAGE, COST);
    assert.equal((b3.body as any).stop_reason, 'refusal');
    assert.deepEqual((b3.body as any).content, [{ type: 'text', text: 'No.' }]);
  });

  it('native passthrough returns the upstream’s body as it is', () => {
    const { request, response } = fixture('cc-no-message-start__002-POST-v1-messages.json');
    const req = parse(request.body, request.headers);
    const native = response.body;
    const parsed = completion({ content: 'Hi!', finishReason: 'end_turn', native });
    const out = codec.completionBody(identity(req, 'anthropic'), parsed, USAGE, COST);
    assert.equal(out.body, native);
    assert.equal(out.finishReason, 'stop');
    const translated = codec.completionBody(identity(req, 'openai'), parsed, USAGE, COST);
    assert.notEqual(translated.body, native);
    assert.equal((translated.body as any).id, 'gen-1765000000-ABCDEFGHIJKLMNOPQRST');
  });

  it('error bodies: Anthropic’s envelope and types, the status kept', async () => {
    const cases: [number, string][] = [
      [400, 'invalid_request_error'],
      [401, 'authentication_error'],
      [402, 'billing_error'],
      [403, 'permission_error'],
      [404, 'not_found_error'],
      [408, 'timeout_error'],
      [413, 'request_too_large'],
      [422, 'invalid_request_error'],
      [429, 'rate_limit_error'],
      [500, 'api_error'],
      [502, 'api_error'],
      [503, 'overloaded_error'],
      [504, 'timeout_error'],
      [529, 'overloaded_error'],
    ];
    for (const [status, type] of cases) {
      const out = codec.errorBody({ status, message: `failed ${status}` });
      assert.equal(out.status, status);
      assert.deepEqual(out.body, { type: 'error', error: { type, message: `failed ${status}` } });
      assert.equal(anthropicErrorType(status), type);
    }
    const withRaw = codec.errorBody({ status: 502, message: 'Provider returned error', metadata: { raw: 'upstream said no' } });
    assert.equal((withRaw.body as any).error.message, 'Provider returned error: upstream said no');

    await assert.rejects(sdkCreate(429, codec.errorBody({ status: 429, message: 'slow down' }).body), (err: any) => {
      assert.ok(err instanceof Anthropic.RateLimitError);
      assert.equal(err.type, 'rate_limit_error');
      assert.equal(err.apiMessage, 'slow down');
      return true;
    });
    await assert.rejects(sdkCreate(400, codec.errorBody({ status: 400, message: 'max_tokens is required' }).body), (err: any) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.equal(err.apiMessage, 'max_tokens is required');
      return true;
    });
  });

  it('stop reasons from every upstream family', () => {
    const cases: [string | null, boolean, string][] = [
      ['end_turn', false, 'end_turn'],
      ['stop', false, 'end_turn'],
      ['STOP', false, 'end_turn'],
      ['completed', false, 'end_turn'],
      ['stop', true, 'tool_use'],
      ['tool_calls', true, 'tool_use'],
      ['tool_use', true, 'tool_use'],
      ['length', false, 'max_tokens'],
      ['MAX_TOKENS', false, 'max_tokens'],
      ['max_tokens', true, 'max_tokens'],
      ['stop_sequence', false, 'stop_sequence'],
      ['pause_turn', false, 'pause_turn'],
      ['refusal', false, 'refusal'],
      ['content_filter', false, 'refusal'],
      ['SAFETY', false, 'refusal'],
      ['model_context_window_exceeded', false, 'model_context_window_exceeded'],
      [null, false, 'end_turn'],
    ];
    for (const [native, tools, expected] of cases) assert.equal(stopReasonOf(native, tools), expected, `${native} (tools: ${tools})`);
  });
});
