import type { App } from '../app.js';
import { ApiError } from '../core/errors.js';
import type { Endpoint, ModelEntry, Pricing } from '../catalog/types.js';
import { healthKey, unitPrice } from '../routing/select.js';

/** Catalog endpoints in OpenRouter's shapes (docs/COMPATIBILITY.md#models-endpoints-and-providers), with live health from this replica. */

function pricingJson(p: Pricing): Record<string, unknown> {
  const out: Record<string, unknown> = { prompt: p.prompt, completion: p.completion, request: p.request ?? '0', image: p.image ?? '0' };
  if (p.input_cache_read !== undefined) out.input_cache_read = p.input_cache_read;
  if (p.input_cache_write !== undefined) out.input_cache_write = p.input_cache_write;
  if (p.internal_reasoning !== undefined) out.internal_reasoning = p.internal_reasoning;
  if (p.web_search !== undefined) out.web_search = p.web_search;
  if (p.discount !== undefined) out.discount = p.discount;
  return out;
}

function architecture(m: ModelEntry): Record<string, unknown> {
  const input = m.input_modalities ?? ['text'];
  const output = m.output_modalities ?? ['text'];
  return { modality: `${input.join('+')}->${output.join('+')}`, input_modalities: input, output_modalities: output, tokenizer: 'Other', instruct_type: null };
}

function modelJson(app: App, m: ModelEntry): Record<string, unknown> {
  const eps = app.settings.catalog.endpointsOf(m);
  const cheapest = [...eps].sort((a, b) => unitPrice(a) - unitPrice(b))[0];
  const params = new Set<string>();
  for (const ep of eps) for (const p of ep.supportedParameters) params.add(p);
  const json: Record<string, unknown> = {
    id: m.id,
    canonical_slug: m.canonical_slug ?? m.id,
    name: m.name ?? m.id,
    created: m.created ?? 0,
    description: m.description ?? '',
    context_length: m.context_length ?? Math.max(0, ...eps.map((e) => e.contextLength ?? 0)),
    architecture: architecture(m),
    pricing: cheapest ? pricingJson(cheapest.pricing) : { prompt: '0', completion: '0', request: '0', image: '0' },
    top_provider: {
      context_length: cheapest?.contextLength ?? null,
      max_completion_tokens: cheapest?.maxCompletionTokens ?? null,
      is_moderated: false,
    },
    per_request_limits: null,
    supported_parameters: [...params].sort(),
    default_parameters: null,
    supported_voices: null,
    links: { details: `/api/v1/models/${m.id}/endpoints` },
    expiration_date: null,
    knowledge_cutoff: null,
  };
  if (m.reasoning) json.reasoning = { mandatory: false, supported_efforts: ['high', 'medium', 'low', 'minimal'], default_enabled: false };
  // Switchyard extension: the endpoints this gateway can reach right now.
  json.endpoints_enabled = eps.filter((ep) => app.settings.providers.get(ep.provider.slug)?.enabled).map((ep) => ep.key);
  return json;
}

type ModelList = { data: Record<string, unknown>[]; total_count: number; links: { next: string | null } };

export function modelsResponse(app: App, url: URL, defaultModalities = 'text'): ModelList {
  const wanted = (url.searchParams.get('output_modalities') ?? defaultModalities).split(',').map((s) => s.trim());
  const params = url.searchParams.get('supported_parameters')?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  const data = [...app.settings.catalog.models.values()]
    .filter((m) => wanted.includes('all') || (m.output_modalities ?? ['text']).some((o) => wanted.includes(o)))
    .map((m) => modelJson(app, m))
    .filter((m) => params.every((p) => (m.supported_parameters as string[]).includes(p)));
  return { data, total_count: data.length, links: { next: null } };
}

/** `GET /api/v1/embeddings/models`: the models list, embedding models only. */
export function embeddingModelsResponse(app: App, url: URL): ModelList {
  const only = new URL(url);
  only.searchParams.delete('output_modalities');
  return modelsResponse(app, only, 'embeddings');
}

export function modelResponse(app: App, id: string): { data: Record<string, unknown> } {
  const m = app.settings.catalog.models.get(id);
  if (!m) throw new ApiError(404, `Model ${id} not found`);
  return { data: modelJson(app, m) };
}

