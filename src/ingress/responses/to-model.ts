import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from '../../core/errors.js';
import { guessMediaType, sourceFromUrl } from '../../model/media.js';
import { parsePlugins } from '../../plugins/registry.js';
import { webSearchTool } from '../../plugins/web.js';
import type {
  ContentPart,
  FilePart,
  FunctionTool,
  GenerationRequest,
  HostedTool,
  ImagePart,
  Message,
  ReasoningEffort,
  ReasoningPart,
  ResponseFormat,
  TextPart,
  Tool,
  ToolChoice,
} from '../../model/request.js';
import { attachContext, decodeReasoningEnvelope, flatToolName, type ClientToolName, type ResponsesContext } from './context.js';
import { HOSTED_TOOLS, isObj, validateResponsesRequest, type Json, type ResponsesRequest } from './schema.js';

/**
 * OpenAI Responses request (validated) → the wire-neutral request. Everything Responses-specific
 * ends here: input items, `instructions`, namespaces and custom tools, reasoning items (with
 * Switchyard's reasoning envelope, context.ts), previous_response_id and item_reference (resolved
 * through an InputResolver the response store prepared), `text.format`, `max_output_tokens`.
 */

/**
 * Resolves what a request refers to in earlier responses. Synchronous: the store loads everything
 * the body names before parsing (ResponseStore.prepare).
 */
export interface InputResolver {
  /** The items a stored response continues with (its conversation's inputs and outputs, in order), or undefined. */
  previous(id: string): Json[] | undefined;
  /** A stored output item by id, or undefined. */
  item(id: string): Json | undefined;
}

const REASONING_FORMAT = 'openai-responses-v1';

/** The upstream protocol that takes this front door's body as it is (src/providers/openai-responses/). */
const NATIVE_PROTOCOL = 'openai-responses';

/** Body fields that are Switchyard's routing instructions (OpenRouter's extensions), never sent upstream. */
export const ROUTING_FIELDS: readonly string[] = Object.freeze(['provider', 'models', 'route', 'transforms', 'plugins', 'usage', 'session_id']);

/** Request parameters as OpenRouter names them, for `provider.require_parameters`. */
function parametersOf(b: ResponsesRequest, tools: Tool[], rf: ResponseFormat | undefined): string[] {
  const out: string[] = [];
  if (tools.length > 0) out.push('tools');
  if (b.tool_choice != null) out.push('tool_choice');
  if (b.max_output_tokens != null) out.push('max_tokens');
  if (b.temperature != null) out.push('temperature');
  if (b.top_p != null) out.push('top_p');
  if (b.top_k != null) out.push('top_k');
  if (b.reasoning != null) out.push('reasoning');
  if (rf && rf.type !== 'text') out.push('response_format');
  if (b.parallel_tool_calls != null) out.push('parallel_tool_calls');
  return out;
}

function textPart(text: string): TextPart {
  return { type: 'text', text };
}

function imagePart(p: Json): ImagePart | null {
  const iu = p.image_url;
  const url = typeof iu === 'string' ? iu : isObj(iu) && typeof iu.url === 'string' ? iu.url : '';
  let part: ImagePart;
  if (url) part = { type: 'image', source: sourceFromUrl(url) };
  else if (typeof p.file_id === 'string') part = { type: 'image', source: { kind: 'file-id', fileId: p.file_id } };
  else return null;
  if (typeof p.detail === 'string') part.detail = p.detail;
  return part;
}

function filePart(p: Json): FilePart | ImagePart | null {
  const filename = typeof p.filename === 'string' && p.filename !== '' ? p.filename : undefined;
  let part: FilePart | ImagePart;
  if (typeof p.file_data === 'string') {
    const data = p.file_data;
    if (data.startsWith('data:')) {
      const source = sourceFromUrl(data);
      part = source.kind === 'base64' && source.mediaType.startsWith('image/') ? { type: 'image', source } : { type: 'file', source };
    } else {
      // Bare base64: the file name says what it is, else a PDF (what OpenAI documents here).
      part = { type: 'file', source: { kind: 'base64', mediaType: guessMediaType(filename) ?? 'application/pdf', data } };
    }
  } else if (typeof p.file_url === 'string') {
    part = { type: 'file', source: { kind: 'url', url: p.file_url } };
  } else if (typeof p.file_id === 'string') {
    part = { type: 'file', source: { kind: 'file-id', fileId: p.file_id } };
  } else {
    return null;
  }
  if (filename && part.type === 'file') part.filename = filename;
  return part;
}

