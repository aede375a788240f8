/**
 * The wire-neutral model of an embeddings request and its answer. The embeddings front door
 * parses its wire into an EmbeddingRequest (carried on GenerationRequest.embedding, so routing,
 * admission, the attempt loop and the records treat it as any other generation); provider
 * adapters that serve embeddings translate it into their upstream's wire and read the vectors back.
 */
import type { TokenUsage } from './response.js';

/** What to embed: texts, or texts already split into token ids (OpenAI-compatible hosts only). */
export type EmbeddingInput = { kind: 'text'; texts: string[] } | { kind: 'tokens'; tokens: number[][] };

export interface EmbeddingRequest {
  input: EmbeddingInput;
  /** Length of each vector, for models that can shorten theirs (Matryoshka). */
  dimensions?: number;
  /** How the client wants the vectors written; upstreams are always asked for numbers. */
  encodingFormat: 'float' | 'base64';
  /** What the texts are for (`search_query`, `search_document`, `classification`, `clustering`, …). */
  inputType?: string;
}

/** One vector per input, in input order. */
export interface EmbeddingResult {
  vectors: number[][];
  /** Null when the upstream reported none (the pipeline then estimates it from the input). */
  usage: TokenUsage | null;
  upstreamId?: string;
}

/**
 * The request as consecutive calls of at most `maxInputs` inputs each, in order (one call when it
 * fits, or when there is no limit).
 */
export function splitEmbedding(req: EmbeddingRequest, maxInputs: number | undefined): EmbeddingRequest[] {
  const count = inputCount(req.input);
  if (maxInputs === undefined || count <= maxInputs) return [req];
  const calls: EmbeddingRequest[] = [];
  for (let from = 0; from < count; from += maxInputs) {
    const to = from + maxInputs;
    const input: EmbeddingInput = req.input.kind === 'text' ? { kind: 'text', texts: req.input.texts.slice(from, to) } : { kind: 'tokens', tokens: req.input.tokens.slice(from, to) };
    calls.push({ ...req, input });
  }
  return calls;
}

/** The answers of consecutive calls as one: vectors in call order, usage summed (null when any call reported none). */
export function joinEmbeddingResults(results: readonly EmbeddingResult[]): EmbeddingResult {
  if (results.length === 1) return results[0];
  let usage: TokenUsage | null = null;
  if (results.every((r) => r.usage !== null)) {
    usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, audioPromptTokens: 0 };
    for (const r of results) {
      const u = r.usage!;
      usage.promptTokens += u.promptTokens;
      usage.completionTokens += u.completionTokens;
      usage.cachedTokens += u.cachedTokens;
      usage.cacheWriteTokens += u.cacheWriteTokens;
      usage.reasoningTokens += u.reasoningTokens;
      usage.audioPromptTokens += u.audioPromptTokens;
    }
  }
  const upstreamId = results[0].upstreamId;
  return { vectors: results.flatMap((r) => r.vectors), usage, ...(upstreamId !== undefined ? { upstreamId } : {}) };
}

/** How many vectors a request asks for. */
export function inputCount(input: EmbeddingInput): number {
  return input.kind === 'text' ? input.texts.length : input.tokens.length;
}

/** Characters of the longest text (a token counts as four): what must fit one endpoint's context. */
export function longestInputChars(input: EmbeddingInput): number {
  let max = 0;
  if (input.kind === 'text') for (const t of input.texts) max = Math.max(max, t.length);
  else for (const t of input.tokens) max = Math.max(max, t.length * 4);
  return max;
}

/** Characters of all the inputs together (a token counts as four), for token estimates. */
export function totalInputChars(input: EmbeddingInput): number {
  let sum = 0;
  if (input.kind === 'text') for (const t of input.texts) sum += t.length;
  else for (const t of input.tokens) sum += t.length * 4;
  return sum;
}
