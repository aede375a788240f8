import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from '../../core/errors.js';
import { firstError } from '../../core/validation.js';
import { validateMessagesRequest } from '../../validation/compiled.js';
import type {
  CacheMarker,
  ContentPart,
  FilePart,
  FunctionTool,
  GenerationRequest,
  HostedTool,
  ImagePart,
  MediaSource,
  Message,
  ReasoningEffort,
  ReasoningPart,
  ReasoningRequest,
  TextPart,
  Tool,
  ToolCallPart,
  ToolChoice,
  ToolResultPart,
} from '../../model/request.js';
import type { MessagesRequest } from './schema.js';
import { parsePlugins } from '../../plugins/registry.js';

/**
 * Anthropic Messages request → the wire-neutral request. The client's body is also kept whole
 * (`native`), so an Anthropic upstream receives it as sent; what is translated here serves upstreams
 * of other protocols. Blocks only an Anthropic upstream can use (server tool calls and their results,
 * citations, container uploads, block types this code does not know) are left out of the translation:
 * they reach Anthropic on the native path and mean nothing elsewhere. A block of a known type that is
 * malformed is a 400 naming it, as Anthropic would answer.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The format of Anthropic's thinking signatures (as the Anthropic adapter and the chat wire name it). */
export const ANTHROPIC_REASONING_FORMAT = 'anthropic-claude-v1';

/** Body fields that are Switchyard (OpenRouter) routing instructions, never sent to an upstream. */
export const ROUTING_FIELDS: readonly string[] = Object.freeze(['provider', 'models', 'route', 'transforms', 'plugins', 'usage', 'session_id']);

/** Client headers an Anthropic upstream takes from a native request. */
const NATIVE_HEADERS = ['anthropic-beta', 'anthropic-version'] as const;

/**
 * Server tool `type` prefixes (dated: `web_search_20250305`) → the neutral hosted-tool name. A dated
 * type not listed keeps its own name without the date.
 */
const HOSTED_NAMES: [prefix: string, name: string][] = [
  ['web_search_', 'web_search'],
  ['web_fetch_', 'web_fetch'],
  ['code_execution_', 'code_interpreter'],
  ['computer_', 'computer_use'],
  ['bash_', 'bash'],
  ['text_editor_', 'text_editor'],
  ['memory_', 'memory'],
  ['tool_search_tool_', 'tool_search'],
  ['browser_', 'browser'],
  ['mcp_toolset', 'mcp'],
];

const bad = (message: string) => new ApiError(400, message);

function cacheOf(v: unknown): CacheMarker | undefined {
  if (!isObj(v) || v.type !== 'ephemeral') return undefined;
  return typeof v.ttl === 'string' ? { type: 'ephemeral', ttl: v.ttl } : { type: 'ephemeral' };
}

function withCache<T extends { cache?: CacheMarker }>(part: T, block: Json): T {
  const cache = cacheOf(block.cache_control);
  if (cache) part.cache = cache;
  return part;
}

function str(block: Json, field: string, where: string): string {
  const v = block[field];
  if (typeof v !== 'string') throw bad(`${where}.${field} ${v === undefined ? 'is required' : 'must be a string'}`);
  return v;
}

/** An image or document `source` → a media source. */
function sourceOf(block: Json, where: string, document: boolean): MediaSource {
  const src = block.source;
  if (!isObj(src)) throw bad(`${where}.source ${src === undefined ? 'is required' : 'must be an object'}`);
  const at = `${where}.source`;
  switch (src.type) {
    case 'base64':
      return { kind: 'base64', mediaType: str(src, 'media_type', at), data: str(src, 'data', at) };
    case 'url':
      return { kind: 'url', url: str(src, 'url', at) };
    case 'file':
      return { kind: 'file-id', fileId: str(src, 'file_id', at) };
    case 'text':
      if (document) return { kind: 'text', mediaType: typeof src.media_type === 'string' ? src.media_type : 'text/plain', text: str(src, 'data', at) };
      break;
    default:
      break;
  }
  const allowed = document ? '"base64", "url", "text", "content", "file"' : '"base64", "url", "file"';
  throw bad(`${at}.type must be one of ${allowed}`);
}

function textPart(block: Json, where: string): TextPart {
  return withCache<TextPart>({ type: 'text', text: str(block, 'text', where) }, block);
}

/** A `search_result` block (RAG content the client supplies) as text: title, source, then its text blocks. */
function searchResultText(block: Json): TextPart {
  const texts = Array.isArray(block.content) ? (block.content as unknown[]).filter(isObj).map((b) => (typeof b.text === 'string' ? b.text : '')) : [];
  const head = [block.title, block.source].filter((s): s is string => typeof s === 'string' && s !== '');
  return withCache<TextPart>({ type: 'text', text: [...head, ...texts].join('\n\n') }, block);
}