function contentParts(content: unknown): ContentPart[] {
  if (typeof content === 'string') return [textPart(content)];
  if (!Array.isArray(content)) return [];
  const out: ContentPart[] = [];
  for (const raw of content as unknown[]) {
    if (typeof raw === 'string') {
      out.push(textPart(raw));
      continue;
    }
    if (!isObj(raw)) continue;
    switch (raw.type) {
      case 'input_text':
      case 'output_text':
      case 'text':
        if (typeof raw.text === 'string') out.push(textPart(raw.text));
        break;
      case 'refusal':
        if (typeof raw.refusal === 'string') out.push(textPart(raw.refusal));
        break;
      case 'input_image': {
        const part = imagePart(raw);
        if (part) out.push(part);
        break;
      }
      case 'input_file': {
        const part = filePart(raw);
        if (part) out.push(part);
        break;
      }
      case 'input_audio': {
        const a = raw.input_audio;
        if (isObj(a) && typeof a.data === 'string') out.push({ type: 'audio', data: a.data, format: typeof a.format === 'string' ? a.format : 'wav' });
        break;
      }
      default:
        break;
    }
  }
  return out;
}

const joinTexts = (parts: unknown, separator: string): string =>
  Array.isArray(parts) ? parts.filter((p): p is Json => isObj(p) && typeof p.text === 'string').map((p) => p.text as string).join(separator) : '';

/**
 * A reasoning item → one ReasoningPart. Switchyard's envelope in encrypted_content restores the
 * upstream's block exactly (format, signature, data, upstream id); any other encrypted_content is
 * OpenAI's own.
 */
export function reasoningPart(item: Json): ReasoningPart | null {
  const summary = joinTexts(item.summary, '\n\n');
  const text = joinTexts(item.content, '');
  const encrypted = typeof item.encrypted_content === 'string' && item.encrypted_content !== '' ? item.encrypted_content : undefined;
  const envelope = encrypted ? decodeReasoningEnvelope(encrypted) : null;
  const part: ReasoningPart = { type: 'reasoning' };
  if (envelope) {
    part.format = envelope.f;
    if (envelope.k === 'text') {
      const t = envelope.t ?? (text || summary);
      if (t) part.text = t;
    } else {
      if (summary) part.summary = summary;
      if (text) part.text = text;
    }
    if (envelope.s !== undefined) part.signature = envelope.s;
    if (envelope.d !== undefined) part.encrypted = envelope.d;
    if (envelope.i !== undefined) part.id = envelope.i;
  } else {
    if (!summary && !text && !encrypted) return null;
    part.format = REASONING_FORMAT;
    if (summary) part.summary = summary;
    if (text) part.text = text;
    if (encrypted) part.encrypted = encrypted;
    if (typeof item.id === 'string' && item.id !== '') part.id = item.id;
  }
  return part;
}

function toolResultContent(output: unknown): (TextPart | ImagePart | FilePart)[] {
  return contentParts(output).filter((p): p is TextPart | ImagePart | FilePart => p.type === 'text' || p.type === 'image' || p.type === 'file');
}

/** Collects tools (top-level, namespaces, additional_tools items), flattening and de-duplicating names. */
class ToolSet {
  readonly tools: Tool[] = [];
  readonly names = new Map<string, ClientToolName>();
  private readonly hosted = new Set<string>();

