/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from the gateway */
/**
 * OpenRouter's plugins and transforms, end to end on loopback: the gateway with mock providers
 * (and mock Exa, Mistral OCR and moderation services) as real HTTP servers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatCompletion, replyFromUpstreamRecording, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { loadCassette } from './support/cassettes.js';
import { postChat, readSse, rngPicking, startGateway, type Gateway } from './support/gateway.js';
import { tinyPdf } from './support/pdf.js';
import { ConfigError, loadSettings } from '../src/config/load.js';

const MODEL = 'moonshotai/kimi-k2-0905';

async function generation(gw: Gateway, id: string): Promise<any> {
  await gw.app.store.flush();
  return ((await (await fetch(`${gw.baseUrl}/generation?id=${id}`)).json()) as any).data;
}

function post(gw: Gateway, path: string, body: unknown): Promise<Response> {
  return fetch(`${gw.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('plugins: parsing and validation', () => {
  let groq: MockUpstream;
  let gw: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest(() => ({ json: chatCompletion('ok') }));
    gw = await startGateway({ providers: { groq: groq.baseUrl } });
  });
  after(async () => {
    await gw.close();
    await groq.close();
  });

  it('an unknown plugin id is a 400 naming it, on every front door', async () => {
    const plugins = [{ id: 'fusion' }];
    const chat = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], plugins });
    assert.equal(chat.status, 400);
    const body = (await chat.json()) as any;
    assert.equal(body.error.code, 400);
    assert.match(body.error.message, /Unknown plugin "fusion"/);
    const messages = await post(gw, '/messages', { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], plugins });
    assert.equal(messages.status, 400);
    assert.match(JSON.stringify(await messages.json()), /Unknown plugin \\"fusion\\"/);
    const responses = await post(gw, '/responses', { model: MODEL, input: 'hi', plugins });
    assert.equal(responses.status, 400);
    assert.match(JSON.stringify(await responses.json()), /Unknown plugin \\"fusion\\"/);
    assert.equal(groq.requests.length, 0);
  });

  it('an unknown transform, a malformed entry or an unsupported engine is a 400', async () => {
    const cases: [unknown, RegExp][] = [
      [{ transforms: ['squash'] }, /Unknown transform "squash"/],
      [{ plugins: [{ engine: 'exa' }] }, /plugins\[0\] must be an object with a string id/],
      [{ plugins: { id: 'web' } }, /plugins must be an array/],
      [{ plugins: [{ id: 'web', engine: 'firecrawl' }] }, /plugin web: engine "firecrawl" is not supported/],
      [{ plugins: [{ id: 'web', max_results: 0 }] }, /max_results/],
      [{ plugins: [{ id: 'file-parser', pdf: { engine: 'tesseract' } }] }, /pdf.engine "tesseract"/],
      [{ plugins: [{ id: 'context-compression', engine: 'summarise' }] }, /engine "summarise"/],
      [{ plugins: [{ id: 'response-healing', enabled: 'yes' }] }, /enabled must be a boolean/],
    ];
    for (const [extra, message] of cases) {
      const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...(extra as object) });
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.match(((await res.json()) as any).error.message, message);
    }
  });

  it('known plugins and transforms are accepted', async () => {
    const res = await postChat(gw, {
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      transforms: ['middle-out'],
      plugins: [{ id: 'response-healing' }, { id: 'context-compression', engine: 'middle-out' }, { id: 'web', enabled: false }, { id: 'file-parser', pdf: { engine: 'cloudflare-ai' } }],
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).choices[0].message.content, 'ok');
  });
});

describe('plugins: response-healing', () => {
  let groq: MockUpstream;
  let gw: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    gw = await startGateway({ providers: { groq: groq.baseUrl } });
    gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
  });
  after(async () => {
    await gw.close();
    await groq.close();
  });

  const ask = (extra: Record<string, unknown> = {}) =>
    postChat(gw, {
      model: MODEL,
      messages: [{ role: 'user', content: 'Give me a person as JSON' }],
      response_format: { type: 'json_object' },
      plugins: [{ id: 'response-healing' }],
      ...extra,
    });

  const broken: [string, unknown][] = [
    ['{"name": "Alice", "age": 30', { name: 'Alice', age: 30 }],
    ['```json\n{"name": "Bob"}\n```', { name: 'Bob' }],
    ["Here's the data you requested:\n{\"name\": \"Charlie\", \"age\": 25}\nAnything else?", { name: 'Charlie', age: 25 }],
    ['{"name": "David", "age": 35,}', { name: 'David', age: 35 }],
    ["{name: 'Eve', tags: ['a', 'b']}", { name: 'Eve', tags: ['a', 'b'] }],
  ];
  for (const [text, expected] of broken) {
    it(`repairs ${JSON.stringify(text).slice(0, 40)}… and says so in the record`, async () => {
      groq.enqueue({ json: chatCompletion(text) });
      const res = await ask();
      const body = (await res.json()) as any;
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(body.choices[0].message.content), expected);
      const record = await generation(gw, body.id);
      assert.ok(record.notes.some((n: string) => /response-healing: .*repaired/.test(n)), JSON.stringify(record.notes));
    });
  }

  it('leaves valid JSON, unrepairable prose, plugin-less and plain-text requests alone', async () => {
    groq.enqueue({ json: chatCompletion('{"ok":true}') });
    let body = (await (await ask()).json()) as any;
    assert.equal(body.choices[0].message.content, '{"ok":true}');
    assert.deepEqual((await generation(gw, body.id)).notes, []);

    groq.enqueue({ json: chatCompletion('I cannot answer that.') });
    body = (await (await ask()).json()) as any;
    assert.equal(body.choices[0].message.content, 'I cannot answer that.');
    assert.ok((await generation(gw, body.id)).notes.some((n: string) => /could not be repaired/.test(n)));

    groq.enqueue({ json: chatCompletion('{"a": 1,}') });
    body = (await (await ask({ plugins: [] })).json()) as any;
    assert.equal(body.choices[0].message.content, '{"a": 1,}');

    groq.enqueue({ json: chatCompletion('{"a": 1,}') });
    body = (await (await ask({ response_format: { type: 'text' } })).json()) as any;
    assert.equal(body.choices[0].message.content, '{"a": 1,}');
  });
});

/** A config file adding small-context models served by Groq (the embedded catalog has none). */
function smallModelsConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-plugins-'));
  const file = join(dir, 'switchyard.yaml');
  const model = (id: string, context: number) => [
    `    - id: ${id}`,
    `      name: "${id}"`,
    `      context_length: ${context}`,
    '      input_modalities: [text]',
    '      output_modalities: [text]',
    '      endpoints:',
    `        - { provider: groq, upstream_model: ${id.split('/')[1]}, pricing: { prompt: "0.000001", completion: "0.000002" }, context_length: ${context}, max_completion_tokens: 1000 }`,
  ];
  // Two windows of one model, both small enough to compress by default; the upstream model names tell them apart.
  const twoWindows = [
    ...model('test/two-windows', 6144).slice(0, -1),
    '        - { provider: groq, upstream_model: window-4k, pricing: { prompt: "0.000001", completion: "0.000002" }, context_length: 4096, max_completion_tokens: 1000 }',
    '        - { provider: groq, tag: groq/wide, upstream_model: window-6k, pricing: { prompt: "0.000002", completion: "0.000004" }, context_length: 6144, max_completion_tokens: 1000 }',
  ];
  writeFileSync(file, ['catalog:', '  models:', ...model('test/small-8k', 4096), ...model('test/mid-16k', 16000), ...twoWindows, ''].join('\n'));
  return file;
}

