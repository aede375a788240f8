/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies and SSE events under test */
/**
 * Web-search citations from every upstream that produces them, to every front door, streamed and
 * not: recorded Anthropic and OpenAI Responses traffic (test/fixtures/cassettes/upstream/
 * TestAnthropicWebSearch, TestOpenAIWebSearch) replayed by mock providers on loopback, OpenAI-
 * compatible and Perplexity-style chat streams, and the web plugin's Exa results. Each test checks
 * the citation's URL and title and that its indices select the text the upstream cited; the
 * official SDKs (openai's ResponseStream, @anthropic-ai/sdk's MessageStream) must assemble them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, type MockReply, type MockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, startGateway, type Gateway } from './support/gateway.js';
import { replay, requestJson, responseJson, sseEvents, upstreamRecording, type Interaction } from './support/recorded-wire.js';
import { parseResponsesCompletion, ResponsesStreamDecoder } from '../src/providers/openai-responses/response.js';

const QUESTION = 'What is the current population of Tokyo? Cite your source.';
const SYSTEM = 'You are a helpful assistant';

const anthropicStream = upstreamRecording('TestAnthropicWebSearch/stream')[0]!;
const anthropicBody = upstreamRecording('TestAnthropicWebSearch/generate')[0]!;
const openaiStream = upstreamRecording('TestOpenAIWebSearch/stream', 1)[0]!;
const openaiBody = upstreamRecording('TestOpenAIWebSearch/generate', 1)[0]!;

/** One citation as the recording says it: the text it supports and where that text is in the answer. */
interface RecordedCitation {
  url: string;
  title: string;
  /** The answer's text it cites. */
  text: string;
  start: number;
  end: number;
  citedText?: string;
  encryptedIndex?: string;
}

/** A recorded Anthropic stream's answer text and citations (each covers the text block it arrived on). */
function anthropicCitations(it: Interaction): { text: string; citations: RecordedCitation[] } {
  let text = '';
  const blocks = new Map<number, { start: number; cites: any[] }>();
  const citations: RecordedCitation[] = [];
  for (const { json } of sseEvents(it.response.body)) {
    if (json?.type === 'content_block_start' && json.content_block.type === 'text') blocks.set(json.index, { start: text.length, cites: [] });
    if (json?.type === 'content_block_delta' && json.delta.type === 'text_delta') text += json.delta.text;
    if (json?.type === 'content_block_delta' && json.delta.type === 'citations_delta') blocks.get(json.index)!.cites.push(json.delta.citation);
    if (json?.type === 'content_block_stop' && blocks.has(json.index)) {
      const b = blocks.get(json.index)!;
      for (const c of b.cites) citations.push({ url: c.url, title: c.title, text: text.slice(b.start), start: b.start, end: text.length, citedText: c.cited_text, encryptedIndex: c.encrypted_index });
      blocks.delete(json.index);
    }
  }
  for (const c of citations) c.text = text.slice(c.start, c.end);
  return { text, citations };
}

/** A recorded OpenAI Responses stream's answer text and its annotation.added citations. */
function openaiStreamCitations(it: Interaction): { text: string; citations: RecordedCitation[]; events: any[] } {
  const events = sseEvents(it.response.body).map((e) => e.json);
  const text = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  const citations = events
    .filter((e) => e.type === 'response.output_text.annotation.added')
    .map((e) => ({ url: e.annotation.url, title: e.annotation.title, start: e.annotation.start_index, end: e.annotation.end_index, text: text.slice(e.annotation.start_index, e.annotation.end_index) }));
  return { text, citations, events };
}

/** A recorded Responses body's answer text and citations (one output_text part). */
function openaiBodyCitations(it: Interaction): { text: string; citations: RecordedCitation[] } {
  const part = responseJson(it).output.find((o: any) => o.type === 'message').content[0];
  return { text: part.text, citations: part.annotations.map((a: any) => ({ url: a.url, title: a.title, start: a.start_index, end: a.end_index, text: part.text.slice(a.start_index, a.end_index) })) };
}

function configFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-citations-'));
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, yaml);
  return file;
}

