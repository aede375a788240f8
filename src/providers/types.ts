import type { ChatRequest } from '../api/chat-schema.js';
import type { Endpoint } from '../catalog/types.js';
import type { ProviderRuntime } from '../config/load.js';

/**
 * The one interface every upstream protocol implements (one folder per protocol under
 * src/providers/). Adapters translate OpenRouter's request into the provider's wire format and the
 * provider's response back into normalised pieces; they never touch sockets or the client.
 */

export interface ReasoningDetail {
  type: 'reasoning.text' | 'reasoning.summary' | 'reasoning.encrypted' | string;
  text?: string;
  summary?: string;
  data?: string;
  signature?: string;
  id?: string;
  format: string;
  index: number;
}

/** A tool-call fragment in OpenAI's streaming shape; `raw` keeps the upstream object verbatim. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: string;
  name?: string;
  arguments?: string;
  raw?: Record<string, unknown>;
}

export interface TokenUsage {
  promptTokens: number; // includes cached and cache-write tokens
  completionTokens: number; // includes reasoning tokens
  cachedTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  audioPromptTokens: number;
}

/** One decoded upstream stream event, already in OpenRouter's vocabulary. */
export interface UpstreamChunk {
  choice?: {
    content?: string | null; // undefined: the upstream delta had no content key
    reasoning?: string | null;
    reasoningDetails?: ReasoningDetail[];
    toolCalls?: ToolCallDelta[];
    refusal?: string | null;
    finishReason: string | null; // native value
    logprobs?: unknown;
  };
  usage?: TokenUsage;
  systemFingerprint?: string | null; // undefined: absent upstream
  serviceTier?: string | null;
  upstreamId?: string;
  error?: UpstreamFailure;
}

/** A complete (non-streaming) upstream answer. */
export interface Completion {
  content: string | null;
  reasoning: string | null;
  reasoningDetails: ReasoningDetail[];
  toolCalls: { id: string; type: string; name: string; arguments: string; raw?: Record<string, unknown> }[];
  refusal: string | null;
  finishReason: string | null; // native value
  usage: TokenUsage | null;
  systemFingerprint?: string | null;
  serviceTier?: string | null;
  upstreamId?: string;
  logprobs?: unknown;
}

export interface UpstreamFailure {
  status: number; // HTTP status from upstream, or the status we assign (502 network, 408 timeout)
  raw: string; // the upstream's message, for metadata.raw
  retryAfterSeconds?: number;
}

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface SseEvent {
  event?: string;
  data: string;
}

export interface StreamDecoder {
  /** Returns the chunks an SSE event carries; `null` means the upstream declared the stream done. */
  decode(event: SseEvent): UpstreamChunk[] | null;
}

export interface ProviderAdapter {
  readonly protocol: string;
  buildRequest(req: ChatRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean): UpstreamRequest;
  createStreamDecoder(): StreamDecoder;
  parseCompletion(body: unknown): Completion;
  /** Extract the human message of an upstream error body. */
  parseError(status: number, body: string): UpstreamFailure;
}
