import { randomAlnum } from '../../core/ids.js';
import type { Completion, DecoderOptions, ReasoningDetail, SseEvent, StreamDecoder, TokenUsage, UpstreamChunk, UpstreamFailure } from '../types.js';
import { Grounding } from './grounding.js';
import { GEMINI_FORMAT } from './request.js';

/**
 * Gemini `GenerateContentResponse` → normalised pieces. A streamed event is a whole
 * GenerateContentResponse too (text, function calls, finish reason and usage may all arrive in one
 * event), and the stream has no terminator: it ends when the body ends, after the event that
 * carried `finishReason`. Google Search grounding (`groundingMetadata`) becomes url_citation
 * annotations and the usage's web search count (grounding.ts).
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** OpenRouter's id for a Gemini function call: `tool_<name>_<20 alnum>` (docs/COMPATIBILITY.md#tool-call-deltas). */
export function toolCallId(name: string): string {
  return `tool_${name}_${randomAlnum(20)}`;
}

/** `usageMetadata` → token usage. Gemini's prompt count already includes cached tokens. */
export function toUsage(u: unknown): TokenUsage | undefined {
  if (!isObject(u)) return undefined;
  if (typeof u.promptTokenCount !== 'number' && typeof u.candidatesTokenCount !== 'number' && typeof u.totalTokenCount !== 'number') {
    return undefined;
  }
  const thoughts = num(u.thoughtsTokenCount);
  const details = Array.isArray(u.promptTokensDetails) ? (u.promptTokensDetails as Json[]) : [];
  const audio = details.filter((d) => isObject(d) && d.modality === 'AUDIO').reduce((n, d) => n + num(d.tokenCount), 0);
  return {
    // Tokens of built-in tool prompts (search results, code execution) are billed as input.
    promptTokens: num(u.promptTokenCount) + num(u.toolUsePromptTokenCount),
    completionTokens: num(u.candidatesTokenCount) + thoughts,
    cachedTokens: num(u.cachedContentTokenCount),
    cacheWriteTokens: 0,
    reasoningTokens: thoughts,
    audioPromptTokens: audio,
  };
}

const textDetail = (text: string, index: number): ReasoningDetail => ({ type: 'reasoning.text', text, format: GEMINI_FORMAT, index });

/** Key order as OpenRouter prints it: type, data, format, id, index. */
function encryptedDetail(data: string, id: string | undefined, index: number): ReasoningDetail {
  const d: ReasoningDetail = { type: 'reasoning.encrypted', data, format: GEMINI_FORMAT, index };
  if (id === undefined) return d;
  return { type: 'reasoning.encrypted', data, format: GEMINI_FORMAT, id, index };
}

function firstCandidate(json: Json): Json | undefined {
  const c = Array.isArray(json.candidates) ? json.candidates[0] : undefined;
  return isObject(c) ? c : undefined;
}

function partsOf(candidate: Json | undefined): Json[] {
  const content = candidate?.content;
  if (!isObject(content) || !Array.isArray(content.parts)) return [];
  return content.parts.filter(isObject);
}

/**
 * The native finish value: the candidate's finishReason, or — when the prompt itself was blocked
 * and no candidate came back — promptFeedback.blockReason (SAFETY, PROHIBITED_CONTENT, …).
 */
function nativeFinish(json: Json, candidate: Json | undefined): string | null {
  if (typeof candidate?.finishReason === 'string' && candidate.finishReason !== 'FINISH_REASON_UNSPECIFIED') return candidate.finishReason;
  const feedback = json.promptFeedback;
  if (!candidate && isObject(feedback) && typeof feedback.blockReason === 'string') return feedback.blockReason;
  return null;
}

function errorFailure(e: Json): UpstreamFailure {
  const code = typeof e.code === 'number' && e.code >= 400 ? e.code : statusOf(typeof e.status === 'string' ? e.status : '');
  return { status: code, raw: typeof e.message === 'string' ? e.message : JSON.stringify(e) };
}

/** google.rpc.Code names → HTTP status, for error objects that carry no numeric code. */
export function statusOf(status: string): number {
  const map: Record<string, number> = {
    INVALID_ARGUMENT: 400,
    FAILED_PRECONDITION: 400,
    OUT_OF_RANGE: 400,
    UNAUTHENTICATED: 401,
    PERMISSION_DENIED: 403,
    NOT_FOUND: 404,
    ABORTED: 409,
    ALREADY_EXISTS: 409,
    RESOURCE_EXHAUSTED: 429,
    CANCELLED: 499,
    INTERNAL: 500,
    UNKNOWN: 500,
    DATA_LOSS: 500,
    UNIMPLEMENTED: 501,
    UNAVAILABLE: 503,
    DEADLINE_EXCEEDED: 504,
  };
  return map[status] ?? 502;
}

export class GeminiStreamDecoder implements StreamDecoder {
  private toolIndex = 0;
  /** Whether the model reasoned: thought parts, signatures, or thinking tokens in the usage. */
  private reasoned = false;
  /**
   * The answer's text so far, kept only when the request may search (DecoderOptions.webSearch):
   * grounding metadata arrives after the text it cites, with positions to be read in that text.
   */
  private text: string | null;
  private grounding: Grounding | null = null;
  /** Whether the citations went out (once, before the finish). */
  private cited = false;

  constructor(opts: DecoderOptions = {}) {
    this.text = opts.webSearch === true ? '' : null;
  }

