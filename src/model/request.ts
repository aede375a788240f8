/**
 * The wire-neutral model of one generation request. Every front door (chat completions, Anthropic
 * Messages, OpenAI Responses) parses its wire into a GenerationRequest; routing, admission,
 * the attempt loop and the records read only this; provider adapters translate it into their
 * upstream's wire. Nothing here imports from a wire format.
 */

import type { PluginRequest } from './plugins.js';
import type { EmbeddingRequest } from './embeddings.js';

/** Which front door a request came through (named in the generation record and in metrics). */
export type IngressApi = 'chat_completions' | 'messages' | 'responses' | 'embeddings';

/** A prompt-cache breakpoint on a part, a message or a tool (`ttl` as the client gave it, e.g. "1h"). */
export interface CacheMarker {
  type: 'ephemeral';
  ttl?: string;
}

/** Where the bytes of an image or a document are. */
export type MediaSource =
  | { kind: 'url'; url: string }
  | { kind: 'base64'; mediaType: string; data: string }
  | { kind: 'text'; mediaType: string; text: string }
  | { kind: 'file-id'; fileId: string };

export interface TextPart {
  type: 'text';
  text: string;
  cache?: CacheMarker;
}

export interface ImagePart {
  type: 'image';
  source: MediaSource;
  /** OpenAI's `detail` hint (low, high, auto), kept for upstreams that take it. */
  detail?: string;
  cache?: CacheMarker;
}

/** A document (PDF, plain text, …) given inline, by URL or by a provider file id. */
export interface FilePart {
  type: 'file';
  source: MediaSource;
  filename?: string;
  cache?: CacheMarker;
}

export interface AudioPart {
  type: 'audio';
  /** base64 */
  data: string;
  format: string;
}

export interface VideoPart {
  type: 'video';
  url: string;
}

/** A tool call the assistant made (only in assistant messages). */
export interface ToolCallPart {
  type: 'tool-call';
  id: string;
  name: string;
  /** The arguments as the model produced them: JSON text for function tools, free text for custom ones. */
  arguments: string;
  /** `custom`: a free-form tool (OpenAI's custom tools); the client gets it back in its own item type. */
  kind?: 'function' | 'custom';
  cache?: CacheMarker;
}

/** The result of a tool call (only in `tool` messages). */
export interface ToolResultPart {
  type: 'tool-result';
  callId: string;
  content: (TextPart | ImagePart | FilePart)[];
  isError?: boolean;
  /** The tool kind of the call it answers, when the client's wire says (custom tool outputs). */
  kind?: 'function' | 'custom';
  cache?: CacheMarker;
}

/**
 * A block of the model's reasoning as a provider returned it, to be sent back on later turns:
 * readable text with its signature (Anthropic), encrypted or redacted content (Anthropic, OpenAI,
 * Gemini), or a summary (OpenAI). `format` names the provider family whose signature it is
 * (`anthropic-claude-v1`, `openai-responses-v1`, `google-gemini-v1`, …); a provider drops what is
 * not its own to verify.
 */
export interface ReasoningPart {
  type: 'reasoning';
  text?: string;
  summary?: string;
  signature?: string;
  /** Encrypted (or redacted) reasoning, opaque. */
  encrypted?: string;
  id?: string;
  format?: string;
  cache?: CacheMarker;
}

export type ContentPart = TextPart | ImagePart | FilePart | AudioPart | VideoPart | ToolCallPart | ToolResultPart | ReasoningPart;

/**
 * One turn. Roles are neutral: `system` may appear anywhere (some clients put instructions in the
 * middle of a conversation); `tool` messages carry only tool results.
 */
export interface Message {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: ContentPart[];
  /** A participant name (chat completions' `name`). */
  name?: string;
  /** A breakpoint on the whole message: it applies to its last part. */
  cache?: CacheMarker;
}

/** A JSON Schema, opaque to the pipeline. */
export type JsonSchema = Record<string, unknown>;

export interface FunctionTool {
  type: 'function';
  name: string;
  description?: string;
  parameters?: JsonSchema;
  strict?: boolean | null;
  /** `custom`: free-form input (a grammar or plain text) rather than JSON arguments. */
  kind?: 'function' | 'custom';
  /** For custom tools: the input format (grammar) as the client gave it. */
  format?: Record<string, unknown>;
  cache?: CacheMarker;
}

/**
 * A tool the provider runs itself (web search, code execution, file search, computer use). Served
 * only by upstreams that have it; others leave it out (recorded on the generation) unless the
 * client requires it.
 */
