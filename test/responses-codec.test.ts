/**
 * The OpenAI Responses front door (src/ingress/responses/): real Codex CLI request bodies parse
 * into the wire-neutral model (namespaces, custom tools, additional_tools, reasoning items sent
 * back); bad bodies get a 400 naming the field; the encoder's event sequences for text, function
 * calls, custom tool calls, namespaced tools, reasoning with encrypted content (OpenAI's and
 * other providers' signatures through Switchyard's envelope), incomplete and failed responses; and
 * the real `openai` SDK reads the events, bodies and errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { GenerationRequest, Message, ReasoningPart, ToolCallPart } from '../src/model/request.js';
import type { TokenUsage, UpstreamChunk } from '../src/model/response.js';
import type { ResponseIdentity } from '../src/pipeline/ingress.js';
import { ApiError } from '../src/core/errors.js';
import { responsesCodec, RESPONSES_KEEPALIVE } from '../src/ingress/responses/codec.js';
import { decodeReasoningEnvelope, responsesContextOf } from '../src/ingress/responses/context.js';
import { completionBody, responseIdOfItem, ResponsesStreamEncoder } from '../src/ingress/responses/encode.js';
import { CustomInputDecoder, unwrapCustomInput } from '../src/ingress/responses/input-decoder.js';
import { parseResponsesRequest } from '../src/ingress/responses/to-model.js';

type Json = Record<string, unknown>;

const FIXTURES = join(import.meta.dirname, 'fixtures', 'agent-traffic', 'codex');
const CTX = { maxModels: 3 };
const USAGE: TokenUsage = { promptTokens: 120, completionTokens: 30, cachedTokens: 100, cacheWriteTokens: 0, reasoningTokens: 10, audioPromptTokens: 0 };
const COST = { prompt: 0.001, completion: 0.002, total: 0.003 };

function fixture(name: string): { headers: Json; body: Json } {
  const f = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as { request: { headers: Json; body: Json } };
  return f.request;
}

function parse(body: unknown, headers: Json = {}): GenerationRequest {
  return parseResponsesRequest(body, headers as never, CTX);
}

function who(request: GenerationRequest, id = 'gen-1796602266-0AbCdEfGhIjKlMnOpQrS'): ResponseIdentity {
  return { id, created: 1796602266, model: 'openai/gpt-5', requestedModel: 'openai/gpt-5', provider: 'OpenAI', upstreamProtocol: 'openai', request };
}

interface Event {
  event: string;
  data: Json;
}

function events(sse: string): Event[] {
  const out: Event[] = [];
  for (const block of sse.split('\n\n')) {
    if (block.trim() === '' || block.startsWith(':')) continue;
    const lines = block.split('\n');
    assert.match(lines[0], /^event: /, `event line in ${block}`);
    assert.match(lines[1], /^data: /);
    const data = JSON.parse(lines[1].slice(6)) as Json;
    assert.equal(data.type, lines[0].slice(7), 'event name and data.type agree');
    out.push({ event: lines[0].slice(7), data });
  }
  return out;
}

/** Runs chunks through a fresh encoder: the SSE text, its events and the encoder. */
function stream(req: GenerationRequest, chunks: UpstreamChunk[], end: 'end' | { fail: number } = 'end') {
  const enc = new ResponsesStreamEncoder(who(req));
  let sse = enc.start();
  for (const c of chunks) sse += enc.encode(c);
  if (end === 'end') {
    if (!enc.finished) sse += enc.syntheticFinish();
    sse += enc.end(USAGE, COST);
  } else {
    sse += enc.fail({ status: end.fail, message: 'Provider returned error', metadata: { raw: 'upstream exploded' } });
  }
  const evs = events(sse);
  evs.forEach((e, i) => assert.equal(e.data.sequence_number, i, 'sequence numbers count from 0'));
  assert.ok(!sse.includes('[DONE]'));
  return { sse, evs, enc, types: evs.map((e) => e.event) };
}

const text = (content: string): UpstreamChunk => ({ choice: { content, finishReason: null } });
const finish = (reason: string): UpstreamChunk => ({ choice: { finishReason: reason } });

const toolCalls = (m: Message) => m.content.filter((p): p is ToolCallPart => p.type === 'tool-call');

