import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import { inputCount, type EmbeddingRequest, type EmbeddingResult } from '../../model/embeddings.js';
import { baseHeaders, embeddingTexts, promptOnlyUsage, secretFor } from '../shared.js';
import { UnusableAnswer, type Credential, type EmbeddingsCapability, type UpstreamRequest } from '../types.js';

/**
 * Gemini embeddings on the Generative Language API (https://ai.google.dev/api/embeddings): one text
 * through `models/{model}:embedContent`, several through `:batchEmbedContents` (one request per
 * text, in order), at most GEMINI_MAX_BATCH per call (the pipeline sends a larger input as several
 * calls). Neither answer carries token counts, so the pipeline estimates the usage.
 */

type Json = Record<string, unknown>;

/** OpenRouter's `input_type` words → Google's task types (also used by Vertex); others are passed upper-cased. */
const TASK_TYPES: Readonly<Record<string, string>> = {
  search_query: 'RETRIEVAL_QUERY',
  query: 'RETRIEVAL_QUERY',
  search_document: 'RETRIEVAL_DOCUMENT',
  document: 'RETRIEVAL_DOCUMENT',
  classification: 'CLASSIFICATION',
  clustering: 'CLUSTERING',
  semantic_similarity: 'SEMANTIC_SIMILARITY',
};

export function googleTaskType(inputType: string | undefined): string | undefined {
  return inputType === undefined ? undefined : (TASK_TYPES[inputType.toLowerCase()] ?? inputType.toUpperCase());
}

/** batchEmbedContents refuses more ("at most 100 requests can be in one batch"). */
export const GEMINI_MAX_BATCH = 100;

function modelName(upstreamModel: string): string {
  return upstreamModel.startsWith('models/') ? upstreamModel : `models/${upstreamModel}`;
}

/** One EmbedContentRequest (the batch form names the model in each). */
function embedContent(text: string, req: EmbeddingRequest, model?: string): Json {
  const out: Json = {};
  if (model !== undefined) out.model = model;
  out.content = { parts: [{ text }] };
  const task = googleTaskType(req.inputType);
  if (task !== undefined) out.taskType = task;
  if (req.dimensions !== undefined) out.outputDimensionality = req.dimensions;
  return out;
}

const isVector = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

/** `{values}` of a ContentEmbedding, or the answer is unusable. */
function valuesOf(embedding: unknown, position: number): number[] {
  const values = (embedding as Json | null)?.values;
  if (!isVector(values)) throw new UnusableAnswer(`Gemini embedding ${position} has no values`);
  return values;
}

export const geminiEmbeddings: EmbeddingsCapability = {
  maxInputsPerCall: GEMINI_MAX_BATCH,

  buildRequest(req: EmbeddingRequest, endpoint: Endpoint, provider: ProviderRuntime, credential: Credential | undefined): UpstreamRequest {
    const texts = embeddingTexts(req, 'Gemini');
    const model = modelName(endpoint.upstreamModel);
    const headers = baseHeaders(provider, false);
    const secret = secretFor(provider, credential);
    if (secret) headers['x-goog-api-key'] = secret;
    if (texts.length === 1) return { url: `${provider.baseUrl}/${model}:embedContent`, headers, body: JSON.stringify(embedContent(texts[0]!, req)) };
    const body = { requests: texts.map((t) => embedContent(t, req, model)) };
    return { url: `${provider.baseUrl}/${model}:batchEmbedContents`, headers, body: JSON.stringify(body) };
  },

  parseResponse(body: unknown, req: EmbeddingRequest): EmbeddingResult {
    const json = (body ?? {}) as Json;
    let vectors: number[][];
    if (Array.isArray(json.embeddings)) vectors = (json.embeddings as unknown[]).map(valuesOf);
    else if (json.embedding !== undefined) vectors = [valuesOf(json.embedding, 0)];
    else throw new UnusableAnswer('Gemini embeddings answer has neither embedding nor embeddings');
    if (vectors.length !== inputCount(req.input)) throw new UnusableAnswer(`Gemini answered ${vectors.length} embeddings for ${inputCount(req.input)} inputs`);
    // Should Google start reporting token counts, they win over the estimate.
    const prompt = ((json.usageMetadata ?? {}) as Json).promptTokenCount;
    return { vectors, usage: typeof prompt === 'number' ? promptOnlyUsage(prompt) : null };
  },
};
