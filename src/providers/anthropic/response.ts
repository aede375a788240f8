import type {
  Annotation,
  Completion,
  ReasoningDetail,
  SseEvent,
  StreamDecoder,
  TokenUsage,
  ToolCallDelta,
  UpstreamChunk,
  UpstreamFailure,
} from '../types.js';
import { boundedText, extractErrorMessage, sseEventText, typedJsonEvent } from '../shared.js';
import { pythonJson, REASONING_FORMAT } from './request.js';

/** Anthropic Messages responses (JSON and SSE) -> normalised pieces. */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Anthropic error `type` -> the HTTP status Anthropic uses for it (for errors inside a 200 stream). */
const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * Anthropic does not count thinking tokens separately (they are part of output_tokens); OpenRouter
 * reports an estimate. Same here: ~4 characters per token, never more than the output itself.
 */
function estimateReasoningTokens(chars: number, outputTokens: number): number {
  if (chars <= 0) return 0;
  return Math.min(Math.ceil(chars / 4), outputTokens);
}

class UsageAcc {
  input = 0;
  cacheRead = 0;
  cacheWrite = 0;
  output = 0;
  thinkingChars = 0;
  webSearches = 0;
  seen = false;

  /** Anthropic reports input, cache reads and cache writes disjointly; later events repeat or update them. */
  add(u: unknown): void {
    if (!isObj(u)) return;
    this.seen = true;
    if (typeof u.input_tokens === 'number') this.input = u.input_tokens;
    if (typeof u.cache_read_input_tokens === 'number') this.cacheRead = u.cache_read_input_tokens;
    if (typeof u.cache_creation_input_tokens === 'number') this.cacheWrite = u.cache_creation_input_tokens;
    if (typeof u.output_tokens === 'number') this.output = u.output_tokens;
    const tools = u.server_tool_use;
    if (isObj(tools) && typeof tools.web_search_requests === 'number') this.webSearches = tools.web_search_requests;
  }

  toUsage(): TokenUsage {
    return {
      // OpenAI/OpenRouter convention: prompt_tokens includes cached and cache-write tokens (docs/COMPATIBILITY.md#cached-token-counts).
      promptTokens: this.input + this.cacheRead + this.cacheWrite,
      completionTokens: this.output,
      cachedTokens: this.cacheRead,
      cacheWriteTokens: this.cacheWrite,
      reasoningTokens: estimateReasoningTokens(this.thinkingChars, this.output),
      audioPromptTokens: 0,
      ...(this.webSearches > 0 ? { webSearchRequests: this.webSearches } : {}),
    };
  }
}

/** Error body `{"type":"error","error":{"type","message"}}` -> its message and type. */
function errorOf(json: unknown): { type: string; message: string } | null {
  if (!isObj(json)) return null;
  const e = json.error;
  if (isObj(e)) {
    return { type: typeof e.type === 'string' ? e.type : '', message: typeof e.message === 'string' ? e.message : JSON.stringify(e) };
  }
  if (typeof e === 'string') return { type: '', message: e };
  if (typeof json.message === 'string') return { type: typeof json.type === 'string' ? json.type : '', message: json.message };
  return null;
}

export function parseAnthropicError(status: number, body: string): UpstreamFailure {
  const text = body.trim();
  let parsed: { type: string; message: string } | null = null;
  try {
    parsed = errorOf(JSON.parse(text));
  } catch {
    // not JSON (a proxy's HTML page, say): the text itself is the message
  }
  // Not Anthropic's envelope: the most human part of the body (a proxy's JSON), else the text, bounded.
  const raw = parsed?.message ?? extractErrorMessage(text);
  // The HTTP status is authoritative (529 stays 529: ≥500 is retryable); a body type only fills in a missing one.
  const fromType = parsed ? ERROR_STATUS[parsed.type] : undefined;
  return { status: status >= 400 ? status : (fromType ?? 502), raw };
}

