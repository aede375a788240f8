import type { ServerResponse } from 'node:http';
import type { App } from '../app.js';
import type { Endpoint } from '../catalog/types.js';
import type { CancelSignal } from '../core/cancel.js';
import type { ApiError } from '../core/errors.js';
import { wireOf } from '../providers/registry.js';
import { UnusableAnswer } from '../providers/types.js';
import type { Candidate } from '../routing/select.js';
import { JsonKeepAlive } from '../streaming/json-keepalive.js';
import { networkFailure } from '../upstream/transport.js';
import { noteFailure, recordSuccess, settle, type AcceptedAttempt } from './attempt.js';
import type { AttemptFailure, Generation } from './generation.js';
import type { IngressCodec, ResponseIdentity } from './ingress.js';
import { responseHeaders, routeHeader } from './record.js';

/** How an accepted attempt reaches the client: streamed (stream.ts) or as one body (here). */
export interface Delivery {
  /** Serve an accepted attempt. Resolves true when the request is over, false to try the next candidate. */
  serve(attempt: AcceptedAttempt, candidate: Candidate, failures: AttemptFailure[]): Promise<boolean>;
  /** No attempt served: answer `err` (null: the client left, nobody to answer). Throws when nothing was committed yet. */
  noAnswer(err: ApiError | null): void;
  stop(): void;
}

/** `wire`: what the serving attempt's upstream speaks (AcceptedAttempt.adapter), by default the endpoint's own protocol's. */
export function identityFor(gen: Generation, ep: Endpoint, requestedId: string, wire = wireOf(ep.protocol, ep)): ResponseIdentity {
  return {
    id: gen.id,
    created: gen.created,
    model: ep.model.canonical_slug ?? ep.model.id,
    requestedModel: requestedId,
    provider: ep.provider.name,
    upstreamProtocol: wire,
    request: gen.req,
  };
}

type Json = Record<string, unknown>;

/** A 200 whose body is only an error (some hosts answer that way): the attempt failed. */
function errorInBody(parsed: unknown): { status: number; message: string } | null {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const body = parsed as Json;
  if (body.error == null || body.choices !== undefined || body.content !== undefined || body.candidates !== undefined || body.output !== undefined) return null;
  const e = body.error;
  const code = typeof e === 'object' && e !== null ? (e as Json).code : undefined;
  const status = typeof code === 'number' && code >= 400 && code < 600 ? code : 502;
  return { status, message: JSON.stringify(e) };
}

/** What readBody gives for a body that cannot be used (its failure is noted and in `failures`). */
export const UNUSABLE_BODY = Symbol('unusable body');

/** What a one-body answer needs of its front door: the keep-alive rule and the error envelope. */
export type OneBodyDoor = Pick<IngressCodec, 'jsonKeepAlive' | 'errorBody'>;

/**
 * Non-streamed delivery: the upstream's one JSON body read and checked here (a body that is only
 * an error, or that does not parse, fails the attempt), turned into the client's body by the
 * subclass (`answer`), with whitespace keep-alive where the door allows it.
 */
export abstract class OneBodyDelivery implements Delivery {
  private readonly keepAlive: JsonKeepAlive;

  constructor(
    protected readonly app: App,
    protected readonly gen: Generation,
    private readonly door: OneBodyDoor,
    res: ServerResponse,
    protected readonly signal: CancelSignal,
    private readonly beforeEnd?: () => Promise<unknown>,
  ) {
    this.keepAlive = new JsonKeepAlive(res, door.jsonKeepAlive ? app.settings.keepaliveMs : 0);
  }

  /**
   * The client's body for an upstream's parsed answer; the generation is served by `candidate`
   * from here on (usage, cost, ids set). Throws UnusableAnswer when the answer cannot be used;
   * null when the attempt failed otherwise (its failure is in `failures`).
   */
  protected abstract answer(attempt: AcceptedAttempt, candidate: Candidate, parsed: unknown, failures: AttemptFailure[]): string | null | Promise<string | null>;

