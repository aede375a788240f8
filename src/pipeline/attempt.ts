import type { App } from '../app.js';
import type { Endpoint } from '../catalog/types.js';
import { computeCost, ZERO_USAGE } from '../accounting/cost.js';
import type { AdmissionRequest } from '../accounting/gate.js';
import type { CancelSignal } from '../core/cancel.js';
import { ApiError } from '../core/errors.js';
import { providerRedactor, type Redactor } from '../core/redact.js';
import { splitEmbedding, type EmbeddingRequest } from '../model/embeddings.js';
import type { GenerationRequest } from '../model/request.js';
import { isRetryable, type UpstreamFailure } from '../model/response.js';
import { adapterForAttempt } from '../providers/registry.js';
import { UntranslatableRequest, type ProviderAdapter } from '../providers/types.js';
import { healthKey, type Candidate, type RoutePlan } from '../routing/select.js';
import { exchange } from '../upstream/exchange.js';
import type { KeyPool } from '../upstream/key-pool.js';
import { networkFailure, retryAfterSeconds, type UpstreamResponse } from '../upstream/transport.js';
import type { AttemptFailure, Generation } from './generation.js';
import { attemptOutcome } from './observer.js';

/** Rough token estimate, used only when an upstream reports no usage (e.g. the client hung up first). */
export const estimateTokens = (chars: number) => Math.ceil(chars / 4);

export interface AcceptedAttempt {
  adapter: ProviderAdapter;
  response: UpstreamResponse;
  started: number;
}

/**
 * Worst case over every endpoint that may serve: the prompt estimate plus the most output it may
 * produce, plus what the request's plugins may cost on top (`pluginUsd`).
 */
export function admissionRequest(gen: Generation, plan: RoutePlan, pluginUsd = 0): AdmissionRequest {
  const promptTokens = estimateTokens(gen.promptChars);
  const requested = gen.req.maxTokens ?? null;
  let worst = 0;
  let maxOut = 0;
  // An embeddings request produces no tokens.
  const producesTokens = gen.req.embedding === undefined;
  for (const { endpoint: ep } of plan.candidates) {
    let out = producesTokens ? (requested ?? ep.maxCompletionTokens ?? ep.contextLength ?? 0) : 0;
    if (requested !== null && gen.req.maxTokensPolicy === 'clamp' && ep.maxCompletionTokens !== null) out = Math.min(out, ep.maxCompletionTokens);
    maxOut = Math.max(maxOut, out);
    const cost = computeCost({ ...ZERO_USAGE, promptTokens, completionTokens: out }, ep.price).total;
    worst = Math.max(worst, cost);
  }
  return { generationId: gen.id, model: plan.candidates[0]?.endpoint.model.id ?? '', worstCaseUsd: worst + pluginUsd, estimatedPromptTokens: promptTokens, maxOutputTokens: maxOut };
}

/**
 * Whether a candidate is still worth an attempt. After a failure that another provider would only
 * repeat (a 400: the request itself is the problem) the rest of that model's endpoints are skipped,
 * but the next model in `models` still gets its turn: any error of a model may trigger the next.
 */
export function worthTrying(c: Candidate, failures: AttemptFailure[]): boolean {
  for (const f of failures) {
    if (!f.untranslatable && !isRetryable(f.failure.status) && f.endpoint.model.id === c.endpoint.model.id) return false;
  }
  return true;
}

/**
 * Start one upstream attempt and wait for its status line. A provider with a key pool is tried
 * with its next key; a key that answers 429 or 401/403 rests (upstream/key-pool.ts) and the same
 * attempt goes on with another key, so the endpoint fails only when every key did.
 * An embeddings request larger than one call takes starts with its first call; `embeddingCall`
 * is a later one (pipeline/embeddings.ts).
 */
