import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import { inputCount, type EmbeddingRequest, type EmbeddingResult } from '../../model/embeddings.js';
import { baseHeaders, embeddingTexts, promptOnlyUsage, secretFor } from '../shared.js';
import { UnusableAnswer, UntranslatableRequest, type Credential, type EmbeddingsCapability, type UpstreamRequest } from '../types.js';
import { accessKeyOf } from '../../upstream/aws-auth.js';
import { bedrockRuntimeBase } from './routes.js';

/**
 * Embeddings on Bedrock through InvokeModel (`POST /model/{id}/invoke`), in each family's own body:
 * - Amazon Titan Text Embeddings (`amazon.titan-embed-text-…`): one text per call,
 *   `{inputText, dimensions?, normalize}` → `{embedding, inputTextTokenCount}`
 *   (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html);
 * - Cohere Embed (`cohere.embed-…`): up to 96 texts, `{texts, input_type}` → `{embeddings}`, no token
 *   count (the pipeline estimates it)
 *   (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html).
 * The request is signed afterwards like any Bedrock request (BedrockAdapter.authorize).
 */

type Json = Record<string, unknown>;

/** Cohere Embed on Bedrock refuses more texts than this in one call. */
export const COHERE_MAX_TEXTS = 96;

/** Cohere's input types; it requires one, and OpenRouter's `input_type` words map onto them. */
const COHERE_INPUT_TYPES: Readonly<Record<string, string>> = {
  search_document: 'search_document',
  document: 'search_document',
  search_query: 'search_query',
  query: 'search_query',
  classification: 'classification',
  clustering: 'clustering',
};

const isTitan = (id: string) => /(^|\.)amazon\.titan-embed/.test(id);
const isCohere = (id: string) => /(^|\.)cohere\.embed/.test(id);

function bodyFor(req: EmbeddingRequest, upstreamModel: string): Json {
  const texts = embeddingTexts(req, 'Bedrock');
  if (isTitan(upstreamModel)) {
    // One attempt is one upstream call: several texts go to another provider, or are refused.
    if (texts.length !== 1) throw new UntranslatableRequest(`Titan embeddings on Bedrock take one text per request; this request has ${texts.length}`);
    const body: Json = { inputText: texts[0], normalize: true };
    if (req.dimensions !== undefined) body.dimensions = req.dimensions;
    return body;
  }
  if (isCohere(upstreamModel)) {
    if (texts.length > COHERE_MAX_TEXTS) throw new UntranslatableRequest(`Cohere embeddings on Bedrock take at most ${COHERE_MAX_TEXTS} texts per request; this request has ${texts.length}`);
    const inputType = req.inputType === undefined ? 'search_document' : COHERE_INPUT_TYPES[req.inputType.toLowerCase()];
    if (inputType === undefined) throw new UntranslatableRequest(`Cohere embeddings take input_type ${Object.keys(COHERE_INPUT_TYPES).join(', ')}; got "${req.inputType}"`);
    return { texts, input_type: inputType, truncate: 'NONE' };
  }
  throw new UntranslatableRequest(`no embeddings body known for Bedrock model ${upstreamModel}`);
}

const isVector = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

export const bedrockEmbeddings: EmbeddingsCapability = {
  buildRequest(req: EmbeddingRequest, endpoint: Endpoint, provider: ProviderRuntime, credential: Credential | undefined): UpstreamRequest {
    const body = bodyFor(req, endpoint.upstreamModel);
    const headers = baseHeaders(provider, false);
    headers.accept = 'application/json';
    const secret = secretFor(provider, credential);
    // An access key pair signs the finished request (BedrockAdapter.authorize); anything else is a Bedrock API key.
    if (secret && !accessKeyOf(secret)) headers.authorization = `Bearer ${secret}`;
    return { url: `${bedrockRuntimeBase(provider, credential)}/model/${encodeURIComponent(endpoint.upstreamModel)}/invoke`, headers, body: JSON.stringify(body) };
  },

  parseResponse(body: unknown, req: EmbeddingRequest): EmbeddingResult {
    const json = (body ?? {}) as Json;
    let vectors: number[][];
    let usage: EmbeddingResult['usage'] = null;
    if (isVector(json.embedding)) {
      vectors = [json.embedding];
      if (typeof json.inputTextTokenCount === 'number') usage = promptOnlyUsage(json.inputTextTokenCount);
    } else if (Array.isArray(json.embeddings) && json.embeddings.every(isVector)) {
      vectors = json.embeddings as number[][];
    } else if (Array.isArray((json.embeddings as Json | undefined)?.float)) {
      // Cohere with embedding_types asked for: {embeddings: {float: [...]}}.
      vectors = ((json.embeddings as Json).float as unknown[]).filter(isVector);
    } else {
      throw new UnusableAnswer('Bedrock embeddings answer has neither embedding nor embeddings');
    }
    if (vectors.length !== inputCount(req.input)) throw new UnusableAnswer(`Bedrock answered ${vectors.length} embeddings for ${inputCount(req.input)} inputs`);
    return { vectors, usage, ...(typeof json.id === 'string' ? { upstreamId: json.id } : {}) };
  },
};
