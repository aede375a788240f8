import type { ServerResponse } from 'node:http';
import type { App } from '../app.js';
import type { CancelSignal } from '../core/cancel.js';
import { inputCount } from '../model/embeddings.js';
import { UnusableAnswer } from '../providers/types.js';
import type { Candidate } from '../routing/select.js';
import { settle, type AcceptedAttempt } from './attempt.js';
import { identityFor, OneBodyDelivery } from './delivery.js';
import type { Generation } from './generation.js';
import type { EmbeddingsCodec } from './ingress.js';

/** Embeddings: the upstream's vectors, checked and settled, in the door's body. */
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

  protected answer(attempt: AcceptedAttempt, candidate: Candidate, parsed: unknown): string {
    const { gen } = this;
    const ep = candidate.endpoint;
    const request = gen.req.embedding!;
    const result = attempt.adapter.embeddings!.parseResponse(parsed, request);
    const wanted = inputCount(request.input);
    if (result.vectors.length !== wanted) throw new UnusableAnswer(`upstream answered ${result.vectors.length} embeddings for ${wanted} inputs`);
    gen.served = ep;
    gen.firstTokenAt = Date.now();
    gen.usage = result.usage;
    settle(gen, ep);
    if (gen.estimatedUsage) gen.notes.push(`usage estimated from the input's length: ${ep.provider.name} reported no token counts`);
    gen.upstreamId = result.upstreamId ?? null;
    const who = identityFor(gen, ep, candidate.requestedId);
    return JSON.stringify(this.codec.embeddingsBody(who, result, gen.usage!, gen.cost));
  }
}
