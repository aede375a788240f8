import { ApiError } from '../../core/errors.js';
import { RESPONSES_HOSTED_TOOLS } from '../../providers/openai-responses/hosted-tools.js';

/**
 * OpenAI Responses request (`POST /responses`) as Switchyard accepts it: OpenAI's fields plus
 * OpenRouter's routing extensions (`models`, `provider`, `route`, `session_id`). Checked by hand
 * rather than by a compiled schema: the input is a long list of typed items (a Codex request
 * carries ~60 KB of them), and the checks below name the offending field in OpenAI's own
 * `input[3].content[0].image_url` notation, which is also the error's `param`.
 *
 * Unknown top-level fields are tolerated (Codex sends `client_metadata`, newer SDKs add fields);
 * unknown input item types and tool types are not, except the items that record hosted tool calls
 * (web search, code interpreter, …), which are accepted and left out of the conversation.
 */

export type Json = Record<string, unknown>;

export interface ResponsesRequest extends Json {
  model?: string;
  models?: string[];
  input: string | Json[];
  instructions?: string | Json[] | null;
  tools?: Json[] | null;
  tool_choice?: string | Json | null;
  parallel_tool_calls?: boolean | null;
  reasoning?: Json | null;
  text?: Json | null;
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  metadata?: Record<string, string> | null;
  user?: string | null;
  safety_identifier?: string | null;
  stream?: boolean | null;
  store?: boolean | null;
  previous_response_id?: string | null;
  include?: string[] | null;
  service_tier?: string | null;
  truncation?: string | null;
  provider?: Json | null;
  route?: string | null;
  session_id?: string;
}

export const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A 400 naming the field, with the field as OpenAI's `param`. */
export function invalid(param: string, message: string): ApiError {
  return new ApiError(400, `${param} ${message}`, { param });
}

/**
 * Items that record a hosted (provider-run) tool's work or provider-private state. They are valid
 * input but have no neutral form: the conversation goes on without them.
 */
export const HOSTED_HISTORY_ITEMS: ReadonlySet<string> = new Set([
  'web_search_call',
  'file_search_call',
  'computer_call',
  'computer_call_output',
  'code_interpreter_call',
  'image_generation_call',
  'local_shell_call',
  'local_shell_call_output',
  'shell_call',
  'shell_call_output',
  'apply_patch_call',
  'apply_patch_call_output',
  'mcp_list_tools',
  'mcp_approval_request',
  'mcp_approval_response',
  'mcp_call',
  'tool_search_call',
  'tool_search_output',
  'compaction',
  'compaction_summary',
  'program',
  'program_output',
]);

/** Hosted tool types → the neutral name the pipeline knows them by (shared with the Responses upstream adapter). */
export const HOSTED_TOOLS = RESPONSES_HOSTED_TOOLS;

export const EFFORTS: ReadonlySet<string> = new Set(['max', 'xhigh', 'high', 'medium', 'low', 'minimal', 'none', 'ultra']);

const ROLES = new Set(['user', 'assistant', 'system', 'developer']);
const TOOL_CHOICE_WORDS = new Set(['auto', 'none', 'required']);

function str(v: unknown, param: string, opts: { optional?: boolean; nullable?: boolean; nonEmpty?: boolean } = {}): void {
  if (v === undefined && opts.optional) return;
  if (v === null && opts.nullable) return;
  if (typeof v !== 'string') throw invalid(param, v === undefined ? 'is required' : 'must be a string');
  if (opts.nonEmpty && v === '') throw invalid(param, 'must not be empty');
}

function num(v: unknown, param: string, min: number, max: number, integer = false): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) throw invalid(param, `must be ${integer ? 'an integer' : 'a number'}`);
  if (v < min || v > max) throw invalid(param, `must be between ${min} and ${max}`);
}

function bool(v: unknown, param: string): void {
  if (v !== undefined && v !== null && typeof v !== 'boolean') throw invalid(param, 'must be a boolean');
}

function obj(v: unknown, param: string, nullable = true): void {
  if (v === undefined || (nullable && v === null)) return;
  if (!isObj(v)) throw invalid(param, 'must be an object');
}