export async function startAttempt(app: App, gen: Generation, ep: Endpoint, signal: CancelSignal, embeddingCall?: EmbeddingRequest): Promise<AcceptedAttempt | AttemptFailure> {
  const provider = app.settings.providers.get(ep.provider.slug)!;
  const adapter = adapterForAttempt(ep, gen.req)!;
  const pool = provider.replay ? null : provider.keys;
  const tried = new Set<string>();
  let started = Date.now();
  let req: GenerationRequest;
  try {
    req = await app.plugins.requestFor(gen.req, { endpoint: ep, hostedTools: adapter.hostedTools }, gen.pluginRun);
  } catch (err) {
    if (!(err instanceof UntranslatableRequest)) throw err;
    gen.attempts.push({ provider: ep.provider.name, endpoint: ep.key, model: ep.model.id, status: null, latencyMs: 0, outcome: 'skipped', reason: err.message });
    return { failure: { status: 400, raw: err.message }, endpoint: ep, untranslatable: true, errorType: err.errorType };
  }
  for (;;) {
    const picked = pool && pool.size > 0 ? pool.pick(tried) : undefined;
    if (picked === null) return keysExhausted(app, gen, ep, pool!, started);
    let credential = picked;
    if (picked && provider.resolveCredential) {
      // E.g. a service account's access token (cached): obtained before the adapter builds the request.
      try {
        credential = await provider.resolveCredential(picked);
      } catch (err) {
        return credentialFailed(app, gen, ep, picked.label, err, started);
      }
    }
    let upstreamRequest;
    try {
      gen.droppedTools = unservedHostedTools(req, adapter);
      // Routing sends embeddings only to protocols that serve them (routing/select.ts).
      const embedding = req.embedding && (embeddingCall ?? splitEmbedding(req.embedding, adapter.embeddings!.maxInputsPerCall)[0]);
      upstreamRequest = embedding ? adapter.embeddings!.buildRequest(embedding, ep, provider, credential, req.user) : adapter.buildRequest(req, ep, provider, req.stream, credential);
    } catch (err) {
      if (!(err instanceof UntranslatableRequest)) throw err;
      gen.attempts.push({ provider: ep.provider.name, endpoint: ep.key, model: ep.model.id, status: null, latencyMs: 0, outcome: 'skipped', reason: err.message });
      return { failure: { status: 400, raw: err.message }, endpoint: ep, untranslatable: true, errorType: err.errorType };
    }
    if (adapter.authorize) {
      // E.g. a SigV4 signature, which covers the finished request.
      try {
        upstreamRequest = await adapter.authorize(upstreamRequest, provider, credential);
      } catch (err) {
        return credentialFailed(app, gen, ep, credential?.label ?? null, err, started);
      }
    }
    gen.lastTried = ep;
    gen.keyLabel = credential?.label ?? null;
    if (tried.size === 0) app.health.beginAttempt(healthKey(ep));
    started = Date.now();
    let response: UpstreamResponse;
    try {
      response = await exchange(app, provider, upstreamRequest, gen.clientBody, gen.cassette, signal, started, app.observer.attemptStarted(gen, ep));
    } catch (err) {
      const failure = signal.aborted ? { status: 499, raw: 'client closed the request' } : networkFailure(err);
      noteFailure(app, gen, ep, failure, started, null);
      return { failure, endpoint: ep };
    }
    const recording = response.headers['x-switchyard-recording'];
    gen.recording = typeof recording === 'string' ? recording : null;
    if (response.statusCode < 300) {
      if (credential) pool!.outcome(credential.label, ep.key, response.statusCode);
      return { adapter, response, started };
    }
    const text = await response.body.text().catch(() => '');
    const failure = adapter.parseError(response.statusCode, text, response.headers);
    // A Retry-After header wins; some providers (Gemini) say it in the body, which the adapter parsed.
    failure.retryAfterSeconds = retryAfterSeconds(response.headers) ?? failure.retryAfterSeconds;
    const restMs = credential ? pool!.outcome(credential.label, ep.key, failure.status, failure.retryAfterSeconds) : 0;
    if (restMs > 0) tried.add(credential!.label);
    if (restMs > 0 && !signal.aborted && pool!.hasAvailable(tried)) {
      // This key's problem, not the provider's: recorded, then the next key.
      noteKeyRested(app, gen, ep, failure, started, response.statusCode, restMs);
      app.observer.attemptFinished(gen, ep, attemptOutcome(failure), response.statusCode);
      continue;
    }
    noteFailure(app, gen, ep, failure, started, response.statusCode);
    return { failure, endpoint: ep };
  }
}

