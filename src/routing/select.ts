import { ApiError } from '../core/errors.js';
import type { Catalog } from '../catalog/load.js';
import type { Endpoint, ModelEntry } from '../catalog/types.js';
import type { ProviderRuntime } from '../config/load.js';
import { envStem } from '../config/load.js';
import type { ChatRequest, ProviderPreferences } from '../api/chat-schema.js';
import { adapterFor } from '../providers/registry.js';
import type { HealthTracker } from './health.js';

export type Rng = () => number;

export interface Skip {
  endpoint: string;
  reason: string;
}

export interface ModelRoute {
  model: ModelEntry;
  requestedId: string; // what the client asked for (variant suffixes removed)
  endpoints: Endpoint[]; // in attempt order
  skipped: Skip[];
}

/** Dynamic variants change routing, not the model (spec §11.7). */
const DYNAMIC_VARIANTS: Record<string, 'price' | 'throughput' | undefined> = {
  nitro: 'throughput',
  floor: 'price',
  exacto: undefined,
  online: undefined,
};

export function splitVariant(id: string): { base: string; sort?: 'price' | 'throughput' } {
  const colon = id.lastIndexOf(':');
  if (colon > 0) {
    const suffix = id.slice(colon + 1);
    if (suffix in DYNAMIC_VARIANTS) return { base: id.slice(0, colon), sort: DYNAMIC_VARIANTS[suffix] };
  }
  return { base: id };
}

/** Slugs and display names, case-insensitively; a base slug matches every tagged variant (spec §11.1). */
export function matchesProvider(ep: Endpoint, name: string): boolean {
  const n = name.toLowerCase();
  return ep.tag.toLowerCase() === n || ep.provider.slug === n || ep.provider.name.toLowerCase() === n;
}

/** The single number the default load balancer weighs: prompt + completion USD per token. */
export function unitPrice(ep: Endpoint): number {
  return ep.price.prompt + ep.price.completion;
}

/** Weighted random permutation with weight ∝ 1/price² (spec §11.2). */
export function inverseSquareShuffle(eps: Endpoint[], rng: Rng): Endpoint[] {
  const pool = eps.map((ep) => ({ ep, w: 1 / Math.max(unitPrice(ep), 1e-12) ** 2 }));
  const out: Endpoint[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((s, p) => s + p.w, 0);
    let r = rng() * total;
    let i = 0;
    for (; i < pool.length - 1; i++) {
      r -= pool[i].w;
      if (r < 0) break;
    }
    out.push(pool[i].ep);
    pool.splice(i, 1);
  }
  return out;
}

const PARAMS_OF_REQUEST = [
  'tools',
  'tool_choice',
  'max_tokens',
  'temperature',
  'top_p',
  'top_k',
  'frequency_penalty',
  'presence_penalty',
  'repetition_penalty',
  'min_p',
  'top_a',
  'seed',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'stop',
  'response_format',
  'parallel_tool_calls',
  'reasoning',
] as const;

function requestedParameters(req: ChatRequest): string[] {
  const out: string[] = [];
  for (const p of PARAMS_OF_REQUEST) {
    const v = (req as Record<string, unknown>)[p];
    if (v !== undefined && v !== null) out.push(p);
  }
  if (req.max_completion_tokens != null && !out.includes('max_tokens')) out.push('max_tokens');
  return out;
}

export interface RouteContext {
  catalog: Catalog;
  providers: Map<string, ProviderRuntime>;
  health: HealthTracker;
  rng: Rng;
}