/**
 * A `document` block. Its `content` source (text and image blocks given inline) becomes a text
 * document of its text blocks followed by its images as image parts; `title` names the file.
 */
function documentParts(block: Json, where: string): (FilePart | ImagePart)[] {
  const src = block.source;
  const filename = typeof block.title === 'string' && block.title !== '' ? block.title : undefined;
  if (isObj(src) && src.type === 'content') {
    const inner = typeof src.content === 'string' ? [{ type: 'text', text: src.content }] : Array.isArray(src.content) ? (src.content as unknown[]) : null;
    if (!inner) throw bad(`${where}.source.content must be a string or an array of blocks`);
    const texts: string[] = [];
    const images: ImagePart[] = [];
    inner.forEach((b, i) => {
      if (!isObj(b)) throw bad(`${where}.source.content[${i}] must be an object`);
      if (b.type === 'text') texts.push(str(b, 'text', `${where}.source.content[${i}]`));
      else if (b.type === 'image') images.push(withCache<ImagePart>({ type: 'image', source: sourceOf(b, `${where}.source.content[${i}]`, false) }, b));
    });
    const out: (FilePart | ImagePart)[] = [];
    if (texts.length > 0 || images.length === 0) {
      const file: FilePart = { type: 'file', source: { kind: 'text', mediaType: 'text/plain', text: texts.join('\n\n') } };
      if (filename) file.filename = filename;
      out.push(images.length === 0 ? withCache(file, block) : file);
    }
    if (images.length > 0) withCache(images[images.length - 1], block);
    return [...out, ...images];
  }
  const file: FilePart = { type: 'file', source: sourceOf(block, where, true) };
  if (filename) file.filename = filename;
  return [withCache(file, block)];
}

/** Tool input (an object) → JSON text arguments. */
function argumentsOf(input: unknown): string {
  if (input === undefined || input === null) return '{}';
  return typeof input === 'string' ? input : JSON.stringify(input);
}

function toolResultPart(block: Json, where: string): ToolResultPart {
  const part: ToolResultPart = { type: 'tool-result', callId: str(block, 'tool_use_id', where), content: [] };
  const content = block.content;
  if (typeof content === 'string') {
    if (content !== '') part.content.push({ type: 'text', text: content });
  } else if (Array.isArray(content)) {
    (content as unknown[]).forEach((b, i) => {
      const at = `${where}.content[${i}]`;
      if (!isObj(b) || typeof b.type !== 'string') throw bad(`${at}.type is required`);
      if (b.type === 'text') part.content.push(textPart(b, at));
      else if (b.type === 'image') part.content.push(withCache<ImagePart>({ type: 'image', source: sourceOf(b, at, false) }, b));
      else if (b.type === 'document') part.content.push(...documentParts(b, at));
      else if (b.type === 'search_result') part.content.push(searchResultText(b));
      // tool_reference (tool search) and types this code does not know: Anthropic-only.
    });
  } else if (content !== undefined && content !== null) {
    throw bad(`${where}.content must be a string or an array of blocks`);
  }
  if (block.is_error === true) part.isError = true;
  return withCache(part, block);
}

function reasoningPart(block: Json, where: string): ReasoningPart {
  if (block.type === 'redacted_thinking') {
    return withCache<ReasoningPart>({ type: 'reasoning', encrypted: str(block, 'data', where), format: ANTHROPIC_REASONING_FORMAT }, block);
  }
  const part: ReasoningPart = { type: 'reasoning', text: str(block, 'thinking', where), format: ANTHROPIC_REASONING_FORMAT };
  // A signature is required by Anthropic; an empty one (thinking an upstream of another protocol
  // produced, echoed back by the client) is left out so no adapter takes it for a real one.
  if (typeof block.signature === 'string' && block.signature !== '') part.signature = block.signature;
  return withCache(part, block);
}

/**
 * One message → one or more model messages. A user message's `tool_result` blocks become `tool`
 * messages; the blocks around them stay user messages, in order ([text, result, result, text] →
 * user, tool (both results), user).
 */