function contentPart(p: unknown, param: string): void {
  if (typeof p === 'string') return;
  if (!isObj(p)) throw invalid(param, 'must be an object');
  switch (p.type) {
    case 'input_text':
    case 'output_text':
    case 'text':
    case 'summary_text':
    case 'reasoning_text':
      str(p.text, `${param}.text`);
      return;
    case 'refusal':
      str(p.refusal, `${param}.refusal`);
      return;
    case 'input_image': {
      const url = p.image_url;
      const ok = (typeof url === 'string' && url !== '') || (isObj(url) && typeof url.url === 'string') || typeof p.file_id === 'string';
      if (!ok) throw invalid(`${param}.image_url`, 'must be a URL (or give file_id)');
      str(p.detail, `${param}.detail`, { optional: true, nullable: true });
      return;
    }
    case 'input_file':
      if (typeof p.file_data !== 'string' && typeof p.file_url !== 'string' && typeof p.file_id !== 'string') {
        throw invalid(`${param}.file_data`, 'is required (or give file_url or file_id)');
      }
      str(p.filename, `${param}.filename`, { optional: true, nullable: true });
      return;
    case 'input_audio': {
      const a = p.input_audio;
      if (!isObj(a) || typeof a.data !== 'string') throw invalid(`${param}.input_audio.data`, 'must be a string');
      return;
    }
    default:
      throw invalid(`${param}.type`, `must be one of "input_text", "input_image", "input_file", "input_audio", "output_text", "refusal" (got ${JSON.stringify(p.type)})`);
  }
}

function content(c: unknown, param: string): void {
  if (typeof c === 'string') return;
  if (!Array.isArray(c)) throw invalid(param, 'must be a string or an array of content parts');
  for (let i = 0; i < c.length; i++) contentPart(c[i], `${param}[${i}]`);
}

function toolOutput(o: unknown, param: string): void {
  if (typeof o === 'string') return;
  if (!Array.isArray(o)) throw invalid(param, 'must be a string or an array of content parts');
  for (let i = 0; i < o.length; i++) contentPart(o[i], `${param}[${i}]`);
}

/** One input item (also used for items resolved from the store and `instructions` arrays). */
export function checkItem(item: unknown, param: string): void {
  if (!isObj(item)) throw invalid(param, 'must be an object');
  const type = item.type === undefined || item.type === null ? (item.role !== undefined ? 'message' : undefined) : item.type;
  switch (type) {
    case 'message':
      if (typeof item.role !== 'string' || !ROLES.has(item.role)) throw invalid(`${param}.role`, 'must be one of "user", "assistant", "system", "developer"');
      if (item.content === undefined) throw invalid(`${param}.content`, 'is required');
      content(item.content, `${param}.content`);
      return;
    case 'function_call':
      str(item.call_id, `${param}.call_id`, { nonEmpty: true });
      str(item.name, `${param}.name`, { nonEmpty: true });
      str(item.arguments, `${param}.arguments`);
      str(item.namespace, `${param}.namespace`, { optional: true, nullable: true });
      return;
    case 'custom_tool_call':
      str(item.call_id, `${param}.call_id`, { nonEmpty: true });
      str(item.name, `${param}.name`, { nonEmpty: true });
      str(item.input, `${param}.input`);
      str(item.namespace, `${param}.namespace`, { optional: true, nullable: true });
      return;
    case 'function_call_output':
    case 'custom_tool_call_output':
      str(item.call_id, `${param}.call_id`, { nonEmpty: true });
      if (item.output === undefined) throw invalid(`${param}.output`, 'is required');
      toolOutput(item.output, `${param}.output`);
      return;
    case 'reasoning':
      if (item.summary !== undefined && item.summary !== null) {
        if (!Array.isArray(item.summary)) throw invalid(`${param}.summary`, 'must be an array');
        for (let i = 0; i < item.summary.length; i++) contentPart(item.summary[i], `${param}.summary[${i}]`);
      }
      if (item.content !== undefined && item.content !== null) {
        if (!Array.isArray(item.content)) throw invalid(`${param}.content`, 'must be an array');
        for (let i = 0; i < item.content.length; i++) contentPart(item.content[i], `${param}.content[${i}]`);
      }
      str(item.encrypted_content, `${param}.encrypted_content`, { optional: true, nullable: true });
      return;
    case 'item_reference':
      str(item.id, `${param}.id`, { nonEmpty: true });
      return;
    case 'additional_tools':
      if (!Array.isArray(item.tools)) throw invalid(`${param}.tools`, 'must be an array');
      for (let i = 0; i < item.tools.length; i++) checkTool(item.tools[i], `${param}.tools[${i}]`);
      return;
    default:
      if (typeof type === 'string' && HOSTED_HISTORY_ITEMS.has(type)) return;
      throw invalid(`${param}.type`, type === undefined ? 'is required' : `${JSON.stringify(type)} is not a supported input item type`);
  }
}

