import type { ChatRequest } from './schema.js';
import type {
  CacheMarker,
  ContentPart,
  FilePart,
  GenerationRequest,
  ImagePart,
  Message,
  ReasoningEffort,
  ReasoningPart,
  ResponseFormat,
  TextPart,
  Tool,
  ToolChoice,
} from '../../model/request.js';
import { sourceFromUrl } from '../../model/media.js';
import { parsePlugins } from '../../plugins/registry.js';
import { isWebSearchToolType, webSearchTool } from '../../plugins/web.js';
import { ApiError } from '../../core/errors.js';

/**
 * OpenRouter chat-completions request (already validated) → the wire-neutral request. Everything
 * that is chat-specific about the shape (data URLs, stringified tool arguments, reasoning_details,
 * `tool` messages keyed by tool_call_id) ends here.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Fields OpenAI-compatible hosts take as they are; the model has no slot of its own for them. */
const PASSTHROUGH = ['prediction', 'verbosity', 'web_search_options', 'service_tier', 'modalities', 'audio', 'safe_prompt', 'x_search_filter'] as const;

/** Request parameters as OpenRouter names them, for `provider.require_parameters`. */
const PARAMETERS = [
  'tools',
  'tool_choice',
  'max_tokens',
  'temperature',
  'top_p',
  'top_k',
  'frequency_penalty',
  'presence_penalty',
  'repetition_penalty',
  'min_p',
  'top_a',
  'seed',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'stop',
  'response_format',
  'parallel_tool_calls',
  'reasoning',
] as const;

function cacheOf(v: unknown): CacheMarker | undefined {
  if (!isObj(v) || v.type !== 'ephemeral') return undefined;
  return typeof v.ttl === 'string' ? { type: 'ephemeral', ttl: v.ttl } : { type: 'ephemeral' };
}

function withCache<T extends ContentPart>(part: T, raw: unknown): T {
  const cache = isObj(raw) ? cacheOf(raw.cache_control) : undefined;
  if (cache) (part as { cache?: CacheMarker }).cache = cache;
  return part;
}

function filePart(file: Json): FilePart | ImagePart | null {
  const filename = typeof file.filename === 'string' && file.filename !== '' ? file.filename : undefined;
  const data = typeof file.file_data === 'string' ? file.file_data : undefined;
  let part: FilePart | ImagePart;
  if (data !== undefined) {
    if (data.startsWith('data:') || /^https?:\/\//i.test(data)) {
      const source = sourceFromUrl(data);
      part = source.kind === 'base64' && source.mediaType.startsWith('image/') ? { type: 'image', source } : { type: 'file', source };
    } else {
      // Bare base64 without a data-URL prefix: OpenRouter documents PDFs here.
      part = { type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data } };
    }
  } else if (typeof file.file_id === 'string') {
    part = { type: 'file', source: { kind: 'file-id', fileId: file.file_id } };
  } else {
    return null;
  }
  if (filename && part.type === 'file') part.filename = filename;
  return part;
}