function endpointJson(app: App, ep: Endpoint): Record<string, unknown> {
  const s = app.health.stats(healthKey(ep));
  const rt = app.settings.providers.get(ep.provider.slug);
  // 0 normal; -1 degraded (breaker half-open or recent failures); -2 down (breaker open); -10 not configured here.
  const status = !rt?.enabled ? -10 : s.state === 'open' ? -2 : app.health.isDegraded(healthKey(ep)) || s.state === 'half-open' ? -1 : 0;
  return {
    name: `${ep.provider.name}: ${ep.model.name ?? ep.model.id}`,
    model_id: ep.model.canonical_slug ?? ep.model.id,
    model_name: ep.model.name ?? ep.model.id,
    context_length: ep.contextLength ?? 0,
    pricing: pricingJson(ep.pricing),
    provider_name: ep.provider.name,
    tag: ep.tag,
    quantization: ep.quantization,
    max_completion_tokens: ep.maxCompletionTokens,
    max_prompt_tokens: ep.contextLength,
    supported_parameters: [...ep.supportedParameters].sort(),
    status,
    uptime_last_30m: s.uptime30m,
    uptime_last_5m: s.uptime5m,
    uptime_last_1d: s.uptime1d,
    supports_implicit_caching: ep.pricing.input_cache_read !== undefined,
    latency_last_30m: s.latency30m, // time to first token, milliseconds
    throughput_last_30m: s.throughput30m, // tokens per second
    supports_tool_choice: ep.supportedParameters.size === 0 || ep.supportedParameters.has('tool_choice'),
    // Switchyard extension: the provider's keys (by label) and how each fared on this endpoint.
    keys: rt ? rt.keys.figures(ep.key) : [],
  };
}

/** `GET /api/v1/models/{author}/{slug}/endpoints` */
export function endpointsResponse(app: App, id: string): { data: Record<string, unknown> } {
  const m = app.settings.catalog.models.get(id);
  if (!m) throw new ApiError(404, `Model ${id} not found`);
  return {
    data: {
      id: m.id,
      name: m.name ?? m.id,
      created: m.created ?? 0,
      description: m.description ?? '',
      architecture: architecture(m),
      endpoints: app.settings.catalog.endpointsOf(m).map((ep) => endpointJson(app, ep)),
    },
  };
}

/** `GET /api/v1/providers` */
export function providersResponse(app: App): { data: Record<string, unknown>[] } {
  return {
    data: [...app.settings.catalog.providers.values()].map((p) => ({
      name: p.name,
      slug: p.slug,
      privacy_policy_url: p.privacy_policy_url ?? null,
      terms_of_service_url: p.terms_of_service_url ?? null,
      status_page_url: p.status_page_url ?? null,
      headquarters: p.headquarters ?? null,
      datacenters: null,
      // Switchyard extension: whether this gateway has the provider configured.
      enabled: app.settings.providers.get(p.slug)?.enabled === true,
    })),
  };
}

/**
 * `GET /api/v1/endpoints/health` (Switchyard extension): every endpoint of the catalog whose
 * provider is configured here (all of them with `?all=true`), each in the shape of
 * `/models/{author}/{slug}/endpoints` plus its model id, provider slug, breaker state and request
 * count over 30 minutes: one read for a dashboard (the console's Providers page) instead of one per model.
 */
export function endpointsHealthResponse(app: App, url: URL): { data: Record<string, unknown>[] } {
  const all = url.searchParams.get('all');
  if (all !== null && all !== 'true' && all !== 'false') throw new ApiError(400, 'all must be "true" or "false"');
  const data: Record<string, unknown>[] = [];
  for (const m of app.settings.catalog.models.values()) {
    for (const ep of app.settings.catalog.endpointsOf(m)) {
      if (all !== 'true' && !app.settings.providers.get(ep.provider.slug)?.enabled) continue;
      const s = app.health.stats(healthKey(ep));
      data.push({ model: m.id, provider: ep.provider.slug, endpoint: ep.key, ...endpointJson(app, ep), breaker: s.state, requests_last_30m: s.requests30m });
    }
  }
  return { data };
}
