import type { WireEra } from '../../config/load.js';
import { ApiError } from '../../core/errors.js';
import { firstError } from '../../core/validation.js';
import { validateChatRequest } from '../../validation/compiled.js';
import { usageJson } from './usage.js';
import type { ClientError, IngressCodec, ResponseIdentity } from '../../pipeline/ingress.js';
import { ChunkEncoder } from './chunk-encoder.js';
import { completionBody } from './completion-body.js';
import type { ChatRequest } from './schema.js';
import { chatToModel } from './to-model.js';

/** OpenRouter's keep-alive comment, repeated while the upstream is quiet. */
const KEEPALIVE_COMMENT = ': OPENROUTER PROCESSING\n\n';

export function parseChatRequest(body: unknown, maxModels: number): ChatRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'Request body must be a JSON object');
  }
  if (!validateChatRequest(body)) throw new ApiError(400, firstError(validateChatRequest));
  const req = body as ChatRequest;
  if (!req.messages) {
    if (typeof req.prompt !== 'string') throw new ApiError(400, 'messages is required (a non-empty array)');
    req.messages = [{ role: 'user', content: req.prompt }];
  }
  if (!req.model && !(req.models && req.models.length > 0)) throw new ApiError(400, 'model is required');
  if (req.models && req.models.length > maxModels) throw new ApiError(400, `models may list at most ${maxModels} models`);
  if (req.reasoning_effort && req.reasoning?.effort && req.reasoning_effort !== req.reasoning.effort) {
    throw new ApiError(400, 'reasoning_effort and reasoning.effort disagree; send one of them');
  }
  if (req.top_logprobs != null && req.logprobs !== true) throw new ApiError(400, 'top_logprobs requires logprobs: true');
  return req;
}

/** The model id a response names: 2026 streams name the serving model's canonical slug, 2025 the requested id. */
const shownModel = (era: WireEra, who: ResponseIdentity) => (era === '2025' ? who.requestedModel : who.model);

/** OpenRouter's `/chat/completions` wire: request parsing, chunks, bodies and errors in the chosen era. */
export function chatCompletionsCodec(era: WireEra): IngressCodec {
  return {
    api: 'chat_completions',
    keepAlive: KEEPALIVE_COMMENT,
    jsonKeepAlive: true,
    parse(body, _headers, ctx) {
      const chat = parseChatRequest(body, ctx.maxModels);
      return chatToModel(chat, JSON.stringify(chat.messages).length);
    },
    errorBody(err: ClientError) {
      return { status: err.status, body: new ApiError(err.status, err.message, err.metadata).toBody() };
    },
    streamEncoder(who) {
      return new ChunkEncoder(era, who.id, who.created, shownModel(era, who), who.provider);
    },
    completionBody(who, completion, usage, cost) {
      const body = completionBody(
        { id: who.id, created: who.created, model: shownModel(era, who), provider: who.provider },
        completion,
        usageJson(usage, cost, era),
        era,
        who.request.reasoning?.hide === true,
      );
      const finishReason = ((body.choices as Record<string, unknown>[])[0].finish_reason as string | null) ?? null;
      return { body, finishReason };
    },
  };
}
