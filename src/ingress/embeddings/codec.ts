import { ApiError } from '../../core/errors.js';
import { firstError } from '../../core/validation.js';
import { totalInputChars, type EmbeddingInput, type EmbeddingResult } from '../../model/embeddings.js';
import type { GenerationRequest } from '../../model/request.js';
import type { TokenUsage } from '../../model/response.js';
import type { ClientError, CostFigures, EmbeddingsCodec, ResponseIdentity } from '../../pipeline/ingress.js';
import { validateEmbeddingsRequest } from '../../validation/compiled.js';
import type { EmbeddingsRequest } from './schema.js';

/**
 * OpenRouter's `/embeddings` wire (the OpenAI embeddings API with OpenRouter's routing fields):
 * the request into the model, the vectors and usage back, errors in OpenRouter's envelope.
 * https://openrouter.ai/docs/api/reference/embeddings, https://platform.openai.com/docs/api-reference/embeddings
 */

/** OpenAI's limit on inputs per request. */
export const MAX_INPUTS = 2048;

const bad = (message: string) => new ApiError(400, message, { error_type: 'invalid_request' });

const isTokenId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** `input` in any of its shapes → texts or token lists; a clear 400 for anything else. */
export function parseInput(input: unknown): EmbeddingInput {
  if (typeof input === 'string') {
    if (input === '') throw bad('input must not be empty');
    return { kind: 'text', texts: [input] };
  }
  if (!Array.isArray(input) || input.length === 0) throw bad('input must be a string, an array of strings, an array of token ids or an array of token-id arrays (non-empty)');
  if (input.length > MAX_INPUTS) throw bad(`input may hold at most ${MAX_INPUTS} items`);
  const first: unknown = input[0];
  if (typeof first === 'string') {
    input.forEach((t, i) => {
      if (typeof t !== 'string') throw bad(`input[${i}] must be a string, like input[0]`);
      if (t === '') throw bad(`input[${i}] must not be empty`);
    });
    return { kind: 'text', texts: input as string[] };
  }
  if (typeof first === 'number') {
    input.forEach((t, i) => {
      if (!isTokenId(t)) throw bad(`input[${i}] must be a token id (a non-negative integer), like input[0]`);
    });
    return { kind: 'tokens', tokens: [input as number[]] };
  }
  if (Array.isArray(first)) {
    input.forEach((list, i) => {
      if (!Array.isArray(list) || list.length === 0) throw bad(`input[${i}] must be a non-empty array of token ids, like input[0]`);
      list.forEach((t, j) => {
        if (!isTokenId(t)) throw bad(`input[${i}][${j}] must be a token id (a non-negative integer)`);
      });
    });
    return { kind: 'tokens', tokens: input as number[][] };
  }
  if (first !== null && typeof first === 'object') throw bad('multimodal embedding input (content parts) is not supported; send text or token ids');
  throw bad('input must be a string, an array of strings, an array of token ids or an array of token-id arrays');
}

export function parseEmbeddingsRequest(body: unknown, maxModels: number): GenerationRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('Request body must be a JSON object');
  if (!validateEmbeddingsRequest(body)) throw bad(firstError(validateEmbeddingsRequest));
  const req = body as EmbeddingsRequest;
  if (req.stream === true) throw bad('stream is not supported for embeddings: the answer is one JSON body');
  if (!req.model && !(req.models && req.models.length > 0)) throw bad('model is required');
  if (req.models && req.models.length > maxModels) throw bad(`models may list at most ${maxModels} models`);
  if (!('input' in req)) throw bad('input is required');
  const input = parseInput(req.input);
  const embedding: NonNullable<GenerationRequest['embedding']> = { input, encodingFormat: req.encoding_format ?? 'float' };
  if (req.dimensions != null) embedding.dimensions = req.dimensions;
  if (req.input_type != null) embedding.inputType = req.input_type;
  const model: GenerationRequest = {
    api: 'embeddings',
    model: req.model ?? null,
    models: req.models ?? [],
    provider: (req.provider as Record<string, unknown> | null | undefined) ?? null,
    messages: [],
    tools: [],
    stream: false,
    extra: {},
    embedding,
    promptChars: totalInputChars(input),
    parameters: req.dimensions != null ? ['dimensions'] : [],
  };
  if (req.user != null) model.user = req.user;
  if (req.session_id !== undefined) model.sessionId = req.session_id;
  return model;
}

/** A vector as OpenAI's base64 encoding writes it: little-endian float32s. */
export function base64Vector(vector: readonly number[]): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes.toString('base64');
}

export function embeddingsBody(who: ResponseIdentity, result: EmbeddingResult, usage: TokenUsage, cost: CostFigures): Record<string, unknown> {
  const base64 = who.request.embedding?.encodingFormat === 'base64';
  return {
    id: who.id,
    object: 'list',
    data: result.vectors.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? base64Vector(v) : v })),
    // The id the client asked for, as OpenRouter answers.
    model: who.requestedModel,
    provider: who.provider,
    usage: { prompt_tokens: usage.promptTokens, total_tokens: usage.promptTokens + usage.completionTokens, cost: cost.total },
  };
}

export function embeddingsCodec(): EmbeddingsCodec {
  return {
    api: 'embeddings',
    parse: (body, _headers, ctx) => parseEmbeddingsRequest(body, ctx.maxModels),
    errorBody: (err: ClientError) => ({ status: err.status, body: new ApiError(err.status, err.message, err.metadata).toBody() }),
    embeddingsBody,
  };
}
