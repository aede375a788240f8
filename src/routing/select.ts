import { ApiError } from '../core/errors.js';
import type { Catalog } from '../catalog/load.js';
import type { Endpoint, ModelEntry } from '../catalog/types.js';
import type { ProviderRuntime } from '../config/load.js';
import { envStem } from '../config/load.js';
import { longestInputChars } from '../model/embeddings.js';
import type { GenerationRequest } from '../model/request.js';
import { compressesFor } from '../model/plugins.js';
import { adapterFor } from '../providers/registry.js';
import type { HealthTracker, Percentiles } from './health.js';
import { routingPrefs, type RoutingPrefs, type SortBy } from './preferences.js';

export type Rng = () => number;

/** One endpoint the router looked at, and why it was left out (absent reason: a candidate). */
export interface Consideration {
  model: string;
  endpoint: string;
  provider: string;
  skipped?: string;
}

export interface Candidate {
  endpoint: Endpoint;
  requestedId: string; // the model id as the client asked (dynamic variant removed)
}

export interface RoutePlan {
  candidates: Candidate[]; // attempt order, across models
  considered: Consideration[];
  /** What the record should say about how the route was chosen (e.g. the context-compression fallback). */
  notes: string[];
}

export interface RouteContext {
  catalog: Catalog;
  providers: Map<string, ProviderRuntime>;
  health: HealthTracker;
  rng: Rng;
}

/** Dynamic variants change routing, not the model (docs/COMPATIBILITY.md#model-variants). */
const DYNAMIC_VARIANTS: Record<string, SortBy | null> = { nitro: 'throughput', floor: 'price', exacto: null, online: null };

export function splitVariant(id: string): { base: string; sort?: SortBy } {
  const colon = id.lastIndexOf(':');
  if (colon > 0) {
    const suffix = id.slice(colon + 1);
    if (suffix in DYNAMIC_VARIANTS) return { base: id.slice(0, colon), sort: DYNAMIC_VARIANTS[suffix] ?? undefined };
  }
  return { base: id };
}

/** Slugs and display names, case-insensitively; a base slug matches every tagged variant (docs/COMPATIBILITY.md#provider-matching). */
export function matchesProvider(ep: Endpoint, name: string): boolean {
  const n = name.toLowerCase();
  return ep.tag.toLowerCase() === n || ep.provider.slug === n || ep.provider.name.toLowerCase() === n;
}

/** The single number the default load balancer weighs: prompt + completion USD per token. */
export function unitPrice(ep: Endpoint): number {
  return ep.price.prompt + ep.price.completion;
}

/** Weighted random permutation with weight ∝ 1/price² (docs/COMPATIBILITY.md#default-load-balancing). */
export function inverseSquareShuffle<T extends { endpoint: Endpoint }>(items: T[], rng: Rng): T[] {
  const pool = items.map((item) => ({ item, w: 1 / Math.max(unitPrice(item.endpoint), 1e-12) ** 2 }));
  const out: T[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((s, p) => s + p.w, 0);
    let r = rng() * total;
    let i = 0;
    for (; i < pool.length - 1; i++) {
      r -= pool[i].w;
      if (r < 0) break;
    }
    out.push(pool[i].item);
    pool.splice(i, 1);
  }
  return out;
}

export function healthKey(ep: Endpoint): string {
  return `${ep.model.id}|${ep.key}`;
}

/** Quantization families: `fp4` admits mxfp4/nvfp4, `fp8` admits mxfp8 (docs/COMPATIBILITY.md#provider-preferences). */
function quantizationMatches(q: string, wanted: string[]): boolean {
  const v = q.toLowerCase();
  return wanted.some((w) => v === w || (w === 'fp4' && (v === 'mxfp4' || v === 'nvfp4')) || (w === 'fp8' && v === 'mxfp8'));
}

const supports = (ep: Endpoint, param: string) => ep.supportedParameters.size === 0 || ep.supportedParameters.has(param);

const fmtUsdPerM = (perToken: number) => `$${Number((perToken * 1e6).toPrecision(6))}/M`;