  add(t: Json, namespace?: string): void {
    if (t.type === 'namespace') {
      const ns = String(t.name);
      for (const inner of t.tools as unknown[]) if (isObj(inner)) this.add(inner, ns);
      return;
    }
    if (t.type === 'function' || t.type === 'custom') {
      const name = String(t.name);
      const flat = flatToolName(namespace, name);
      if (this.names.has(flat)) return; // the same tool offered twice (tools and additional_tools): the first stands
      const custom = t.type === 'custom';
      const entry: ClientToolName = { name, custom };
      if (flat !== name) entry.namespace = namespace;
      this.names.set(flat, entry);
      const tool: FunctionTool = { type: 'function', name: flat };
      if (typeof t.description === 'string') tool.description = t.description;
      if (custom) {
        tool.kind = 'custom';
        if (isObj(t.format)) tool.format = t.format;
      } else {
        if (isObj(t.parameters)) tool.parameters = t.parameters;
        if (typeof t.strict === 'boolean' || t.strict === null) tool.strict = t.strict as boolean | null;
      }
      this.tools.push(tool);
      return;
    }
    if (t.type === 'openrouter:web_search') {
      // OpenRouter's server tool: searched natively where the provider can, else with Exa.
      if (this.hosted.has('web_search')) return;
      this.hosted.add('web_search');
      this.tools.push(webSearchTool(t, 'tools'));
      return;
    }
    const neutral = HOSTED_TOOLS[String(t.type)];
    if (neutral === undefined || this.hosted.has(neutral)) return;
    this.hosted.add(neutral);
    const hosted: HostedTool = { type: 'hosted', name: neutral, config: t };
    this.tools.push(hosted);
  }
}

/**
 * `tool_choice` → the model's. A hosted tool required by type (`{type:"web_search"}`) becomes
 * `{name:"web_search"}`: the neutral name of a HostedTool in `tools`, which the pipeline can tell
 * from a function's name. `allowed_tools` keeps only its mode.
 */
function toToolChoice(c: unknown): ToolChoice | undefined {
  if (c === 'auto' || c === 'none' || c === 'required') return c;
  if (!isObj(c)) return undefined;
  if (c.type === 'function' || c.type === 'custom') return { name: flatToolName(typeof c.namespace === 'string' ? c.namespace : undefined, String(c.name)) };
  if (c.type === 'allowed_tools') return c.mode === 'required' ? 'required' : 'auto';
  const hosted = HOSTED_TOOLS[String(c.type)];
  if (hosted !== undefined) return { name: hosted };
  return 'auto';
}

function toResponseFormat(text: unknown): ResponseFormat | undefined {
  if (!isObj(text) || !isObj(text.format)) return undefined;
  const f = text.format;
  if (f.type === 'json_object') return { type: 'json_object' };
  if (f.type === 'json_schema') {
    const out: ResponseFormat = { type: 'json_schema', schema: isObj(f.schema) ? f.schema : {} };
    if (typeof f.name === 'string') out.name = f.name;
    if (typeof f.description === 'string') out.description = f.description;
    if (typeof f.strict === 'boolean' || f.strict === null) out.strict = f.strict as boolean | null;
    return out;
  }
  if (f.type === 'text') return { type: 'text' };
  return undefined;
}

/** Builds the conversation from items, merging consecutive assistant-side items into one message. */
class Conversation {
  readonly messages: Message[] = [];
  private assistant: Message | null = null;

  constructor(private readonly toolSet: ToolSet) {}

  private assistantParts(): ContentPart[] {
    if (!this.assistant) {
      this.assistant = { role: 'assistant', content: [] };
      this.messages.push(this.assistant);
    }
    return this.assistant.content;
  }

  private push(m: Message): void {
    this.assistant = null;
    this.messages.push(m);
  }

  addText(role: 'system' | 'user', text: string): void {
    this.push({ role, content: [textPart(text)] });
  }