function checkFunction(t: Json, param: string): void {
  str(t.name, `${param}.name`, { nonEmpty: true });
  if (typeof t.name === 'string' && !/^[A-Za-z0-9_.:-]{1,128}$/.test(t.name)) throw invalid(`${param}.name`, 'must be 1-128 letters, digits, "_", "-", "." or ":"');
  str(t.description, `${param}.description`, { optional: true, nullable: true });
}

export function checkTool(t: unknown, param: string, inNamespace = false): void {
  if (!isObj(t)) throw invalid(param, 'must be an object');
  switch (t.type) {
    case 'function':
      checkFunction(t, param);
      obj(t.parameters, `${param}.parameters`);
      bool(t.strict, `${param}.strict`);
      return;
    case 'custom':
      checkFunction(t, param);
      obj(t.format, `${param}.format`);
      return;
    case 'namespace':
      if (inNamespace) throw invalid(`${param}.type`, 'namespaces do not nest');
      str(t.name, `${param}.name`, { nonEmpty: true });
      if (!Array.isArray(t.tools)) throw invalid(`${param}.tools`, 'must be an array');
      for (let i = 0; i < t.tools.length; i++) {
        const inner: unknown = t.tools[i];
        if (isObj(inner) && inner.type !== 'function' && inner.type !== 'custom') throw invalid(`${param}.tools[${i}].type`, 'must be "function" or "custom"');
        checkTool(inner, `${param}.tools[${i}]`, true);
      }
      return;
    default:
      if (typeof t.type === 'string' && HOSTED_TOOLS[t.type] !== undefined && !inNamespace) return;
      // OpenRouter's web search server tool (its options are checked when the request is read).
      if (t.type === 'openrouter:web_search' && !inNamespace) return;
      throw invalid(`${param}.type`, t.type === undefined ? 'is required' : `${JSON.stringify(t.type)} is not a supported tool type`);
  }
}

function checkToolChoice(c: unknown): void {
  if (c === undefined || c === null) return;
  if (typeof c === 'string') {
    if (!TOOL_CHOICE_WORDS.has(c)) throw invalid('tool_choice', 'must be "auto", "none", "required" or an object');
    return;
  }
  if (!isObj(c) || typeof c.type !== 'string') throw invalid('tool_choice', 'must be "auto", "none", "required" or an object with a type');
  if (c.type === 'function' || c.type === 'custom') str(c.name, 'tool_choice.name', { nonEmpty: true });
  else if (c.type === 'allowed_tools') {
    if (c.mode !== undefined && c.mode !== 'auto' && c.mode !== 'required') throw invalid('tool_choice.mode', 'must be "auto" or "required"');
  } else if (c.type !== 'mcp' && HOSTED_TOOLS[c.type] === undefined) throw invalid('tool_choice.type', `${JSON.stringify(c.type)} is not a supported tool choice`);
}

function checkText(t: unknown): void {
  obj(t, 'text');
  if (!isObj(t)) return;
  const f = t.format;
  obj(f, 'text.format');
  if (isObj(f)) {
    if (f.type === 'json_schema') {
      str(f.name, 'text.format.name', { optional: true });
      if (!isObj(f.schema)) throw invalid('text.format.schema', 'must be an object');
      bool(f.strict, 'text.format.strict');
    } else if (f.type !== 'text' && f.type !== 'json_object') {
      throw invalid('text.format.type', 'must be one of "text", "json_object", "json_schema"');
    }
  }
  if (t.verbosity !== undefined && t.verbosity !== null && t.verbosity !== 'low' && t.verbosity !== 'medium' && t.verbosity !== 'high') {
    throw invalid('text.verbosity', 'must be one of "low", "medium", "high"');
  }
}

