import type { Endpoint } from '../../catalog/types.js';
import { sourceToUrl } from '../../model/media.js';
import type { ContentPart, GenerationRequest, Message, NativeRequest, ReasoningPart, ResponseFormat, Tool, ToolChoice } from '../../model/request.js';
import { textOf } from '../../model/request.js';
import { hashUser, maxTokensFor } from '../shared.js';
import { UntranslatableRequest } from '../types.js';
import { hostedToolOf } from './hosted-tools.js';

/**
 * The wire-neutral request → OpenAI's Responses request (`POST /responses`,
 * https://platform.openai.com/docs/api-reference/responses/create), and the pass-through body of a
 * request that came in on the Responses wire itself.
 */

type Json = Record<string, unknown>;

/** The reasoning family whose encrypted content this protocol accepts back. */
export const RESPONSES_REASONING_FORMAT = 'openai-responses-v1';

const INCLUDE_ENCRYPTED = 'reasoning.encrypted_content';

/** One content part of a user, system or tool-output message. */
function inputPart(part: ContentPart): Json | null {
  switch (part.type) {
    case 'text':
      return { type: 'input_text', text: part.text };
    case 'image': {
      if (part.source.kind === 'file-id') return { type: 'input_image', file_id: part.source.fileId, detail: part.detail ?? 'auto' };
      return { type: 'input_image', image_url: sourceToUrl(part.source), detail: part.detail ?? 'auto' };
    }
    case 'file': {
      const src = part.source;
      if (src.kind === 'file-id') return { type: 'input_file', file_id: src.fileId };
      if (src.kind === 'url') return { type: 'input_file', file_url: src.url };
      return { type: 'input_file', filename: part.filename ?? 'file', file_data: sourceToUrl(src) };
    }
    case 'audio':
    case 'video':
      throw new UntranslatableRequest(`${part.type} input is not accepted by the OpenAI Responses API`);
    default:
      return null;
  }
}

function inputParts(parts: readonly ContentPart[]): Json[] {
  const out: Json[] = [];
  for (const p of parts) {
    const converted = inputPart(p);
    if (converted) out.push(converted);
  }
  return out;
}

/**
 * Reasoning from an earlier turn, as a reasoning item. Only OpenAI's own blocks can go back, and
 * only with their encrypted content: requests are sent with `store: false`, so an item id alone
 * would name nothing the upstream kept.
 */
function reasoningItem(part: ReasoningPart, summaries: ReadonlyMap<string, string>): Json | null {
  if (part.format !== RESPONSES_REASONING_FORMAT || part.encrypted === undefined || part.id === undefined) return null;
  const summary = part.summary ?? part.text ?? summaries.get(part.id);
  return { type: 'reasoning', id: part.id, summary: summary ? [{ type: 'summary_text', text: summary }] : [], encrypted_content: part.encrypted };
}

/** The conversation as input items, in order. */
export function inputItems(messages: readonly Message[], systemRole: 'system' | 'developer'): Json[] {
  const items: Json[] = [];
  for (const msg of messages) {
    switch (msg.role) {
      case 'system':
        items.push({ type: 'message', role: systemRole, content: inputParts(msg.content) });
        break;
      case 'user':
        items.push({ type: 'message', role: 'user', content: inputParts(msg.content) });
        break;
      case 'tool':
        for (const part of msg.content) {
          if (part.type !== 'tool-result') continue;
          const only = part.content.length === 1 && part.content[0].type === 'text';
          const output = only || part.content.length === 0 ? textOf(part.content) : inputParts(part.content);
          items.push({ type: part.kind === 'custom' ? 'custom_tool_call_output' : 'function_call_output', call_id: part.callId, output });
        }
        break;
      case 'assistant': {
        // A chat client returns a block's summary (whole or in the fragments it streamed as) and its
        // encrypted content as separate details of one id.
        const summaries = new Map<string, string>();
        for (const part of msg.content) {
          const readable = part.type === 'reasoning' && part.encrypted === undefined ? (part.summary ?? part.text) : undefined;
          if (part.type === 'reasoning' && part.id !== undefined && readable) summaries.set(part.id, (summaries.get(part.id) ?? '') + readable);
        }
        // Text parts between other items become one assistant message each, keeping the order.
        let text: Json[] | null = null;
        for (const part of msg.content) {
          if (part.type === 'text') {
            if (!text) {
              text = [];
              items.push({ type: 'message', role: 'assistant', content: text });
            }
            text.push({ type: 'output_text', text: part.text });
            continue;
          }
          text = null;
          if (part.type === 'tool-call') {
            items.push(
              part.kind === 'custom'
                ? { type: 'custom_tool_call', call_id: part.id, name: part.name, input: part.arguments }
                : { type: 'function_call', call_id: part.id, name: part.name, arguments: part.arguments },
            );
          } else if (part.type === 'reasoning') {
            const item = reasoningItem(part, summaries);
            if (item) items.push(item);
          }
        }
        break;
      }
    }
  }
  return items;
}

