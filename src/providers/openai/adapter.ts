import { detached } from '../../core/strings.js';
import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import { sourceToUrl } from '../../model/media.js';
import type { ContentPart, GenerationRequest, Message, ResponseFormat, Tool, ToolCallPart, ToolChoice } from '../../model/request.js';
import { OPENAI_EMBEDDINGS_ROUTE, openAIEmbeddings } from './embeddings.js';
import { baseHeaders, probeHeaders, secretFor, customArgumentsAsJson, extractErrorMessage, hashUser, maxTokensFor, toolParameters } from '../shared.js';
import type {
  Annotation,
  Credential,
  Completion,
  ProbeRequest,
  ProviderAdapter,
  ReasoningDetail,
  SseEvent,
  StreamDecoder,
  TokenUsage,
  ToolCallDelta,
  UpstreamChunk,
  UpstreamFailure,
  UpstreamRequest,
} from '../types.js';

/**
 * OpenAI chat-completions protocol: OpenAI itself and every compatible host (Groq, DeepInfra,
 * Together, Fireworks, Moonshot AI, BaseTen, Novita, Chutes, …) and local Ollama/vLLM/llama.cpp.
 * The request is written from the wire-neutral model (src/model/request.ts); for a chat-completions
 * client it is the client's own request minus OpenRouter's extensions.
 */

/** Sampling and output parameters forwarded when the client sent them (never defaulted, docs/COMPATIBILITY.md#sampling-parameters). */
const FORWARDED_PARAMS = [
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
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'user',
  'prediction',
  'verbosity',
  'web_search_options',
  'service_tier',
  'modalities',
  'audio',
  'safe_prompt',
] as const;

type ForwardedParam = (typeof FORWARDED_PARAMS)[number];

/** OpenAI's own API rejects these; other hosts accept them. */
const OPENAI_UNSUPPORTED = new Set<string>(['top_k', 'repetition_penalty', 'min_p', 'top_a', 'safe_prompt']);

type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// model → chat-completions request
// ---------------------------------------------------------------------------------------------

/** One content part in chat-completions form, or null for what a message's content cannot hold. */
function toOpenAIPart(part: ContentPart): Json | null {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text };
    case 'image': {
      const url = sourceToUrl(part.source);
      if (url === null) return null;
      const imageUrl: Json = { url };
      if (part.detail !== undefined) imageUrl.detail = part.detail;
      return { type: 'image_url', image_url: imageUrl };
    }
    case 'file': {
      const file: Json = {};
      if (part.filename !== undefined) file.filename = part.filename;
      if (part.source.kind === 'file-id') file.file_id = part.source.fileId;
      else file.file_data = sourceToUrl(part.source);
      return { type: 'file', file };
    }
    case 'audio':
      return { type: 'input_audio', input_audio: { data: part.data, format: part.format } };
    case 'video':
      return { type: 'video_url', video_url: { url: part.url } };
    default:
      // Tool calls travel in `tool_calls`, tool results in `tool` messages; reasoning history is
      // not sent back to chat-completions hosts.
      return null;
  }
}

/**
 * A message's content: a lone text part without a cache marker is the plain string clients send
 * (and hosts expect); anything else is an array of parts (cache markers dropped: chat-completions
 * hosts take none). Nothing at all is an empty string, which every host accepts.
 */
function toOpenAIContent(parts: readonly ContentPart[]): string | Json[] {
  if (parts.length === 1 && parts[0].type === 'text' && parts[0].cache === undefined) return parts[0].text;
  const out: Json[] = [];
  for (const p of parts) {
    const converted = toOpenAIPart(p);
    if (converted) out.push(converted);
  }
  return out.length > 0 ? out : '';
}

function toOpenAIToolCall(call: ToolCallPart): Json {
  const args = call.kind === 'custom' ? customArgumentsAsJson(call.arguments) : call.arguments;
  return { id: call.id, type: 'function', function: { name: call.name, arguments: args } };
}