describe('responses request parsing: real Codex bodies', () => {
  it('cx-tool: developer messages, a function call and its output, namespaces flattened, hosted web_search', () => {
    const { headers, body } = fixture('cx-tool__002-POST-v1-responses.json');
    const req = parse(body, headers);
    assert.equal(req.api, 'responses');
    assert.equal(req.model, 'mock-model');
    assert.equal(req.stream, true);
    assert.deepEqual(
      req.messages.map((m) => m.role),
      ['system', 'system', 'user', 'user', 'assistant', 'tool'],
    );
    const [call] = toolCalls(req.messages[4]);
    assert.deepEqual(call, { type: 'tool-call', id: 'call_0003mock', name: 'exec_command', arguments: '{"cmd":"echo hello-from-tool"}' });
    const result = req.messages[5].content[0];
    assert.equal(result.type, 'tool-result');
    assert.equal(result.type === 'tool-result' && result.callId, 'call_0003mock');
    const names = req.tools.map((t) => t.name);
    assert.ok(names.includes('exec_command'));
    assert.ok(names.includes('multi_agent_v1__close_agent'), names.join(', '));
    const web = req.tools.find((t) => t.type === 'hosted');
    assert.deepEqual(web, { type: 'hosted', name: 'web_search', config: { type: 'web_search', external_web_access: false } });
    assert.equal(req.toolChoice, 'auto');
    assert.equal(req.parallelToolCalls, true);
    assert.deepEqual(req.reasoning, { summary: 'auto' });
    const ctx = responsesContextOf(req)!;
    assert.equal(ctx.store, false, 'Codex sends store:false');
    assert.equal(ctx.input, null, 'nothing kept for an unstored response');
    assert.ok(ctx.include.has('reasoning.encrypted_content'));
    assert.deepEqual(ctx.tools.get('multi_agent_v1__close_agent'), { name: 'close_agent', namespace: 'multi_agent_v1', custom: false });
    assert.ok(req.parameters.includes('tools'));
    assert.ok(req.promptChars > 1000);
  });

  it('cx-thinking-tool: the reasoning item sent back joins the assistant turn with its encrypted content', () => {
    const { body } = fixture('cx-thinking-tool__002-POST-v1-responses.json');
    const req = parse(body);
    const assistant = req.messages.find((m) => m.role === 'assistant')!;
    assert.deepEqual(assistant.content[0], {
      type: 'reasoning',
      format: 'openai-responses-v1',
      summary: '**Mock reasoning**\n\nA short mock summary.',
      encrypted: 'gAAAAmock-enc_0003mock-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
      id: 'rs_0002mock',
    });
    assert.equal(assistant.content[1].type, 'tool-call');
    assert.deepEqual(req.reasoning, { effort: 'high', summary: 'auto' });
  });

  it('cx-default-model (responses-lite): additional_tools namespaces, the custom exec tool, its call and array output', () => {
    const { headers, body } = fixture('cx-default-model-tool__002-POST-v1-responses.json');
    assert.equal(headers['x-openai-internal-codex-responses-lite'], 'true');
    const req = parse(body, headers);
    const exec = req.tools.find((t) => t.name === 'exec');
    assert.ok(exec && exec.type === 'function', 'the functions namespace is not prefixed');
    assert.equal(exec.kind, 'custom');
    assert.equal((exec.format as Json).syntax, 'lark');
    assert.ok(req.tools.some((t) => t.name === 'clock__sleep'));
    assert.ok(req.tools.some((t) => t.name === 'collaboration__spawn_agent'));
    const ctx = responsesContextOf(req)!;
    assert.deepEqual(ctx.tools.get('exec'), { name: 'exec', custom: true });
    assert.deepEqual(ctx.tools.get('clock__sleep'), { name: 'sleep', namespace: 'clock', custom: false });
    const assistant = req.messages.find((m) => m.role === 'assistant')!;
    assert.deepEqual(toolCalls(assistant)[0], {
      type: 'tool-call',
      id: 'call_0003mock',
      name: 'exec',
      arguments: 'const r = await tools.exec_command({cmd: "echo hello-from-tool"}); text(r);',
      kind: 'custom',
    });
    const tool = req.messages[req.messages.length - 1];
    assert.equal(tool.role, 'tool');
    const result = tool.content[0];
    assert.ok(result.type === 'tool-result');
    assert.equal(result.kind, 'custom');
    assert.equal(result.content.length, 2);
    assert.equal(req.extra.verbosity, 'low');
    assert.deepEqual(req.reasoning, { effort: 'low' });
    assert.equal(req.parallelToolCalls, false);
    assert.equal(((JSON.parse(ctx.echo) as Json).reasoning as Json).context, 'all_turns', 'the echo keeps what the client sent');
  });

  it('cx-parallel-tools: two calls merge into one assistant turn, two tool results follow', () => {
    const req = parse(fixture('cx-parallel-tools__002-POST-v1-responses.json').body);
    const roles = req.messages.map((m) => m.role);
    assert.deepEqual(roles.slice(-3), ['assistant', 'tool', 'tool']);
    assert.equal(toolCalls(req.messages[req.messages.length - 3]).length, 2);
  });

});