/**
 * What one Responses host runs itself, and how it writes a hosted tool that came from another wire
 * (or from the web plugin). Hosts differ: OpenAI filters web search by `filters.allowed_domains`,
 * xAI by top-level `allowed_domains` / `excluded_domains` and also searches X.
 */
export interface HostedToolDialect {
  served: ReadonlySet<string>;
  /** The host's tool for a neutral hosted tool, or null when it has none. */
  write(name: string, config: Record<string, unknown>): Json | null;
}

/**
 * OpenAI's hosted tools: a definition already in Responses' shape (from the Responses front door)
 * as the client wrote it; web search from another wire as OpenAI's web_search, with an allow-list
 * when one was given (OpenAI has no block-list: a `blocked_domains` is not sent).
 */
export function openAIHostedTool(name: string, config: Record<string, unknown>): Json | null {
  if (hostedToolOf(config.type) === name) return config;
  if (name === 'web_search') {
    const tool: Json = { type: 'web_search' };
    const allowed = allowedDomainsOf(config);
    if (allowed) tool.filters = { allowed_domains: allowed };
    return tool;
  }
  return null;
}

/** A web search allow-list in any of the wires' spellings: top-level (Anthropic's, the web plugin's) or under `filters` (OpenAI's). */
export function allowedDomainsOf(config: Record<string, unknown>): string[] | undefined {
  const direct = config.allowed_domains;
  if (Array.isArray(direct) && direct.length > 0) return direct as string[];
  const filters = config.filters as Record<string, unknown> | undefined;
  if (filters && Array.isArray(filters.allowed_domains) && filters.allowed_domains.length > 0) return filters.allowed_domains as string[];
  return undefined;
}

function tools(req: GenerationRequest, hosted: HostedToolDialect): Json[] | undefined {
  const out: Json[] = [];
  for (const t of req.tools) {
    if (t.type === 'hosted') {
      const tool = hosted.served.has(t.name) ? hosted.write(t.name, t.config) : null;
      if (tool) out.push(tool);
      continue;
    }
    if (t.kind === 'custom') {
      const custom: Json = { type: 'custom', name: t.name };
      if (t.description !== undefined) custom.description = t.description;
      if (t.format !== undefined) custom.format = t.format;
      out.push(custom);
      continue;
    }
    const fn: Json = { type: 'function', name: t.name };
    if (t.description !== undefined) fn.description = t.description;
    fn.parameters = t.parameters ?? { type: 'object', properties: {} };
    // Responses makes function tools strict unless told otherwise; chat completions does not.
    fn.strict = t.strict ?? false;
    out.push(fn);
  }
  return out.length > 0 ? out : undefined;
}

function toolChoice(choice: ToolChoice | undefined, all: readonly Tool[]): unknown {
  if (choice === undefined || typeof choice === 'string') return choice;
  const tool = all.find((t) => t.name === choice.name);
  if (tool?.type === 'hosted') return { type: typeof tool.config.type === 'string' && hostedToolOf(tool.config.type) === tool.name ? tool.config.type : tool.name };
  return { type: tool?.kind === 'custom' ? 'custom' : 'function', name: choice.name };
}

function textFormat(rf: ResponseFormat | undefined): Json | undefined {
  if (rf === undefined || rf.type === 'text') return undefined;
  if (rf.type === 'json_object') return { type: 'json_object' };
  const f: Json = { type: 'json_schema', name: rf.name ?? 'response' };
  if (rf.description !== undefined) f.description = rf.description;
  f.schema = rf.schema;
  if (rf.strict !== undefined && rf.strict !== null) f.strict = rf.strict;
  return f;
}