export function parseAnthropicCompletion(body: unknown): Completion {
  const json = isObj(body) ? body : {};
  const blocks = Array.isArray(json.content) ? (json.content as unknown[]).filter(isObj) : [];
  const usage = new UsageAcc();
  let text: string | null = null;
  let reasoning: string | null = null;
  const details: ReasoningDetail[] = [];
  const toolCalls: Completion['toolCalls'] = [];
  const annotations: Annotation[] = [];
  for (const b of blocks) {
    if (b.type === 'text' && typeof b.text === 'string') {
      const start = text?.length ?? 0;
      text = (text ?? '') + b.text;
      if (Array.isArray(b.citations)) annotations.push(...webCitations(b.citations, start, text.length));
    } else if (b.type === 'thinking') {
      const t = typeof b.thinking === 'string' ? b.thinking : '';
      reasoning = (reasoning ?? '') + t;
      usage.thinkingChars += t.length;
      // Key order as OpenRouter prints it (2026 recordings): type, text, format, index, signature.
      const d: ReasoningDetail = { type: 'reasoning.text', text: t, format: REASONING_FORMAT, index: details.length };
      if (typeof b.signature === 'string') d.signature = b.signature;
      details.push(d);
    } else if (b.type === 'redacted_thinking' && typeof b.data === 'string') {
      details.push({ type: 'reasoning.encrypted', data: b.data, format: REASONING_FORMAT, index: details.length });
    } else if (b.type === 'tool_use') {
      toolCalls.push({ id: String(b.id ?? ''), type: 'function', name: String(b.name ?? ''), arguments: pythonJson(b.input ?? {}) });
    }
  }
  usage.add(json.usage);
  return {
    content: text,
    reasoning,
    reasoningDetails: details,
    toolCalls,
    refusal: null,
    finishReason: typeof json.stop_reason === 'string' ? json.stop_reason : null,
    usage: usage.seen ? usage.toUsage() : null,
    upstreamId: typeof json.id === 'string' ? json.id : undefined,
    ...(annotations.length > 0 ? { annotations } : {}),
    native: json,
  };
}

/**
 * Web search citations of a text block → url_citation annotations spanning that block's text
 * (Anthropic cites whole blocks: the model writes each cited passage as a block of its own).
 */
function webCitations(citations: unknown[], start: number, end: number): Annotation[] {
  const out: Annotation[] = [];
  for (const c of citations) {
    if (!isObj(c) || c.type !== 'web_search_result_location' || typeof c.url !== 'string') continue;
    const a: Annotation = { type: 'url_citation', url: c.url, title: typeof c.title === 'string' ? c.title : '', startIndex: start, endIndex: end };
    if (typeof c.cited_text === 'string') a.content = c.cited_text;
    if (typeof c.encrypted_index === 'string') a.encryptedIndex = c.encrypted_index;
    out.push(a);
  }
  return out;
}

interface BlockState {
  type: string;
  toolIndex?: number;
  sawArguments?: boolean;
  reasoningIndex?: number;
  /** text: where the block's text starts in the answer's text. */
  start?: number;
  /** text: its citations (citations_delta comes before the text they cite), placed when it stops. */
  citations?: unknown[];
}

/**
 * Anthropic SSE (message_start, content_block_start/delta/stop, message_delta, message_stop, ping,
 * error) -> UpstreamChunks. Tool calls are numbered in order of appearance; each thinking block
 * gets its own reasoning_details index so a client that merges fragments by index keeps one
 * signature per block.
 *
 * With `keepNative`, each event's text rides on the first chunk decoded from it (`native`), an
 * event that decodes to nothing (ping, content_block_stop, …) comes back as `[{ native }]`, and
 * message_stop, which ends the stream (decode returns null), leaves its text in `pendingNative`.
 */
export class AnthropicStreamDecoder implements StreamDecoder {
  private readonly blocks = new Map<number, BlockState>();
  private readonly usage = new UsageAcc();
  private toolCount = 0;
  private reasoningCount = 0;
  /** Characters of answer text so far: where citations are placed. */
  private textLength = 0;
  /** The text of the event that ended the stream, once decode has returned null (keepNative only). */
  pendingNative: string | undefined;

  constructor(private readonly keepNative = false) {}

  decode(event: SseEvent): UpstreamChunk[] | null {
    const chunks = this.translate(event);
    if (!this.keepNative) return chunks;
    const native = sseEventText(event);
    if (chunks === null) {
      this.pendingNative = native;
      return null;
    }
    if (chunks.length === 0) return [{ native }];
    chunks[0].native = native;
    return chunks;
  }

  private translate(event: SseEvent): UpstreamChunk[] | null {
    const parsed = typedJsonEvent(event);
    if (Array.isArray(parsed)) return parsed;
    const { json, type } = parsed;
    switch (type) {
      case 'message_start': {
        const msg = isObj(json.message) ? json.message : {};
        this.usage.add(msg.usage);
        const chunk: UpstreamChunk = {};
        if (typeof msg.id === 'string') chunk.upstreamId = msg.id;
        if (this.usage.seen) chunk.usage = this.usage.toUsage();
        return [chunk];
      }
      case 'content_block_start':
        return this.blockStart(num(json.index), isObj(json.content_block) ? json.content_block : {});
      case 'content_block_delta':
        return this.blockDelta(num(json.index), isObj(json.delta) ? json.delta : {});
      case 'content_block_stop':
        return this.blockStop(num(json.index));
      case 'message_delta': {
        this.usage.add(json.usage);
        const delta = isObj(json.delta) ? json.delta : {};
        const chunk: UpstreamChunk = { usage: this.usage.toUsage() };
        if (typeof delta.stop_reason === 'string') chunk.choice = { finishReason: delta.stop_reason };
        return [chunk];
      }
      case 'message_stop':
        return null;
      case 'error': {
        const e = errorOf(json) ?? { type: '', message: boundedText(event.data) };
        return [{ error: { status: ERROR_STATUS[e.type] ?? 502, raw: e.message } }];
      }
      default:
        return []; // ping and event types added later
    }
  }

