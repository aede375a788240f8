/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies and SSE events under test */
/**
 * Gemini's Google Search grounding (`candidates[0].groundingMetadata`) as citations on every front
 * door, streamed and not, and its fee in the cost. No recording of a grounded Gemini answer exists,
 * so the mock Google answers in the shape Google documents (ai.google.dev/gemini-api/docs/google-search,
 * the GenerateContentResponse reference): pages as `groundingChunks` with vertexaisearch redirect
 * URIs, `groundingSupports` whose segments give UTF-8 byte offsets, `webSearchQueries`. The answer
 * has multi-byte text (ü, –, an emoji outside the BMP) before the cited sentences, so a byte offset
 * read as a string index would select the wrong text.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { postChat, readSse, startGateway, type Gateway } from './support/gateway.js';
import { sseEvents } from './support/recorded-wire.js';
import { fetchGeneration } from './support/requests.js';
import { newServiceAccount, tokenEndpoint, writeKeyFile } from './support/google-token.js';
import { GeminiStreamDecoder, parseCompletion } from '../src/providers/gemini/response.js';
import type { Annotation } from '../src/model/response.js';

const QUESTION = 'Who won Euro 2024?';
const PREFIX = 'Über die EM 2024 – kurz gesagt 🏆: ';
const CLAIM1 = 'Spain won Euro 2024, beating England 2–1 in the final.';
const CLAIM2 = 'It was Spain’s record fourth European title.';
const ANSWER = `${PREFIX}${CLAIM1} ${CLAIM2}`;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
/** A segment as Google writes it: `text`'s UTF-8 byte offsets in `whole` (startIndex left out when 0, as protobuf's JSON does). */
function segment(whole: string, text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const at = whole.indexOf(text);
  assert.ok(at >= 0, text);
  const start = bytes(whole.slice(0, at));
  return { ...extra, ...(start > 0 ? { startIndex: start } : {}), endIndex: start + bytes(text), text };
}

const redirect = (id: string) => `https://vertexaisearch.cloud.google.com/grounding-api-redirect/${id}`;
const PAGES = [
  { web: { uri: redirect('AUZIYQE-uefa-9f2c'), title: 'uefa.com' } },
  { web: { uri: redirect('AUZIYQE-aljazeera-41d0'), title: 'aljazeera.com' } },
  { web: { uri: redirect('AUZIYQE-wikipedia-77aa'), title: 'wikipedia.org' } },
];
const QUERIES = ['UEFA Euro 2024 winner', 'who won euro 2024'];
const METADATA = {
  webSearchQueries: QUERIES,
  searchEntryPoint: { renderedContent: '<style>.container{}</style><div class="container">…</div>' },
  groundingChunks: PAGES,
  groundingSupports: [
    { segment: segment(ANSWER, CLAIM1), groundingChunkIndices: [0, 1], confidenceScores: [0.97, 0.91] },
    { segment: segment(ANSWER, CLAIM2), groundingChunkIndices: [0], confidenceScores: [0.88] },
  ],
};

/** The citations the answer must carry, in order: each support × page, then the page nothing cites (0–0). */
const EXPECTED = [
  { url: PAGES[0]!.web.uri, title: 'uefa.com', text: CLAIM1 },
  { url: PAGES[1]!.web.uri, title: 'aljazeera.com', text: CLAIM1 },
  { url: PAGES[0]!.web.uri, title: 'uefa.com', text: CLAIM2 },
  { url: PAGES[2]!.web.uri, title: 'wikipedia.org', text: '' },
];

/** Tokens of the search results are billed as input (toolUsePromptTokenCount). */
const USAGE = { promptTokenCount: 9, candidatesTokenCount: 38, toolUsePromptTokenCount: 310, totalTokenCount: 357 };

const geminiBody = (model: string) => ({
  candidates: [{ content: { parts: [{ text: ANSWER }], role: 'model' }, finishReason: 'STOP', index: 0, groundingMetadata: METADATA }],
  usageMetadata: USAGE,
  modelVersion: model,
  responseId: 'grounded-1',
});

