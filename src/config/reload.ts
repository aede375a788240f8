import { isDeepStrictEqual } from 'node:util';
import { loadSettings, type Settings } from './load.js';

/**
 * Settings that a running process cannot change: what they shape (the listening socket, the
 * storage and Redis connections, the workers, the logger, the exporters) is built once at start.
 * A reload that finds one changed keeps the running value and names it in `needs_restart`, so an
 * operator is never left believing a change took effect.
 */
const RESTART_ONLY: readonly (readonly [keyof Settings, string])[] = [
  ['host', 'server.host'],
  ['port', 'server.port'],
  ['workers', 'server.workers'],
  ['apiPrefixes', 'server.api_prefixes'],
  ['headersTimeoutMs', 'server.headers_timeout_ms'],
  ['idleTimeoutMs', 'server.idle_timeout_ms'],
  ['maxConnections', 'server.max_connections'],
  ['drainTimeoutMs', 'server.drain_timeout_ms'],
  ['dataDir', 'storage.data_dir'],
  ['databaseUrl', 'storage.database_url'],
  ['flushIntervalMs', 'storage.flush_interval_ms'],
  ['checkpointPages', 'storage.checkpoint_pages'],
  ['pgConnectTimeoutMs', 'storage.connect_timeout_ms'],
  ['pgQueryTimeoutMs', 'storage.query_timeout_ms'],
  ['maxQueuedRecords', 'storage.max_queued_records'],
  ['redisUrl', 'redis.url'],
  ['redisPrefix', 'redis.prefix'],
  ['redisConnectTimeoutMs', 'redis.connect_timeout_ms'],
  ['redisCommandTimeoutMs', 'redis.command_timeout_ms'],
  ['reservationTtlMs', 'limits.reservation_ttl_ms'],
  ['responsesTtlMs', 'responses.retention'],
  ['keyCacheTtlMs', 'auth.key_cache_ttl_ms'],
  ['failureWindowMs', 'routing.failure_window_ms'],
  ['logLevel', 'log.level'],
  ['accessLog', 'log.access'],
  ['metrics', 'metrics'],
  ['tracing', 'tracing (OTEL_*)'],
  ['recordDir', 'replay.record_dir'],
];

/** What a reload did, as `POST /api/v1/admin/reload` answers it and the log reports it. */
export interface ReloadReport {
  status: 'reloaded';
  /** Changed settings that take effect only at the next start; the running values stay meanwhile. */
  needs_restart: string[];
  /** Models in the new catalog. */
  models: number;
  /** The providers enabled now. */
  providers: string[];
  /** `serve --workers N`: how many worker processes reloaded. */
  workers?: number;
}

/**
 * Loads the settings again from what the current ones were loaded from (the same flags, the
 * configuration file, the catalog files and the environment) and returns the snapshot to swap in.
 * Throws the loader's ConfigError, naming the offending field, when anything is invalid; nothing
 * is changed then. Restart-only settings keep their running values (RESTART_ONLY); a provider
 * whose keys are unchanged keeps its key pool, so resting keys stay resting and the per-key
 * figures go on. `moved` names the providers whose base URL changed: what was learnt of their
 * endpoints' health was about another server.
 */
export function prepareReload(current: Settings): { next: Settings; report: ReloadReport; moved: string[] } {
  const next = loadSettings(current.source);
  const needsRestart: string[] = [];
  for (const [key, name] of RESTART_ONLY) {
    if (isDeepStrictEqual(current[key], next[key])) continue;
    needsRestart.push(name);
    keepRunning(next, current, key);
  }
  const moved: string[] = [];
  for (const [slug, runtime] of next.providers) {
    const old = current.providers.get(slug);
    if (old && old.baseUrl !== runtime.baseUrl) moved.push(slug);
    if (!old || !old.keys.sameKeys(runtime.keys)) continue;
    runtime.keys = old.keys;
    // Vertex: the same service accounts, so their cached access tokens stay good.
    if (old.resolveCredential) runtime.resolveCredential = old.resolveCredential;
  }
  const report: ReloadReport = {
    status: 'reloaded',
    needs_restart: needsRestart,
    models: next.catalog.models.size,
    providers: [...next.providers.values()].filter((p) => p.enabled).map((p) => p.entry.slug),
  };
  return { next, report, moved };
}

function keepRunning<K extends keyof Settings>(next: Settings, current: Settings, key: K): void {
  next[key] = current[key];
}