  private blockStart(index: number, block: Json): UpstreamChunk[] {
    const type = typeof block.type === 'string' ? block.type : '';
    const state: BlockState = { type };
    this.blocks.set(index, state);
    if (type === 'text') {
      state.start = this.textLength;
      if (Array.isArray(block.citations) && block.citations.length > 0) state.citations = [...(block.citations as unknown[])];
      return typeof block.text === 'string' && block.text !== '' ? [this.textChunk(block.text)] : [];
    }
    if (type === 'thinking') {
      state.reasoningIndex = this.reasoningCount++;
      return typeof block.thinking === 'string' && block.thinking !== '' ? [this.thinkingChunk(block.thinking, state.reasoningIndex)] : [];
    }
    if (type === 'redacted_thinking') {
      state.reasoningIndex = this.reasoningCount++;
      if (typeof block.data !== 'string') return [];
      return [{ choice: { reasoning: null, reasoningDetails: [{ type: 'reasoning.encrypted', data: block.data, format: REASONING_FORMAT, index: state.reasoningIndex }], finishReason: null } }];
    }
    if (type === 'tool_use') {
      state.toolIndex = this.toolCount++;
      state.sawArguments = false;
      const call: ToolCallDelta = { index: state.toolIndex, id: String(block.id ?? ''), type: 'function', name: String(block.name ?? ''), arguments: '' };
      return [{ choice: { content: null, toolCalls: [call], finishReason: null } }];
    }
    return []; // server tools (web search results …) have no OpenRouter chat equivalent
  }

  private blockDelta(index: number, delta: Json): UpstreamChunk[] {
    const state = this.blocks.get(index);
    switch (delta.type) {
      case 'text_delta':
        return typeof delta.text === 'string' && delta.text !== '' ? [this.textChunk(delta.text)] : [];
      case 'citations_delta':
        if (state?.type === 'text' && delta.citation !== undefined) (state.citations ??= []).push(delta.citation);
        return [];
      case 'input_json_delta': {
        if (!state || state.toolIndex === undefined || typeof delta.partial_json !== 'string') return [];
        if (delta.partial_json !== '') state.sawArguments = true;
        // Passed on as received, empty fragments included (as OpenRouter does).
        return [{ choice: { content: null, toolCalls: [{ index: state.toolIndex, arguments: delta.partial_json }], finishReason: null } }];
      }
      case 'thinking_delta': {
        if (typeof delta.thinking !== 'string' || delta.thinking === '') return [];
        return [this.thinkingChunk(delta.thinking, state?.reasoningIndex ?? 0)];
      }
      case 'signature_delta': {
        if (typeof delta.signature !== 'string' || delta.signature === '') return [];
        // No `reasoning` key at all on the signature chunk (docs/COMPATIBILITY.md#streamed-reasoning-shapes): leave it undefined.
        const detail: ReasoningDetail = { type: 'reasoning.text', signature: delta.signature, format: REASONING_FORMAT, index: state?.reasoningIndex ?? 0 };
        return [{ choice: { reasoningDetails: [detail], finishReason: null } }];
      }
      default:
        return []; // future delta types
    }
  }

  private blockStop(index: number): UpstreamChunk[] {
    const state = this.blocks.get(index);
    this.blocks.delete(index);
    if (state?.citations && state.start !== undefined) {
      // The block's text is complete: its citations span it.
      const annotations = webCitations(state.citations, state.start, this.textLength);
      return annotations.length > 0 ? [{ choice: { annotations, finishReason: null } }] : [];
    }
    if (state && state.toolIndex !== undefined && !state.sawArguments) {
      // A tool without parameters streams no JSON; clients need a parseable arguments string.
      return [{ choice: { content: null, toolCalls: [{ index: state.toolIndex, arguments: '{}' }], finishReason: null } }];
    }
    return [];
  }

  private textChunk(text: string): UpstreamChunk {
    this.textLength += text.length;
    return { choice: { content: text, finishReason: null } };
  }

  private thinkingChunk(text: string, index: number): UpstreamChunk {
    this.usage.thinkingChars += text.length;
    return { choice: { reasoning: text, reasoningDetails: [{ type: 'reasoning.text', text, format: REASONING_FORMAT, index }], finishReason: null } };
  }
}
