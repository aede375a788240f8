import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstError } from '../core/validation.js';
import { yaml } from '../core/yaml.js';
import { validateCatalogModel, validateCatalogProvider } from '../validation/compiled.js';
import type { Endpoint, EndpointEntry, ModelEntry, PriceTable, ProviderEntry } from './types.js';

/** The embedded catalog ships next to the code: <package>/catalog/. */
export const EMBEDDED_CATALOG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'catalog');

export interface CatalogSource {
  providers?: unknown[];
  models?: unknown[];
}

export function readCatalogFile(path: string): CatalogSource {
  return parseCatalogText(readFileSync(path, 'utf8'));
}

function parseCatalogText(text: string): CatalogSource {
  return (yaml().parse(text) as CatalogSource | null) ?? {};
}

export type CatalogSources = { source: CatalogSource; origin: string }[];

/**
 * The embedded catalog parsed once at build time (scripts/generate.ts), so that start-up reads
 * JSON instead of loading a YAML parser. Used only while its fingerprint matches the YAML files.
 */
export const EMBEDDED_SNAPSHOT_FILE = 'embedded.snapshot.json';

interface CatalogSnapshot {
  fingerprint: string;
  sources: CatalogSources;
}

/**
 * Every `catalog/*.yaml`: providers.yaml and models.yaml first, then the others in name order
 * (e.g. one file per provider family), so a family file can extend or correct the main lists.
 */
function embeddedFiles(dir: string): { file: string; text: string }[] {
  if (!existsSync(dir)) return [];
  const rank = (f: string) => (f === 'providers.yaml' ? 0 : f === 'models.yaml' ? 1 : 2);
  return (
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      // Code-point order, not localeCompare: collation would map ICU's collation data (2.7 MiB of
      // RSS in every process) to sort a handful of ASCII file names.
      .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
      .map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }))
  );
}

function fingerprint(files: { file: string; text: string }[]): string {
  const hash = createHash('sha256');
  for (const { file, text } of files) hash.update(`${file}\0${text.length}\0`).update(text);
  return hash.digest('hex');
}

/** The embedded catalog's sources: from the snapshot when it is current, else parsed from YAML. */
export function loadEmbeddedSources(dir = EMBEDDED_CATALOG_DIR): CatalogSources {
  const files = embeddedFiles(dir);
  const snapshotPath = join(dir, EMBEDDED_SNAPSHOT_FILE);
  if (files.length > 0 && existsSync(snapshotPath)) {
    try {
      const snapshot = JSON.parse(readFileSync(snapshotPath, 'utf8')) as CatalogSnapshot;
      if (snapshot.fingerprint === fingerprint(files)) return snapshot.sources;
    } catch {
      // A damaged snapshot is only a lost shortcut: the YAML below is the source of truth.
    }
  }
  return parseFiles(files);
}

function parseFiles(files: { file: string; text: string }[]): CatalogSources {
  return files.map(({ file, text }) => ({ source: parseCatalogText(text), origin: `catalog/${file}` }));
}

/** The snapshot of the YAML files as they are now (written by scripts/generate.ts). */
export function embeddedSnapshot(dir = EMBEDDED_CATALOG_DIR): string {
  const files = embeddedFiles(dir);
  const snapshot: CatalogSnapshot = { fingerprint: fingerprint(files), sources: parseFiles(files) };
  return `${JSON.stringify(snapshot)}\n`;
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
        if (!validateCatalogProvider(p)) throw new Error(`${origin}: ${firstError(validateCatalogProvider, `providers[${i}]`)}`);
        const entry = p as ProviderEntry;
        cat.providers.set(entry.slug, entry);
      });
      (source.models ?? []).forEach((m, i) => {
        if (!validateCatalogModel(m)) throw new Error(`${origin}: ${firstError(validateCatalogModel, `models[${i}]`)}`);
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