const sse = (json: unknown) => `data: ${JSON.stringify(json)}\r\n\r\n`;
/** The answer's text in three events (the first ends before the emoji, the second after it), the metadata on the last. */
const PIECES = [ANSWER.slice(0, 23), ANSWER.slice(23, 80), ANSWER.slice(80)];

function geminiStream(model: string, events: { text: string; metadata?: unknown }[] = PIECES.map((text, i) => (i === PIECES.length - 1 ? { text, metadata: METADATA } : { text }))): MockReply {
  return {
    sse: events.map(({ text, metadata }, i) => {
      const last = i === events.length - 1;
      const candidate: Record<string, unknown> = { content: { parts: [{ text }], role: 'model' }, index: 0 };
      if (last) candidate.finishReason = 'STOP';
      if (metadata) candidate.groundingMetadata = metadata;
      return sse({ candidates: [candidate], usageMetadata: last ? USAGE : { promptTokenCount: 9, totalTokenCount: 9 }, modelVersion: model, responseId: 'grounded-1' });
    }),
  };
}

/** Gemini's answer for the request's path: a body for generateContent, an SSE stream for streamGenerateContent. */
function google(model: string, events?: { text: string; metadata?: unknown }[]): (r: ReceivedRequest) => MockReply {
  return (r) => {
    if (r.headers['x-goog-api-key'] !== 'test-key-google-ai-studio') return { status: 400, json: { error: { code: 400, message: 'API key not valid.', status: 'INVALID_ARGUMENT' } } };
    if (r.path === `/v1beta/models/${model}:generateContent`) return { json: geminiBody(model) };
    if (r.path === `/v1beta/models/${model}:streamGenerateContent?alt=sse`) return geminiStream(model, events);
    return { status: 404, json: { error: { code: 404, message: `not found: ${r.path}`, status: 'NOT_FOUND' } } };
  };
}

async function pricing(gw: Gateway, model: string): Promise<Record<string, string>> {
  const list = ((await (await fetch(`${gw.baseUrl}/models`)).json()) as any).data as any[];
  return list.find((m) => m.id === model).pricing;
}

/** Tokens at the model's prices plus `fee`. */
async function expectCost(gw: Gateway, model: string, usage: any, fee: number): Promise<void> {
  const price = await pricing(gw, model);
  const tokens = usage.prompt_tokens * Number(price.prompt) + usage.completion_tokens * Number(price.completion);
  assert.ok(Math.abs(usage.cost - (tokens + fee)) < 1e-9, `${usage.cost} vs ${tokens} + ${fee}`);
}

/** A chat answer's url_citation annotations as [url, title, cited text, excerpt]. */
const chatCitations = (content: string, annotations: any[]) =>
  annotations.map((a) => {
    assert.equal(a.type, 'url_citation');
    const c = a.url_citation;
    return { url: c.url, title: c.title, text: content.slice(c.start_index, c.end_index), content: c.content ?? '' };
  });
const expectedChat = EXPECTED.map((e) => ({ ...e, content: e.text }));

async function chatChunks(res: Response): Promise<any[]> {
  assert.equal(res.status, 200);
  const { events } = await readSse(res);
  assert.equal(events.at(-1), '[DONE]');
  return events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
}

async function wireEvents(res: Response): Promise<any[]> {
  assert.equal(res.status, 200);
  return sseEvents(await res.text())
    .map((e) => e.json)
    .filter(Boolean);
}

