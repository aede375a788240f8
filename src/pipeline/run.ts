import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.js';
import type { Caller } from '../auth/keys.js';
import { ClientGone, type CancelSignal } from '../core/cancel.js';
import { ApiError } from '../core/errors.js';
import type { GenerationRequest } from '../model/request.js';
import { planRoute, type RoutePlan } from '../routing/select.js';
import type { Admission } from '../accounting/gate.js';
import { admissionRequest, recordNoAnswer, startAttempt, worthTrying } from './attempt.js';
import { JsonDelivery, type Delivery } from './delivery.js';
import { Generation, type AttemptFailure } from './generation.js';
import { EmbeddingsDelivery } from './embeddings.js';
import type { EmbeddingsCodec, FrontDoor, IngressCodec } from './ingress.js';
import { header, routeHeader, toRecord } from './record.js';
import { StreamDelivery } from './stream.js';

/**
 * One generation request, whatever its wire: plan the route, admit it against budgets and rate
 * limits, try endpoints in order until one answers (one loop for streamed and non-streamed
 * answers; the Delivery decides how an accepted attempt reaches the client), settle its cost and
 * record it. The ingress has already parsed the client's body into `model`.
 */
export function runGeneration(
  app: App,
  codec: IngressCodec,
  id: string,
  model: GenerationRequest,
  clientBody: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
  hooks: GenerationHooks = {},
): Promise<void> {
  return run(app, id, model, clientBody, req, res, caller, (gen, gone) =>
    model.stream ? new StreamDelivery(app, gen, codec, res, gone, hooks.beforeEnd) : new JsonDelivery(app, gen, codec, res, gone, hooks.beforeEnd),
  );
}

/** An embeddings request: the same path, answered with vectors (one body, never streamed). */
export function runEmbeddings(app: App, codec: EmbeddingsCodec, id: string, model: GenerationRequest, clientBody: unknown, req: IncomingMessage, res: ServerResponse, caller: Caller): Promise<void> {
  return run(app, id, model, clientBody, req, res, caller, (gen, gone) => new EmbeddingsDelivery(app, gen, codec, res, gone));
}

async function run(
  app: App,
  id: string,
  model: GenerationRequest,
  clientBody: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
  deliveryFor: (gen: Generation, gone: CancelSignal) => Delivery,
): Promise<void> {
  let plan: RoutePlan;
  try {
    if (model.plugins) await app.plugins.beforeRouting(model);
    plan = planRoute({ catalog: app.settings.catalog, providers: app.settings.providers, health: app.health, rng: app.rng }, model);
  } catch (err) {
    app.observer.requestRefused(model.api, id, req, err, caller, null, model.model ?? model.models[0]);
    throw err;
  }
  const gen = new Generation(id, model, clientBody, header(req, 'x-switchyard-cassette'), plan);
  const gone = new ClientGone();
  res.on('close', () => {
    if (!res.writableFinished) {
      gen.cancelled = true;
      gone.abort();
    }
  });
  let admission: Admission;
  try {
    admission = await app.gate.admit(caller, admissionRequest(gen, plan, app.plugins.worstCaseUsd(model)));
  } catch (err) {
    app.observer.requestRefused(model.api, id, req, err, caller, gen);
    throw err;
  }
  app.observer.requestStarted(gen, req);
  const delivery = deliveryFor(gen, gone);
  const run = attemptLoop(app, gen, delivery, gone);
  // Chained rather than awaited in a try/finally: a suspended frame of this function, held for
  // as long as a stream is open, costs more memory than the closure (bench/README.md).
  const end = () => {
    const record = toRecord(gen, req, caller);
    app.store.save(record);
    app.observer.requestFinished(gen, record);
    return admission.settle(gen.cost.total, gen.usage);
  };
  return run.then(end, async (err: unknown) => {
    // The success paths name the generation in the headers they write; an error answer gets the
    // route here. Set only now: a header set early is copied into a second header object that an
    // open stream would hold for its whole life.
    if (!res.headersSent && gen.attempts.length > 0) res.setHeader('X-Switchyard-Route', routeHeader(gen));
    await end();
    throw err;
  });
}

export interface GenerationHooks {
  /**
   * Runs once an answer is complete, before its last bytes go out (a front door that keeps
   * answers, such as stored responses, saves it here so an immediate follow-up finds it).
   */
  beforeEnd?: () => Promise<unknown>;
}

/** Endpoints in plan order until one serves, the client leaves, or none is left. */
async function attemptLoop(app: App, gen: Generation, delivery: Delivery, signal: CancelSignal): Promise<void> {
  const failures: AttemptFailure[] = [];
  try {
    for (const candidate of gen.plan.candidates) {
      if (signal.aborted) break;
      if (!worthTrying(candidate, failures)) continue;
      const attempt = await startAttempt(app, gen, candidate.endpoint, signal);
      if ('failure' in attempt) {
        failures.push(attempt);
        continue;
      }
      gen.acceptedAt ??= Date.now();
      gen.created = Math.floor(Date.now() / 1000);
      if (await delivery.serve(attempt, candidate, failures)) return;
    }
    delivery.noAnswer(recordNoAnswer(gen, failures, signal));
  } finally {
    delivery.stop();
  }
}

/** An ApiError in the ingress's own error envelope (before anything was committed). */
export function sendIngressError(res: ServerResponse, codec: FrontDoor, err: ApiError, generationId?: string): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const { status, body } = codec.errorBody({ status: err.status, message: err.message, metadata: err.metadata });
  const json = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), ...err.headers };
  if (generationId) headers['X-Generation-Id'] = generationId;
  res.writeHead(status, headers);
  res.end(json);
}

export { ApiError };
