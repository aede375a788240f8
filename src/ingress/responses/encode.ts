import { randomAlnum } from '../../core/ids.js';
import { normaliseFinishReason } from '../../model/finish-reason.js';
import type { Annotation, Completion, ReasoningDetail, TokenUsage, ToolCallDelta, UpstreamChunk } from '../../model/response.js';
import type { ClientError, CostFigures, ResponseIdentity, StreamEncoder } from '../../pipeline/ingress.js';
import { encodeReasoningEnvelope, responsesContextOf, type ClientToolName, type ReasoningEnvelope, type ResponsesContext } from './context.js';
import { CustomInputDecoder, unwrapCustomInput } from './input-decoder.js';
import type { Json } from './schema.js';

/**
 * The model's answer → OpenAI Responses events (`event: <type>\ndata: <json>\n\n`, each with its
 * `sequence_number`), in the order OpenAI sends them: response.created, response.in_progress, then
 * per output item `output_item.added` … `output_item.done` (reasoning summary parts, message
 * content parts with text or refusal deltas, function-call argument deltas, custom-tool input
 * deltas), then response.completed / response.incomplete (or response.failed). No `[DONE]`.
 *
 * Ids: the response is `resp_<K>` where K is the generation id's letters and digits (so a response
 * names its generation record), its items `msg_<K>_<n>`, `rs_<K>_<n>`, `fc_<K>_<n>`, `ctc_<K>_<n>`
 * with n the output index: the response store finds an item_reference's response from the id alone.
 *
 * Tools come back as the client declared them: a flattened namespace tool (`ns__name`) as
 * `{name, namespace}`; a custom tool (sent upstream as a function of one string `input`) as a
 * `custom_tool_call` whose `input` is that string, streamed as it is decoded. Reasoning becomes a
 * reasoning item with one summary part (reasoning text included: clients such as Codex show only
 * summaries); whatever must round-trip (signatures, encrypted or redacted data, upstream ids, the
 * provider family) travels in `encrypted_content` as Switchyard's envelope (context.ts), sent to
 * the client when `include` has `reasoning.encrypted_content` and always kept in the stored copy.
 */

const q = JSON.stringify;
const RESPONSES_FORMAT = 'openai-responses-v1';
/** The upstream protocol whose events are this door's own (src/providers/openai-responses/). */
const RESPONSES_WIRE = 'openai-responses';

/**
 * Native passthrough: the upstream speaks the Responses wire too and received the client's own body
 * (`request.native`), so its events and its response object are the answer, passed on unchanged:
 * hosted tool items (web_search_call, …), annotations, encrypted reasoning, OpenAI's own ids. The
 * finished response is kept (under the upstream's id) for previous_response_id like any other.
 */
function isPassthrough(who: ResponseIdentity): boolean {
  return who.upstreamProtocol === RESPONSES_WIRE && who.request.native?.protocol === RESPONSES_WIRE;
}

/** The JSON of a native event's `data:` line (Responses events are one line each). */
function eventData(native: string): Json | null {
  const at = native.indexOf('data: ');
  if (at < 0) return null;
  try {
    const parsed: unknown = JSON.parse(native.slice(at + 6));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Json) : null;
  } catch {
    return null;
  }
}
const INCLUDE_ENCRYPTED = 'reasoning.encrypted_content';

/** The key of a generation's response and item ids (see above). */
export function responseKey(generationId: string): string {
  // By hand: two regex replacements cost ~2 µs per response, and this runs for every one.
  let k = '';
  let run = generationId.startsWith('gen-') ? 4 : 0;
  for (let i = run; i < generationId.length; i++) {
    const c = generationId.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) continue;
    k += generationId.slice(run, i);
    run = i + 1;
  }
  k += generationId.slice(run);
  return k.length > 0 ? k : randomAlnum(24);
}

/** `msg_<K>_3` → `resp_<K>`: the stored response an item id belongs to (null for ids not made here). */
export function responseIdOfItem(itemId: string): string | null {
  const m = /^(?:msg|rs|fc|ctc)_([A-Za-z0-9]+)_\d+$/.exec(itemId);
  return m ? `resp_${m[1]}` : null;
}