const post = (gw: Gateway, path: string, body: unknown): Promise<Response> =>
  fetch(`${gw.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });

describe('Gemini grounding: citations on every front door, and the grounding fee', () => {
  let mock: MockUpstream;
  let gw: Gateway;
  let openaiClient: OpenAI;
  let anthropicClient: Anthropic;

  before(async () => {
    mock = await startMockUpstream();
    mock.onRequest(google('gemini-2.5-flash'));
    gw = await startGateway({ providers: { 'google-ai-studio': `${mock.url}/v1beta` } });
    openaiClient = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'sk-test', maxRetries: 0, timeout: 10_000 });
    anthropicClient = new Anthropic({ baseURL: `${gw.url}/api`, apiKey: 'sk-ant-test', maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  it('the fixture: byte offsets differ from string indexes before the cited text', () => {
    const s = METADATA.groundingSupports[0]!.segment as any;
    assert.notEqual(s.startIndex, ANSWER.indexOf(CLAIM1));
    assert.notEqual(ANSWER.slice(s.startIndex, s.endIndex), CLAIM1);
    assert.equal(Buffer.from(ANSWER).subarray(s.startIndex, s.endIndex).toString(), CLAIM1);
  });

  it('chat, not streamed (:online): Google Search is sent; each support × page is a url_citation on its span; one fee per grounded answer on 2.5', async () => {
    const res = await postChat(gw, { model: 'google/gemini-2.5-flash:online', messages: [{ role: 'user', content: QUESTION }] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(mock.requests.at(-1)!.json.tools, [{ google_search: {} }]);
    const message = body.choices[0].message;
    assert.equal(message.content, ANSWER);
    assert.deepEqual(chatCitations(message.content, message.annotations), expectedChat);
    assert.equal(message.annotations[3].url_citation.start_index, 0);
    assert.equal(message.annotations[3].url_citation.end_index, 0);
    // Two queries ran; Gemini 2.5 is billed per grounded prompt: one fee.
    assert.deepEqual(body.usage.server_tool_use_details, { web_search_requests: 2 });
    assert.equal(body.usage.prompt_tokens, USAGE.promptTokenCount + USAGE.toolUsePromptTokenCount);
    const price = await pricing(gw, 'google/gemini-2.5-flash');
    assert.equal(price.web_search, '0.035');
    await expectCost(gw, 'google/gemini-2.5-flash', body.usage, 0.035);
    await gw.app.store.flush();
    const record = await fetchGeneration(gw, body.id);
    assert.ok(record.notes.includes('web: native search of Google AI Studio'), JSON.stringify(record.notes));
    assert.ok(Math.abs(record.total_cost - body.usage.cost) < 1e-9);
  });

  it('chat, streamed: the citations go out once, in a chunk before the finish, placed in the whole streamed text', async () => {
    const chunks = await chatChunks(await postChat(gw, { model: 'google/gemini-2.5-flash', stream: true, messages: [{ role: 'user', content: QUESTION }], plugins: [{ id: 'web' }] }));
    assert.ok(mock.requests.at(-1)!.path.endsWith(':streamGenerateContent?alt=sse'));
    assert.deepEqual(mock.requests.at(-1)!.json.tools, [{ google_search: {} }]);
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, ANSWER);
    const cited = chunks.map((c, i) => [c, i] as const).filter(([c]) => c.choices[0]?.delta?.annotations);
    assert.equal(cited.length, 1);
    const finish = chunks.findIndex((c) => c.choices[0]?.finish_reason);
    assert.ok(cited[0]![1] < finish, 'before the finish chunk');
    assert.deepEqual(chatCitations(content, cited[0]![0].choices[0].delta.annotations), expectedChat);
    const usage = chunks.find((c) => c.usage).usage;
    assert.deepEqual(usage.server_tool_use_details, { web_search_requests: 2 });
    await expectCost(gw, 'google/gemini-2.5-flash', usage, 0.035);
  });

  it('Messages, not streamed: each cited segment is a text block of its own carrying its citations (cited_text = the segment)', async () => {
    const res = await post(gw, '/messages', { model: 'google/gemini-2.5-flash', max_tokens: 1000, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(mock.requests.at(-1)!.json.tools, [{ google_search: {} }]);
    const texts = body.content.filter((b: any) => b.type === 'text');
    assert.equal(texts.map((b: any) => b.text).join(''), ANSWER);
    const spanned = texts.flatMap((b: any) => (b.citations ?? []).filter((c: any) => c.cited_text !== '').map((c: any) => ({ url: c.url, title: c.title, text: b.text, cited: c.cited_text })));
    assert.deepEqual(
      spanned,
      EXPECTED.filter((e) => e.text !== '').map((e) => ({ url: e.url, title: e.title, text: e.text, cited: e.text })),
    );
    // The page nothing cites goes on the first block, as a source without a span.
    assert.deepEqual(texts[0].citations, [{ type: 'web_search_result_location', cited_text: '', url: PAGES[2]!.web.uri, title: 'wikipedia.org', encrypted_index: '' }]);
  });

  it('Messages, streamed (Anthropic SDK): citations_delta for every citation, with the segment as cited_text, before message_delta', async () => {
    const stream = anthropicClient.messages.stream({ model: 'google/gemini-2.5-flash', max_tokens: 1000, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] });
    const final = await stream.finalMessage();
    const texts = final.content.filter((b): b is Anthropic.TextBlock => b.type === 'text');
    assert.equal(texts.map((b) => b.text).join(''), ANSWER);
    const citations = texts.flatMap((b) => b.citations ?? []);
    assert.deepEqual(
      citations.map((c) => (c.type === 'web_search_result_location' ? [c.url, c.title, c.cited_text] : null)),
      EXPECTED.map((e) => [e.url, e.title, e.text]),
    );
    const events = await wireEvents(await post(gw, '/messages', { model: 'google/gemini-2.5-flash', max_tokens: 1000, stream: true, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] }));
    const deltas = events.map((e, i) => [e, i] as const).filter(([e]) => e.type === 'content_block_delta' && e.delta.type === 'citations_delta');
    assert.equal(deltas.length, EXPECTED.length);
    assert.ok(deltas.every(([, i]) => i < events.findIndex((e) => e.type === 'message_delta')));
  });

  it('Responses, not streamed and streamed (openai SDK): output_text annotations select the cited segments', async () => {
    const res = await post(gw, '/responses', { model: 'google/gemini-2.5-flash', input: QUESTION, tools: [{ type: 'web_search' }] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(mock.requests.at(-1)!.json.tools, [{ google_search: {} }]);
    const check = (part: any) => {
      assert.equal(part.text, ANSWER);
      assert.deepEqual(
        part.annotations.map((a: any) => ({ url: a.url, title: a.title, text: part.text.slice(a.start_index, a.end_index) })),
        EXPECTED,
      );
      assert.deepEqual(Object.keys(part.annotations[0]), ['type', 'end_index', 'start_index', 'title', 'url']);
    };
    check(body.output.find((o: any) => o.type === 'message').content[0]);

    const stream = openaiClient.responses.stream({ model: 'google/gemini-2.5-flash', input: QUESTION, tools: [{ type: 'web_search' }] });
    const added: any[] = [];
    for await (const e of stream) if (e.type === 'response.output_text.annotation.added') added.push(e.annotation);
    const final = await stream.finalResponse();
    const part = (final.output.find((o) => o.type === 'message') as any).content[0];
    check(part);
    assert.deepEqual(added, part.annotations);
  });

  it('Gemini 3 is billed per search query: each of webSearchQueries at the endpoint\'s web_search price', async () => {
    mock.onRequest(google('gemini-3-flash-preview'));
    try {
      const price = await pricing(gw, 'google/gemini-3-flash-preview');
      assert.equal(price.web_search, '0.014');
      for (const stream of [false, true]) {
        const res = await postChat(gw, { model: 'google/gemini-3-flash-preview:online', stream, messages: [{ role: 'user', content: QUESTION }] });
        const usage = stream ? (await chatChunks(res)).find((c) => c.usage).usage : ((await res.json()) as any).usage;
        assert.deepEqual(usage.server_tool_use_details, { web_search_requests: 2 });
        await expectCost(gw, 'google/gemini-3-flash-preview', usage, 2 * 0.014);
      }
    } finally {
      mock.onRequest(google('gemini-2.5-flash'));
    }
  });

  it('a stream whose grounding comes on several events (pages listed once, indices across the stream) gets every citation once', async () => {
    // Google documents that a streamed event lists only the pages not listed before, chunk indices
    // counting across the stream; the second event also repeats the first support.
    const first = { webSearchQueries: [QUERIES[0]], groundingChunks: PAGES.slice(0, 2), groundingSupports: [METADATA.groundingSupports[0]] };
    const second = { webSearchQueries: [QUERIES[1]], groundingChunks: PAGES.slice(2), groundingSupports: METADATA.groundingSupports };
    const splitAt = ANSWER.indexOf(CLAIM2);
    mock.onRequest(google('gemini-2.5-flash', [{ text: ANSWER.slice(0, 30) }, { text: ANSWER.slice(30, splitAt), metadata: first }, { text: ANSWER.slice(splitAt), metadata: second }]));
    try {
      const chunks = await chatChunks(await postChat(gw, { model: 'google/gemini-2.5-flash:online', stream: true, messages: [{ role: 'user', content: QUESTION }] }));
      const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
      const annotations = chunks.flatMap((c) => c.choices[0]?.delta?.annotations ?? []);
      assert.deepEqual(chatCitations(content, annotations), expectedChat);
      assert.deepEqual(chunks.find((c) => c.usage).usage.server_tool_use_details, { web_search_requests: 2 });
    } finally {
      mock.onRequest(google('gemini-2.5-flash'));
    }
  });
});

describe('Gemini grounding: where a segment is', () => {
  const thought = { text: 'Searching for the Euro 2024 final… München? No, Berlin.', thought: true };
  const part1 = 'Kurz: 🇪🇸 ';
  const part2 = `${CLAIM1} ${CLAIM2}`;
  const spans = (content: string, annotations: Annotation[] | undefined) => (annotations ?? []).map((a) => (a.type === 'url_citation' ? [a.title, content.slice(a.startIndex, a.endIndex)] : null));

  it('several parts and a thought: offsets count from the part partIndex names; a thought is not answer text', () => {
    const body = {
      candidates: [
        {
          content: { parts: [thought, { text: part1 }, { text: part2 }], role: 'model' },
          finishReason: 'STOP',
          groundingMetadata: { webSearchQueries: ['euro 2024 final'], groundingChunks: PAGES.slice(0, 1), groundingSupports: [{ segment: segment(part2, CLAIM2, { partIndex: 2 }), groundingChunkIndices: [0] }] },
        },
      ],
      usageMetadata: USAGE,
    };
    const completion = parseCompletion(body);
    assert.equal(completion.content, part1 + part2);
    assert.deepEqual(spans(completion.content!, completion.annotations), [['uefa.com', CLAIM2]]);
    assert.equal(completion.usage!.webSearchRequests, 1);
  });

  it('offsets that count from the start of the whole answer are read so when the named part does not hold the segment there', () => {
    const whole = part1 + part2;
    const body = {
      candidates: [
        {
          content: { parts: [thought, { text: part1 }, { text: part2 }], role: 'model' },
          finishReason: 'STOP',
          groundingMetadata: { groundingChunks: PAGES.slice(0, 1), groundingSupports: [{ segment: segment(whole, CLAIM1, { partIndex: 2 }), groundingChunkIndices: [0] }] },
        },
      ],
    };
    const completion = parseCompletion(body);
    assert.deepEqual(spans(completion.content!, completion.annotations), [['uefa.com', CLAIM1]]);
  });

  it('a segment without its text is placed by its byte offsets alone, in a body and in a stream', () => {
    const bare = (s: any) => ({ ...s, segment: { ...s.segment, text: undefined } });
    const metadata = { ...METADATA, groundingSupports: METADATA.groundingSupports.map(bare) };
    const completion = parseCompletion({ candidates: [{ content: { parts: [{ text: ANSWER }] }, finishReason: 'STOP', groundingMetadata: metadata }] });
    assert.deepEqual(spans(ANSWER, completion.annotations), EXPECTED.map((e) => [e.title, e.text]));
    assert.ok(completion.annotations!.every((a) => a.type === 'url_citation' && a.content === undefined));

    const decoder = new GeminiStreamDecoder({ webSearch: true });
    const events = PIECES.map((text, i) => ({ candidates: [{ content: { parts: [{ text }] }, ...(i === PIECES.length - 1 ? { finishReason: 'STOP', groundingMetadata: metadata } : {}) }] }));
    const annotations = events.flatMap((e) => decoder.decode({ data: JSON.stringify(e) })!).flatMap((c) => c.choice?.annotations ?? []);
    assert.deepEqual(spans(ANSWER, annotations), EXPECTED.map((e) => [e.title, e.text]));
  });

  it('a stream that repeats the pages seen so far (a longer list with the same start) replaces them: no page or citation twice', () => {
    const decoder = new GeminiStreamDecoder({ webSearch: true });
    const splitAt = ANSWER.indexOf(CLAIM2);
    const first = { webSearchQueries: QUERIES, groundingChunks: PAGES.slice(0, 2), groundingSupports: [METADATA.groundingSupports[0]] };
    const events = [
      { candidates: [{ content: { parts: [{ text: ANSWER.slice(0, splitAt) }] }, groundingMetadata: first }] },
      { candidates: [{ content: { parts: [{ text: ANSWER.slice(splitAt) }] }, finishReason: 'STOP', groundingMetadata: METADATA }], usageMetadata: USAGE },
    ];
    const chunks = events.flatMap((e) => decoder.decode({ data: JSON.stringify(e) })!);
    const annotations = chunks.flatMap((c) => c.choice?.annotations ?? []);
    assert.deepEqual(spans(ANSWER, annotations), EXPECTED.map((e) => [e.title, e.text]));
    assert.equal(chunks.find((c) => c.usage)!.usage!.webSearchRequests, 2);
  });

  it('offsets that fit nowhere: the segment\'s text is found in the answer; without text or offsets the citation is 0–0', () => {
    const body = {
      candidates: [
        {
          content: { parts: [{ text: ANSWER }], role: 'model' },
          groundingMetadata: {
            groundingChunks: PAGES,
            groundingSupports: [
              { segment: { startIndex: 3, endIndex: 9, text: CLAIM2 }, groundingChunkIndices: [1] },
              { segment: { endIndex: 100000 }, groundingChunkIndices: [2] },
            ],
          },
        },
      ],
    };
    const completion = parseCompletion(body);
    assert.deepEqual(spans(ANSWER, completion.annotations), [
      ['aljazeera.com', CLAIM2],
      ['wikipedia.org', ''],
      ['uefa.com', ''],
    ]);
  });

  it('a stream decoder not told the request searches keeps no text: its citations are sources without a span, the searches still counted', () => {
    const decoder = new GeminiStreamDecoder();
    const chunks = [
      ...decoder.decode({ data: JSON.stringify({ candidates: [{ content: { parts: [{ text: PIECES[0] }] } }] }) })!,
      ...decoder.decode({ data: JSON.stringify({ candidates: [{ content: { parts: [{ text: PIECES.slice(1).join('') }] }, finishReason: 'STOP', groundingMetadata: METADATA }], usageMetadata: USAGE }) })!,
    ];
    const annotations = chunks.flatMap((c) => c.choice?.annotations ?? []);
    assert.deepEqual(
      annotations.map((a) => (a.type === 'url_citation' ? [a.url, a.startIndex, a.endIndex] : null)),
      EXPECTED.map((e) => [e.url, 0, 0]),
    );
    assert.equal(chunks.find((c) => c.usage)!.usage!.webSearchRequests, 2);
    const withText = new GeminiStreamDecoder({ webSearch: true });
    const placed = [
      ...withText.decode({ data: JSON.stringify({ candidates: [{ content: { parts: [{ text: PIECES[0] }] } }] }) })!,
      ...withText.decode({ data: JSON.stringify({ candidates: [{ content: { parts: [{ text: PIECES.slice(1).join('') }] }, finishReason: 'STOP', groundingMetadata: METADATA }] }) })!,
    ].flatMap((c) => c.choice?.annotations ?? []);
    assert.deepEqual(
      placed.map((a) => (a.type === 'url_citation' ? ANSWER.slice(a.startIndex, a.endIndex) : null)),
      EXPECTED.map((e) => e.text),
    );
  });
});

describe('Gemini grounding on Vertex AI', () => {
  const account = newServiceAccount();
  let googleAuth: MockUpstream;
  let vertex: MockUpstream;
  let gw: Gateway;

  before(async () => {
    [googleAuth, vertex] = await Promise.all([startMockUpstream(), startMockUpstream()]);
    const tokens = tokenEndpoint(googleAuth, account);
    vertex.onRequest((r) => {
      if (!tokens.issued.includes(String(r.headers.authorization).replace(/^Bearer /, ''))) return { status: 401, json: { error: { code: 401, message: 'bad token', status: 'UNAUTHENTICATED' } } };
      const base = '/v1/projects/proj-1/locations/global/publishers/google/models/gemini-2.5-flash';
      if (r.path === `${base}:streamGenerateContent?alt=sse`) return geminiStream('gemini-2.5-flash');
      if (r.path === `${base}:generateContent`) return { json: geminiBody('gemini-2.5-flash') };
      return { status: 404, json: { error: { code: 404, message: `not found: ${r.path}`, status: 'NOT_FOUND' } } };
    });
    gw = await startGateway({
      providers: {},
      env: { GOOGLE_APPLICATION_CREDENTIALS: writeKeyFile(account, `${googleAuth.url}/token`), GOOGLE_CLOUD_PROJECT: 'proj-1', GOOGLE_CLOUD_LOCATION: 'global', GOOGLE_VERTEX_BASE_URL: vertex.url },
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([googleAuth.close(), vertex.close()]);
  });

  for (const stream of [false, true]) {
    it(stream ? 'streamed: citations placed in the streamed text, one grounding fee' : 'not streamed: citations and one grounding fee', async () => {
      const res = await postChat(gw, { model: 'google/gemini-2.5-flash:online', stream, messages: [{ role: 'user', content: QUESTION }], provider: { only: ['google-vertex'] } });
      let content: string;
      let annotations: any[];
      let usage: any;
      if (stream) {
        const chunks = await chatChunks(res);
        content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
        annotations = chunks.flatMap((c) => c.choices[0]?.delta?.annotations ?? []);
        usage = chunks.find((c) => c.usage).usage;
      } else {
        const body = (await res.json()) as any;
        assert.equal(res.status, 200, JSON.stringify(body));
        assert.equal(body.provider, 'Google');
        ({ content, annotations } = body.choices[0].message);
        usage = body.usage;
      }
      assert.deepEqual(vertex.requests.at(-1)!.json.tools, [{ google_search: {} }]);
      assert.deepEqual(chatCitations(content, annotations), expectedChat);
      assert.deepEqual(usage.server_tool_use_details, { web_search_requests: 2 });
      const price = await pricing(gw, 'google/gemini-2.5-flash');
      const tokens = usage.prompt_tokens * Number(price.prompt) + usage.completion_tokens * Number(price.completion);
      assert.ok(Math.abs(usage.cost - (tokens + 0.035)) < 1e-9, `${usage.cost} vs ${tokens} + 0.035`);
    });
  }
});