/** Model messages → chat-completions messages (keys in the order clients write them). */
export function toOpenAIMessages(messages: readonly Message[]): Json[] {
  const out: Json[] = [];
  for (const msg of messages) {
    if (msg.role === 'tool') {
      // One `tool` message per result: chat completions answers one call per message.
      for (const part of msg.content) {
        if (part.type !== 'tool-result') continue;
        const m: Json = { role: 'tool', content: toOpenAIContent(part.content) };
        if (msg.name !== undefined) m.name = msg.name;
        m.tool_call_id = part.callId;
        out.push(m);
      }
      continue;
    }
    if (msg.role === 'assistant') {
      const content: ContentPart[] = [];
      const calls: Json[] = [];
      for (const part of msg.content) {
        if (part.type === 'tool-call') calls.push(toOpenAIToolCall(part));
        else if (part.type !== 'reasoning' && part.type !== 'tool-result') content.push(part);
      }
      const m: Json = { role: 'assistant', content: content.length > 0 ? toOpenAIContent(content) : null };
      if (msg.name !== undefined) m.name = msg.name;
      if (calls.length > 0) m.tool_calls = calls;
      out.push(m);
      continue;
    }
    const m: Json = { role: msg.role, content: toOpenAIContent(msg.content) };
    if (msg.name !== undefined) m.name = msg.name;
    out.push(m);
  }
  return out;
}

/** Function tools (custom ones as a function of one string); hosted tools have no chat-completions form. */
function toOpenAITools(tools: readonly Tool[]): Json[] | undefined {
  const out: Json[] = [];
  for (const t of tools) {
    if (t.type !== 'function') continue;
    const fn: Json = { name: t.name };
    if (t.description !== undefined) fn.description = t.description;
    if (t.kind === 'custom') fn.parameters = toolParameters(t);
    else if (t.parameters !== undefined) fn.parameters = t.parameters;
    if (t.strict !== undefined) fn.strict = t.strict;
    out.push({ type: 'function', function: fn });
  }
  return out.length > 0 ? out : undefined;
}

function toOpenAIToolChoice(choice: ToolChoice | undefined): unknown {
  if (choice === undefined || typeof choice === 'string') return choice;
  return { type: 'function', function: { name: choice.name } };
}

function toOpenAIResponseFormat(rf: ResponseFormat | undefined): Json | undefined {
  if (rf === undefined || rf.type !== 'json_schema') return rf;
  const js: Json = {};
  if (rf.name !== undefined) js.name = rf.name;
  if (rf.description !== undefined) js.description = rf.description;
  if (rf.strict !== undefined) js.strict = rf.strict;
  js.schema = rf.schema;
  return { type: 'json_schema', json_schema: js };
}

/** The client's value of one forwarded parameter, in chat-completions form (undefined: not sent). */
function paramValue(req: GenerationRequest, param: ForwardedParam): unknown {
  switch (param) {
    case 'temperature':
      return req.temperature;
    case 'top_p':
      return req.topP;
    case 'top_k':
      return req.topK;
    case 'frequency_penalty':
      return req.frequencyPenalty;
    case 'presence_penalty':
      return req.presencePenalty;
    case 'repetition_penalty':
      return req.repetitionPenalty;
    case 'min_p':
      return req.minP;
    case 'top_a':
      return req.topA;
    case 'seed':
      return req.seed;
    case 'logit_bias':
      return req.logitBias;
    case 'logprobs':
      return req.logprobs;
    case 'top_logprobs':
      return req.topLogprobs;
    case 'stop':
      return req.stop;
    case 'response_format':
      return toOpenAIResponseFormat(req.responseFormat);
    case 'tools':
      return toOpenAITools(req.tools);
    case 'tool_choice':
      return toOpenAIToolChoice(req.toolChoice);
    case 'parallel_tool_calls':
      return req.parallelToolCalls;
    case 'user':
      return req.user === undefined ? undefined : hashUser(req.user);
    default:
      // prediction, verbosity, web_search_options, service_tier, modalities, audio, safe_prompt
      return req.extra[param];
  }
}

function reasoningEffort(req: GenerationRequest): string | undefined {
  const r = req.reasoning;
  if (!r) return undefined;
  if (r.effort) return r.effort;
  if (r.enabled === true) return 'medium';
  return undefined;
}

function toUsage(u: unknown): TokenUsage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const usage = u as Json;
  if (typeof usage.prompt_tokens !== 'number' && typeof usage.completion_tokens !== 'number') return undefined;
  const promptDetails = (usage.prompt_tokens_details ?? {}) as Json;
  const completionDetails = (usage.completion_tokens_details ?? {}) as Json;
  const cached =
    (typeof promptDetails.cached_tokens === 'number' ? promptDetails.cached_tokens : undefined) ??
    (typeof usage.prompt_cache_hit_tokens === 'number' ? usage.prompt_cache_hit_tokens : 0);
  return {
    promptTokens: Number(usage.prompt_tokens ?? 0),
    completionTokens: Number(usage.completion_tokens ?? 0),
    cachedTokens: Number(cached ?? 0),
    cacheWriteTokens: Number(promptDetails.cache_write_tokens ?? 0),
    reasoningTokens: Number(completionDetails.reasoning_tokens ?? 0),
    audioPromptTokens: Number(promptDetails.audio_tokens ?? 0),
  };
}

