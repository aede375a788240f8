import { extractErrorMessage, sseEventText, typedJsonEvent } from '../shared.js';
import type { Annotation, Completion, ReasoningDetail, SseEvent, StreamDecoder, TokenUsage, ToolCallDelta, UpstreamChunk, UpstreamFailure } from '../types.js';
import { RESPONSES_REASONING_FORMAT } from './request.js';

/**
 * OpenAI Responses answers → the model's pieces: the streamed events
 * (https://platform.openai.com/docs/api-reference/responses-streaming), the response object, its
 * usage, and its errors as typed failures.
 */

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * Responses usage → the model's (input includes cached tokens, output includes reasoning tokens, as
 * in OpenAI's), with the web searches the response's output items record (one `web_search_call`
 * each: what OpenAI bills per call).
 */
export function responsesUsage(u: unknown, items?: unknown): TokenUsage | undefined {
  if (!isObj(u) || (typeof u.input_tokens !== 'number' && typeof u.output_tokens !== 'number')) return undefined;
  const input = isObj(u.input_tokens_details) ? u.input_tokens_details : {};
  const output = isObj(u.output_tokens_details) ? u.output_tokens_details : {};
  const usage: TokenUsage = {
    promptTokens: num(u.input_tokens),
    completionTokens: num(u.output_tokens),
    cachedTokens: num(input.cached_tokens),
    cacheWriteTokens: num(input.cache_write_tokens),
    reasoningTokens: num(output.reasoning_tokens),
    audioPromptTokens: num(input.audio_tokens),
  };
  const searches = Array.isArray(items) ? items.filter((i) => isObj(i) && i.type === 'web_search_call').length : 0;
  if (searches > 0) usage.webSearchRequests = searches;
  return usage;
}

/**
 * The HTTP status an error code of a Responses stream or response stands for, so the pipeline
 * knows whether another provider may serve (rate limits and server errors) or the request itself
 * is at fault (invalid prompts and images).
 */
export function statusOfErrorCode(code: unknown): number {
  if (typeof code !== 'string' || code === '') return 502;
  if (code === 'rate_limit_exceeded' || code === 'insufficient_quota') return 429;
  if (code === 'server_is_overloaded' || code === 'overloaded') return 503;
  if (code === 'vector_store_timeout' || code === 'timeout') return 504;
  if (code === 'context_length_exceeded' || code.startsWith('invalid') || code.includes('image') || code === 'content_filter') return 400;
  return 500;
}

/** A stream's `error` event or a failed response's `error` object → a failure. */
function failureOf(error: unknown, fallback: string): UpstreamFailure {
  const e = isObj(error) ? (isObj(error.error) ? error.error : error) : {};
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : fallback;
  const code = typeof e.code === 'string' ? e.code : typeof e.type === 'string' ? e.type : undefined;
  return { status: statusOfErrorCode(code), raw: code ? `${code}: ${message}` : message };
}

/** How an unfinished response ended, as the upstream names it (`max_output_tokens`, `content_filter`). */
function incompleteReason(response: Json): string {
  const details = isObj(response.incomplete_details) ? response.incomplete_details : {};
  return typeof details.reason === 'string' ? details.reason : 'incomplete';
}

/** The upstream's finish value for a finished response object. */
function finishOf(response: Json): string {
  if (response.status === 'incomplete') return incompleteReason(response);
  if (response.status === 'failed') return 'error';
  return 'completed';
}

function reasoningDetails(item: Json, index: number): ReasoningDetail[] {
  const out: ReasoningDetail[] = [];
  const id = typeof item.id === 'string' ? item.id : undefined;
  const texts = (v: unknown): string[] => (Array.isArray(v) ? v.filter((p): p is Json => isObj(p) && typeof p.text === 'string').map((p) => p.text as string) : []);
  const summary = texts(item.summary).join('\n\n');
  const text = texts(item.content).join('');
  if (summary !== '') out.push({ type: 'reasoning.summary', summary, format: RESPONSES_REASONING_FORMAT, index, id });
  else if (text !== '') out.push({ type: 'reasoning.text', text, format: RESPONSES_REASONING_FORMAT, index, id });
  if (typeof item.encrypted_content === 'string' && item.encrypted_content !== '') {
    out.push({ type: 'reasoning.encrypted', data: item.encrypted_content, format: RESPONSES_REASONING_FORMAT, index, id });
  }
  return out;
}

/** One content part of one output item, as a number: no string built on every text delta. */
const partKey = (outputIndex: number, contentIndex: unknown): number => outputIndex * 65536 + num(contentIndex);

/**
 * An output_text part's `url_citation` annotations, their indices (into the part's text) moved by
 * `offset`, where the part starts in the answer's text. Other annotation types (file citations,
 * file paths) have no equivalent in the model.
 */
