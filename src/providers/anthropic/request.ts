import { createHash } from 'node:crypto';
import type { ChatRequest } from '../../ingress/chat-completions/schema.js';
import type { Endpoint } from '../../catalog/types.js';

/**
 * OpenRouter chat request -> Anthropic Messages request body (https://docs.anthropic.com/en/api/messages).
 * Pure data translation; the adapter adds URL and headers.
 */

type Json = Record<string, unknown>;
export type Block = Json & { type: string };

export const REASONING_FORMAT = 'anthropic-claude-v1';
/** Used when neither the request nor the catalog gives an output limit (Anthropic requires one). */
export const DEFAULT_MAX_TOKENS = 4096;
/** Anthropic's minimum thinking budget. */
const MIN_BUDGET = 1024;
/** The ceiling OpenRouter's effort formula applies (spec §5.1). */
const MAX_EFFORT_BUDGET = 128_000;
/** Anthropic rejects requests with more than four cache breakpoints (spec §7.4). */
const MAX_BREAKPOINTS = 4;
const EFFORT_RATIO: Record<string, number> = { max: 0.95, xhigh: 0.95, high: 0.8, medium: 0.5, low: 0.2, minimal: 0.1 };

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

/** `data:<media>;base64,<data>` -> parts, else null. */
function parseDataUrl(url: string): { mediaType: string; data: string; base64: boolean } | null {
  const m = /^data:([^;,]*)((?:;[^;,]*)*?)(;base64)?,(.*)$/s.exec(url);
  if (!m) return null;
  return { mediaType: m[1] || 'application/octet-stream', data: m[4], base64: Boolean(m[3]) };
}

function imageBlock(url: string): Block {
  const data = parseDataUrl(url);
  if (data) {
    return { type: 'image', source: { type: 'base64', media_type: data.mediaType, data: data.base64 ? data.data : Buffer.from(decodeURIComponent(data.data)).toString('base64') } };
  }
  return { type: 'image', source: { type: 'url', url } };
}

function documentBlock(file: Json): Block | null {
  const fileData = typeof file.file_data === 'string' ? file.file_data : undefined;
  const title = typeof file.filename === 'string' && file.filename !== '' ? file.filename : undefined;
  let block: Block | null = null;
  if (fileData) {
    const data = parseDataUrl(fileData);
    if (data) {
      if (data.mediaType.startsWith('text/')) {
        const text = data.base64 ? Buffer.from(data.data, 'base64').toString('utf8') : decodeURIComponent(data.data);
        block = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: text } };
      } else if (data.mediaType.startsWith('image/')) {
        return imageBlock(fileData);
      } else {
        block = { type: 'document', source: { type: 'base64', media_type: data.mediaType, data: data.base64 ? data.data : Buffer.from(decodeURIComponent(data.data)).toString('base64') } };
      }
    } else if (/^https?:\/\//i.test(fileData)) {
      block = { type: 'document', source: { type: 'url', url: fileData } };
    } else {
      // Bare base64 without a data-URL prefix: OpenRouter documents PDFs here.
      block = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: fileData } };
    }
  } else if (typeof file.file_id === 'string') {
    // Anthropic Files API (needs the files-api beta configured for the provider).
    block = { type: 'document', source: { type: 'file', file_id: file.file_id } };
  }
  if (block && title) block.title = title;
  return block;
}

/**
 * One OpenRouter content part -> Anthropic block(s). Audio and video have no Anthropic equivalent
 * and are dropped (the catalog does not list those modalities for Claude endpoints).
 */