describe('responses request parsing: shapes and errors', () => {
  it('string input, instructions, text.format, max_output_tokens, OpenRouter routing fields', () => {
    const req = parse({
      model: 'openai/gpt-5',
      models: ['anthropic/claude-sonnet-4.5'],
      provider: { order: ['openai'] },
      route: 'fallback',
      input: 'hello',
      instructions: 'Be brief.',
      max_output_tokens: 64000,
      temperature: 0.2,
      text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true }, verbosity: 'high' },
      safety_identifier: 'user-1',
      metadata: { k: 'v' },
      service_tier: 'flex',
      prompt_cache_key: 'ignored',
      tool_choice: { type: 'web_search_preview' },
      tools: [{ type: 'web_search_preview' }],
    });
    assert.deepEqual(req.messages, [
      { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
      { role: 'user', content: [{ type: 'text', text: 'hello' }] },
    ]);
    assert.equal(req.maxTokens, 64000);
    assert.equal(req.maxTokensPolicy, 'clamp');
    assert.deepEqual(req.responseFormat, { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true });
    assert.deepEqual(req.extra, { verbosity: 'high', service_tier: 'flex' });
    assert.equal(req.user, 'user-1');
    assert.deepEqual(req.models, ['anthropic/claude-sonnet-4.5']);
    assert.deepEqual(req.provider, { order: ['openai'] });
    assert.equal(req.route, 'fallback');
    assert.deepEqual(req.toolChoice, { name: 'web_search' }, 'a required hosted tool is named by its neutral name');
    assert.deepEqual(req.parameters.sort(), ['max_tokens', 'response_format', 'temperature', 'tool_choice', 'tools']);
  });

  it('images, files and audio; refusals and assistant text merge with calls', () => {
    const req = parse({
      model: 'm',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'look' },
            { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'high' },
            { type: 'input_image', file_id: 'file-1' },
            { type: 'input_file', file_data: 'data:application/pdf;base64,JVBE', filename: 'a.pdf' },
            { type: 'input_file', file_data: 'SGVsbG8=', filename: 'notes.txt' },
            { type: 'input_file', file_url: 'https://example.com/x.pdf' },
            { type: 'input_audio', input_audio: { data: 'UklG', format: 'wav' } },
          ],
        },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Let me check.' }] },
        { type: 'function_call', call_id: 'c1', name: 'close_agent', namespace: 'multi_agent_v1', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_text', text: 'closed' }, { type: 'input_image', image_url: 'https://x/y.png' }] },
        { type: 'web_search_call', id: 'ws_1', status: 'completed' },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] },
      ],
    });
    const user = req.messages[0].content;
    assert.deepEqual(user[1], { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' }, detail: 'high' });
    assert.deepEqual(user[2], { type: 'image', source: { kind: 'file-id', fileId: 'file-1' } });
    assert.deepEqual(user[3], { type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBE' }, filename: 'a.pdf' });
    assert.deepEqual(user[4], { type: 'file', source: { kind: 'base64', mediaType: 'text/plain', data: 'SGVsbG8=' }, filename: 'notes.txt' });
    assert.deepEqual(user[5], { type: 'file', source: { kind: 'url', url: 'https://example.com/x.pdf' } });
    assert.deepEqual(user[6], { type: 'audio', data: 'UklG', format: 'wav' });
    assert.deepEqual(req.messages[1].content, [
      { type: 'text', text: 'Let me check.' },
      { type: 'tool-call', id: 'c1', name: 'multi_agent_v1__close_agent', arguments: '{}' },
    ]);
    assert.equal(req.messages[2].role, 'tool');
    assert.deepEqual(req.messages[3], { role: 'assistant', content: [{ type: 'text', text: 'No.' }] });
  });

  it('bad bodies: a 400 naming the field, as OpenAI param', () => {
    const cases: [unknown, RegExp, string | null][] = [
      [{ input: 'x' }, /model is required/, 'model'],
      [{ model: 'm' }, /input is required/, 'input'],
      [{ model: 'm', input: [{ role: 'user', content: [{ type: 'image_url', url: 'x' }] }] }, /input\[0\]\.content\[0\]\.type must be one of/, 'input[0].content[0].type'],
      [{ model: 'm', input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }, /input\[0\]\.call_id is required/, 'input[0].call_id'],
      [{ model: 'm', input: [{ type: 'bogus' }] }, /input\[0\]\.type "bogus" is not a supported input item type/, 'input[0].type'],
      [{ model: 'm', input: 'x', tools: [{ type: 'function' }] }, /tools\[0\]\.name is required/, 'tools[0].name'],
      [{ model: 'm', input: 'x', tools: [{ type: 'teleport' }] }, /tools\[0\]\.type "teleport" is not a supported tool type/, 'tools[0].type'],
      [{ model: 'm', input: 'x', reasoning: { effort: 'extreme' } }, /reasoning\.effort must be one of/, 'reasoning.effort'],
      [{ model: 'm', input: 'x', max_output_tokens: 0 }, /max_output_tokens must be between/, 'max_output_tokens'],
      [{ model: 'm', input: 'x', text: { format: { type: 'json_schema', name: 'x' } } }, /text\.format\.schema must be an object/, 'text.format.schema'],
      [{ model: 'm', input: 'x', background: true }, /background is not supported/, 'background'],
      [{ model: 'm', models: ['a', 'b', 'c', 'd'], input: 'x' }, /models may list at most 3/, 'models'],
      [[1], /must be a JSON object/, null],
    ];
    for (const [body, message, param] of cases) {
      assert.throws(
        () => parse(body),
        (err: unknown) => {
          assert.ok(err instanceof ApiError);
          assert.equal(err.status, 400);
          assert.match(err.message, message);
          assert.equal(err.metadata?.param ?? null, param);
          return true;
        },
      );
    }
  });

  it('previous_response_id and item_reference without a store answer 404', () => {
    assert.throws(() => parse({ model: 'm', input: 'x', previous_response_id: 'resp_x' }), (err: unknown) => err instanceof ApiError && err.status === 404 && err.message === "Previous response with id 'resp_x' not found.");
    assert.throws(() => parse({ model: 'm', input: [{ type: 'item_reference', id: 'msg_a_1' }] }), (err: unknown) => err instanceof ApiError && err.status === 404 && err.metadata?.param === 'input[0].id');
  });
});

