import { createHash } from 'node:crypto';
import type { Endpoint } from '../../catalog/types.js';
import type {
  CacheMarker,
  ContentPart,
  FilePart,
  FunctionTool,
  GenerationRequest,
  HostedTool,
  MediaSource,
  Message,
  ReasoningPart,
  ToolCallPart,
  ToolChoice,
  ToolResultPart,
} from '../../model/request.js';
import { argumentsObject, CUSTOM_TOOL_INPUT, effortBudget, hashUser, maxTokensFor, MIN_THINKING_BUDGET, toolParameters } from '../shared.js';

/**
 * The wire-neutral request (src/model/request.ts) -> Anthropic Messages request body
 * (https://docs.anthropic.com/en/api/messages), or the client's own Messages body passed through
 * (`nativeMessagesBody`). Pure data translation; the adapter adds URL and headers.
 */

type Json = Record<string, unknown>;
export type Block = Json & { type: string };

export const REASONING_FORMAT = 'anthropic-claude-v1';
/** Used when neither the request nor the catalog gives an output limit (Anthropic requires one). */
export const DEFAULT_MAX_TOKENS = 4096;
/** Anthropic rejects requests with more than four cache breakpoints (docs/COMPATIBILITY.md#breakpoint-limit). */
const MAX_BREAKPOINTS = 4;
/** Anthropic's server-side web search tool, for a hosted `web_search` tool from another wire. */
const WEB_SEARCH_TOOL = 'web_search_20250305';
/** The web search settings Anthropic takes (anything else in the client's definition is left out). */
const WEB_SEARCH_FIELDS = ['max_uses', 'allowed_domains', 'blocked_domains', 'user_location', 'cache_control'] as const;

export interface BuildOptions {
  /** `anthropic-beta` header value configured for the provider ('' when none). */
  betas: string;
}

