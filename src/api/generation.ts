import type { App } from '../app.js';
import type { Caller } from '../auth/keys.js';
import { ApiError } from '../core/errors.js';
import type { GenerationRecord } from '../storage/generations.js';

/**
 * `GET /api/v1/generation?id=` in OpenRouter's shape (docs/COMPATIBILITY.md#generation-lookup): every documented key present.
 * A key reads only its own generations (management keys, and anyone while auth is off, read all);
 * someone else's id answers 404 like an unknown one.
 */
export async function generationResponse(app: App, id: string | null, caller: Caller): Promise<{ data: Record<string, unknown> }> {
  if (!id) throw new ApiError(400, 'id is required');
  const r = await app.store.get(id);
  const mayRead = caller.kind === 'anonymous' || caller.kind === 'management' || (r !== null && r.apiKeyHash === caller.hash);
  if (!r || !mayRead) throw new ApiError(404, 'Generation not found');
  return { data: toOpenRouterGeneration(r) };
}

export function toOpenRouterGeneration(r: GenerationRecord): Record<string, unknown> {
  return {
    id: r.id,
    upstream_id: r.upstreamId,
    total_cost: r.cost,
    cache_discount: null,
    upstream_inference_cost: r.cost,
    created_at: new Date(r.createdAt).toISOString().replace('Z', '+00:00'),
    model: r.model,
    app_id: null,
    streamed: r.streamed,
    cancelled: r.cancelled,
    provider_name: r.providerName,
    latency: r.latencyMs,
    moderation_latency: null,
    generation_time: r.generationTimeMs,
    finish_reason: r.finishReason,
    native_finish_reason: r.nativeFinishReason,
    tokens_prompt: r.tokensPrompt,
    tokens_completion: r.tokensCompletion,
    native_tokens_prompt: r.tokensPrompt,
    native_tokens_completion: r.tokensCompletion,
    native_tokens_completion_images: null,
    native_tokens_reasoning: r.tokensReasoning,
    native_tokens_cached: r.tokensCached,
    num_media_prompt: null,
    num_input_audio_prompt: null,
    num_media_completion: null,
    num_search_results: null,
    num_fetches: null,
    usage: r.cost,
    origin: r.httpReferer ?? '',
    is_byok: false,
    external_user: r.externalUser,
    api_type: r.api === 'messages' || r.api === 'responses' || r.api === 'embeddings' ? r.api : 'completions',
    preset_id: null,
    router: null,
    provider_responses: r.attempts.filter((a) => a.outcome === undefined || a.outcome === 'served' || a.outcome === 'failed').map((a) => ({
      status: a.status,
      provider_name: a.provider,
      endpoint_id: a.endpoint,
      model_permaslug: a.model,
      latency: a.latencyMs,
      is_byok: false,
      ...(a.key !== undefined ? { key: a.key } : {}),
    })),
    web_search_engine: null,
    service_tier: r.serviceTier,
    user_agent: r.userAgent,
    http_referer: r.httpReferer,
    data_region: 'global',
    workspace_id: null,
    request_id: null,
    session_id: r.sessionId,
    // Switchyard extensions: time to first token, the terminal error, and why each endpoint was
    // tried, skipped or left untried.
    ttft: r.ttftMs,
    api: r.api ?? 'chat_completions',
    notes: r.notes ?? [],
    routing: r.attempts.map((a) => ({
      model: a.model,
      endpoint: a.endpoint,
      provider_name: a.provider,
      outcome: a.outcome ?? (a.status === 200 ? 'served' : 'failed'),
      status: a.status,
      reason: a.reason ?? a.error ?? null,
      latency: a.outcome === 'skipped' || a.outcome === 'not tried' ? null : a.latencyMs,
      ...(a.key !== undefined ? { key: a.key } : {}),
    })),
    // The label of the provider key that served (key pools; never the secret).
    provider_key: r.attempts.find((a) => a.outcome === 'served' || (a.outcome === undefined && a.status === 200))?.key ?? null,
    status: r.status,
    error: r.errorCode !== null ? { code: r.errorCode, message: r.errorMessage } : null,
  };
}
