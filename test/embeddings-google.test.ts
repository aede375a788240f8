/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Embeddings from Google: Gemini's embedContent / batchEmbedContents on the Generative Language
 * API (API key), and Vertex AI's :predict with a service account's token (obtained from the key
 * file's token_uri, which verifies the signed grant; the mock Vertex accepts only tokens it issued).
 * No recordings of these calls exist, so the mocks answer in the shapes Google documents
 * (https://ai.google.dev/api/embeddings, Vertex AI's text-embeddings API reference).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { newServiceAccount, tokenEndpoint, writeKeyFile } from './support/google-token.js';

const MODEL = 'google/gemini-embedding-001';
const PRICE = 0.00000015;
/** A vector a mock derives from the text, so answers can be checked against their inputs. */
const vectorOf = (text: string, size = 8) => Array.from({ length: size }, (_v, i) => (text.length + i) / 100);

const post = (gw: Gateway, body: unknown) =>
  fetch(`${gw.baseUrl}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const generation = async (gw: Gateway, id: string) => ((await (await fetch(`${gw.baseUrl}/generation?id=${id}`)).json()) as any).data;

describe('Embeddings on Google AI Studio (Gemini) and Vertex AI', () => {
  let gemini: MockUpstream;
  let google: MockUpstream;
  let vertex: MockUpstream;
  let openai: MockUpstream;
  let gw: Gateway;
  let tokens: { issued: string[] };
  /** Texts whose batch the mock Gemini answers with a 503; whether it reports token counts (one per character). */
  const overloadedOn = new Set<string>();
  let reportTokens = false;

  before(async () => {
    [gemini, google, vertex, openai] = await Promise.all([startMockUpstream(), startMockUpstream(), startMockUpstream(), startMockUpstream()]);
    const account = newServiceAccount();
    tokens = tokenEndpoint(google, account);
    gw = await startGateway({
      providers: { 'google-ai-studio': `${gemini.url}/v1beta`, openai: openai.baseUrl },
      env: { GOOGLE_APPLICATION_CREDENTIALS: writeKeyFile(account, `${google.url}/token`), GOOGLE_CLOUD_PROJECT: 'proj-1', GOOGLE_CLOUD_LOCATION: 'us-east5', GOOGLE_VERTEX_BASE_URL: vertex.url },
    });
    // Gemini's API: the key in x-goog-api-key, one text per embedContent, a list per batchEmbedContents.
    gemini.onRequest((r: ReceivedRequest): MockReply => {
      if (r.headers['x-goog-api-key'] !== 'test-key-google-ai-studio') return { status: 400, json: { error: { code: 400, message: 'API key not valid.', status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }] } } };
      const size = (x: any) => x.outputDimensionality ?? 8;
      if (r.path === '/v1beta/models/gemini-embedding-001:embedContent') return { json: { embedding: { values: vectorOf(r.json.content.parts[0].text, size(r.json)) } } };
      if (r.path === '/v1beta/models/gemini-embedding-001:batchEmbedContents') {
        const requests: any[] = r.json.requests;
        if (requests.length > 100) return { status: 400, json: { error: { code: 400, message: '* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch', status: 'INVALID_ARGUMENT' } } };
        if (!requests.every((q) => q.model === 'models/gemini-embedding-001')) return { status: 400, json: { error: { code: 400, message: 'model mismatch' } } };
        const texts: string[] = requests.map((q) => q.content.parts[0].text);
        if (texts.some((t) => overloadedOn.has(t))) return { status: 503, json: { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } } };
        const usage = reportTokens ? { usageMetadata: { promptTokenCount: texts.join('').length } } : {};
        return { json: { embeddings: requests.map((q, i) => ({ values: vectorOf(texts[i], size(q)) })), ...usage } };
      }
      return { status: 404, json: { error: { code: 404, message: `not found: ${r.path}`, status: 'NOT_FOUND' } } };
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([gemini.close(), google.close(), vertex.close(), openai.close()]);
  });

  /** Vertex's own checks: a token the token endpoint issued, the model's predict path; one prediction per instance. */
  const vertexAnswers = (tokenCounts: number[] | null) =>
    vertex.onRequest((r: ReceivedRequest): MockReply => {
      const token = String(r.headers.authorization ?? '').replace(/^Bearer /, '');
      if (!tokens.issued.includes(token)) return { status: 401, json: { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } } };
      if (r.path !== '/v1/projects/proj-1/locations/us-east5/publishers/google/models/gemini-embedding-001:predict') return { status: 404, json: { error: { code: 404, message: `not found: ${r.path}` } } };
      const size = r.json.parameters?.outputDimensionality ?? 8;
      return {
        json: {
          predictions: r.json.instances.map((inst: any, i: number) => ({ embeddings: { values: vectorOf(inst.content, size), statistics: { truncated: false, ...(tokenCounts ? { token_count: tokenCounts[i] } : {}) } } })),
          metadata: { billableCharacterCount: 20 },
        },
      };
    });

  it('Gemini: one text through embedContent; usage estimated and said so in the record', async () => {
    const text = 'The quick brown fox jumps';
    const res = await post(gw, { model: MODEL, input: text, dimensions: 4, input_type: 'search_query', provider: { only: ['google-ai-studio'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(gemini.requests.at(-1)!.json, { content: { parts: [{ text }] }, taskType: 'RETRIEVAL_QUERY', outputDimensionality: 4 });
    assert.deepEqual(body.data[0].embedding, vectorOf(text, 4));
    assert.equal(body.provider, 'Google AI Studio');
    const estimate = Math.ceil(text.length / 4);
    assert.deepEqual(body.usage, { prompt_tokens: estimate, total_tokens: estimate, cost: estimate * PRICE });
    const gen = await generation(gw, body.id);
    assert.equal(gen.api, 'embeddings');
    assert.equal(gen.tokens_prompt, estimate);
    assert.deepEqual(gen.notes, ["usage estimated from the input's length: Google AI Studio reported no token counts"]);
  });

  it('Gemini: a batch through batchEmbedContents, vectors in input order', async () => {
    const input = ['one', 'three', 'seventeen'];
    const res = await post(gw, { model: MODEL, input, provider: { only: ['google-ai-studio'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(gemini.requests.at(-1)!.path, '/v1beta/models/gemini-embedding-001:batchEmbedContents');
    assert.deepEqual(
      body.data.map((d: any) => [d.index, d.embedding]),
      input.map((t, i) => [i, vectorOf(t)]),
    );
    assert.equal(body.usage.prompt_tokens, Math.ceil(input.join('').length / 4));
  });

  /** Texts of distinct lengths, so that each one's vector (vectorOf) says which text it is. */
  const manyTexts = (n: number) => Array.from({ length: n }, (_v, i) => 'w'.repeat(i + 1));

  it('Gemini: more texts than one batch takes go as consecutive batches of 100, vectors in input order, usage summed', async () => {
    const input = manyTexts(250);
    const before = gemini.requests.length;
    reportTokens = true;
    let res: Response;
    try {
      res = await post(gw, { model: MODEL, input, provider: { only: ['google-ai-studio'] } });
    } finally {
      reportTokens = false;
    }
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body).slice(0, 500));
    const calls = gemini.requests.slice(before);
    assert.equal(calls.length, 3);
    assert.ok(calls.every((c) => c.path === '/v1beta/models/gemini-embedding-001:batchEmbedContents'));
    assert.deepEqual(
      calls.map((c) => c.json.requests.map((q: any) => q.content.parts[0].text)),
      [input.slice(0, 100), input.slice(100, 200), input.slice(200)],
    );
    assert.equal(body.data.length, 250);
    assert.deepEqual(
      body.data.map((d: any) => [d.index, d.embedding]),
      input.map((t, i) => [i, vectorOf(t)]),
    );
    const chars = input.join('').length;
    assert.equal(body.usage.prompt_tokens, chars, 'the three calls’ token counts, summed');
    assert.equal(body.usage.total_tokens, chars);
    assert.ok(Math.abs(body.usage.cost - chars * PRICE) < 1e-12);
    const gen = await generation(gw, body.id);
    assert.deepEqual(gen.notes, ['input sent in 3 calls: Google AI Studio takes at most 100 inputs per call']);
    assert.deepEqual(
      gen.routing.filter((r: any) => r.outcome === 'failed' || r.outcome === 'served').map((r: any) => [r.endpoint, r.outcome]),
      [['google-ai-studio', 'served']],
      'one attempt',
    );
  });

  it('Gemini: a failed batch fails the whole attempt, and the request falls back', async () => {
    const input = manyTexts(250);
    overloadedOn.add(input[150]);
    openai.onRequest((r: ReceivedRequest): MockReply => ({
      json: { object: 'list', data: r.json.input.map((t: string, index: number) => ({ object: 'embedding', index, embedding: vectorOf(t, 3) })), model: 'text-embedding-3-small', usage: { prompt_tokens: 700, total_tokens: 700 } },
    }));
    const before = gemini.requests.length;
    try {
      const res = await post(gw, { models: [MODEL, 'openai/text-embedding-3-small'], input, provider: { ignore: ['google-vertex'] } });
      const body = (await res.json()) as any;
      assert.equal(res.status, 200, JSON.stringify(body).slice(0, 500));
      assert.equal(body.provider, 'OpenAI');
      assert.equal(body.model, 'openai/text-embedding-3-small');
      assert.deepEqual(body.data.map((d: any) => d.embedding), input.map((t) => vectorOf(t, 3)), 'no Gemini vector in the answer');
      assert.equal(gemini.requests.length - before, 2, 'the third batch was never sent');
      const gen = await generation(gw, body.id);
      assert.deepEqual(
        gen.routing.filter((r: any) => r.outcome === 'failed' || r.outcome === 'served').map((r: any) => [r.endpoint, r.outcome, r.status]),
        [
          ['google-ai-studio', 'failed', 503],
          ['openai', 'served', 200],
        ],
      );
    } finally {
      overloadedOn.clear();
    }
  });

  it('Gemini: a failed batch with nowhere to go is the upstream’s error, once', async () => {
    const input = manyTexts(120);
    overloadedOn.add(input[110]);
    try {
      const res = await post(gw, { model: MODEL, input, provider: { only: ['google-ai-studio'] } });
      const body = (await res.json()) as any;
      assert.equal(res.status, 502, JSON.stringify(body));
      assert.equal(body.error.metadata.provider_name, 'Google AI Studio');
      assert.match(body.error.metadata.raw, /The model is overloaded/);
      assert.equal(body.error.metadata.previous_errors, undefined, 'one failure, not one per batch');
    } finally {
      overloadedOn.clear();
    }
  });

  it('Gemini: token ids cannot be sent, a clear 400', async () => {
    const res = await post(gw, { model: MODEL, input: [[1, 2, 3]], provider: { only: ['google-ai-studio'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 400);
    assert.match(body.error.message, /Gemini embeddings take text, not token ids/);
  });

  it('Vertex: :predict with the service account’s token; usage from the token counts', async () => {
    vertexAnswers([7]);
    const res = await post(gw, { model: MODEL, input: 'Alice lives in Paris', dimensions: 16, input_type: 'search_document', provider: { only: ['google-vertex'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(vertex.requests.at(-1)!.json, { instances: [{ content: 'Alice lives in Paris', task_type: 'RETRIEVAL_DOCUMENT' }], parameters: { outputDimensionality: 16 } });
    assert.equal(body.provider, 'Google');
    assert.deepEqual(body.data[0].embedding, vectorOf('Alice lives in Paris', 16));
    assert.deepEqual(body.usage, { prompt_tokens: 7, total_tokens: 7, cost: 7 * PRICE });
    const gen = await generation(gw, body.id);
    assert.deepEqual(gen.notes, []);
    assert.equal(gen.provider_name, 'Google');
  });

  it('Vertex: the token is reused; a 429 falls back to Google AI Studio', async () => {
    vertex.enqueue({ status: 429, json: { error: { code: 429, message: 'Quota exceeded for aiplatform.googleapis.com', status: 'RESOURCE_EXHAUSTED' } } });
    const res = await post(gw, { model: MODEL, input: 'fallback', provider: { order: ['google-vertex', 'google-ai-studio'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.provider, 'Google AI Studio');
    assert.equal(tokens.issued.length, 1, 'one token for every Vertex request');
    const gen = await generation(gw, body.id);
    assert.deepEqual(
      gen.routing.filter((r: any) => r.outcome !== 'not tried').map((r: any) => [r.endpoint, r.outcome, r.status]),
      [
        ['google-vertex', 'failed', 429],
        ['google-ai-studio', 'served', 200],
      ],
    );
  });

  it('Vertex: a batch for gemini-embedding-001 (one text per request there) goes to Google AI Studio', async () => {
    vertexAnswers([1, 1]);
    const before = vertex.requests.length;
    const res = await post(gw, { model: MODEL, input: ['a', 'b'], provider: { order: ['google-vertex', 'google-ai-studio'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.provider, 'Google AI Studio');
    assert.equal(vertex.requests.length, before, 'nothing sent to Vertex');
    const gen = await generation(gw, body.id);
    const skipped = gen.routing.find((r: any) => r.endpoint === 'google-vertex');
    assert.equal(skipped.outcome, 'skipped');
    assert.match(skipped.reason, /one text per request/);
  });
});