function reasoningText(obj: Json): string | undefined {
  const r = obj.reasoning ?? obj.reasoning_content;
  return typeof r === 'string' ? r : undefined;
}

function toolCallDelta(raw: Json, position: number): ToolCallDelta {
  const fn = (raw.function ?? {}) as Json;
  return {
    index: typeof raw.index === 'number' ? raw.index : position,
    id: typeof raw.id === 'string' ? raw.id : undefined,
    type: typeof raw.type === 'string' ? raw.type : undefined,
    name: typeof fn.name === 'string' ? fn.name : undefined,
    arguments: typeof fn.arguments === 'string' ? fn.arguments : undefined,
    raw,
  };
}

const CONTENT_DELTA = '"delta":{"content":"';

/**
 * Per-token fast path. Within one stream, plain content chunks differ only in their content
 * string: id, model, fingerprint and the rest are byte-identical from chunk to chunk. After one
 * such chunk has been fully parsed, its text before and after the content literal is kept; a
 * later chunk with exactly that prefix and suffix is decoded by taking the literal alone, without
 * JSON.parse of the whole event. Anything else (another shape, finish, usage, tool calls,
 * reasoning) takes the full path. The profile showed the per-event JSON.parse as this adapter's
 * largest cost.
 */
class PlainContentShape {
  private prefix = '';
  private suffix = '';

  /** The content of a chunk shaped like the learned one, or undefined. */
  match(data: string): string | undefined {
    const { prefix, suffix } = this;
    const end = data.length - suffix.length;
    // slice-and-compare, not startsWith/endsWith: V8's startsWith walks the ~200 characters one by
    // one (0.5 µs per event here), a slice compared with === is a memory compare (0.04 µs).
    if (prefix === '' || end < prefix.length || data.slice(0, prefix.length) !== prefix || data.slice(end) !== suffix) return undefined;
    const literal = data.slice(prefix.length, end);
    if (literal.indexOf('\\') === -1) return literal.indexOf('"') === -1 ? literal : undefined;
    try {
      return JSON.parse(`"${literal}"`) as string;
    } catch {
      return undefined;
    }
  }

  /** Learns the shape of a fully parsed chunk whose only choice carries nothing but content. */
  learn(data: string, json: Json, c: Json, delta: Json): void {
    this.prefix = '';
    if (json.usage != null || json.error != null || c.finish_reason != null || c.logprobs != null || typeof delta.content !== 'string') return;
    for (const k in delta) if (k !== 'content') return;
    const at = data.indexOf(CONTENT_DELTA);
    if (at < 0 || data.indexOf(CONTENT_DELTA, at + 1) >= 0) return;
    const start = at + CONTENT_DELTA.length;
    const literal = JSON.stringify(delta.content);
    // Only when the upstream escaped the content the way JSON.stringify does can the end be found.
    if (!data.startsWith(literal.slice(1), start)) return;
    // Copies, not views of `data`: a view would keep the whole upstream read alive for the stream's life.
    this.prefix = detached(data.slice(0, start)); // up to and with the opening quote
    this.suffix = detached(data.slice(start + literal.length - 2)); // from the closing quote on
  }
}

class OpenAIStreamDecoder implements StreamDecoder {
  private readonly plain = new PlainContentShape();
  /** Perplexity repeats its sources on every chunk: the URLs already passed on. */
  private sources: Set<string> | null = null;

