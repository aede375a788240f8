import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import { inputCount, type EmbeddingRequest, type EmbeddingResult } from '../../model/embeddings.js';
import { googleTaskType } from '../gemini/embeddings.js';
import { baseHeaders, embeddingTexts, promptOnlyUsage, secretFor } from '../shared.js';
import { UnusableAnswer, UntranslatableRequest, type Credential, type EmbeddingsCapability, type UpstreamRequest } from '../types.js';
import { vertexModelUrl, vertexPublisher } from './routes.js';

/**
 * Text embeddings on Vertex AI: `{model}:predict` with one instance per text
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api).
 * Each prediction reports its own token count; their sum is the usage.
 */

type Json = Record<string, unknown>;

/** Vertex serves gemini-embedding-* one text per request (its documented limit); a batch goes elsewhere. */
const SINGLE_INPUT = /^gemini-embedding/;

export const vertexEmbeddings: EmbeddingsCapability = {
  buildRequest(req: EmbeddingRequest, endpoint: Endpoint, provider: ProviderRuntime, credential: Credential | undefined): UpstreamRequest {
    const texts = embeddingTexts(req, 'Vertex AI');
    if (vertexPublisher(endpoint.upstreamModel) !== 'google') throw new UntranslatableRequest(`Vertex AI serves no embeddings from ${endpoint.upstreamModel}`);
    if (texts.length > 1 && SINGLE_INPUT.test(endpoint.upstreamModel)) throw new UntranslatableRequest(`Vertex AI embeds one text per request with ${endpoint.upstreamModel}; this request has ${texts.length}`);
    const task = googleTaskType(req.inputType);
    const body: Json = { instances: texts.map((content) => (task === undefined ? { content } : { content, task_type: task })) };
    if (req.dimensions !== undefined) body.parameters = { outputDimensionality: req.dimensions };
    const headers = baseHeaders(provider, false);
    const token = secretFor(provider, credential);
    if (token) headers.authorization = `Bearer ${token}`;
    return { url: `${vertexModelUrl(provider, endpoint.upstreamModel)}:predict`, headers, body: JSON.stringify(body) };
  },

  parseResponse(body: unknown, req: EmbeddingRequest): EmbeddingResult {
    const predictions = ((body ?? {}) as Json).predictions;
    if (!Array.isArray(predictions)) throw new UnusableAnswer('Vertex AI embeddings answer has no predictions');
    const wanted = inputCount(req.input);
    if (predictions.length !== wanted) throw new UnusableAnswer(`Vertex AI answered ${predictions.length} embeddings for ${wanted} inputs`);
    let tokens: number | null = 0;
    const vectors = predictions.map((p: Json | null, i) => {
      const embeddings = (p?.embeddings ?? {}) as Json;
      const values = embeddings.values;
      if (!Array.isArray(values) || !values.every((v) => typeof v === 'number')) throw new UnusableAnswer(`Vertex AI prediction ${i} has no embedding values`);
      const count = ((embeddings.statistics ?? {}) as Json).token_count;
      tokens = tokens !== null && typeof count === 'number' ? tokens + count : null;
      return values as number[];
    });
    return { vectors, usage: tokens === null ? null : promptOnlyUsage(tokens) };
  },
};
