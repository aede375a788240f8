import type { Endpoint } from '../catalog/types.js';
import type { ProviderRuntime } from '../config/load.js';
import type { EmbeddingRequest, EmbeddingResult } from '../model/embeddings.js';
import type { GenerationRequest } from '../model/request.js';
import type { Completion, UpstreamChunk, UpstreamFailure } from '../model/response.js';
import type { UpstreamRequest } from '../upstream/types.js';
import type { Credential } from '../upstream/key-pool.js';

export type { Completion, ReasoningDetail, TokenUsage, ToolCallDelta, UpstreamChunk, UpstreamFailure } from '../model/response.js';

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
}

export interface DecoderOptions {
  /** Keep each upstream event's text on the chunks (`UpstreamChunk.native`) for a same-wire client. */
  keepNative?: boolean;
}

/** Why a request cannot go to an endpoint of this protocol as it is: the client gets a 400 with this message. */
export class UntranslatableRequest extends Error {}

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
}

export interface ProviderAdapter {
  readonly protocol: string;
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
  createStreamDecoder(opts?: DecoderOptions): StreamDecoder;
  parseCompletion(body: unknown): Completion;
  /** Extract the human message of an upstream error body. */
  parseError(status: number, body: string): UpstreamFailure;
  /** Present when the protocol's upstreams serve embeddings. */
  readonly embeddings?: EmbeddingsCapability;
}
