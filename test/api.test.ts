/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/** Request validation, auth, routing errors and the small read endpoints, over real HTTP. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, startGateway, type Gateway } from './support/gateway.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const ok = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  system_fingerprint: 'fp_1',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Olá!' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 20, completion_tokens: 3, total_tokens: 23, prompt_tokens_details: { cached_tokens: 5 } },
};

async function errorOf(res: Response): Promise<{ status: number; body: any }> {
  assert.equal(res.headers.get('content-type'), 'application/json');
  return { status: res.status, body: await res.json() };
}

describe('chat completions API contract', () => {
  let groq: MockUpstream;
  let gw: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest(() => ({ json: ok }));
    gw = await startGateway({ providers: { groq: groq.baseUrl } });
  });
  after(async () => {
    await gw.close();
    await groq.close();
  });

  const bad = async (body: unknown, status: number, message: RegExp) => {
    const { status: got, body: err } = await errorOf(await postChat(gw, body));
    assert.equal(got, status, JSON.stringify(err));
    assert.equal(err.error.code, status);
    assert.match(err.error.message, message);
  };

  it('rejects bodies that are not JSON objects', async () => {
    await bad('{not json', 400, /not valid JSON/);
    await bad('[1,2]', 400, /JSON object/);
    await bad('', 400, /empty/);
  });

  it('names the offending field', async () => {
    await bad({ model: MODEL }, 400, /messages is required/);
    await bad({ model: MODEL, messages: [] }, 400, /messages must NOT have fewer than 1 items/);
    await bad({ model: MODEL, messages: [{ role: 'robot', content: 'x' }] }, 400, /messages\[0\]/);
    await bad({ model: MODEL, messages: [{ role: 'user', content: 'x' }], temperature: 5 }, 400, /temperature must be <= 2/);
    await bad({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }, 400, /max_tokens must be >= 1/);
    await bad({ model: MODEL, messages: [{ role: 'user', content: 'x' }], stop: ['a', 'b', 'c', 'd', 'e'] }, 400, /stop/);
    await bad({ messages: [{ role: 'user', content: 'x' }] }, 400, /model is required/);
    await bad(
      { model: MODEL, messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'low', reasoning: { effort: 'high' } },
      400,
      /reasoning_effort and reasoning.effort disagree/,
    );
  });

  it('unknown model: 400 "<id> is not a valid model ID"', async () => {
    await bad({ model: 'acme/fake-1.0', messages: [{ role: 'user', content: 'x' }] }, 400, /^acme\/fake-1.0 is not a valid model ID$/);
  });

  it('filters that leave nothing: 404; model with no configured provider: 503 naming the keys to set', async () => {
    await bad({ model: MODEL, messages: [{ role: 'user', content: 'x' }], provider: { only: ['together'] } }, 404, /No endpoints found/);
    await bad({ model: MODEL, messages: [{ role: 'user', content: 'x' }], provider: { ignore: ['groq'] } }, 404, /No endpoints found/);
    await bad({ model: 'z-ai/glm-4.5', messages: [{ role: 'user', content: 'x' }] }, 503, /No provider is configured for z-ai\/glm-4.5: set one of .*Z_AI_API_KEY/);
  });

  it('accepts deprecated and unknown fields silently and forwards only what the provider understands', async () => {
    const res = await postChat(gw, {
      model: MODEL,
      messages: [{ role: 'system', content: 'Be brief', cache_control: { type: 'ephemeral' } }, { role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } }] }],
      usage: { include: true },
      stream_options: { include_usage: true },
      transforms: ['middle-out'],
      include_reasoning: false,
      some_future_field: 42,
      temperature: 0.2,
      seed: 7,
      user: 'u-1',
      max_completion_tokens: 100,
      max_tokens: 50,
    });
    assert.equal(res.status, 200);
    const sent = groq.requests.at(-1)!.json;
    assert.equal(sent.model, 'moonshotai/kimi-k2-instruct-0905');
    assert.equal(sent.temperature, 0.2);
    assert.equal(sent.seed, 7);
    assert.equal(sent.max_tokens, 100, 'max_completion_tokens wins');
    assert.match(sent.user, /^[0-9a-f]{32}$/, 'end-user id is hashed before it leaves');
    assert.notEqual(sent.user, 'u-1');
    for (const k of ['usage', 'transforms', 'include_reasoning', 'some_future_field', 'stream', 'stream_options', 'provider']) {
      assert.equal(k in sent, false, `${k} is not forwarded`);
    }
    assert.equal('cache_control' in sent.messages[0], false);
    assert.deepEqual(sent.messages[1].content, [{ type: 'text', text: 'Hi' }]);
  });

  it('non-streaming body has OpenRouter 2026 shape, usage and cost from catalog prices', async () => {
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'Oi' }] });
    assert.equal(res.status, 200);
    const body = (await res.json()) as any;
    assert.deepEqual(Object.keys(body), ['id', 'object', 'created', 'model', 'provider', 'system_fingerprint', 'choices', 'usage']);
    assert.equal(res.headers.get('x-generation-id'), body.id);
    assert.equal(body.provider, 'Groq');
    assert.equal(body.object, 'chat.completion');
    assert.deepEqual(body.choices[0], {
      index: 0,
      logprobs: null,
      finish_reason: 'stop',
      native_finish_reason: 'stop',
      message: { role: 'assistant', content: 'Olá!', refusal: null, reasoning: null },
    });
    // Groq kimi-k2: $1/M prompt, $3/M completion; cached tokens billed at the prompt price (no cache price listed).
    assert.deepEqual(body.usage, {
      prompt_tokens: 20,
      completion_tokens: 3,
      total_tokens: 23,
      cost: 0.000029,
      is_byok: false,
      prompt_tokens_details: { cached_tokens: 5, cache_write_tokens: 0, audio_tokens: 0, video_tokens: 0 },
      cost_details: { upstream_inference_cost: 0.000029, upstream_inference_prompt_cost: 0.00002, upstream_inference_completions_cost: 0.000009 },
      completion_tokens_details: { reasoning_tokens: 0, image_tokens: 0, audio_tokens: 0 },
    });
  });

  it('GET /generation returns the record in OpenRouter shape; 404 for unknown ids', async () => {
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'Oi' }], user: 'end-user-9' });
    const id = res.headers.get('x-generation-id')!;
    await res.arrayBuffer();
    const gen = (await (await fetch(`${gw.baseUrl}/generation?id=${id}`)).json()) as any;
    assert.equal(gen.data.id, id);
    assert.equal(gen.data.model, MODEL);
    assert.equal(gen.data.provider_name, 'Groq');
    assert.equal(gen.data.tokens_prompt, 20);
    assert.equal(gen.data.tokens_completion, 3);
    assert.equal(gen.data.total_cost, 0.000029);
    assert.equal(gen.data.streamed, false);
    assert.equal(gen.data.cancelled, false);
    assert.equal(gen.data.finish_reason, 'stop');
    assert.equal(gen.data.external_user, 'end-user-9');
    assert.equal(gen.data.upstream_id, 'chatcmpl-1');
    assert.match(gen.data.created_at, /^\d{4}-\d\d-\d\dT.*\+00:00$/);
    const missing = await errorOf(await fetch(`${gw.baseUrl}/generation?id=gen-0-nope`));
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, 'Generation not found');
  });

  it('records survive a restart of the store (written to SQLite)', async () => {
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'Oi' }] });
    const id = res.headers.get('x-generation-id')!;
    await res.arrayBuffer();
    await gw.app.store.flush();
    const { GenerationStore } = await import('../src/storage/generations.js');
    const { SqliteSql } = await import('../src/storage/sql.js');
    const sql = new SqliteSql(gw.app.settings.dataDir);
    const other = new GenerationStore(sql);
    try {
      assert.equal((await other.get(id))?.providerName, 'Groq');
    } finally {
      await other.close();
      await sql.close();
    }
  });

  it('serves /v1 as well as /api/v1, /health, /models; unknown paths 404 and wrong methods 405', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal((await fetch(`${gw.url}/health`)).status, 200);
    const models = (await (await fetch(`${gw.baseUrl}/models`)).json()) as any;
    const kimi = models.data.find((m: any) => m.id === MODEL);
    assert.ok(kimi.pricing.prompt && kimi.context_length > 0);
    assert.ok(kimi.endpoints_enabled.includes('groq'));
    assert.equal((await errorOf(await fetch(`${gw.baseUrl}/nope`))).status, 404);
    assert.equal((await errorOf(await fetch(`${gw.baseUrl}/chat/completions`))).status, 405);
  });

  it('rejects bodies over the size limit with 413', async () => {
    const big = 'x'.repeat(gw.app.settings.bodyLimitBytes + 10);
    const { status, body } = await errorOf(await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: big }] }));
    assert.equal(status, 413);
    assert.equal(body.error.code, 413);
  });
});

describe('auth', () => {
  let groq: MockUpstream;
  let gw: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest(() => ({ json: ok }));
    gw = await startGateway({ providers: { groq: groq.baseUrl }, apiKeys: ['sk-sy-test-one', 'sk-sy-test-two'] });
  });
  after(async () => {
    await gw.close();
    await groq.close();
  });
  const body = { model: MODEL, messages: [{ role: 'user', content: 'x' }] };

  it('401 without a key, with a malformed header, and with an unknown key', async () => {
    let r = await errorOf(await postChat(gw, body));
    assert.deepEqual([r.status, r.body], [401, { error: { message: 'No auth credentials found', code: 401 } }]);
    r = await errorOf(await postChat(gw, body, { authorization: 'Basic abc' }));
    assert.equal(r.status, 401);
    r = await errorOf(await postChat(gw, body, { authorization: 'Bearer sk-sy-wrong' }));
    assert.deepEqual([r.status, r.body.error.message], [401, 'User not found.']);
    assert.equal(groq.requests.length, 0, 'nothing reached the provider');
  });

  it('each configured key works; generation look-up needs a key too', async () => {
    for (const key of ['sk-sy-test-one', 'sk-sy-test-two']) {
      const res = await postChat(gw, body, { authorization: `Bearer ${key}` });
      assert.equal(res.status, 200);
      const id = res.headers.get('x-generation-id')!;
      await res.arrayBuffer();
      assert.equal((await fetch(`${gw.baseUrl}/generation?id=${id}`)).status, 401);
      assert.equal((await fetch(`${gw.baseUrl}/generation?id=${id}`, { headers: { authorization: `Bearer ${key}` } })).status, 200);
    }
  });

  it('the model list stays readable anonymously', async () => {
    assert.equal((await fetch(`${gw.baseUrl}/models`)).status, 200);
  });
});
