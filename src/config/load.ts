import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { yaml } from '../core/yaml.js';
import { firstError } from '../core/validation.js';
import { validateConfig } from '../validation/compiled.js';
import { Catalog, loadEmbeddedSources, readCatalogFile } from '../catalog/load.js';
import type { ProviderEntry } from '../catalog/types.js';
import type { ConfigFile } from './schema.js';
import { demoReplaySources, type Pace, type ReplaySource } from '../upstream/replay/store.js';
import { KeyPool, parseKeys, type Credential, type ProviderKey } from '../upstream/key-pool.js';
import { GoogleTokenSource, parseServiceAccount } from '../upstream/google-auth.js';
import { AwsCredentialsError, awsRegion, bedrockKeysFromEnv } from '../upstream/aws-auth.js';
import { DEFAULT_AUTHORITY_HOST, EntraTokenSource } from '../upstream/entra-auth.js';
import { parseInterval, type RateLimitSpec } from '../state/rate-limit.js';
import { tracingSettings, type TracingSettings } from '../observability/tracing-config.js';
import { interpolateDocument, maskExpansions, type Expansion } from './interpolate.js';
import { createHash } from 'node:crypto';
import { pluginSettings, type PluginSettings } from '../plugins/settings.js';

/** Cassettes bundled for `--demo`: the seed conversations (see demo/cassettes/NOTICE.md). */
export const DEMO_CASSETTES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'demo', 'cassettes');

export type WireEra = '2026' | '2025';

export interface Timeouts {
  connectMs: number;
  firstByteMs: number; // until upstream response headers
  idleMs: number; // between body chunks
}

export interface ProviderRuntime {
  entry: ProviderEntry;
  enabled: boolean;
  /** The first key's secret: what a request built without a pool key uses (upstream/key-pool.ts). */
  apiKey: string | undefined;
  /** Every credential of the provider; each attempt takes one (pipeline/attempt.ts). */
  keys: KeyPool;
  /** Azure's deployments API version (`providers.azure.api_version`). */
  apiVersion?: string;
  /** Whether `<SLUG>_BASE_URL` / `base_url` replaced the catalog's (Vertex derives its host from the location otherwise). */
  baseUrlOverridden?: boolean;
  /** Google Cloud project and location (Vertex AI). */
  project?: string;
  location?: string;
  /** AWS region (Amazon Bedrock): where requests go and what they are signed for, unless the key names its own. */
  region?: string;
  /** Turns a pool key into what a request carries (Vertex: a service account's access token), before the adapter builds the request. */
  resolveCredential?: (credential: Credential) => Promise<Credential>;
  baseUrl: string;
  headers: Record<string, string>;
  timeouts: Timeouts;
  replay?: ReplaySource;
}

export interface ApiKey {
  key: string;
  label: string;
}