/**
 * Whether this endpoint would compress the request's prompt to fit its context. An embeddings
 * request has no conversation to compress: its input fits the context or it is refused.
 */
function compressesPromptFor(req: GenerationRequest, ep: Endpoint): boolean {
  return req.embedding === undefined && compressesFor(req.plugins, ep.contextLength);
}

/**
 * No endpoint of a model has the context the request needs. `compressing`: the endpoints that
 * passed every other filter and would compress the prompt (their skip notes included), from which
 * the context-compression fallback may still pick.
 */
class ContextShortfall extends ApiError {
  constructor(
    message: string,
    readonly compressing: { endpoint: Endpoint; consideration: Consideration }[],
  ) {
    super(400, message, { error_type: 'context_length_exceeded' });
  }
}

/** A hard filter: endpoints failing it are skipped; if none survive, the request ends with `empty`. */
interface Filter {
  keep: (ep: Endpoint) => string | null; // reason to skip, or null to keep
  empty: () => ApiError;
}

/** Candidate endpoints of one model after the request's hard filters, each skip explained. */
function eligible(ctx: RouteContext, model: ModelEntry, req: GenerationRequest, prefs: RoutingPrefs, considered: Consideration[], promptChars: number): Endpoint[] {
  const all = ctx.catalog.endpointsOf(model);
  // One object shape whether skipped or not (an absent reason is undefined and left out of JSON).
  const note = (ep: Endpoint, skipped?: string) => considered.push({ model: model.id, endpoint: ep.key, provider: ep.provider.name, skipped: skipped || undefined });
  const maxTokens = req.maxTokens ?? null;
  const clamp = req.maxTokensPolicy === 'clamp';
  const promptEstimate = Math.ceil(promptChars / 4);
  const hasTools = req.tools.some((t) => t.type === 'function');
  const namedChoice = req.toolChoice !== undefined && req.toolChoice !== 'auto';
  const requiredParameters = prefs.requireParameters ? req.parameters : [];
  const mp = prefs.maxPrice;
  const hasImages = req.messages.some((m) => m.content.some((p) => p.type === 'image'));

  // Endpoints whose provider is not configured are the same for every request: taken from a
  // per-model cache, with their (shared, read-only) notes, ahead of the request's own filters.
  const { configured, unconfigured } = byConfiguration(ctx, model, all);
  for (const c of unconfigured) considered.push(c);
  if (configured.length === 0) {
    const hints = [...new Set(all.map((ep) => `${envStem(ep.provider.slug)}_API_KEY`))].join(', ');
    throw new ApiError(503, `No provider is configured for ${model.id}: set one of ${hints}`);
  }

  // Only the filters that apply to this request are built (each is an object and two closures).
  const filters: Filter[] = [];
  if (req.embedding) {
    filters.push({
      keep: (ep) => (adapterFor(ep.provider.protocol)?.embeddings ? null : `${ep.provider.protocol} upstreams serve no embeddings in Switchyard`),
      empty: () => new ApiError(404, `No endpoints found for ${model.id} that serve embeddings.`),
    });
  }
  if (prefs.only !== null) {
    filters.push({
      keep: (ep) => (prefs.only!.some((n) => matchesProvider(ep, n)) ? null : 'not in provider.only'),
      empty: () => new ApiError(404, `No endpoints found for ${model.id} matching provider.only (${prefs.only!.join(', ')}).`),
    });
  }
  if (prefs.ignore !== null) {
    filters.push({
      keep: (ep) => (prefs.ignore!.some((n) => matchesProvider(ep, n)) ? 'in provider.ignore' : null),
      empty: () => new ApiError(404, `No endpoints found for ${model.id}: every provider is in provider.ignore.`),
    });
  }
  if (prefs.quantizations !== null) {
    filters.push({
      keep: (ep) => (quantizationMatches(ep.quantization, prefs.quantizations!) ? null : `quantization ${ep.quantization} not in provider.quantizations`),
      empty: () => new ApiError(404, `No endpoints found for ${model.id} with quantization ${prefs.quantizations!.join(', ')}.`),
    });
  }
  if (prefs.dataCollection === 'deny') {
    filters.push({
      keep: (ep) => (ep.provider.data_collection === 'deny' ? null : 'may store or train on data (data_collection: deny)'),
      empty: () => new ApiError(404, `No endpoints found for ${model.id} that satisfy data_collection: deny.`),
    });
  }
  if (prefs.zdr) {
    filters.push({
      keep: (ep) => (ep.provider.zdr === true ? null : 'not a zero-data-retention endpoint (zdr)'),
      empty: () => new ApiError(404, `No endpoints found for ${model.id} with zero data retention.`),
    });
  }
  if (mp !== null) {
    filters.push({
      keep: (ep) => {
        if (mp!.prompt !== undefined && ep.price.prompt * 1e6 > mp!.prompt) return `prompt price ${fmtUsdPerM(ep.price.prompt)} above max_price`;
        if (mp!.completion !== undefined && ep.price.completion * 1e6 > mp!.completion) return `completion price ${fmtUsdPerM(ep.price.completion)} above max_price`;
        if (mp!.request !== undefined && ep.price.request > mp!.request) return 'request price above max_price';
        if (mp!.image !== undefined && Number(ep.pricing.image ?? 0) > mp!.image) return 'image price above max_price';
        return null;
      },
      empty: () => new ApiError(404, `No endpoints found for ${model.id} within provider.max_price.`),
    });
  }
  if (hasImages) {
    filters.push({
      keep: () => ((model.input_modalities ?? ['text']).includes('image') ? null : 'no image input'),
      empty: () => new ApiError(404, 'No endpoints found that support image input'),
    });
  }
  if (hasTools) {
    filters.push({
      keep: (ep) => (supports(ep, 'tools') ? null : 'does not support tools'),
      empty: () => new ApiError(404, 'No endpoints found that support tool use. To learn more about provider routing, see the README section on routing.'),
    });
  }
  if (hasTools && namedChoice) {
    filters.push({
      keep: (ep) => (supports(ep, 'tool_choice') ? null : 'does not support tool_choice'),
      empty: () => new ApiError(404, "No endpoints found that support the provided 'tool_choice' value."),
    });
  }
  if (maxTokens !== null && !clamp) {
    filters.push({
      keep: (ep) => (ep.maxCompletionTokens === null || maxTokens! <= ep.maxCompletionTokens ? null : `max output ${ep.maxCompletionTokens} < max_tokens ${maxTokens}`),
      empty: () => new ApiError(404, `No endpoints found for ${model.id} that can produce ${maxTokens} output tokens.`),
    });
  }
  if (requiredParameters.length > 0) {
    filters.push({
      keep: (ep) => {
        const missing = requiredParameters.filter((p) => !ep.supportedParameters.has(p));
        return missing.length > 0 ? `does not support ${missing.join(', ')} (require_parameters)` : null;
      },
      empty: () => new ApiError(404, `No endpoints found for ${model.id} that support all requested parameters (${requiredParameters.join(', ')}).`),
    });
  }

  let eps: Endpoint[] = configured;
  for (const f of filters) {
    const kept: Endpoint[] = [];
    for (const ep of eps) {
      const reason = f.keep(ep);
      if (reason) note(ep, reason);
      else kept.push(ep);
    }
    if (kept.length === 0) throw f.empty();
    eps = kept;
  }

  // The context comes last: when no endpoint has enough of it, those that compress the prompt
  // have passed every other filter and are what the context-compression fallback chooses from.
  const requiredTokens = promptEstimate + (clamp ? 0 : (maxTokens ?? 0));
  const fitting: Endpoint[] = [];
  const compressing: ContextShortfall['compressing'] = [];
  for (const ep of eps) {
    if (ep.contextLength === null) {
      fitting.push(ep);
      continue;
    }
    // With context compression an endpoint qualifies with half the context the request needs
    // (https://openrouter.ai/docs/guides/features/message-transforms); the prompt is cut to fit it.
    const compresses = compressesPromptFor(req, ep);
    if (compresses ? requiredTokens / 2 <= ep.contextLength : requiredTokens <= ep.contextLength) {
      fitting.push(ep);
      continue;
    }
    note(ep, compresses ? `prompt (~${promptEstimate} tokens) too long to compress into the context length ${ep.contextLength}` : `prompt (~${promptEstimate} tokens) + max_tokens exceed the context length ${ep.contextLength}`);
    if (compresses) compressing.push({ endpoint: ep, consideration: considered[considered.length - 1]! });
  }
  if (fitting.length === 0) {
    const advice = req.embedding ? 'Please shorten the input.' : 'Please reduce the length of the messages or max_tokens, or turn on context compression (plugins: [{"id": "context-compression"}]).';
    throw new ContextShortfall(`This request (~${promptEstimate} prompt tokens${maxTokens ? ` + ${maxTokens} output tokens` : ''}) exceeds the context length of every endpoint of ${model.id}. ${advice}`, compressing);
  }
  eps = fitting;

  // With clamping, endpoints that cannot produce max_tokens go last (they get their own maximum).
  if (maxTokens !== null && clamp) {
    const short = eps.filter((ep) => ep.maxCompletionTokens !== null && ep.maxCompletionTokens < maxTokens);
    if (short.length > 0 && short.length < eps.length) eps = eps.filter((ep) => !short.includes(ep)).concat(short);
  }
  // Soft preference: endpoints that understand response_format go first; none is fine.
  if (req.responseFormat && req.responseFormat.type !== 'text') {
    const understood = eps.filter((ep) => supports(ep, 'response_format'));
    if (understood.length > 0 && understood.length < eps.length) eps = understood.concat(eps.filter((ep) => !understood.includes(ep)));
  }
  for (const ep of eps) note(ep);
  return eps;
}