function partToBlock(part: unknown): Block | null {
  if (typeof part === 'string') return part === '' ? null : { type: 'text', text: part };
  if (!isObj(part)) return null;
  let block: Block | null = null;
  switch (part.type) {
    case 'text':
      if (typeof part.text !== 'string' || part.text === '') return null; // Anthropic rejects empty text blocks
      block = { type: 'text', text: part.text };
      break;
    case 'image_url': {
      const iu = part.image_url;
      const url = typeof iu === 'string' ? iu : isObj(iu) && typeof iu.url === 'string' ? iu.url : '';
      if (!url) return null;
      block = imageBlock(url);
      break;
    }
    case 'file':
      block = isObj(part.file) ? documentBlock(part.file) : null;
      break;
    default:
      return null;
  }
  if (block && isObj(part.cache_control)) block.cache_control = part.cache_control;
  return block;
}

function contentBlocks(content: unknown): Block[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  const out: Block[] = [];
  for (const part of content) {
    const b = partToBlock(part);
    if (b) out.push(b);
  }
  return out;
}

/** A message-level `cache_control` marks the message's last block (spec §2.2). */
function markLast(blocks: Block[], cacheControl: unknown): void {
  if (!isObj(cacheControl) || blocks.length === 0) return;
  blocks[blocks.length - 1].cache_control = cacheControl;
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

function parseArguments(args: unknown): unknown {
  if (isObj(args)) return args;
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    const parsed = JSON.parse(args) as unknown;
    return isObj(parsed) ? parsed : { value: parsed };
  } catch {
    // Anthropic requires an object; keep the client's text rather than failing the whole request.
    return { arguments: args };
  }
}

/**
 * reasoning_details of an assistant turn -> `thinking` / `redacted_thinking` blocks, in order.
 * Fragments of one block (same `index`, streamed deltas a client kept unmerged) are joined; the
 * signature is copied exactly as received. Details of other formats are not Anthropic's to verify
 * and are dropped (spec §5.4), as are thinking texts without a signature (Anthropic rejects them).
 */
export function thinkingBlocks(details: unknown): Block[] {
  if (!Array.isArray(details)) return [];
  const out: Block[] = [];
  let current: { index: unknown; thinking: string; signature: string | undefined } | null = null;
  const flush = () => {
    if (current && current.signature !== undefined) out.push({ type: 'thinking', thinking: current.thinking, signature: current.signature });
    current = null;
  };
  for (const d of details) {
    if (!isObj(d) || d.format !== REASONING_FORMAT) continue;
    if (d.type === 'reasoning.text') {
      if (current && current.index !== d.index) flush();
      // A text after this block's signature starts a new block.
      if (current && current.signature !== undefined && typeof d.text === 'string' && d.text !== '') flush();
      current ??= { index: d.index, thinking: '', signature: undefined };
      if (typeof d.text === 'string') current.thinking += d.text;
      if (typeof d.signature === 'string' && d.signature !== '') current.signature = d.signature;
    } else if (d.type === 'reasoning.encrypted' && typeof d.data === 'string') {
      flush();
      out.push({ type: 'redacted_thinking', data: d.data });
    }
  }
  flush();
  return out;
}

interface MessageAcc {
  role: 'user' | 'assistant';
  content: Block[];
  /** a user turn made of tool results, which the following tool messages join */
  toolResults: boolean;
}

function toolResultBlock(msg: Json): Block {
  const blocks = contentBlocks(msg.content);
  const block: Block = { type: 'tool_result', tool_use_id: anthropicToolId(String(msg.tool_call_id ?? '')) };
  if (isObj(msg.cache_control)) block.cache_control = msg.cache_control;
  // Text and images are allowed inside a tool result; documents are not, so they are dropped here.
  const inner = blocks.filter((b) => b.type === 'text' || b.type === 'image');
  block.content = inner.length > 0 ? inner : '';
  return block;
}

function assistantBlocks(msg: Json): Block[] {
  const blocks = thinkingBlocks(msg.reasoning_details);
  blocks.push(...contentBlocks(msg.content).filter((b) => b.type === 'text'));
  if (Array.isArray(msg.tool_calls)) {
    for (const tc of msg.tool_calls as unknown[]) {
      if (!isObj(tc)) continue;
      const fn = isObj(tc.function) ? tc.function : {};
      const block: Block = {
        type: 'tool_use',
        id: anthropicToolId(String(tc.id ?? '')),
        name: String(fn.name ?? ''),
        input: parseArguments(fn.arguments),
      };
      if (isObj(tc.cache_control)) block.cache_control = tc.cache_control;
      blocks.push(block);
    }
  }
  return blocks;
}

