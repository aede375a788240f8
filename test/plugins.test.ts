/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from the gateway */
/**
 * OpenRouter's plugins and transforms, end to end on loopback: the gateway with mock providers
 * (and mock Exa, Mistral OCR and moderation services) as real HTTP servers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, rngPicking, startGateway, type Gateway } from './support/gateway.js';

const MODEL = 'moonshotai/kimi-k2-0905';

async function generation(gw: Gateway, id: string): Promise<any> {
  await gw.app.store.flush();
  return (await (await fetch(`${gw.baseUrl}/generation?id=${id}`)).json()).data;
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