interface ConfigurationSplit {
  configured: Endpoint[];
  unconfigured: Consideration[];
  endpoints: readonly Endpoint[];
  /** What the split was computed from: each endpoint's runtime, and its `enabled` then. */
  runtimes: (ProviderRuntime | undefined)[];
  enabled: boolean[];
}

/**
 * Per provider table and model: endpoints split by whether their provider can be called. The
 * table is fixed after start-up; the split is still checked against it (a look-up and a flag per
 * endpoint) so that a provider enabled, disabled or replaced at run time takes effect at once.
 */
const configuration = new WeakMap<Map<string, ProviderRuntime>, WeakMap<ModelEntry, ConfigurationSplit>>();

function byConfiguration(ctx: RouteContext, model: ModelEntry, all: readonly Endpoint[]): ConfigurationSplit {
  let perModel = configuration.get(ctx.providers);
  if (!perModel) {
    perModel = new WeakMap();
    configuration.set(ctx.providers, perModel);
  }
  const cached = perModel.get(model);
  if (cached && stillValid(cached, ctx.providers, all)) return cached;
  const split: ConfigurationSplit = { configured: [], unconfigured: [], endpoints: all, runtimes: [], enabled: [] };
  for (const ep of all) {
    const rt = ctx.providers.get(ep.provider.slug);
    split.runtimes.push(rt);
    split.enabled.push(rt?.enabled === true);
    if (rt?.enabled && adapterFor(ep.protocol)) split.configured.push(ep);
    else split.unconfigured.push({ model: model.id, endpoint: ep.key, provider: ep.provider.name, skipped: rt?.enabled ? `unknown protocol ${ep.protocol}` : 'provider not configured' });
  }
  perModel.set(model, split);
  return split;
}