/** The request, checked; throws ApiError(400) naming the first offending field. */
export function validateResponsesRequest(body: unknown, maxModels: number): ResponsesRequest {
  if (!isObj(body)) throw new ApiError(400, 'Request body must be a JSON object');
  const b = body;
  str(b.model, 'model', { optional: true, nullable: true, nonEmpty: true });
  if (b.models !== undefined && b.models !== null) {
    if (!Array.isArray(b.models)) throw invalid('models', 'must be an array of model ids');
    b.models.forEach((m, i) => str(m, `models[${i}]`, { nonEmpty: true }));
    if (b.models.length > maxModels) throw invalid('models', `may list at most ${maxModels} models`);
  }
  if (!b.model && !(Array.isArray(b.models) && b.models.length > 0)) throw new ApiError(400, 'model is required', { param: 'model' });
  if (b.input === undefined || b.input === null) throw invalid('input', 'is required');
  if (typeof b.input !== 'string') {
    if (!Array.isArray(b.input)) throw invalid('input', 'must be a string or an array of input items');
    for (let i = 0; i < b.input.length; i++) checkItem(b.input[i], `input[${i}]`);
  }
  if (b.instructions !== undefined && b.instructions !== null && typeof b.instructions !== 'string') {
    if (!Array.isArray(b.instructions)) throw invalid('instructions', 'must be a string');
    for (let i = 0; i < b.instructions.length; i++) checkItem(b.instructions[i], `instructions[${i}]`);
  }
  if (b.tools !== undefined && b.tools !== null) {
    if (!Array.isArray(b.tools)) throw invalid('tools', 'must be an array');
    for (let i = 0; i < b.tools.length; i++) checkTool(b.tools[i], `tools[${i}]`);
  }
  checkToolChoice(b.tool_choice);
  bool(b.parallel_tool_calls, 'parallel_tool_calls');
  obj(b.reasoning, 'reasoning');
  if (isObj(b.reasoning)) {
    const e = b.reasoning.effort;
    if (e !== undefined && e !== null && (typeof e !== 'string' || !EFFORTS.has(e))) {
      throw invalid('reasoning.effort', 'must be one of "none", "minimal", "low", "medium", "high", "xhigh", "max"');
    }
    str(b.reasoning.summary, 'reasoning.summary', { optional: true, nullable: true });
    num(b.reasoning.max_tokens, 'reasoning.max_tokens', 0, Number.MAX_SAFE_INTEGER, true);
  }
  checkText(b.text);
  num(b.max_output_tokens, 'max_output_tokens', 1, Number.MAX_SAFE_INTEGER, true);
  num(b.max_tool_calls, 'max_tool_calls', 1, Number.MAX_SAFE_INTEGER, true);
  num(b.temperature, 'temperature', 0, 2);
  num(b.top_p, 'top_p', 0, 1);
  num(b.top_k, 'top_k', 0, Number.MAX_SAFE_INTEGER, true);
  num(b.top_logprobs, 'top_logprobs', 0, 20, true);
  if (b.metadata !== undefined && b.metadata !== null) {
    if (!isObj(b.metadata)) throw invalid('metadata', 'must be an object of strings');
    const keys = Object.keys(b.metadata);
    if (keys.length > 16) throw invalid('metadata', 'may have at most 16 keys');
    for (const k of keys) {
      if (k.length > 64) throw invalid(`metadata.${k}`, 'key must be at most 64 characters');
      const v = b.metadata[k];
      if (typeof v !== 'string' || v.length > 512) throw invalid(`metadata.${k}`, 'must be a string of at most 512 characters');
    }
  }
  str(b.user, 'user', { optional: true, nullable: true });
  str(b.safety_identifier, 'safety_identifier', { optional: true, nullable: true });
  bool(b.stream, 'stream');
  bool(b.store, 'store');
  str(b.previous_response_id, 'previous_response_id', { optional: true, nullable: true, nonEmpty: true });
  if (b.include !== undefined && b.include !== null) {
    if (!Array.isArray(b.include)) throw invalid('include', 'must be an array of strings');
    b.include.forEach((v, i) => str(v, `include[${i}]`));
  }
  str(b.service_tier, 'service_tier', { optional: true, nullable: true });
  if (b.truncation !== undefined && b.truncation !== null && b.truncation !== 'auto' && b.truncation !== 'disabled') {
    throw invalid('truncation', 'must be "auto" or "disabled"');
  }
  str(b.prompt_cache_key, 'prompt_cache_key', { optional: true, nullable: true });
  obj(b.provider, 'provider');
  str(b.route, 'route', { optional: true, nullable: true });
  if (b.session_id !== undefined && b.session_id !== null) {
    str(b.session_id, 'session_id');
    if ((b.session_id as string).length > 256) throw invalid('session_id', 'must be at most 256 characters');
  }
  if (b.background === true) throw invalid('background', 'is not supported: responses are answered while the request is open');
  if (b.conversation !== undefined && b.conversation !== null) throw invalid('conversation', 'is not supported; continue with previous_response_id');
  if (b.prompt !== undefined && b.prompt !== null) throw invalid('prompt', 'templates are not supported; send input');
  return b as ResponsesRequest;
}
