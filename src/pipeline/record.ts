import type { IncomingMessage } from 'node:http';
import type { Caller } from '../auth/keys.js';
import type { Endpoint } from '../catalog/types.js';
import type { GenerationRecord, ProviderAttempt } from '../storage/generations.js';
import type { Generation } from './generation.js';

export function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

/**
 * Explainability (a Switchyard extension): the attempts so far and the endpoint now serving,
 * e.g. `groq=429, novita=serving`, or only the failed attempts on an error answer. The full
 * explanation, skipped endpoints included, is in the generation record.
 */
export function routeHeader(gen: Generation, serving?: Endpoint): string {
  const parts = gen.attempts.filter((a) => a.outcome === 'failed').map((a) => `${a.endpoint}=${a.status ?? 'error'}`);
  if (serving) parts.push(`${serving.key}=serving`);
  return parts.join(', ');
}

/** Headers that say what the pipeline changed about the request (hosted tools left out) and where a replayed answer comes from. */
export function responseHeaders(gen: Generation): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  if (gen.droppedTools.length > 0) (out ??= {})['X-Switchyard-Dropped-Tools'] = gen.droppedTools.join(', ');
  // A replayed answer (demo, replay) names the recording it comes from.
  if (gen.recording !== null) (out ??= {})['X-Switchyard-Recording'] = gen.recording;
  return out;
}

/** Every endpoint the router looked at, in order: attempts, then the untried rest, then the skipped. */
function explanation(gen: Generation): ProviderAttempt[] {
  const tried = new Set(gen.attempts.map((a) => `${a.model}|${a.endpoint}`));
  const notTried: ProviderAttempt[] = gen.plan.candidates
    .filter((c) => !tried.has(`${c.endpoint.model.id}|${c.endpoint.key}`))
    .map((c) => ({ provider: c.endpoint.provider.name, endpoint: c.endpoint.key, model: c.endpoint.model.id, status: null, latencyMs: 0, outcome: 'not tried' }));
  const skipped: ProviderAttempt[] = gen.plan.considered
    .filter((c) => c.skipped)
    .map((c) => ({ provider: c.provider, endpoint: c.endpoint, model: c.model, status: null, latencyMs: 0, outcome: 'skipped', reason: c.skipped }));
  return [...gen.attempts, ...notTried, ...skipped];
}

function notesOf(gen: Generation): string[] {
  const notes: string[] = [...gen.plan.notes, ...gen.notes];
  for (const t of gen.droppedTools) notes.push(`hosted tool ${t} left out: the serving provider has none`);
  if (gen.clampedTo !== null) notes.push(`max_tokens ${gen.req.maxTokens} clamped to ${gen.clampedTo}`);
  notes.push(...gen.pluginRun.notes);
  return notes;
}

export function toRecord(gen: Generation, req: IncomingMessage, caller: Caller): GenerationRecord {
  const ep = gen.served ?? gen.lastTried;
  const end = Date.now();
  return {
    id: gen.id,
    createdAt: gen.startedAt,
    model: ep ? ep.model.id : gen.requestedModel,
    requestedModel: gen.requestedModel,
    providerName: ep?.provider.name ?? null,
    providerSlug: ep?.provider.slug ?? null,
    upstreamId: gen.upstreamId,
    streamed: gen.req.stream,
    cancelled: gen.cancelled,
    status: gen.status,
    finishReason: gen.finishReason,
    nativeFinishReason: gen.nativeFinishReason,
    tokensPrompt: gen.usage?.promptTokens ?? null,
    tokensCompletion: gen.usage?.completionTokens ?? null,
    tokensCached: gen.usage?.cachedTokens ?? null,
    tokensReasoning: gen.usage?.reasoningTokens ?? null,
    cost: gen.cost.total,
    promptCost: gen.cost.prompt,
    completionCost: gen.cost.completion,
    latencyMs: end - gen.startedAt,
    generationTimeMs: gen.acceptedAt !== null ? end - gen.acceptedAt : null,
    ttftMs: gen.firstTokenAt !== null ? gen.firstTokenAt - gen.startedAt : null,
    errorCode: gen.error?.code ?? null,
    errorMessage: gen.error?.message ?? null,
    attempts: explanation(gen),
    apiKey: caller.label,
    apiKeyHash: caller.hash,
    externalUser: gen.user,
    userAgent: header(req, 'user-agent'),
    httpReferer: header(req, 'http-referer'),
    serviceTier: gen.serviceTier,
    sessionId: gen.sessionId ?? header(req, 'x-session-id'),
    api: gen.req.api,
    notes: notesOf(gen),
  };
}
