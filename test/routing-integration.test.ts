/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Routing over real loopback HTTP with several mock upstreams: Retry-After respected across
 * requests, sort: latency following measured latency, models[] fallback, explained decisions,
 * the catalog endpoints, and the openai SDK passing provider/models as extra body fields.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, rngPicking, startGateway, type Gateway } from './support/gateway.js';
import { HealthTracker } from '../src/routing/health.js';

const KIMI = 'moonshotai/kimi-k2-0905';

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const stream = (text: string) => [
  chunk({ role: 'assistant', content: text }),
  chunk({}, 'stop'),
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } })}\n\n`,
  'data: [DONE]\n\n',
];
const completion = (text: string) => chatCompletion(text);

describe('routing over real upstreams', () => {
  const mocks: Record<string, MockUpstream> = {};
  let gw: Gateway;
  before(async () => {
    for (const slug of ['groq', 'novita', 'deepinfra', 'z-ai']) mocks[slug] = await startMockUpstream();
    gw = await startGateway({ providers: Object.fromEntries(Object.entries(mocks).map(([k, m]) => [k, m.baseUrl])) });
  });
  after(async () => {
    await gw.close();
    for (const m of Object.values(mocks)) await m.close();
  });
  const fresh = () => {
    gw.app.health = new HealthTracker();
  };
  const counts = () => Object.fromEntries(Object.entries(mocks).map(([k, m]) => [k, m.requests.length]));

  it('a 429 with Retry-After sends the following requests elsewhere first, and the route is explained', async () => {
    fresh();
    gw.app.rng = rngPicking(gw.app, KIMI, 'groq');
    mocks.groq.enqueue({ status: 429, headers: { 'retry-after': '30' }, json: { error: { message: 'rate limited' } } });
    mocks.novita.onRequest(() => ({ json: completion('from novita') }));
    mocks.deepinfra.onRequest(() => ({ json: completion('from deepinfra') }));
    const res = await postChat(gw, { model: KIMI, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 200);
    const route = res.headers.get('x-switchyard-route')!;
    assert.match(route, /^groq=429, (novita|deepinfra)=serving$/);
    const id = res.headers.get('x-generation-id')!;
    await res.arrayBuffer();
    const gen = ((await (await fetch(`${gw.baseUrl}/generation?id=${id}`)).json()) as any).data;
    const outcomes = gen.routing.map((r: any) => `${r.endpoint}:${r.outcome}`);
    assert.equal(outcomes[0], 'groq:failed');
    assert.match(outcomes[1], /:served$/);
    assert.ok(gen.routing.some((r: any) => r.outcome === 'skipped' && r.reason === 'provider not configured'), 'unconfigured providers are explained');
    assert.deepEqual(gen.provider_responses.map((p: any) => p.status), [429, 200]);

    const before = counts();
    for (let i = 0; i < 3; i++) {
      const r = await postChat(gw, { model: KIMI, messages: [{ role: 'user', content: 'again' }] });
      assert.equal(r.status, 200);
      assert.doesNotMatch(r.headers.get('x-switchyard-route')!, /groq/);
      await r.arrayBuffer();
    }
    assert.equal(counts().groq, before.groq, 'groq is not tried while its Retry-After lasts');
    const eps = ((await (await fetch(`${gw.baseUrl}/models/${KIMI}/endpoints`)).json()) as any).data.endpoints;
    const groq = eps.find((e: any) => e.tag === 'groq');
    assert.equal(groq.status, -2, 'breaker open');
    assert.equal(groq.provider_name, 'Groq');
    assert.equal(eps.find((e: any) => e.tag === 'together').status, -10, 'not configured here');
  });

  it('sort: latency follows measured time to first token as upstream delays change', async () => {
    fresh();
    const delays: Record<string, number> = { groq: 250, novita: 20, deepinfra: 120 };
    for (const slug of ['groq', 'novita', 'deepinfra']) {
      mocks[slug].onRequest(() => ({ sse: stream(slug), firstByteDelayMs: delays[slug] }));
    }
    const body = { model: KIMI, stream: true, messages: [{ role: 'user', content: 'hi' }], provider: { only: ['groq', 'novita', 'deepinfra'], sort: 'latency' } };
    // Warm-up: measure each endpoint once.
    for (const slug of ['groq', 'novita', 'deepinfra']) {
      await readSse(await postChat(gw, { ...body, provider: { only: [slug] } }));
    }
    const first = async () => JSON.parse((await readSse(await postChat(gw, body))).events[0]).provider;
    assert.equal(await first(), 'Novita');
    // Novita slows down, DeepInfra speeds up: after enough samples the order flips.
    delays.novita = 400;
    delays.deepinfra = 10;
    for (let i = 0; i < 3; i++) await readSse(await postChat(gw, { ...body, provider: { only: ['novita'] } }));
    for (let i = 0; i < 3; i++) await readSse(await postChat(gw, { ...body, provider: { only: ['deepinfra'] } }));
    assert.equal(await first(), 'DeepInfra');
    const eps = ((await (await fetch(`${gw.baseUrl}/models/${KIMI}/endpoints`)).json()) as any).data.endpoints;
    const novita = eps.find((e: any) => e.tag === 'novita');
    assert.ok(novita.latency_last_30m.p50 >= 20 && novita.uptime_last_30m === 100, JSON.stringify(novita));
  });

  it('models[]: when every provider of the first model fails, the next model serves and is named in the response', async () => {
    fresh();
    for (const slug of ['groq', 'novita', 'deepinfra']) mocks[slug].onRequest(() => ({ status: 503, json: { error: { message: `${slug} down` } } }));
    mocks['z-ai'].onRequest((r) => ({ json: { ...completion('glm here'), model: r.json.model } }));
    const res = await postChat(gw, { model: KIMI, models: ['z-ai/glm-4.5'], messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 200);
    const body = (await res.json()) as any;
    assert.equal(body.model, 'z-ai/glm-4.5');
    assert.equal(body.provider, 'Z.AI');
    assert.equal(body.choices[0].message.content, 'glm here');
    const gen = ((await (await fetch(`${gw.baseUrl}/generation?id=${body.id}`)).json()) as any).data;
    assert.equal(gen.model, 'z-ai/glm-4.5');
    assert.deepEqual(
      gen.provider_responses.map((p: any) => `${p.model_permaslug}:${p.status}`),
      [`${KIMI}:503`, `${KIMI}:503`, `${KIMI}:503`, 'z-ai/glm-4.5:200'],
    );
  });

  it("models[]: an upstream 400 (e.g. context too long) skips the model's other providers but not the next model", async () => {
    fresh();
    gw.app.rng = rngPicking(gw.app, KIMI, 'groq');
    const before = counts();
    mocks.groq.onRequest(() => ({ status: 400, json: { error: { message: 'context length exceeded' } } }));
    mocks.novita.onRequest(() => ({ json: completion('novita should not be asked') }));
    mocks.deepinfra.onRequest(() => ({ json: completion('deepinfra should not be asked') }));
    mocks['z-ai'].onRequest(() => ({ json: completion('glm took over') }));
    const res = await postChat(gw, { model: KIMI, models: ['z-ai/glm-4.5'], messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 200);
    const body = (await res.json()) as any;
    assert.equal(body.choices[0].message.content, 'glm took over');
    assert.equal(counts().novita, before.novita);
    assert.equal(counts().deepinfra, before.deepinfra);
    // Without a fallback model the 400 is the answer, with the provider's message.
    const alone = await postChat(gw, { model: KIMI, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(alone.status, 400);
    assert.equal(((await alone.json()) as any).error.metadata.raw, 'context length exceeded');
  });

  it('the openai SDK passes provider and models as extra body fields', async () => {
    fresh();
    mocks.deepinfra.onRequest(() => ({ json: completion('deepinfra via sdk') }));
    mocks.groq.onRequest(() => ({ json: completion('groq via sdk') }));
    const client = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'unused', maxRetries: 0 });
    const before = counts();
    const out = await client.chat.completions.create({
      model: KIMI,
      messages: [{ role: 'user', content: 'hi' }],
      // @ts-expect-error OpenRouter extensions are not in OpenAI's types
      provider: { order: ['deepinfra', 'groq'], allow_fallbacks: false },
      models: ['z-ai/glm-4.5'],
    });
    assert.equal(out.choices[0].message.content, 'deepinfra via sdk');
    assert.equal((out as any).provider, 'DeepInfra');
    assert.equal(counts().deepinfra, before.deepinfra + 1);
    assert.equal(counts().novita, before.novita);
    await assert.rejects(
      client.chat.completions.create({ model: KIMI, messages: [{ role: 'user', content: 'x' }], models: ['nope/nope'] } as any),
      (err: any) => err.status === 400 && /nope\/nope is not a valid model ID/.test(err.message),
    );
  });

  it('GET /providers and GET /models/{id} answer in OpenRouter shapes', async () => {
    const providers = ((await (await fetch(`${gw.baseUrl}/providers`)).json()) as any).data;
    assert.deepEqual(Object.keys(providers[0]).slice(0, 3), ['name', 'slug', 'privacy_policy_url']);
    assert.equal(providers.find((p: any) => p.slug === 'groq').enabled, true);
    const model = ((await (await fetch(`${gw.baseUrl}/models/${KIMI}`)).json()) as any).data;
    assert.equal(model.id, KIMI);
    assert.equal(model.links.details, `/api/v1/models/${KIMI}/endpoints`);
    assert.equal((await fetch(`${gw.baseUrl}/models/acme/none/endpoints`)).status, 404);
  });
});
