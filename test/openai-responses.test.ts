/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * OpenAI's Responses API as an upstream (src/providers/openai-responses/, src/providers/azure/responses.ts),
 * through mock OpenAI and Azure servers on loopback that check the route and the key, answering with
 * recorded Responses traffic (test/fixtures/cassettes/upstream/TestOpenAIResponses*, TestOpenAIWebSearch,
 * TestAzureResponsesCommon):
 *
 *  - chat-completions clients translated to Responses (text, streaming, tools, reasoning summaries
 *    with encrypted reasoning carried to the next turn, structured output), usage and cost recorded;
 *  - Responses clients (the official `openai` SDK) passed through natively: the hosted web_search
 *    tool reaches OpenAI (not dropped), events come back as OpenAI sent them, encrypted reasoning
 *    round-trips byte for byte, previous_response_id continues a natively served response;
 *  - errors: an `error` event mid-stream, one before any content (typed, retryable), HTTP errors;
 *  - Azure's v1 Responses route with its api-key.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { RateLimitError } from 'openai';
import { startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { postChat, readSse, startGateway, type Gateway } from './support/gateway.js';
import { replay, requestJson, responseJson, sseEvents, upstreamRecording, type Interaction } from './support/recorded-wire.js';
import { ResponsesStreamDecoder, statusOfErrorCode } from '../src/providers/openai-responses/response.js';
import { azureResponsesUrl } from '../src/providers/azure/responses.js';

const COMMON = 'TestOpenAIResponsesCommon/openai-gpt-5';
const THINKING = 'TestOpenAIResponsesWithSummaryThinking/openai-gpt-5';
const OBJECTS = 'TestOpenAIResponsesObjectGeneration/openai-gpt-5';
const SYSTEM = 'You are a helpful assistant';
const WEATHER_TOOL = {
  type: 'function',
  function: { name: 'weather', description: 'Get weather information for a location', parameters: { type: 'object', properties: { location: { type: 'string', description: 'the city' } }, required: ['location'] } },
};

function configFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-responses-up-'));
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** What OpenAI refuses: another route, a missing or wrong bearer key. */
function openaiGate(r: ReceivedRequest): MockReply | null {
  if (r.headers.authorization !== 'Bearer test-key-openai') return { status: 401, json: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } };
  if (r.method !== 'POST' || r.path !== '/v1/responses') return { status: 404, json: { error: { message: `Invalid URL (${r.method} ${r.path})`, type: 'invalid_request_error', param: null, code: null } } };
  return null;
}

/** The recorded output text of a Responses body or stream. */
function recordedText(it: Interaction): string {
  if (it.response.body.trimStart().startsWith('{')) {
    return responseJson(it)
      .output.filter((o: any) => o.type === 'message')
      .flatMap((o: any) => o.content.map((c: any) => c.text))
      .join('');
  }
  return sseEvents(it.response.body)
    .filter((e) => e.json?.type === 'response.output_text.delta')
    .map((e) => e.json.delta)
    .join('');
}

/** The recorded terminal response of a stream (or the body). */
function recordedResponse(it: Interaction): any {
  if (it.response.body.trimStart().startsWith('{')) return responseJson(it);
  return sseEvents(it.response.body).find((e) => e.json?.type === 'response.completed')!.json.response;
}

async function chatChunks(res: Response): Promise<any[]> {
  assert.equal(res.status, 200);
  const { events } = await readSse(res);
  assert.equal(events.at(-1), '[DONE]');
  return events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
}