function partCitations(annotations: unknown, offset: number): Annotation[] {
  const out: Annotation[] = [];
  for (const a of Array.isArray(annotations) ? annotations : [annotations]) {
    if (!isObj(a) || a.type !== 'url_citation' || typeof a.url !== 'string') continue;
    out.push({ type: 'url_citation', url: a.url, title: typeof a.title === 'string' ? a.title : '', startIndex: offset + num(a.start_index), endIndex: offset + num(a.end_index) });
  }
  return out;
}

/** A complete response object → the model's completion (`native`: the object itself). */
export function parseResponsesCompletion(body: unknown): Completion {
  const json = isObj(body) ? body : {};
  let content: string | null = null;
  let refusal: string | null = null;
  let reasoning: string | null = null;
  const details: ReasoningDetail[] = [];
  const toolCalls: Completion['toolCalls'] = [];
  const annotations: Annotation[] = [];
  const output = Array.isArray(json.output) ? json.output : [];
  output.forEach((raw, index) => {
    if (!isObj(raw)) return;
    switch (raw.type) {
      case 'message':
        for (const part of Array.isArray(raw.content) ? raw.content : []) {
          if (!isObj(part)) continue;
          if (part.type === 'output_text' && typeof part.text === 'string') {
            annotations.push(...partCitations(part.annotations, content?.length ?? 0));
            content = (content ?? '') + part.text;
          }
          if (part.type === 'refusal' && typeof part.refusal === 'string') refusal = (refusal ?? '') + part.refusal;
        }
        break;
      case 'function_call':
        toolCalls.push({ id: String(raw.call_id ?? ''), type: 'function', name: String(raw.name ?? ''), arguments: typeof raw.arguments === 'string' ? raw.arguments : '{}' });
        break;
      case 'custom_tool_call':
        toolCalls.push({ id: String(raw.call_id ?? ''), type: 'custom', name: String(raw.name ?? ''), arguments: typeof raw.input === 'string' ? raw.input : '' });
        break;
      case 'reasoning': {
        const found = reasoningDetails(raw, index);
        for (const d of found) {
          const readable = d.summary ?? d.text;
          if (readable) reasoning = reasoning === null ? readable : `${reasoning}\n\n${readable}`;
        }
        details.push(...found);
        break;
      }
      default:
        // Hosted tool records (web_search_call, …): only a client of the Responses wire can use them (native).
        break;
    }
  });
  const completion: Completion = {
    content,
    reasoning,
    reasoningDetails: details,
    toolCalls,
    refusal,
    finishReason: finishOf(json),
    usage: responsesUsage(json.usage, json.output) ?? null,
    upstreamId: typeof json.id === 'string' ? json.id : undefined,
    native: json,
  };
  if (typeof json.service_tier === 'string') completion.serviceTier = json.service_tier;
  if (annotations.length > 0) completion.annotations = annotations;
  return completion;
}

/** An HTTP error answer: OpenAI's `{"error":{"message","type","param","code"}}`. */
export function parseResponsesError(status: number, body: string): UpstreamFailure {
  return { status, raw: extractErrorMessage(body) };
}

/** Events after which nothing more comes: the stream is over once one is decoded. */
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * Responses SSE → UpstreamChunks. Output items are told apart by `output_index`; function and
 * custom tool calls are numbered in order of appearance (the tool-call index clients merge on);
 * a reasoning item's summary (or reasoning text) streams as reasoning, and its encrypted content,
 * complete only in `output_item.done`, follows as a `reasoning.encrypted` detail of the same block.
 * Citations (`output_text.annotation.added`) index into their part's text: they are moved to
 * where that part starts in the answer's text. Events that carry nothing for the model
 * (in_progress, hosted tool progress, …) decode to nothing.
 *
 * With `keepNative`, each event's text rides on the first chunk decoded from it (an event that
 * decodes to nothing comes back as `[{ native }]`), so a client of the Responses wire receives the
 * upstream's events unchanged. Responses streams have no end marker: `ended` turns true with
 * response.completed, .incomplete or .failed.
 */
export class ResponsesStreamDecoder implements StreamDecoder {
  ended = false;
  /** output_index → the tool call's position among the response's calls. */
  private readonly calls = new Map<number, { index: number; streamed: boolean }>();
  /** Characters of answer text so far. */
  private textLength = 0;
  /** `output_index:content_index` of each output_text part → where its text starts in the answer's. */
  private readonly partStarts = new Map<number, number>();

  constructor(private readonly keepNative = false) {}

  decode(event: SseEvent): UpstreamChunk[] | null {
    const chunks = this.translate(event);
    if (!this.keepNative || chunks === null) return chunks;
    const native = sseEventText(event);
    if (chunks.length === 0) return [{ native }];
    chunks[0].native = native;
    return chunks;
  }