function contentParts(content: unknown): ContentPart[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  const out: ContentPart[] = [];
  for (const raw of content as unknown[]) {
    if (typeof raw === 'string') {
      out.push({ type: 'text', text: raw });
      continue;
    }
    if (!isObj(raw)) continue;
    switch (raw.type) {
      case 'text':
        if (typeof raw.text === 'string') out.push(withCache<TextPart>({ type: 'text', text: raw.text }, raw));
        break;
      case 'image_url': {
        const iu = raw.image_url;
        const url = typeof iu === 'string' ? iu : isObj(iu) && typeof iu.url === 'string' ? iu.url : '';
        if (!url) break;
        const part: ImagePart = { type: 'image', source: sourceFromUrl(url) };
        if (isObj(iu) && typeof iu.detail === 'string') part.detail = iu.detail;
        out.push(withCache(part, raw));
        break;
      }
      case 'file': {
        const part = isObj(raw.file) ? filePart(raw.file) : null;
        if (part) out.push(withCache(part, raw));
        break;
      }
      case 'input_audio': {
        const a = raw.input_audio;
        if (isObj(a) && typeof a.data === 'string') out.push({ type: 'audio', data: a.data, format: typeof a.format === 'string' ? a.format : 'wav' });
        break;
      }
      case 'video_url':
      case 'input_video': {
        const v = raw.video_url;
        if (isObj(v) && typeof v.url === 'string') out.push({ type: 'video', url: v.url });
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/**
 * reasoning_details → reasoning parts, in order. Fragments of one block (same `index`, streamed
 * deltas a client kept unmerged) are joined; a text after a block's signature starts a new block.
 */
export function reasoningParts(details: unknown): ReasoningPart[] {
  if (!Array.isArray(details)) return [];
  const out: ReasoningPart[] = [];
  // The block being joined and the `index` its fragments share.
  let current: ReasoningPart | null = null;
  let currentIndex: unknown;
  for (const d of details as unknown[]) {
    if (!isObj(d)) continue;
    const format = typeof d.format === 'string' ? d.format : undefined;
    const id = typeof d.id === 'string' ? d.id : undefined;
    if (d.type === 'reasoning.text') {
      const text = typeof d.text === 'string' ? d.text : '';
      if (current && (currentIndex !== d.index || current.format !== format || (current.signature !== undefined && text !== ''))) current = null;
      if (!current) {
        current = { type: 'reasoning', text: '' };
        if (format) current.format = format;
        if (id) current.id = id;
        currentIndex = d.index;
        out.push(current);
      }
      current.text += text;
      if (typeof d.signature === 'string' && d.signature !== '') current.signature = d.signature;
      continue;
    }
    current = null;
    let part: ReasoningPart | null = null;
    if (d.type === 'reasoning.summary') part = { type: 'reasoning', summary: typeof d.summary === 'string' ? d.summary : '' };
    else if (d.type === 'reasoning.encrypted' && typeof d.data === 'string') part = { type: 'reasoning', encrypted: d.data };
    if (!part) continue;
    if (format) part.format = format;
    if (id) part.id = id;
    out.push(part);
  }
  return out;
}

function assistantParts(msg: Json): ContentPart[] {
  const parts: ContentPart[] = reasoningParts(msg.reasoning_details);
  if (msg.content !== undefined && msg.content !== null) parts.push(...contentParts(msg.content));
  if (Array.isArray(msg.tool_calls)) {
    for (const tc of msg.tool_calls as unknown[]) {
      if (!isObj(tc)) continue;
      const fn = isObj(tc.function) ? tc.function : {};
      const args = fn.arguments;
      parts.push(
        withCache(
          { type: 'tool-call', id: String(tc.id ?? ''), name: String(fn.name ?? ''), arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) },
          tc,
        ),
      );
    }
  }
  return parts;
}

export function toMessages(messages: readonly Json[]): Message[] {
  const out: Message[] = [];
  for (const msg of messages) {
    const role = msg.role === 'developer' ? 'system' : msg.role;
    let m: Message;
    if (role === 'tool') {
      const content = contentParts(msg.content).filter((p): p is TextPart | ImagePart | FilePart => p.type === 'text' || p.type === 'image' || p.type === 'file');
      m = { role: 'tool', content: [withCache({ type: 'tool-result', callId: String(msg.tool_call_id ?? ''), content }, msg)] };
    } else if (role === 'assistant') {
      m = { role: 'assistant', content: assistantParts(msg) };
    } else {
      m = { role: role === 'system' ? 'system' : 'user', content: contentParts(msg.content) };
    }
    if (typeof msg.name === 'string' && msg.name !== '') m.name = msg.name;
    const cache = role === 'tool' ? undefined : cacheOf(msg.cache_control);
    if (cache) m.cache = cache;
    out.push(m);
  }
  return out;
}

function toTools(tools: ChatRequest['tools']): Tool[] {
  if (!Array.isArray(tools)) return [];
  let searches = 0;
  return tools.map((t, i) => {
    if (t.type !== 'function') {
      if (!isWebSearchToolType(t.type)) {
        throw new ApiError(400, `tools[${i}]: type ${JSON.stringify(t.type)} is not supported: Switchyard takes function tools and OpenRouter's openrouter:web_search server tool`);
      }
      if (++searches > 1) throw new ApiError(400, `tools[${i}]: only one web search tool may be given`);
      return webSearchTool(t as Json, `tools[${i}]`);
    }
    const fn = t.function;
    if (!fn) throw new ApiError(400, `tools[${i}].function is required`);
    const tool: Tool = { type: 'function', name: fn.name };
    if (typeof fn.description === 'string') tool.description = fn.description;
    if (isObj(fn.parameters)) tool.parameters = fn.parameters;
    if (fn.strict !== undefined) tool.strict = fn.strict;
    const cache = cacheOf((t as Json).cache_control);
    if (cache) tool.cache = cache;
    return tool;
  });
}

function toToolChoice(choice: ChatRequest['tool_choice']): ToolChoice | undefined {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (isObj(choice) && isObj(choice.function) && typeof choice.function.name === 'string') return { name: choice.function.name };
  return undefined;
}

function toResponseFormat(rf: unknown): ResponseFormat | undefined {
  if (!isObj(rf)) return undefined;
  if (rf.type === 'json_object') return { type: 'json_object' };
  if (rf.type === 'json_schema') {
    const js = isObj(rf.json_schema) ? rf.json_schema : {};
    const out: ResponseFormat = { type: 'json_schema', schema: isObj(js.schema) ? js.schema : {} };
    if (typeof js.name === 'string') out.name = js.name;
    if (typeof js.description === 'string') out.description = js.description;
    if (typeof js.strict === 'boolean' || js.strict === null) out.strict = js.strict as boolean | null;
    return out;
  }
  if (rf.type === 'text') return { type: 'text' };
  return undefined;
}

function parametersOf(req: ChatRequest): string[] {
  const out: string[] = [];
  for (const p of PARAMETERS) {
    const v = (req as Json)[p];
    if (v !== undefined && v !== null) out.push(p);
  }
  if (req.max_completion_tokens != null && !out.includes('max_tokens')) out.push('max_tokens');
  if ((req.reasoning_effort != null || req.include_reasoning != null) && !out.includes('reasoning')) out.push('reasoning');
  return out;
}

/** `file` annotations on assistant messages: PDFs parsed on an earlier turn, sent back so they are not parsed again. */
function fileAnnotations(messages: Json[] | undefined): { hash: string; text: string }[] {
  const out: { hash: string; text: string }[] = [];
  for (const m of messages ?? []) {
    if (m.role !== 'assistant' || !Array.isArray(m.annotations)) continue;
    for (const a of m.annotations as unknown[]) {
      if (!isObj(a) || a.type !== 'file' || !isObj(a.file) || typeof a.file.hash !== 'string' || !Array.isArray(a.file.content)) continue;
      const text = (a.file.content as unknown[]).flatMap((c) => (isObj(c) && c.type === 'text' && typeof c.text === 'string' ? [c.text] : [])).join('\n');
      out.push({ hash: a.file.hash, text });
    }
  }
  return out;
}

export function chatToModel(req: ChatRequest, promptChars: number): GenerationRequest {
  const model: GenerationRequest = {
    api: 'chat_completions',
    model: req.model ?? null,
    models: req.models ?? [],
    provider: (req.provider as Json | null | undefined) ?? null,
    messages: toMessages((req.messages ?? []) as Json[]),
    tools: toTools(req.tools),
    stream: req.stream === true,
    extra: {},
    promptChars,
    parameters: parametersOf(req),
  };
  if (req.route != null) model.route = req.route;
  const toolChoice = toToolChoice(req.tool_choice);
  if (toolChoice) model.toolChoice = toolChoice;
  if (typeof req.parallel_tool_calls === 'boolean') model.parallelToolCalls = req.parallel_tool_calls;
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (maxTokens != null) model.maxTokens = maxTokens;
  if (req.temperature != null) model.temperature = req.temperature;
  if (req.top_p != null) model.topP = req.top_p;
  if (req.top_k != null) model.topK = req.top_k;
  if (req.frequency_penalty != null) model.frequencyPenalty = req.frequency_penalty;
  if (req.presence_penalty != null) model.presencePenalty = req.presence_penalty;
  if (req.repetition_penalty != null) model.repetitionPenalty = req.repetition_penalty;
  if (req.min_p != null) model.minP = req.min_p;
  if (req.top_a != null) model.topA = req.top_a;
  if (req.seed != null) model.seed = req.seed;
  if (req.logit_bias != null) model.logitBias = req.logit_bias;
  if (req.logprobs != null) model.logprobs = req.logprobs;
  if (req.top_logprobs != null) model.topLogprobs = req.top_logprobs;
  if (typeof req.stop === 'string') model.stop = [req.stop];
  else if (Array.isArray(req.stop)) model.stop = req.stop;
  const rf = toResponseFormat(req.response_format);
  if (rf) model.responseFormat = rf;
  const r = req.reasoning ?? null;
  const effort = r?.effort ?? req.reasoning_effort ?? null;
  if (r || effort !== null || req.include_reasoning != null) {
    model.reasoning = {};
    if (effort !== null) model.reasoning.effort = effort as ReasoningEffort;
    if (r?.max_tokens != null) model.reasoning.maxTokens = r.max_tokens;
    if (r?.enabled != null) model.reasoning.enabled = r.enabled;
    if (r?.exclude === true) model.reasoning.exclude = true;
    // The legacy include_reasoning: false only hides reasoning; unlike reasoning.exclude it does not ask for it.
    if (r?.exclude === true || req.include_reasoning === false) model.reasoning.hide = true;
  }
  if (typeof req.user === 'string') model.user = req.user;
  if (typeof req.session_id === 'string') model.sessionId = req.session_id;
  if (req.metadata) model.metadata = req.metadata;
  const cache = cacheOf(req.cache_control);
  if (cache) model.cache = cache;
  for (const k of PASSTHROUGH) {
    const v = (req as Json)[k];
    if (v !== undefined && v !== null) model.extra[k] = v;
  }
  const plugins = parsePlugins({ plugins: req.plugins, transforms: req.transforms, modelIds: [req.model, ...(req.models ?? [])] });
  if (plugins) model.plugins = plugins;
  const parsedFiles = fileAnnotations(req.messages as Json[] | undefined);
  if (parsedFiles.length > 0) model.plugins = { ...model.plugins, parsedFiles };
  return model;
}
