import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { Type } from '@sinclair/typebox';
import { ajv, firstError } from '../core/validation.js';
import type { Endpoint, EndpointEntry, ModelEntry, PriceTable, ProviderEntry } from './types.js';

/** The embedded catalog ships next to the code: <package>/catalog/. */
export const EMBEDDED_CATALOG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'catalog');

const PriceString = Type.String({ pattern: '^(0|[0-9]+(\\.[0-9]+)?([eE]-?[0-9]+)?)$' });

const ProviderSchema = Type.Object({
  slug: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$' }),
  name: Type.String({ minLength: 1 }),
  protocol: Type.String({ minLength: 1 }),
  base_url: Type.String({ pattern: '^https?://' }),
  requires_key: Type.Optional(Type.Boolean()),
  data_collection: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny')])),
  zdr: Type.Optional(Type.Boolean()),
  privacy_policy_url: Type.Optional(Type.String()),
  terms_of_service_url: Type.Optional(Type.String()),
  status_page_url: Type.Optional(Type.String()),
  headquarters: Type.Optional(Type.String()),
});

const EndpointSchema = Type.Object({
  provider: Type.String({ minLength: 1 }),
  tag: Type.Optional(Type.String({ minLength: 1 })),
  upstream_model: Type.String({ minLength: 1 }),
  pricing: Type.Object({
    prompt: PriceString,
    completion: PriceString,
    request: Type.Optional(PriceString),
    image: Type.Optional(PriceString),
    input_cache_read: Type.Optional(PriceString),
    input_cache_write: Type.Optional(PriceString),
    internal_reasoning: Type.Optional(PriceString),
    discount: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  }),
  context_length: Type.Optional(Type.Integer({ minimum: 1 })),
  max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  quantization: Type.Optional(Type.String()),
  supported_parameters: Type.Optional(Type.Array(Type.String())),
});

const ModelSchema = Type.Object({
  id: Type.String({ pattern: '^[^\\s/]+/[^\\s]+$' }),
  canonical_slug: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  created: Type.Optional(Type.Integer()),
  description: Type.Optional(Type.String()),
  context_length: Type.Optional(Type.Integer({ minimum: 1 })),
  input_modalities: Type.Optional(Type.Array(Type.String())),
  output_modalities: Type.Optional(Type.Array(Type.String())),
  reasoning: Type.Optional(Type.Boolean()),
  endpoints: Type.Array(EndpointSchema),
});

const validateProvider = ajv.compile(ProviderSchema);
const validateModel = ajv.compile(ModelSchema);

export interface CatalogSource {
  providers?: unknown[];
  models?: unknown[];
}

export function readCatalogFile(path: string): CatalogSource {
  const doc = parseYaml(readFileSync(path, 'utf8')) as CatalogSource | null;
  return doc ?? {};
}

/**
 * Every `catalog/*.yaml`: providers.yaml and models.yaml first, then the others in name order
 * (e.g. one file per provider family), so a family file can extend or correct the main lists.
 */
export function loadEmbeddedSources(dir = EMBEDDED_CATALOG_DIR): { source: CatalogSource; origin: string }[] {
  if (!existsSync(dir)) return [];
  const rank = (f: string) => (f === 'providers.yaml' ? 0 : f === 'models.yaml' ? 1 : 2);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    // Code-point order, not localeCompare: collation would map ICU's collation data (2.7 MiB of
    // RSS in every process) to sort a handful of ASCII file names.
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return files.map((file) => ({ source: readCatalogFile(join(dir, file)), origin: `catalog/${file}` }));
}

/**
 * The merged, validated catalog. Later sources override earlier ones: a provider by slug, a model by
 * id (its endpoint list replaced as a whole), so user config can add or correct entries.
 */
export class Catalog {
  readonly providers = new Map<string, ProviderEntry>();
  readonly models = new Map<string, ModelEntry>();

  static from(sources: { source: CatalogSource; origin: string }[]): Catalog {
    const cat = new Catalog();
    for (const { source, origin } of sources) {
      (source.providers ?? []).forEach((p, i) => {
        if (!validateProvider(p)) throw new Error(`${origin}: ${firstError(validateProvider, `providers[${i}]`)}`);
        const entry = p as ProviderEntry;
        cat.providers.set(entry.slug, entry);
      });
      (source.models ?? []).forEach((m, i) => {
        if (!validateModel(m)) throw new Error(`${origin}: ${firstError(validateModel, `models[${i}]`)}`);
        const entry = m as ModelEntry;
        cat.models.set(entry.id, entry);
      });
    }
    for (const model of cat.models.values()) {
      for (const ep of model.endpoints) {
        if (!cat.providers.has(ep.provider)) {
          throw new Error(`catalog: model ${model.id} names unknown provider "${ep.provider}"`);
        }
      }
    }
    return cat;
  }

  private readonly resolved = new WeakMap<ModelEntry, readonly Endpoint[]>();

  /** Every endpoint of a model, resolved against its provider once (the catalog never changes after load). */
  endpointsOf(model: ModelEntry): readonly Endpoint[] {
    let eps = this.resolved.get(model);
    if (!eps) {
      eps = Object.freeze(model.endpoints.map((ep) => toEndpoint(model, ep, this.providers.get(ep.provider)!)));
      this.resolved.set(model, eps);
    }
    return eps;
  }
}

function num(v: string | undefined, fallback: number): number {
  return v === undefined ? fallback : Number(v);
}

export function priceTable(ep: EndpointEntry): PriceTable {
  const p = ep.pricing;
  const prompt = num(p.prompt, 0);
  return {
    prompt,
    completion: num(p.completion, 0),
    request: num(p.request, 0),
    cacheRead: num(p.input_cache_read, prompt),
    cacheWrite: num(p.input_cache_write, prompt),
    reasoning: p.internal_reasoning === undefined ? null : Number(p.internal_reasoning),
    discount: p.discount ?? 0,
  };
}

function toEndpoint(model: ModelEntry, ep: EndpointEntry, provider: ProviderEntry): Endpoint {
  const tag = ep.tag ?? provider.slug;
  return {
    key: tag,
    model,
    provider,
    tag,
    upstreamModel: ep.upstream_model,
    pricing: ep.pricing,
    price: priceTable(ep),
    contextLength: ep.context_length ?? model.context_length ?? null,
    maxCompletionTokens: ep.max_completion_tokens ?? null,
    quantization: ep.quantization ?? 'unknown',
    supportedParameters: new Set(ep.supported_parameters ?? []),
  };
}
