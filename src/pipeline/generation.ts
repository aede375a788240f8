import type { Endpoint } from '../catalog/types.js';
import type { Cost } from '../accounting/cost.js';
import type { GenerationRequest } from '../model/request.js';
import type { TokenUsage, UpstreamFailure } from '../model/response.js';
import type { RoutePlan } from '../routing/select.js';
import type { ProviderAttempt } from '../storage/generations.js';
import { PluginRun } from '../plugins/runner.js';

export interface AttemptFailure {
  failure: UpstreamFailure;
  endpoint: Endpoint;
  /** The request could not be expressed in this endpoint's protocol: not the provider's fault. */
  untranslatable?: boolean;
  /** With `untranslatable`: OpenRouter's error_type for the client's 400. */
  errorType?: string;
}

/** Per-request state shared by the attempt loop, the stream pump and the final record. */
export class Generation {
  readonly startedAt = Date.now();
  created = Math.floor(this.startedAt / 1000);
  attempts: ProviderAttempt[] = [];
  served: Endpoint | null = null;
  lastTried: Endpoint | null = null;
  /** Label of the pool key the current (or serving) attempt uses; null for a keyless provider. */
  keyLabel: string | null = null;
  usage: TokenUsage | null = null;
  estimatedUsage = false;
  cost: Cost = { prompt: 0, completion: 0, total: 0 };
  finishReason: string | null = null;
  nativeFinishReason: string | null = null;
  upstreamId: string | null = null;
  serviceTier: string | null = null;
  firstTokenAt: number | null = null;
  acceptedAt: number | null = null;
  status = 200;
  error: { code: number; message: string } | null = null;
  cancelled = false;
  streamedChars = 0;
  /** Hosted tools left out because the serving upstream has none (recorded, and named in a header). */
  droppedTools: string[] = [];
  /** The recording a replayed answer comes from (replay, demo), named in X-Switchyard-Recording. */
  recording: string | null = null;
  /** What the record should say about how the answer was made (beyond the fields below). */
  notes: string[] = [];
  /** Set when the served endpoint got a lower max_tokens than asked. */
  clampedTo: number | null = null;
  /** What the request's plugins did: record notes, extra cost, annotations for the answer. */
  readonly pluginRun = new PluginRun();
  /** The observer's state for this request (pipeline/observer.ts: spans, the open attempt); opaque here. */
  watch: unknown = null;
  readonly requestedModel: string;
  readonly user: string | null;
  readonly sessionId: string | null;

  constructor(
    readonly id: string,
    readonly req: GenerationRequest,
    /** The client's body as parsed: recorded OpenRouter-level cassettes match on it. Dropped with the prompt. */
    public clientBody: unknown,
    readonly cassette: string | null,
    readonly plan: RoutePlan,
  ) {
    this.requestedModel = req.model ?? req.models[0] ?? '';
    this.user = req.user ?? null;
    this.sessionId = req.sessionId ?? null;
  }

  get promptChars(): number {
    return this.req.promptChars;
  }

  /**
   * Once content has reached the client no other provider can be tried, so the conversation is
   * not needed any more; for a long prompt it is most of what an open stream holds.
   */
  releasePrompt(): void {
    const req = this.req;
    req.messages = [];
    req.tools = [];
    req.native = undefined;
    this.clientBody = null;
  }
}