async function generationRecord(gw: Gateway, id: string): Promise<any> {
  // Records are written in batches: wait for this one's flush.
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${gw.baseUrl}/generation?id=${id}`);
    if (res.status === 200) return ((await res.json()) as any).data;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`generation ${id} was never recorded`);
}

describe('chat completions served through OpenAI Responses (providers.openai.protocol: openai-responses)', () => {
  let openai: MockUpstream;
  let gw: Gateway;
  before(async () => {
    openai = await startMockUpstream();
    gw = await startGateway({ providers: { openai: openai.baseUrl }, configFile: configFile('providers:\n  openai:\n    protocol: openai-responses\n') });
  });
  after(async () => {
    await gw.close();
    await openai.close();
  });

  it('a plain completion: the translated request, the recorded answer, usage with reasoning tokens and cost in the record', async () => {
    const it0 = upstreamRecording(`${COMMON}/simple`, 1)[0];
    openai.onRequest((r) => openaiGate(r) ?? replay(it0));
    const res = await postChat(gw, { model: 'openai/gpt-5', messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'Say hi in Portuguese' }], max_tokens: 4000 });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const sent = openai.requests.at(-1)!.json;
    const recorded = requestJson(it0);
    assert.equal(sent.model, recorded.model);
    assert.equal(sent.max_output_tokens, recorded.max_output_tokens);
    assert.equal(sent.store, false);
    assert.deepEqual(sent.include, ['reasoning.encrypted_content']);
    assert.deepEqual(
      sent.input.map((i: any) => [i.role, i.content.map((c: any) => c.text).join('')]),
      recorded.input.map((i: any) => [i.role, typeof i.content === 'string' ? i.content : i.content.map((c: any) => c.text).join('')]),
    );
    assert.equal(sent.stream, undefined);
    assert.equal(body.choices[0].message.content, recordedText(it0));
    assert.equal(body.choices[0].finish_reason, 'stop');
    assert.equal(body.choices[0].native_finish_reason, 'completed');
    const usage = recordedResponse(it0).usage;
    assert.equal(body.usage.prompt_tokens, usage.input_tokens);
    assert.equal(body.usage.completion_tokens, usage.output_tokens);
    assert.equal(body.usage.completion_tokens_details.reasoning_tokens, usage.output_tokens_details.reasoning_tokens);
    assert.ok(body.usage.cost > 0);
    const record = await generationRecord(gw, res.headers.get('x-generation-id')!);
    assert.equal(record.upstream_id, recordedResponse(it0).id);
    assert.equal(record.native_tokens_reasoning, usage.output_tokens_details.reasoning_tokens);
    assert.equal(record.tokens_prompt, usage.input_tokens);
    assert.ok(record.total_cost > 0);
  });

  it('streams: text deltas, one finish chunk, usage with cost', async () => {
    const it0 = upstreamRecording(`${COMMON}/simple_streaming`, 1)[0];
    openai.onRequest((r) => openaiGate(r) ?? replay(it0));
    const chunks = await chatChunks(await postChat(gw, { model: 'openai/gpt-5', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], stream: true }));
    assert.equal(openai.requests.at(-1)!.json.stream, true);
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), recordedText(it0));
    assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop').length, 1);
    const usage = chunks.at(-1).usage;
    assert.equal(usage.completion_tokens, recordedResponse(it0).usage.output_tokens);
    assert.ok(usage.cost > 0);
  });

  it('streams a function call as tool-call deltas; the tool result goes back as function_call_output', async () => {
    const [first, second] = upstreamRecording(`${COMMON}/tool_streaming`, 2);
    openai.onRequest((r) => openaiGate(r) ?? replay(r.json.input.some((i: any) => i.type === 'function_call_output') ? second : first));
    const messages: any[] = [{ role: 'system', content: SYSTEM }, { role: 'user', content: "What's the weather in Florence,Italy?" }];
    const chunks = await chatChunks(await postChat(gw, { model: 'openai/gpt-5', messages, tools: [WEATHER_TOOL], stream: true, max_tokens: 4000 }));
    const sent = openai.requests.at(-1)!.json;
    assert.deepEqual(sent.tools, requestJson(first).tools, 'function tools as OpenAI takes them (strict false unless asked)');
    const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    assert.equal(calls[0].id, 'call_nYgMM3oZuxort2H8Ky4uP5RE');
    assert.equal(calls[0].function.name, 'weather');
    assert.equal(calls.map((c: any) => c.function.arguments ?? '').join(''), '{"location":"Florence, Italy"}');
    assert.ok(calls.every((c: any) => c.index === 0));
    assert.equal(chunks.find((c) => c.choices[0]?.finish_reason)!.choices[0].finish_reason, 'tool_calls');

    messages.push({ role: 'assistant', content: null, tool_calls: [{ id: calls[0].id, type: 'function', function: { name: 'weather', arguments: '{"location":"Florence, Italy"}' } }] });
    messages.push({ role: 'tool', tool_call_id: calls[0].id, content: '40 C' });
    const after = await chatChunks(await postChat(gw, { model: 'openai/gpt-5', messages, tools: [WEATHER_TOOL], stream: true, max_tokens: 4000 }));
    const input = openai.requests.at(-1)!.json.input;
    assert.deepEqual(
      input.slice(2).map((i: any) => ({ ...i })),
      [
        { type: 'function_call', call_id: calls[0].id, name: 'weather', arguments: '{"location":"Florence, Italy"}' },
        { type: 'function_call_output', call_id: calls[0].id, output: '40 C' },
      ],
    );
    assert.equal(after.map((c) => c.choices[0]?.delta?.content ?? '').join(''), recordedText(second));
  });

  it('reasoning: the summary streams as reasoning, the encrypted content comes back as a reasoning item next turn', async () => {
    const [first, second] = upstreamRecording(`${THINKING}/thinking-streaming`, 2);
    openai.onRequest((r) => openaiGate(r) ?? replay(r.json.input.some((i: any) => i.type === 'function_call_output') ? second : first));
    const messages: any[] = [{ role: 'system', content: SYSTEM }, { role: 'user', content: "What's the weather in Florence, Italy?" }];
    const ask = { model: 'openai/gpt-5', tools: [WEATHER_TOOL], stream: true, reasoning: { effort: 'high' } };
    const chunks = await chatChunks(await postChat(gw, { ...ask, messages }));
    const sent = openai.requests.at(-1)!.json;
    assert.deepEqual(sent.reasoning, requestJson(first).reasoning, 'effort high, summary auto');
    const summary = sseEvents(first.response.body)
      .filter((e) => e.json?.type === 'response.reasoning_summary_text.delta')
      .map((e) => e.json.delta)
      .join('');
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.reasoning ?? '').join(''), summary);
    const details = chunks.flatMap((c) => c.choices[0]?.delta?.reasoning_details ?? []);
    const encrypted = details.find((d: any) => d.type === 'reasoning.encrypted');
    // OpenAI encrypts anew for each event that carries the item: the item as output_item.done has it.
    const item = sseEvents(first.response.body).find((e) => e.json?.type === 'response.output_item.done' && e.json.item.type === 'reasoning')!.json.item;
    assert.equal(encrypted.data, item.encrypted_content);
    assert.equal(encrypted.id, item.id);
    assert.equal(encrypted.format, 'openai-responses-v1');
    const call = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? [])[0];

    messages.push({
      role: 'assistant',
      content: null,
      reasoning_details: details,
      tool_calls: [{ id: call.id, type: 'function', function: { name: 'weather', arguments: '{"location":"Florence, Italy"}' } }],
    });
    messages.push({ role: 'tool', tool_call_id: call.id, content: '40 C' });
    await chatChunks(await postChat(gw, { ...ask, messages }));
    const input = openai.requests.at(-1)!.json.input;
    const back = input.find((i: any) => i.type === 'reasoning');
    assert.equal(back.id, item.id);
    assert.equal(back.encrypted_content, item.encrypted_content, 'the encrypted reasoning reaches OpenAI again, unchanged');
    assert.equal(back.summary[0].text, summary);
    assert.ok(input.indexOf(back) < input.findIndex((i: any) => i.type === 'function_call'), 'reasoning before the call it led to');
  });

  it('structured output: response_format json_schema becomes text.format', async () => {
    const it0 = upstreamRecording(`${OBJECTS}/simple_object_streaming`, 1)[0];
    openai.onRequest((r) => openaiGate(r) ?? replay(it0));
    const format = requestJson(it0).text.format;
    const chunks = await chatChunks(
      await postChat(gw, {
        model: 'openai/gpt-5',
        messages: [{ role: 'user', content: requestJson(it0).input[0].content[0].text }],
        response_format: { type: 'json_schema', json_schema: { name: format.name, schema: format.schema } },
        stream: true,
      }),
    );
    assert.deepEqual(openai.requests.at(-1)!.json.text, { format });
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.deepEqual(JSON.parse(text), JSON.parse(recordedText(it0)));
  });

  it('an error event after content ends the stream with an error chunk', async () => {
    const events = [
      `event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[]}}\n\n`,
      `event: response.output_item.added\ndata: {"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant"}}\n\n`,
      `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Ol"}\n\n`,
      `event: error\ndata: {"type":"error","sequence_number":3,"code":"server_error","message":"The server had an error while processing your request.","param":null}\n\n`,
    ];
    openai.onRequest((r) => openaiGate(r) ?? { headers: { 'content-type': 'text/event-stream' }, sse: events });
    const res = await postChat(gw, { model: 'openai/gpt-5', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const chunks = await chatChunks(res);
    assert.equal(chunks[0].choices[0].delta.content, 'Ol');
    const last = chunks.filter((c) => c.choices[0]?.finish_reason).at(-1);
    assert.equal(last.choices[0].finish_reason, 'error');
    assert.match(JSON.stringify(last.error), /server_error: The server had an error/);
    const record = await generationRecord(gw, res.headers.get('x-generation-id')!);
    assert.equal(record.status, 502);
  });

  it('an error event before any content is a typed failure: rate_limit_exceeded is a 429', async () => {
    const events = [
      `event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_2","object":"response","status":"in_progress","output":[]}}\n\n`,
      `event: response.failed\ndata: {"type":"response.failed","sequence_number":1,"response":{"id":"resp_2","object":"response","status":"failed","error":{"code":"rate_limit_exceeded","message":"Rate limit reached for gpt-5"},"output":[]}}\n\n`,
    ];
    openai.onRequest((r) => openaiGate(r) ?? { headers: { 'content-type': 'text/event-stream' }, sse: events });
    const res = await postChat(gw, { model: 'openai/gpt-5', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const { events: out } = await readSse(res);
    const last = JSON.parse(out.filter((e) => e !== '[DONE]').at(-1)!);
    assert.equal(last.error.code, 429);
    assert.match(last.error.metadata.raw, /rate_limit_exceeded: Rate limit reached/);
  });

  it("an HTTP error keeps OpenAI's status and message", async () => {
    openai.onRequest(() => ({ status: 400, json: { error: { message: "Unsupported parameter: 'temperature' is not supported with this model.", type: 'invalid_request_error', param: 'temperature', code: 'unsupported_parameter' } } }));
    const res = await postChat(gw, { model: 'openai/gpt-5', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as any).error.metadata.raw, /Unsupported parameter/);
  });
});

