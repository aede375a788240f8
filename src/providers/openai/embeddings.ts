import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import { inputCount, type EmbeddingRequest, type EmbeddingResult } from '../../model/embeddings.js';
import { baseHeaders, hashUser, promptOnlyUsage, secretFor } from '../shared.js';
import { UnusableAnswer, type Credential, type EmbeddingsCapability, type UpstreamRequest } from '../types.js';

/**
 * OpenAI's embeddings API, `POST {base}/embeddings` (https://platform.openai.com/docs/api-reference/embeddings),
 * which OpenAI and most compatible hosts (DeepInfra, Mistral, Together, Nebius, Ollama, vLLM, …) speak.
 */

type Json = Record<string, unknown>;

/**
 * The request body: the input as the client gave it (texts or token ids); vectors always asked for
 * as numbers. `model` null leaves the field out (the URL names the model, as Azure's deployments do).
 */
function embeddingsRequestBody(req: EmbeddingRequest, model: string | null, endpoint: Endpoint, user: string | undefined): Json {
  const body: Json = { input: req.input.kind === 'text' ? req.input.texts : req.input.tokens };
  if (model !== null) body.model = model;
  if (req.dimensions !== undefined) body.dimensions = req.dimensions;
  // Only hosts known to take it: OpenAI's own API refuses unknown fields.
  if (req.inputType !== undefined && endpoint.supportedParameters.has('input_type')) body.input_type = req.inputType;
  if (user !== undefined) body.user = hashUser(user);
  return body;
}

/** A vector an upstream sent as base64 (little-endian float32s). */
function vectorFromBase64(text: string): number[] {
  const bytes = Buffer.from(text, 'base64');
  const out = new Array<number>(bytes.length >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

/** `{data: [{index, embedding}], usage: {prompt_tokens}}` → one vector per input, in input order. */
function parseEmbeddingsResponse(body: unknown, count: number): EmbeddingResult {
  const json = (body ?? {}) as Json;
  const data = json.data;
  if (!Array.isArray(data)) throw new UnusableAnswer('upstream embeddings answer has no data array');
  if (data.length !== count) throw new UnusableAnswer(`upstream answered ${data.length} embeddings for ${count} inputs`);
  const vectors = new Array<number[] | undefined>(count);
  data.forEach((item: Json | null, position) => {
    const index = typeof item?.index === 'number' ? item.index : position;
    const e = item?.embedding;
    const vector = typeof e === 'string' ? vectorFromBase64(e) : isNumberArray(e) ? e : null;
    if (vector === null || index < 0 || index >= count || vectors[index] !== undefined) throw new UnusableAnswer(`upstream embedding ${position} is not a vector for one of the ${count} inputs`);
    vectors[index] = vector;
  });
  const usage = json.usage as Json | undefined;
  const result: EmbeddingResult = {
    vectors: vectors as number[][],
    usage: typeof usage?.prompt_tokens === 'number' ? promptOnlyUsage(usage.prompt_tokens) : null,
  };
  if (typeof json.id === 'string') result.upstreamId = json.id;
  return result;
}

/** Where one host takes embeddings, and how it is told the key and the model. */
export interface EmbeddingsRoute {
  url(provider: ProviderRuntime, endpoint: Endpoint): string;
  /** The `model` field (null: left out). */
  model(provider: ProviderRuntime, endpoint: Endpoint): string | null;
  authorize(headers: Record<string, string>, secret: string): void;
}

/** OpenAI's own route: `{base}/embeddings`, a bearer key, `model` = the upstream id. */
export const OPENAI_EMBEDDINGS_ROUTE: EmbeddingsRoute = {
  url: (provider) => `${provider.baseUrl}/embeddings`,
  model: (_provider, endpoint) => endpoint.upstreamModel,
  authorize: (headers, secret) => {
    headers.authorization = `Bearer ${secret}`;
  },
};

export function openAIEmbeddings(route: EmbeddingsRoute): EmbeddingsCapability {
  return {
    buildRequest(req: EmbeddingRequest, endpoint: Endpoint, provider: ProviderRuntime, credential: Credential | undefined, user: string | undefined): UpstreamRequest {
      const headers = baseHeaders(provider, false);
      const secret = secretFor(provider, credential);
      if (secret) route.authorize(headers, secret);
      const body = embeddingsRequestBody(req, route.model(provider, endpoint), endpoint, user);
      return { url: route.url(provider, endpoint), headers, body: JSON.stringify(body) };
    },
    parseResponse: (body, req) => parseEmbeddingsResponse(body, inputCount(req.input)),
  };
}
