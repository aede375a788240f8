import type { WireEra } from '../../config/load.js';
import type { ReasoningDetail, TokenUsage, ToolCallDelta, UpstreamChunk } from '../../model/response.js';
import { normaliseFinishReason } from '../../model/finish-reason.js';
import { usageJson } from './usage.js';
import type { ClientError, CostFigures, StreamEncoder } from '../../pipeline/ingress.js';

/**
 * Turns normalised upstream chunks into OpenRouter `chat.completion.chunk` SSE events, byte for
 * byte in the chosen era's key order (docs/COMPATIBILITY.md#chunk-fields, #wire-eras). The envelope prefix is serialised once per
 * stream; per chunk only the delta is serialised. This is the per-token hot path.
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

  constructor(
    readonly era: WireEra,
    id: string,
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
    return `${this.usageEvent(usageJson(usage, cost, this.era))}data: [DONE]\n\n`;
  }

  fail(error: ClientError): string {
    return `${this.errorEvent(error.status, error.message, error.metadata)}data: [DONE]\n\n`;
  }

  /** SSE events for one upstream chunk (zero, one, or several when tool-call headers are split). */
  encode(chunk: UpstreamChunk): string {
    if (chunk.systemFingerprint !== undefined) this.systemFingerprint = chunk.systemFingerprint;
    if (chunk.serviceTier) this.serviceTier = chunk.serviceTier;
    const c = chunk.choice;
    if (!c) return '';
    // Upstreams (xAI, OpenAI) send empty `delta:{}` keep-alives; they carry nothing for the client.
    if (c.content === undefined && c.reasoning === undefined && !c.reasoningDetails && !c.toolCalls && c.finishReason === null && c.refusal == null) {
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
    if (c.reasoning !== undefined || c.reasoningDetails) this.sawReasoning = true;
    if (typeof c.content === 'string' && c.content.length > 0) this.sawContent = true;
    const finish = c.finishReason === null ? null : normaliseFinishReason(c.finishReason, this.sawToolCalls);
    if (finish !== null) this.finishReason = finish;
    const content = c.toolCalls ? null : typeof c.content === 'string' ? c.content : '';
    const delta =
      this.era === '2026'
        ? this.delta2026(content, c.reasoning, c.reasoningDetails, c.finishReason !== null)
        : this.delta2025(content, c.reasoning, c.reasoningDetails, c.toolCalls);
    return this.event(delta, finish, c.finishReason, c.logprobs, c.finishReason !== null);
  }

  /** The final usage chunk (docs/COMPATIBILITY.md#usage-chunk): once, after the finish chunk, before [DONE]. */
  usageEvent(usageJson: Record<string, unknown>): string {
    const usage = JSON.stringify(usageJson);
    if (this.era === '2025') {
      return `data: ${this.head},"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"native_finish_reason":null,"logprobs":null}],"usage":${usage}}\n\n`;
    }
    const fr = JSON.stringify(this.finishReason);
    const nfr = JSON.stringify(this.nativeFinish);
    const fp = typeof this.systemFingerprint === 'string' ? `,"system_fingerprint":${JSON.stringify(this.systemFingerprint)}` : '';
    return `data: ${this.head}${fp}${this.tierPart()},"choices":[{"index":0,"delta":{"content":"","role":"assistant"},"finish_reason":${fr},"native_finish_reason":${nfr}}],"usage":${usage}}\n\n`;
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

  /** 2026 contract (docs/COMPATIBILITY.md#tool-call-deltas): a header fragment with id/type/name and empty arguments, then argument fragments. */
  private encodeToolCalls2026(calls: ToolCallDelta[], native: string | null): string {
    let out = '';
    for (const t of calls) {
      if (t.id !== undefined || t.name !== undefined) {
        const header = { index: t.index, id: t.id ?? '', type: 'function', function: { name: t.name ?? '', arguments: '' } };
        out += this.event(`{"content":null,"role":"assistant","tool_calls":[${JSON.stringify(header)}]}`, null, null, undefined, false);
      }
      // A header fragment's empty arguments are already in the header; a bare fragment is passed on even when empty.
      const isHeader = t.id !== undefined || t.name !== undefined;
      if (t.arguments !== undefined && (!isHeader || t.arguments !== '')) {
        const frag = `{"index":${t.index},"function":{"arguments":${JSON.stringify(t.arguments)}}}`;
        out += this.event(`{"content":null,"role":"assistant","tool_calls":[${frag}]}`, null, null, undefined, false);
      }
    }
    if (native !== null) {
      // Gemini-style upstreams finish on the tool-call chunk; OpenRouter still sends a finish chunk.
      const finish = normaliseFinishReason(native, true);
      this.finishReason = finish;
      out += this.event(this.delta2026('', undefined, undefined, true), finish, native, undefined, true);
    }
    return out;
  }
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
