import { createHash } from 'node:crypto';
import { randomAlnum } from '../../core/ids.js';
import type { Annotation, Completion, ReasoningDetail, TokenUsage, ToolCallDelta, UpstreamChunk } from '../../model/response.js';
import type { ClientError, CostFigures, ResponseIdentity, StreamEncoder } from '../../pipeline/ingress.js';
import { normaliseFinishReason } from '../../model/finish-reason.js';
import { ANTHROPIC_REASONING_FORMAT } from './to-model.js';

/**
 * The model's answer → Anthropic's Messages wire: SSE events (message_start, content_block_start /
 * _delta / _stop, message_delta, message_stop, ping, error), the non-streamed message body, and
 * Anthropic's error envelope.
 *
 * Message id: the generation id (`gen-…`). Anthropic's SDKs take `id` as an opaque string ("the
 * format and length of IDs may change over time"; no `msg_` check anywhere in @anthropic-ai/sdk),
 * and the generation id is the one every record, log line and `GET /api/v1/generation?id=` names,
 * as on the chat wire. A stream passed through natively (below) keeps the upstream's own `msg_…`.
 *
 * Model: the id the client asked for (`requestedModel`), as Anthropic echoes a model id of its own
 * namespace: a client that asked for `claude-sonnet-4-5` keeps finding its model (Claude Code prices
 * and labels turns by it).
 *
 * Native passthrough: when the upstream speaks Anthropic's wire too and the request went to it
 * natively (the client's body, `request.native`), the upstream's events and body are the answer:
 * each chunk's `native` text is written unchanged (model ids included: message_start names the
 * upstream's model id, as Anthropic itself would), and nothing is added around them, except a
 * closing message_stop when none went through (the decoder ends the stream on message_stop
 * without handing that event on).
 */

type Json = Record<string, unknown>;

/** Anthropic's keep-alive event (its own spacing). */
export const PING_EVENT = 'event: ping\ndata: {"type": "ping"}\n\n';

const sse = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** Whether the answer is the upstream's own Anthropic stream or body, passed on unchanged. */
export function isPassthrough(who: ResponseIdentity): boolean {
  return who.upstreamProtocol === 'anthropic' && who.request.native?.protocol === 'anthropic';
}

/** Anthropic's error `type` for an HTTP status. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 409:
      return 'conflict_error';
    case 408:
    case 504:
    case 524:
      return 'timeout_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    // Anthropic answers 529 when it is overloaded; a 503 (no capacity anywhere) means the same to
    // the client. 502 (every upstream failed) stays 502, a status the SDKs retry, as api_error.
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** Anthropic's error envelope. */
export function anthropicError(status: number, message: string): Json {
  return { type: 'error', error: { type: anthropicErrorType(status), message } };
}

/**
 * A client error's message for Anthropic's envelope, which has no `metadata`: the upstream's own
 * words (`metadata.raw`) are appended to a generic message so the client can show them.
 */
export function errorMessage(err: ClientError): string {
  const raw = err.metadata?.raw;
  if (typeof raw !== 'string' || raw === '' || err.message.includes(raw)) return err.message;
  const provider = err.metadata?.provider_name;
  return typeof provider === 'string' && provider !== '' ? `${err.message} (${provider}): ${raw}` : `${err.message}: ${raw}`;
}

/** The model id an answer names: the one the client asked for. */
function shownModel(who: ResponseIdentity): string {
  return who.requestedModel || who.model;
}

const MESSAGE_STOP = 'event: message_stop\ndata: {"type":"message_stop"}\n\n';

/** Stop reasons Anthropic itself sends, passed on as they are. */
const ANTHROPIC_STOP = new Set(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal', 'model_context_window_exceeded']);
/** OpenRouter's normalised finish reasons → Anthropic's. */
const FROM_NORMALISED: Record<string, string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'refusal', error: 'end_turn' };

/** An upstream's own finish reason → Anthropic's stop_reason. A turn that called tools and simply ended is `tool_use`. */
export function stopReasonOf(native: string | null, sawToolCalls: boolean): string {
  let reason: string;
  if (native !== null && ANTHROPIC_STOP.has(native)) reason = native;
  else reason = FROM_NORMALISED[normaliseFinishReason(native ?? 'stop', false) ?? 'stop'] ?? 'end_turn';
  return sawToolCalls && reason === 'end_turn' ? 'tool_use' : reason;
}