export interface HostedTool {
  type: 'hosted';
  /** Neutral name: `web_search`, `file_search`, `code_interpreter`, `computer_use`, … */
  name: string;
  /** The client's definition, as sent, for an upstream of the same family. */
  config: Record<string, unknown>;
  /**
   * OpenRouter's server tool (`openrouter:web_search`): the gateway must run it where the
   * endpoint cannot, never leave it out. A provider's own hosted tool is left out there instead.
   */
  server?: true;
}

export type Tool = FunctionTool | HostedTool;

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name?: string; description?: string; schema: JsonSchema; strict?: boolean | null };

export type ReasoningEffort = 'max' | 'xhigh' | 'high' | 'medium' | 'low' | 'minimal' | 'none';

export interface ReasoningRequest {
  effort?: ReasoningEffort | null;
  /** A thinking budget in tokens. */
  maxTokens?: number | null;
  enabled?: boolean | null;
  /** Reason, but send none of it to the client (still billed): asks for reasoning. */
  exclude?: boolean;
  /** Send no reasoning to the client, whether or not the model reasons (implied by `exclude`). */
  hide?: boolean;
  /** Ask for a reasoning summary (`auto`, `concise`, `detailed`). */
  summary?: string | null;
  /** The model decides whether and how much to think (Claude's adaptive thinking). */
  adaptive?: boolean;
}

/**
 * The client's own body, kept when its wire is also an upstream protocol, so an upstream of that
 * protocol receives it losslessly (unknown fields, betas, signatures and cache markers byte for
 * byte) instead of a translation.
 */
export interface NativeRequest {
  /** The upstream protocol this body is written in (a catalog `protocol` value). */
  protocol: string;
  body: Record<string, unknown>;
  /** Client headers an upstream of this protocol takes (e.g. `anthropic-beta`), lower-case names. */
  headers: Record<string, string>;
  /** Body fields that are routing instructions for Switchyard, never sent upstream. */
  routingFields: readonly string[];
}

export interface GenerationRequest {
  api: IngressApi;
  /** The requested model id (catalog id, alias or variant), or null when only `models` names them. */
  model: string | null;
  /** Fallback models, tried in order after `model`. */
  models: string[];
  /** OpenRouter's provider-routing object, validated by the ingress; normalised by routing. */
  provider: Record<string, unknown> | null;
  /** OpenRouter's `route` (`fallback`, `sort`). */
  route?: string;
  messages: Message[];
  tools: Tool[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  maxTokens?: number;
  /**
   * `clamp`: an endpoint whose output limit is below maxTokens is tried after those that can
   * produce that many, with maxTokens lowered to its limit (coding agents ask for more than many
   * models allow). `strict` (default): such an endpoint is skipped.
   */
  maxTokensPolicy?: 'strict' | 'clamp';
  temperature?: number;
  topP?: number;
  topK?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  repetitionPenalty?: number;
  minP?: number;
  topA?: number;
  seed?: number;
  logitBias?: Record<string, number>;
  logprobs?: boolean;
  topLogprobs?: number;
  stop?: string[];
  responseFormat?: ResponseFormat;
  reasoning?: ReasoningRequest;
  stream: boolean;
  /** The end user (hashed before it reaches a provider). */
  user?: string;
  sessionId?: string;
  metadata?: Record<string, string>;
  /** A breakpoint on the conversation as a whole (automatic caching: the last block). */
  cache?: CacheMarker;
  /**
   * Client fields the model has no slot for that OpenAI-compatible hosts understand as they are
   * (`prediction`, `verbosity`, `web_search_options`, `service_tier`, `modalities`, `audio`, …).
   * Adapters forward the ones their protocol knows.
   */
  extra: Record<string, unknown>;
  native?: NativeRequest;
  /** OpenRouter's plugins the client asked for (src/plugins/ applies them); absent: none. */
  plugins?: PluginRequest;
  /**
   * Set for an embeddings request (then `messages` and `tools` are empty and `stream` is false):
   * adapters build their embeddings call from it, and only embedding models are routed to.
   */
  embedding?: EmbeddingRequest;
  /** Size of the conversation in characters, for token estimates (admission, context fit). */
  promptChars: number;
  /** Routing-relevant request parameters the client used (for `require_parameters`). */
  parameters: string[];
}

/** The text of a message's text parts, joined. */
export function textOf(parts: readonly ContentPart[], separator = ''): string {
  let out = '';
  let first = true;
  for (const p of parts) {
    if (p.type !== 'text') continue;
    if (!first) out += separator;
    out += p.text;
    first = false;
  }
  return out;
}