function toMessages(msg: Json, i: number): Message[] {
  const role = msg.role as 'user' | 'assistant' | 'system';
  const content = msg.content;
  if (typeof content === 'string') return [{ role, content: [{ type: 'text', text: content }] }];
  const out: Message[] = [];
  let current: Message | null = null;
  const push = (target: Message['role'], part: ContentPart) => {
    if (!current || current.role !== target) {
      current = { role: target, content: [] };
      out.push(current);
    }
    current.content.push(part);
  };
  (content as Json[]).forEach((block, j) => {
    const where = `messages[${i}].content[${j}]`;
    const type = block.type as string;
    switch (type) {
      case 'text':
        push(role, textPart(block, where));
        break;
      case 'image':
        push(role, withCache<ImagePart>({ type: 'image', source: sourceOf(block, where, false) }, block));
        break;
      case 'document':
        for (const p of documentParts(block, where)) push(role, p);
        break;
      case 'search_result':
        push(role, searchResultText(block));
        break;
      case 'tool_use': {
        if (role !== 'assistant') throw bad(`${where}: tool_use blocks belong in assistant messages`);
        const part: ToolCallPart = { type: 'tool-call', id: str(block, 'id', where), name: str(block, 'name', where), arguments: argumentsOf(block.input) };
        push(role, withCache(part, block));
        break;
      }
      case 'tool_result':
        if (role !== 'user') throw bad(`${where}: tool_result blocks belong in user messages`);
        push('tool', toolResultPart(block, where));
        break;
      case 'thinking':
      case 'redacted_thinking':
        push(role, reasoningPart(block, where));
        break;
      default:
        // server_tool_use and the server tools' results (web_search_tool_result, …), container
        // uploads, tool references, and block types newer than this code: they reach an Anthropic
        // upstream with the native body and mean nothing to upstreams of other protocols.
        break;
    }
  });
  return out;
}

function systemMessages(system: MessagesRequest['system']): Message[] {
  if (system === undefined) return [];
  if (typeof system === 'string') return system === '' ? [] : [{ role: 'system', content: [{ type: 'text', text: system }] }];
  if (system.length === 0) return [];
  return [{ role: 'system', content: system.map((b) => withCache<TextPart>({ type: 'text', text: b.text }, b as Json)) }];
}

/** The neutral name of a server tool type (`web_search_20250305` → `web_search`). */
export function hostedToolName(type: string): string {
  for (const [prefix, name] of HOSTED_NAMES) if (type.startsWith(prefix)) return name;
  return type.replace(/_\d{8}$/, '');
}

function toTools(tools: MessagesRequest['tools']): Tool[] {
  if (!Array.isArray(tools)) return [];
  return tools.map((t, i) => {
    const raw = t as Json;
    if (typeof t.type === 'string' && t.type !== 'custom') {
      const hosted: HostedTool = { type: 'hosted', name: hostedToolName(t.type), config: raw };
      return hosted;
    }
    if (typeof t.name !== 'string') throw bad(`tools[${i}].name is required`);
    if (!isObj(t.input_schema)) throw bad(`tools[${i}].input_schema is required`);
    const tool: FunctionTool = { type: 'function', name: t.name, parameters: t.input_schema };
    if (typeof t.description === 'string') tool.description = t.description;
    if (typeof t.strict === 'boolean') tool.strict = t.strict;
    return withCache(tool, raw);
  });
}

function toToolChoice(choice: MessagesRequest['tool_choice']): { choice?: ToolChoice; parallel?: boolean } {
  if (!choice) return {};
  const out: { choice?: ToolChoice; parallel?: boolean } = {};
  switch (choice.type) {
    case 'auto':
      out.choice = 'auto';
      break;
    case 'any':
      out.choice = 'required';
      break;
    case 'none':
      out.choice = 'none';
      break;
    case 'tool':
      if (typeof choice.name !== 'string' || choice.name === '') throw bad('tool_choice.name is required when tool_choice.type is "tool"');
      out.choice = { name: choice.name };
      break;
  }
  if (typeof choice.disable_parallel_tool_use === 'boolean') out.parallel = !choice.disable_parallel_tool_use;
  return out;
}

function toReasoning(req: MessagesRequest): ReasoningRequest | undefined {
  const t = req.thinking;
  const effort = req.output_config?.effort ?? null;
  if (!t && effort === null) return undefined;
  const r: ReasoningRequest = {};
  if (t?.type === 'enabled') {
    if (typeof t.budget_tokens !== 'number') throw bad('thinking.budget_tokens is required when thinking.type is "enabled"');
    r.maxTokens = t.budget_tokens;
  } else if (t?.type === 'adaptive') {
    r.adaptive = true;
  } else if (t?.type === 'disabled') {
    r.enabled = false;
  }
  // `display` ("omitted": thinking blocks come back with a signature but no text) is not
  // reasoning.exclude: excluded reasoning sends no thinking blocks at all, and Claude needs the
  // signed blocks back on the next turn of a tool loop. It stays in the native body only.
  if (effort !== null) r.effort = effort as ReasoningEffort;
  return r;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (Array.isArray(v)) return v.join(',');
  return typeof v === 'string' ? v : undefined;
}

