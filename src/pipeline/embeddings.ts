import type { ServerResponse } from 'node:http';
import type { App } from '../app.js';
import type { CancelSignal } from '../core/cancel.js';
import { inputCount, joinEmbeddingResults, splitEmbedding, type EmbeddingResult } from '../model/embeddings.js';
import { UnusableAnswer } from '../providers/types.js';
import type { Candidate } from '../routing/select.js';
import { settle, startAttempt, type AcceptedAttempt } from './attempt.js';
import { identityFor, OneBodyDelivery, UNUSABLE_BODY } from './delivery.js';
import type { AttemptFailure, Generation } from './generation.js';
import type { EmbeddingsCodec } from './ingress.js';

/**
 * Embeddings: the upstream's vectors, checked and settled, in the door's body. A request larger
 * than one upstream call takes (EmbeddingsCapability.maxInputsPerCall) goes as consecutive calls
 * to the same endpoint, the first one the accepted attempt: their vectors are joined in order and
 * their usage summed, and any call failing fails the whole attempt (the next candidate serves).
 */
export class EmbeddingsDelivery extends OneBodyDelivery {
  constructor(
    app: App,
    gen: Generation,
    private readonly codec: EmbeddingsCodec,
    res: ServerResponse,
    signal: CancelSignal,
  ) {
    // No whitespace keep-alive: an embeddings answer is quick, and its clients expect a plain body.
    super(app, gen, { jsonKeepAlive: false, errorBody: (err) => codec.errorBody(err) }, res, signal);
  }

  protected async answer(attempt: AcceptedAttempt, candidate: Candidate, parsed: unknown, failures: AttemptFailure[]): Promise<string | null> {
    const { app, gen } = this;
    const ep = candidate.endpoint;
    const request = gen.req.embedding!;
    const capability = attempt.adapter.embeddings!;
    const calls = splitEmbedding(request, capability.maxInputsPerCall);
    const results: EmbeddingResult[] = [capability.parseResponse(parsed, calls[0])];
    for (const call of calls.slice(1)) {
      // The previous call's exchange is over; the last one's ends with the attempt (recordSuccess).
      app.observer.attemptFinished(gen, ep, 'ok', 200);
      const next = await startAttempt(app, gen, ep, this.signal, call);
      if ('failure' in next) {
        failures.push(next);
        return null;
      }
      const body = await this.readBody(next, ep, failures);
      if (body === UNUSABLE_BODY) return null;
      results.push(capability.parseResponse(body, call));
    }
    const result = joinEmbeddingResults(results);
    const wanted = inputCount(request.input);
    if (result.vectors.length !== wanted) throw new UnusableAnswer(`upstream answered ${result.vectors.length} embeddings for ${wanted} inputs`);
    gen.served = ep;
    gen.firstTokenAt = Date.now();
    gen.usage = result.usage;
    settle(gen, ep);
    if (calls.length > 1) gen.notes.push(`input sent in ${calls.length} calls: ${ep.provider.name} takes at most ${capability.maxInputsPerCall} inputs per call`);
    if (gen.estimatedUsage) gen.notes.push(`usage estimated from the input's length: ${ep.provider.name} reported no token counts`);
    gen.upstreamId = result.upstreamId ?? null;
    const who = identityFor(gen, ep, candidate.requestedId);
    return JSON.stringify(this.codec.embeddingsBody(who, result, gen.usage!, gen.cost));
  }
}