  private translate(event: SseEvent): UpstreamChunk[] | null {
    if (event.data.trim() === '[DONE]') return null;
    const parsed = typedJsonEvent(event);
    if (Array.isArray(parsed)) return parsed;
    const { json, type } = parsed;
    if (TERMINAL.has(type)) this.ended = true;
    const at = num(json.output_index);
    const delta = typeof json.delta === 'string' ? json.delta : '';
    switch (type) {
      case 'response.created': {
        const r = isObj(json.response) ? json.response : {};
        return typeof r.id === 'string' ? [{ upstreamId: r.id }] : [];
      }
      case 'response.content_part.added':
        if (isObj(json.part) && json.part.type === 'output_text') this.partStarts.set(partKey(at, json.content_index), this.textLength);
        return [];
      case 'response.output_text.delta': {
        // A part whose content_part.added was not seen starts with its first delta.
        const part = partKey(at, json.content_index);
        if (!this.partStarts.has(part)) this.partStarts.set(part, this.textLength);
        this.textLength += delta.length;
        return delta === '' ? [] : [{ choice: { content: delta, finishReason: null } }];
      }
      case 'response.output_text.annotation.added': {
        const annotations = partCitations(json.annotation, this.partStarts.get(partKey(at, json.content_index)) ?? 0);
        return annotations.length > 0 ? [{ choice: { annotations, finishReason: null } }] : [];
      }
      case 'response.refusal.delta':
        return delta === '' ? [] : [{ choice: { refusal: delta, finishReason: null } }];
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta': {
        if (delta === '') return [];
        const summary = type === 'response.reasoning_summary_text.delta';
        const id = typeof json.item_id === 'string' ? json.item_id : undefined;
        const detail: ReasoningDetail = summary
          ? { type: 'reasoning.summary', summary: delta, format: RESPONSES_REASONING_FORMAT, index: at, id }
          : { type: 'reasoning.text', text: delta, format: RESPONSES_REASONING_FORMAT, index: at, id };
        return [{ choice: { reasoning: delta, reasoningDetails: [detail], finishReason: null } }];
      }
      case 'response.reasoning_summary_part.added': {
        // Summary parts after the first are separate paragraphs of one summary.
        if (num(json.summary_index) === 0) return [];
        const id = typeof json.item_id === 'string' ? json.item_id : undefined;
        return [{ choice: { reasoning: '\n\n', reasoningDetails: [{ type: 'reasoning.summary', summary: '\n\n', format: RESPONSES_REASONING_FORMAT, index: at, id }], finishReason: null } }];
      }
      case 'response.output_item.added':
        return this.itemAdded(json.item, at);
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta': {
        const call = this.calls.get(at);
        if (!call || delta === '') return [];
        call.streamed = true;
        return [{ choice: { toolCalls: [{ index: call.index, arguments: delta }], finishReason: null } }];
      }
      case 'response.output_item.done':
        return this.itemDone(json.item, at);
      case 'response.completed':
      case 'response.incomplete': {
        const r = isObj(json.response) ? json.response : {};
        const chunk: UpstreamChunk = { choice: { finishReason: finishOf(r) } };
        const usage = responsesUsage(r.usage, r.output);
        if (usage) chunk.usage = usage;
        if (typeof r.service_tier === 'string') chunk.serviceTier = r.service_tier;
        return [chunk];
      }
      case 'response.failed': {
        const r = isObj(json.response) ? json.response : {};
        return [{ error: failureOf(r.error, 'the upstream response failed') }];
      }
      case 'error':
        return [{ error: failureOf(json, 'the upstream reported an error') }];
      default:
        return [];
    }
  }

  private itemAdded(raw: unknown, at: number): UpstreamChunk[] {
    if (!isObj(raw) || (raw.type !== 'function_call' && raw.type !== 'custom_tool_call')) return [];
    const index = this.calls.size;
    this.calls.set(at, { index, streamed: false });
    const header: ToolCallDelta = { index, id: String(raw.call_id ?? ''), type: raw.type === 'custom_tool_call' ? 'custom' : 'function', name: String(raw.name ?? '') };
    return [{ choice: { toolCalls: [header], finishReason: null } }];
  }

  private itemDone(raw: unknown, at: number): UpstreamChunk[] {
    if (!isObj(raw)) return [];
    if (raw.type === 'reasoning') {
      // The summary already streamed; what is left is the encrypted content, complete only now.
      const encrypted = reasoningDetails(raw, at).filter((d) => d.type === 'reasoning.encrypted');
      return encrypted.length > 0 ? [{ choice: { reasoningDetails: encrypted, finishReason: null } }] : [];
    }
    const call = this.calls.get(at);
    if (!call || call.streamed) return [];
    // A call whose arguments arrived whole, without deltas.
    const args = raw.type === 'custom_tool_call' ? raw.input : raw.arguments;
    return typeof args === 'string' && args !== '' ? [{ choice: { toolCalls: [{ index: call.index, arguments: args }], finishReason: null } }] : [];
  }
}
