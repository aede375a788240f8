import { createHash } from 'node:crypto';
import type { ChatRequest } from '../../ingress/chat-completions/schema.js';
import { detached } from '../../core/strings.js';
import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type {
  Completion,
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
 * The request is mostly OpenRouter's own minus its extensions.
 */

/** Sampling and output parameters forwarded when the client sent them (never defaulted, spec §2.1). */
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

/** OpenAI's own API rejects these; other hosts accept them. */
const OPENAI_UNSUPPORTED = new Set(['top_k', 'repetition_penalty', 'min_p', 'top_a', 'safe_prompt']);

type Json = Record<string, unknown>;

function cleanContent(content: unknown): unknown {
  if (!Array.isArray(content)) return content;
  return content.map((part) => {
    if (part && typeof part === 'object' && 'cache_control' in part) {
      const { cache_control: _drop, ...rest } = part as Json;
      return rest;
    }
    return part;
  });
}

/** Strip OpenRouter-only message fields that strict OpenAI-compatible hosts reject. */
function toUpstreamMessage(msg: Json): Json {
  const out: Json = { role: msg.role };
  if ('content' in msg) out.content = cleanContent(msg.content);
  if (typeof msg.name === 'string') out.name = msg.name;
  if (msg.role === 'assistant' && Array.isArray(msg.tool_calls)) {
    out.tool_calls = (msg.tool_calls as Json[]).map((tc) => ({
      id: tc.id,
      type: 'function',
      function: tc.function,
    }));
    if (!('content' in msg)) out.content = null;
  }
  if (msg.role === 'tool') out.tool_call_id = msg.tool_call_id;
  return out;
}

function stripToolCache(tools: unknown): unknown {
  if (!Array.isArray(tools)) return tools;
  return tools.map((t) => {
    if (t && typeof t === 'object' && 'cache_control' in t) {
      const { cache_control: _drop, ...rest } = t as Json;
      return rest;
    }
    return t;
  });
}

/** End-user ids identify people; providers get a stable digest, not the id (spec §2.1 `user`). */
function hashUser(user: string): string {
  return createHash('sha256').update(user).digest('hex').slice(0, 32);
}

function reasoningEffort(req: ChatRequest): string | undefined {
  const effort = req.reasoning?.effort ?? req.reasoning_effort ?? undefined;
  if (effort) return effort;
  if (req.reasoning?.enabled === true) return 'medium';
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
      chunk.choice = choice;
      this.plain.learn(data, json, c, delta);
    }
    return [chunk];
  }
}

export class OpenAICompatibleAdapter implements ProviderAdapter {
  readonly protocol = 'openai';

  buildRequest(req: ChatRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean): UpstreamRequest {
    const isOpenAI = provider.entry.slug === 'openai' || provider.entry.slug === 'azure';
    const supported = endpoint.supportedParameters;
    const body: Json = {
      model: endpoint.upstreamModel,
      messages: (req.messages as Json[]).map(toUpstreamMessage),
    };
    const maxTokens = req.max_completion_tokens ?? req.max_tokens;
    if (maxTokens != null) body[isOpenAI ? 'max_completion_tokens' : 'max_tokens'] = maxTokens;
    for (const param of FORWARDED_PARAMS) {
      const value = (req as Json)[param];
      if (value === undefined || value === null) continue;
      if (isOpenAI && OPENAI_UNSUPPORTED.has(param)) continue;
      // With require_parameters off, parameters an endpoint does not list are dropped (spec §11.1).
      if (supported.size > 0 && !supported.has(param) && param !== 'user' && param !== 'stop') continue;
      body[param] = param === 'tools' ? stripToolCache(value) : param === 'user' ? hashUser(value as string) : value;
    }
    const effort = reasoningEffort(req);
    if (effort && (supported.size === 0 || supported.has('reasoning') || supported.has('reasoning_effort'))) {
      body.reasoning_effort = effort;
    }
    if (stream) {
      body.stream = true;
      body.stream_options = { include_usage: true };
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
      'user-agent': 'Switchyard',
      ...provider.headers,
    };
    if (provider.apiKey) headers.authorization = `Bearer ${provider.apiKey}`;
    return { url: `${provider.baseUrl}/chat/completions`, headers, body: JSON.stringify(body) };
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
    return completion;
  }

  parseError(status: number, body: string): UpstreamFailure {
    return { status, raw: extractErrorMessage(body) };
  }
}

/** The most human part of an upstream error body, else the body itself (bounded). */
export function extractErrorMessage(body: string): string {
  const text = body.trim();
  try {
    const json = JSON.parse(text) as Json;
    const err = json.error;
    if (typeof err === 'string') return err;
    if (err && typeof err === 'object' && typeof (err as Json).message === 'string') return (err as Json).message as string;
    if (typeof json.message === 'string') return json.message;
    if (typeof json.detail === 'string') return json.detail;
  } catch {
    // not JSON: fall through to the text
  }
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}