function stillValid(split: ConfigurationSplit, providers: Map<string, ProviderRuntime>, all: readonly Endpoint[]): boolean {
  if (split.endpoints !== all) return false;
  for (let i = 0; i < all.length; i++) {
    const rt = providers.get(all[i]!.provider.slug);
    if (rt !== split.runtimes[i] || (rt?.enabled === true) !== split.enabled[i]) return false;
  }
  return true;
}

function meets(stats: Percentiles | null, limits: Partial<Percentiles>, higherIsBetter: boolean, scale = 1): boolean {
  if (!stats) return true; // no data yet: do not penalise
  return (Object.keys(limits) as (keyof Percentiles)[]).every((k) => {
    const limit = limits[k]! * scale;
    return higherIsBetter ? stats[k] >= limit : stats[k] <= limit;
  });
}

/** Attempt order within a set of candidates (one model, or all models with partition "none"). */
function order(ctx: RouteContext, items: Candidate[], prefs: RoutingPrefs, sort: SortBy | null): Candidate[] {
  const degraded = (c: Candidate) => ctx.health.isDegraded(healthKey(c.endpoint));
  const healthy = items.filter((c) => !degraded(c));
  const failing = items.filter(degraded).sort((a, b) => unitPrice(a.endpoint) - unitPrice(b.endpoint));

  let ranked: Candidate[];
  if (sort === 'price') {
    ranked = [...healthy].sort((a, b) => unitPrice(a.endpoint) - unitPrice(b.endpoint));
  } else if (sort === 'latency' || sort === 'throughput') {
    const metric = (c: Candidate) => {
      const s = ctx.health.stats(healthKey(c.endpoint));
      if (sort === 'latency') return s.latency30m?.p50 ?? Number.POSITIVE_INFINITY;
      return -(s.throughput30m?.p50 ?? 0);
    };
    ranked = [...healthy].sort((a, b) => metric(a) - metric(b) || unitPrice(a.endpoint) - unitPrice(b.endpoint));
  } else {
    ranked = inverseSquareShuffle(healthy, ctx.rng);
  }

  // preferred_* thresholds deprioritise, never exclude (docs/COMPATIBILITY.md#sorting-and-thresholds). Latency limits are seconds.
  if (prefs.preferredMinThroughput || prefs.preferredMaxLatency) {
    const good = (c: Candidate) => {
      const s = ctx.health.stats(healthKey(c.endpoint));
      return (
        (!prefs.preferredMinThroughput || meets(s.throughput30m, prefs.preferredMinThroughput, true)) &&
        (!prefs.preferredMaxLatency || meets(s.latency30m, prefs.preferredMaxLatency, false, 1000))
      );
    };
    ranked = ranked.filter(good).concat(ranked.filter((c) => !good(c)));
  }
  return ranked.concat(failing);
}