  decode(event: SseEvent): UpstreamChunk[] | null {
    const data = event.data.trim();
    if (data.length === 0 || data === '[DONE]') return [];
    let json: Json;
    try {
      json = JSON.parse(data) as Json;
    } catch {
      return [{ error: { status: 502, raw: `upstream sent invalid JSON in stream: ${data.slice(0, 200)}` } }];
    }
    if (isObject(json.error)) return [{ error: errorFailure(json.error) }];

    const out: UpstreamChunk[] = [];
    const candidate = firstCandidate(json);
    // Where each of this event's text parts starts in the answer (grounding segments count from there).
    const partStarts: (number | undefined)[] | null = this.text === null ? null : [];
    const parts = partsOf(candidate);
    for (let partIndex = 0; partIndex < parts.length; partIndex++) {
      const part = parts[partIndex]!;
      const signature = typeof part.thoughtSignature === 'string' && part.thoughtSignature !== '' ? part.thoughtSignature : undefined;
      if (isObject(part.functionCall)) {
        const fc = part.functionCall;
        const name = typeof fc.name === 'string' ? fc.name : '';
        const id = toolCallId(name);
        // The signature travels as an encrypted detail keyed by the call id, before the call.
        if (signature) {
          this.reasoned = true;
          out.push({ choice: { reasoning: null, reasoningDetails: [encryptedDetail(signature, id, 0)], finishReason: null } });
        }
        out.push({
          choice: {
            toolCalls: [{ index: this.toolIndex++, id, type: 'function', name, arguments: JSON.stringify(fc.args ?? {}) }],
            finishReason: null,
          },
        });
        continue;
      }
      if (typeof part.text === 'string') {
        if (part.thought === true) {
          this.reasoned = true;
          if (part.text !== '') out.push({ choice: { reasoning: part.text, reasoningDetails: [textDetail(part.text, 0)], finishReason: null } });
        } else {
          if (partStarts !== null) {
            partStarts[partIndex] = this.text!.length;
            this.text += part.text;
          }
          if (part.text !== '') out.push({ choice: { content: part.text, finishReason: null } });
        }
      }
      if (signature) {
        this.reasoned = true;
        out.push({ choice: { reasoning: null, reasoningDetails: [encryptedDetail(signature, undefined, 0)], finishReason: null } });
      }
    }
    // Without the text (a request that did not ask to search) citations cannot be placed: 0–0.
    if (isObject(candidate?.groundingMetadata)) (this.grounding ??= new Grounding()).add(candidate.groundingMetadata, this.text ?? '', partStarts ?? []);

    const usage = toUsage(json.usageMetadata);
    if (usage && usage.reasoningTokens > 0) this.reasoned = true;
    const searches = this.grounding?.searches() ?? 0;
    if (usage && searches > 0) usage.webSearchRequests = searches;
    const finish = nativeFinish(json, candidate);
    if (finish !== null && this.grounding && !this.cited) {
      // The citations go out before the finish, placed in the whole answer.
      this.cited = true;
      const annotations = this.grounding.annotations();
      if (annotations.length > 0) out.push({ choice: { annotations, finishReason: null } });
    }
    // OpenRouter's finish chunk carries reasoning:null when the model reasoned (docs/COMPATIBILITY.md#finish-chunk).
    if (finish !== null) out.push({ choice: this.reasoned ? { reasoning: null, finishReason: finish } : { finishReason: finish } });
    const tail: UpstreamChunk = {};
    if (usage) tail.usage = usage;
    if (typeof json.responseId === 'string') tail.upstreamId = json.responseId;
    if (tail.usage || tail.upstreamId) out.push(tail);
    return out;
  }
}

export function parseCompletion(body: unknown): Completion {
  const json = isObject(body) ? body : {};
  const candidate = firstCandidate(json);
  let content = '';
  let reasoning: string | null = null;
  const reasoningDetails: ReasoningDetail[] = [];
  const toolCalls: Completion['toolCalls'] = [];
  const partStarts: (number | undefined)[] = [];
  const parts = partsOf(candidate);
  for (let partIndex = 0; partIndex < parts.length; partIndex++) {
    const part = parts[partIndex]!;
    const signature = typeof part.thoughtSignature === 'string' && part.thoughtSignature !== '' ? part.thoughtSignature : undefined;
    if (isObject(part.functionCall)) {
      const fc = part.functionCall;
      const name = typeof fc.name === 'string' ? fc.name : '';
      const id = toolCallId(name);
      if (signature) reasoningDetails.push(encryptedDetail(signature, id, reasoningDetails.length));
      toolCalls.push({ id, type: 'function', name, arguments: JSON.stringify(fc.args ?? {}) });
      continue;
    }
    if (typeof part.text === 'string') {
      if (part.thought === true) {
        reasoning = (reasoning ?? '') + part.text;
        reasoningDetails.push(textDetail(part.text, reasoningDetails.length));
      } else {
        partStarts[partIndex] = content.length;
        content += part.text;
      }
    }
    if (signature) reasoningDetails.push(encryptedDetail(signature, undefined, reasoningDetails.length));
  }
  const completion: Completion = {
    content,
    reasoning,
    reasoningDetails,
    toolCalls,
    refusal: null,
    finishReason: nativeFinish(json, candidate),
    usage: toUsage(json.usageMetadata) ?? null,
  };
  if (isObject(candidate?.groundingMetadata)) {
    const grounding = new Grounding();
    grounding.add(candidate.groundingMetadata, content, partStarts);
    const annotations = grounding.annotations();
    if (annotations.length > 0) completion.annotations = annotations;
    const searches = grounding.searches();
    if (completion.usage && searches > 0) completion.usage.webSearchRequests = searches;
  }
  if (typeof json.responseId === 'string') completion.upstreamId = json.responseId;
  return completion;
}