describe('plugins: context-compression (middle-out)', () => {
  let groq: MockUpstream;
  let gw: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest(() => ({ json: chatCompletion('fits now') }));
    gw = await startGateway({ providers: { groq: groq.baseUrl }, configFile: smallModelsConfig() });
  });
  after(async () => {
    await gw.close();
    await groq.close();
  });

  /** A system message, then `turns` user/assistant pairs of `size` characters each, then the question. */
  const conversation = (turns: number, size: number) => [
    { role: 'system', content: 'You are terse.' },
    ...Array.from({ length: turns }, (_, i) => [
      { role: 'user', content: `question ${i} ${'q'.repeat(size)}` },
      { role: 'assistant', content: `answer ${i} ${'a'.repeat(size)}` },
    ]).flat(),
    { role: 'user', content: 'And the last question?' },
  ];
  const upstreamChars = () => JSON.stringify(groq.requests[groq.requests.length - 1]!.json.messages).length;

  it('is on by default for an endpoint of at most 8k context: the middle goes, the ends stay', async () => {
    const messages = conversation(6, 2000); // ~6k tokens against 4k of context
    const res = await postChat(gw, { model: 'test/small-8k', messages, max_tokens: 200 });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const sent = groq.requests[groq.requests.length - 1]!.json.messages as any[];
    assert.ok(sent.length < messages.length);
    assert.deepEqual(sent[0], { role: 'system', content: 'You are terse.' });
    assert.equal(sent[sent.length - 1].content, 'And the last question?');
    // The earliest and latest turns survive; the removed ones are the middle ones.
    assert.match(sent[1].content, /^question 0 /);
    assert.match(sent[sent.length - 2].content, /^answer 5 /);
    assert.ok(!sent.some((m) => /^(question|answer) 3 /.test(m.content)));
    assert.ok(upstreamChars() / 4 <= 4096 - 200);
    const record = await generation(gw, body.id);
    assert.ok(record.notes.some((n: string) => /context-compression: .*removed from the middle/.test(n)), JSON.stringify(record.notes));
  });

  it('transforms: [] turns it off: the oversized prompt is a 400', async () => {
    const before = groq.requests.length;
    const res = await postChat(gw, { model: 'test/small-8k', messages: conversation(6, 2000), max_tokens: 200, transforms: [] });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as any).error.message, /exceeds the context length/);
    assert.equal(groq.requests.length, before);
  });

  it('a larger endpoint compresses only when asked, by plugin or by transforms: ["middle-out"]', async () => {
    const messages = conversation(8, 7000); // ~28k tokens against 16k of context
    const plain = await postChat(gw, { model: 'test/mid-16k', messages });
    assert.equal(plain.status, 400);
    for (const extra of [{ plugins: [{ id: 'context-compression' }] }, { transforms: ['middle-out'] }]) {
      const res = await postChat(gw, { model: 'test/mid-16k', messages, ...extra });
      assert.equal(res.status, 200, JSON.stringify(extra));
      assert.ok(upstreamChars() / 4 <= 16000 - 2000);
    }
    // More than twice the context: no endpoint qualifies, so the largest window (the only one) serves, compressed.
    const huge = await postChat(gw, { model: 'test/mid-16k', messages: conversation(20, 8000), transforms: ['middle-out'] });
    assert.equal(huge.status, 200);
    assert.ok(upstreamChars() / 4 <= 16000 - 2000);
  });

  it('when no window has even half the context needed, the largest serves, compressed, and the record says so', async () => {
    const messages = conversation(6, 8000); // ~24k tokens: more than twice both windows
    const res = await postChat(gw, { model: 'test/two-windows', messages, max_tokens: 200 });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const sent = groq.requests[groq.requests.length - 1]!.json;
    assert.equal(sent.model, 'window-6k');
    assert.ok(sent.messages.length < messages.length);
    assert.equal(sent.messages[sent.messages.length - 1].content, 'And the last question?');
    assert.ok(upstreamChars() / 4 <= 6144 - 200, `${upstreamChars() / 4} tokens sent`);
    const record = await generation(gw, body.id);
    assert.ok(record.notes.some((n: string) => /^context-compression fallback: .*largest context, 6144 tokens, serves \(test\/two-windows:groq\/wide\)/.test(n)), JSON.stringify(record.notes));
    assert.ok(record.notes.some((n: string) => /^context-compression: for groq\/wide \(context 6144\)/.test(n)), JSON.stringify(record.notes));
    const skipped = record.routing.find((a: any) => a.endpoint === 'groq');
    assert.equal(skipped.outcome, 'skipped');
    assert.match(skipped.reason, /context length 4096 below the largest \(6144\)/);

    // Without compression the request is refused before any upstream sees it, with advice to turn it on.
    const before = groq.requests.length;
    for (const off of [{ transforms: [] }, { plugins: [{ id: 'context-compression', enabled: false }] }]) {
      const refused = await postChat(gw, { model: 'test/two-windows', messages, max_tokens: 200, ...off });
      assert.equal(refused.status, 400);
      const error = ((await refused.json()) as any).error;
      assert.equal(error.metadata?.error_type, 'context_length_exceeded');
      assert.match(error.message, /exceeds the context length of every endpoint of test\/two-windows\. .*turn on context compression/);
    }
    assert.equal(groq.requests.length, before);
  });

  it('with a models list the largest window across the list serves, not the first model', async () => {
    const res = await postChat(gw, { model: 'test/small-8k', models: ['test/two-windows'], messages: conversation(6, 8000), max_tokens: 200 });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.model, 'test/two-windows');
    assert.equal(groq.requests[groq.requests.length - 1]!.json.model, 'window-6k');
    const record = await generation(gw, body.id);
    const reasons = record.routing.filter((a: any) => a.outcome === 'skipped').map((a: any) => `${a.model}:${a.endpoint} ${a.reason}`);
    assert.deepEqual(reasons.sort(), [
      'test/small-8k:groq context length 4096 below the largest (6144), which the context-compression fallback takes',
      'test/two-windows:groq context length 4096 below the largest (6144), which the context-compression fallback takes',
    ]);
  });

  it('a last message that compression cannot shorten enough is a clear 400, never sent cut further', async () => {
    // 600 short text parts: no part is long enough to shorten, and the last message is never removed.
    const parts = Array.from({ length: 600 }, (_, i) => ({ type: 'text', text: `part ${i} ${'p'.repeat(80)}` }));
    const before = groq.requests.length;
    const res = await postChat(gw, { model: 'test/small-8k', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: parts }], max_tokens: 100 });
    const body = (await res.json()) as any;
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error.metadata?.error_type, 'context_length_exceeded');
    assert.match(body.error.message, /does not fit the context length 4096 of test\/small-8k \(groq\) even compressed: .* is still ~\d+ tokens/);
    assert.equal(groq.requests.length, before);
  });

  it('keeps a tool call and its result together, and shortens a message too long on its own', async () => {
    const call = (i: number) => ({ role: 'assistant', content: null, tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'lookup', arguments: `{"q":${i}}` } }] });
    const result = (i: number) => ({ role: 'tool', tool_call_id: `call_${i}`, content: `result ${i} ${'r'.repeat(3000)}` });
    const messages = [
      { role: 'system', content: 'You look things up.' },
      ...[0, 1, 2, 3, 4, 5].flatMap((i) => [{ role: 'user', content: `look up ${i}` }, call(i), result(i)]),
      { role: 'user', content: 'Summarise.' },
    ];
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'number' } } } } }];
    const res = await postChat(gw, { model: 'test/small-8k', messages, tools, max_tokens: 100 });
    assert.equal(res.status, 200);
    const sent = groq.requests[groq.requests.length - 1]!.json.messages as any[];
    sent.forEach((m, i) => {
      if (m.role === 'tool') assert.ok(sent[i - 1].role === 'tool' || sent[i - 1].tool_calls?.some((t: any) => t.id === m.tool_call_id), `orphan tool result ${m.tool_call_id}`);
      if (m.tool_calls) assert.equal(sent[i + 1]?.tool_call_id, m.tool_calls[0].id);
    });

    const long = await postChat(gw, { model: 'test/small-8k', messages: [{ role: 'user', content: `start ${'x'.repeat(30_000)} end` }], max_tokens: 100 });
    assert.equal(long.status, 200);
    const only = groq.requests[groq.requests.length - 1]!.json.messages[0].content as string;
    assert.ok(only.startsWith('start ') && only.endsWith(' end') && only.includes('[…]'));
    assert.ok(only.length / 4 <= 4096);
  });
});