  add(item: Json): void {
    const type = item.type ?? 'message';
    switch (type) {
      case 'message': {
        const parts = contentParts(item.content);
        if (item.role === 'assistant') this.assistantParts().push(...parts);
        else this.push({ role: item.role === 'user' ? 'user' : 'system', content: parts });
        return;
      }
      case 'function_call':
      case 'custom_tool_call': {
        const custom = type === 'custom_tool_call';
        const name = flatToolName(typeof item.namespace === 'string' ? item.namespace : undefined, String(item.name));
        const args = custom ? String(item.input ?? '') : String(item.arguments ?? '');
        this.assistantParts().push(custom ? { type: 'tool-call', id: String(item.call_id), name, arguments: args, kind: 'custom' } : { type: 'tool-call', id: String(item.call_id), name, arguments: args });
        return;
      }
      case 'reasoning': {
        const part = reasoningPart(item);
        if (part) this.assistantParts().push(part);
        return;
      }
      case 'function_call_output':
      case 'custom_tool_call_output': {
        const result = { type: 'tool-result' as const, callId: String(item.call_id), content: toolResultContent(item.output) };
        this.push({ role: 'tool', content: [type === 'custom_tool_call_output' ? { ...result, kind: 'custom' } : result] });
        return;
      }
      case 'additional_tools':
        for (const t of item.tools as unknown[]) if (isObj(t)) this.toolSet.add(t);
        return;
      default:
        // Hosted tool records (web_search_call, …, HOSTED_HISTORY_ITEMS): nothing a neutral upstream could take.
        return;
    }
  }
}

function notFound(message: string, param: string): ApiError {
  return new ApiError(404, message, { param });
}

/** The neutral request, and the Responses context (echo, tool names, stored input) attached to it. */
export function responsesToModel(b: ResponsesRequest, headers: IncomingHttpHeaders, resolver: InputResolver | null): GenerationRequest {
  const toolSet = new ToolSet();
  for (const t of b.tools ?? []) toolSet.add(t);
  const conv = new Conversation(toolSet);
  const store = b.store !== false;
  let chars = 0;

  const instructions = b.instructions;
  if (typeof instructions === 'string' && instructions !== '') {
    conv.addText('system', instructions);
    chars += instructions.length;
  } else if (Array.isArray(instructions)) {
    for (const item of instructions) conv.add(item);
    chars += JSON.stringify(instructions).length;
  }

  const previousId = b.previous_response_id ?? null;
  if (previousId !== null) {
    const previous = resolver?.previous(previousId);
    if (!previous) throw notFound(`Previous response with id '${previousId}' not found.`, 'previous_response_id');
    for (const item of previous) conv.add(item);
    chars += JSON.stringify(previous).length;
  }

  let ownInput: string | null = null;
  let resolvedInput: Json[] | null = null;
  if (typeof b.input === 'string') {
    conv.addText('user', b.input);
    chars += b.input.length;
    if (store) ownInput = JSON.stringify([{ type: 'message', role: 'user', content: [{ type: 'input_text', text: b.input }] }]);
  } else {
    const inputJson = JSON.stringify(b.input);
    chars += inputJson.length;
    let resolved: Json[] | null = null;
    for (let i = 0; i < b.input.length; i++) {
      let item = b.input[i];
      if (item.type === 'item_reference') {
        const id = String(item.id);
        const found = resolver?.item(id);
        if (!found) throw notFound(`Item with id '${id}' not found.`, `input[${i}].id`);
        item = found;
        resolved ??= b.input.slice(0, i);
      }
      conv.add(item);
      if (resolved) resolved.push(item);
    }
    if (store) ownInput = resolved ? JSON.stringify(resolved) : inputJson;
    resolvedInput = resolved;
  }

  const rf = toResponseFormat(b.text);
  const model: GenerationRequest = {
    api: 'responses',
    model: b.model ?? null,
    models: b.models ?? [],
    provider: b.provider ?? null,
    messages: conv.messages,
    tools: toolSet.tools,
    stream: b.stream === true,
    extra: {},
    promptChars: chars,
    parameters: parametersOf(b, toolSet.tools, rf),
  };
  if (b.route != null) model.route = b.route;
  const toolChoice = toToolChoice(b.tool_choice);
  if (toolChoice) model.toolChoice = toolChoice;
  if (typeof b.parallel_tool_calls === 'boolean') model.parallelToolCalls = b.parallel_tool_calls;
  if (b.max_output_tokens != null) {
    model.maxTokens = b.max_output_tokens;
    // Agents ask for more than many models can write: such endpoints serve with the limit lowered.
    model.maxTokensPolicy = 'clamp';
  }
  if (b.temperature != null) model.temperature = b.temperature;
  if (b.top_p != null) model.topP = b.top_p;
  if (b.top_k != null) model.topK = b.top_k;
  if (rf && rf.type !== 'text') model.responseFormat = rf;
  const r = b.reasoning;
  if (isObj(r)) {
    model.reasoning = {};
    if (typeof r.effort === 'string') model.reasoning.effort = (r.effort === 'ultra' ? 'max' : r.effort) as ReasoningEffort;
    if (typeof r.summary === 'string') model.reasoning.summary = r.summary;
    if (typeof r.max_tokens === 'number') model.reasoning.maxTokens = r.max_tokens;
  }
  const user = b.safety_identifier ?? b.user;
  if (typeof user === 'string' && user !== '') model.user = user;
  const header = headers['x-session-id'];
  const sessionId = b.session_id ?? (typeof header === 'string' && header !== '' ? header.slice(0, 256) : undefined);
  if (sessionId) model.sessionId = sessionId;
  if (b.metadata) model.metadata = b.metadata;
  if (isObj(b.text) && typeof b.text.verbosity === 'string') model.extra.verbosity = b.text.verbosity;
  if (typeof b.service_tier === 'string') model.extra.service_tier = b.service_tier;
  const plugins = parsePlugins({ plugins: (b as Json).plugins, transforms: (b as Json).transforms, modelIds: [b.model, ...(b.models ?? [])] });
  if (plugins) model.plugins = plugins;

  const ctx: ResponsesContext = {
    echo: JSON.stringify(echoOf(b, store)),
    serviceTier: b.service_tier ?? null,
    include: new Set(b.include ?? []),
    store,
    previousResponseId: previousId,
    tools: toolSet.names,
    input: ownInput,
    response: null,
    stored: null,
  };
  attachContext(model, ctx);
  model.native = { protocol: NATIVE_PROTOCOL, body: nativeBody(b, resolver, resolvedInput), headers: {}, routingFields: ROUTING_FIELDS };
  return model;
}