  decode(event: SseEvent): UpstreamChunk[] | null {
    const data = event.data;
    if (data === '[DONE]') return null;
    if (data.length === 0) return [];
    const content = this.plain.match(data);
    // Only the content: the envelope fields are those of the learned chunk, already reported.
    if (content !== undefined) return [{ choice: { finishReason: null, content } }];
    let json: Json;
    try {
      json = JSON.parse(data) as Json;
    } catch {
      return [{ error: { status: 502, raw: `upstream sent invalid JSON in stream: ${data.slice(0, 200)}` } }];
    }
    if (json.error) {
      const e = json.error as Json;
      const status = typeof e.code === 'number' && e.code >= 400 ? e.code : 502;
      return [{ error: { status, raw: typeof e.message === 'string' ? e.message : JSON.stringify(e) } }];
    }
    const chunk: UpstreamChunk = {};
    if ('system_fingerprint' in json) chunk.systemFingerprint = (json.system_fingerprint as string | null) ?? null;
    if (typeof json.service_tier === 'string') chunk.serviceTier = json.service_tier;
    if (typeof json.id === 'string') chunk.upstreamId = json.id;
    const usage = toUsage(json.usage);
    if (usage) chunk.usage = usage;
    const choices = json.choices as Json[] | undefined;
    const c = choices?.[0];
    if (c) {
      const delta = (c.delta ?? {}) as Json;
      const choice: NonNullable<UpstreamChunk['choice']> = {
        finishReason: typeof c.finish_reason === 'string' ? c.finish_reason : null,
      };
      if ('content' in delta) choice.content = delta.content as string | null;
      const reasoning = reasoningText(delta);
      if (reasoning !== undefined && reasoning !== '') {
        choice.reasoning = reasoning;
        choice.reasoningDetails = [{ type: 'reasoning.text', text: reasoning, format: 'unknown', index: 0 }];
      }
      if (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0) {
        choice.toolCalls = (delta.tool_calls as Json[]).map(toolCallDelta);
      }
      if ('refusal' in delta && delta.refusal != null) choice.refusal = delta.refusal as string;
      if (c.logprobs != null) choice.logprobs = c.logprobs;
      // Most chunks carry neither: nothing is allocated for them.
      if (delta.annotations !== undefined || json.search_results !== undefined || json.citations !== undefined) {
        const annotations = [...openAICitations(delta.annotations), ...this.newSources(json)];
        if (annotations.length > 0) choice.annotations = annotations;
      }
      chunk.choice = choice;
      this.plain.learn(data, json, c, delta);
    } else {
      const sources = this.newSources(json);
      if (sources.length > 0) chunk.choice = { finishReason: null, annotations: sources };
    }
    return [chunk];
  }

  /** Perplexity's sources on this chunk that earlier chunks did not bring. */
  private newSources(json: Json): Annotation[] {
    if (json.search_results === undefined && json.citations === undefined) return [];
    const seen = (this.sources ??= new Set());
    return perplexityCitations(json).filter((a) => a.type === 'url_citation' && !seen.has(a.url) && seen.add(a.url));
  }
}

/** How one host's chat-completions dialect differs from the common one. */
export interface ChatDialect {
  /** OpenAI's own API (and Azure's): parameters only other hosts accept are left out. */
  openai: boolean;
  /** The name of the output limit: OpenAI's reasoning-era `max_completion_tokens` or `max_tokens`. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** The `model` field; null leaves it out (the URL names the model, as with Azure deployments). */
  model: string | null;
}

