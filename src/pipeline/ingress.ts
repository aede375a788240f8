import type { IncomingHttpHeaders } from 'node:http';
import type { EmbeddingResult } from '../model/embeddings.js';
import type { IngressApi, GenerationRequest } from '../model/request.js';
import type { Completion, TokenUsage, UpstreamChunk } from '../model/response.js';

/**
 * What a front door gives the pipeline: how to read its wire into the model, and how to write the
 * model's answer back in its wire. The pipeline (plan, admit, attempt loop, pump, settle, record)
 * calls only this; each implementation lives in src/ingress/<api>/.
 */

/** Money of one generation, USD. */
export interface CostFigures {
  prompt: number;
  completion: number;
  total: number;
}

/** A failure the client is told about, wire-neutral: the ingress picks its envelope. */
export interface ClientError {
  status: number;
  message: string;
  /** OpenRouter-style details (`raw`, `provider_name`, `error_type`, …). */
  metadata?: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** Who answered, as the response should name it. */
export interface ResponseIdentity {
  /** The generation id (`gen-…`): every response and record names it. */
  id: string;
  /** Unix seconds. */
  created: number;
  /** The model that serves, as the catalog names it (canonical slug). */
  model: string;
  /** The model id as the client asked for it (variant removed). */
  requestedModel: string;
  /** The provider's display name. */
  provider: string;
  /**
   * The protocol of the upstream that answers (`anthropic`, `openai`, `gemini`, …). When it is the
   * front door's own wire and the request was passed natively, the encoder may copy the upstream's
   * events (`UpstreamChunk.native`, `Completion.native`) instead of encoding.
   */
  upstreamProtocol: string;
  /** The request served (for echoes such as tools, instructions, metadata). */
  request: GenerationRequest;
}

/** Encodes one response stream. Returned strings are written to the client as they are. */
export interface StreamEncoder {
  /** Events that open the stream (before the first chunk's output). */
  start(): string;
  /** The events for one upstream chunk ('' for none). */
  encode(chunk: UpstreamChunk): string;
  /** True once a chunk finished the answer (a finish reason arrived). */
  readonly finished: boolean;
  /** The normalised finish reason so far (for the record). */
  readonly finishReason: string | null;
  /** The upstream's own finish reason so far. */
  readonly nativeFinish: string | null;
  /** The end of a stream that finished without a finish chunk ('' when none is needed). */
  syntheticFinish(): string;
  /** The closing events of a successful stream: usage and cost, terminal events. */
  end(usage: TokenUsage, cost: CostFigures): string;
  /** The closing events of a stream that failed after content reached the client. */
  fail(error: ClientError): string;
}

/** What every front door gives the pipeline: its name, its parser and its error envelope. */
export interface FrontDoor {
  readonly api: IngressApi;
  /** The wire's body → the model; throws ApiError(400, …) for bad input. */
  parse(body: unknown, headers: IncomingHttpHeaders, ctx: { maxModels: number }): GenerationRequest;
  /** The error body and status for a failure before anything was committed. */
  errorBody(err: ClientError): { status: number; body: unknown };
}

/** A front door whose answers are generated text: streamed or one body. */
export interface IngressCodec extends FrontDoor {
  /** SSE comment or event written while the upstream is quiet. */
  readonly keepAlive: string;
  /**
   * What commits the stream (status line and headers) before any event, when it must differ from
   * `keepAlive` (Anthropic streams open with message_start: a ping before it would be out of order).
   */
  readonly openingKeepAlive?: string;
  /** Whether a non-streamed answer may commit 200 early and send whitespace while it waits. */
  readonly jsonKeepAlive: boolean;
  streamEncoder(who: ResponseIdentity): StreamEncoder;
  /**
   * The complete non-streamed body, and the finish reason it reports (for the record). `json`: the
   * body's JSON text, when the codec built the text itself (it is sent as it is, not serialised again).
   */
  completionBody(who: ResponseIdentity, completion: Completion, usage: TokenUsage, cost: CostFigures): { body: unknown; json?: string; finishReason: string | null };
}

/** A front door whose answers are embedding vectors (one body, never streamed). */
export interface EmbeddingsCodec extends FrontDoor {
  /** The client's body for the vectors, with the usage and cost they were settled at. */
  embeddingsBody(who: ResponseIdentity, result: EmbeddingResult, usage: TokenUsage, cost: CostFigures): unknown;
}