/**
 * Anthropic's usage: input_tokens excludes cache reads and writes (prompt_tokens includes them);
 * `server_tool_use` when the provider's own web search ran, as Anthropic reports it.
 */
export function anthropicUsage(u: TokenUsage): {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
  server_tool_use?: { web_search_requests: number };
} {
  const usage: ReturnType<typeof anthropicUsage> = {
    input_tokens: Math.max(0, u.promptTokens - u.cachedTokens - u.cacheWriteTokens),
    cache_creation_input_tokens: u.cacheWriteTokens,
    cache_read_input_tokens: u.cachedTokens,
    output_tokens: u.completionTokens,
  };
  if (u.webSearchRequests) usage.server_tool_use = { web_search_requests: u.webSearchRequests };
  return usage;
}

const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

/**
 * A tool-call id the client can send back to any upstream: Anthropic requires ^[a-zA-Z0-9_-]+$,
 * and other providers' ids (`functions.Bash:0`) would make the next turn fail if it went to
 * Anthropic. Mapped deterministically (the same rule as the Anthropic adapter's), so an id keeps
 * its identity across the turns of a conversation; a missing id gets a fresh `toolu_` one.
 */
export function clientToolId(id: string | undefined): string {
  if (id === undefined || id === '') return `toolu_${randomAlnum(24)}`;
  if (TOOL_ID.test(id)) return id;
  return `${id.replace(/[^a-zA-Z0-9_-]/g, '_')}_${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

/** Tool arguments (JSON text) → the `input` object Anthropic's tool_use block has. */
function inputOf(args: string): unknown {
  if (args.trim() === '') return {};
  try {
    const parsed = JSON.parse(args) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : { value: parsed };
  } catch {
    return { arguments: args };
  }
}

type UrlCitation = Extract<Annotation, { type: 'url_citation' }>;

/**
 * A citation as Anthropic's web search writes it on a text block. Citations from elsewhere lack
 * what only Anthropic has: an excerpt of the page when the source gave none (`cited_text` empty)
 * and the encrypted reference to the search result (`encrypted_index` empty).
 */
function webSearchCitation(a: UrlCitation): Json {
  return { type: 'web_search_result_location', cited_text: a.content ?? '', url: a.url, title: a.title ? a.title : null, encrypted_index: a.encryptedIndex ?? '' };
}

const isUrlCitation = (a: Annotation): a is UrlCitation => a.type === 'url_citation';

/**
 * The answer's text as Anthropic writes a cited answer: each cited span a text block of its own
 * carrying its citations (a citation supports its whole block), the text between them in blocks
 * without. A citation that names no span (0–0, or beyond the text) goes on the block at its start.
 */
function textBlocks(text: string, annotations: readonly Annotation[] | undefined): Json[] {
  const citations = (annotations ?? []).filter(isUrlCitation);
  if (citations.length === 0) return [{ type: 'text', text }];
  const spans = (a: UrlCitation) => a.startIndex >= 0 && a.startIndex < a.endIndex && a.endIndex <= text.length;
  const cuts = new Set([0, text.length]);
  for (const a of citations) {
    if (!spans(a)) continue;
    cuts.add(a.startIndex);
    cuts.add(a.endIndex);
  }
  const bounds = [...cuts].sort((x, y) => x - y);
  const blocks: { start: number; end: number; citations: Json[] }[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) blocks.push({ start: bounds[i]!, end: bounds[i + 1]!, citations: [] });
  for (const a of citations) {
    if (spans(a)) {
      for (const b of blocks) if (b.start >= a.startIndex && b.end <= a.endIndex) b.citations.push(webSearchCitation(a));
      continue;
    }
    let at = blocks[0]!;
    for (const b of blocks) if (b.start <= a.startIndex) at = b;
    at.citations.push(webSearchCitation(a));
  }
  // Key order as Anthropic writes cited blocks: citations, type, text.
  return blocks.map((b) => (b.citations.length > 0 ? { citations: b.citations, type: 'text', text: text.slice(b.start, b.end) } : { type: 'text', text: text.slice(b.start, b.end) }));
}

interface OpenBlock {
  kind: 'text' | 'thinking' | 'tool';
  index: number;
  /** thinking: the reasoning fragment group (`ReasoningDetail.index`, -1 for plain reasoning text). */
  group?: number;
  /** thinking: its signature arrived (the block is complete). */
  signed?: boolean;
  /** tool: the upstream's tool-call index. */
  toolIndex?: number;
}

/** Encodes one answer as Anthropic's SSE events. */
export class MessagesStreamEncoder implements StreamEncoder {
  private readonly passthrough: boolean;
  private started = false;
  private ended = false;
  private nextIndex = 0;
  private open: OpenBlock | null = null;
  /** Upstream tool-call index → its content block index and call id. */
  private readonly toolBlocks = new Map<number, { index: number; id: string | undefined }>();
  private sawToolCalls = false;
  private sawRefusal = false;
  private stopReason: string | null = null;
  /** Passthrough: the upstream's message_stop went through. */
  private sawMessageStop = false;
  /** Characters of answer text so far (what citations index into). */
  private textChars = 0;
  /** The text blocks of the answer's text, in order, with where each starts in it. */
  private readonly textBlocks: { index: number; start: number }[] = [];
  finished = false;
  finishReason: string | null = null;
  nativeFinish: string | null = null;

  constructor(private readonly who: ResponseIdentity) {
    this.passthrough = isPassthrough(who);
  }

  start(): string {
    if (this.passthrough || this.started) return '';
    this.started = true;
    return sse('message_start', {
      type: 'message_start',
      message: {
        id: this.who.id,
        type: 'message',
        role: 'assistant',
        model: shownModel(this.who),
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // Known only at the end (message_delta carries every count, and clients take it from there).
        usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  encode(chunk: UpstreamChunk): string {
    if (this.ended) return '';
    if (this.passthrough) {
      if (chunk.choice?.toolCalls) this.sawToolCalls = true;
      if (chunk.choice && chunk.choice.finishReason !== null) this.finish(chunk.choice.finishReason);
      const native = chunk.native ?? '';
      if (native.startsWith('event: message_stop')) this.sawMessageStop = true;
      return native;
    }
    const c = chunk.choice;
    if (!c) return '';
    let out = this.start();
    if (c.reasoningDetails && c.reasoningDetails.length > 0) {
      for (const d of c.reasoningDetails) out += this.reasoningDetail(d);
    } else if (typeof c.reasoning === 'string' && c.reasoning !== '') {
      out += this.thinking(c.reasoning, -1);
    }
    if (typeof c.content === 'string' && c.content !== '') {
      out += this.text(c.content, true);
      this.textChars += c.content.length;
    }
    if (c.annotations) out += this.cite(c.annotations);
    if (typeof c.refusal === 'string' && c.refusal !== '') {
      this.sawRefusal = true;
      out += this.text(c.refusal);
    }
    if (c.toolCalls) for (const t of c.toolCalls) out += this.toolCall(t);
    if (c.finishReason !== null) {
      this.finish(c.finishReason);
      out += this.close();
    }
    return out;
  }

  syntheticFinish(): string {
    if (this.passthrough || this.finished) return '';
    return this.encode({ choice: { finishReason: this.sawToolCalls ? 'tool_calls' : 'stop' } });
  }

  end(usage: TokenUsage, _cost: CostFigures): string {
    if (this.ended) return '';
    if (this.passthrough) {
      // The upstream's message_delta went through with its own usage; only message_stop may be missing.
      this.ended = true;
      return this.sawMessageStop ? '' : MESSAGE_STOP;
    }
    let out = this.start() + this.close();
    this.ended = true;
    const stop = this.stopReason ?? (this.sawToolCalls ? 'tool_use' : 'end_turn');
    out += sse('message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: anthropicUsage(usage) });
    out += sse('message_stop', { type: 'message_stop' });
    return out;
  }

  fail(error: ClientError): string {
    if (this.ended) return '';
    this.ended = true;
    this.finishReason = 'error';
    // Anthropic ends a stream that failed with an `error` event and nothing after it.
    return sse('error', anthropicError(error.status, errorMessage(error)));
  }

  private finish(native: string): void {
    this.nativeFinish = native;
    this.finished = true;
    this.finishReason = normaliseFinishReason(native, this.sawToolCalls);
    const reason = stopReasonOf(native, this.sawToolCalls);
    this.stopReason = this.sawRefusal && reason === 'end_turn' ? 'refusal' : reason;
  }

  private close(): string {
    const open = this.open;
    if (!open) return '';
    this.open = null;
    return sse('content_block_stop', { type: 'content_block_stop', index: open.index });
  }

  private begin(block: OpenBlock, contentBlock: Json): string {
    const out = this.close();
    this.open = block;
    return out + sse('content_block_start', { type: 'content_block_start', index: block.index, content_block: contentBlock });
  }

  private delta(index: number, delta: Json): string {
    return sse('content_block_delta', { type: 'content_block_delta', index, delta });
  }

  /** Text in a text block; `answer`: the answer's text (a refusal is written as text too, but nothing cites it). */
  private text(text: string, answer = false): string {
    let out = '';
    if (this.open?.kind !== 'text') {
      const index = this.nextIndex++;
      out += this.begin({ kind: 'text', index }, { type: 'text', text: '' });
      if (answer) this.textBlocks.push({ index, start: this.textChars });
    }
    return out + this.delta(this.open!.index, { type: 'text_delta', text });
  }

  /**
   * Web citations as citations_delta events on the text block where each cited span starts
   * (Anthropic sends them on the block they support). Citations arrive after the text they cite
   * (upstreams other than Anthropic say where a span ends only once it is written), so the block
   * holds the text up to now, which may begin before the span and run a little past it; the
   * citation then ends that block, so the text after it starts a block of its own, as in
   * Anthropic's answers.
   */
  private cite(annotations: readonly Annotation[]): string {
    let out = '';
    let onOpenBlock = true;
    for (const a of annotations) {
      if (!isUrlCitation(a) || this.textBlocks.length === 0) continue;
      let block = this.textBlocks[0]!;
      for (const b of this.textBlocks) if (b.start <= a.startIndex) block = b;
      out += this.delta(block.index, { type: 'citations_delta', citation: webSearchCitation(a) });
      if (this.open?.index !== block.index) onOpenBlock = false;
    }
    if (out !== '' && onOpenBlock && this.open?.kind === 'text') out += this.close();
    return out;
  }

  /** Thinking text of fragment group `group`: continues the open thinking block of that group until it is signed. */
  private thinking(text: string, group: number): string {
    let out = '';
    const o = this.open;
    if (!o || o.kind !== 'thinking' || o.group !== group || o.signed) {
      out += this.begin({ kind: 'thinking', index: this.nextIndex++, group }, { type: 'thinking', thinking: '', signature: '' });
    }
    return out + this.delta(this.open!.index, { type: 'thinking_delta', thinking: text });
  }

  private reasoningDetail(d: ReasoningDetail): string {
    const anthropic = d.format === ANTHROPIC_REASONING_FORMAT;
    if (d.type === 'reasoning.text') {
      let out = typeof d.text === 'string' && d.text !== '' ? this.thinking(d.text, d.index) : '';
      // Only Anthropic's own signatures: another provider's would fail verification when the client
      // sends the block back to Anthropic.
      if (anthropic && typeof d.signature === 'string' && d.signature !== '') {
        const o = this.open;
        if (!o || o.kind !== 'thinking' || o.group !== d.index || o.signed) {
          out += this.begin({ kind: 'thinking', index: this.nextIndex++, group: d.index }, { type: 'thinking', thinking: '', signature: '' });
        }
        this.open!.signed = true;
        out += this.delta(this.open!.index, { type: 'signature_delta', signature: d.signature });
      }
      return out;
    }
    if (d.type === 'reasoning.summary') {
      return typeof d.summary === 'string' && d.summary !== '' ? this.thinking(d.summary, d.index) : '';
    }
    if (d.type === 'reasoning.encrypted' && anthropic && typeof d.data === 'string') {
      // Redacted thinking arrives whole: a block that starts and stops at once.
      return this.begin({ kind: 'thinking', index: this.nextIndex++, group: d.index, signed: true }, { type: 'redacted_thinking', data: d.data }) + this.close();
    }
    return ''; // other providers' encrypted reasoning cannot be sent back as Anthropic blocks
  }

  private toolCall(t: ToolCallDelta): string {
    this.sawToolCalls = true;
    let out = '';
    const known = this.toolBlocks.get(t.index);
    // A new call: an index not seen yet, or a different id at a known index (some upstreams number
    // every call 0). Upstreams that repeat the id and name on every fragment continue their call.
    let index: number;
    if (!known || (t.id !== undefined && t.id !== known.id)) {
      index = this.nextIndex++;
      this.toolBlocks.set(t.index, { index, id: t.id });
      out += this.begin({ kind: 'tool', index, toolIndex: t.index }, { type: 'tool_use', id: clientToolId(t.id), name: t.name ?? '', input: {} });
    } else {
      // A fragment of a call whose block another block has closed still goes to its own index
      // (clients accumulate by index); upstreams send a call's fragments in order, so this is rare.
      index = known.index;
    }
    if (t.arguments !== undefined && t.arguments !== '') out += this.delta(index, { type: 'input_json_delta', partial_json: t.arguments });
    return out;
  }
}

/**
 * Reasoning details → thinking / redacted_thinking blocks, in order: fragments of one group
 * (`index`) are joined until the group's signature; only Anthropic signatures and redactions are kept.
 */
function reasoningBlocks(details: readonly ReasoningDetail[], reasoning: string | null): Json[] {
  const out: Json[] = [];
  let current: { group: number; block: Json; signed: boolean } | null = null;
  const thinking = (text: string, group: number) => {
    if (!current || current.group !== group || current.signed) {
      current = { group, block: { type: 'thinking', thinking: '', signature: '' }, signed: false };
      out.push(current.block);
    }
    current.block.thinking = `${String(current.block.thinking)}${text}`;
  };
  for (const d of details) {
    const anthropic = d.format === ANTHROPIC_REASONING_FORMAT;
    if (d.type === 'reasoning.text') {
      if (typeof d.text === 'string' && d.text !== '') thinking(d.text, d.index);
      if (anthropic && typeof d.signature === 'string' && d.signature !== '') {
        thinking('', d.index);
        current!.block.signature = d.signature;
        current!.signed = true;
      }
    } else if (d.type === 'reasoning.summary' && typeof d.summary === 'string' && d.summary !== '') {
      thinking(d.summary, d.index);
    } else if (d.type === 'reasoning.encrypted' && anthropic && typeof d.data === 'string') {
      current = null;
      out.push({ type: 'redacted_thinking', data: d.data });
    }
  }
  if (details.length === 0 && reasoning) out.push({ type: 'thinking', thinking: reasoning, signature: '' });
  return out;
}

/** The non-streamed Messages body, and its finish reason as the record names it. */
export function messagesCompletionBody(who: ResponseIdentity, completion: Completion, usage: TokenUsage): { body: unknown; finishReason: string | null } {
  const tools = completion.toolCalls.length > 0;
  const finishReason = normaliseFinishReason(completion.finishReason ?? (tools ? 'tool_calls' : 'stop'), tools);
  if (isPassthrough(who) && completion.native) return { body: completion.native, finishReason };
  const content: Json[] = reasoningBlocks(completion.reasoningDetails, completion.reasoning);
  if (completion.content !== null && completion.content !== '') content.push(...textBlocks(completion.content, completion.annotations));
  if (completion.refusal !== null && completion.refusal !== '') content.push({ type: 'text', text: completion.refusal });
  for (const tc of completion.toolCalls) content.push({ type: 'tool_use', id: clientToolId(tc.id), name: tc.name, input: inputOf(tc.arguments) });
  let stop = stopReasonOf(completion.finishReason ?? (tools ? 'tool_use' : 'end_turn'), tools);
  if (completion.refusal && stop === 'end_turn') stop = 'refusal';
  const body = {
    id: who.id,
    type: 'message',
    role: 'assistant',
    model: shownModel(who),
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: anthropicUsage(usage),
  };
  return { body, finishReason };
}
