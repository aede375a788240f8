/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * The web plugin's native search on the providers that search only somewhere else than chat
 * completions, or always: OpenAI (its Responses API's web_search), xAI (its Responses API's
 * web_search and x_search) and Perplexity (Sonar searches on every request). Mock providers on
 * loopback check the route each request takes; OpenAI answers with its recorded web search
 * traffic (upstream/TestOpenAIWebSearch). A mock Exa is configured throughout and must never be
 * asked: where a provider searches itself, the plugin does not buy results elsewhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chatCompletion, startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { postChat, readSse, startGateway, type Gateway } from './support/gateway.js';
import { replay, responseJson, sseEvents, upstreamRecording } from './support/recorded-wire.js';

const QUESTION = 'What is the current population of Tokyo? Cite your source.';
const SYSTEM = 'You are a helpful assistant';
const [GENERATE] = upstreamRecording('TestOpenAIWebSearch/generate', 1);
const [STREAM] = upstreamRecording('TestOpenAIWebSearch/stream', 1);

/** The answer text of the recorded (non-streamed) Responses body. */
const recordedText = (): string =>
  responseJson(GENERATE!)
    .output.filter((o: any) => o.type === 'message')
    .flatMap((o: any) => o.content.map((c: any) => c.text))
    .join('');

/** Only the Responses route, with the provider's key, is answered; anything else is a 404 the test would see. */
function responsesOnly(key: string, reply: () => MockReply): (r: ReceivedRequest) => MockReply {
  return (r) => {
    if (r.headers.authorization !== `Bearer ${key}`) return { status: 401, json: { error: { message: 'bad key' } } };
    if (r.method !== 'POST' || r.path !== '/v1/responses') return { status: 404, json: { error: { message: `no route ${r.path}` } } };
    return reply();
  };
}

/** The catalog's prices of a model's first endpoint, as GET /models shows them (strings, USD). */
async function pricing(gw: Gateway, model: string): Promise<Record<string, string>> {
  const list = ((await (await fetch(`${gw.baseUrl}/models`)).json()) as any).data as any[];
  return list.find((m) => m.id === model).pricing;
}

async function generation(gw: Gateway, id: string): Promise<any> {
  await gw.app.store.flush();
  return ((await (await fetch(`${gw.baseUrl}/generation?id=${id}`)).json()) as any).data;
}

