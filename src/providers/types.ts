import type { Endpoint } from '../catalog/types.js';
import type { ProviderRuntime } from '../config/load.js';
import type { EmbeddingRequest, EmbeddingResult } from '../model/embeddings.js';
import type { GenerationRequest } from '../model/request.js';
import type { Completion, UpstreamChunk, UpstreamFailure } from '../model/response.js';
import type { UpstreamRequest } from '../upstream/types.js';
import type { Credential } from '../upstream/key-pool.js';

export type { Annotation, Completion, ReasoningDetail, TokenUsage, ToolCallDelta, UpstreamChunk, UpstreamFailure } from '../model/response.js';

/**
 * The one interface every upstream protocol implements (one folder per protocol under
 * src/providers/). Adapters translate the wire-neutral request (src/model/) into the provider's
 * wire and the provider's answer back into the model's pieces; they never touch sockets or the
 * client.
 */

export type { UpstreamRequest } from '../upstream/types.js';
export type { Credential } from '../upstream/key-pool.js';

export interface SseEvent {
  event?: string;
  data: string;
}

export interface StreamDecoder {
  /** Returns the chunks an SSE event carries; `null` means the upstream declared the stream done. */
  decode(event: SseEvent): UpstreamChunk[] | null;
  /** With keepNative: the text of the event that ended the stream (decode returned null for it). */
  readonly pendingNative?: string;
  /**
   * True once the event just decoded was the stream's last, for wires whose final event carries
   * content (usage, finish) and no end marker follows (OpenAI Responses' response.completed).
   */
  readonly ended?: boolean;
  /** How the stream's bytes are cut into events when they are not SSE text (absent: SSE). */
  readonly framing?: StreamFraming;
}

/**
 * A binary stream framing (AWS's `application/vnd.amazon.eventstream`, say): the body's reads
 * regrouped into whole frames, and each frame as the events `decode` takes. The pump stays
 * unaware of the format: it reads frames instead of reads, and hands on the events.
 */
export interface StreamFraming {
  /** Throws MalformedStream for bytes that cannot be framed (the attempt fails with its message). */
  frames(body: AsyncIterable<Buffer | Uint8Array | string>): AsyncIterable<Uint8Array>;
  /** The events one whole frame carries; throws on a corrupt frame (the attempt fails). */
  events(frame: Uint8Array): SseEvent[];
}

/** A binary stream that breaks its framing's rules (a frame too large, cut off): the attempt fails (502). */
export class MalformedStream extends Error {}

export interface DecoderOptions {
  /** Keep each upstream event's text on the chunks (`UpstreamChunk.native`) for a same-wire client. */
  keepNative?: boolean;
  /**
   * The request may have the upstream search the web: a decoder whose citations arrive after the
   * text they point into, with positions the text is needed to read (Gemini's grounding), keeps it.
   */
  webSearch?: boolean;
}

/**
 * Why a request cannot go to an endpoint as it is (its protocol cannot express it, its context
 * cannot hold it): the client gets a 400 with this message and `errorType` when no endpoint serves.
 */
export class UntranslatableRequest extends Error {
  constructor(
    message: string,
    readonly errorType = 'invalid_request',
  ) {
    super(message);
  }
}

/** A bodiless GET: a provider's model list, asked to check its base URL and key (`switchyard doctor`). */
export interface ProbeRequest {
  url: string;
  headers: Record<string, string>;
}

/** A 2xx answer that cannot be used (wrong shape, too few vectors): the attempt failed, the next endpoint is tried. */
export class UnusableAnswer extends Error {}

/**
 * Embeddings, for a protocol whose upstreams serve them. The upstream's errors go through the
 * adapter's own `parseError`. A protocol without this capability is never routed an embeddings
 * request (routing skips its endpoints).
 */
export interface EmbeddingsCapability {
  /**
   * Throws UntranslatableRequest for input this protocol cannot take (e.g. token ids). `user`:
   * the client's end-user id, for protocols that take one (hashed, as for chat).
   */
  buildRequest(req: EmbeddingRequest, endpoint: Endpoint, provider: ProviderRuntime, credential: Credential | undefined, user: string | undefined): UpstreamRequest;
  /** One vector per input, in input order; throws UnusableAnswer when the body has none. */
  parseResponse(body: unknown, req: EmbeddingRequest): EmbeddingResult;
  /**
   * The most inputs one upstream call takes. A larger request goes as consecutive calls of at most
   * this many, within one attempt (pipeline/embeddings.ts): buildRequest and parseResponse see one
   * call's share, and any call failing fails the attempt.
   */
  readonly maxInputsPerCall?: number;
}

export interface ProviderAdapter {
  readonly protocol: string;
  /**
   * The wire this protocol's upstreams speak, when several protocols share one (Azure's Responses
   * route speaks `openai-responses`): a request whose `native` body is in that wire passes through.
   * Default: `protocol`.
   */
  readonly wire?: string;
  /**
   * Hosted tools (model `HostedTool.name`) this protocol's upstreams run themselves. The pipeline
   * leaves the others out of the request (and records that) unless the client requires one.
   */
  readonly hostedTools?: ReadonlySet<string>;
  /**
   * Throws UntranslatableRequest for what this protocol cannot express. `credential` is the key
   * the pipeline chose for this attempt (key pools); without one, the provider's first key.
   */
  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest;
  /** A cheap authenticated request (the model list) that proves the base URL and key without spending tokens. */
  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest;
  /**
   * Authorisation that needs the finished request (a signature over its URL, headers and body),
   * applied after buildRequest. Rejects with an error carrying `status` when the credential is
   * unusable.
   */
  authorize?(request: UpstreamRequest, provider: ProviderRuntime, credential: Credential | undefined): Promise<UpstreamRequest>;
  /**
   * The protocol whose wire an endpoint's answers are in, when it is not this one's (Bedrock's
   * Claude answers are Anthropic's events and bodies): a client of that wire gets them as they are.
   */
  answerProtocol?(endpoint: Endpoint): string;
  createStreamDecoder(opts?: DecoderOptions): StreamDecoder;
  parseCompletion(body: unknown): Completion;
  /** Extract the human message of an upstream error body (some providers name the error in a header). */
  parseError(status: number, body: string, headers?: Record<string, string | string[] | undefined>): UpstreamFailure;
  /** Present when the protocol can count a prompt's input tokens without generating (free upstream call). */
  readonly tokenCounter?: TokenCounter;
  /** Present when the protocol's upstreams serve embeddings. */
  readonly embeddings?: EmbeddingsCapability;
}

/** An upstream's own prompt-token count (Anthropic's `/messages/count_tokens`). */
export interface TokenCounter {
  /** Null when this request cannot be counted upstream as it is (the caller estimates instead). */
  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, credential?: Credential): UpstreamRequest | null;
  /** The count from a 2xx body; null when the body does not carry one. */
  parseCount(body: unknown): number | null;
}