/** Anthropic `system` and `messages` from OpenRouter messages. */
export function translateMessages(messages: Json[]): { system: Block[]; messages: Json[] } {
  const system: Block[] = [];
  const out: MessageAcc[] = [];
  for (const msg of messages) {
    const role = msg.role;
    if (role === 'system' || role === 'developer') {
      const blocks = contentBlocks(msg.content).filter((b) => b.type === 'text');
      markLast(blocks, msg.cache_control);
      system.push(...blocks);
      continue;
    }
    if (role === 'tool') {
      const block = toolResultBlock(msg);
      const last = out[out.length - 1];
      if (last && last.toolResults) last.content.push(block);
      else out.push({ role: 'user', content: [block], toolResults: true });
      continue;
    }
    if (role === 'assistant') {
      const blocks = assistantBlocks(msg);
      markLast(blocks, msg.cache_control);
      if (blocks.length === 0) continue; // an empty assistant turn is rejected by Anthropic
      out.push({ role: 'assistant', content: blocks, toolResults: false });
      continue;
    }
    // user (and anything unknown, treated as user)
    const blocks = contentBlocks(msg.content);
    // Non-OpenAI models receive the user's name as a prefix (spec §2.2).
    if (typeof msg.name === 'string' && msg.name !== '') {
      const first = blocks.find((b) => b.type === 'text');
      if (first) first.text = `${msg.name}: ${String(first.text)}`;
      else blocks.unshift({ type: 'text', text: `${msg.name}:` });
    }
    markLast(blocks, msg.cache_control);
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

function translateTools(tools: unknown, keepStrict: boolean): Json[] | undefined {
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  return tools.filter(isObj).map((t) => {
    const fn = isObj(t.function) ? t.function : {};
    const tool: Json = { name: fn.name };
    if (typeof fn.description === 'string') tool.description = fn.description;
    tool.input_schema = isObj(fn.parameters) ? fn.parameters : { type: 'object', properties: {} };
    // strict is only understood with the structured-outputs beta (spec §2.3).
    if (keepStrict && fn.strict === true) tool.strict = true;
    if (isObj(t.cache_control)) tool.cache_control = t.cache_control;
    return tool;
  });
}

function translateToolChoice(choice: unknown, parallel: unknown): Json | undefined {
  let out: Json | undefined;
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'none') out = { type: 'none' };
  else if (choice === 'required') out = { type: 'any' };
  else if (isObj(choice) && isObj(choice.function) && typeof choice.function.name === 'string') out = { type: 'tool', name: choice.function.name };
  // parallel_tool_calls (OpenAI default true) <-> Anthropic disable_parallel_tool_use (default false).
  if (parallel === false) out ??= { type: 'auto' };
  if (out && out.type !== 'none' && typeof parallel === 'boolean') out.disable_parallel_tool_use = !parallel;
  return out;
}

/** The thinking budget for a request, or null when reasoning is off (spec §5.1). */
export function thinkingBudget(req: ChatRequest, maxTokens: number): number | null {
  const r = req.reasoning ?? null;
  const effort = r?.effort ?? req.reasoning_effort ?? null;
  if (r?.enabled === false || effort === 'none') return null;
  if (typeof r?.max_tokens === 'number' && r.max_tokens > 0) return Math.max(r.max_tokens, MIN_BUDGET);
  const enabled = effort !== null || r?.enabled === true || r?.exclude === true;
  if (!enabled) return null;
  const ratio = EFFORT_RATIO[effort ?? 'medium'] ?? EFFORT_RATIO.medium;
  return Math.max(Math.min(Math.floor(maxTokens * ratio), MAX_EFFORT_BUDGET), MIN_BUDGET);
}

/**
 * Keep at most four breakpoints, the last ones in Anthropic's prefix order (tools, system,
 * messages): the earlier ones are dropped rather than failing the request (spec §7.4).
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

/** The Anthropic Messages body for an OpenRouter request on one endpoint. */
export function buildMessagesBody(req: ChatRequest, endpoint: Endpoint, stream: boolean, opts: BuildOptions): Json {
  const { system, messages } = translateMessages((req.messages ?? []) as Json[]);
  const body: Json = { model: endpoint.upstreamModel };
  const requested = req.max_completion_tokens ?? req.max_tokens ?? null;
  let maxTokens = requested ?? endpoint.maxCompletionTokens ?? DEFAULT_MAX_TOKENS;
  body.max_tokens = maxTokens;
  body.messages = messages;
  if (system.length > 0) body.system = system;

  // Automatic caching (top-level cache_control): a breakpoint on the last block of the conversation.
  if (isObj(req.cache_control) && messages.length > 0) {
    const lastBlocks = messages[messages.length - 1].content as Block[];
    const last = lastBlocks[lastBlocks.length - 1];
    if (last && last.cache_control === undefined) last.cache_control = req.cache_control;
  }

  let budget = thinkingBudget(req, maxTokens);
  // With thinking on, Anthropic requires the assistant turn of an open tool loop to start with its
  // thinking block. A client that did not send reasoning_details back cannot satisfy that, so this
  // request runs without thinking instead of failing with a 400.
  if (budget !== null && openToolTurnLacksThinking(messages)) budget = null;
  if (budget !== null && maxTokens <= budget) {
    // max_tokens includes the thinking budget and must exceed it: give the answer its requested room on top.
    const cap = endpoint.maxCompletionTokens ?? Number.POSITIVE_INFINITY;
    maxTokens = Math.min(budget + (requested ?? DEFAULT_MAX_TOKENS), cap);
    if (maxTokens <= budget) budget = maxTokens - 1;
    if (budget < MIN_BUDGET) budget = null;
    body.max_tokens = maxTokens;
  }
  if (budget !== null) body.thinking = { type: 'enabled', budget_tokens: budget };

  // Sampling: Anthropic's temperature range is 0..1. With thinking on, Anthropic rejects any
  // temperature but 1, any top_k, and top_p below 0.95, so those are left out.
  const thinking = budget !== null;
  if (typeof req.temperature === 'number' && (!thinking || req.temperature === 1)) body.temperature = Math.min(req.temperature, 1);
  // Current Claude models reject temperature and top_p together; temperature wins.
  if (typeof req.top_p === 'number' && body.temperature === undefined && (!thinking || req.top_p >= 0.95)) body.top_p = req.top_p;
  if (typeof req.top_k === 'number' && !thinking) body.top_k = req.top_k;
  if (typeof req.stop === 'string') body.stop_sequences = [req.stop];
  else if (Array.isArray(req.stop) && req.stop.length > 0) body.stop_sequences = req.stop;

  const tools = translateTools(req.tools, opts.betas.includes('structured-outputs'));
  if (tools) {
    body.tools = tools;
    const choice = translateToolChoice(req.tool_choice, req.parallel_tool_calls);
    if (choice) body.tool_choice = choice;
  }

  // Structured outputs exist only behind Anthropic's beta; without it response_format is dropped.
  const rf: unknown = req.response_format;
  if (isObj(rf) && rf.type === 'json_schema' && isObj(rf.json_schema) && opts.betas.includes('structured-outputs')) {
    body.output_format = { type: 'json_schema', schema: rf.json_schema.schema ?? {} };
  }

  if (typeof req.user === 'string' && req.user !== '') {
    // End-user ids identify people; Anthropic gets a stable digest (as the OpenAI adapter does).
    body.metadata = { user_id: createHash('sha256').update(req.user).digest('hex').slice(0, 32) };
  }
  if (stream) body.stream = true;
  limitBreakpoints(body);
  return body;
}
