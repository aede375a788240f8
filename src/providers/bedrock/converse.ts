import type { CacheMarker, ContentPart, GenerationRequest, Message, ToolChoice } from '../../model/request.js';
import type { Endpoint } from '../../catalog/types.js';
import { anthropicToolId } from '../anthropic/request.js';
import { argumentsObject, CUSTOM_TOOL_INPUT, maxTokensFor, toolParameters } from '../shared.js';
import { UntranslatableRequest, type Completion, type ReasoningDetail, type SseEvent, type StreamDecoder, type TokenUsage, type UpstreamChunk } from '../types.js';

/**
 * Bedrock's Converse API (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html),
 * one request shape for every model family Bedrock hosts (Amazon Nova, Meta Llama, Mistral, …):
 * the wire-neutral request -> a Converse body, a Converse answer -> a Completion, and ConverseStream's
 * events (messageStart, contentBlockStart / Delta / Stop, messageStop, metadata) -> chunks.
 * Prompt caching is a `cachePoint` block after the cached content.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Reasoning from Converse models other than Claude carries no provider signature to verify. */
export const CONVERSE_REASONING_FORMAT = 'unknown';

const CACHE_POINT: Json = { cachePoint: { type: 'default' } };

const IMAGE_FORMATS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };
const DOCUMENT_FORMATS: Record<string, string> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'text/html': 'html',
  'text/plain': 'txt',
  'text/markdown': 'md',
};

/** Converse document names allow letters, digits, spaces, hyphens, parentheses and brackets. */
function documentName(filename: string | undefined, n: number): string {
  const cleaned = (filename ?? '').replace(/\.[A-Za-z0-9]+$/, '').replace(/[^A-Za-z0-9 ()[\]-]/g, '-').trim();
  return cleaned === '' ? `document-${n}` : cleaned.slice(0, 200);
}

class BlockWriter {
  private documents = 0;

  /** One part -> Converse content blocks ([] for what Converse cannot take from this role). */
  part(part: ContentPart): Json[] {
    switch (part.type) {
      case 'text':
        return part.text === '' ? [] : this.cached({ text: part.text }, part.cache);
      case 'image': {
        const s = part.source;
        if (s.kind !== 'base64') throw new UntranslatableRequest('Amazon Bedrock (Converse) takes images inline as base64 data, not by URL or file id');
        const format = IMAGE_FORMATS[s.mediaType.toLowerCase()];
        if (!format) throw new UntranslatableRequest(`Amazon Bedrock (Converse) does not take images of type ${s.mediaType}`);
        return this.cached({ image: { format, source: { bytes: s.data } } }, part.cache);
      }
      case 'file': {
        const s = part.source;
        let format: string | undefined;
        let bytes: string;
        if (s.kind === 'text') {
          format = 'txt';
          bytes = Buffer.from(s.text, 'utf8').toString('base64');
        } else if (s.kind === 'base64') {
          format = DOCUMENT_FORMATS[s.mediaType.toLowerCase()];
          bytes = s.data;
        } else {
          throw new UntranslatableRequest('Amazon Bedrock (Converse) takes documents inline, not by URL or file id');
        }
        if (!format) throw new UntranslatableRequest(`Amazon Bedrock (Converse) does not take documents of type ${s.kind === 'base64' ? s.mediaType : 'unknown'}`);
        return this.cached({ document: { format, name: documentName(part.filename, ++this.documents), source: { bytes } } }, part.cache);
      }
      case 'tool-call': {
        const input = part.kind === 'custom' ? { [CUSTOM_TOOL_INPUT]: part.arguments } : argumentsObject(part.arguments);
        return this.cached({ toolUse: { toolUseId: anthropicToolId(part.id), name: part.name, input } }, part.cache);
      }
      case 'tool-result': {
        const content = part.content.flatMap((p) => this.part(p)).filter((b) => !('cachePoint' in b));
        // An empty result is an empty JSON object: Converse rejects a blank text block.
        const result: Json = { toolUseId: anthropicToolId(part.callId), content: content.length > 0 ? content : [{ json: {} }] };
        if (part.isError === true) result.status = 'error';
        return this.cached({ toolResult: result }, part.cache);
      }
      default:
        // Reasoning of earlier turns is not sent back (no Converse model here verifies it); audio and video have no block.
        return [];
    }
  }

  private cached(block: Json, marker: CacheMarker | undefined): Json[] {
    return marker ? [block, CACHE_POINT] : [block];
  }
}

