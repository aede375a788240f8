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
    cat.indexNames();
    return cat;
  }

  /** Alias → model (catalog `aliases`, unique). */
  private readonly aliases = new Map<string, ModelEntry>();
  /** Normalised name (modelKey) → model, or null when two models share it (then it names neither). */
  private readonly keys = new Map<string, ModelEntry | null>();

  private indexNames(): void {
    for (const model of this.models.values()) {
      for (const alias of model.aliases ?? []) {
        if (alias === model.id) continue;
        if (this.models.has(alias)) throw new Error(`catalog: alias "${alias}" of ${model.id} is the id of another model`);
        const other = this.aliases.get(alias);
        if (other && other !== model) throw new Error(`catalog: duplicate alias "${alias}" (models ${other.id} and ${model.id})`);
        this.aliases.set(alias, model);
      }
    }
    const add = (name: string, model: ModelEntry) => {
      const key = modelKey(name);
      const known = this.keys.get(key);
      if (known === undefined) this.keys.set(key, model);
      else if (known !== model) this.keys.set(key, null);
    };
    for (const model of this.models.values()) {
      const slash = model.id.indexOf('/');
      const vendor = model.id.slice(0, slash);
      add(model.id, model);
      add(model.id.slice(slash + 1), model);
      if (model.canonical_slug) add(model.canonical_slug, model);
      for (const alias of model.aliases ?? []) {
        add(alias, model);
        if (!alias.includes('/')) add(`${vendor}/${alias}`, model);
      }
    }
  }

  /**
   * The model a client's id names (variant suffixes such as `:nitro` already removed), in order:
   * a catalog id; an alias (`claude-sonnet-4-5-20250929`); then, compared case-insensitively with
   * version dashes read as dots (modelKey: `claude-sonnet-4-5` = `claude-sonnet-4.5`), a catalog id
   * with or without its vendor prefix, a canonical slug, or an alias with or without the model's
   * vendor prefix (`anthropic/claude-sonnet-4-0`). A name two models share names neither.
   */
  resolve(id: string): ModelEntry | undefined {
    return this.models.get(id) ?? this.aliases.get(id) ?? this.keys.get(modelKey(id)) ?? undefined;
  }

  /**
   * Deployments of a provider whose upstream ids are the operator's own names (Azure deployments):
   * `deployments` maps each name to a model id (or alias). Each model named gets one endpoint of
   * the provider per deployment (the first tagged with the provider's slug, the others
   * `<slug>/<deployment>`), replacing the catalog's endpoints of that provider for the model; an
   * endpoint the catalog lacks copies prices and limits from the model's other endpoints. Called
   * once at load, before any endpoint is resolved.
   */
  bindDeployments(slug: string, deployments: Readonly<Record<string, string>>): void {
    const byModel = new Map<ModelEntry, string[]>();
    for (const [deployment, id] of Object.entries(deployments)) {
      const model = this.resolve(id);
      if (!model) throw new Error(`providers.${slug}.deployments.${deployment}: unknown model ${id}`);
      byModel.set(model, [...(byModel.get(model) ?? []), deployment]);
    }
    for (const [model, names] of byModel) {
      const own = model.endpoints.filter((ep) => ep.provider === slug);
      const template = own[0] ?? model.endpoints.find((ep) => ep.provider === 'openai') ?? model.endpoints[0];
      if (!template) throw new Error(`providers.${slug}.deployments: model ${model.id} has no endpoint to take prices from`);
      const bound = names.map((name, i): EndpointEntry => {
        const { tag: _tag, ...rest } = template;
        return { ...rest, provider: slug, upstream_model: name, ...(i === 0 ? {} : { tag: `${slug}/${name}` }) };
      });
      model.endpoints = [...model.endpoints.filter((ep) => ep.provider !== slug), ...bound];
    }
  }

  /**
   * The operator's choice of protocol for every endpoint of a provider (`providers.<slug>.protocol`,
   * e.g. `azure-responses`): it replaces the provider's and each endpoint's own. Called once at
   * load, before any endpoint is resolved.
   */
  overrideProtocol(slug: string, protocol: string): void {
    const provider = this.providers.get(slug);
    if (!provider) return;
    provider.protocol = protocol;
    for (const model of this.models.values()) {
      for (const ep of model.endpoints) if (ep.provider === slug) delete ep.protocol;
    }
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

/**
 * A model name compared loosely: lower case, and a dash between two small version numbers read as a
 * dot (`claude-sonnet-4-5` → `claude-sonnet-4.5`, `claude-3-7-sonnet` → `claude-3.7-sonnet`,
 * `deepseek-chat-v3-1` → `deepseek-chat-v3.1`). Dates stay apart (`claude-sonnet-4-20250514`).
 */
export function modelKey(name: string): string {
  return name.toLowerCase().replace(/(?<=(?:^|[^0-9a-z])v?)(\d{1,2})-(?=\d{1,2}(?![0-9a-z]))/g, '$1.');
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
    webSearch: num(p.web_search, 0),
    webSearchPerRequest: p.web_search_unit === 'request',
    discount: p.discount ?? 0,
  };
}

function toEndpoint(model: ModelEntry, ep: EndpointEntry, provider: ProviderEntry): Endpoint {
  const tag = ep.tag ?? provider.slug;
  const protocol = ep.protocol ?? provider.protocol;
  return {
    key: tag,
    model,
    provider,
    tag,
    upstreamModel: ep.upstream_model,
    protocol,
    protocols: [...new Set([protocol, ...(provider.extra_protocols ?? [])])],
    pricing: ep.pricing,
    price: priceTable(ep),
    contextLength: ep.context_length ?? model.context_length ?? null,
    maxCompletionTokens: ep.max_completion_tokens ?? null,
    quantization: ep.quantization ?? 'unknown',
    supportedParameters: new Set(ep.supported_parameters ?? []),
  };
}
