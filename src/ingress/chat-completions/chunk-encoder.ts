import { createHash } from 'node:crypto';
import type { WireEra } from '../../config/load.js';
import type { ReasoningDetail, TokenUsage, ToolCallDelta, UpstreamChunk } from '../../model/response.js';
import { normaliseFinishReason } from '../../model/finish-reason.js';
import { usageJson } from './usage.js';
import type { ClientError, CostFigures, StreamEncoder } from '../../pipeline/ingress.js';
import { annotationJson } from './annotations.js';

/** One tool call of a 2026 stream, by index: what its header said, or what waits for a header. */
interface OpenCall {
  /** The call's index on the client's wire (the upstream's, unless it reused one for a new call). */
  index: number;
  id: string | undefined;
  name: string | undefined;
  /** The header fragment (id, type, name) went out. */
  open: boolean;
  /** Argument text that arrived before the call's name (sent right after the header). */
  held: string;
}

/**
 * Turns normalised upstream chunks into OpenRouter `chat.completion.chunk` SSE events, byte for
 * byte in the chosen era's key order (docs/COMPATIBILITY.md#chunk-fields, #wire-eras). The envelope prefix is serialised once per
 * stream; per chunk only the delta is serialised. This is the per-token hot path.
 *
 * In the 2026 era every upstream's quirks are normalised to one shape (docs/COMPATIBILITY.md#tool-call-deltas, #finish-chunk): one header
 * fragment per tool call, then argument fragments with only `index` and `function.arguments`
 * (BaseTen repeats `id`, `type` and `name: ""` on every fragment, Chutes and Fireworks send
 * `id: null`, some hosts omit `arguments` on the first fragment), and exactly one finish chunk,
 * after the last tool call (DeepInfra and Z.AI repeat `finish_reason` on every tool-call chunk).
 * The 2025 era reproduces OpenRouter's 2025 bytes, which passed the upstream's fragments through.
 */
export class ChunkEncoder implements StreamEncoder {
  /** The envelope before `choices`, in the era's key order; serialised once per stream, kept flat. */
  private readonly head: string;
  private systemFingerprint: string | null | undefined;
  private serviceTier: string | undefined;
  sawToolCalls = false;
  sawReasoning = false;
  sawContent = false;
  nativeFinish: string | null = null;
  finishReason: string | null = null;
  finished = false;
  /** 2026: the tool calls of this stream by index (created at the first tool-call fragment). */
  private calls: Map<number, OpenCall> | null = null;
  /** 2026: a finish that came with a tool-call fragment, sent once the calls are over. */
  private heldFinish: string | null = null;

  constructor(
    readonly era: WireEra,
    private readonly id: string,
    created: number,
    model: string,
    provider: string,
  ) {
    const q = JSON.stringify;
    // Joined from parts, which yields one flat string (a template literal would be a tree of them).
    this.head = (
      era === '2025'
        ? ['{"id":', q(id), ',"provider":', q(provider), ',"model":', q(model), ',"object":"chat.completion.chunk","created":', String(created)]
        : ['{"id":', q(id), ',"object":"chat.completion.chunk","created":', String(created), ',"model":', q(model), ',"provider":', q(provider)]
    ).join('');
  }

  /** Chat streams open with nothing but the keep-alive comment the SSE writer sends. */
  start(): string {
    return '';
  }

  end(usage: TokenUsage, cost: CostFigures): string {
    return `${this.flushHeld()}${this.usageEvent(usageJson(usage, cost, this.era))}data: [DONE]\n\n`;
  }

  fail(error: ClientError): string {
    return `${this.errorEvent(error.status, error.message, error.metadata)}data: [DONE]\n\n`;
  }