/** What must fit one endpoint's context: the conversation, or an embeddings request's longest input (each is embedded alone). */
function contextChars(req: GenerationRequest): number {
  return req.embedding ? longestInputChars(req.embedding.input) : req.promptChars;
}

export function isEmbeddingModel(model: ModelEntry): boolean {
  return model.output_modalities?.includes('embeddings') === true;
}

/** Embedding models answer only embeddings requests, and embeddings requests go only to them. */
function checkModelKind(model: ModelEntry, id: string, req: GenerationRequest): void {
  const embeds = isEmbeddingModel(model);
  if (req.embedding && !embeds) {
    throw new ApiError(400, `${id} is not an embedding model: POST /embeddings serves models whose output_modalities include "embeddings" (GET /embeddings/models lists them)`, { error_type: 'invalid_request' });
  }
  if (!req.embedding && embeds) {
    throw new ApiError(400, `${id} is an embedding model: send it to POST /embeddings, not a chat or text endpoint`, { error_type: 'invalid_request' });
  }
}

/**
 * The attempt plan for a request: every model (`model`, then `models`) filtered and ordered.
 * Invalid model ids fail up front (400); a model whose filters leave nothing is skipped when a
 * later model can serve, otherwise its error is the answer.
 */
export function planRoute(ctx: RouteContext, req: GenerationRequest, promptChars = contextChars(req)): RoutePlan {
  const prefs = routingPrefs(req);
  const ids = [...new Set([req.model, ...req.models].filter((m): m is string => typeof m === 'string'))];
  const models: { model: ModelEntry; requestedId: string; sort: SortBy | null }[] = [];
  for (const id of ids) {
    const { base, sort } = splitVariant(id);
    // Catalog ids, aliases (Anthropic's own ids) and loose spellings (dots or dashes) all resolve.
    const model = ctx.catalog.resolve(base);
    if (!model) throw new ApiError(400, `${id} is not a valid model ID`, { error_type: 'invalid_request' });
    checkModelKind(model, id, req);
    models.push({ model, requestedId: base, sort: prefs.sort ?? sort ?? null });
  }

  const considered: Consideration[] = [];
  const notes: string[] = [];
  let perModel: Candidate[][] = [];
  const shortfalls: (ContextShortfall | null)[] = [];
  let firstError: ApiError | null = null;
  for (const m of models) {
    try {
      perModel.push(eligible(ctx, m.model, req, prefs, considered, promptChars).map((endpoint) => ({ endpoint, requestedId: m.requestedId })));
      shortfalls.push(null);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      firstError ??= err;
      perModel.push([]);
      shortfalls.push(err instanceof ContextShortfall ? err : null);
    }
  }
  if (perModel.every((c) => c.length === 0)) {
    const fallback = largestContextFallback(models, shortfalls, promptChars);
    if (!fallback) throw firstError ?? new ApiError(404, `No endpoints found for ${ids.join(', ')}.`);
    perModel = fallback.perModel;
    notes.push(fallback.note);
  }

  let candidates: Candidate[];
  const sorted = models.some((m) => m.sort !== null);
  if (prefs.partition === 'none' && sorted && models.length > 1) {
    candidates = order(ctx, perModel.flat(), prefs, models[0].sort ?? prefs.sort);
  } else {
    candidates = perModel.flatMap((items, i) => order(ctx, items, prefs, models[i].sort));
  }

  if (prefs.order) {
    // An explicit order comes first and switches load balancing off (docs/COMPATIBILITY.md#provider-preferences).
    const first: Candidate[] = [];
    for (const name of prefs.order) for (const c of candidates) if (matchesProvider(c.endpoint, name) && !first.includes(c)) first.push(c);
    if (!prefs.allowFallbacks) {
      if (first.length === 0) throw new ApiError(404, `No endpoints found matching provider.order (${prefs.order.join(', ')}) and allow_fallbacks is false.`);
      candidates = first;
    } else {
      candidates = first.concat(candidates.filter((c) => !first.includes(c)));
    }
  } else if (!prefs.allowFallbacks) {
    candidates = candidates.slice(0, 1);
  }
  return { candidates, considered, notes };
}

