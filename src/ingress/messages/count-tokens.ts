import type { IncomingHttpHeaders } from 'node:http';
import type { GenerationRequest } from '../../model/request.js';
import { messagesToModel, promptCharsOf, validateMessagesBody } from './to-model.js';
import type { MessagesRequest } from './schema.js';

/**
 * POST /v1/messages/count_tokens: the body of a Messages request without max_tokens (model,
 * messages, system, tools, tool_choice, thinking, …), answered with `{"input_tokens": n}`.
 *
 * An Anthropic upstream that would serve the model counts exactly (the request is forwarded,
 * src/pipeline/count-tokens.ts); without one, the count is an estimate: about four characters per
 * token over the system prompt, the messages and the tool definitions as JSON (the same rule the
 * gateway uses for admission). Claude Code calls this for `/context` and, when it fails, falls
 * back to its own estimate.
 */

/** Characters per token of the estimate. */
export const CHARS_PER_TOKEN = 4;

export interface CountTokensRequest {
  /** The model id as the client named it. */
  model: string;
  /** The request as the model (routing, and the client's body kept for forwarding to an Anthropic upstream). */
  generation: GenerationRequest;
  /** The estimate, in tokens. */
  inputTokens: number;
}

/** Characters of what count_tokens counts: system, messages and tools as JSON. */
export function countedChars(req: MessagesRequest): number {
  return promptCharsOf(req) + (Array.isArray(req.tools) && req.tools.length > 0 ? JSON.stringify(req.tools).length : 0);
}

/** Validates a count_tokens body (ApiError 400 naming the field) and estimates its tokens. */
export function parseCountTokensRequest(body: unknown, headers: IncomingHttpHeaders = {}): CountTokensRequest {
  const req = validateMessagesBody(body);
  // The same block checks as a Messages request (a malformed block is a 400 here too); count_tokens
  // has no max_tokens, which the model of a generation requires: one is lent, the native body keeps none.
  const generation = messagesToModel({ ...req, max_tokens: 1 }, headers);
  generation.maxTokens = undefined;
  if (generation.native) generation.native = { ...generation.native, body: req };
  return { model: req.model, generation, inputTokens: Math.max(1, Math.ceil(countedChars(req) / CHARS_PER_TOKEN)) };
}

/** The count_tokens answer for a body: `{"input_tokens": n}` (estimated). */
export function countTokens(body: unknown): { input_tokens: number } {
  return { input_tokens: parseCountTokensRequest(body).inputTokens };
}