/** A credential could not be turned into a request's authorisation (token exchange, signature): the attempt fails with the error's `status`, else 502. */
function credentialFailed(app: App, gen: Generation, ep: Endpoint, label: string | null, err: unknown, started: number): AttemptFailure {
  gen.lastTried = ep;
  gen.keyLabel = label;
  const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 502;
  const failure: UpstreamFailure = { status, raw: (err as Error).message };
  noteFailure(app, gen, ep, failure, started, null);
  return { failure, endpoint: ep };
}

/** The pool key an attempt used, for its record entry (nothing for a keyless provider). */
function keyOf(gen: Generation): { key?: string } {
  return gen.keyLabel === null ? {} : { key: gen.keyLabel };
}

/** A key of a pool failed and rests; the attempt goes on with another key (no health outcome). */
function noteKeyRested(app: App, gen: Generation, ep: Endpoint, failure: UpstreamFailure, started: number, status: number, restMs: number): void {
  pushFailed(app, gen, ep, failure, started, status, `HTTP ${status}: key ${gen.keyLabel} rests ${Math.ceil(restMs / 1000)} s`);
}

/**
 * A failed attempt's entry in the routing explanation, its text scrubbed of credentials in place
 * first. `reason` null: the failure's own text.
 */
function pushFailed(app: App, gen: Generation, ep: Endpoint, failure: UpstreamFailure, started: number, status: number | null, reason: string | null): void {
  failure.raw = redactorFor(app).redact(failure.raw);
  gen.attempts.push({
    provider: ep.provider.name,
    endpoint: ep.key,
    model: ep.model.id,
    status,
    latencyMs: Date.now() - started,
    error: failure.raw.slice(0, 500),
    outcome: 'failed',
    reason: reason ?? failure.raw.slice(0, 200),
    ...keyOf(gen),
  });
}

/** Every key of the provider rests or failed in this attempt: the provider is down for now. */
function keysExhausted(app: App, gen: Generation, ep: Endpoint, pool: KeyPool, started: number): AttemptFailure {
  const wake = pool.nextWake();
  const retryAfter = wake === null ? undefined : Math.max(1, Math.ceil((wake - Date.now()) / 1000));
  const failure: UpstreamFailure = { status: 429, raw: `every key of ${ep.provider.name} is resting (rate limited or refused)`, retryAfterSeconds: retryAfter };
  gen.lastTried = ep;
  gen.keyLabel = null;
  noteFailure(app, gen, ep, failure, started, null);
  return { failure, endpoint: ep };
}

/**
 * Hosted tools the endpoint's protocol does not run: left out of the request (adapters skip them)
 * and recorded; a client that requires one (tool_choice names it) gets a 400 from this endpoint.
 */
function unservedHostedTools(req: GenerationRequest, adapter: ProviderAdapter): string[] {
  let dropped: string[] | null = null;
  for (const t of req.tools) {
    if (t.type !== 'hosted' || adapter.hostedTools?.has(t.name)) continue;
    const choice = req.toolChoice;
    if (typeof choice === 'object' && choice.name === t.name) throw new UntranslatableRequest(`tool_choice requires the hosted tool ${t.name}, which no provider of this model runs`);
    (dropped ??= []).push(t.name);
  }
  return dropped ?? [];
}

/** One Redactor per provider table: it knows every configured provider key. */
const redactors = new WeakMap<object, Redactor>();
function redactorFor(app: App): Redactor {
  const providers = app.settings.providers;
  let r = redactors.get(providers);
  if (!r) redactors.set(providers, (r = providerRedactor(providers.values())));
  return r;
}

/**
 * A failed attempt: recorded in the generation's routing explanation and the endpoint's health,
 * and logged. Its text is scrubbed of credentials first, in place, so the client's error body,
 * the log and the record all get the scrubbed text.
 */