describe('Responses clients against OpenAI: native pass-through (the default catalog)', () => {
  let openai: MockUpstream;
  let gw: Gateway;
  let client: OpenAI;
  before(async () => {
    openai = await startMockUpstream();
    gw = await startGateway({ providers: { openai: openai.baseUrl } });
    client = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await gw.close();
    await openai.close();
  });

  it('a chat client without hosted tools still goes to chat completions', async () => {
    openai.onRequest((r) => (r.path === '/v1/chat/completions' ? { json: { id: 'c', object: 'chat.completion', created: 1, model: 'gpt-5', choices: [{ index: 0, message: { role: 'assistant', content: 'Olá' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2 } } } : { status: 404, json: {} }));
    const res = await postChat(gw, { model: 'openai/gpt-5', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).choices[0].message.content, 'Olá');
  });

  it("a Messages client's web_search server tool takes OpenAI's Responses route, translated", async () => {
    const it0 = upstreamRecording('TestOpenAIWebSearch/generate', 1)[0];
    openai.onRequest((r) => openaiGate(r) ?? replay(it0));
    const res = await fetch(`${gw.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({
        model: 'openai/gpt-4.1',
        max_tokens: 4000,
        system: SYSTEM,
        messages: [{ role: 'user', content: 'What is the current population of Tokyo? Cite your source.' }],
        tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }],
      }),
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(res.headers.get('x-switchyard-dropped-tools'), null);
    const sent = openai.requests.at(-1)!.json;
    assert.deepEqual(sent.tools, [{ type: 'web_search' }]);
    assert.equal(sent.store, false);
    assert.equal(body.type, 'message');
    assert.equal(body.content.filter((b: any) => b.type === 'text').map((b: any) => b.text).join(''), recordedText(it0));
    assert.equal(body.usage.output_tokens, responseJson(it0).usage.output_tokens);
  });

  it('responses.create with the hosted web_search tool, streamed: sent natively, events passed on unchanged', async () => {
    const it0 = upstreamRecording('TestOpenAIWebSearch/stream', 1)[0];
    openai.onRequest((r) => openaiGate(r) ?? replay(it0));
    const recorded = requestJson(it0);
    const raw = await client.responses
      .create({ model: 'openai/gpt-4.1', input: recorded.input, tools: [{ type: 'web_search' }], tool_choice: 'auto', max_output_tokens: 4000, store: false, stream: true, provider: { only: ['openai'] } } as any)
      .withResponse();
    assert.equal(raw.response.headers.get('x-switchyard-dropped-tools'), null, 'web_search is not dropped');
    const received: any[] = [];
    for await (const e of raw.data as any) received.push(e);
    const sent = openai.requests.at(-1)!;
    assert.deepEqual(sent.json, { ...recorded, model: 'gpt-4.1' }, 'the client body, model replaced, routing fields removed');
    const want = sseEvents(it0.response.body).map((e) => e.json);
    assert.deepEqual(received, want, "OpenAI's events, web_search_call items and citations included");
  });

  it('responses.create (not streamed) with web_search: the response object as OpenAI made it, stored under its id', async () => {
    const it0 = upstreamRecording('TestOpenAIWebSearch/generate', 1)[0];
    openai.onRequest((r) => openaiGate(r) ?? replay(it0));
    const recorded = requestJson(it0);
    const r = await client.responses.create({ model: 'openai/gpt-4.1', input: recorded.input, tools: [{ type: 'web_search' }], tool_choice: 'auto', max_output_tokens: 4000 } as any);
    const { output_text: _sdkConvenience, ...got } = JSON.parse(JSON.stringify(r));
    assert.deepEqual(got, responseJson(it0));
    assert.ok(r.output.some((o) => o.type === 'web_search_call'));
    const sent = openai.requests.at(-1)!.json;
    assert.deepEqual(sent.tools, [{ type: 'web_search' }]);
    assert.equal(sent.store, undefined, 'store as the client left it');
    // store defaults to true: the response is kept here under the upstream's id.
    const again = await client.responses.retrieve(r.id);
    assert.equal(again.id, r.id);
    assert.equal(again.output_text, r.output_text);
  });

  it('reasoning encrypted_content round-trips: the next request carries the reasoning item byte for byte', async () => {
    const [first, second] = upstreamRecording(`${THINKING}/thinking`, 2);
    openai.onRequest((r) => openaiGate(r) ?? replay(r.json.input.some((i: any) => i.type === 'function_call_output') ? second : first));
    const tools: any[] = requestJson(first).tools;
    const input: any[] = [{ role: 'developer', content: SYSTEM }, { role: 'user', content: [{ type: 'input_text', text: "What's the weather in Florence, Italy?" }] }];
    const base = { model: 'openai/gpt-5', tools, store: false, include: ['reasoning.encrypted_content'], reasoning: { effort: 'high', summary: 'auto' } } as const;
    const r1 = await client.responses.create({ ...base, input } as any);
    const reasoning: any = r1.output.find((o) => o.type === 'reasoning');
    const call: any = r1.output.find((o) => o.type === 'function_call');
    assert.equal(reasoning.encrypted_content, responseJson(first).output.find((o: any) => o.type === 'reasoning').encrypted_content);
    assert.equal(r1.id, responseJson(first).id, "OpenAI's own response id");

    const next = [...input, reasoning, call, { type: 'function_call_output', call_id: call.call_id, output: '40 C' }];
    const r2 = await client.responses.create({ ...base, input: next } as any);
    const sentRaw = openai.requests.at(-1)!.body;
    assert.ok(sentRaw.includes(JSON.stringify(reasoning.encrypted_content)), 'encrypted_content reached OpenAI unchanged');
    assert.deepEqual(openai.requests.at(-1)!.json.input[2], JSON.parse(JSON.stringify(reasoning)));
    assert.equal(r2.output_text, responseJson(second).output.filter((o: any) => o.type === 'message').flatMap((o: any) => o.content.map((c: any) => c.text)).join(''));
  });

  it('responses.stream(): the SDK assembles the final response; previous_response_id continues it through the store', async () => {
    const [first] = upstreamRecording(`${COMMON}/simple_streaming`, 1);
    openai.onRequest((r) => openaiGate(r) ?? replay(first));
    const stream = client.responses.stream({ model: 'openai/gpt-5', instructions: SYSTEM, input: 'Say hi in Portuguese' });
    const final = await stream.finalResponse();
    assert.equal(final.output_text, recordedText(first));
    assert.equal(final.usage?.output_tokens_details.reasoning_tokens, recordedResponse(first).usage.output_tokens_details.reasoning_tokens);

    const [simple] = upstreamRecording(`${COMMON}/simple`, 1);
    openai.onRequest((r) => openaiGate(r) ?? replay(simple));
    await client.responses.create({ model: 'openai/gpt-5', previous_response_id: final.id, input: 'And in Spanish?' });
    const sent = openai.requests.at(-1)!.json;
    assert.equal(sent.previous_response_id, undefined, 'resolved here, not at OpenAI');
    assert.deepEqual(
      sent.input.map((i: any) => i.type ?? 'message'),
      ['message', ...recordedResponse(first).output.map((o: any) => o.type), 'message'],
      'the earlier input and output items, then the new input',
    );
    assert.equal(sent.input.at(-1).content[0].text, 'And in Spanish?');
  });

  it('a passed-through stream whose connection breaks after content ends with response.failed on the upstream response', async () => {
    const it0 = upstreamRecording(`${COMMON}/simple_streaming`, 1)[0];
    const recorded = sseEvents(it0.response.body);
    const firstText = recorded.findIndex((e) => e.json?.type === 'response.output_text.delta');
    openai.onRequest((r) => openaiGate(r) ?? { fault: 'reset-mid-stream', sse: recorded.map((e) => e.raw), afterEvents: firstText + 2 });
    const res = await fetch(`${gw.baseUrl}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-5', input: 'Say hi in Portuguese', stream: true }) });
    assert.equal(res.status, 200);
    const events = sseEvents(await res.text());
    assert.deepEqual(
      events.slice(0, -1).map((e) => e.json),
      recorded.slice(0, firstText + 2).map((e) => e.json),
      "OpenAI's events up to the break, unchanged",
    );
    const failed = events.at(-1)!.json;
    assert.equal(failed.type, 'response.failed');
    assert.equal(failed.sequence_number, recorded[firstText + 1].json.sequence_number + 1);
    assert.equal(failed.response.id, recorded[0].json.response.id);
    assert.equal(failed.response.status, 'failed');
    assert.equal(failed.response.error.code, 'server_error');
  });

  it("OpenAI's 429 reaches a Responses client as a RateLimitError", async () => {
    openai.onRequest(() => ({ status: 429, headers: { 'retry-after': '3' }, json: { error: { message: 'Rate limit reached for gpt-5', type: 'requests', param: null, code: 'rate_limit_exceeded' } } }));
    await assert.rejects(client.responses.create({ model: 'openai/gpt-5', input: 'hi' }), (err: unknown) => err instanceof RateLimitError);
  });
});

describe('Azure OpenAI Responses (providers.azure.protocol: azure-responses)', () => {
  const KEY = 'azure-key-0123456789';
  let azure: MockUpstream;
  let gw: Gateway;
  before(async () => {
    azure = await startMockUpstream();
    gw = await startGateway({
      providers: {},
      configFile: configFile('providers:\n  azure:\n    protocol: azure-responses\n    deployments:\n      gpt-5-mini: openai/gpt-5-mini\n'),
      env: { AZURE_API_KEY: KEY, AZURE_BASE_URL: `${azure.url}/openai/v1` },
    });
  });
  after(async () => {
    await gw.close();
    await azure.close();
  });

  const azureGate = (r: ReceivedRequest): MockReply | null => {
    if (r.headers['api-key'] !== KEY || r.headers.authorization !== undefined) return { status: 401, json: { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } } };
    if (r.path !== '/openai/v1/responses') return { status: 404, json: { error: { code: '404', message: 'Resource not found' } } };
    return null;
  };

  it('a chat request goes to /openai/v1/responses with api-key and model = the deployment', async () => {
    const it0 = upstreamRecording('TestAzureResponsesCommon/azure-gpt-5-mini/simple', 1)[0];
    azure.onRequest((r) => azureGate(r) ?? replay(it0));
    const res = await postChat(gw, { model: 'openai/gpt-5-mini', messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'Say hi in Portuguese' }], max_tokens: 4000, provider: { only: ['azure'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.choices[0].message.content, recordedText(it0));
    assert.equal(body.provider, 'Azure');
    assert.equal(azure.requests.at(-1)!.json.model, 'gpt-5-mini');
  });

  it('a Responses client streams a function call natively', async () => {
    const [first] = upstreamRecording('TestAzureResponsesCommon/azure-gpt-5-mini/tool_streaming', 2);
    azure.onRequest((r) => azureGate(r) ?? replay(first));
    const client = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 });
    const recorded = requestJson(first);
    const stream = client.responses.stream({ model: 'openai/gpt-5-mini', input: recorded.input, tools: recorded.tools, tool_choice: 'auto', max_output_tokens: 4000, store: false, provider: { only: ['azure'] } } as any);
    const final = await stream.finalResponse();
    assert.deepEqual(azure.requests.at(-1)!.json, recorded, 'the client body, as recorded');
    const call: any = final.output.find((o) => o.type === 'function_call');
    assert.equal(call.name, 'weather');
    assert.deepEqual(JSON.parse(call.arguments), { location: 'Florence, Italy' });
  });

  it('builds the v1 and preview routes', () => {
    assert.equal(azureResponsesUrl('https://r.openai.azure.com/openai/v1', undefined), 'https://r.openai.azure.com/openai/v1/responses');
    assert.equal(azureResponsesUrl('https://r.openai.azure.com/openai/v1', 'preview'), 'https://r.openai.azure.com/openai/v1/responses?api-version=preview');
    assert.equal(azureResponsesUrl('https://r.openai.azure.com', '2025-04-01-preview'), 'https://r.openai.azure.com/openai/responses?api-version=2025-04-01-preview');
  });
});

describe('Responses stream decoder', () => {
  it('maps error codes to statuses that say whether to fall back', () => {
    assert.equal(statusOfErrorCode('rate_limit_exceeded'), 429);
    assert.equal(statusOfErrorCode('server_error'), 500);
    assert.equal(statusOfErrorCode('invalid_prompt'), 400);
    assert.equal(statusOfErrorCode(undefined), 502);
  });

  it('numbers calls in order of appearance and ends with response.completed', () => {
    const d = new ResponsesStreamDecoder();
    const ev = (json: any) => d.decode({ event: json.type, data: JSON.stringify(json) });
    assert.deepEqual(ev({ type: 'response.output_item.added', output_index: 0, item: { type: 'reasoning', id: 'rs_1' } }), []);
    assert.deepEqual(ev({ type: 'response.output_item.added', output_index: 1, item: { type: 'function_call', call_id: 'c1', name: 'a' } })![0].choice!.toolCalls, [{ index: 0, id: 'c1', type: 'function', name: 'a' }]);
    assert.deepEqual(ev({ type: 'response.output_item.added', output_index: 2, item: { type: 'function_call', call_id: 'c2', name: 'b' } })![0].choice!.toolCalls![0].index, 1);
    assert.deepEqual(ev({ type: 'response.function_call_arguments.delta', output_index: 2, delta: '{}' })![0].choice!.toolCalls, [{ index: 1, arguments: '{}' }]);
    // Arguments that arrive only whole, in output_item.done.
    assert.deepEqual(ev({ type: 'response.output_item.done', output_index: 1, item: { type: 'function_call', arguments: '{"x":1}' } })![0].choice!.toolCalls, [{ index: 0, arguments: '{"x":1}' }]);
    assert.equal(d.ended, false);
    const done = ev({ type: 'response.incomplete', response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { input_tokens: 5, input_tokens_details: { cached_tokens: 2 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 3 } } } })!;
    assert.equal(done[0].choice!.finishReason, 'max_output_tokens');
    assert.deepEqual(done[0].usage, { promptTokens: 5, completionTokens: 7, cachedTokens: 2, cacheWriteTokens: 0, reasoningTokens: 3, audioPromptTokens: 0 });
    assert.equal(d.ended, true);
  });
});
