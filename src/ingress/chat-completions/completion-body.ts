import type { WireEra } from '../../config/load.js';
import type { Completion } from '../../model/response.js';
import { normaliseFinishReason } from '../../model/finish-reason.js';
import { toolCallId } from './chunk-encoder.js';
import { annotationJson } from './annotations.js';

export interface BodyIdentity {
  id: string;
  created: number;
  model: string;
  provider: string;
}

/** OpenRouter's non-streaming `chat.completion` body in the era's key order (docs/COMPATIBILITY.md#completion-body). */
export function completionBody(
  who: BodyIdentity,
  c: Completion,
  usage: Record<string, unknown>,
  era: WireEra,
  excludeReasoning: boolean,
): Record<string, unknown> {
  const finish = normaliseFinishReason(c.finishReason, c.toolCalls.length > 0);
  const message: Record<string, unknown> = { role: 'assistant' };
  if (era === '2026') {
    message.content = c.content === '' && c.toolCalls.length > 0 ? null : c.content;
    message.refusal = c.refusal;
    message.reasoning = excludeReasoning ? null : c.reasoning;
    if (c.toolCalls.length > 0) {
      message.tool_calls = c.toolCalls.map((t, index) => ({
        type: 'function',
        index,
        id: t.id || toolCallId(who.id, index),
        function: { name: t.name, arguments: t.arguments },
      }));
    }
    if (!excludeReasoning && c.reasoningDetails.length > 0) message.reasoning_details = c.reasoningDetails;
    if (c.annotations && c.annotations.length > 0) message.annotations = c.annotations.map(annotationJson);
    const body: Record<string, unknown> = {
      id: who.id,
      object: 'chat.completion',
      created: who.created,
      model: who.model,
      provider: who.provider,
      system_fingerprint: c.systemFingerprint ?? null,
    };
    if (c.serviceTier) body.service_tier = c.serviceTier;
    body.choices = [
      { index: 0, logprobs: c.logprobs ?? null, finish_reason: finish, native_finish_reason: c.finishReason, message },
    ];
    body.usage = usage;
    return body;
  }
  message.content = c.content ?? (c.toolCalls.length > 0 ? '' : null);
  message.refusal = c.refusal;
  message.reasoning = excludeReasoning ? null : c.reasoning;
  if (c.toolCalls.length > 0) {
    message.tool_calls = c.toolCalls.map((t, index) => ({ ...(t.raw ?? { id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }), index }));
  }
  if (!excludeReasoning && c.reasoningDetails.length > 0) message.reasoning_details = c.reasoningDetails;
  if (c.annotations && c.annotations.length > 0) message.annotations = c.annotations.map(annotationJson);
  const body: Record<string, unknown> = {
    id: who.id,
    provider: who.provider,
    model: who.model,
    object: 'chat.completion',
    created: who.created,
    choices: [{ logprobs: c.logprobs ?? null, finish_reason: finish, native_finish_reason: c.finishReason, index: 0, message }],
  };
  if (c.systemFingerprint !== undefined) body.system_fingerprint = c.systemFingerprint;
  body.usage = usage;
  return body;
}