describe('plugins: file-parser', () => {
  let groq: MockUpstream;
  let openai: MockUpstream;
  let mistral: MockUpstream;
  let local: Gateway;
  let ocr: Gateway;
  const pdf = tinyPdf(['Quarterly report (draft)', 'Revenue grew 12 percent.']).toString('base64');
  const fileMessage = (text = 'What does the report say?') => ({
    role: 'user',
    content: [
      { type: 'text', text },
      { type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
    ],
  });

  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest(() => ({ json: chatCompletion('It grew.') }));
    openai = await startMockUpstream();
    openai.onRequest(() => ({ json: chatCompletion('Read it myself.') }));
    mistral = await startMockUpstream();
    mistral.onRequest(() => ({ json: { model: 'mistral-ocr-2505', pages: [{ index: 0, markdown: '# Quarterly report\n\nRevenue grew **12%**.', images: [] }], usage_info: { pages_processed: 1, doc_size_bytes: 600 } } }));
    local = await startGateway({ providers: { groq: groq.baseUrl, openai: openai.baseUrl } });
    ocr = await startGateway({ providers: { groq: groq.baseUrl }, env: { MISTRAL_API_KEY: 'test-mistral-key', MISTRAL_OCR_BASE_URL: mistral.baseUrl } });
  });
  after(async () => {
    await local.close();
    await ocr.close();
    await groq.close();
    await openai.close();
    await mistral.close();
  });

  const sentText = (up: MockUpstream) => JSON.stringify(up.requests[up.requests.length - 1]!.json.messages);

  it('a model that cannot read PDFs gets the text (pdf-text by default), the client a file annotation; the next turn uses the cache', async () => {
    const res = await postChat(local, { model: MODEL, messages: [fileMessage()] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.match(sentText(groq), /Quarterly report \(draft\)\\nRevenue grew 12 percent\./);
    assert.ok(!sentText(groq).includes('application/pdf'));
    const [annotation] = body.choices[0].message.annotations;
    assert.equal(annotation.type, 'file');
    assert.equal(annotation.file.name, 'report.pdf');
    assert.match(annotation.file.hash, /^[0-9a-f]{64}$/);
    assert.match(annotation.file.content[0].text, /Revenue grew 12 percent/);
    assert.ok((await generation(local, body.id)).notes.includes('file-parser: report.pdf parsed with pdf-text (1 page(s))'));

    const next = await postChat(local, {
      model: MODEL,
      messages: [fileMessage(), { role: 'assistant', content: 'It grew.', annotations: body.choices[0].message.annotations }, { role: 'user', content: 'By how much?' }],
    });
    const nextBody = (await next.json()) as any;
    assert.equal(next.status, 200);
    assert.ok((await generation(local, nextBody.id)).notes.includes('file-parser: report.pdf parsed with pdf-text (1 page(s), from the cache)'));
  });

  it('a model that reads PDFs gets the file itself, unless the client picks a parser', async () => {
    let res = await postChat(local, { model: 'openai/gpt-4o-mini', messages: [fileMessage()] });
    assert.equal(res.status, 200);
    assert.ok(sentText(openai).includes(`data:application/pdf;base64,${pdf}`));
    assert.equal(((await res.json()) as any).choices[0].message.annotations, undefined);

    res = await postChat(local, { model: 'openai/gpt-4o-mini', messages: [fileMessage()], plugins: [{ id: 'file-parser', pdf: { engine: 'pdf-text' } }] });
    assert.equal(res.status, 200);
    assert.ok(!sentText(openai).includes('application/pdf'));
    assert.match(sentText(openai), /Revenue grew 12 percent/);

    res = await postChat(local, { model: MODEL, messages: [fileMessage()], plugins: [{ id: 'file-parser', pdf: { engine: 'native' } }] });
    assert.equal(res.status, 200);
    assert.ok(sentText(groq).includes('application/pdf'));
  });

  it('mistral-ocr without a Mistral key is a 400 that says what to configure', async () => {
    const res = await postChat(local, { model: MODEL, messages: [fileMessage()], plugins: [{ id: 'file-parser', pdf: { engine: 'mistral-ocr' } }] });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as any).error.message, /MISTRAL_API_KEY/);
  });

  it('with a Mistral key the OCR API parses (once per file), priced per page', async () => {
    const res = await postChat(ocr, { model: MODEL, messages: [fileMessage()] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(mistral.requests.length, 1);
    const call = mistral.requests[0]!;
    assert.equal(call.path, '/v1/ocr');
    assert.equal(call.headers.authorization, 'Bearer test-mistral-key');
    assert.equal(call.json.document.document_url, `data:application/pdf;base64,${pdf}`);
    assert.match(sentText(groq), /Revenue grew \*\*12%\*\*/);
    assert.match(body.choices[0].message.annotations[0].file.content[0].text, /# Quarterly report/);
    const record = await generation(ocr, body.id);
    const tokensOnly = ((record.tokens_prompt as number) * 0.000001 + (record.tokens_completion as number) * 0.000003);
    assert.ok(Math.abs(record.total_cost - (tokensOnly + 0.002)) < 1e-9, `${record.total_cost} vs ${tokensOnly}`);

    const again = await postChat(ocr, { model: MODEL, messages: [fileMessage('Again?')] });
    assert.equal(again.status, 200);
    assert.equal(mistral.requests.length, 1);
  });

  it('a file annotation sent back on the assistant message spares the parse (e.g. parsed by another replica)', async () => {
    const other = tinyPdf(['Minutes of the meeting']);
    const hash = createHash('sha256').update(other).digest('hex');
    const calls = mistral.requests.length;
    const res = await postChat(ocr, {
      model: MODEL,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Summarise' }, { type: 'file', file: { filename: 'minutes.pdf', file_data: `data:application/pdf;base64,${other.toString('base64')}` } }] },
        { role: 'assistant', content: 'Done.', annotations: [{ type: 'file', file: { hash, name: 'minutes.pdf', content: [{ type: 'text', text: 'Parsed earlier: minutes.' }] } }] },
        { role: 'user', content: 'And who attended?' },
      ],
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(mistral.requests.length, calls);
    assert.match(sentText(groq), /Parsed earlier: minutes\./);
    assert.ok((await generation(ocr, body.id)).notes.includes("file-parser: minutes.pdf not parsed again: its text came with the client's file annotation"));
  });
});

/**
 * A document server on loopback for PDFs given by URL: a PDF, the same bytes without a PDF
 * content-type, an HTML page, PDFs over the test gateway's byte cap (declared, and streamed without
 * a length), one that stalls halfway, a redirect and a 404. It counts the requests each path got.
 */
async function startDocumentServer(pdf: Buffer, maxBytes: number): Promise<{ url: string; hits: Map<string, number>; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const oversized = Buffer.concat([pdf, Buffer.alloc(maxBytes, 0x20)]);
  const server = createServer((req, res) => {
    hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
    switch (new URL(req.url!, 'http://documents').pathname) {
      case '/docs/report.pdf':
        res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdf);
        return;
      case '/download':
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(pdf);
        return;
      case '/page.html':
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>Report</title>${'<p>not a pdf</p>'.repeat(200)}`);
        return;
      case '/big-declared.pdf':
        res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(oversized.length) }).end(oversized);
        return;
      case '/big-streamed.pdf':
        // No length: the cap has to stop the read itself.
        res.writeHead(200, { 'content-type': 'application/pdf' });
        res.write(oversized.subarray(0, maxBytes / 2));
        res.end(oversized.subarray(maxBytes / 2));
        return;
      case '/slow.pdf':
        // Half a PDF, then nothing: the fetch's time bound has to end it.
        res.writeHead(200, { 'content-type': 'application/pdf' });
        res.write(pdf.subarray(0, 100));
        return;
      case '/moved':
        res.writeHead(302, { location: '/docs/report.pdf' }).end();
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no such document');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('plugins: file-parser, PDFs given by URL', () => {
  const MAX_BYTES = 8192;
  const pdfBytes = tinyPdf(['Annual report, fetched by URL', 'Profit doubled.']);
  let docs: Awaited<ReturnType<typeof startDocumentServer>>;
  let groq: MockUpstream;
  let openai: MockUpstream;
  let gw: Gateway;
  let strict: Gateway;

  before(async () => {
    docs = await startDocumentServer(pdfBytes, MAX_BYTES);
    groq = await startMockUpstream();
    groq.onRequest(() => ({ json: chatCompletion('It doubled.') }));
    openai = await startMockUpstream();
    openai.onRequest(() => ({ json: chatCompletion('Read it myself.') }));
    // The documents live on loopback: this gateway is allowed there (from its config file), and its byte cap is small.
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-pdf-url-'));
    const configFile = join(dir, 'switchyard.yaml');
    writeFileSync(configFile, `plugins:\n  file_parser: { allow_private_urls: true, url_max_bytes: ${MAX_BYTES}, url_timeout_ms: 1500 }\n`);
    gw = await startGateway({ providers: { groq: groq.baseUrl, openai: openai.baseUrl }, configFile });
    gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
    strict = await startGateway({ providers: { groq: groq.baseUrl } });
  });
  after(async () => {
    await gw.close();
    await strict.close();
    await groq.close();
    await openai.close();
    await docs.close();
  });

  const chatFile = (url: string, filename?: string) => ({
    role: 'user',
    content: [
      { type: 'text', text: 'What does the report say?' },
      { type: 'file', file: { ...(filename ? { filename } : {}), file_data: url } },
    ],
  });
  const lastSent = (up: MockUpstream) => JSON.stringify(up.requests[up.requests.length - 1]!.json);
  const hash = createHash('sha256').update(pdfBytes).digest('hex');

  it('chat completions: a model that cannot read PDFs gets the fetched text; the next turn finds it without fetching again', async () => {
    const url = `${docs.url}/docs/report.pdf`;
    const res = await postChat(gw, { model: MODEL, messages: [chatFile(url, 'annual.pdf')] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(docs.hits.get('/docs/report.pdf'), 1);
    assert.match(lastSent(groq), /<file name=\\"annual.pdf\\">\\nAnnual report, fetched by URL\\nProfit doubled\./);
    assert.ok(!lastSent(groq).includes(url), 'the URL itself does not reach the model');
    const [annotation] = body.choices[0].message.annotations;
    assert.deepEqual({ type: annotation.type, name: annotation.file.name, hash: annotation.file.hash }, { type: 'file', name: 'annual.pdf', hash });
    assert.match(annotation.file.content[0].text, /Profit doubled/);
    const notes = (await generation(gw, body.id)).notes as string[];
    assert.ok(notes.includes(`file-parser: annual.pdf fetched from ${url}`), JSON.stringify(notes));
    assert.ok(notes.includes('file-parser: annual.pdf parsed with pdf-text (1 page(s))'), JSON.stringify(notes));

    const next = await postChat(gw, {
      model: MODEL,
      messages: [chatFile(url, 'annual.pdf'), { role: 'assistant', content: 'It doubled.' }, { role: 'user', content: 'Since when?' }],
    });
    const nextBody = (await next.json()) as any;
    assert.equal(next.status, 200, JSON.stringify(nextBody));
    assert.equal(docs.hits.get('/docs/report.pdf'), 1, 'not fetched again');
    assert.match(lastSent(groq), /Profit doubled\./);
    const nextNotes = (await generation(gw, nextBody.id)).notes as string[];
    assert.ok(nextNotes.includes('file-parser: annual.pdf parsed with pdf-text (1 page(s), from the cache)'), JSON.stringify(nextNotes));
    assert.ok(!nextNotes.some((n) => n.includes('fetched from')));
  });

  it('Responses (input_file with file_url) and Messages (document with a url source) fetch and parse too; a redirect is followed', async () => {
    let res = await post(gw, '/responses', {
      model: MODEL,
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Summarise' }, { type: 'input_file', file_url: `${docs.url}/download?id=7` }] }],
    });
    let body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(docs.hits.get('/download?id=7'), 1);
    // No file name and none in the URL's path: the PDF served as application/octet-stream is recognised by its header.
    assert.match(lastSent(groq), /<file name=\\"download\\">\\nAnnual report, fetched by URL/);

    res = await post(gw, '/messages', {
      model: MODEL,
      max_tokens: 100,
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: `${docs.url}/moved` }, title: 'moved.pdf' }, { type: 'text', text: 'Summarise' }] }],
    });
    body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(docs.hits.get('/moved'), 1);
    assert.match(lastSent(groq), /<file name=\\"moved.pdf\\">\\nAnnual report, fetched by URL/);
    assert.ok((await generation(gw, body.id)).notes.includes(`file-parser: moved.pdf fetched from ${docs.url}/moved`));
  });

  it('a model that reads PDFs gets the URL itself and nothing is fetched, unless the client picks a parser', async () => {
    const url = `${docs.url}/docs/report.pdf?native=1`;
    let res = await postChat(gw, { model: 'openai/gpt-4o-mini', messages: [chatFile(url, 'native.pdf')] });
    assert.equal(res.status, 200, await res.clone().text());
    assert.ok(lastSent(openai).includes(url));
    assert.equal(docs.hits.get('/docs/report.pdf?native=1'), undefined);

    res = await postChat(gw, { model: 'openai/gpt-4o-mini', messages: [chatFile(url, 'native.pdf')], plugins: [{ id: 'file-parser', pdf: { engine: 'pdf-text' } }] });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(docs.hits.get('/docs/report.pdf?native=1'), 1);
    assert.ok(!lastSent(openai).includes(url));
    assert.match(lastSent(openai), /Profit doubled/);
  });

  const refused = async (target: Gateway, url: string, message: RegExp) => {
    const upstreamCalls = groq.requests.length;
    const res = await postChat(target, { model: MODEL, messages: [chatFile(url, 'x.pdf')] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error.code, 400);
    assert.match(body.error.message, message);
    assert.equal(groq.requests.length, upstreamCalls, 'no upstream request');
  };

  it('a page that is not a PDF, a 404, an unreachable host, a stalled download or a non-http URL is a 400 naming the problem, with no upstream request', async () => {
    await refused(gw, `${docs.url}/page.html`, new RegExp(`file at ${docs.url}/page\\.html is not a PDF \\(content-type "text/html"`));
    // Streamed too: the refusal comes before the stream starts.
    const streamed = await postChat(gw, { model: MODEL, stream: true, messages: [chatFile(`${docs.url}/page.html`)] });
    assert.equal(streamed.status, 400);
    assert.match(((await streamed.json()) as any).error.message, /page\.html is not a PDF/);
    await refused(gw, `${docs.url}/missing.pdf?token=secret`, new RegExp(`file at ${docs.url}/missing\\.pdf could not be fetched: it answered HTTP 404`));
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await refused(gw, `http://127.0.0.1:${port}/gone.pdf`, /could not be fetched: .*ECONNREFUSED/);
    await refused(gw, `${docs.url}/slow.pdf`, /slow\.pdf could not be fetched within 1500 ms/);
    // (On chat completions a file_data that is neither a data: nor an http(s) URL is base64.)
    const res = await post(gw, '/responses', { model: MODEL, input: [{ role: 'user', content: [{ type: 'input_file', file_url: 'file:///etc/passwd' }] }] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(body.error.message, /file at file:\/\/\/etc\/passwd was not fetched: only http and https URLs are \(file is not\)/);
  });

  it(`a PDF over the byte cap is a 400, whether its length is declared or not (reading stops past the cap)`, async () => {
    await refused(gw, `${docs.url}/big-declared.pdf`, new RegExp(`big-declared\\.pdf is too large: ${MAX_BYTES + pdfBytes.length} bytes, more than the ${MAX_BYTES}`));
    await refused(gw, `${docs.url}/big-streamed.pdf`, new RegExp(`big-streamed\\.pdf is too large: more than the ${MAX_BYTES} bytes`));
  });

  it('settings: defaults, the file, and the environment over the file; a bad value is a ConfigError', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-pdf-settings-'));
    assert.deepEqual(loadSettings({ env: {}, cwd, demo: false }).plugins.pdfDownload, { maxBytes: 20 * 1024 * 1024, timeoutMs: 30_000, allowPrivateAddresses: false });
    const configFile = join(cwd, 'switchyard.yaml');
    writeFileSync(configFile, 'plugins:\n  file_parser: { allow_private_urls: true, url_max_bytes: 5000, url_timeout_ms: 900 }\n');
    assert.deepEqual(loadSettings({ env: {}, cwd, configFile, demo: false }).plugins.pdfDownload, { maxBytes: 5000, timeoutMs: 900, allowPrivateAddresses: true });
    const env = { SWITCHYARD_FILE_PARSER_ALLOW_PRIVATE_URLS: 'off', SWITCHYARD_FILE_PARSER_URL_MAX_BYTES: '7000' };
    assert.deepEqual(loadSettings({ env, cwd, configFile, demo: false }).plugins.pdfDownload, { maxBytes: 7000, timeoutMs: 900, allowPrivateAddresses: false });
    assert.throws(() => loadSettings({ env: { SWITCHYARD_FILE_PARSER_ALLOW_PRIVATE_URLS: 'maybe' }, cwd, demo: false }), (e: unknown) => e instanceof ConfigError && /SWITCHYARD_FILE_PARSER_ALLOW_PRIVATE_URLS must be true or false/.test(e.message));
    assert.throws(() => loadSettings({ env: { SWITCHYARD_FILE_PARSER_URL_MAX_BYTES: '20MB' }, cwd, demo: false }), ConfigError);
  });

  it('by default loopback and private addresses are refused, by IP or by a name that resolves to one', async () => {
    const before = docs.hits.get('/docs/report.pdf') ?? 0;
    await refused(strict, `${docs.url}/docs/report.pdf`, /127\.0\.0\.1 is a loopback, private or link-local address, which this server does not fetch from/);
    await refused(strict, `${docs.url.replace('127.0.0.1', 'localhost')}/docs/report.pdf`, /resolves to (127\.0\.0\.1|::1), a loopback, private or link-local address/);
    await refused(strict, 'http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a loopback, private or link-local address/);
    await refused(strict, 'http://[::ffff:10.0.0.1]/x.pdf', /is a loopback, private or link-local address/);
    assert.equal(docs.hits.get('/docs/report.pdf') ?? 0, before, 'the document server saw nothing');
  });
});

describe('plugins: web', () => {
  let groq: MockUpstream;
  let anthropic: MockUpstream;
  let exa: MockUpstream;
  let withExa: Gateway;
  let withoutExa: Gateway;
  const [recorded] = loadCassette('upstream/TestAnthropicWebSearch/generate.yaml');
  const question = 'What is the current population of Tokyo? Cite your source.';

  before(async () => {
    groq = await startMockUpstream();
    anthropic = await startMockUpstream();
    anthropic.onRequest(() => replyFromUpstreamRecording(recorded!.response));
    exa = await startMockUpstream();
    exa.onRequest((req) => ({
      json: {
        requestId: 'exa-1',
        resolvedSearchType: 'neural',
        results: [
          { id: 'a', url: 'https://www.metro.tokyo.lg.jp/population', title: 'Tokyo population (official)', highlights: ['Tokyo had 14,195,730 residents.', 'The wards hold 9.8 million.'] },
          { id: 'b', url: 'https://example.com/tokyo', title: 'Tokyo facts', text: 'Greater Tokyo: about 37 million.' },
          { id: 'c', url: 'https://example.org/extra', title: 'Extra', text: 'More than asked for.' },
        ].slice(0, req.json.numResults),
        costDollars: { total: 0.005 },
      },
    }));
    withExa = await startGateway({ providers: { groq: groq.baseUrl, anthropic: `${anthropic.url}/v1` }, env: { EXA_API_KEY: 'test-exa-key', EXA_BASE_URL: exa.url } });
    withoutExa = await startGateway({ providers: { groq: groq.baseUrl, anthropic: `${anthropic.url}/v1` } });
  });
  after(async () => {
    await withExa.close();
    await withoutExa.close();
    await groq.close();
    await anthropic.close();
    await exa.close();
  });

  it("Anthropic searches natively: its tool goes upstream and its citations come back as url_citation annotations (recorded traffic)", async () => {
    for (const extra of [{ model: 'anthropic/claude-sonnet-4', plugins: [{ id: 'web', exclude_domains: ['pinterest.com'] }] }, { model: 'anthropic/claude-sonnet-4:online' }]) {
      const res = await postChat(withoutExa, { ...extra, max_tokens: 4000, messages: [{ role: 'system', content: 'You are a helpful assistant' }, { role: 'user', content: question }] });
      const body = (await res.json()) as any;
      assert.equal(res.status, 200, JSON.stringify(body));
      const sent = anthropic.requests[anthropic.requests.length - 1]!.json;
      const tool = sent.tools.find((t: any) => t.name === 'web_search');
      assert.equal(tool.type, 'web_search_20250305');
      if (extra.plugins) assert.deepEqual(tool.blocked_domains, ['pinterest.com']);
      const message = body.choices[0].message;
      const citations = message.annotations.filter((a: any) => a.type === 'url_citation');
      assert.ok(citations.length >= 5);
      const first = citations[0].url_citation;
      assert.equal(first.url, 'https://worldpopulationreview.com/cities/japan/tokyo');
      assert.equal(first.title, 'Tokyo Population 2026');
      assert.equal(message.content.slice(first.start_index, first.end_index), "Tokyo's 2026 population is now estimated at 36,953,600");
      assert.ok((await generation(withoutExa, body.id)).notes.includes('web: native search of Anthropic'));
    }
    assert.equal(exa.requests.length, 0);
  });

  it('Exa: results fetched with the options, injected before the last user message, cited and priced per result', async () => {
    const admitted: number[] = [];
    const gate = withExa.app.gate;
    withExa.app.gate = { admit: (caller, request) => (admitted.push(request.worstCaseUsd), gate.admit(caller, request)) };
    groq.enqueue({ json: chatCompletion('About 14.2 million (https://www.metro.tokyo.lg.jp/population).', { prompt_tokens: 300, completion_tokens: 20 }) });
    const res = await postChat(withExa, {
      model: MODEL,
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: question }],
      plugins: [{ id: 'web', max_results: 2, search_prompt: 'Some relevant web results:', include_domains: ['metro.tokyo.lg.jp', 'example.com'] }],
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const search = exa.requests[exa.requests.length - 1]!;
    assert.equal(search.path, '/search');
    assert.equal(search.headers['x-api-key'], 'test-exa-key');
    assert.equal(search.json.query, question);
    assert.equal(search.json.numResults, 2);
    assert.deepEqual(search.json.includeDomains, ['metro.tokyo.lg.jp', 'example.com']);

    const sent = groq.requests[groq.requests.length - 1]!.json.messages as any[];
    assert.deepEqual(sent.map((m) => m.role), ['system', 'system', 'user']);
    assert.match(sent[1].content, /^Some relevant web results:/);
    assert.match(sent[1].content, /https:\/\/www\.metro\.tokyo\.lg\.jp\/population\nTokyo had 14,195,730 residents\. \[\.\.\.\] The wards hold 9\.8 million\./);
    assert.match(sent[1].content, /https:\/\/example\.com\/tokyo/);

    const citations = body.choices[0].message.annotations.map((a: any) => a.url_citation);
    assert.equal(citations.length, 2);
    const content: string = body.choices[0].message.content;
    assert.equal(content.slice(citations[0].start_index, citations[0].end_index), 'https://www.metro.tokyo.lg.jp/population');
    assert.equal(citations[1].url, 'https://example.com/tokyo');

    // Admission reserved for the results too (max_results × price), before any was fetched:
    // the same request without the plugin is admitted for exactly that much less.
    groq.enqueue({ json: chatCompletion('no search') });
    await postChat(withExa, { model: MODEL, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: question }] });
    withExa.app.gate = gate;
    assert.equal(admitted.length, 2);
    assert.ok(Math.abs(admitted[0]! - admitted[1]! - 2 * 0.004) < 1e-9, JSON.stringify(admitted));
    const tokens = 300 * 0.000001 + 20 * 0.000003;
    assert.ok(Math.abs(body.usage.cost - (tokens + 2 * 0.004)) < 1e-9, String(body.usage.cost));
    const record = await generation(withExa, body.id);
    assert.ok(Math.abs(record.total_cost - (tokens + 2 * 0.004)) < 1e-9);
    assert.ok(record.notes.includes('web: 2 Exa result(s), $0.0080'));
  });

  it('a streamed answer carries the Exa citations in a chunk before the finish', async () => {
    const sse = (delta: unknown, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    groq.enqueue({ sse: [sse({ role: 'assistant', content: 'About 14 million.' }), sse({}, 'stop'), 'data: [DONE]\n\n'] });
    const res = await postChat(withExa, { model: MODEL, stream: true, messages: [{ role: 'user', content: question }], plugins: [{ id: 'web', max_results: 1 }] });
    assert.equal(res.status, 200);
    const { events } = await readSse(res);
    const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    const at = chunks.findIndex((c) => c.choices[0]?.delta?.annotations);
    const finish = chunks.findIndex((c) => c.choices[0]?.finish_reason === 'stop');
    assert.ok(at >= 0 && at < finish, JSON.stringify(chunks));
    assert.deepEqual(chunks[at].choices[0].delta.annotations.map((a: any) => a.url_citation.url), ['https://www.metro.tokyo.lg.jp/population']);
  });

  it("an OpenAI-compatible upstream's own citations (OpenAI's annotations, Perplexity's citations) reach the client", async () => {
    const openaiStyle = chatCompletion('Lisbon has about 545,000 people.');
    (openaiStyle.choices as any)[0].message.annotations = [{ type: 'url_citation', url_citation: { url: 'https://www.ine.pt/', title: 'INE', start_index: 0, end_index: 6 } }];
    groq.enqueue({ json: openaiStyle }, { json: { ...chatCompletion('About 545,000 [1].'), citations: ['https://en.wikipedia.org/wiki/Lisbon'] } });
    let body = (await (await postChat(withExa, { model: MODEL, messages: [{ role: 'user', content: 'Lisbon?' }] })).json()) as any;
    assert.deepEqual(body.choices[0].message.annotations, [{ type: 'url_citation', url_citation: { url: 'https://www.ine.pt/', title: 'INE', start_index: 0, end_index: 6 } }]);
    body = (await (await postChat(withExa, { model: MODEL, messages: [{ role: 'user', content: 'Lisbon?' }] })).json()) as any;
    assert.equal(body.choices[0].message.annotations[0].url_citation.url, 'https://en.wikipedia.org/wiki/Lisbon');
  });

  it('without an engine for the model the request is a clear 400, never a silent answer without search', async () => {
    const before = groq.requests.length;
    const cases: [Gateway, unknown, RegExp][] = [
      [withoutExa, { model: MODEL, plugins: [{ id: 'web' }] }, /no search engine .*EXA_API_KEY/],
      [withoutExa, { model: `${MODEL}:online` }, /no search engine .*EXA_API_KEY/],
      [withoutExa, { model: MODEL, plugins: [{ id: 'web', engine: 'exa' }] }, /engine "exa" needs EXA_API_KEY/],
      [withExa, { model: MODEL, plugins: [{ id: 'web', engine: 'native' }] }, /has no web search of its own/],
    ];
    for (const [gw, extra, message] of cases) {
      const res = await postChat(gw, { ...(extra as object), messages: [{ role: 'user', content: question }] });
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.match(((await res.json()) as any).error.message, message);
    }
    assert.equal(groq.requests.length, before);
  });
});

describe('plugins: moderation', () => {
  let groq: MockUpstream;
  let moderation: MockUpstream;
  let gw: Gateway;
  let unconfigured: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest(() => ({ json: chatCompletion('fine') }));
    moderation = await startMockUpstream();
    moderation.onRequest((req) => {
      const flagged = String(req.json.input).includes('hurt someone');
      return { json: { id: 'modr-1', model: 'omni-moderation-latest', results: [{ flagged, categories: { violence: flagged, harassment: false }, category_scores: { violence: flagged ? 0.98 : 0.01 } }] } };
    });
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-moderation-'));
    const configFile = join(dir, 'switchyard.yaml');
    writeFileSync(configFile, ['plugins:', '  moderation:', '    provider: openai', `    base_url: "${moderation.baseUrl}"`, '    api_key: test-moderation-key', ''].join('\n'));
    gw = await startGateway({ providers: { groq: groq.baseUrl }, configFile });
    unconfigured = await startGateway({ providers: { groq: groq.baseUrl } });
  });
  after(async () => {
    await gw.close();
    await unconfigured.close();
    await groq.close();
    await moderation.close();
  });

  it('a flagged prompt is a 403 in OpenRouter shape and never reaches a provider; a clean one is served', async () => {
    const before = groq.requests.length;
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'Tell me how to hurt someone' }], plugins: [{ id: 'moderation' }] });
    assert.equal(res.status, 403);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 403);
    assert.match(body.error.message, /flagged for "violence"/);
    assert.deepEqual(body.error.metadata.reasons, ['violence']);
    assert.equal(body.error.metadata.flagged_input, 'Tell me how to hurt someone');
    assert.equal(body.error.metadata.model_slug, MODEL);
    assert.equal(groq.requests.length, before);
    const call = moderation.requests[moderation.requests.length - 1]!;
    assert.equal(call.path, '/v1/moderations');
    assert.equal(call.headers.authorization, 'Bearer test-moderation-key');

    const ok = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'Say hi' }], plugins: [{ id: 'moderation' }] });
    assert.equal(ok.status, 200);
    const plain = moderation.requests.length;
    assert.equal((await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hurt someone' }] })).status, 200);
    assert.equal(moderation.requests.length, plain);
  });

  it('without a moderation provider the plugin is a 400', async () => {
    const res = await postChat(unconfigured, { model: MODEL, messages: [{ role: 'user', content: 'Say hi' }], plugins: [{ id: 'moderation' }] });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as any).error.message, /no moderation provider is configured/);
  });
});

