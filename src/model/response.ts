/**
 * The wire-neutral model of what an upstream answers: stream pieces (`UpstreamChunk`), a complete
 * answer (`Completion`), token usage, and a typed failure. Provider adapters produce these; each
 * front door's encoder turns them into its client's wire.
 */

/**
 * One reasoning fragment. The `type` vocabulary (`reasoning.text`, `reasoning.summary`,
 * `reasoning.encrypted`) and `format` (`anthropic-claude-v1`, `google-gemini-v1`,
 * `openai-responses-v1`, …) name what the fragment is and whose signature it carries; `index`
 * groups the fragments of one block.
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

/**
 * A tool-call fragment: the first fragment of a call has its id and name, later ones carry
 * argument text. `raw` keeps the upstream's own object for a client of the same wire era.
 */
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
  /** Searches the provider's own web search ran for this answer (billed per search), when it reports them. */
  webSearchRequests?: number;
}

/** A decoded piece of an upstream stream. */
export interface UpstreamChunk {
  choice?: {
    content?: string | null; // undefined: the upstream delta had no content
    reasoning?: string | null;
    reasoningDetails?: ReasoningDetail[];
    toolCalls?: ToolCallDelta[];
    refusal?: string | null;
    finishReason: string | null; // the upstream's own value
    logprobs?: unknown;
    /** Citations or parsed files the answer refers to (plugins add theirs before the finish). */
    annotations?: Annotation[];
  };
  usage?: TokenUsage;
  systemFingerprint?: string | null; // undefined: absent upstream
  serviceTier?: string | null;
  upstreamId?: string;
  error?: UpstreamFailure;
  /**
   * The upstream event this piece came from, as received (SSE framing included), when the
   * decoder was asked to keep it: a front door that speaks the upstream's own wire passes it on
   * unchanged. Set on the first piece decoded from an event; an event that decodes to nothing
   * arrives as a piece with only `native`.
   */
  native?: string;
}

/**
 * Where an answer's text comes from: a web page the model cited (`url_citation`, from the
 * provider's own search or injected search results) or a file the gateway parsed for the model
 * (`file`, sent back by clients to skip parsing it again).
 *
 * A citation's `startIndex`–`endIndex` select the cited span of the answer's whole `content` (all
 * its text, in JavaScript string units), whatever parts or blocks the upstream split it into;
 * 0–0 when the upstream does not say where (Perplexity's list of sources). `content` is the
 * source's excerpt (Anthropic's `cited_text`, Exa's highlights); `encryptedIndex` is Anthropic's
 * opaque reference to the search result, which it needs back to accept the citation in a later turn.
 */
export type Annotation =
  | { type: 'url_citation'; url: string; title?: string; content?: string; startIndex: number; endIndex: number; encryptedIndex?: string }
  | { type: 'file'; hash: string; name?: string; content: { type: 'text'; text: string }[] };

/** A complete (non-streaming) upstream answer. */
export interface Completion {
  content: string | null;
  reasoning: string | null;
  reasoningDetails: ReasoningDetail[];
  toolCalls: { id: string; type: string; name: string; arguments: string; raw?: Record<string, unknown> }[];
  refusal: string | null;
  finishReason: string | null; // the upstream's own value
  usage: TokenUsage | null;
  systemFingerprint?: string | null;
  serviceTier?: string | null;
  upstreamId?: string;
  logprobs?: unknown;
  annotations?: Annotation[];
  /** The upstream's parsed body, for a front door that speaks the upstream's own wire. */
  native?: Record<string, unknown>;
}

/** A failed upstream attempt. */
export interface UpstreamFailure {
  status: number; // HTTP status from upstream, or the status assigned (502 network, 408 timeout, 499 client gone)
  raw: string; // the upstream's message
  retryAfterSeconds?: number;
}

/** Whether another provider should be tried after a failure with this status. */
export function isRetryable(status: number): boolean {
  if (status === 408 || status === 429 || status >= 500) return true;
  // A provider that rejects our credentials or lacks the model is a provider problem, not the client's.
  return status === 401 || status === 403 || status === 404;
}

/** A failure's class, for metrics and logs. */
export function failureKind(f: UpstreamFailure): 'rate_limited' | 'server_error' | 'client_error' | 'timeout' | 'connection_error' | 'cancelled' {
  if (f.status === 499) return 'cancelled';
  if (f.status === 429) return 'rate_limited';
  if (f.status === 408 || f.status === 504) return 'timeout';
  if (f.status === 502 && f.raw.startsWith('upstream connection failed')) return 'connection_error';
  if (f.status >= 500) return 'server_error';
  return 'client_error';
}