export function noteFailure(app: App, gen: Generation, ep: Endpoint, failure: UpstreamFailure, started: number, status: number | null): void {
  pushFailed(app, gen, ep, failure, started, status, status === null ? null : `HTTP ${status}`);
  app.observer.attemptFinished(gen, ep, attemptOutcome(failure), status);
  if (failure.status !== 499) {
    app.health.recordFailure(healthKey(ep), {
      rateLimited: failure.status === 429,
      retryAfterMs: failure.retryAfterSeconds ? failure.retryAfterSeconds * 1000 : undefined,
    });
    app.log.warn({ gen: gen.id, provider: ep.provider.slug, status: failure.status, raw: failure.raw.slice(0, 200) }, 'upstream attempt failed');
  }
}

export function recordSuccess(app: App, gen: Generation, ep: Endpoint, started: number): void {
  const now = Date.now();
  const ttft = gen.firstTokenAt !== null ? gen.firstTokenAt - started : null;
  const genSeconds = gen.firstTokenAt !== null ? (now - gen.firstTokenAt) / 1000 : 0;
  const tps = gen.usage && genSeconds > 0 ? gen.usage.completionTokens / genSeconds : null;
  app.health.recordSuccess(healthKey(ep), ttft, tps);
  app.observer.attemptFinished(gen, ep, 'ok', 200);
  const attempt: (typeof gen.attempts)[number] = { provider: ep.provider.name, endpoint: ep.key, model: ep.model.id, status: 200, latencyMs: now - started, outcome: 'served', ...keyOf(gen) };
  const requested = gen.req.maxTokens;
  if (requested !== undefined && gen.req.maxTokensPolicy === 'clamp' && ep.maxCompletionTokens !== null && requested > ep.maxCompletionTokens) {
    gen.clampedTo = ep.maxCompletionTokens;
    attempt.reason = `max_tokens ${requested} clamped to ${ep.maxCompletionTokens}`;
  }
  gen.attempts.push(attempt);
}

/** Usage (estimated when the upstream reported none) and its cost on the serving endpoint. */
export function settle(gen: Generation, ep: Endpoint): void {
  if (!gen.usage) {
    gen.estimatedUsage = true;
    gen.usage = { ...ZERO_USAGE, promptTokens: estimateTokens(gen.promptChars), completionTokens: estimateTokens(gen.streamedChars) };
  }
  gen.cost = computeCost(gen.usage, ep.price);
  // Plugins priced per use (web search results) add to what the tokens cost.
  if (gen.pluginRun.costUsd > 0) gen.cost = { ...gen.cost, total: gen.cost.total + gen.pluginRun.costUsd };
}

/** The error for a request whose every attempt failed: OpenRouter's vocabulary, any ingress's envelope. */
export function finalError(last: AttemptFailure | null, all: AttemptFailure[]): ApiError {
  if (!last) return new ApiError(503, 'No provider was available to serve this request');
  if (all.every((a) => a.untranslatable)) return new ApiError(400, last.failure.raw, { error_type: last.errorType ?? 'invalid_request' });
  const real = all.filter((a) => !a.untranslatable);
  const { failure, endpoint } = real[real.length - 1] ?? last;
  const status = failure.status === 429 ? 429 : isRetryable(failure.status) ? 502 : failure.status;
  const metadata: Record<string, unknown> = { raw: failure.raw, provider_name: endpoint.provider.name };
  if (real.length > 1) {
    metadata.previous_errors = real.slice(0, -1).map((a) => ({ provider: a.endpoint.provider.name, code: a.failure.status, message: a.failure.raw.slice(0, 300) }));
  }
  const headers = failure.status === 429 && failure.retryAfterSeconds !== undefined ? { 'Retry-After': String(failure.retryAfterSeconds) } : undefined;
  return new ApiError(status, 'Provider returned error', metadata, headers);
}

/**
 * No attempt answered: the generation records why. Returns the error for the client, or null
 * when the client left (nobody to answer).
 */
export function recordNoAnswer(gen: Generation, failures: AttemptFailure[], signal: CancelSignal): ApiError | null {
  if (signal.aborted) {
    gen.status = 499;
    gen.error = { code: 499, message: 'client closed the request' };
    return null;
  }
  const err = finalError(failures[failures.length - 1] ?? null, failures);
  gen.status = err.status;
  gen.error = { code: err.status, message: String(err.metadata?.raw ?? err.message) };
  return err;
}