/** The chat-completions body for one endpoint, from the wire-neutral request. */
export function chatCompletionsBody(req: GenerationRequest, endpoint: Endpoint, stream: boolean, dialect: ChatDialect): Json {
  const supported = endpoint.supportedParameters;
  const body: Json = {};
  if (dialect.model !== null) body.model = dialect.model;
  body.messages = toOpenAIMessages(req.messages);
  const maxTokens = maxTokensFor(req, endpoint);
  if (maxTokens !== undefined) body[dialect.maxTokensField] = maxTokens;
  for (const param of FORWARDED_PARAMS) {
    if (dialect.openai && OPENAI_UNSUPPORTED.has(param)) continue;
    // With require_parameters off, parameters an endpoint does not list are dropped (docs/COMPATIBILITY.md#sampling-parameters).
    if (supported.size > 0 && !supported.has(param) && param !== 'user' && param !== 'stop') continue;
    const value = paramValue(req, param);
    if (value !== undefined && value !== null) body[param] = value;
  }
  const effort = reasoningEffort(req);
  if (effort && (supported.size === 0 || supported.has('reasoning') || supported.has('reasoning_effort'))) {
    body.reasoning_effort = effort;
  }
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

/** OpenAI's `url_citation` annotations (a message's, or a stream delta's), flat or nested as OpenRouter writes them. */
function openAICitations(annotations: unknown): Annotation[] {
  const out: Annotation[] = [];
  if (!Array.isArray(annotations)) return out;
  for (const a of annotations as Json[]) {
    const c = a?.type === 'url_citation' ? ((a.url_citation ?? a) as Json) : null;
    if (!c || typeof c.url !== 'string') continue;
    const citation: Annotation = { type: 'url_citation', url: c.url, title: typeof c.title === 'string' ? c.title : '', startIndex: Number(c.start_index ?? 0), endIndex: Number(c.end_index ?? 0) };
    if (typeof c.content === 'string') citation.content = c.content;
    out.push(citation);
  }
  return out;
}

/**
 * Perplexity's sources: `search_results` (with titles), else `citations` (URLs). The answer's
 * `[n]` markers refer to them by position; no span of the text is given, so 0–0.
 */
function perplexityCitations(body: Json): Annotation[] {
  const out: Annotation[] = [];
  if (Array.isArray(body.search_results)) {
    for (const r of body.search_results as Json[]) {
      if (typeof r?.url === 'string') out.push({ type: 'url_citation', url: r.url, title: typeof r.title === 'string' ? r.title : '', startIndex: 0, endIndex: 0 });
    }
  } else if (Array.isArray(body.citations)) {
    for (const url of body.citations as unknown[]) if (typeof url === 'string') out.push({ type: 'url_citation', url, title: '', startIndex: 0, endIndex: 0 });
  }
  return out;
}

/** Web citations of an answer: OpenAI's `message.annotations` (its search models, also what OpenRouter returns), else Perplexity's sources. */
function urlCitations(message: Json, body: Json): Annotation[] {
  const openai = openAICitations(message.annotations);
  return openai.length > 0 ? openai : perplexityCitations(body);
}

export class OpenAICompatibleAdapter implements ProviderAdapter {
  readonly protocol = 'openai';
  readonly embeddings = openAIEmbeddings(OPENAI_EMBEDDINGS_ROUTE);

  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    const isOpenAI = provider.entry.slug === 'openai';
    const body = chatCompletionsBody(req, endpoint, stream, { openai: isOpenAI, maxTokensField: isOpenAI ? 'max_completion_tokens' : 'max_tokens', model: endpoint.upstreamModel });
    const headers = baseHeaders(provider, stream);
    const secret = secretFor(provider, credential);
    if (secret) headers.authorization = `Bearer ${secret}`;
    return { url: `${provider.baseUrl}/chat/completions`, headers, body: JSON.stringify(body) };
  }

  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest {
    const headers = probeHeaders(provider);
    const secret = secretFor(provider, credential);
    if (secret) headers.authorization = `Bearer ${secret}`;
    return { url: `${provider.baseUrl}/models`, headers };
  }

  createStreamDecoder(): StreamDecoder {
    return new OpenAIStreamDecoder();
  }

  parseCompletion(body: unknown): Completion {
    const json = (body ?? {}) as Json;
    const choice = ((json.choices as Json[] | undefined) ?? [])[0] ?? {};
    const message = (choice.message ?? {}) as Json;
    const reasoning = reasoningText(message) ?? null;
    const details: ReasoningDetail[] = reasoning
      ? [{ type: 'reasoning.text', text: reasoning, format: 'unknown', index: 0 }]
      : [];
    const toolCalls = Array.isArray(message.tool_calls)
      ? (message.tool_calls as Json[]).map((tc) => {
          const fn = (tc.function ?? {}) as Json;
          return {
            id: String(tc.id ?? ''),
            type: 'function',
            name: String(fn.name ?? ''),
            arguments: typeof fn.arguments === 'string' ? fn.arguments : JSON.stringify(fn.arguments ?? {}),
            raw: tc,
          };
        })
      : [];
    const completion: Completion = {
      content: typeof message.content === 'string' ? message.content : null,
      reasoning,
      reasoningDetails: details,
      toolCalls,
      refusal: typeof message.refusal === 'string' ? message.refusal : null,
      finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
      usage: toUsage(json.usage) ?? null,
      upstreamId: typeof json.id === 'string' ? json.id : undefined,
    };
    if ('system_fingerprint' in json) completion.systemFingerprint = (json.system_fingerprint as string | null) ?? null;
    if (typeof json.service_tier === 'string') completion.serviceTier = json.service_tier;
    if (choice.logprobs != null) completion.logprobs = choice.logprobs;
    const annotations = urlCitations(message, json);
    if (annotations.length > 0) completion.annotations = annotations;
    return completion;
  }

  parseError(status: number, body: string): UpstreamFailure {
    return { status, raw: extractErrorMessage(body) };
  }
}