/**
 * OpenRouter's rule when compression is on and no endpoint has half the context the request
 * needs: the largest context serves, its prompt compressed to fit. Across a `models` list the
 * largest context of all of them wins (a model that qualifies outright is preferred before this
 * is reached); endpoints of that same size stay, in their models' order, for provider fallback.
 * Null when no endpoint would compress (the context-length 400 stands).
 */
function largestContextFallback(models: { requestedId: string }[], shortfalls: (ContextShortfall | null)[], promptChars: number): { perModel: Candidate[][]; note: string } | null {
  let largest = 0;
  for (const s of shortfalls) for (const { endpoint } of s?.compressing ?? []) largest = Math.max(largest, endpoint.contextLength!);
  if (largest === 0) return null;
  const chosen: string[] = [];
  const perModel = models.map((m, i) => {
    const out: Candidate[] = [];
    for (const { endpoint, consideration } of shortfalls[i]?.compressing ?? []) {
      if (endpoint.contextLength === largest) {
        consideration.skipped = undefined; // a candidate after all
        out.push({ endpoint, requestedId: m.requestedId });
        chosen.push(`${endpoint.model.id}:${endpoint.key}`);
      } else {
        consideration.skipped = `context length ${endpoint.contextLength} below the largest (${largest}), which the context-compression fallback takes`;
      }
    }
    return out;
  });
  const note = `context-compression fallback: no endpoint has even half the context this request needs (~${Math.ceil(promptChars / 4)} prompt tokens), so the largest context, ${largest} tokens, serves (${chosen.join(', ')}) with the prompt compressed to fit`;
  return { perModel, note };
}