export interface Settings {
  host: string;
  port: number;
  /** Processes serving the port (`--workers`, SWITCHYARD_WORKERS, server.workers); 1: a single process, no cluster. */
  workers: number;
  bodyLimitBytes: number;
  keepaliveMs: number;
  drainTimeoutMs: number;
  apiPrefixes: string[];
  /** Bounds on a client: its request headers, its request body (not the response), an idle keep-alive connection. */
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
  /** Open connections per process. */
  maxConnections: number;
  dataDir: string;
  flushIntervalMs: number;
  /**
   * SQLite: how many pages the write-ahead log grows by before it is copied back into the database
   * with the fsyncs off the event loop (storage/wal-checkpoints.ts); 0: SQLite's own checkpoints,
   * inside commits.
   */
  checkpointPages: number;
  /** postgres://… (DATABASE_URL / storage.database_url); null: SQLite under dataDir. */
  databaseUrl: string | null;
  /** PostgreSQL: opening a connection, and one statement (statement_timeout and the client's own wait). */
  pgConnectTimeoutMs: number;
  pgQueryTimeoutMs: number;
  /** Generation records held in memory while the database cannot take them; past it, inference is refused (503). */
  maxQueuedRecords: number;
  /** redis://… (REDIS_URL / redis.url); null: rate limits and invalidations stay in this process. */
  redisUrl: string | null;
  redisPrefix: string;
  redisConnectTimeoutMs: number;
  /** One Redis command; past it the request goes on without Redis (rate limits counted in this process). */
  redisCommandTimeoutMs: number;
  reservationTtlMs: number;
  /** How long stored Responses API answers are kept (SWITCHYARD_RESPONSES_RETENTION / responses.retention). */
  responsesTtlMs: number;
  keyCacheTtlMs: number;
  defaultRateLimit: RateLimitSpec | null;
  apiKeys: ApiKey[];
  /** SHA-256 of SWITCHYARD_ADMIN_KEY, a management key from the environment; the key itself is not kept. */
  adminKeyDigest: Buffer | null;
  wireEra: WireEra;
  failureWindowMs: number;
  maxModels: number;
  logLevel: string;
  /** One info line per finished request (log.access). */
  accessLog: boolean;
  /** GET /metrics (metrics.enabled); `public`: readable without a management key (metrics.public, SWITCHYARD_METRICS_PUBLIC). */
  metrics: { enabled: boolean; public: boolean };
  /** OpenTelemetry trace export from the standard OTEL_* variables; null: off (an empty url: off, its warnings say why). */
  tracing: TracingSettings | null;
  catalog: Catalog;
  providers: Map<string, ProviderRuntime>;
  configFile: string | null;
  recordDir: string | null;
  replay: { pace: Pace; ignoreFields: string[]; secretHeaders: string[] };
  demo: boolean;
  /** What these settings were loaded with: a reload loads again from the same (config/reload.ts). */
  source: LoadOptions;
  /** The services behind OpenRouter's plugins (Exa, Mistral OCR, moderation). */
  plugins: PluginSettings;
}

export class ConfigError extends Error {}

/** Stored responses are kept 30 days unless configured otherwise. */
function responsesRetention(v: string | number | undefined): number {
  if (v === undefined) return 30 * 86_400_000;
  const ms = parseInterval(typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);
  if (ms === null) throw new ConfigError(`responses.retention must be an interval such as 1h or 30d (or milliseconds), got "${v}"`);
  return ms;
}

const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 10_000, firstByteMs: 60_000, idleMs: 60_000 };

/** `moonshotai` -> `MOONSHOTAI`, `z-ai` -> `Z_AI`: the env-var stem for a provider slug. */
export function envStem(slug: string): string {
  return slug.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * Vertex AI's keys: service-account key files (GOOGLE_APPLICATION_CREDENTIALS or
 * `providers.<slug>.credentials`; comma-separated for several accounts), each file's JSON the
 * pool key's secret, exchanged for an access token per request (upstream/google-auth.ts).
 */
function serviceAccountKeys(paths: string | undefined, cwd: string): ProviderKey[] {
  if (!paths) return [];
  return paths
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p, i) => {
      const file = resolve(cwd, p);
      if (!existsSync(file)) throw new ConfigError(`GOOGLE_APPLICATION_CREDENTIALS: file not found: ${file}`);
      const text = readFileSync(file, 'utf8');
      try {
        parseServiceAccount(text, file);
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
      return { secret: text, label: `key-${i + 1}`, weight: 1 };
    });
}

/** Project (GOOGLE_CLOUD_PROJECT, config, else the first key file's), location (GOOGLE_CLOUD_LOCATION, config, else global) and the token source. */
function vertexSettings(env: NodeJS.ProcessEnv, conf: { project?: string; location?: string }, keys: ProviderKey[]): Partial<ProviderRuntime> {
  const fromFile = keys[0] ? (JSON.parse(keys[0].secret) as { project_id?: string }).project_id : undefined;
  const tokens = new GoogleTokenSource();
  return {
    project: env.GOOGLE_CLOUD_PROJECT || conf.project || fromFile,
    location: env.GOOGLE_CLOUD_LOCATION || conf.location || 'global',
    resolveCredential: (c) => tokens.resolve(c),
  };
}

