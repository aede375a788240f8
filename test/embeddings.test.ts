/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * POST /api/v1/embeddings against mock OpenAI-compatible upstreams that replay the recorded
 * embeddings traffic (test/fixtures/cassettes/upstream/TestOpenAIEmbeddings*, a real host serving
 * nomic-embed-text-v1.5): string and batch input, dimensions, base64, usage and cost, the
 * generation record, fallback, the official openai SDK, the model listings and bad input.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenRouter } from '@openrouter/sdk';
import OpenAI from 'openai';
import { loadCassette, type Interaction } from './support/cassettes.js';
import { replyFromUpstreamRecording, startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { postChat, rngPicking, startGateway, type Gateway } from './support/gateway.js';

const MODEL = 'nomic-ai/nomic-embed-text-v1.5';
const RECORDED_MODEL = 'hf:nomic-ai/nomic-embed-text-v1.5';
const PROMPT_PRICE = 0.00000001;
const recordings: Interaction[] = [
  ...loadCassette('upstream/TestOpenAIEmbeddings/single_input.yaml'),
  ...loadCassette('upstream/TestOpenAIEmbeddings/batch_input.yaml'),
  ...loadCassette('upstream/TestOpenAIEmbeddingsWithDimensions/with_dimensions.yaml'),
];
const recordedBody = (i: number) => JSON.parse(recordings[i]!.response.body);
/** The recorded vectors, as the float32 values a base64 answer carries. */
const asFloat32 = (v: number[]) => v.map((x) => Math.fround(x));

// The recorded host (Synthetic) and a second host of the same model, for fallback.
const CONFIG = `
catalog:
  providers:
    - slug: synthetic
      name: "Synthetic"
      protocol: openai
      base_url: https://api.synthetic.new/openai/v1
      requires_key: true
  models:
    - id: ${MODEL}
      name: "Nomic: Embed Text v1.5"
      context_length: 8192
      input_modalities: [text]
      output_modalities: [embeddings]
      endpoints:
        - provider: synthetic
          upstream_model: "${RECORDED_MODEL}"
          pricing: { prompt: "${PROMPT_PRICE.toFixed(8)}", completion: "0" }
          context_length: 8192
          supported_parameters: [dimensions]
        - provider: deepinfra
          upstream_model: "nomic-ai/nomic-embed-text-v1.5"
          pricing: { prompt: "0.00000002", completion: "0" }
          context_length: 8192
          supported_parameters: [dimensions]
`;

/**
 * A host that answers as the recorded one did: the interaction whose request has the same input
 * and dimensions, after checking the key and the model a real host would check.
 */
function replaying(mock: MockUpstream, key: string, upstreamModel: string): void {
  mock.onRequest((r: ReceivedRequest): MockReply => {
    if (r.headers.authorization !== `Bearer ${key}`) return { status: 401, json: { error: { message: 'Invalid API key' } } };
    if (!r.path.endsWith('/embeddings') || r.json?.model !== upstreamModel) return { status: 404, json: { error: { message: `no model ${r.json?.model} at ${r.path}` } } };
    const hit = recordings.find((i) => {
      const recorded = JSON.parse(i.request.body);
      return JSON.stringify(recorded.input) === JSON.stringify(r.json.input) && recorded.dimensions === r.json.dimensions;
    });
    return hit ? replyFromUpstreamRecording(hit.response) : { status: 400, json: { error: { message: 'no recording of this input' } } };
  });
}

const post = (gw: Gateway, body: unknown, path = '/embeddings') =>
  fetch(`${gw.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('POST /api/v1/embeddings (OpenAI-compatible upstreams, recorded traffic)', () => {
  let synthetic: MockUpstream;
  let deepinfra: MockUpstream;
  let gw: Gateway;

  before(async () => {
    [synthetic, deepinfra] = await Promise.all([startMockUpstream(), startMockUpstream()]);
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-embeddings-'));
    writeFileSync(join(dir, 'switchyard.yaml'), CONFIG);
    gw = await startGateway({ providers: { synthetic: `${synthetic.url}/openai/v1`, deepinfra: deepinfra.baseUrl }, configFile: join(dir, 'switchyard.yaml') });
    gw.app.rng = rngPicking(gw.app, MODEL, 'synthetic');
  });
  after(async () => {
    await gw.close();
    await Promise.all([synthetic.close(), deepinfra.close()]);
  });
  const replayBoth = () => {
    replaying(synthetic, 'test-key-synthetic', RECORDED_MODEL);
    replaying(deepinfra, 'test-key-deepinfra', 'nomic-ai/nomic-embed-text-v1.5');
  };

  it('embeds a string: one vector, usage with cost, the requested model, X-Generation-Id', async () => {
    replayBoth();
    const res = await post(gw, { model: MODEL, input: 'The quick brown fox' });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    // The upstream got the recorded request (the string as a one-item list, no encoding_format).
    assert.deepEqual(synthetic.requests.at(-1)!.json, JSON.parse(recordings[0]!.request.body));
    assert.equal(body.object, 'list');
    assert.equal(body.model, MODEL);
    assert.equal(body.provider, 'Synthetic');
    assert.match(body.id, /^gen-\d+-[A-Za-z0-9]{20}$/);
    assert.equal(res.headers.get('x-generation-id'), body.id);
    assert.equal(body.data.length, 1);
    assert.deepEqual(Object.keys(body.data[0]), ['object', 'index', 'embedding']);
    assert.equal(body.data[0].object, 'embedding');
    assert.deepEqual(body.data[0].embedding, recordedBody(0).data[0].embedding);
    assert.deepEqual(body.usage, { prompt_tokens: 4, total_tokens: 4, cost: 4 * PROMPT_PRICE });
  });

  it('embeds a batch in input order and records the generation (api embeddings, tokens, cost)', async () => {
    replayBoth();
    const input = ['The quick brown fox', 'Pack my box with five dozen liquor jugs', 'How vexingly quick daft zebras jump'];
    const res = await post(gw, { model: MODEL, input, user: 'user-7' });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const recorded = recordedBody(1);
    assert.deepEqual(body.data.map((d: any) => d.index), [0, 1, 2]);
    for (let i = 0; i < 3; i++) assert.deepEqual(body.data[i].embedding, recorded.data[i].embedding);
    assert.equal(body.usage.prompt_tokens, 23);
    assert.equal(body.usage.cost, 23 * PROMPT_PRICE);
    assert.match(synthetic.requests.at(-1)!.json.user, /^[0-9a-f]{32}$/, 'the end user goes upstream hashed');

    const gen = (await (await fetch(`${gw.baseUrl}/generation?id=${body.id}`)).json()) as any;
    assert.equal(gen.data.api, 'embeddings');
    assert.equal(gen.data.api_type, 'embeddings');
    assert.equal(gen.data.model, MODEL);
    assert.equal(gen.data.provider_name, 'Synthetic');
    assert.equal(gen.data.tokens_prompt, 23);
    assert.equal(gen.data.tokens_completion, 0);
    assert.equal(gen.data.total_cost, body.usage.cost);
    assert.equal(gen.data.streamed, false);
    assert.equal(gen.data.external_user, 'user-7');
    assert.deepEqual(gen.data.notes, []);
    assert.equal(gen.data.routing[0].outcome, 'served');
  });

  it('answers at /v1/embeddings too', async () => {
    replayBoth();
    const res = await fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, input: 'The quick brown fox' }) });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).data.length, 1);
  });

  it('passes dimensions on and returns the shortened vector', async () => {
    replayBoth();
    const res = await post(gw, { model: MODEL, input: ['The quick brown fox'], dimensions: 256 });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(synthetic.requests.at(-1)!.json.dimensions, 256);
    assert.equal(body.data[0].embedding.length, 256);
    assert.deepEqual(body.data[0].embedding, recordedBody(2).data[0].embedding);
  });

  it('answers base64 (little-endian float32) that decodes to the float answer', async () => {
    replayBoth();
    const res = await post(gw, { model: MODEL, input: 'The quick brown fox', encoding_format: 'base64' });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(synthetic.requests.at(-1)!.json.encoding_format, undefined, 'upstreams are asked for numbers');
    assert.equal(typeof body.data[0].embedding, 'string');
    const bytes = Buffer.from(body.data[0].embedding, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_v, i) => bytes.readFloatLE(i * 4));
    assert.deepEqual(decoded, asFloat32(recordedBody(0).data[0].embedding));
  });

  it('sends token ids to an OpenAI-compatible host as lists of ids', async () => {
    replayBoth();
    synthetic.enqueue({ json: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, -0.25] }], model: RECORDED_MODEL, usage: { prompt_tokens: 3, total_tokens: 3 } } });
    const res = await post(gw, { model: MODEL, input: [791, 4062, 14198], provider: { only: ['synthetic'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(synthetic.requests.at(-1)!.json.input, [[791, 4062, 14198]]);
    assert.deepEqual(body.data[0].embedding, [0.5, -0.25]);
    assert.equal(body.usage.prompt_tokens, 3);
  });

  it('fails over when a host answers fewer vectors than inputs', async () => {
    replayBoth();
    synthetic.enqueue({ json: { object: 'list', data: [], model: RECORDED_MODEL } });
    const res = await post(gw, { model: MODEL, input: 'The quick brown fox', provider: { order: ['synthetic', 'deepinfra'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.provider, 'DeepInfra');
    const gen = (await (await fetch(`${gw.baseUrl}/generation?id=${body.id}`)).json()) as any;
    assert.deepEqual(
      gen.data.routing.slice(0, 2).map((r: any) => [r.endpoint, r.outcome, r.status]),
      [
        ['synthetic', 'failed', 200],
        ['deepinfra', 'served', 200],
      ],
    );
  });

  for (const failure of [
    { status: 429, json: { error: { message: 'Rate limit reached' } } },
    { status: 500, json: { error: { message: 'internal error' } } },
  ]) {
    it(`falls back to the next provider after a ${failure.status}`, async () => {
      replayBoth();
      synthetic.enqueue(failure);
      const res = await post(gw, { model: MODEL, input: 'The quick brown fox', provider: { order: ['synthetic', 'deepinfra'] } });
      const body = (await res.json()) as any;
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.provider, 'DeepInfra');
      assert.equal(deepinfra.requests.at(-1)!.json.model, 'nomic-ai/nomic-embed-text-v1.5');
      assert.equal(body.usage.cost, 4 * 0.00000002);
      assert.match(res.headers.get('x-switchyard-route')!, new RegExp(`^synthetic=${failure.status}, deepinfra=serving$`));
      const gen = (await (await fetch(`${gw.baseUrl}/generation?id=${body.id}`)).json()) as any;
      assert.deepEqual(
        gen.data.routing.map((r: any) => [r.endpoint, r.outcome, r.status]),
        [
          ['synthetic', 'failed', failure.status],
          ['deepinfra', 'served', 200],
        ],
      );
    });
  }

  it('answers an upstream 400 as it came, with the generation id', async () => {
    replayBoth();
    synthetic.enqueue({ status: 400, json: { error: { message: 'dimensions must be at most 768' } } });
    const res = await post(gw, { model: MODEL, input: 'x', dimensions: 4096, provider: { only: ['synthetic'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 400);
    assert.equal(body.error.code, 400);
    assert.equal(body.error.metadata.raw, 'dimensions must be at most 768');
    assert.equal(body.error.metadata.provider_name, 'Synthetic');
    assert.match(res.headers.get('x-generation-id')!, /^gen-/);
  });

  it("serves the official openai SDK's embeddings.create: base64 by default (decoded by the SDK) and float", async () => {
    replayBoth();
    const client = new OpenAI({ baseURL: gw.baseUrl, apiKey: 'unused', maxRetries: 0 });
    const byDefault = await client.embeddings.create({ model: MODEL, input: 'The quick brown fox' });
    assert.deepEqual(byDefault.data[0]!.embedding, asFloat32(recordedBody(0).data[0].embedding));
    assert.equal(byDefault.model, MODEL);
    assert.equal(byDefault.usage.prompt_tokens, 4);
    const floats = await client.embeddings.create({ model: MODEL, input: ['The quick brown fox', 'Pack my box with five dozen liquor jugs', 'How vexingly quick daft zebras jump'], encoding_format: 'float' });
    assert.equal(floats.data.length, 3);
    assert.deepEqual(floats.data[2]!.embedding, recordedBody(1).data[2].embedding);
  });

  it("serves @openrouter/sdk's embeddings.generate and embeddings.listModels (the SDK validates both answers)", async () => {
    replayBoth();
    const sdk = new OpenRouter({ serverURL: gw.baseUrl, apiKey: 'unused', retryConfig: { strategy: 'none' }, timeoutMs: 10_000 });
    const res = await sdk.embeddings.generate({ requestBody: { model: MODEL, input: 'The quick brown fox', provider: { only: ['synthetic'] } } });
    assert.ok(typeof res !== 'string');
    assert.equal(res.model, MODEL);
    assert.deepEqual(res.data[0]!.embedding, recordedBody(0).data[0].embedding);
    assert.equal(res.usage?.promptTokens, 4);
    assert.equal(res.usage?.cost, 4 * PROMPT_PRICE);
    const page = await sdk.embeddings.listModels();
    assert.ok(page.result.data.some((m) => m.id === MODEL && m.architecture.outputModalities.includes('embeddings')));
  });

  it('counts embeddings in the metrics under api="embeddings"', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /switchyard_requests_total\{[^}]*api="embeddings"[^}]*model="nomic-ai\/nomic-embed-text-v1\.5"[^}]*provider="synthetic"[^}]*\} [1-9]/);
  });

  it('lists embedding models at /embeddings/models and under output_modalities=embeddings, not by default', async () => {
    const listed = (await (await fetch(`${gw.baseUrl}/embeddings/models`)).json()) as any;
    const ids = listed.data.map((m: any) => m.id);
    for (const id of [MODEL, 'openai/text-embedding-3-small', 'openai/text-embedding-3-large', 'google/gemini-embedding-001']) assert.ok(ids.includes(id), id);
    assert.ok(!ids.includes('moonshotai/kimi-k2-0905'));
    const small = listed.data.find((m: any) => m.id === 'openai/text-embedding-3-small');
    assert.deepEqual(small.architecture.output_modalities, ['embeddings']);
    assert.equal(small.architecture.modality, 'text->embeddings');
    assert.equal(small.pricing.prompt, '0.00000002');
    assert.equal(small.pricing.completion, '0');
    assert.equal(listed.total_count, listed.data.length);
    const byDefault = (await (await fetch(`${gw.baseUrl}/models`)).json()) as any;
    assert.ok(!byDefault.data.some((m: any) => m.id === MODEL));
    const filtered = (await (await fetch(`${gw.baseUrl}/models?output_modalities=embeddings`)).json()) as any;
    assert.deepEqual(filtered.data.map((m: any) => m.id).sort(), [...ids].sort());
  });

  describe('bad requests get a 400 in OpenRouter’s error shape', () => {
    const cases: [string, unknown, RegExp][] = [
      ['no input', { model: MODEL }, /input is required/],
      ['an empty string', { model: MODEL, input: '' }, /input must not be empty/],
      ['an empty list', { model: MODEL, input: [] }, /input must be/],
      ['a mixed list', { model: MODEL, input: ['a', 1] }, /input\[1\] must be a string/],
      ['a bad token id', { model: MODEL, input: [[1, 2], [3, -1]] }, /input\[1\]\[1\] must be a token id/],
      ['content parts', { model: MODEL, input: [{ content: [{ type: 'text', text: 'a' }] }] }, /multimodal/],
      ['stream: true', { model: MODEL, input: 'a', stream: true }, /stream is not supported for embeddings/],
      ['dimensions 0', { model: MODEL, input: 'a', dimensions: 0 }, /dimensions/],
      ['an unknown encoding', { model: MODEL, input: 'a', encoding_format: 'hex' }, /encoding_format must be one of "float", "base64"/],
      ['no model', { input: 'a' }, /model is required/],
      ['a chat model', { model: 'moonshotai/kimi-k2-0905', input: 'a' }, /is not an embedding model/],
      ['an unknown model', { model: 'nobody/nothing', input: 'a' }, /not a valid model ID/],
      ['not an object', '[1,2]', /JSON object/],
    ];
    for (const [what, body, message] of cases) {
      it(what, async () => {
        const before = synthetic.requests.length;
        const res = await post(gw, body);
        const json = (await res.json()) as any;
        assert.equal(res.status, 400, JSON.stringify(json));
        assert.equal(json.error.code, 400);
        assert.match(json.error.message, message);
        assert.match(res.headers.get('x-generation-id')!, /^gen-/);
        assert.equal(synthetic.requests.length, before, 'nothing went upstream');
      });
    }

    it('an embedding model on chat completions', async () => {
      const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
      const json = (await res.json()) as any;
      assert.equal(res.status, 400);
      assert.match(json.error.message, /is an embedding model: send it to POST \/embeddings/);
    });
  });
});

describe('POST /api/v1/embeddings on Azure OpenAI (deployments API)', () => {
  let azure: MockUpstream;
  let gw: Gateway;
  before(async () => {
    azure = await startMockUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-embeddings-azure-'));
    writeFileSync(join(dir, 'switchyard.yaml'), 'providers:\n  azure:\n    api_version: 2024-10-21\n    deployments:\n      embed-small: openai/text-embedding-3-small\n');
    gw = await startGateway({ providers: {}, configFile: join(dir, 'switchyard.yaml'), env: { AZURE_API_KEY: 'azure-key-1', AZURE_BASE_URL: azure.url } });
  });
  after(async () => {
    await gw.close();
    await azure.close();
  });

  it('calls /openai/deployments/{deployment}/embeddings?api-version with api-key and no model field', async () => {
    // What Azure checks: its key header (no bearer), the deployment route and api-version.
    azure.onRequest((r): MockReply => {
      if (r.headers['api-key'] !== 'azure-key-1' || r.headers.authorization !== undefined) return { status: 401, json: { error: { code: '401', message: 'Access denied due to invalid subscription key.' } } };
      if (r.path !== '/openai/deployments/embed-small/embeddings?api-version=2024-10-21') return { status: 404, json: { error: { code: '404', message: `Resource not found: ${r.path}` } } };
      return replyFromUpstreamRecording(recordings[0]!.response);
    });
    const res = await post(gw, { model: 'openai/text-embedding-3-small', input: 'The quick brown fox', provider: { only: ['azure'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.provider, 'Azure');
    assert.equal(body.model, 'openai/text-embedding-3-small');
    assert.deepEqual(azure.requests.at(-1)!.json, { input: ['The quick brown fox'] });
    assert.deepEqual(body.data[0].embedding, recordedBody(0).data[0].embedding);
    assert.equal(body.usage.cost, 4 * 0.00000002);
  });
});