const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Anthropic tool_use ids must match ^[a-zA-Z0-9_-]+$; other providers' ids (`functions.add:0`) are mapped deterministically. */
export function anthropicToolId(id: string): string {
  if (/^[a-zA-Z0-9_-]+$/.test(id)) return id;
  const safe = id.replace(/[^a-zA-Z0-9_-]/g, '_');
  return `${safe}_${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

/** A cache marker as Anthropic's `cache_control`. */
function cacheControl(marker: CacheMarker): Json {
  return marker.ttl !== undefined ? { type: marker.type, ttl: marker.ttl } : { type: marker.type };
}

function withCache(block: Block, marker: CacheMarker | undefined): Block {
  if (marker) block.cache_control = cacheControl(marker);
  return block;
}

function imageBlock(source: MediaSource): Block | null {
  switch (source.kind) {
    case 'base64':
      return { type: 'image', source: { type: 'base64', media_type: source.mediaType, data: source.data } };
    case 'url':
      return { type: 'image', source: { type: 'url', url: source.url } };
    case 'file-id':
      // Anthropic Files API (needs the files-api beta configured for the provider).
      return { type: 'image', source: { type: 'file', file_id: source.fileId } };
    default:
      return null;
  }
}

function documentBlock(part: FilePart): Block | null {
  const source = part.source;
  let block: Block;
  switch (source.kind) {
    case 'base64':
      if (source.mediaType.startsWith('text/')) {
        // Plain-text documents go as text (Anthropic's base64 documents are PDFs).
        block = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: Buffer.from(source.data, 'base64').toString('utf8') } };
      } else if (source.mediaType.startsWith('image/')) {
        return imageBlock(source);
      } else {
        block = { type: 'document', source: { type: 'base64', media_type: source.mediaType, data: source.data } };
      }
      break;
    case 'text':
      block = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: source.text } };
      break;
    case 'url':
      block = { type: 'document', source: { type: 'url', url: source.url } };
      break;
    case 'file-id':
      // Anthropic Files API (needs the files-api beta configured for the provider).
      block = { type: 'document', source: { type: 'file', file_id: source.fileId } };
      break;
  }
  if (part.filename) block.title = part.filename;
  return block;
}

/**
 * One text, image or file part -> an Anthropic block. Empty texts are left out (Anthropic rejects
 * them); audio and video have no Anthropic equivalent and are dropped (the catalog does not list
 * those modalities for Claude endpoints).
 */
function mediaBlock(part: ContentPart): Block | null {
  switch (part.type) {
    case 'text':
      return part.text === '' ? null : withCache({ type: 'text', text: part.text }, part.cache);
    case 'image': {
      const block = imageBlock(part.source);
      return block && withCache(block, part.cache);
    }
    case 'file': {
      const block = documentBlock(part);
      return block && withCache(block, part.cache);
    }
    default:
      return null;
  }
}

function mediaBlocks(parts: readonly ContentPart[]): Block[] {
  const out: Block[] = [];
  for (const part of parts) {
    const b = mediaBlock(part);
    if (b) out.push(b);
  }
  return out;
}

/** A message-level breakpoint marks the message's last block (docs/COMPATIBILITY.md#cache-markers). */
function markLast(blocks: Block[], marker: CacheMarker | undefined): void {
  if (!marker || blocks.length === 0) return;
  blocks[blocks.length - 1].cache_control = cacheControl(marker);
}

/** Python-style JSON (", " and ": " separators): how OpenRouter prints Anthropic tool inputs (recorded). */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (isObj(value)) {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * A reasoning part -> a `thinking` or `redacted_thinking` block, with the signature exactly as
 * received. Parts of other formats are not Anthropic's to verify and are dropped (docs/COMPATIBILITY.md#reasoning-round-trip), as
 * are thinking texts without a signature (Anthropic rejects them).
 */
function thinkingBlock(part: ReasoningPart): Block | null {
  if (part.format !== REASONING_FORMAT) return null;
  if (part.encrypted !== undefined) return { type: 'redacted_thinking', data: part.encrypted };
  if (part.signature !== undefined && part.signature !== '') return { type: 'thinking', thinking: part.text ?? '', signature: part.signature };
  return null;
}

/** Reasoning parts (others are skipped) -> `thinking` / `redacted_thinking` blocks, in order. */
export function thinkingBlocks(parts: readonly ContentPart[]): Block[] {
  const out: Block[] = [];
  for (const part of parts) {
    const b = part.type === 'reasoning' ? thinkingBlock(part) : null;
    if (b) out.push(b);
  }
  return out;
}

function toolUseBlock(call: ToolCallPart): Block {
  // A custom (free-form) tool is declared with one string parameter; its text goes there.
  const input = call.kind === 'custom' ? { [CUSTOM_TOOL_INPUT]: call.arguments } : argumentsObject(call.arguments);
  return withCache({ type: 'tool_use', id: anthropicToolId(call.id), name: call.name, input }, call.cache);
}

function toolResultBlock(result: ToolResultPart): Block {
  const block: Block = { type: 'tool_result', tool_use_id: anthropicToolId(result.callId) };
  if (result.cache) block.cache_control = cacheControl(result.cache);
  // Text and images are allowed inside a tool result; documents are not, so they are dropped here.
  const inner = mediaBlocks(result.content).filter((b) => b.type === 'text' || b.type === 'image');
  block.content = inner.length > 0 ? inner : '';
  if (result.isError === true) block.is_error = true;
  return block;
}

/** An assistant turn's blocks in the order of its parts: thinking, text, tool calls. */
function assistantBlocks(msg: Message): Block[] {
  const blocks: Block[] = [];
  for (const part of msg.content) {
    let b: Block | null = null;
    if (part.type === 'reasoning') b = thinkingBlock(part);
    else if (part.type === 'text') b = mediaBlock(part);
    else if (part.type === 'tool-call') b = toolUseBlock(part);
    if (b) blocks.push(b);
  }
  return blocks;
}

interface MessageAcc {
  role: 'user' | 'assistant';
  content: Block[];
  /** a user turn made of tool results, which the following tool messages join */
  toolResults: boolean;
}

/**
 * Anthropic `system` and `messages` from the model's messages. System messages, wherever they
 * stand (some clients put instructions mid-conversation), are hoisted into `system`; consecutive
 * tool messages become one user turn of tool results.
 */
export function translateMessages(messages: readonly Message[]): { system: Block[]; messages: Json[] } {
  const system: Block[] = [];
  const out: MessageAcc[] = [];
  for (const msg of messages) {
    if (msg.role === 'system') {
      const blocks = mediaBlocks(msg.content).filter((b) => b.type === 'text');
      markLast(blocks, msg.cache);
      system.push(...blocks);
      continue;
    }
    if (msg.role === 'tool') {
      const blocks = msg.content.filter((p): p is ToolResultPart => p.type === 'tool-result').map(toolResultBlock);
      markLast(blocks, msg.cache);
      if (blocks.length === 0) continue;
      const last = out[out.length - 1];
      if (last && last.toolResults) last.content.push(...blocks);
      else out.push({ role: 'user', content: blocks, toolResults: true });
      continue;
    }
    if (msg.role === 'assistant') {
      const blocks = assistantBlocks(msg);
      markLast(blocks, msg.cache);
      if (blocks.length === 0) continue; // an empty assistant turn is rejected by Anthropic
      out.push({ role: 'assistant', content: blocks, toolResults: false });
      continue;
    }
    const blocks = mediaBlocks(msg.content);
    // Non-OpenAI models receive the user's name as a prefix (docs/COMPATIBILITY.md#user-name-prefix).
    if (msg.name !== undefined && msg.name !== '') {
      const first = blocks.find((b) => b.type === 'text');
      if (first) first.text = `${msg.name}: ${String(first.text)}`;
      else blocks.unshift({ type: 'text', text: `${msg.name}:` });
    }
    markLast(blocks, msg.cache);
    if (blocks.length === 0) continue;
    out.push({ role: 'user', content: blocks, toolResults: false });
  }
  // A trailing assistant message is a prefill; Anthropic rejects one that ends in whitespace.
  const last = out[out.length - 1];
  const tail = last?.role === 'assistant' ? last.content[last.content.length - 1] : undefined;
  if (tail && tail.type === 'text' && typeof tail.text === 'string') {
    tail.text = tail.text.trimEnd();
    if (tail.text === '') last.content.pop();
    if (last.content.length === 0) out.pop();
  }
  return { system, messages: out.map((m) => ({ role: m.role, content: m.content })) };
}

function functionTool(tool: FunctionTool, keepStrict: boolean): Json {
  const out: Json = { name: tool.name };
  if (typeof tool.description === 'string') out.description = tool.description;
  out.input_schema = toolParameters(tool);
  // strict is only understood with the structured-outputs beta (docs/COMPATIBILITY.md#tool-definitions).
  if (keepStrict && tool.strict === true) out.strict = true;
  if (tool.cache) out.cache_control = cacheControl(tool.cache);
  return out;
}

/** A tool Anthropic runs itself, or null for one it does not have (left out). */
function hostedTool(tool: HostedTool): Json | null {
  if (tool.name !== 'web_search') return null;
  const config = tool.config;
  // A client of Anthropic's own wire names its tool version; any other gets the one this adapter knows.
  const type = typeof config.type === 'string' && /^web_search_\d{8}$/.test(config.type) ? config.type : WEB_SEARCH_TOOL;
  const out: Json = { type, name: 'web_search' };
  for (const k of WEB_SEARCH_FIELDS) if (config[k] !== undefined && config[k] !== null) out[k] = config[k];
  // OpenAI's Responses wire puts the allow-list under `filters`.
  if (out.allowed_domains === undefined && isObj(config.filters) && Array.isArray(config.filters.allowed_domains)) out.allowed_domains = config.filters.allowed_domains;
  return out;
}

function translateTools(req: GenerationRequest, keepStrict: boolean): Json[] {
  const out: Json[] = [];
  for (const t of req.tools) {
    const tool = t.type === 'hosted' ? hostedTool(t) : functionTool(t, keepStrict);
    if (tool) out.push(tool);
  }
  return out;
}

function translateToolChoice(choice: ToolChoice | undefined, parallel: boolean | undefined): Json | undefined {
  let out: Json | undefined;
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'none') out = { type: 'none' };
  else if (choice === 'required') out = { type: 'any' };
  else if (choice !== undefined) out = { type: 'tool', name: choice.name };
  // parallel_tool_calls (OpenAI default true) <-> Anthropic disable_parallel_tool_use (default false).
  if (parallel === false) out ??= { type: 'auto' };
  if (out && out.type !== 'none' && typeof parallel === 'boolean') out.disable_parallel_tool_use = !parallel;
  return out;
}

/**
 * The thinking budget for a request, or null when reasoning is off (docs/COMPATIBILITY.md#reasoning-request). Adaptive thinking
 * (the model decides) outside Anthropic's own wire counts as enabled at the default effort.
 */
export function thinkingBudget(req: GenerationRequest, maxTokens: number): number | null {
  const r = req.reasoning;
  if (!r) return null;
  const effort = r.effort ?? null;
  if (r.enabled === false || effort === 'none') return null;
  if (typeof r.maxTokens === 'number' && r.maxTokens > 0) return Math.max(r.maxTokens, MIN_THINKING_BUDGET);
  const enabled = effort !== null || r.enabled === true || r.exclude === true || r.adaptive === true;
  if (!enabled) return null;
  return effortBudget(effort, maxTokens);
}

/**
 * Keep at most four breakpoints, the last ones in Anthropic's prefix order (tools, system,
 * messages): the earlier ones are dropped rather than failing the request (docs/COMPATIBILITY.md#breakpoint-limit).
 */
function limitBreakpoints(body: Json): void {
  const marked: Json[] = [];
  const visit = (blocks: unknown) => {
    if (!Array.isArray(blocks)) return;
    for (const b of blocks) {
      if (!isObj(b)) continue;
      if (b.cache_control !== undefined) marked.push(b);
      if (b.type === 'tool_result') visit(b.content);
    }
  };
  visit(body.tools);
  visit(body.system);
  for (const m of (body.messages as Json[]) ?? []) visit(m.content);
  for (const b of marked.slice(0, Math.max(0, marked.length - MAX_BREAKPOINTS))) delete b.cache_control;
}

/** The last assistant turn used tools, its results follow, and it carries no thinking block. */
function openToolTurnLacksThinking(messages: Json[]): boolean {
  const last = messages.length - 1;
  const turn = messages[last - 1];
  const results = messages[last];
  if (!turn || turn.role !== 'assistant' || results.role !== 'user') return false;
  const blocks = turn.content as Block[];
  const usesTools = blocks.some((b) => b.type === 'tool_use');
  const resultsFollow = (results.content as Block[]).some((b) => b.type === 'tool_result');
  return usesTools && resultsFollow && blocks[0]?.type !== 'thinking' && blocks[0]?.type !== 'redacted_thinking';
}

/** The Anthropic Messages body for a request on one endpoint, translated from the model. */
export function buildMessagesBody(req: GenerationRequest, endpoint: Endpoint, stream: boolean, opts: BuildOptions): Json {
  const { system, messages } = translateMessages(req.messages);
  const body: Json = { model: endpoint.upstreamModel };
  const requested = maxTokensFor(req, endpoint) ?? null;
  let maxTokens = requested ?? endpoint.maxCompletionTokens ?? DEFAULT_MAX_TOKENS;
  body.max_tokens = maxTokens;
  body.messages = messages;
  if (system.length > 0) body.system = system;

  // Automatic caching (a breakpoint on the whole conversation): the last block of the conversation.
  if (req.cache && messages.length > 0) {
    const lastBlocks = messages[messages.length - 1].content as Block[];
    const last = lastBlocks[lastBlocks.length - 1];
    if (last && last.cache_control === undefined) last.cache_control = cacheControl(req.cache);
  }

  let budget = thinkingBudget(req, maxTokens);
  // With thinking on, Anthropic requires the assistant turn of an open tool loop to start with its
  // thinking block. A client that did not send its reasoning back cannot satisfy that, so this
  // request runs without thinking instead of failing with a 400.
  if (budget !== null && openToolTurnLacksThinking(messages)) budget = null;
  if (budget !== null && maxTokens <= budget) {
    // max_tokens includes the thinking budget and must exceed it: give the answer its requested room on top.
    const cap = endpoint.maxCompletionTokens ?? Number.POSITIVE_INFINITY;
    maxTokens = Math.min(budget + (requested ?? DEFAULT_MAX_TOKENS), cap);
    if (maxTokens <= budget) budget = maxTokens - 1;
    if (budget < MIN_THINKING_BUDGET) budget = null;
    body.max_tokens = maxTokens;
  }
  if (budget !== null) body.thinking = { type: 'enabled', budget_tokens: budget };

  // Sampling: Anthropic's temperature range is 0..1. With thinking on, Anthropic rejects any
  // temperature but 1, any top_k, and top_p below 0.95, so those are left out.
  const thinking = budget !== null;
  if (req.temperature !== undefined && (!thinking || req.temperature === 1)) body.temperature = Math.min(req.temperature, 1);
  // Current Claude models reject temperature and top_p together; temperature wins.
  if (req.topP !== undefined && body.temperature === undefined && (!thinking || req.topP >= 0.95)) body.top_p = req.topP;
  if (req.topK !== undefined && !thinking) body.top_k = req.topK;
  if (req.stop && req.stop.length > 0) body.stop_sequences = req.stop;

  const structured = opts.betas.includes('structured-outputs');
  const tools = translateTools(req, structured);
  if (tools.length > 0) {
    body.tools = tools;
    const choice = translateToolChoice(req.toolChoice, req.parallelToolCalls);
    if (choice) body.tool_choice = choice;
  }

  // Structured outputs exist only behind Anthropic's beta; without it response_format is dropped.
  const rf = req.responseFormat;
  if (rf?.type === 'json_schema' && structured) body.output_format = { type: 'json_schema', schema: rf.schema };

  // End-user ids identify people; Anthropic gets a stable digest (as the OpenAI adapter does).
  if (req.user !== undefined && req.user !== '') body.metadata = { user_id: hashUser(req.user) };
  if (stream) body.stream = true;
  limitBreakpoints(body);
  return body;
}

/**
 * The client's own Messages body for an Anthropic upstream (lossless passthrough): every field in
 * its place and as received (cache_control anywhere, signed thinking, betas' fields, fields this
 * gateway does not know), except Switchyard's routing fields (removed), `model` (the endpoint's
 * upstream id), `max_tokens` (after the clamping policy) and `stream` (how this attempt reads).
 */
export function nativeMessagesBody(req: GenerationRequest, native: { body: Json; routingFields: readonly string[] }, endpoint: Endpoint, stream: boolean): Json {
  const routing = new Set(native.routingFields);
  const maxTokens = maxTokensFor(req, endpoint);
  const out: Json = {};
  if (!('model' in native.body)) out.model = endpoint.upstreamModel;
  for (const [k, v] of Object.entries(native.body)) {
    if (routing.has(k) && k !== 'model') continue;
    if (k === 'model') out.model = endpoint.upstreamModel;
    else if (k === 'max_tokens') out.max_tokens = maxTokens ?? v;
    else if (k === 'stream') {
      if (stream) out.stream = true;
      else if (v === false) out.stream = false;
    } else out[k] = v;
  }
  if (maxTokens !== undefined && out.max_tokens === undefined) out.max_tokens = maxTokens;
  if (stream && out.stream === undefined) out.stream = true;
  return out;
}

/** What Anthropic's count_tokens accepts of a Messages body; it refuses the rest (max_tokens, stream, …). */
const COUNTED_FIELDS = new Set(['messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers', 'context_management', 'output_config']);

/** A native body for `/messages/count_tokens`: the counted fields as the client wrote them, the endpoint's model. */
export function countTokensBody(native: { body: Json }, endpoint: Endpoint): Json {
  const out: Json = { model: endpoint.upstreamModel };
  for (const [k, v] of Object.entries(native.body)) if (COUNTED_FIELDS.has(k)) out[k] = v;
  return out;
}
