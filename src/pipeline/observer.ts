import type { IncomingMessage } from 'node:http';
import type { Caller } from '../auth/keys.js';
import type { Endpoint } from '../catalog/types.js';
import type { IngressApi } from '../model/request.js';
import type { Completion, UpstreamFailure } from '../model/response.js';
import { failureKind } from '../model/response.js';
import type { GenerationRecord } from '../storage/generations.js';
import type { Generation } from './generation.js';
import type { StreamEncoder } from './ingress.js';

/**
 * What the pipeline tells whoever watches it (metrics, traces, the access log: src/observability/).
 * The pipeline calls these at its seams and knows nothing of what is done with them; the calls are
 * cheap no-ops when nothing watches. Per request: one `requestStarted` or `requestRefused`, then
 * for each upstream exchange one `attemptStarted` and one `attemptFinished`, then one
 * `requestFinished` (after `requestStarted` only). Nothing is called per streamed chunk.
 */
export interface PipelineObserver {
  /**
   * Admitted (past routing and budgets); the attempts follow. `gen.watch` is the observer's own
   * slot for this request's state.
   */
  requestStarted(gen: Generation, req: IncomingMessage): void;
  /**
   * Answered with an error before any upstream call: a bad or unauthenticated request, a model
   * that cannot be routed, a budget or rate-limit refusal. `gen` is null when the request never
   * got as far as a route plan; `requestedModel` is the model the client named, if it was read.
   */
  requestRefused(api: IngressApi, id: string, req: IncomingMessage, err: unknown, caller: Caller | null, gen: Generation | null, requestedModel?: string | null): void;
  /**
   * An upstream exchange is about to start. Returns headers that carry the trace context upstream
   * (`traceparent`), or undefined.
   */
  attemptStarted(gen: Generation, ep: Endpoint): Record<string, string> | undefined;
  /** The exchange ended: its answer was served, or it failed (before or after its status line). */
  attemptFinished(gen: Generation, ep: Endpoint, outcome: AttemptOutcome, status: number | null): void;
  /** The stream encoder of an accepted attempt, wrapped when the answer's content is captured (traces). */
  streamEncoder(gen: Generation, encoder: StreamEncoder): StreamEncoder;
  /** A non-streamed answer was accepted (its content, for traces that capture it). */
  completion(gen: Generation, completion: Completion): void;
  /** The request is over and recorded: served, failed or cancelled. */
  requestFinished(gen: Generation, record: GenerationRecord): void;
}

/** How one upstream exchange ended (the `outcome` label of `switchyard_upstream_attempts_total`). */
export type AttemptOutcome = 'ok' | ReturnType<typeof failureKind>;

export function attemptOutcome(failure: UpstreamFailure): AttemptOutcome {
  return failureKind(failure);
}

/** Nothing watches. */
export const NO_OBSERVER: PipelineObserver = {
  requestStarted() {},
  requestRefused() {},
  attemptStarted: () => undefined,
  attemptFinished() {},
  streamEncoder: (_gen, encoder) => encoder,
  completion() {},
  requestFinished() {},
};