  /** SSE events for one upstream chunk (zero, one, or several when tool-call headers are split). */
  encode(chunk: UpstreamChunk): string {
    if (chunk.systemFingerprint !== undefined) this.systemFingerprint = chunk.systemFingerprint;
    if (chunk.serviceTier) this.serviceTier = chunk.serviceTier;
    let c = chunk.choice;
    if (!c) return '';
    if (this.era === '2026' && c.finishReason !== null && this.finished) {
      // A repeated finish reason (DeepInfra, Z.AI): the stream has its finish already; keep only
      // what else the chunk carries.
      c = { ...c, finishReason: null };
      if (c.content === '' || c.content === null) c.content = undefined;
    }
    // Upstreams (xAI, OpenAI) send empty `delta:{}` keep-alives; they carry nothing for the client.
    if (c.content === undefined && c.reasoning === undefined && !c.reasoningDetails && !c.toolCalls && c.finishReason === null && c.refusal == null && !c.annotations) {
      return '';
    }
    if (c.finishReason !== null) {
      this.nativeFinish = c.finishReason;
      this.finished = true;
    }
    if (c.toolCalls) {
      this.sawToolCalls = true;
      if (this.era === '2026') return this.encodeToolCalls2026(c.toolCalls, c.finishReason);
    }
    // Whatever follows the tool calls ends them: the finish they carried goes first, and calls
    // still waiting for their name go out as they are.
    const before = this.era === '2026' ? this.flushHeld() : '';
    if (c.reasoning !== undefined || c.reasoningDetails) this.sawReasoning = true;
    if (typeof c.content === 'string' && c.content.length > 0) this.sawContent = true;
    const finish = c.finishReason === null ? null : normaliseFinishReason(c.finishReason, this.sawToolCalls);
    if (finish !== null) this.finishReason = finish;
    const content = c.toolCalls ? null : typeof c.content === 'string' ? c.content : '';
    let delta =
      this.era === '2026'
        ? this.delta2026(content, c.reasoning, c.reasoningDetails, c.finishReason !== null)
        : this.delta2025(content, c.reasoning, c.reasoningDetails, c.toolCalls);
    if (c.annotations) delta = `${delta.slice(0, -1)},"annotations":${JSON.stringify(c.annotations.map(annotationJson))}}`;
    return before + this.event(delta, finish, c.finishReason, c.logprobs, c.finishReason !== null);
  }

  /**
   * The final usage chunk (docs/COMPATIBILITY.md#usage-chunk): once, after the finish chunk, before [DONE]. Its choice says
   * `finish_reason: null` and `native_finish_reason: null` in every era, a deliberate difference
   * from OpenRouter's 2026 streams, which repeat the finish chunk's reasons here: LangChain
   * concatenates finish reasons across chunks ("stopstop", langchainjs#11054) and `ChatOpenAI`
   * then also doubles the usage; a null finish fixes both and loses usage for no client (an
   * empty `choices`, the other option, loses it in `ChatOpenRouter`).
   * docs/COMPATIBILITY.md#deliberate-differences-from-openrouter
   */
  usageEvent(usageJson: Record<string, unknown>): string {
    const usage = JSON.stringify(usageJson);
    if (this.era === '2025') {
      return `data: ${this.head},"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"native_finish_reason":null,"logprobs":null}],"usage":${usage}}\n\n`;
    }
    const fp = typeof this.systemFingerprint === 'string' ? `,"system_fingerprint":${JSON.stringify(this.systemFingerprint)}` : '';
    return `data: ${this.head}${fp}${this.tierPart()},"choices":[{"index":0,"delta":{"content":"","role":"assistant"},"finish_reason":null,"native_finish_reason":null}],"usage":${usage}}\n\n`;
  }

  /** Mid-stream failure after content reached the client (docs/COMPATIBILITY.md#mid-stream-errors). */
  errorEvent(code: number, message: string, metadata?: Record<string, unknown>): string {
    const error = JSON.stringify(metadata ? { code, message, metadata } : { code, message });
    this.finishReason = 'error';
    return `data: ${this.head},"error":${error},"choices":[{"index":0,"delta":{"content":"","role":"assistant"},"finish_reason":"error","native_finish_reason":null}]}\n\n`;
  }