/** Candidate endpoints for one model, filtered by the request and ordered for attempts. */
export function routeModel(ctx: RouteContext, modelId: string, req: ChatRequest, prefs: ProviderPreferences | null): ModelRoute {
  const { base, sort: variantSort } = splitVariant(modelId);
  const model = ctx.catalog.models.get(base);
  if (!model) {
    throw new ApiError(400, `${modelId} is not a valid model ID`);
  }
  const skipped: Skip[] = [];
  let eps = ctx.catalog.endpointsOf(model);

  const configured = eps.filter((ep) => {
    const rt = ctx.providers.get(ep.provider.slug);
    const ok = Boolean(rt?.enabled && adapterFor(ep.provider.protocol));
    if (!ok) skipped.push({ endpoint: ep.key, reason: 'provider not configured' });
    return ok;
  });
  if (configured.length === 0) {
    const hints = [...new Set(eps.map((ep) => `${envStem(ep.provider.slug)}_API_KEY`))].join(', ');
    throw new ApiError(503, `No provider is configured for ${base}: set one of ${hints}`);
  }
  eps = configured;

  const only = prefs?.only ?? null;
  if (only && only.length > 0) {
    eps = eps.filter((ep) => {
      const ok = only.some((n) => matchesProvider(ep, n));
      if (!ok) skipped.push({ endpoint: ep.key, reason: 'not in provider.only' });
      return ok;
    });
    if (eps.length === 0) throw new ApiError(404, `No endpoints found for ${base} matching provider.only (${only.join(', ')}).`);
  }
  const ignore = prefs?.ignore ?? null;
  if (ignore && ignore.length > 0) {
    eps = eps.filter((ep) => {
      const drop = ignore.some((n) => matchesProvider(ep, n));
      if (drop) skipped.push({ endpoint: ep.key, reason: 'in provider.ignore' });
      return !drop;
    });
    if (eps.length === 0) throw new ApiError(404, `No endpoints found for ${base}: every provider is in provider.ignore.`);
  }

  const hasTools = Array.isArray(req.tools) && req.tools.length > 0;
  if (hasTools) {
    eps = eps.filter((ep) => {
      const ok = ep.supportedParameters.size === 0 || ep.supportedParameters.has('tools');
      if (!ok) skipped.push({ endpoint: ep.key, reason: 'does not support tools' });
      return ok;
    });
    if (eps.length === 0) throw new ApiError(404, 'No endpoints found that support tool use.');
  }

  const maxTokens = req.max_completion_tokens ?? req.max_tokens ?? null;
  if (maxTokens !== null) {
    eps = eps.filter((ep) => {
      const ok = ep.maxCompletionTokens === null || maxTokens <= ep.maxCompletionTokens;
      if (!ok) skipped.push({ endpoint: ep.key, reason: `max output ${ep.maxCompletionTokens} < max_tokens ${maxTokens}` });
      return ok;
    });
    if (eps.length === 0) throw new ApiError(404, `No endpoints found for ${base} that can produce ${maxTokens} output tokens.`);
  }

  if (prefs?.require_parameters) {
    const needed = requestedParameters(req);
    eps = eps.filter((ep) => {
      const missing = needed.filter((p) => !ep.supportedParameters.has(p));
      if (missing.length > 0) skipped.push({ endpoint: ep.key, reason: `does not support ${missing.join(', ')}` });
      return missing.length === 0;
    });
    if (eps.length === 0) throw new ApiError(404, `No endpoints found for ${base} that support all requested parameters.`);
  }

  if (prefs?.data_collection === 'deny') {
    eps = eps.filter((ep) => {
      const ok = ep.provider.data_collection === 'deny';
      if (!ok) skipped.push({ endpoint: ep.key, reason: 'may collect data (data_collection: deny)' });
      return ok;
    });
    if (eps.length === 0) throw new ApiError(404, `No endpoints found for ${base} that satisfy data_collection: deny.`);
  }

  const ordered = orderEndpoints(ctx, eps, prefs, variantSort);
  return { model, requestedId: base, endpoints: ordered, skipped };
}

function sortKey(prefs: ProviderPreferences | null, variantSort?: string): string | undefined {
  const s = prefs?.sort;
  if (typeof s === 'string') return s;
  if (s && typeof s === 'object' && s.by) return s.by;
  return variantSort;
}

function orderEndpoints(ctx: RouteContext, eps: Endpoint[], prefs: ProviderPreferences | null, variantSort?: string): Endpoint[] {
  const now = Date.now();
  const healthy = eps.filter((ep) => !ctx.health.isDegraded(healthKey(ep), now));
  const degraded = eps.filter((ep) => ctx.health.isDegraded(healthKey(ep), now)).sort((a, b) => unitPrice(a) - unitPrice(b));
  const by = sortKey(prefs, variantSort);

  let rest: Endpoint[];
  if (by === 'price') {
    rest = [...healthy].sort((a, b) => unitPrice(a) - unitPrice(b));
  } else if (by === 'latency' || by === 'throughput') {
    const metric = (ep: Endpoint) => {
      const s = ctx.health.stats(healthKey(ep));
      return by === 'latency' ? (s.ttftMs ?? Number.POSITIVE_INFINITY) : -(s.tokensPerSecond ?? 0);
    };
    rest = [...healthy].sort((a, b) => metric(a) - metric(b) || unitPrice(a) - unitPrice(b));
  } else {
    rest = inverseSquareShuffle(healthy, ctx.rng);
  }
  rest = rest.concat(degraded);

  const order = prefs?.order ?? null;
  const allowFallbacks = prefs?.allow_fallbacks ?? true;
  if (order && order.length > 0) {
    const first: Endpoint[] = [];
    for (const name of order) {
      for (const ep of eps) if (matchesProvider(ep, name) && !first.includes(ep)) first.push(ep);
    }
    if (!allowFallbacks) return first;
    return first.concat(rest.filter((ep) => !first.includes(ep)));
  }
  return allowFallbacks ? rest : rest.slice(0, 1);
}

export function healthKey(ep: Endpoint): string {
  return `${ep.model.id}|${ep.key}`;
}
