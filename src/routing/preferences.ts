import { ApiError } from '../core/errors.js';
import type { GenerationRequest } from '../model/request.js';
import type { Percentiles } from './health.js';

export type SortBy = 'price' | 'throughput' | 'latency';

/** The request's routing wishes, normalised once (docs/COMPATIBILITY.md#provider-routing, docs/COMPATIBILITY.md#fallback-models). */
export interface RoutingPrefs {
  order: string[] | null;
  only: string[] | null;
  ignore: string[] | null;
  allowFallbacks: boolean;
  requireParameters: boolean;
  dataCollection: 'allow' | 'deny';
  zdr: boolean;
  quantizations: string[] | null;
  sort: SortBy | null;
  partition: 'model' | 'none';
  preferredMinThroughput: Partial<Percentiles> | null; // tokens/s
  preferredMaxLatency: Partial<Percentiles> | null; // seconds
  maxPrice: { prompt?: number; completion?: number; request?: number; image?: number } | null; // USD per M tokens / per unit
}

const SORTS = new Set(['price', 'throughput', 'latency', 'exacto']);

function list(v: unknown): string[] | null {
  return Array.isArray(v) && v.length > 0 ? v.map(String) : null;
}

function thresholds(v: unknown, field: string): Partial<Percentiles> | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return { p50: v };
  if (typeof v === 'object' && !Array.isArray(v)) {
    const out: Partial<Percentiles> = {};
    for (const [k, n] of Object.entries(v as Record<string, unknown>)) {
      if (!['p50', 'p75', 'p90', 'p99'].includes(k) || typeof n !== 'number') throw new ApiError(400, `provider.${field}.${k} must be a number for p50, p75, p90 or p99`);
      out[k as keyof Percentiles] = n;
    }
    return out;
  }
  throw new ApiError(400, `provider.${field} must be a number or an object of percentiles`);
}

function price(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new ApiError(400, `provider.max_price.${field} must be a non-negative number`);
  return n;
}

export function routingPrefs(req: GenerationRequest): RoutingPrefs {
  const p = (req.provider ?? {}) as Record<string, unknown>;
  let sort: SortBy | null = null;
  let partition: 'model' | 'none' = req.route === 'sort' ? 'none' : 'model';
  const s = p.sort;
  if (typeof s === 'string') {
    if (!SORTS.has(s)) throw new ApiError(400, `provider.sort must be one of price, throughput, latency, exacto`);
    sort = s === 'exacto' ? null : (s as SortBy);
  } else if (s && typeof s === 'object') {
    const by = (s as { by?: unknown }).by;
    const part = (s as { partition?: unknown }).partition;
    if (by != null) {
      if (typeof by !== 'string' || !SORTS.has(by)) throw new ApiError(400, 'provider.sort.by must be one of price, throughput, latency, exacto');
      sort = by === 'exacto' ? null : (by as SortBy);
    }
    if (part != null) {
      if (part !== 'model' && part !== 'none') throw new ApiError(400, 'provider.sort.partition must be "model" or "none"');
      partition = part;
    }
  }
  const mp = p.max_price as Record<string, unknown> | undefined | null;
  return {
    order: list(p.order),
    only: list(p.only),
    ignore: list(p.ignore),
    allowFallbacks: p.allow_fallbacks !== false,
    requireParameters: p.require_parameters === true,
    dataCollection: p.data_collection === 'deny' ? 'deny' : 'allow',
    zdr: p.zdr === true,
    quantizations: list(p.quantizations)?.map((q) => q.toLowerCase()) ?? null,
    sort,
    partition,
    preferredMinThroughput: thresholds(p.preferred_min_throughput, 'preferred_min_throughput'),
    preferredMaxLatency: thresholds(p.preferred_max_latency, 'preferred_max_latency'),
    maxPrice: mp
      ? { prompt: price(mp.prompt, 'prompt'), completion: price(mp.completion, 'completion'), request: price(mp.request, 'request'), image: price(mp.image, 'image') }
      : null,
  };
}