  /** A finish chunk for upstreams that ended without one (stream closed after content). */
  syntheticFinish(): string {
    return this.encode({ choice: { finishReason: this.sawToolCalls ? 'tool_calls' : 'stop' } });
  }

  private tierPart(): string {
    return this.serviceTier ? `,"service_tier":${JSON.stringify(this.serviceTier)}` : '';
  }

  private event(delta: string, finish: string | null, native: string | null, logprobs: unknown, isFinish: boolean): string {
    const fr = finish === null ? 'null' : JSON.stringify(finish);
    const nfr = native === null ? 'null' : JSON.stringify(native);
    if (this.era === '2025') {
      const lp = logprobs === undefined ? 'null' : JSON.stringify(logprobs);
      const fp = this.systemFingerprint === undefined ? '' : `,"system_fingerprint":${JSON.stringify(this.systemFingerprint)}`;
      return `data: ${this.head},"choices":[{"index":0,"delta":${delta},"finish_reason":${fr},"native_finish_reason":${nfr},"logprobs":${lp}}]${fp}}\n\n`;
    }
    // 2026 chunks never carry a null fingerprint (and @openrouter/sdk rejects one): omit it.
    const fp = typeof this.systemFingerprint === 'string' ? `,"system_fingerprint":${JSON.stringify(this.systemFingerprint)}` : '';
    const tier = isFinish ? this.tierPart() : '';
    const lp = logprobs === undefined ? '' : `,"logprobs":${JSON.stringify(logprobs)}`;
    return `data: ${this.head}${fp}${tier},"choices":[{"index":0,"delta":${delta},"finish_reason":${fr},"native_finish_reason":${nfr}${lp}}]}\n\n`;
  }

  private delta2026(
    content: string | null,
    reasoning: string | null | undefined,
    details: ReasoningDetail[] | undefined,
    isFinish: boolean,
  ): string {
    let d = `{"content":${content === null ? 'null' : JSON.stringify(content)},"role":"assistant"`;
    // `reasoning` absent vs null is the adapter's call: encrypted details carry null, an Anthropic
    // signature-only detail carries no key at all (docs/COMPATIBILITY.md#streamed-reasoning-shapes).
    if (reasoning !== undefined) d += `,"reasoning":${reasoning === null ? 'null' : JSON.stringify(reasoning)}`;
    else if (isFinish && this.sawReasoning) d += ',"reasoning":null';
    if (details) {
      // One detail per delta: clients read only element [0] (docs/COMPATIBILITY.md#reasoning-details).
      d += `,"reasoning_details":${JSON.stringify(details.slice(0, 1))}`;
    }
    return `${d}}`;
  }

  private delta2025(
    content: string | null,
    reasoning: string | null | undefined,
    details: ReasoningDetail[] | undefined,
    toolCalls: ToolCallDelta[] | undefined,
  ): string {
    let d = `{"role":"assistant","content":${content === null ? 'null' : JSON.stringify(content)}`;
    if (reasoning !== undefined) d += `,"reasoning":${reasoning === null ? 'null' : JSON.stringify(reasoning)}`;
    if (details) d += `,"reasoning_details":${JSON.stringify(details.slice(0, 1))}`;
    if (toolCalls) {
      const items = toolCalls.map((t) => t.raw ?? rawToolCall(t));
      d += `,"tool_calls":${JSON.stringify(items)}`;
    }
    return `${d}}`;
  }