/** Validates a Messages (or count_tokens) body against the schema; throws ApiError(400). */
export function validateMessagesBody(body: unknown): MessagesRequest {
  if (!isObj(body)) throw bad('Request body must be a JSON object');
  if (!validateMessagesRequest(body)) throw bad(firstError(validateMessagesRequest));
  return body as MessagesRequest;
}

/** The conversation's size in characters, for token estimates (system and messages as JSON). */
export function promptCharsOf(req: Pick<MessagesRequest, 'system' | 'messages'>): number {
  return (req.system === undefined ? 0 : JSON.stringify(req.system).length) + JSON.stringify(req.messages).length;
}

/** The neutral conversation (system first, then the messages in order) of a validated body. */
export function conversationOf(req: MessagesRequest): Message[] {
  const messages = systemMessages(req.system);
  (req.messages as Json[]).forEach((m, i) => {
    for (const out of toMessages(m, i)) if (out.content.length > 0) messages.push(out);
  });
  return messages;
}

/**
 * A validated Messages body → the model. `headers`: the client's request headers (lower-case
 * names, as node gives them).
 */
export function messagesToModel(req: MessagesRequest, headers: IncomingHttpHeaders = {}): GenerationRequest {
  if (req.max_tokens === undefined) throw bad('max_tokens is required');
  const nativeHeaders: Record<string, string> = {};
  for (const h of NATIVE_HEADERS) {
    const v = headerValue(headers, h);
    if (v !== undefined) nativeHeaders[h] = v;
  }
  const model: GenerationRequest = {
    api: 'messages',
    model: req.model,
    models: req.models ?? [],
    provider: req.provider ?? null,
    messages: conversationOf(req),
    tools: toTools(req.tools),
    maxTokens: req.max_tokens,
    // Coding agents ask for the largest output their model allows; another model still serves.
    maxTokensPolicy: 'clamp',
    stream: req.stream === true,
    extra: {},
    native: { protocol: 'anthropic', body: req, headers: nativeHeaders, routingFields: ROUTING_FIELDS },
    promptChars: promptCharsOf(req),
    parameters: [],
  };
  if (typeof req.route === 'string') model.route = req.route;
  const { choice, parallel } = toToolChoice(req.tool_choice);
  if (choice !== undefined) model.toolChoice = choice;
  if (parallel !== undefined) model.parallelToolCalls = parallel;
  if (req.temperature != null) model.temperature = req.temperature;
  if (req.top_p != null) model.topP = req.top_p;
  if (req.top_k != null) model.topK = req.top_k;
  if (req.stop_sequences && req.stop_sequences.length > 0) model.stop = req.stop_sequences;
  const reasoning = toReasoning(req);
  if (reasoning) model.reasoning = reasoning;
  const format = req.output_config?.format;
  if (format && format.type === 'json_schema') {
    const schema = (format as Json).schema;
    model.responseFormat = { type: 'json_schema', schema: isObj(schema) ? schema : {} };
  }
  const user = req.metadata?.user_id;
  if (typeof user === 'string' && user !== '') model.user = user;
  const session = req.session_id ?? headerValue(headers, 'x-session-id');
  if (session !== undefined && session !== '') model.sessionId = session;
  const cache = cacheOf(req.cache_control);
  if (cache) model.cache = cache;
  model.parameters = parametersOf(req, model);
  const plugins = parsePlugins({ plugins: (req as Json).plugins, transforms: (req as Json).transforms, modelIds: [req.model, ...(req.models ?? [])] });
  if (plugins) model.plugins = plugins;
  return model;
}

/** The request parameters used, as OpenRouter names them (for `provider.require_parameters`). */
function parametersOf(req: MessagesRequest, model: GenerationRequest): string[] {
  const out = ['max_tokens'];
  if (model.temperature !== undefined) out.push('temperature');
  if (model.topP !== undefined) out.push('top_p');
  if (model.topK !== undefined) out.push('top_k');
  if (model.stop) out.push('stop');
  if (model.tools.length > 0) out.push('tools');
  if (req.tool_choice) out.push('tool_choice');
  if (model.parallelToolCalls !== undefined) out.push('parallel_tool_calls');
  if (model.reasoning && model.reasoning.enabled !== false) out.push('reasoning');
  if (model.responseFormat) out.push('response_format');
  return out;
}

/** The whole parse: body → validated → model; throws ApiError(400) naming the field. */
export function parseMessagesRequest(body: unknown, headers: IncomingHttpHeaders, ctx: { maxModels: number }): GenerationRequest {
  const req = validateMessagesBody(body);
  if (req.models && req.models.length > ctx.maxModels) throw bad(`models may list at most ${ctx.maxModels} models`);
  return messagesToModel(req, headers);
}