describe('responses stream encoder', () => {
  const plain = () => parse({ model: 'm', input: 'hi', stream: true });

  it('text: created, in_progress, message item with one output_text part, completed with usage', () => {
    const { evs, types, enc } = stream(plain(), [text('Hel'), text('lo'), finish('stop')]);
    assert.deepEqual(types, [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const created = evs[0].data.response as Json;
    assert.equal(created.id, 'resp_17966022660AbCdEfGhIjKlMnOpQrS');
    assert.equal(created.status, 'in_progress');
    assert.deepEqual(created.output, []);
    assert.equal(evs[4].data.item_id, 'msg_17966022660AbCdEfGhIjKlMnOpQrS_0');
    assert.deepEqual(evs[4].data.logprobs, []);
    assert.equal(evs[6].data.text, 'Hello');
    const done = evs[9].data.response as Json;
    assert.equal(done.status, 'completed');
    assert.equal(typeof done.completed_at, 'number');
    assert.deepEqual(done.output, [{ id: 'msg_17966022660AbCdEfGhIjKlMnOpQrS_0', type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'Hello' }], role: 'assistant' }]);
    assert.deepEqual(done.usage, { input_tokens: 120, input_tokens_details: { cached_tokens: 100 }, output_tokens: 30, output_tokens_details: { reasoning_tokens: 10 }, total_tokens: 150, cost: 0.003 });
    assert.equal(done.store, true);
    assert.equal(done.error, null);
    assert.equal(enc.finishReason, 'stop');
    assert.deepEqual(enc.response, done);
    assert.equal(responseIdOfItem('msg_17966022660AbCdEfGhIjKlMnOpQrS_0'), created.id);
  });

  it('function call: item added with empty arguments, argument deltas, done; finish reason tool_calls', () => {
    const req = parse({ model: 'm', input: 'x', tools: [{ type: 'function', name: 'exec_command', parameters: { type: 'object' } }] });
    const { evs, types, enc } = stream(req, [
      { choice: { toolCalls: [{ index: 0, id: 'call_1', type: 'function', name: 'exec_command', arguments: '' }], finishReason: null } },
      { choice: { toolCalls: [{ index: 0, arguments: '{"cmd":' }], finishReason: null } },
      { choice: { toolCalls: [{ index: 0, arguments: '"ls"}' }], finishReason: null } },
      { choice: { toolCalls: [{ index: 1, id: 'call_2', name: 'exec_command', arguments: '{}' }], finishReason: 'tool_calls' } },
    ]);
    assert.deepEqual(types, [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    assert.deepEqual(evs[2].data.item, { id: 'fc_17966022660AbCdEfGhIjKlMnOpQrS_0', type: 'function_call', status: 'in_progress', arguments: '', call_id: 'call_1', name: 'exec_command' });
    assert.equal(evs[5].data.arguments, '{"cmd":"ls"}');
    const out = (evs[11].data.response as Json).output as Json[];
    assert.deepEqual(
      out.map((o) => [o.type, o.call_id, o.arguments, o.status]),
      [
        ['function_call', 'call_1', '{"cmd":"ls"}', 'completed'],
        ['function_call', 'call_2', '{}', 'completed'],
      ],
    );
    assert.equal(enc.finishReason, 'tool_calls');
  });

  it('namespaced tools come back with their name and namespace', () => {
    const req = parse({ model: 'm', input: 'x', tools: [{ type: 'namespace', name: 'multi_agent_v1', description: 'agents', tools: [{ type: 'function', name: 'close_agent' }] }] });
    assert.equal(req.tools[0].name, 'multi_agent_v1__close_agent');
    const { evs } = stream(req, [{ choice: { toolCalls: [{ index: 0, id: 'call_9', name: 'multi_agent_v1__close_agent', arguments: '{"target":"a"}' }], finishReason: 'tool_calls' } }]);
    const item = evs.find((e) => e.event === 'response.output_item.done')!.data.item as Json;
    assert.equal(item.name, 'close_agent');
    assert.equal(item.namespace, 'multi_agent_v1');
    // And the call, sent back, reaches the upstream under the flat name again.
    const next = parse({ model: 'm', input: [item, { type: 'function_call_output', call_id: 'call_9', output: 'ok' }], tools: [{ type: 'namespace', name: 'multi_agent_v1', description: '', tools: [{ type: 'function', name: 'close_agent' }] }] });
    assert.equal(toolCalls(next.messages[0])[0].name, 'multi_agent_v1__close_agent');
  });

  it('custom tool called as a function: custom_tool_call with the unwrapped input, streamed as it decodes', () => {
    const { body } = fixture('cx-default-model-tool__002-POST-v1-responses.json');
    const req = parse(body);
    const input = 'const r = await tools.exec_command({cmd: "echo \\u00e9 \u{1F600}"});\ntext(r);';
    const args = JSON.stringify({ input });
    // Split everywhere, including inside escapes and the surrogate pair.
    const frags: string[] = [];
    for (let i = 0; i < args.length; i += 3) frags.push(args.slice(i, i + 3));
    const chunks: UpstreamChunk[] = [{ choice: { toolCalls: [{ index: 0, id: 'call_7', type: 'function', name: 'exec', arguments: '' }], finishReason: null } }];
    for (const f of frags) chunks.push({ choice: { toolCalls: [{ index: 0, arguments: f }], finishReason: null } });
    chunks.push(finish('tool_calls'));
    const { evs, sse } = stream(req, chunks);
    const added = evs.find((e) => e.event === 'response.output_item.added')!.data.item as Json;
    assert.deepEqual(added, { id: 'ctc_17966022660AbCdEfGhIjKlMnOpQrS_0', type: 'custom_tool_call', status: 'in_progress', call_id: 'call_7', name: 'exec', input: '' });
    const deltas = evs.filter((e) => e.event === 'response.custom_tool_call_input.delta').map((e) => e.data.delta as string);
    assert.ok(deltas.length > 10, 'streamed, not sent at the end');
    assert.equal(deltas.join(''), input);
    for (const d of deltas) assert.ok(!/[\ud800-\udbff]$/.test(d), 'no delta ends inside a surrogate pair');
    assert.ok(!/\\ud83d"/i.test(sse));
    assert.equal(evs.find((e) => e.event === 'response.custom_tool_call_input.done')!.data.input, input);
    const done = evs.find((e) => e.event === 'response.output_item.done')!.data.item as Json;
    assert.deepEqual(done, { id: 'ctc_17966022660AbCdEfGhIjKlMnOpQrS_0', type: 'custom_tool_call', status: 'completed', call_id: 'call_7', name: 'exec', input });
    // Sent back, the call is a custom tool call again.
    const next = parse({ model: 'm', input: [done, { type: 'custom_tool_call_output', call_id: 'call_7', output: 'ok' }] });
    assert.deepEqual(toolCalls(next.messages[0])[0], { type: 'tool-call', id: 'call_7', name: 'exec', arguments: input, kind: 'custom' });
  });

  it('OpenAI reasoning via a chat upstream: summary deltas then encrypted data with its rs_ id, round trip', () => {
    const req = parse({ model: 'm', input: 'x', include: ['reasoning.encrypted_content'], reasoning: { effort: 'high', summary: 'auto' } });
    const F = 'openai-responses-v1';
    const { evs, types } = stream(req, [
      { choice: { reasoning: '**Plan**', reasoningDetails: [{ type: 'reasoning.summary', summary: '**Plan**', format: F, index: 0 }], finishReason: null } },
      { choice: { reasoning: ' go', reasoningDetails: [{ type: 'reasoning.summary', summary: ' go', format: F, index: 0 }], finishReason: null } },
      { choice: { reasoning: null, reasoningDetails: [{ type: 'reasoning.encrypted', data: 'gAAAAABenc', id: 'rs_upstream1', format: F, index: 0 }], finishReason: null } },
      text('Done.'),
      finish('stop'),
    ]);
    assert.deepEqual(types.slice(0, 9), [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
    ]);
    const item = evs[8].data.item as Json;
    assert.equal(item.id, 'rs_17966022660AbCdEfGhIjKlMnOpQrS_0');
    assert.deepEqual(item.summary, [{ type: 'summary_text', text: '**Plan** go' }]);
    const env = decodeReasoningEnvelope(item.encrypted_content as string);
    assert.deepEqual(env, { f: F, d: 'gAAAAABenc', i: 'rs_upstream1' });
    const next = parse({ model: 'm', input: [item, { role: 'user', content: 'more' }] });
    assert.deepEqual(next.messages[0].content[0], { type: 'reasoning', format: F, summary: '**Plan** go', encrypted: 'gAAAAABenc', id: 'rs_upstream1' });
  });

  it('Anthropic thinking and a redacted block round-trip through the envelope with their signature', () => {
    const req = parse({ model: 'm', input: 'x', include: ['reasoning.encrypted_content'] });
    const A = 'anthropic-claude-v1';
    const { evs } = stream(req, [
      { choice: { reasoning: 'Let me ', reasoningDetails: [{ type: 'reasoning.text', text: 'Let me ', format: A, index: 0 }], finishReason: null } },
      { choice: { reasoning: 'think.', reasoningDetails: [{ type: 'reasoning.text', text: 'think.', format: A, index: 0 }], finishReason: null } },
      { choice: { reasoningDetails: [{ type: 'reasoning.text', signature: 'sig-abc', format: A, index: 0 }], finishReason: null } },
      { choice: { reasoning: null, reasoningDetails: [{ type: 'reasoning.encrypted', data: 'redacted-xyz', format: A, index: 1 }], finishReason: null } },
      { choice: { toolCalls: [{ index: 0, id: 'toolu_1', name: 'f', arguments: '{}' }], finishReason: 'tool_use' } },
    ]);
    const done = evs.filter((e) => e.event === 'response.output_item.done').map((e) => e.data.item as Json);
    assert.deepEqual(
      done.map((i) => i.type),
      ['reasoning', 'reasoning', 'function_call'],
    );
    assert.deepEqual(done[0].summary, [{ type: 'summary_text', text: 'Let me think.' }]);
    assert.deepEqual(done[1].summary, [], 'a redacted block has no readable text');
    const next = parse({ model: 'm', input: [...done, { type: 'function_call_output', call_id: 'toolu_1', output: 'r' }] });
    const parts = next.messages[0].content;
    assert.deepEqual(parts[0], { type: 'reasoning', format: A, text: 'Let me think.', signature: 'sig-abc' } satisfies ReasoningPart);
    assert.deepEqual(parts[1], { type: 'reasoning', format: A, encrypted: 'redacted-xyz' } satisfies ReasoningPart);
    assert.equal(parts[2].type, 'tool-call');
  });

  it('encrypted content is left out unless include asks for it, but kept for the store', () => {
    const req = parse({ model: 'm', input: 'x' });
    const { evs, enc } = stream(req, [{ choice: { reasoningDetails: [{ type: 'reasoning.text', text: 'hmm', signature: 's', format: 'anthropic-claude-v1', index: 0 }], finishReason: null } }, text('ok'), finish('end_turn')]);
    const item = evs.find((e) => e.event === 'response.output_item.done')!.data.item as Json;
    assert.equal(item.encrypted_content, undefined);
    assert.equal(((enc.response!.output as Json[])[0]).encrypted_content, undefined);
    assert.ok(decodeReasoningEnvelope(((enc.storedResponse!.output as Json[])[0]).encrypted_content as string));
    assert.equal(responsesContextOf(req)!.stored, enc.storedResponse);
  });

  it('length: the message is incomplete and the stream ends with response.incomplete', () => {
    const req = parse({ model: 'm', input: 'x', max_output_tokens: 5 });
    const { evs, types, enc } = stream(req, [text('abc'), finish('length')]);
    assert.equal(types[types.length - 1], 'response.incomplete');
    const r = evs[evs.length - 1].data.response as Json;
    assert.equal(r.status, 'incomplete');
    assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(((r.output as Json[])[0]).status, 'incomplete');
    assert.equal(r.max_output_tokens, 5);
    assert.equal(enc.finishReason, 'length');
  });

  it('failure after content: open items close as incomplete, then response.failed with an OpenAI code', () => {
    const { evs, types, enc } = stream(plain(), [text('par')], { fail: 502 });
    assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.failed']);
    assert.equal((evs[evs.length - 2].data.item as Json).status, 'incomplete');
    const r = evs[evs.length - 1].data.response as Json;
    assert.equal(r.status, 'failed');
    assert.deepEqual(r.error, { code: 'server_error', message: 'Provider returned error: upstream exploded' });
    assert.equal(enc.finishReason, 'error');
    // Before any content (the pipeline's noAnswer): created, in_progress, failed.
    const early = stream(plain(), [], { fail: 429 });
    assert.deepEqual(early.types, ['response.created', 'response.in_progress', 'response.failed']);
    assert.equal(((early.evs[2].data.response as Json).error as Json).code, 'rate_limit_exceeded');
  });

  it('a stream that ends without a finish reason still completes', () => {
    const { types, enc } = stream(plain(), [text('x')]);
    assert.equal(types[types.length - 1], 'response.completed');
    assert.equal(enc.finishReason, 'stop');
  });

  it('non-streamed: the same response object, reasoning first, then the message and calls', () => {
    const req = parse({ model: 'm', input: 'x', tools: [{ type: 'function', name: 'f' }] });
    const { body, finishReason } = completionBody(
      who(req),
      {
        content: 'Calling.',
        reasoning: 'why',
        reasoningDetails: [],
        toolCalls: [{ id: 'call_1', type: 'function', name: 'f', arguments: '{"a":1}' }],
        refusal: null,
        finishReason: 'tool_calls',
        usage: USAGE,
      },
      USAGE,
      COST,
    );
    assert.equal(finishReason, 'tool_calls');
    assert.equal(body.object, 'response');
    assert.equal(body.status, 'completed');
    assert.deepEqual(
      (body.output as Json[]).map((o) => o.type),
      ['reasoning', 'message', 'function_call'],
    );
  });

  it('error bodies are OpenAI envelopes', () => {
    const codec = responsesCodec();
    assert.deepEqual(codec.errorBody({ status: 400, message: 'input is required', metadata: { param: 'input' } }), {
      status: 400,
      body: { error: { message: 'input is required', type: 'invalid_request_error', param: 'input', code: null } },
    });
    assert.equal((codec.errorBody({ status: 402, message: 'no credits' }).body as { error: Json }).error.type, 'insufficient_quota');
    assert.equal((codec.errorBody({ status: 429, message: 'slow down' }).body as { error: Json }).error.code, 'rate_limit_exceeded');
    assert.equal((codec.errorBody({ status: 401, message: 'bad key' }).body as { error: Json }).error.type, 'authentication_error');
    assert.equal((codec.errorBody({ status: 503, message: 'down' }).body as { error: Json }).error.type, 'server_error');
    assert.equal(codec.jsonKeepAlive, false);
    assert.equal(codec.keepAlive, ': keep-alive\n\n');
  });
});

describe('custom input decoder', () => {
  it('decodes the input string across every split, and falls back on other shapes', () => {
    const inputs = ['plain', 'quote " and \\ backslash\n\ttab', 'unicode é 中 \u{1F600} end', '', '\u0001 control'];
    for (const input of inputs) {
      const args = JSON.stringify({ input });
      for (let size = 1; size <= 7; size++) {
        const d = new CustomInputDecoder();
        let out = '';
        for (let i = 0; i < args.length; i += size) out += d.feed(args.slice(i, i + size));
        assert.equal(out, input, `size ${size}: ${args}`);
      }
      assert.equal(unwrapCustomInput(args), input);
    }
    const d = new CustomInputDecoder();
    assert.equal(d.feed('{"code":"x"}'), '');
    assert.equal(unwrapCustomInput('{"code":"x"}'), 'x');
    assert.equal(unwrapCustomInput('raw text'), 'raw text');
  });
});

describe('the openai SDK reads what the encoder writes', () => {
  async function serve(handler: (req: IncomingMessage, body: Json, res: ServerResponse) => void): Promise<{ client: OpenAI; close(): Promise<void> }> {
    const server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => handler(req, JSON.parse(raw || '{}') as Json, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${port}/api/v1`, maxRetries: 0 });
    return { client, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }

  /** The gateway's part, in miniature: parse the body, encode scripted upstream chunks. */
  function answer(chunks: UpstreamChunk[]) {
    return (_req: IncomingMessage, body: Json, res: ServerResponse) => {
      const codec = responsesCodec();
      const req = codec.parse(body, {}, CTX);
      if (body.stream === true) {
        const enc = codec.streamEncoder(who(req));
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(enc.start());
        res.write(RESPONSES_KEEPALIVE);
        for (const c of chunks) res.write(enc.encode(c));
        res.end(enc.end(USAGE, COST));
        return;
      }
      const content = chunks.map((c) => c.choice?.content ?? '').join('');
      const { body: out } = codec.completionBody(who(req), { content, reasoning: null, reasoningDetails: [], toolCalls: [], refusal: null, finishReason: 'stop', usage: USAGE }, USAGE, COST);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    };
  }

  it('responses.stream(): events in order, finalResponse() with text, reasoning, a function call and usage', async () => {
    const { client, close } = await serve(
      answer([
        { choice: { reasoningDetails: [{ type: 'reasoning.summary', summary: 'Thinking.', format: 'openai-responses-v1', index: 0 }], finishReason: null } },
        text('Hello, '),
        text('world.'),
        { choice: { toolCalls: [{ index: 0, id: 'call_1', name: 'get_weather', arguments: '{"city":' }], finishReason: null } },
        { choice: { toolCalls: [{ index: 0, arguments: '"Rome"}' }], finishReason: 'tool_calls' } },
      ]),
    );
    try {
      const s = client.responses.stream({ model: 'openai/gpt-5', input: 'hi', tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' }, strict: false }] });
      const deltas: string[] = [];
      s.on('response.output_text.delta', (e) => deltas.push(e.snapshot));
      const final = await s.finalResponse();
      assert.equal(final.status, 'completed');
      assert.equal(final.output_text, 'Hello, world.');
      assert.deepEqual(deltas, ['Hello, ', 'Hello, world.']);
      const call = final.output.find((o) => o.type === 'function_call');
      assert.ok(call && call.type === 'function_call');
      assert.equal(call.arguments, '{"city":"Rome"}');
      assert.equal(call.call_id, 'call_1');
      const reasoning = final.output.find((o) => o.type === 'reasoning');
      assert.ok(reasoning && reasoning.type === 'reasoning');
      assert.equal(reasoning.summary[0].text, 'Thinking.');
      assert.equal(final.usage?.total_tokens, 150);
    } finally {
      await close();
    }
  });

  it('responses.create({stream:true}) iterates every event; create() without stream gets the object', async () => {
    const { client, close } = await serve(answer([text('Olá'), finish('stop')]));
    try {
      const types: string[] = [];
      const events = await client.responses.create({ model: 'm', input: 'hi', stream: true });
      for await (const e of events) types.push(e.type);
      assert.equal(types[0], 'response.created');
      assert.equal(types[types.length - 1], 'response.completed');
      const r = await client.responses.create({ model: 'm', input: 'hi' });
      assert.equal(r.output_text, 'Olá');
      assert.match(r.id, /^resp_/);
    } finally {
      await close();
    }
  });

  it('a 400 reaches the SDK as BadRequestError with param and type', async () => {
    const { client, close } = await serve((_req, body, res) => {
      try {
        responsesCodec().parse(body, {}, CTX);
        res.writeHead(500).end();
      } catch (err) {
        const e = err as ApiError;
        const { status, body: out } = responsesCodec().errorBody({ status: e.status, message: e.message, metadata: e.metadata });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      }
    });
    try {
      await assert.rejects(client.responses.create({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', detail: 'auto' } as never] }] }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.equal(err.param, 'input[0].content[0].image_url');
        assert.equal(err.type, 'invalid_request_error');
        return true;
      });
    } finally {
      await close();
    }
  });
});