/**
 * The body a Responses upstream receives: the client's own, except for what only Switchyard can
 * resolve. A previous_response_id names a response stored here, so its conversation is written out
 * in `input` (and the field dropped); item references are replaced by the items they name.
 */
function nativeBody(b: ResponsesRequest, resolver: InputResolver | null, resolvedInput: Json[] | null): Json {
  const previousId = b.previous_response_id ?? null;
  if (previousId === null && resolvedInput === null) return b;
  const { previous_response_id: _p, ...rest } = b;
  const own: Json[] = resolvedInput ?? (typeof b.input === 'string' ? [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: b.input }] }] : b.input);
  const earlier = previousId === null ? [] : (resolver?.previous(previousId) ?? []);
  return { ...rest, input: [...earlier, ...own] };
}

/** The request fields a response object repeats (OpenAI's defaults for what was not sent). */
function echoOf(b: ResponsesRequest, store: boolean): Json {
  const text: Json = { format: { type: 'text' } };
  if (isObj(b.text)) Object.assign(text, b.text);
  return {
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    max_tool_calls: b.max_tool_calls ?? null,
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: b.previous_response_id ?? null,
    prompt_cache_key: b.prompt_cache_key ?? null,
    // Spread only when there is something to spread (spreading a fresh `{}` costs V8 a slow path).
    reasoning: isObj(b.reasoning) ? { effort: null, summary: null, ...b.reasoning } : { effort: null, summary: null },
    safety_identifier: b.safety_identifier ?? null,
    store,
    temperature: b.temperature ?? null,
    text,
    tool_choice: b.tool_choice ?? 'auto',
    tools: b.tools ?? [],
    top_logprobs: b.top_logprobs ?? 0,
    top_p: b.top_p ?? null,
    truncation: b.truncation ?? 'disabled',
    user: b.user ?? null,
    metadata: b.metadata ?? {},
  };
}

/** Body → neutral request: validation (400 naming the field) and translation. */
export function parseResponsesRequest(body: unknown, headers: IncomingHttpHeaders, ctx: { maxModels: number }, resolver: InputResolver | null = null): GenerationRequest {
  return responsesToModel(validateResponsesRequest(body, ctx.maxModels), headers, resolver);
}
