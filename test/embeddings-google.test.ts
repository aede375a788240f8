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
  let gw: Gateway;
  let tokens: { issued: string[] };

  before(async () => {
    [gemini, google, vertex] = await Promise.all([startMockUpstream(), startMockUpstream(), startMockUpstream()]);
    const account = newServiceAccount();
    tokens = tokenEndpoint(google, account);
    gw = await startGateway({
      providers: { 'google-ai-studio': `${gemini.url}/v1beta` },
      env: { GOOGLE_APPLICATION_CREDENTIALS: writeKeyFile(account, `${google.url}/token`), GOOGLE_CLOUD_PROJECT: 'proj-1', GOOGLE_CLOUD_LOCATION: 'us-east5', GOOGLE_VERTEX_BASE_URL: vertex.url },
    });
    // Gemini's API: the key in x-goog-api-key, one text per embedContent, a list per batchEmbedContents.
    gemini.onRequest((r: ReceivedRequest): MockReply => {
      if (r.headers['x-goog-api-key'] !== 'test-key-google-ai-studio') return { status: 400, json: { error: { code: 400, message: 'API key not valid.', status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }] } } };
      const size = (x: any) => x.outputDimensionality ?? 8;
      if (r.path === '/v1beta/models/gemini-embedding-001:embedContent') return { json: { embedding: { values: vectorOf(r.json.content.parts[0].text, size(r.json)) } } };
      if (r.path === '/v1beta/models/gemini-embedding-001:batchEmbedContents') {
        if (!r.json.requests.every((q: any) => q.model === 'models/gemini-embedding-001')) return { status: 400, json: { error: { code: 400, message: 'model mismatch' } } };
        return { json: { embeddings: r.json.requests.map((q: any) => ({ values: vectorOf(q.content.parts[0].text, size(q)) })) } };
      }
      return { status: 404, json: { error: { code: 404, message: `not found: ${r.path}`, status: 'NOT_FOUND' } } };
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([gemini.close(), google.close(), vertex.close()]);
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

  it('Gemini: more texts than one batch takes is a clear 400', async () => {
    const before = gemini.requests.length;
    const res = await post(gw, { model: MODEL, input: Array.from({ length: 101 }, (_v, i) => `text ${i}`), provider: { only: ['google-ai-studio'] } });
    const body = (await res.json()) as any;
    assert.equal(res.status, 400);
    assert.match(body.error.message, /Gemini embeds at most 100 texts per request; this request has 101/);
    assert.equal(gemini.requests.length, before);
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