/** OpenAI's effort names: OpenRouter's `max` is OpenAI's `xhigh`. */
function effortOf(req: GenerationRequest): string | undefined {
  const r = req.reasoning;
  if (!r) return undefined;
  if (r.effort) return r.effort === 'max' ? 'xhigh' : r.effort;
  if (r.enabled === true || r.maxTokens != null) return 'medium';
  return undefined;
}

/** Whether an endpoint takes a sampling parameter (reasoning models refuse temperature and top_p). */
function takes(endpoint: Endpoint, param: string): boolean {
  const supported = endpoint.supportedParameters;
  return supported.size === 0 || supported.has(param);
}

/**
 * The Responses body for one endpoint. Requests are not stored upstream (`store: false`: the
 * conversation is Switchyard's to keep); reasoning models are asked for their encrypted reasoning,
 * which comes back on the next turn as a reasoning item, and for a summary when the client wants
 * to see reasoning.
 */
export function responsesBody(req: GenerationRequest, endpoint: Endpoint, stream: boolean, hosted: HostedToolDialect): Json {
  const reasons = endpoint.model.reasoning === true;
  const body: Json = { model: endpoint.upstreamModel, input: inputItems(req.messages, reasons ? 'developer' : 'system') };
  const maxTokens = maxTokensFor(req, endpoint);
  if (maxTokens !== undefined) body.max_output_tokens = maxTokens;
  if (req.temperature !== undefined && takes(endpoint, 'temperature')) body.temperature = req.temperature;
  if (req.topP !== undefined && takes(endpoint, 'top_p')) body.top_p = req.topP;
  const t = tools(req, hosted);
  if (t) {
    body.tools = t;
    const choice = toolChoice(req.toolChoice, req.tools);
    if (choice !== undefined) body.tool_choice = choice;
    if (req.parallelToolCalls !== undefined) body.parallel_tool_calls = req.parallelToolCalls;
  }
  const format = textFormat(req.responseFormat);
  const verbosity = req.extra.verbosity;
  if (format || typeof verbosity === 'string') {
    const text: Json = {};
    if (format) text.format = format;
    if (typeof verbosity === 'string') text.verbosity = verbosity;
    body.text = text;
  }
  if (reasons) {
    const effort = effortOf(req);
    const reasoning: Json = {};
    if (effort) reasoning.effort = effort;
    const summary = req.reasoning?.summary ?? (effort && req.reasoning?.hide !== true && req.reasoning?.exclude !== true ? 'auto' : undefined);
    if (summary) reasoning.summary = summary;
    if (Object.keys(reasoning).length > 0) body.reasoning = reasoning;
    body.include = [INCLUDE_ENCRYPTED];
  }
  if (req.user !== undefined) body.safety_identifier = hashUser(req.user);
  if (req.sessionId !== undefined) body.prompt_cache_key = req.sessionId;
  if (typeof req.extra.service_tier === 'string') body.service_tier = req.extra.service_tier;
  if (req.metadata) body.metadata = req.metadata;
  body.store = false;
  if (stream) body.stream = true;
  return body;
}

/**
 * A request that came in on the Responses wire, for a Responses upstream: the client's body as it
 * was written (unknown fields, hosted tools, reasoning items with their encrypted content, `include`,
 * `store`), with the model replaced by the endpoint's, Switchyard's routing fields removed, the
 * output limit clamped when routing allowed it, and hosted tools this upstream does not run left out.
 */
export function nativeResponsesBody(req: GenerationRequest, native: NativeRequest, endpoint: Endpoint, stream: boolean, servedHosted: ReadonlySet<string>): Json {
  const body: Json = {};
  for (const [k, v] of Object.entries(native.body)) {
    if (native.routingFields.includes(k)) continue;
    body[k] = v;
  }
  body.model = endpoint.upstreamModel;
  const maxTokens = maxTokensFor(req, endpoint);
  if (maxTokens !== undefined && typeof body.max_output_tokens === 'number' && maxTokens < body.max_output_tokens) body.max_output_tokens = maxTokens;
  if (Array.isArray(body.tools)) {
    const kept = (body.tools as Json[]).filter((t) => {
      const hosted = hostedToolOf(t?.type);
      return hosted === undefined || servedHosted.has(hosted);
    });
    if (kept.length !== body.tools.length) body.tools = kept;
  }
  if (stream) body.stream = true;
  else delete body.stream;
  return body;
}