  async serve(attempt: AcceptedAttempt, candidate: Candidate, failures: AttemptFailure[]): Promise<boolean> {
    const { app, gen } = this;
    const ep = candidate.endpoint;
    this.keepAlive.start(gen.id, routeHeader(gen, ep), responseHeaders(gen));
    const parsed = await this.readBody(attempt, ep, failures);
    // A failed attempt: the request is over when the client left, else the next candidate may serve.
    if (parsed === UNUSABLE_BODY) return this.signal.aborted;
    let json: string | null;
    try {
      json = await this.answer(attempt, candidate, parsed, failures);
    } catch (err) {
      if (!(err instanceof UnusableAnswer)) throw err;
      const failure = { status: 502, raw: err.message };
      noteFailure(app, gen, ep, failure, attempt.started, 200);
      failures.push({ failure, endpoint: ep });
      return false;
    }
    if (json === null) return this.signal.aborted;
    if (this.beforeEnd) await this.beforeEnd().catch((err: unknown) => app.log.error({ gen: gen.id, err: (err as Error).message }, 'saving the answer before its end failed'));
    this.keepAlive.finish(200, json);
    recordSuccess(app, gen, ep, attempt.started);
    return true;
  }

  /**
   * An accepted attempt's body, parsed. A body that does not arrive whole, does not parse or is
   * only an error fails the attempt: noted, pushed to `failures`, and UNUSABLE_BODY returned.
   */
  protected async readBody(attempt: AcceptedAttempt, ep: Endpoint, failures: AttemptFailure[]): Promise<unknown> {
    const { app, gen, signal } = this;
    let parsed: unknown;
    let text = '';
    try {
      text = await attempt.response.body.text();
      parsed = JSON.parse(text);
    } catch (err) {
      const failure = signal.aborted ? { status: 499, raw: 'client closed the request' } : err instanceof SyntaxError ? { status: 502, raw: 'upstream returned invalid JSON' } : networkFailure(err);
      noteFailure(app, gen, ep, failure, attempt.started, 200);
      failures.push({ failure, endpoint: ep });
      return UNUSABLE_BODY;
    }
    const inBody = errorInBody(parsed);
    if (inBody) {
      const failure = attempt.adapter.parseError(inBody.status, text);
      failure.status = inBody.status;
      noteFailure(app, gen, ep, failure, attempt.started, 200);
      failures.push({ failure, endpoint: ep });
      return UNUSABLE_BODY;
    }
    return parsed;
  }

  noAnswer(err: ApiError | null): void {
    if (!err) return;
    if (!this.keepAlive.committed) throw err;
    // Whitespace already went out with status 200: the error travels in the body.
    this.keepAlive.finish(200, JSON.stringify(this.door.errorBody({ status: err.status, message: err.message, metadata: err.metadata }).body));
  }

  stop(): void {
    this.keepAlive.stop();
  }
}

/** A non-streamed completion in the door's wire. */
export class JsonDelivery extends OneBodyDelivery {
  constructor(
    app: App,
    gen: Generation,
    private readonly codec: IngressCodec,
    res: ServerResponse,
    signal: CancelSignal,
    beforeEnd?: () => Promise<unknown>,
  ) {
    super(app, gen, codec, res, signal, beforeEnd);
  }

  protected answer(attempt: AcceptedAttempt, candidate: Candidate, parsed: unknown): string {
    const { app, gen } = this;
    const ep = candidate.endpoint;
    const completion = attempt.adapter.parseCompletion(parsed);
    app.plugins.afterCompletion(gen.req, completion, gen.pluginRun);
    app.observer.completion(gen, completion);
    gen.served = ep;
    gen.firstTokenAt = Date.now();
    gen.usage = completion.usage;
    gen.streamedChars = (completion.content?.length ?? 0) + completion.toolCalls.reduce((n, t) => n + t.arguments.length, 0);
    settle(gen, ep);
    gen.upstreamId = completion.upstreamId ?? null;
    gen.serviceTier = completion.serviceTier ?? null;
    gen.nativeFinishReason = completion.finishReason;
    const who = identityFor(gen, ep, candidate.requestedId, wireOf(attempt.adapter.protocol, ep));
    // `body` is read only when there is no text: a codec may build the object lazily.
    const result = this.codec.completionBody(who, completion, gen.usage!, gen.cost);
    gen.finishReason = result.finishReason;
    return result.json ?? JSON.stringify(result.body);
  }
}