const post = (gw: Gateway, path: string, body: unknown): Promise<Response> =>
  fetch(`${gw.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });

/** A chat stream's chunks (without [DONE]). */
async function chatChunks(res: Response): Promise<any[]> {
  assert.equal(res.status, 200);
  const { events } = await readSse(res);
  assert.equal(events.at(-1), '[DONE]');
  return events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
}

/** The events of a Messages or Responses stream, parsed. */
async function wireEvents(res: Response): Promise<any[]> {
  assert.equal(res.status, 200);
  return sseEvents(await res.text()).map((e) => e.json).filter(Boolean);
}

const chatSse = (delta: unknown, finish: string | null = null, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', ...extra, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

describe('citations: Anthropic web search (recorded) on every front door', () => {
  let anthropic: MockUpstream;
  let gw: Gateway;
  let openaiClient: OpenAI;
  let anthropicClient: Anthropic;
  const recorded = anthropicCitations(anthropicStream);

  before(async () => {
    anthropic = await startMockUpstream();
    anthropic.onRequest((r) => replay(r.json?.stream ? anthropicStream : anthropicBody));
    gw = await startGateway({ providers: { anthropic: anthropic.baseUrl } });
    openaiClient = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 });
    anthropicClient = new Anthropic({ baseURL: `${gw.url}/api`, apiKey: 'sk-ant-test', maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await gw.close();
    await anthropic.close();
  });

  it('the recording cites several blocks (what the tests below rely on)', () => {
    assert.ok(recorded.citations.length >= 5, String(recorded.citations.length));
    assert.ok(recorded.citations.every((c) => c.text.length > 0 && c.encryptedIndex));
  });

  it('chat, streamed: each citations_delta becomes delta.annotations spanning its block, before the finish', async () => {
    const chunks = await chatChunks(await postChat(gw, { model: 'anthropic/claude-sonnet-4:online', stream: true, max_tokens: 4000, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }] }));
    assert.ok(anthropic.requests.at(-1)!.json.tools.some((t: any) => t.type === 'web_search_20250305'));
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, recorded.text);
    const finish = chunks.findIndex((c) => c.choices[0]?.finish_reason);
    const withAnnotations = chunks.map((c, i) => [c, i] as const).filter(([c]) => c.choices[0]?.delta?.annotations);
    assert.ok(withAnnotations.every(([, i]) => i < finish));
    const got = withAnnotations.flatMap(([c]) => c.choices[0].delta.annotations.map((a: any) => a.url_citation));
    assert.equal(got.length, recorded.citations.length);
    got.forEach((a: any, i: number) => {
      const want = recorded.citations[i]!;
      assert.equal(a.url, want.url);
      assert.equal(a.title, want.title);
      assert.equal(a.content, want.citedText);
      assert.equal(content.slice(a.start_index, a.end_index), want.text);
    });
  });

  it('Responses, streamed (openai SDK): annotation.added per citation; the final response holds them with part-relative indices', async () => {
    const stream = openaiClient.responses.stream({ model: 'anthropic/claude-sonnet-4', instructions: SYSTEM, input: QUESTION, tools: [{ type: 'web_search' }], max_output_tokens: 4000 });
    const events: any[] = [];
    for await (const e of stream) events.push(JSON.parse(JSON.stringify(e)));
    const final = await stream.finalResponse();
    const added = events.filter((e) => e.type === 'response.output_text.annotation.added');
    assert.equal(added.length, recorded.citations.length);
    assert.deepEqual(added.map((e) => e.annotation_index), added.map((_, i) => i));
    const message = final.output.find((o) => o.type === 'message')!;
    assert.equal(message.type, 'message');
    const part = (message as any).content.find((p: any) => p.type === 'output_text');
    assert.equal(part.text, recorded.text);
    assert.equal(part.annotations.length, recorded.citations.length);
    part.annotations.forEach((a: any, i: number) => {
      const want = recorded.citations[i]!;
      assert.deepEqual(Object.keys(a), ['type', 'end_index', 'start_index', 'title', 'url']);
      assert.equal(a.url, want.url);
      assert.equal(a.title, want.title);
      assert.equal(part.text.slice(a.start_index, a.end_index), want.text);
      assert.deepEqual(added[i].annotation, a);
      assert.equal(added[i].item_id, message.id);
    });
    // The event shapes of OpenAI's own stream (recorded): annotation.added and the part's done events.
    const openaiEvents = openaiStreamCitations(openaiStream).events;
    const keysOf = (list: any[], type: string) => Object.keys(list.find((e) => e.type === type)).sort();
    for (const type of ['response.output_text.annotation.added', 'response.output_text.done', 'response.content_part.done']) {
      assert.deepEqual(keysOf(events, type), keysOf(openaiEvents, type), type);
    }
    const partDone = events.find((e) => e.type === 'response.content_part.done').part;
    assert.deepEqual(partDone.annotations, part.annotations);
    const itemDone = events.find((e) => e.type === 'response.output_item.done' && e.item.type === 'message').item;
    assert.deepEqual(itemDone.content[0].annotations, part.annotations);
    const completed = events.find((e) => e.type === 'response.completed').response;
    assert.deepEqual(completed.output.find((o: any) => o.type === 'message').content[0].annotations, part.annotations);
  });

  it('Messages, streamed and not: passed through natively, citations (encrypted_index included) as Anthropic sent them', async () => {
    const stream = anthropicClient.messages.stream({ model: 'claude-sonnet-4-20250514', max_tokens: 4000, system: SYSTEM, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] });
    const final = await stream.finalMessage();
    assert.equal(anthropic.requests.at(-1)!.json.stream, true);
    const cited = final.content.flatMap((b) => (b.type === 'text' ? (b.citations ?? []).map((c) => ({ block: b.text, c })) : []));
    assert.equal(cited.length, recorded.citations.length);
    cited.forEach(({ block, c }, i) => {
      const want = recorded.citations[i]!;
      assert.equal(block, want.text);
      assert.equal(c.type, 'web_search_result_location');
      if (c.type !== 'web_search_result_location') return;
      assert.equal(c.url, want.url);
      assert.equal(c.encrypted_index, want.encryptedIndex);
    });
    const body = (await (await post(gw, '/messages', { model: 'claude-sonnet-4-20250514', max_tokens: 4000, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] })).json()) as any;
    assert.deepEqual(body.content, responseJson(anthropicBody).content, 'the recorded body, unchanged');
  });
});

describe('citations: OpenAI Responses web search (recorded) on every front door', () => {
  let openai: MockUpstream;
  let gw: Gateway;
  let viaResponses: Gateway;
  let anthropicClient: Anthropic;
  let openaiClient: OpenAI;
  const streamed = openaiStreamCitations(openaiStream);
  const whole = openaiBodyCitations(openaiBody);

  before(async () => {
    openai = await startMockUpstream();
    openai.onRequest((r) => (r.path === '/v1/responses' ? replay(r.json?.stream ? openaiStream : openaiBody) : { status: 404, json: { error: { message: 'not here' } } }));
    gw = await startGateway({ providers: { openai: openai.baseUrl } });
    // Chat clients reach the Responses route when the provider is configured to speak it.
    viaResponses = await startGateway({ providers: { openai: openai.baseUrl }, configFile: configFile('providers:\n  openai:\n    protocol: openai-responses\n') });
    anthropicClient = new Anthropic({ baseURL: `${gw.url}/api`, apiKey: 'sk-ant-test', maxRetries: 0, timeout: 10_000 });
    openaiClient = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await gw.close();
    await viaResponses.close();
    await openai.close();
  });

  it('the recordings cite spans of the answer (what the tests below rely on)', () => {
    assert.equal(streamed.citations.length, 1);
    assert.ok(whole.citations.length >= 3);
    assert.ok([...streamed.citations, ...whole.citations].every((c) => c.text.includes(new URL(c.url).hostname.replace(/^www\./, ''))));
  });

  it('chat, streamed: annotation.added becomes delta.annotations with the same span; not streamed: message.annotations', async () => {
    const chunks = await chatChunks(await postChat(viaResponses, { model: 'openai/gpt-4.1', stream: true, messages: [{ role: 'user', content: QUESTION }] }));
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, streamed.text);
    const got = chunks.flatMap((c) => c.choices[0]?.delta?.annotations ?? []).map((a: any) => a.url_citation);
    assert.equal(got.length, 1);
    assert.equal(got[0].url, streamed.citations[0]!.url);
    assert.equal(got[0].title, streamed.citations[0]!.title);
    assert.equal(content.slice(got[0].start_index, got[0].end_index), streamed.citations[0]!.text);

    const body = (await (await postChat(viaResponses, { model: 'openai/gpt-4.1', messages: [{ role: 'user', content: QUESTION }] })).json()) as any;
    const message = body.choices[0].message;
    assert.equal(message.content, whole.text);
    assert.deepEqual(
      message.annotations.map((a: any) => [a.url_citation.url, a.url_citation.title, message.content.slice(a.url_citation.start_index, a.url_citation.end_index)]),
      whole.citations.map((c) => [c.url, c.title, c.text]),
    );
  });

  it('Messages, streamed (Anthropic SDK): citations_delta on the text block holding the cited span, which it ends', async () => {
    const stream = anthropicClient.messages.stream({ model: 'openai/gpt-4.1', max_tokens: 4000, system: SYSTEM, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] });
    const seen: any[] = [];
    stream.on('citation', (c) => seen.push(c));
    const final = await stream.finalMessage();
    assert.equal(openai.requests.at(-1)!.json.stream, true);
    const texts = final.content.filter((b): b is Anthropic.TextBlock => b.type === 'text');
    assert.equal(texts.map((b) => b.text).join(''), streamed.text);
    const cited = texts.filter((b) => (b.citations ?? []).length > 0);
    assert.equal(cited.length, 1);
    // The block ends with the text that had arrived with the citation: the span and its line break.
    const at = streamed.text.indexOf(cited[0]!.text);
    assert.ok(at <= streamed.citations[0]!.start && at + cited[0]!.text.length >= streamed.citations[0]!.end, cited[0]!.text);
    assert.ok(cited[0]!.text.length - (streamed.citations[0]!.end - at) <= 1);
    assert.deepEqual(cited[0]!.citations, [{ type: 'web_search_result_location', cited_text: '', url: streamed.citations[0]!.url, title: streamed.citations[0]!.title, encrypted_index: '' }]);
    assert.equal(seen.length, 1);
  });

  it('Messages, not streamed: each cited span is a text block of its own carrying its citation', async () => {
    const res = await post(gw, '/messages', { model: 'openai/gpt-4.1', max_tokens: 4000, system: SYSTEM, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const texts = body.content.filter((b: any) => b.type === 'text');
    assert.equal(texts.map((b: any) => b.text).join(''), whole.text);
    const cited = texts.filter((b: any) => b.citations);
    assert.deepEqual(
      cited.map((b: any) => [b.text, b.citations.map((c: any) => [c.type, c.url, c.title])]),
      whole.citations.map((c) => [c.text, [['web_search_result_location', c.url, c.title]]]),
    );
    assert.deepEqual(Object.keys(cited[0]), ['citations', 'type', 'text'], "Anthropic's key order for a cited block");
  });

  it('Responses, streamed: passed through natively, the SDK assembles the recorded annotations', async () => {
    const recorded = requestJson(openaiStream);
    const stream = openaiClient.responses.stream({ model: 'openai/gpt-4.1', input: recorded.input, tools: [{ type: 'web_search' }], max_output_tokens: 4000, store: false });
    const final = await stream.finalResponse();
    const part = (final.output.find((o) => o.type === 'message') as any).content[0];
    assert.deepEqual(part.annotations.map((a: any) => [a.url, part.text.slice(a.start_index, a.end_index)]), streamed.citations.map((c) => [c.url, c.text]));
  });
});

describe('citations: OpenAI-compatible chat streams and the web plugin, on every front door', () => {
  let groq: MockUpstream;
  let exa: MockUpstream;
  let gw: Gateway;
  let openaiClient: OpenAI;
  let anthropicClient: Anthropic;
  const MODEL = 'moonshotai/kimi-k2-0905';
  const answer = ['Lisbon has about 545,000 people ', '([ine.pt](https://www.ine.pt/)).', ' More on the city.'];
  const span = { start: answer[0]!.length, end: answer[0]!.length + answer[1]!.length };

  /** An OpenAI search model's stream: the citation on a delta after the text it cites. */
  const openaiStyle = (): MockReply => ({
    sse: [
      chatSse({ role: 'assistant', content: answer[0] }),
      chatSse({ content: answer[1] }),
      chatSse({ content: '', annotations: [{ type: 'url_citation', url_citation: { url: 'https://www.ine.pt/', title: 'INE', start_index: span.start, end_index: span.end } }] }),
      chatSse({ content: answer[2] }),
      chatSse({}, 'stop'),
      'data: [DONE]\n\n',
    ],
  });
  /** Perplexity's stream: its sources repeated on every chunk, one more arriving later. */
  const perplexityStyle = (): MockReply => {
    const first = { search_results: [{ url: 'https://en.wikipedia.org/wiki/Lisbon', title: 'Lisbon - Wikipedia' }] };
    const more = { search_results: [...first.search_results, { url: 'https://www.ine.pt/', title: 'INE' }] };
    return { sse: [chatSse({ role: 'assistant', content: 'About 545,000 [1]' }, null, first), chatSse({ content: ' [2].' }, null, more), chatSse({}, 'stop', more), 'data: [DONE]\n\n'] };
  };

  before(async () => {
    groq = await startMockUpstream();
    exa = await startMockUpstream();
    exa.onRequest(() => ({ json: { results: [{ url: 'https://www.metro.tokyo.lg.jp/population', title: 'Tokyo population (official)', highlights: ['Tokyo had 14,195,730 residents.'] }], costDollars: { total: 0.005 } } }));
    gw = await startGateway({ providers: { groq: groq.baseUrl }, env: { EXA_API_KEY: 'test-exa-key', EXA_BASE_URL: exa.url } });
    openaiClient = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 });
    anthropicClient = new Anthropic({ baseURL: `${gw.url}/api`, apiKey: 'sk-ant-test', maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await gw.close();
    await groq.close();
    await exa.close();
  });

  it("chat: an OpenAI-style delta.annotations passes on; Perplexity's repeated sources arrive once each", async () => {
    groq.enqueue(openaiStyle());
    let chunks = await chatChunks(await postChat(gw, { model: MODEL, stream: true, messages: [{ role: 'user', content: 'Lisbon?' }] }));
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    const [a] = chunks.flatMap((c) => c.choices[0]?.delta?.annotations ?? []).map((x: any) => x.url_citation);
    assert.deepEqual([a.url, a.title, content.slice(a.start_index, a.end_index)], ['https://www.ine.pt/', 'INE', answer[1]]);

    groq.enqueue(perplexityStyle());
    chunks = await chatChunks(await postChat(gw, { model: MODEL, stream: true, messages: [{ role: 'user', content: 'Lisbon?' }] }));
    const sources = chunks.flatMap((c) => c.choices[0]?.delta?.annotations ?? []).map((x: any) => [x.url_citation.url, x.url_citation.title]);
    assert.deepEqual(sources, [['https://en.wikipedia.org/wiki/Lisbon', 'Lisbon - Wikipedia'], ['https://www.ine.pt/', 'INE']]);
  });

  it('Responses, streamed (openai SDK): the chat stream\'s citation becomes annotation.added on the output_text', async () => {
    groq.enqueue(openaiStyle());
    const stream = openaiClient.responses.stream({ model: MODEL, input: 'Lisbon?' });
    const final = await stream.finalResponse();
    const part = (final.output.find((o) => o.type === 'message') as any).content[0];
    assert.equal(part.text, answer.join(''));
    assert.equal(part.annotations.length, 1);
    assert.equal(part.annotations[0].url, 'https://www.ine.pt/');
    assert.equal(part.text.slice(part.annotations[0].start_index, part.annotations[0].end_index), answer[1]);
  });

  it('Messages, streamed (Anthropic SDK): the citation lands on the block ending with its span; the text after starts a new block', async () => {
    groq.enqueue(openaiStyle());
    const final = await anthropicClient.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'Lisbon?' }] }).finalMessage();
    const texts = final.content.filter((b): b is Anthropic.TextBlock => b.type === 'text');
    assert.deepEqual(texts.map((b) => b.text), [answer[0]! + answer[1]!, answer[2]]);
    assert.deepEqual(texts[0]!.citations, [{ type: 'web_search_result_location', cited_text: '', url: 'https://www.ine.pt/', title: 'INE', encrypted_index: '' }]);
    assert.equal(texts[1]!.citations ?? null, null);
  });

  it('the web plugin (Exa): its citations reach streamed Messages and Responses clients too, placed on the URL in the answer', async () => {
    const said = 'About 14.2 million (https://www.metro.tokyo.lg.jp/population).';
    const reply = (): MockReply => ({ sse: [chatSse({ role: 'assistant', content: said.slice(0, 20) }), chatSse({ content: said.slice(20) }, 'stop'), 'data: [DONE]\n\n'] });
    const plugins = [{ id: 'web', max_results: 1 }];
    const url = 'https://www.metro.tokyo.lg.jp/population';

    groq.enqueue(reply());
    const chunks = await chatChunks(await postChat(gw, { model: MODEL, stream: true, messages: [{ role: 'user', content: QUESTION }], plugins }));
    const [chat] = chunks.flatMap((c) => c.choices[0]?.delta?.annotations ?? []).map((x: any) => x.url_citation);
    assert.equal(said.slice(chat.start_index, chat.end_index), url, 'placed on the URL, the finish chunk\'s text included');

    groq.enqueue(reply());
    const responses = await wireEvents(await post(gw, '/responses', { model: MODEL, input: QUESTION, stream: true, plugins }));
    const added = responses.filter((e) => e.type === 'response.output_text.annotation.added');
    assert.equal(added.length, 1);
    assert.equal(added[0].annotation.title, 'Tokyo population (official)');
    assert.equal(said.slice(added[0].annotation.start_index, added[0].annotation.end_index), url);
    const completed = responses.find((e) => e.type === 'response.completed').response;
    assert.deepEqual(completed.output[0].content[0].annotations, [added[0].annotation]);

    groq.enqueue(reply());
    const messages = await wireEvents(await post(gw, '/messages', { model: MODEL, max_tokens: 100, stream: true, messages: [{ role: 'user', content: QUESTION }], plugins }));
    const citations = messages.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'citations_delta');
    assert.equal(citations.length, 1);
    assert.deepEqual(citations[0].delta.citation, { type: 'web_search_result_location', cited_text: 'Tokyo had 14,195,730 residents.', url, title: 'Tokyo population (official)', encrypted_index: '' });
    const stop = messages.findIndex((e) => e.type === 'message_delta');
    assert.ok(messages.indexOf(citations[0]) < stop);
  });
});

describe('citations: a Responses answer in several output_text parts', () => {
  const parts = ['First part cites [a](https://a.example/). ', 'Second part cites [b](https://b.example/).'];
  const citation = (text: string, url: string) => ({ type: 'url_citation', start_index: text.indexOf('['), end_index: text.indexOf(')') + 1, title: url, url });

  it("each part's indices are moved to where the part starts in the answer's text, in the body and in the stream", () => {
    const body = {
      id: 'resp_1',
      status: 'completed',
      output: parts.map((text, i) => ({ type: 'message', id: `msg_${i}`, content: [{ type: 'output_text', text, annotations: [citation(text, `https://${'ab'[i]}.example/`)] }] })),
    };
    const completion = parseResponsesCompletion(body);
    const content = completion.content!;
    assert.equal(content, parts.join(''));
    assert.deepEqual(
      completion.annotations!.map((a) => (a.type === 'url_citation' ? content.slice(a.startIndex, a.endIndex) : null)),
      ['[a](https://a.example/)', '[b](https://b.example/)'],
    );

    const decoder = new ResponsesStreamDecoder();
    const ev = (json: any) => decoder.decode({ event: json.type, data: JSON.stringify(json) }) ?? [];
    const chunks = parts.flatMap((text, i) => [
      ...ev({ type: 'response.content_part.added', output_index: i, content_index: 0, part: { type: 'output_text', annotations: [], text: '' } }),
      ...ev({ type: 'response.output_text.delta', output_index: i, content_index: 0, delta: text }),
      ...ev({ type: 'response.output_text.annotation.added', output_index: i, content_index: 0, annotation_index: 0, annotation: citation(text, `https://${'ab'[i]}.example/`) }),
    ]);
    const streamedText = chunks.map((c) => c.choice?.content ?? '').join('');
    const annotations = chunks.flatMap((c) => c.choice?.annotations ?? []);
    assert.deepEqual(
      annotations.map((a) => (a.type === 'url_citation' ? streamedText.slice(a.startIndex, a.endIndex) : null)),
      ['[a](https://a.example/)', '[b](https://b.example/)'],
    );
  });
});