interface MessageState {
  index: number;
  id: string;
  parts: Json[];
  part: { kind: 'output_text' | 'refusal'; text: string; contentIndex: number; deltaHead: string; cited?: TextPart } | null;
}

/** An output_text part: where its text starts in the answer's, and its annotations (the live array its item holds). */
interface TextPart {
  itemId: string;
  outputIndex: number;
  contentIndex: number;
  start: number;
  annotations: Json[];
}

interface ReasoningState {
  index: number;
  id: string;
  /** The upstream's block index, which groups its fragments. */
  block: number;
  format: string;
  kind: 'text' | 'summary' | null;
  text: string;
  partOpen: boolean;
  signature?: string;
  data?: string;
  upstreamId?: string;
}

interface CallState {
  index: number;
  id: string;
  callId: string;
  name: string;
  namespace?: string;
  custom: boolean;
  /** A custom tool called as a function: its arguments are `{"input":"…"}`. */
  decoder: CustomInputDecoder | null;
  args: string;
  streamed: string;
  closed: boolean;
}

const ZERO: TokenUsage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, audioPromptTokens: 0 };

/** OpenAI Responses usage (plus OpenRouter's `cost`, USD). */
export function usageObject(u: TokenUsage | null, cost: CostFigures | null): Json {
  const usage = u ?? ZERO;
  const inputDetails: Json = { cached_tokens: usage.cachedTokens };
  if (usage.cacheWriteTokens > 0) inputDetails.cache_write_tokens = usage.cacheWriteTokens;
  const out: Json = {
    input_tokens: usage.promptTokens,
    input_tokens_details: inputDetails,
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
  if (cost) out.cost = cost.total;
  return out;
}

/** The `code` of a response.failed error: the values OpenAI uses (clients such as Codex retry on server_error and rate_limit_exceeded). */
export function failureCode(status: number): string {
  if (status === 429) return 'rate_limit_exceeded';
  if (status === 402) return 'insufficient_quota';
  if (status === 400 || status === 413 || status === 422) return 'invalid_prompt';
  return 'server_error';
}

/** Echo for a request this front door did not parse (never in practice): OpenAI's defaults. */
const FALLBACK_ECHO = JSON.stringify({
  instructions: null,
  max_output_tokens: null,
  max_tool_calls: null,
  parallel_tool_calls: true,
  previous_response_id: null,
  prompt_cache_key: null,
  reasoning: { effort: null, summary: null },
  safety_identifier: null,
  store: false,
  temperature: null,
  text: { format: { type: 'text' } },
  tool_choice: 'auto',
  tools: [],
  top_logprobs: 0,
  top_p: null,
  truncation: 'disabled',
  user: null,
  metadata: {},
});

interface Ending {
  error?: Json | null;
  incomplete?: Json | null;
  completedAt?: number | null;
}

export class ResponsesStreamEncoder implements StreamEncoder {
  finished = false;
  finishReason: string | null = null;
  nativeFinish: string | null = null;
  /** `resp_…` */
  readonly id: string;
  /**
   * The finished response's JSON text as the client got it (after end() or fail()); parsed into
   * `response` only when read: a response that is not stored is never needed as an object.
   */
  responseJson: string | null = null;
  private parsed: Json | null = null;
  private stored: Json | null = null;
  /** Complete items of the finished response (reasoning envelopes whatever `include` said). */
  private finalItems: Json[] = [];

  private readonly key: string;
  private readonly ctx: ResponsesContext | undefined;
  /** The echoed request fields: the inside of one JSON object's text. */
  private readonly echo: string;
  private readonly requestedTier: string | null;
  private readonly showEncrypted: boolean;
  private readonly toolNames: ReadonlyMap<string, ClientToolName>;
  private seq = 0;
  /** Complete items by output index (an open item's slot holds its `added` form until it closes). */
  private readonly items: Json[] = [];
  private msg: MessageState | null = null;
  private rs: ReasoningState | null = null;
  private readonly calls = new Map<number, CallState>();
  private sawToolCalls = false;
  private serviceTier: string | null = null;
  /** Characters of answer text so far (what citations index into). */
  private textChars = 0;
  /** Every output_text part so far, in order. */
  private readonly textParts: TextPart[] = [];
  private readonly passthrough: boolean;
  /** Passed through: the upstream's first and latest events, read only if the stream fails (fail()). */
  private firstNative: string | null = null;
  private lastNative: string | null = null;

  /** The finished response as the client got it (after end() or fail()). */
  get response(): Json | null {
    if (this.parsed === null && this.responseJson !== null) this.parsed = JSON.parse(this.responseJson) as Json;
    return this.parsed;
  }

  /** The same with complete items: what the store keeps. */
  get storedResponse(): Json | null {
    if (this.stored === null && this.responseJson !== null) this.stored = { ...this.response!, output: this.finalItems };
    return this.stored;
  }

  constructor(
    private readonly who: ResponseIdentity,
    /** No event text (the non-streamed body is built by the same code). */
    private readonly silent = false,
  ) {
    this.key = responseKey(who.id);
    this.id = `resp_${this.key}`;
    this.ctx = responsesContextOf(who.request);
    this.echo = (this.ctx?.echo ?? FALLBACK_ECHO).slice(1, -1);
    this.requestedTier = this.ctx?.serviceTier ?? null;
    this.showEncrypted = this.ctx?.include.has(INCLUDE_ENCRYPTED) ?? false;
    this.toolNames = this.ctx?.tools ?? new Map();
    this.passthrough = isPassthrough(who);
  }

  // --- events -------------------------------------------------------------------------------

  private ev(type: string, fields: Json): string {
    const seq = this.seq++;
    if (this.silent) return '';
    // The same text as q({ type, sequence_number, ...fields }) (no caller's fields name either key),
    // without spreading fields into a fresh object, which V8 does slowly.
    const rest = q(fields);
    return `event: ${type}\ndata: {"type":"${type}","sequence_number":${seq}${rest.length > 2 ? `,${rest.slice(1)}` : '}'}\n\n`;
  }

  /** A delta event whose JSON up to `"delta":` is fixed for the part (the per-token path). */
  private delta(type: string, head: string, delta: string, tail = ''): string {
    const seq = this.seq++;
    if (this.silent) return '';
    return `event: ${type}\ndata: {"type":"${type}","sequence_number":${seq},${head}"delta":${q(delta)}${tail}}\n\n`;
  }

  /**
   * The response object's text: its own fields, then the echoed request fields (spliced in as
   * text), then usage. Key order differs from OpenAI's; no client depends on it.
   */
  private responseText(status: string, output: Json[], usage: Json | null, end: Ending = {}): string {
    const e = this.echo;
    return (
      `{"id":${q(this.id)},"object":"response","created_at":${this.who.created},"status":${q(status)},"background":false,` +
      `"completed_at":${end.completedAt ?? null},"error":${q(end.error ?? null)},"incomplete_details":${q(end.incomplete ?? null)},` +
      `"model":${q(this.who.model)},"output":${q(output)},"service_tier":${q(this.serviceTier ?? this.requestedTier ?? 'auto')}` +
      `${e ? `,${e}` : ''},"usage":${q(usage)}}`
    );
  }

  /** response.created/in_progress/completed/…: `{"type","sequence_number","response":…}` around the object's text. */
  private responseEvent(type: string, responseText: string): string {
    const seq = this.seq++;
    if (this.silent) return '';
    return `event: ${type}\ndata: {"type":"${type}","sequence_number":${seq},"response":${responseText}}\n\n`;
  }

  /** An item as the client sees it: encrypted_content only when `include` asked for it. */
  private visible(item: Json): Json {
    if (this.showEncrypted || item.type !== 'reasoning' || item.encrypted_content === undefined) return item;
    const { encrypted_content: _e, ...rest } = item;
    return rest;
  }

  start(): string {
    // Passed through: the upstream's own response.created opens the stream.
    // Silent (a non-streamed body): only the numbering matters.
    if (this.passthrough) return '';
    if (this.silent) {
      this.seq += 2;
      return '';
    }
    const snapshot = this.responseText('in_progress', [], null);
    return this.responseEvent('response.created', snapshot) + this.responseEvent('response.in_progress', snapshot);
  }

  encode(chunk: UpstreamChunk): string {
    if (this.passthrough) return this.passOn(chunk);
    if (chunk.serviceTier) this.serviceTier = chunk.serviceTier;
    const c = chunk.choice;
    if (!c) return '';
    let out = '';
    if (c.reasoningDetails && c.reasoningDetails.length > 0) {
      for (const d of c.reasoningDetails) out += this.reasoningDetail(d);
    } else if (typeof c.reasoning === 'string' && c.reasoning !== '') {
      out += this.reasoningDetail({ type: 'reasoning.text', text: c.reasoning, format: 'unknown', index: this.rs?.block ?? 0 });
    }
    if (typeof c.content === 'string' && c.content !== '') out += this.text('output_text', c.content);
    if (c.annotations) out += this.annotate(c.annotations);
    if (typeof c.refusal === 'string' && c.refusal !== '') out += this.text('refusal', c.refusal);
    if (c.toolCalls) {
      for (const t of c.toolCalls) out += this.toolCall(t);
    }
    if (c.finishReason !== null) {
      this.finished = true;
      this.nativeFinish = c.finishReason;
      this.finishReason = normaliseFinishReason(c.finishReason, this.sawToolCalls);
    }
    return out;
  }

  /** A passed-through event: written as received; the terminal one's response is kept for the store. */
  private passOn(chunk: UpstreamChunk): string {
    const c = chunk.choice;
    if (c?.toolCalls) this.sawToolCalls = true;
    if (c && c.finishReason !== null) {
      this.finished = true;
      this.nativeFinish = c.finishReason;
      this.finishReason = normaliseFinishReason(c.finishReason, this.sawToolCalls);
      const response = chunk.native ? eventData(chunk.native)?.response : undefined;
      if (response !== null && typeof response === 'object') this.keep(response as Json);
    }
    if (chunk.native) {
      this.firstNative ??= chunk.native;
      this.lastNative = chunk.native;
    }
    return chunk.native ?? '';
  }

  /**
   * A passed-through stream that failed without an error event of its own (the connection broke):
   * response.failed on the upstream's response, numbered after its last event.
   */
  private failNative(error: Json): string {
    const opened = this.firstNative ? eventData(this.firstNative) : null;
    const last = this.lastNative ? eventData(this.lastNative) : null;
    const base = opened && typeof opened.response === 'object' && opened.response !== null ? (opened.response as Json) : { id: this.id, object: 'response', created_at: this.who.created, model: this.who.model };
    const response: Json = { ...base, status: 'failed', error, incomplete_details: null, output: [], usage: null };
    const seq = typeof last?.sequence_number === 'number' ? last.sequence_number + 1 : 0;
    return `event: response.failed\ndata: ${q({ type: 'response.failed', sequence_number: seq, response })}\n\n`;
  }

  /** The finished response, as the client got it and as it is stored. */
  private keep(response: Json): void {
    this.parsed = response;
    this.stored = response;
    if (this.ctx) {
      this.ctx.response = response;
      this.ctx.stored = response;
    }
  }

  // --- message --------------------------------------------------------------------------------

  private text(kind: 'output_text' | 'refusal', delta: string): string {
    let out = '';
    if (!this.msg) out += this.openMessage();
    const msg = this.msg!;
    if (!msg.part || msg.part.kind !== kind) out += this.openPart(msg, kind);
    const part = msg.part!;
    part.text += delta;
    if (kind === 'output_text') this.textChars += delta.length;
    out += kind === 'output_text' ? this.delta('response.output_text.delta', part.deltaHead, delta, ',"logprobs":[]') : this.delta('response.refusal.delta', part.deltaHead, delta);
    return out;
  }

  private openMessage(): string {
    let out = this.closeReasoning() + this.closeCalls('completed');
    const index = this.items.length;
    const id = `msg_${this.key}_${index}`;
    const item: Json = { id, type: 'message', status: 'in_progress', content: [], role: 'assistant' };
    this.items.push(item);
    this.msg = { index, id, parts: [], part: null };
    out += this.ev('response.output_item.added', { output_index: index, item });
    return out;
  }

  private openPart(msg: MessageState, kind: 'output_text' | 'refusal'): string {
    let out = this.closePart(msg);
    const contentIndex = msg.parts.length;
    const deltaHead = `"item_id":${q(msg.id)},"output_index":${msg.index},"content_index":${contentIndex},`;
    msg.part = { kind, text: '', contentIndex, deltaHead };
    if (kind === 'output_text') {
      msg.part.cited = { itemId: msg.id, outputIndex: msg.index, contentIndex, start: this.textChars, annotations: [] };
      this.textParts.push(msg.part.cited);
    }
    const part = kind === 'output_text' ? { type: 'output_text', annotations: [], logprobs: [], text: '' } : { type: 'refusal', refusal: '' };
    out += this.ev('response.content_part.added', { item_id: msg.id, output_index: msg.index, content_index: contentIndex, part });
    return out;
  }

  private closePart(msg: MessageState): string {
    const p = msg.part;
    if (!p) return '';
    msg.part = null;
    // Event fields written out, not spread from a shared object: spreading is slow in V8.
    const itemId = msg.id;
    const outputIndex = msg.index;
    const contentIndex = p.contentIndex;
    let part: Json;
    let out: string;
    if (p.kind === 'output_text') {
      part = { type: 'output_text', annotations: p.cited?.annotations ?? [], logprobs: [], text: p.text };
      out = this.ev('response.output_text.done', { item_id: itemId, output_index: outputIndex, content_index: contentIndex, text: p.text, logprobs: [] });
    } else {
      part = { type: 'refusal', refusal: p.text };
      out = this.ev('response.refusal.done', { item_id: itemId, output_index: outputIndex, content_index: contentIndex, refusal: p.text });
    }
    msg.parts.push(part);
    return out + this.ev('response.content_part.done', { item_id: itemId, output_index: outputIndex, content_index: contentIndex, part });
  }

  private closeMessage(status: string): string {
    const msg = this.msg;
    if (!msg) return '';
    let out = this.closePart(msg);
    this.msg = null;
    const item: Json = { id: msg.id, type: 'message', status, content: msg.parts, role: 'assistant' };
    this.items[msg.index] = item;
    out += this.ev('response.output_item.done', { output_index: msg.index, item });
    return out;
  }

  /**
   * Web citations, each on the output_text part where its span starts, indices made relative to
   * that part's text, announced as OpenAI does (`response.output_text.annotation.added`) and kept
   * in the part, so content_part.done, output_item.done and the final response carry them.
   */
  private annotate(annotations: readonly Annotation[]): string {
    let out = '';
    for (const a of annotations) {
      if (a.type !== 'url_citation' || this.textParts.length === 0) continue;
      let part = this.textParts[0]!;
      for (const p of this.textParts) if (p.start <= a.startIndex) part = p;
      // Key order as OpenAI writes it.
      const annotation = { type: 'url_citation', end_index: Math.max(0, a.endIndex - part.start), start_index: Math.max(0, a.startIndex - part.start), title: a.title ?? '', url: a.url };
      const annotationIndex = part.annotations.length;
      part.annotations.push(annotation);
      out += this.ev('response.output_text.annotation.added', { annotation, annotation_index: annotationIndex, content_index: part.contentIndex, item_id: part.itemId, output_index: part.outputIndex });
    }
    return out;
  }

  // --- reasoning ------------------------------------------------------------------------------

  private reasoningDetail(d: ReasoningDetail): string {
    const format = d.format || 'unknown';
    let out = '';
    let rs = this.rs;
    if (d.type === 'reasoning.text' || d.type === 'reasoning.summary') {
      const kind = d.type === 'reasoning.text' ? 'text' : 'summary';
      const text = (kind === 'text' ? d.text : d.summary) ?? '';
      // A new block: another index or family, another kind of text, or text after the block was sealed.
      if (rs && (rs.block !== d.index || rs.format !== format || (rs.kind !== null && rs.kind !== kind) || (text !== '' && (rs.signature !== undefined || rs.data !== undefined)))) {
        out += this.closeReasoning();
        rs = null;
      }
      if (!rs) {
        out += this.openReasoning(d.index, format);
        rs = this.rs!;
      }
      if (text !== '') {
        rs.kind = kind;
        out += this.reasoningText(rs, text);
      }
      if (typeof d.signature === 'string' && d.signature !== '') rs.signature = d.signature;
      if (typeof d.id === 'string' && d.id !== '') rs.upstreamId ??= d.id;
      return out;
    }
    if (d.type === 'reasoning.encrypted' && typeof d.data === 'string') {
      if (rs && (rs.block !== d.index || rs.format !== format || rs.data !== undefined)) {
        out += this.closeReasoning();
        rs = null;
      }
      if (!rs) {
        out += this.openReasoning(d.index, format);
        rs = this.rs!;
      }
      rs.data = d.data;
      if (typeof d.id === 'string' && d.id !== '') rs.upstreamId = d.id;
    }
    return out;
  }

  private openReasoning(block: number, format: string): string {
    let out = this.closeMessage('completed') + this.closeCalls('completed');
    const index = this.items.length;
    const id = `rs_${this.key}_${index}`;
    const item: Json = { id, type: 'reasoning', summary: [] };
    this.items.push(item);
    this.rs = { index, id, block, format, kind: null, text: '', partOpen: false };
    out += this.ev('response.output_item.added', { output_index: index, item });
    return out;
  }

  private reasoningText(rs: ReasoningState, delta: string): string {
    let out = '';
    if (!rs.partOpen) {
      rs.partOpen = true;
      out += this.ev('response.reasoning_summary_part.added', { item_id: rs.id, output_index: rs.index, summary_index: 0, part: { type: 'summary_text', text: '' } });
    }
    rs.text += delta;
    out += this.delta('response.reasoning_summary_text.delta', `"item_id":${q(rs.id)},"output_index":${rs.index},"summary_index":0,`, delta);
    return out;
  }

  private closeReasoning(): string {
    const rs = this.rs;
    if (!rs) return '';
    this.rs = null;
    let out = '';
    if (rs.partOpen) {
      out += this.ev('response.reasoning_summary_text.done', { item_id: rs.id, output_index: rs.index, summary_index: 0, text: rs.text });
      out += this.ev('response.reasoning_summary_part.done', { item_id: rs.id, output_index: rs.index, summary_index: 0, part: { type: 'summary_text', text: rs.text } });
    }
    const item: Json = { id: rs.id, type: 'reasoning', summary: rs.partOpen ? [{ type: 'summary_text', text: rs.text }] : [] };
    const envelope = this.envelopeOf(rs);
    if (envelope) item.encrypted_content = encodeReasoningEnvelope(envelope);
    this.items[rs.index] = item;
    out += this.ev('response.output_item.done', { output_index: rs.index, item: this.visible(item) });
    return out;
  }

  /** What must survive the client for the upstream to accept this reasoning back (null: nothing). */
  private envelopeOf(rs: ReasoningState): ReasoningEnvelope | null {
    const plainSummary = rs.format === RESPONSES_FORMAT && rs.kind !== 'text';
    if (plainSummary && rs.signature === undefined && rs.data === undefined && rs.upstreamId === undefined) return null;
    const e: ReasoningEnvelope = { f: rs.format };
    if (rs.kind === 'text') {
      e.k = 'text';
      // A signature covers the exact text: keep it here too, whatever becomes of the summary.
      if (rs.signature !== undefined) e.t = rs.text;
    }
    if (rs.signature !== undefined) e.s = rs.signature;
    if (rs.data !== undefined) e.d = rs.data;
    if (rs.upstreamId !== undefined) e.i = rs.upstreamId;
    return e;
  }

  // --- tool calls -----------------------------------------------------------------------------

  private toolCall(t: ToolCallDelta): string {
    let out = '';
    let call = this.calls.get(t.index);
    const isHeader = t.id !== undefined || t.name !== undefined;
    if (!call || (call.closed && isHeader)) {
      out += this.openCall(t);
      call = this.calls.get(t.index)!;
    } else if (call.closed) {
      // A fragment for a call already closed (an upstream interleaving calls): nothing valid can carry it.
      return out;
    }
    const frag = t.arguments;
    if (frag === undefined || frag === '') return out;
    call.args += frag;
    const head = `"item_id":${q(call.id)},"output_index":${call.index},`;
    if (!call.custom) return out + this.delta('response.function_call_arguments.delta', head, frag);
    const text = call.decoder ? call.decoder.feed(frag) : frag;
    if (text === '') return out;
    call.streamed += text;
    return out + this.delta('response.custom_tool_call_input.delta', head, text);
  }

  private openCall(t: ToolCallDelta): string {
    this.sawToolCalls = true;
    let out = this.closeMessage('completed') + this.closeReasoning() + this.closeCalls('completed');
    const flat = t.name ?? '';
    const entry = this.toolNames.get(flat);
    const nativeCustom = t.type === 'custom';
    const custom = nativeCustom || entry?.custom === true;
    const index = this.items.length;
    const id = `${custom ? 'ctc' : 'fc'}_${this.key}_${index}`;
    const call: CallState = {
      index,
      id,
      callId: t.id || `call_${this.key}_${index}`,
      name: entry?.name ?? flat,
      custom,
      decoder: custom && !nativeCustom ? new CustomInputDecoder() : null,
      args: '',
      streamed: '',
      closed: false,
    };
    if (entry?.namespace !== undefined) call.namespace = entry.namespace;
    this.calls.set(t.index, call);
    const item = this.callItem(call, 'in_progress', '');
    this.items.push(item);
    out += this.ev('response.output_item.added', { output_index: index, item });
    return out;
  }

  private callItem(call: CallState, status: string, value: string): Json {
    const item: Json = call.custom
      ? { id: call.id, type: 'custom_tool_call', status, call_id: call.callId, name: call.name, input: value }
      : { id: call.id, type: 'function_call', status, arguments: value, call_id: call.callId, name: call.name };
    if (call.namespace !== undefined) item.namespace = call.namespace;
    return item;
  }

  private closeCalls(status: string): string {
    let out = '';
    for (const call of this.calls.values()) {
      if (call.closed) continue;
      call.closed = true;
      let value: string;
      if (call.custom) {
        value = call.decoder ? unwrapCustomInput(call.args) : call.args;
        // What the decoder could not stream (a shape it gave up on) goes out before the done event.
        if (value.length > call.streamed.length && value.startsWith(call.streamed)) {
          out += this.delta('response.custom_tool_call_input.delta', `"item_id":${q(call.id)},"output_index":${call.index},`, value.slice(call.streamed.length));
        }
        out += this.ev('response.custom_tool_call_input.done', { item_id: call.id, output_index: call.index, input: value });
      } else {
        // A call without parameters may stream no arguments at all; clients parse them as JSON.
        value = call.args === '' ? '{}' : call.args;
        out += this.ev('response.function_call_arguments.done', { item_id: call.id, output_index: call.index, arguments: value });
      }
      const item = this.callItem(call, status, value);
      this.items[call.index] = item;
      out += this.ev('response.output_item.done', { output_index: call.index, item });
    }
    return out;
  }

  // --- the end --------------------------------------------------------------------------------

  private closeAll(itemStatus: string): string {
    return this.closeReasoning() + this.closeMessage(itemStatus) + this.closeCalls(itemStatus);
  }

  syntheticFinish(): string {
    const native = this.sawToolCalls ? 'tool_calls' : 'stop';
    this.finished = true;
    this.nativeFinish = native;
    this.finishReason = normaliseFinishReason(native, this.sawToolCalls);
    return '';
  }

  end(usage: TokenUsage, cost: CostFigures): string {
    if (!this.finished) this.syntheticFinish();
    // Passed through: the upstream's response.completed (or .incomplete) already ended the stream.
    if (this.passthrough) return '';
    const reason = this.finishReason;
    const incomplete = reason === 'length' ? { reason: 'max_output_tokens' } : reason === 'content_filter' ? { reason: 'content_filter' } : null;
    const out = this.closeAll(incomplete ? 'incomplete' : 'completed');
    const status = incomplete ? 'incomplete' : 'completed';
    return out + this.finishWith(incomplete ? 'response.incomplete' : 'response.completed', status, usageObject(usage, cost), { incomplete, completedAt: incomplete ? null : Math.floor(Date.now() / 1000) });
  }

  fail(error: ClientError): string {
    const out = this.closeAll('incomplete');
    this.finishReason = 'error';
    const raw = error.metadata && typeof error.metadata.raw === 'string' && error.metadata.raw !== '' ? error.metadata.raw : null;
    const message = raw && raw !== error.message ? `${error.message}: ${raw}` : error.message;
    if (this.passthrough) return this.failNative({ code: failureCode(error.status), message });
    return out + this.finishWith('response.failed', 'failed', null, { error: { code: failureCode(error.status), message } });
  }

  /**
   * The terminal event; the finished response kept here (as text, as sent) and, when it is to be
   * stored, as objects in the request's context (as sent, and complete for the store).
   */
  private finishWith(type: string, status: string, usage: Json | null, end: Ending): string {
    const text = this.responseText(status, this.items.map((i) => this.visible(i)), usage, end);
    this.responseJson = text;
    this.parsed = null;
    this.stored = null;
    this.finalItems = this.items.slice();
    if (this.ctx?.store) {
      this.ctx.response = this.response;
      this.ctx.stored = this.storedResponse;
    }
    return this.responseEvent(type, text);
  }
}

/**
 * A complete upstream answer → the response object (the same code as a stream, with no events),
 * and the normalised finish reason for the record.
 */
export function completionBody(who: ResponseIdentity, completion: Completion, usage: TokenUsage, cost: CostFigures): { body: Json; json?: string; finishReason: string | null } {
  if (isPassthrough(who) && completion.native) {
    const ctx = responsesContextOf(who.request);
    if (ctx) {
      ctx.response = completion.native;
      ctx.stored = completion.native;
    }
    return { body: completion.native, finishReason: normaliseFinishReason(completion.finishReason, completion.toolCalls.length > 0) };
  }
  const enc = new ResponsesStreamEncoder(who, true);
  enc.start();
  const excludeReasoning = who.request.reasoning?.exclude === true;
  if (!excludeReasoning) {
    if (completion.reasoningDetails.length > 0) enc.encode({ choice: { reasoningDetails: completion.reasoningDetails, finishReason: null } });
    else if (completion.reasoning) enc.encode({ choice: { reasoning: completion.reasoning, finishReason: null } });
  }
  if (completion.content) enc.encode({ choice: { content: completion.content, finishReason: null } });
  if (completion.annotations) enc.encode({ choice: { annotations: completion.annotations, finishReason: null } });
  if (completion.refusal) enc.encode({ choice: { refusal: completion.refusal, finishReason: null } });
  completion.toolCalls.forEach((tc, index) => {
    enc.encode({ choice: { toolCalls: [{ index, id: tc.id, type: tc.type, name: tc.name, arguments: tc.arguments }], finishReason: null } });
  });
  const finish = completion.finishReason ?? (completion.toolCalls.length > 0 ? 'tool_calls' : 'stop');
  const last: UpstreamChunk = { choice: { finishReason: finish } };
  if (completion.serviceTier) last.serviceTier = completion.serviceTier;
  enc.encode(last);
  enc.end(usage, cost);
  const finishReason = enc.finishReason;
  // The text is the body; the object is parsed from it only if someone reads `body`.
  return {
    get body() {
      return enc.response!;
    },
    json: enc.responseJson!,
    finishReason,
  };
}