  /**
   * 2026 contract (docs/COMPATIBILITY.md#tool-call-deltas): per call, one header fragment with id, type and name and empty
   * arguments, then fragments with only `index` and `function.arguments` (passed on even when
   * empty). A call is known by its index: `id` and `name` on later fragments (BaseTen repeats them,
   * with `name: ""`), or null there (Chutes, Fireworks), add nothing. A call whose first fragments
   * have no name yet waits for it, its arguments held. A finish reason that arrives with tool calls
   * is held until they are over (DeepInfra sends one with every call).
   */
  private encodeToolCalls2026(deltas: ToolCallDelta[], native: string | null): string {
    let out = '';
    const calls = (this.calls ??= new Map());
    for (const t of deltas) {
      const id = t.id || undefined;
      const name = t.name || undefined;
      let call = calls.get(t.index);
      // A known index with another id and a name is a new call (hosts that number every call 0).
      const another = call !== undefined && id !== undefined && name !== undefined && call.id !== undefined && id !== call.id;
      if (!call || another) {
        // A new call: the ones still waiting for a name will not get one.
        out += this.openWaiting();
        let index = t.index;
        if (another) for (const c of calls.values()) index = Math.max(index, c.index + 1);
        call = { index, id, name, open: false, held: '' };
        calls.set(t.index, call);
      } else {
        call.id ??= id;
        call.name ??= name;
      }
      if (!call.open) {
        if (call.name === undefined) {
          call.held += t.arguments ?? '';
          continue;
        }
        out += this.openCall(call);
        // The header carries empty arguments; the fragment that opened it adds its own, if any.
        if (t.arguments) out += this.argumentsEvent(call.index, t.arguments);
        continue;
      }
      if (t.arguments !== undefined) out += this.argumentsEvent(call.index, t.arguments);
    }
    if (native !== null && this.heldFinish === null) {
      this.heldFinish = native;
      this.finishReason = normaliseFinishReason(native, true);
    }
    return out;
  }

  /** The header fragment of a call, then the arguments that waited for it. */
  private openCall(call: OpenCall): string {
    const index = call.index;
    call.open = true;
    call.id ??= toolCallId(this.id, index);
    const header = { index, id: call.id, type: 'function', function: { name: call.name ?? '', arguments: '' } };
    let out = this.event(`{"content":null,"role":"assistant","tool_calls":[${JSON.stringify(header)}]}`, null, null, undefined, false);
    if (call.held !== '') {
      out += this.argumentsEvent(index, call.held);
      call.held = '';
    }
    return out;
  }

  private argumentsEvent(index: number, args: string): string {
    const frag = `{"index":${index},"function":{"arguments":${JSON.stringify(args)}}}`;
    return this.event(`{"content":null,"role":"assistant","tool_calls":[${frag}]}`, null, null, undefined, false);
  }

  /** Calls that never got a name go out with an empty one rather than not at all. */
  private openWaiting(): string {
    let out = '';
    if (this.calls) for (const call of this.calls.values()) if (!call.open) out += this.openCall(call);
    return out;
  }

  /** 2026: the tool calls are over: calls still waiting, then the finish they carried. */
  private flushHeld(): string {
    if (this.calls === null && this.heldFinish === null) return '';
    let out = this.openWaiting();
    const native = this.heldFinish;
    if (native !== null) {
      this.heldFinish = null;
      // Gemini-style upstreams finish on the tool-call chunk; OpenRouter still sends a finish chunk.
      const finish = normaliseFinishReason(native, true);
      this.finishReason = finish;
      out += this.event(this.delta2026('', undefined, undefined, true), finish, native, undefined, true);
    }
    return out;
  }
}

/** A tool call the upstream gave no id: a stable one from the generation and the call's index (a call needs an id to be answered). */
export function toolCallId(generationId: string, index: number): string {
  return `call_${createHash('sha256').update(`${generationId}:${index}`).digest('hex').slice(0, 24)}`;
}

function rawToolCall(t: ToolCallDelta): Record<string, unknown> {
  const fn: Record<string, unknown> = {};
  if (t.name !== undefined) fn.name = t.name;
  if (t.arguments !== undefined) fn.arguments = t.arguments;
  const out: Record<string, unknown> = { index: t.index };
  if (t.id !== undefined) out.id = t.id;
  if (t.type !== undefined || t.id !== undefined) out.type = 'function';
  out.function = fn;
  return out;
}