/**
 * Amazon Bedrock's keys: AWS credentials or Bedrock API keys from the environment
 * (upstream/aws-auth.ts), else `AMAZON_BEDROCK_API_KEY` or the configured keys (each an API key,
 * or `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`).
 */
function bedrockKeys(env: NodeJS.ProcessEnv, conf: { keys?: { key: string; label?: string; weight?: number; region?: string }[]; api_key?: string; region?: string }): ProviderKey[] {
  let fromEnv: ProviderKey[];
  try {
    // A region set for the whole provider wins over the profiles' own, as AWS_REGION does in AWS's SDKs.
    fromEnv = bedrockKeysFromEnv(env, Boolean(env.AWS_REGION || env.AWS_DEFAULT_REGION || conf.region));
  } catch (err) {
    if (err instanceof AwsCredentialsError) throw new ConfigError(err.message);
    throw err;
  }
  return fromEnv.length > 0 ? fromEnv : parseKeys(env.AMAZON_BEDROCK_API_KEY || undefined, conf.keys, conf.api_key);
}

/**
 * Azure authenticated as a Microsoft Entra ID app, when it has no key and AZURE_TENANT_ID,
 * AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are set: the client secret is the pool's one credential,
 * exchanged for an access token (cached, sent as a bearer token) before each attempt.
 * AZURE_AUTHORITY_HOST replaces Microsoft's public-cloud login host (sovereign clouds, tests).
 */
function entraSettings(env: NodeJS.ProcessEnv): { keys: ProviderKey[]; resolveCredential: ProviderRuntime['resolveCredential'] } | null {
  const tenantId = env.AZURE_TENANT_ID;
  const clientId = env.AZURE_CLIENT_ID;
  const clientSecret = env.AZURE_CLIENT_SECRET;
  if (!tenantId || !clientId || !clientSecret) return null;
  const tokens = new EntraTokenSource({ tenantId, clientId, authorityHost: env.AZURE_AUTHORITY_HOST || DEFAULT_AUTHORITY_HOST });
  return { keys: [{ secret: clientSecret, label: 'entra-id', weight: 1 }], resolveCredential: (c) => tokens.resolve(c) };
}

export interface LoadOptions {
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  port?: number;
  host?: string;
  cwd?: string;
  record?: string;
  /** `--workers`: a count, or "auto" / 0 for one per available CPU. */
  workers?: string;
  /** true: serve the bundled demo; 'auto': only when no provider would be enabled otherwise. */
  demo?: boolean | 'auto';
}

export function readConfigFile(path: string, env: NodeJS.ProcessEnv = process.env, expansions: Expansion[] = []): ConfigFile {
  let doc: unknown;
  try {
    const parsed = yaml().parseDocument(readFileSync(path, 'utf8'));
    if (parsed.errors.length > 0) throw parsed.errors[0]!;
    // `${VAR}` references are expanded before validation, so a value from the environment is checked like any other.
    expansions.push(...interpolateDocument(parsed, env));
    doc = parsed.toJS() ?? {};
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}`);
  }
  if (!validateConfig(doc)) throw new ConfigError(`${path}: ${firstError(validateConfig)}`);
  return doc as ConfigFile;
}

/** The key for a provider from the environment: `<SLUG>_API_KEY`, else the provider's own variable names (catalog `key_env`). */
export function providerKeyEnv(env: NodeJS.ProcessEnv, entry: ProviderEntry): string | undefined {
  for (const name of [`${envStem(entry.slug)}_API_KEY`, ...(entry.key_env ?? [])]) if (env[name]) return env[name];
  return undefined;
}

/** A duration (or count) from the environment: a whole number >= min, or undefined when unset. */
function countEnv(env: NodeJS.ProcessEnv, name: string, min = 1): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

/** A switch from the environment: 1/true/yes/on or 0/false/no/off, or undefined when unset. */
function switchEnv(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** The file's `plugins` section with file-parser's environment variables over it. */
function withFileParserEnv(env: NodeJS.ProcessEnv, section: ConfigFile['plugins']): ConfigFile['plugins'] {
  const fromEnv = {
    url_max_bytes: countEnv(env, 'SWITCHYARD_FILE_PARSER_URL_MAX_BYTES'),
    url_timeout_ms: countEnv(env, 'SWITCHYARD_FILE_PARSER_URL_TIMEOUT_MS'),
    allow_private_urls: switchEnv(env, 'SWITCHYARD_FILE_PARSER_ALLOW_PRIVATE_URLS'),
  };
  const set = Object.fromEntries(Object.entries(fromEnv).filter(([, v]) => v !== undefined));
  return Object.keys(set).length === 0 ? section : { ...section, file_parser: { ...section?.file_parser, ...set } };
}

function intEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name} must be a port number, got "${raw}"`);
  return n;
}