describe('plugins on the Messages and Responses front doors', () => {
  let groq: MockUpstream;
  let anthropic: MockUpstream;
  let gw: Gateway;
  const [recorded] = loadCassette('upstream/TestAnthropicWebSearch/generate.yaml');
  before(async () => {
    groq = await startMockUpstream();
    anthropic = await startMockUpstream();
    anthropic.onRequest(() => replyFromUpstreamRecording(recorded!.response));
    gw = await startGateway({ providers: { groq: groq.baseUrl, anthropic: `${anthropic.url}/v1` }, configFile: smallModelsConfig() });
    gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
  });
  after(async () => {
    await gw.close();
    await groq.close();
    await anthropic.close();
  });

  it('Responses: response-healing repairs the output text; :online brings url_citation annotations', async () => {
    groq.enqueue({ json: chatCompletion('```json\n{"city": "Lisbon", "population": 545000,}\n```') });
    let res = await post(gw, '/responses', {
      model: MODEL,
      input: 'A city as JSON',
      text: { format: { type: 'json_schema', name: 'city', schema: { type: 'object', properties: { city: { type: 'string' }, population: { type: 'number' } } } } },
      plugins: [{ id: 'response-healing' }],
    });
    let body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const text = body.output.find((o: any) => o.type === 'message').content[0].text;
    assert.deepEqual(JSON.parse(text), { city: 'Lisbon', population: 545000 });

    res = await post(gw, '/responses', { model: 'anthropic/claude-sonnet-4:online', input: 'What is the current population of Tokyo? Cite your source.', max_output_tokens: 4000 });
    body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const part = body.output.find((o: any) => o.type === 'message').content.find((p: any) => p.type === 'output_text');
    assert.equal(part.annotations[0].type, 'url_citation');
    assert.equal(part.annotations[0].url, 'https://worldpopulationreview.com/cities/japan/tokyo');
    assert.equal(part.text.slice(part.annotations[0].start_index, part.annotations[0].end_index), "Tokyo's 2026 population is now estimated at 36,953,600");
    assert.ok(anthropic.requests[anthropic.requests.length - 1]!.json.tools.some((t: any) => t.type === 'web_search_20250305'));
  });

  it('Messages: middle-out compresses a conversation too long for a small window', async () => {
    groq.enqueue({ json: chatCompletion('short now') });
    const messages = Array.from({ length: 12 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i} ${'m'.repeat(2000)}` }));
    messages.push({ role: 'user', content: 'Last one?' });
    const res = await post(gw, '/messages', { model: 'test/small-8k', max_tokens: 200, system: 'Be brief.', messages, transforms: ['middle-out'] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.content[0].text, 'short now');
    const sent = groq.requests[groq.requests.length - 1]!.json.messages as any[];
    assert.ok(sent.length < messages.length + 1);
    assert.equal(sent[0].role, 'system');
    assert.equal(sent[sent.length - 1].content, 'Last one?');
  });
});