/** Converse `system` and `messages`: system text hoisted, tool results as user turns, same-role turns merged. */
function translateMessages(messages: readonly Message[]): { system: Json[]; messages: Json[] } {
  const writer = new BlockWriter();
  const system: Json[] = [];
  const out: { role: string; content: Json[] }[] = [];
  for (const msg of messages) {
    const blocks = msg.content.flatMap((p) => writer.part(p));
    if (msg.cache && blocks.length > 0 && !('cachePoint' in blocks[blocks.length - 1])) blocks.push(CACHE_POINT);
    if (msg.role === 'system') {
      system.push(...blocks.filter((b) => 'text' in b || 'cachePoint' in b));
      continue;
    }
    if (msg.role === 'user' && msg.name) blocks.unshift({ text: `${msg.name}:` });
    if (blocks.length === 0) continue;
    const role = msg.role === 'assistant' ? 'assistant' : 'user';
    const last = out[out.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  }
  return { system, messages: out };
}

function toolChoiceOf(choice: ToolChoice | undefined): Json | undefined {
  if (choice === 'required') return { any: {} };
  if (choice === 'auto') return { auto: {} };
  if (choice !== undefined && choice !== 'none') return { tool: { name: choice.name } };
  return undefined;
}

/** The wire-neutral request as a Converse (or ConverseStream) body. */
export function buildConverseBody(req: GenerationRequest, endpoint: Endpoint): Json {
  const { system, messages } = translateMessages(req.messages);
  // Automatic caching: a breakpoint after the conversation so far.
  if (req.cache && messages.length > 0) (messages[messages.length - 1].content as Json[]).push(CACHE_POINT);
  const body: Json = { messages };
  if (system.length > 0) body.system = system;
  const inference: Json = {};
  const maxTokens = maxTokensFor(req, endpoint);
  if (maxTokens !== undefined) inference.maxTokens = maxTokens;
  if (req.temperature !== undefined) inference.temperature = req.temperature;
  if (req.topP !== undefined) inference.topP = req.topP;
  if (req.stop && req.stop.length > 0) inference.stopSequences = req.stop;
  if (Object.keys(inference).length > 0) body.inferenceConfig = inference;
  const tools: Json[] = [];
  for (const t of req.tools) {
    if (t.type !== 'function') continue;
    const spec: Json = { name: t.name, inputSchema: { json: toolParameters(t) } };
    if (typeof t.description === 'string' && t.description !== '') spec.description = t.description;
    tools.push({ toolSpec: spec });
    if (t.cache) tools.push(CACHE_POINT);
  }
  if (tools.length > 0) {
    const toolConfig: Json = { tools };
    const choice = toolChoiceOf(req.toolChoice);
    if (choice) toolConfig.toolChoice = choice;
    body.toolConfig = toolConfig;
  }
  return body;
}

/** Converse usage: input, cache reads and cache writes are counted apart, as Anthropic counts them. */
function usageOf(u: unknown, reasoningChars: number): TokenUsage | null {
  if (!isObj(u)) return null;
  const input = num(u.inputTokens);
  const cacheRead = num(u.cacheReadInputTokens);
  const cacheWrite = num(u.cacheWriteInputTokens);
  const output = num(u.outputTokens);
  return {
    promptTokens: input + cacheRead + cacheWrite,
    completionTokens: output,
    cachedTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    // Converse does not count reasoning apart: estimated from its text, as for Anthropic.
    reasoningTokens: Math.min(Math.ceil(reasoningChars / 4), output),
    audioPromptTokens: 0,
  };
}

export function isConverseAnswer(body: unknown): boolean {
  return isObj(body) && isObj(body.output);
}

export function parseConverseCompletion(body: unknown): Completion {
  const json = isObj(body) ? body : {};
  const message = isObj(json.output) && isObj(json.output.message) ? json.output.message : {};
  const blocks = Array.isArray(message.content) ? message.content.filter(isObj) : [];
  let content: string | null = null;
  let reasoning: string | null = null;
  const details: ReasoningDetail[] = [];
  const toolCalls: Completion['toolCalls'] = [];
  for (const b of blocks) {
    if (typeof b.text === 'string') content = (content ?? '') + b.text;
    else if (isObj(b.toolUse)) {
      toolCalls.push({ id: String(b.toolUse.toolUseId ?? ''), type: 'function', name: String(b.toolUse.name ?? ''), arguments: JSON.stringify(b.toolUse.input ?? {}) });
    } else if (isObj(b.reasoningContent)) {
      const r = b.reasoningContent;
      if (isObj(r.reasoningText)) {
        const text = typeof r.reasoningText.text === 'string' ? r.reasoningText.text : '';
        reasoning = (reasoning ?? '') + text;
        const d: ReasoningDetail = { type: 'reasoning.text', text, format: CONVERSE_REASONING_FORMAT, index: details.length };
        if (typeof r.reasoningText.signature === 'string') d.signature = r.reasoningText.signature;
        details.push(d);
      } else if (typeof r.redactedContent === 'string') {
        details.push({ type: 'reasoning.encrypted', data: r.redactedContent, format: CONVERSE_REASONING_FORMAT, index: details.length });
      }
    }
  }
  return {
    content,
    reasoning,
    reasoningDetails: details,
    toolCalls,
    refusal: null,
    finishReason: typeof json.stopReason === 'string' ? json.stopReason : null,
    usage: usageOf(json.usage, reasoning?.length ?? 0),
    native: json,
  };
}

interface BlockState {
  toolIndex?: number;
  sawArguments?: boolean;
  reasoningIndex?: number;
}

/**
 * ConverseStream events -> chunks. Tool calls are numbered in order of appearance; the finish
 * reason comes with messageStop and the usage after it, in the closing `metadata` event (the body
 * ends there, so no end marker is needed).
 */
export class ConverseStreamDecoder implements StreamDecoder {
  private readonly blocks = new Map<number, BlockState>();
  private toolCount = 0;
  private reasoningCount = 0;
  private reasoningChars = 0;

  decode(event: SseEvent): UpstreamChunk[] | null {
    let json: Json;
    try {
      json = JSON.parse(event.data) as Json;
    } catch {
      return [{ error: { status: 502, raw: `upstream sent invalid JSON in stream: ${event.data.slice(0, 200)}` } }];
    }
    const index = num(json.contentBlockIndex);
    switch (event.event) {
      case 'contentBlockStart': {
        const start = isObj(json.start) ? json.start : {};
        if (!isObj(start.toolUse)) return [];
        const state: BlockState = { toolIndex: this.toolCount++, sawArguments: false };
        this.blocks.set(index, state);
        return [{ choice: { content: null, toolCalls: [{ index: state.toolIndex!, id: String(start.toolUse.toolUseId ?? ''), type: 'function', name: String(start.toolUse.name ?? ''), arguments: '' }], finishReason: null } }];
      }
      case 'contentBlockDelta':
        return this.delta(index, isObj(json.delta) ? json.delta : {});
      case 'contentBlockStop': {
        const state = this.blocks.get(index);
        this.blocks.delete(index);
        // A tool without parameters streams no input; clients need parseable arguments.
        if (state?.toolIndex !== undefined && !state.sawArguments) return [{ choice: { content: null, toolCalls: [{ index: state.toolIndex, arguments: '{}' }], finishReason: null } }];
        return [];
      }
      case 'messageStop':
        return [{ choice: { finishReason: typeof json.stopReason === 'string' ? json.stopReason : 'end_turn' } }];
      case 'metadata': {
        const usage = usageOf(json.usage, this.reasoningChars);
        return usage ? [{ usage }] : [];
      }
      default:
        return []; // messageStart and event types added later
    }
  }

  private delta(index: number, delta: Json): UpstreamChunk[] {
    if (typeof delta.text === 'string') return delta.text === '' ? [] : [{ choice: { content: delta.text, finishReason: null } }];
    if (isObj(delta.toolUse)) {
      const state = this.blocks.get(index);
      const input = delta.toolUse.input;
      if (state?.toolIndex === undefined || typeof input !== 'string') return [];
      if (input !== '') state.sawArguments = true;
      return [{ choice: { content: null, toolCalls: [{ index: state.toolIndex, arguments: input }], finishReason: null } }];
    }
    if (isObj(delta.reasoningContent)) {
      let state = this.blocks.get(index);
      if (!state) this.blocks.set(index, (state = {}));
      state.reasoningIndex ??= this.reasoningCount++;
      const r = delta.reasoningContent;
      if (typeof r.text === 'string' && r.text !== '') {
        this.reasoningChars += r.text.length;
        return [{ choice: { reasoning: r.text, reasoningDetails: [{ type: 'reasoning.text', text: r.text, format: CONVERSE_REASONING_FORMAT, index: state.reasoningIndex }], finishReason: null } }];
      }
      if (typeof r.signature === 'string' && r.signature !== '') {
        return [{ choice: { reasoningDetails: [{ type: 'reasoning.text', signature: r.signature, format: CONVERSE_REASONING_FORMAT, index: state.reasoningIndex }], finishReason: null } }];
      }
      if (typeof r.redactedContent === 'string') {
        return [{ choice: { reasoning: null, reasoningDetails: [{ type: 'reasoning.encrypted', data: r.redactedContent, format: CONVERSE_REASONING_FORMAT, index: state.reasoningIndex }], finishReason: null } }];
      }
    }
    return [];
  }
}