export const MAX_WORKERS = 1024;

/** A worker count as written by the operator: a whole number (0 = auto) or "auto"; auto is one per available CPU. */
export function parseWorkers(raw: string | number, source: string): number {
  const text = String(raw).trim().toLowerCase();
  const n = text === 'auto' ? 0 : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_WORKERS) {
    throw new ConfigError(`${source} must be a number of worker processes from 1 to ${MAX_WORKERS}, or 0 or "auto" for one per CPU; got "${String(raw)}"`);
  }
  return n === 0 ? availableParallelism() : n;
}

/**
 * The settings from flags, environment, configuration file and defaults. A refusal is a
 * ConfigError naming the offending field; no value the file took from the environment (`${VAR}`)
 * appears in it.
 */
export function loadSettings(opts: LoadOptions = {}): Settings {
  const expansions: Expansion[] = [];
  try {
    return buildSettings(opts, expansions);
  } catch (err) {
    if (err instanceof ConfigError && expansions.length > 0) throw new ConfigError(maskExpansions(err.message, expansions));
    throw err;
  }
}

function buildSettings(opts: LoadOptions, expansions: Expansion[]): Settings {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let configFile: string | null = opts.configFile ?? env.SWITCHYARD_CONFIG ?? null;
  if (!configFile && existsSync(resolve(cwd, 'switchyard.yaml'))) configFile = 'switchyard.yaml';
  if (configFile) {
    configFile = resolve(cwd, configFile);
    if (!existsSync(configFile)) throw new ConfigError(`config file not found: ${configFile}`);
  }
  const file: ConfigFile = configFile ? readConfigFile(configFile, env, expansions) : {};

  const sources = loadEmbeddedSources();
  for (const extra of file.catalog?.files ?? []) {
    const path = resolve(configFile ? resolve(configFile, '..') : cwd, extra);
    sources.push({ source: readCatalogFile(path), origin: extra });
  }
  if (file.catalog?.providers || file.catalog?.models) {
    sources.push({ source: { providers: file.catalog.providers, models: file.catalog.models }, origin: 'config catalog' });
  }
  let catalog: Catalog;
  try {
    catalog = Catalog.from(sources);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }

  const routingTimeouts: Timeouts = {
    connectMs: file.routing?.timeouts?.connect_ms ?? DEFAULT_TIMEOUTS.connectMs,
    firstByteMs: file.routing?.timeouts?.first_byte_ms ?? DEFAULT_TIMEOUTS.firstByteMs,
    idleMs: file.routing?.timeouts?.idle_ms ?? DEFAULT_TIMEOUTS.idleMs,
  };

  for (const [slug, conf] of Object.entries(file.providers ?? {})) {
    if (!catalog.providers.has(slug)) {
      throw new ConfigError(`providers.${slug}: unknown provider (known: ${[...catalog.providers.keys()].join(', ')})`);
    }
    try {
      if (conf.deployments) catalog.bindDeployments(slug, conf.deployments);
      if (conf.protocol) catalog.overrideProtocol(slug, conf.protocol);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }

  const baseDir = configFile ? resolve(configFile, '..') : cwd;
  const replay = {
    pace: (env.SWITCHYARD_REPLAY_PACE as Pace | undefined) ?? file.replay?.pace ?? 'recorded',
    ignoreFields: file.replay?.ignore_fields ?? [],
    secretHeaders: file.replay?.secret_headers ?? [],
  };
  if (replay.pace !== 'recorded' && replay.pace !== 'fast') throw new ConfigError(`SWITCHYARD_REPLAY_PACE must be recorded or fast, got "${replay.pace}"`);
  const providers = new Map<string, ProviderRuntime>();
  for (const entry of catalog.providers.values()) {
    const conf = file.providers?.[entry.slug] ?? {};
    const stem = envStem(entry.slug);
    if (entry.protocol !== 'bedrock' && conf.keys?.some((k) => k.region !== undefined)) {
      throw new ConfigError(`providers.${entry.slug}.keys: region is for Amazon Bedrock keys only`);
    }
    let keyList =
      entry.protocol === 'vertex'
        ? serviceAccountKeys(env.GOOGLE_APPLICATION_CREDENTIALS || conf.credentials, cwd)
        : entry.protocol === 'bedrock'
          ? bedrockKeys(env, conf)
          : parseKeys(providerKeyEnv(env, entry), conf.keys, conf.api_key);
    const entra = entry.slug === 'azure' && keyList.length === 0 ? entraSettings(env) : null;
    if (entra) keyList = entra.keys;
    const labels = new Set(keyList.map((k) => k.label));
    if (labels.size !== keyList.length) throw new ConfigError(`providers.${entry.slug}.keys: labels must be unique`);
    const apiKey = keyList[0]?.secret;
    const baseUrlOverride = env[`${stem}_BASE_URL`] || conf.base_url;
    const requiresKey = entry.requires_key !== false;
    // A provider is on when it can authenticate; keyless (local) servers only when pointed at explicitly.
    let replaySource: ReplaySource | undefined;
    if (conf.replay) {
      const dir = resolve(baseDir, conf.replay);
      if (!existsSync(dir)) throw new ConfigError(`providers.${entry.slug}.replay: folder not found: ${dir}`);
      replaySource = { dir, options: { pace: replay.pace, ignoreFields: replay.ignoreFields } };
    }
    const enabled = conf.enabled ?? (replaySource ? true : requiresKey ? Boolean(apiKey) : Boolean(baseUrlOverride));
    providers.set(entry.slug, {
      replay: replaySource,
      entry,
      enabled,
      apiKey,
      keys: new KeyPool(keyList),
      apiVersion: conf.api_version,
      baseUrlOverridden: Boolean(baseUrlOverride),
      ...(entry.protocol === 'vertex' ? vertexSettings(env, conf, keyList) : {}),
      ...(entra ? { resolveCredential: entra.resolveCredential } : {}),
      ...(entry.protocol === 'bedrock' ? { region: awsRegion(env, conf.region) } : {}),
      baseUrl: (baseUrlOverride ?? entry.base_url).replace(/\/+$/, ''),
      headers: conf.headers ?? {},
      timeouts: {
        connectMs: conf.timeouts?.connect_ms ?? routingTimeouts.connectMs,
        firstByteMs: conf.timeouts?.first_byte_ms ?? routingTimeouts.firstByteMs,
        idleMs: conf.timeouts?.idle_ms ?? routingTimeouts.idleMs,
      },
    });
  }

  const apiKeys: ApiKey[] = [];
  for (const [i, k] of (file.auth?.keys ?? []).entries()) {
    apiKeys.push(typeof k === 'string' ? { key: k, label: `config key ${i + 1}` } : { key: k.key, label: k.label ?? `config key ${i + 1}` });
  }
  for (const [i, k] of (env.SWITCHYARD_API_KEYS ?? '').split(',').map((s) => s.trim()).filter(Boolean).entries()) {
    apiKeys.push({ key: k, label: `env key ${i + 1}` });
  }

  const adminKey = env.SWITCHYARD_ADMIN_KEY?.trim();
  const adminKeyDigest = adminKey ? createHash('sha256').update(adminKey).digest() : null;

  const eraEnv = env.SWITCHYARD_WIRE_ERA;
  if (eraEnv && eraEnv !== '2025' && eraEnv !== '2026') throw new ConfigError(`SWITCHYARD_WIRE_ERA must be 2025 or 2026, got "${eraEnv}"`);

  // Demo: the seed conversations answer through the replay provider, each from the provider that
  // served it in the recording, so routing, fallback and accounting behave as in production. The
  // match is lenient (upstream/replay/store.ts): the closest recording of the same conversation
  // answers, whatever the other fields, front door or stream mode of the request.
  const anyEnabled = [...providers.values()].some((p) => p.enabled);
  const demo = opts.demo === true || (opts.demo === 'auto' && !anyEnabled && !configFile);
  if (demo) {
    const upstreamModels = (slug: string) => (model: string) => {
      const m = catalog.resolve(model);
      return m ? catalog.endpointsOf(m).filter((ep) => ep.provider.slug === slug).map((ep) => ep.upstreamModel) : [];
    };
    const runtimes = [...providers.values()];
    const sources = demoReplaySources(
      DEMO_CASSETTES_DIR,
      runtimes.map((rt) => ({ name: rt.entry.name, upstreamModels: upstreamModels(rt.entry.slug) })),
      // Usage switches are no-ops (docs/COMPATIBILITY.md#usage-switches), so a hand-written demo request need not repeat them.
      { pace: replay.pace, ignoreFields: [...replay.ignoreFields, 'usage', 'stream_options'] },
    );
    for (const rt of runtimes) {
      const source = sources.get(rt.entry.name);
      if (!source) continue;
      rt.replay = source;
      rt.enabled = true;
    }
  }
  const recordDir = opts.record ?? env.SWITCHYARD_RECORD_DIR ?? file.replay?.record_dir;

  const databaseUrl = env.DATABASE_URL || file.storage?.database_url || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError(`DATABASE_URL must be a postgres:// URL, got "${databaseUrl.replace(/\/\/[^@]*@/, '//…@')}"`);
  const redisUrl = env.REDIS_URL || file.redis?.url || null;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  const ttlEnv = env.SWITCHYARD_RESERVATION_TTL_MS;
  if (ttlEnv !== undefined && ttlEnv !== '' && !(Number.isInteger(Number(ttlEnv)) && Number(ttlEnv) >= 100)) {
    throw new ConfigError(`SWITCHYARD_RESERVATION_TTL_MS must be an integer >= 100, got "${ttlEnv}"`);
  }
  let defaultRateLimit: RateLimitSpec | null = null;
  const rl = file.limits?.rate_limit;
  if (rl && (rl.requests || rl.tokens_per_minute)) {
    const intervalMs = parseInterval(rl.interval ?? '1m');
    if (!intervalMs) throw new ConfigError(`limits.rate_limit.interval: not an interval: ${String(rl.interval)}`);
    defaultRateLimit = { requests: rl.requests ?? null, intervalMs, tokensPerMinute: rl.tokens_per_minute ?? null };
  }

  const workersEnv = env.SWITCHYARD_WORKERS;
  const workers =
    opts.workers !== undefined
      ? parseWorkers(opts.workers, '--workers')
      : workersEnv !== undefined && workersEnv !== ''
        ? parseWorkers(workersEnv, 'SWITCHYARD_WORKERS')
        : file.server?.workers !== undefined
          ? parseWorkers(file.server.workers, `${configFile}: server.workers`)
          : 1;

  const settings = {
    recordDir: recordDir ? resolve(cwd, recordDir) : null,
    replay,
    demo,
    host: opts.host ?? env.HOST ?? file.server?.host ?? '127.0.0.1',
    port: opts.port ?? intEnv(env, 'PORT') ?? file.server?.port ?? 8787,
    workers,
    bodyLimitBytes: file.server?.body_limit_bytes ?? 20 * 1024 * 1024,
    keepaliveMs: file.server?.keepalive_ms ?? 1000,
    drainTimeoutMs: file.server?.drain_timeout_ms ?? 30_000,
    apiPrefixes: file.server?.api_prefixes ?? ['/api/v1', '/v1'],
    headersTimeoutMs: file.server?.headers_timeout_ms ?? 30_000,
    bodyTimeoutMs: file.server?.body_timeout_ms ?? 60_000,
    idleTimeoutMs: file.server?.idle_timeout_ms ?? 65_000,
    maxConnections: file.server?.max_connections ?? 10_000,
    dataDir: resolve(cwd, env.SWITCHYARD_DATA_DIR ?? file.storage?.data_dir ?? 'data'),
    flushIntervalMs: file.storage?.flush_interval_ms ?? 10,
    checkpointPages: file.storage?.checkpoint_pages ?? 256,
    databaseUrl,
    pgConnectTimeoutMs: countEnv(env, 'SWITCHYARD_PG_CONNECT_TIMEOUT_MS') ?? file.storage?.connect_timeout_ms ?? 5000,
    pgQueryTimeoutMs: countEnv(env, 'SWITCHYARD_PG_QUERY_TIMEOUT_MS') ?? file.storage?.query_timeout_ms ?? 10_000,
    maxQueuedRecords: countEnv(env, 'SWITCHYARD_MAX_QUEUED_RECORDS') ?? file.storage?.max_queued_records ?? 50_000,
    redisUrl,
    redisPrefix: env.SWITCHYARD_REDIS_PREFIX ?? file.redis?.prefix ?? 'switchyard:',
    redisConnectTimeoutMs: countEnv(env, 'SWITCHYARD_REDIS_CONNECT_TIMEOUT_MS') ?? file.redis?.connect_timeout_ms ?? 2000,
    redisCommandTimeoutMs: countEnv(env, 'SWITCHYARD_REDIS_COMMAND_TIMEOUT_MS') ?? file.redis?.command_timeout_ms ?? 250,
    reservationTtlMs: ttlEnv ? Number(ttlEnv) : (file.limits?.reservation_ttl_ms ?? 60_000),
    responsesTtlMs: responsesRetention(env.SWITCHYARD_RESPONSES_RETENTION ?? file.responses?.retention),
    keyCacheTtlMs: file.auth?.key_cache_ttl_ms ?? 2000,
    defaultRateLimit,
    apiKeys,
    adminKeyDigest,
    wireEra: (eraEnv as WireEra | undefined) ?? file.wire?.era ?? '2026',
    failureWindowMs: file.routing?.failure_window_ms ?? 30_000,
    maxModels: file.routing?.max_models ?? 10,
    logLevel: env.LOG_LEVEL ?? file.log?.level ?? 'info',
    accessLog: file.log?.access ?? true,
    metrics: {
      enabled: file.metrics?.enabled ?? true,
      public: env.SWITCHYARD_METRICS_PUBLIC ? /^(1|true|yes|on)$/i.test(env.SWITCHYARD_METRICS_PUBLIC.trim()) : (file.metrics?.public ?? false),
    },
    tracing: tracingSettings(env),
    catalog,
    providers,
    configFile,
    plugins: pluginSettings(env, withFileParserEnv(env, file.plugins)),
  } as Settings;
  // Not enumerable: the options hold the whole environment (SWITCHYARD_ADMIN_KEY, provider keys),
  // which must not reach a log or a dump of the settings; a reload reads it by name.
  Object.defineProperty(settings, 'source', { value: opts, enumerable: false });
  return settings;
}