describe('web plugin: native search on OpenAI, xAI and Perplexity', () => {
  let openai: MockUpstream;
  let xai: MockUpstream;
  let perplexity: MockUpstream;
  let exa: MockUpstream;
  let gw: Gateway;

  before(async () => {
    [openai, xai, perplexity, exa] = await Promise.all([startMockUpstream(), startMockUpstream(), startMockUpstream(), startMockUpstream()]);
    exa.onRequest(() => ({ json: { results: [{ url: 'https://exa.example/should-not-be-used', title: 'Exa' }] } }));
    gw = await startGateway({
      providers: { openai: openai.baseUrl, xai: xai.baseUrl, perplexity: perplexity.url },
      env: { EXA_API_KEY: 'test-exa-key', EXA_BASE_URL: exa.url },
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([openai, xai, perplexity, exa].map((m) => m.close()));
  });

  it("OpenAI: :online sends the chat request to the Responses API with OpenAI's web_search tool (recorded traffic)", async () => {
    openai.onRequest(responsesOnly('test-key-openai', () => replay(GENERATE!)));
    const res = await postChat(gw, { model: 'openai/gpt-4.1:online', max_tokens: 4000, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }] });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const sent = openai.requests.at(-1)!;
    assert.equal(sent.path, '/v1/responses');
    assert.deepEqual(sent.json.tools, [{ type: 'web_search' }]);
    assert.equal(body.choices[0].message.content, recordedText());
    assert.equal(body.usage.prompt_tokens, responseJson(GENERATE!).usage.input_tokens);
    const record = await generation(gw, body.id);
    assert.ok(record.notes.includes('web: native search of OpenAI'), JSON.stringify(record.notes));
    assert.equal(exa.requests.length, 0);
    // One web_search_call in the answer: one search billed at the catalog's web_search price, on top of the tokens.
    assert.deepEqual(body.usage.server_tool_use_details, { web_search_requests: 1 });
    const price = await pricing(gw, 'openai/gpt-4.1');
    assert.equal(price.web_search, '0.01');
    const tokens = body.usage.prompt_tokens * Number(price.prompt) + body.usage.completion_tokens * Number(price.completion);
    assert.ok(Math.abs(body.usage.cost - (tokens + 0.01)) < 1e-9, `${body.usage.cost} vs ${tokens} + 0.01`);
    assert.ok(Math.abs(record.total_cost - body.usage.cost) < 1e-9);
  });

  it('OpenAI: include_domains becomes the tool\'s allow-list; streamed answers come through the Responses stream', async () => {
    openai.onRequest(responsesOnly('test-key-openai', () => replay(STREAM!)));
    const res = await postChat(gw, {
      model: 'openai/gpt-4.1',
      stream: true,
      max_tokens: 4000,
      messages: [{ role: 'user', content: QUESTION }],
      plugins: [{ id: 'web', engine: 'native', include_domains: ['metro.tokyo.lg.jp', 'stat.go.jp'] }],
    });
    assert.equal(res.status, 200);
    const { events } = await readSse(res);
    const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    const recorded = sseEvents(STREAM!.response.body)
      .filter((e) => e.json?.type === 'response.output_text.delta')
      .map((e) => e.json.delta)
      .join('');
    assert.equal(text, recorded);
    assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop').length, 1);
    const usage = chunks.find((c) => c.usage)!.usage;
    assert.deepEqual(usage.server_tool_use_details, { web_search_requests: 1 });
    const sent = openai.requests.at(-1)!.json;
    assert.deepEqual(sent.tools, [{ type: 'web_search', filters: { allowed_domains: ['metro.tokyo.lg.jp', 'stat.go.jp'] } }]);
    assert.equal(sent.stream, true);
    assert.equal(exa.requests.length, 0);
  });

  it('OpenAI: without the plugin a chat request stays on chat completions; engine "exa" uses Exa there', async () => {
    openai.onRequest((r) => (r.path === '/v1/chat/completions' ? { json: chatCompletion('plain') } : { status: 404, json: { error: { message: `no route ${r.path}` } } }));
    let res = await postChat(gw, { model: 'openai/gpt-4.1', messages: [{ role: 'user', content: QUESTION }] });
    assert.equal(res.status, 200);
    assert.equal(openai.requests.at(-1)!.path, '/v1/chat/completions');
    res = await postChat(gw, { model: 'openai/gpt-4.1', messages: [{ role: 'user', content: QUESTION }], plugins: [{ id: 'web', engine: 'exa', max_results: 1 }] });
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    const sent = openai.requests.at(-1)!;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.equal(sent.json.tools, undefined);
    assert.match(JSON.stringify(sent.json.messages), /exa\.example\/should-not-be-used/);
    assert.equal(exa.requests.length, 1);
    exa.requests.length = 0;
  });

  it("a Messages client's answer from OpenAI's search reports the search in usage.server_tool_use, as Anthropic does", async () => {
    openai.onRequest(responsesOnly('test-key-openai', () => replay(GENERATE!)));
    const res = await fetch(`${gw.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'openai/gpt-4.1', max_tokens: 4000, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] }),
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(body.usage.server_tool_use, { web_search_requests: 1 });
  });

  it('xAI: the plugin turns on web search and X search on its Responses API, with domain and X filters', async () => {
    // xAI's Responses API answers in OpenAI's Responses wire: the recorded OpenAI answer stands in for it.
    xai.onRequest(responsesOnly('test-key-xai', () => replay(GENERATE!)));
    const res = await postChat(gw, {
      model: 'x-ai/grok-4-fast',
      messages: [{ role: 'user', content: QUESTION }],
      plugins: [{ id: 'web', exclude_domains: ['pinterest.com'] }],
      x_search_filter: { allowed_x_handles: ['tokyo_gov'], from_date: '2026-01-01' },
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const sent = xai.requests.at(-1)!.json;
    assert.equal(sent.model, 'grok-4-fast');
    assert.deepEqual(sent.tools, [
      { type: 'web_search', excluded_domains: ['pinterest.com'] },
      { type: 'x_search', allowed_x_handles: ['tokyo_gov'], from_date: '2026-01-01' },
    ]);
    assert.equal(body.choices[0].message.content, recordedText());
    assert.ok((await generation(gw, body.id)).notes.includes('web: native search of xAI'));
    assert.equal(exa.requests.length, 0);
  });

  it("xAI: more domains than its web search takes is a clear 400, not a silently narrower search", async () => {
    const before = xai.requests.length;
    const res = await postChat(gw, { model: 'x-ai/grok-4-fast:online', messages: [{ role: 'user', content: QUESTION }], plugins: [{ id: 'web', include_domains: ['a.com', 'b.com', 'c.com', 'd.com', 'e.com', 'f.com'] }] });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as any).error.message, /at most 5 allowed domains \(6 given\)/);
    assert.equal(xai.requests.length, before);
  });

  it('Perplexity: searches natively, filters become search_domain_filter, search_results become citations', async () => {
    const answer = {
      ...chatCompletion('Tokyo has about 14 million residents [1].', { prompt_tokens: 12, completion_tokens: 9 }),
      citations: ['https://www.metro.tokyo.lg.jp/english/about/population'],
      search_results: [{ title: 'Tokyo population', url: 'https://www.metro.tokyo.lg.jp/english/about/population', date: '2026-11-01' }],
    };
    perplexity.onRequest((r) => (r.path === '/chat/completions' && r.headers.authorization === 'Bearer test-key-perplexity' ? { json: answer } : { status: 404, json: { error: { message: `no route ${r.path}` } } }));
    for (const [plugin, filter] of [
      [{ id: 'web', include_domains: ['metro.tokyo.lg.jp'] }, ['metro.tokyo.lg.jp']],
      [{ id: 'web', exclude_domains: ['pinterest.com', 'reddit.com'] }, ['-pinterest.com', '-reddit.com']],
      [null, undefined],
    ] as const) {
      const res = await postChat(gw, { model: 'perplexity/sonar', messages: [{ role: 'user', content: QUESTION }], ...(plugin ? { plugins: [plugin] } : {}) });
      const body = (await res.json()) as any;
      assert.equal(res.status, 200, JSON.stringify(body));
      const sent = perplexity.requests.at(-1)!.json;
      assert.equal(sent.model, 'sonar');
      assert.deepEqual(sent.search_domain_filter, filter);
      assert.equal(sent.tools, undefined);
      assert.deepEqual(
        body.choices[0].message.annotations.map((a: any) => [a.type, a.url_citation.url, a.url_citation.title]),
        [['url_citation', 'https://www.metro.tokyo.lg.jp/english/about/population', 'Tokyo population']],
      );
      const record = await generation(gw, body.id);
      assert.equal(record.notes.includes('web: native search of Perplexity'), plugin !== null);
      // The request price ($0.005) covers the search: nothing is added for results.
      assert.ok(Math.abs(body.usage.cost - (12 * 0.000001 + 9 * 0.000001 + 0.005)) < 1e-9, String(body.usage.cost));
    }
    assert.equal(exa.requests.length, 0);
  });
});

describe("native search is billed per search: Anthropic's count from its usage (recorded traffic)", () => {
  let anthropic: MockUpstream;
  let gw: Gateway;
  before(async () => {
    anthropic = await startMockUpstream();
    gw = await startGateway({ providers: { anthropic: `${anthropic.url}/v1` } });
  });
  after(async () => {
    await gw.close();
    await anthropic.close();
  });

  for (const stream of [false, true]) {
    it(stream ? 'streamed: message_delta usage' : 'not streamed: the message usage', async () => {
      const [recorded] = upstreamRecording(`TestAnthropicWebSearch/${stream ? 'stream' : 'generate'}`);
      anthropic.onRequest(() => replay(recorded!));
      const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4:online', stream, max_tokens: 4000, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }] });
      assert.equal(res.status, 200);
      const body = stream ? (await readSse(res)).events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e)).find((c) => c.usage) : ((await res.json()) as any);
      assert.deepEqual(body.usage.server_tool_use_details, { web_search_requests: 1 });
      const price = await pricing(gw, 'anthropic/claude-sonnet-4');
      assert.equal(price.web_search, '0.01');
      const tokens = body.usage.prompt_tokens * Number(price.prompt) + body.usage.completion_tokens * Number(price.completion);
      assert.ok(Math.abs(body.usage.cost - (tokens + 0.01)) < 1e-9, `${body.usage.cost} vs ${tokens} + 0.01`);
      assert.ok(Math.abs((await generation(gw, body.id)).total_cost - body.usage.cost) < 1e-9);
    });
  }
});

describe("OpenRouter's openrouter:web_search server tool", () => {
  let anthropic: MockUpstream;
  let groq: MockUpstream;
  let exa: MockUpstream;
  let withExa: Gateway;
  let withoutExa: Gateway;
  const [recorded] = upstreamRecording('TestAnthropicWebSearch/generate', 1);

  before(async () => {
    [anthropic, groq, exa] = await Promise.all([startMockUpstream(), startMockUpstream(), startMockUpstream()]);
    anthropic.onRequest(() => replay(recorded!));
    groq.onRequest(() => ({ json: chatCompletion('About 14 million (https://www.metro.tokyo.lg.jp/population).', { prompt_tokens: 100, completion_tokens: 10 }) }));
    exa.onRequest((req) => ({
      json: {
        results: [
          { url: 'https://www.metro.tokyo.lg.jp/population', title: 'Tokyo population (official)', highlights: ['Tokyo had 14,195,730 residents.'] },
          { url: 'https://example.com/tokyo', title: 'Tokyo facts', text: 'Greater Tokyo: about 37 million.' },
        ].slice(0, req.json.numResults),
      },
    }));
    const providers = { anthropic: `${anthropic.url}/v1`, groq: groq.baseUrl };
    withExa = await startGateway({ providers, env: { EXA_API_KEY: 'test-exa-key', EXA_BASE_URL: exa.url } });
    withoutExa = await startGateway({ providers });
  });
  after(async () => {
    await Promise.all([withExa.close(), withoutExa.close()]);
    await Promise.all([anthropic, groq, exa].map((m) => m.close()));
  });

  it("a provider with search of its own gets its own tool, with the tool's domain filter: the model decides when to search", async () => {
    const res = await postChat(withExa, {
      model: 'anthropic/claude-sonnet-4',
      max_tokens: 4000,
      messages: [{ role: 'user', content: QUESTION }],
      tools: [{ type: 'openrouter:web_search', parameters: { excluded_domains: ['pinterest.com'], max_results: 3 } }],
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const tool = anthropic.requests.at(-1)!.json.tools.find((t: any) => t.name === 'web_search');
    assert.equal(tool.type, 'web_search_20250305');
    assert.deepEqual(tool.blocked_domains, ['pinterest.com']);
    assert.ok(body.choices[0].message.annotations.some((a: any) => a.url_citation.url === 'https://worldpopulationreview.com/cities/japan/tokyo'));
    assert.equal(exa.requests.length, 0);
  });

  it('elsewhere Switchyard searches with Exa (the tool\'s options), injects the results and cites them; the tool is not sent', async () => {
    for (const tool of [{ type: 'openrouter:web_search', parameters: { max_results: 1, allowed_domains: ['metro.tokyo.lg.jp'] } }, { type: 'web_search_2025_08_26', max_results: 1, allowed_domains: ['metro.tokyo.lg.jp'] }]) {
      const res = await postChat(withExa, { model: 'moonshotai/kimi-k2-0905', messages: [{ role: 'user', content: QUESTION }], tools: [tool], tool_choice: 'auto' });
      const body = (await res.json()) as any;
      assert.equal(res.status, 200, JSON.stringify(body));
      const search = exa.requests.at(-1)!.json;
      assert.equal(search.numResults, 1);
      assert.deepEqual(search.includeDomains, ['metro.tokyo.lg.jp']);
      const sent = groq.requests.at(-1)!.json;
      assert.equal(sent.tools, undefined);
      assert.equal(sent.tool_choice, undefined);
      assert.match(JSON.stringify(sent.messages), /Tokyo had 14,195,730 residents/);
      assert.deepEqual(body.choices[0].message.annotations.map((a: any) => a.url_citation.url), ['https://www.metro.tokyo.lg.jp/population']);
      assert.ok(Math.abs(body.usage.cost - (100 * 0.000001 + 10 * 0.000003 + 0.004)) < 1e-9, String(body.usage.cost));
    }
    exa.requests.length = 0;
  });

  it('engine "exa" searches with Exa even where the provider could search itself', async () => {
    const before = anthropic.requests.length;
    anthropic.enqueue({ json: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-20250514', content: [{ type: 'text', text: 'About 14 million.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 50, output_tokens: 5 } } });
    const res = await postChat(withExa, { model: 'anthropic/claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'openrouter:web_search', parameters: { engine: 'exa', max_results: 2 } }] });
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    const sent = anthropic.requests.at(-1)!.json;
    assert.equal(anthropic.requests.length, before + 1);
    assert.equal(sent.tools, undefined);
    assert.match(JSON.stringify(sent.system ?? sent.messages), /Tokyo had 14,195,730 residents/);
    assert.equal(exa.requests.length, 1);
    exa.requests.length = 0;
  });

  it('no engine for the endpoint, an unknown engine, an unsupported server tool or a malformed function tool: clear 400s', async () => {
    const before = groq.requests.length;
    const cases: [Gateway, unknown, RegExp][] = [
      [withoutExa, [{ type: 'openrouter:web_search' }], /Groq has no web search of its own and EXA_API_KEY is not set/],
      [withExa, [{ type: 'openrouter:web_search', parameters: { engine: 'native' } }], /engine "native"\): Groq has no web search of its own/],
      [withExa, [{ type: 'openrouter:web_search', parameters: { engine: 'firecrawl' } }], /tools\[0\] \(openrouter:web_search\): engine "firecrawl" is not supported/],
      [withExa, [{ type: 'openrouter:web_search', parameters: { allowed_domains: ['a.com'], excluded_domains: ['b.com'] } }], /cannot be used together/],
      [withExa, [{ type: 'openrouter:datetime' }], /type "openrouter:datetime" is not supported/],
      [withExa, [{ type: 'function' }], /tools\[0\]\.function is required/],
    ];
    for (const [gw, tools, message] of cases) {
      const res = await postChat(gw, { model: 'moonshotai/kimi-k2-0905', messages: [{ role: 'user', content: QUESTION }], tools });
      assert.equal(res.status, 400, JSON.stringify(tools));
      assert.match(((await res.json()) as any).error.message, message);
    }
    assert.equal(groq.requests.length, before);
  });

  it("a coding agent's own web search tool is left out where the provider has none, never searched with Exa on every turn", async () => {
    for (const gw of [withExa, withoutExa]) {
      // Claude Code's server tool on the Messages wire; Codex offers `web_search` on every Responses request.
      const messages = await fetch(`${gw.baseUrl}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'moonshotai/kimi-k2-0905', max_tokens: 100, messages: [{ role: 'user', content: QUESTION }], tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 8 }] }),
      });
      assert.equal(messages.status, 200, await messages.clone().text());
      assert.equal(messages.headers.get('x-switchyard-dropped-tools'), 'web_search');
      const responses = await fetch(`${gw.baseUrl}/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'moonshotai/kimi-k2-0905', input: QUESTION, tools: [{ type: 'web_search', external_web_access: false }] }),
      });
      assert.equal(responses.status, 200, await responses.clone().text());
      assert.equal(responses.headers.get('x-switchyard-dropped-tools'), 'web_search');
    }
    assert.equal(exa.requests.length, 0);
  });

  it('the Responses wire takes openrouter:web_search too: Exa where the provider has no search', async () => {
    const res = await fetch(`${withExa.baseUrl}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'moonshotai/kimi-k2-0905', input: QUESTION, tools: [{ type: 'openrouter:web_search', parameters: { max_results: 1 } }] }),
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(exa.requests.length, 1);
    const text = body.output.find((o: any) => o.type === 'message').content[0];
    assert.deepEqual(text.annotations.map((a: any) => a.url), ['https://www.metro.tokyo.lg.jp/population']);
  });
});
