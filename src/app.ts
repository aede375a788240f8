import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { ConfigError, type Settings } from './config/load.js';
import { prepareReload, type ReloadReport } from './config/reload.js';
import { HealthTracker } from './routing/health.js';
import { healthKey } from './routing/select.js';
import { HealthSync } from './routing/health-sync.js';
import { GenerationStore } from './storage/generations.js';
import { KeyRing } from './auth/keys.js';
import type { Rng } from './routing/select.js';
import { Recorder } from './upstream/replay/recorder.js';
import { replayStoreFor } from './upstream/replay/store.js';
import type { Gate } from './accounting/gate.js';
import { AccountingGate } from './accounting/accounting-gate.js';
import { Ledger } from './accounting/ledger.js';
import { KeyStore } from './keys/store.js';
import { DatabaseUnavailable, openSql, type Sql } from './storage/sql.js';
import cluster from 'node:cluster';
import { migrate } from './storage/migrations.js';
import { LocalBus, PostgresBus, RedisBus, type Bus } from './state/bus.js';
import { FallbackRateLimiter, MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './state/rate-limit.js';
import { openRedis, reachRedis, redisName } from './state/redis.js';
import { within } from './core/within.js';
import { ResponseStore } from './ingress/responses/store.js';
import { providerRedactor } from './core/redact.js';
import { Observability } from './observability/observer.js';
import type { ClusterMetricsLink } from './observability/cluster-metrics.js';
import { createLogger } from './observability/logger.js';
import { Plugins } from './plugins/runner.js';

/**
 * Everything a request handler needs, built once at start-up. `settings` is a snapshot: a reload
 * makes a new App object with the new snapshot and the same long-lived parts (storage, keys,
 * health, …), and `latest()` returns it from then on.
 */
export interface App {
  settings: Settings;
  health: HealthTracker;
  store: GenerationStore;
  keys: KeyRing;
  log: Logger;
  rng: Rng;
  recorder: Recorder | null;
  gate: Gate;
  sql: Sql;
  keyStore: KeyStore;
  ledger: Ledger;
  limiter: RateLimiter;
  bus: Bus;
  redis: Redis | null;
  /** Stored answers of the Responses API (previous_response_id, item_reference, GET /responses/{id}). */
  responses: ResponseStore;
  /** Metrics, traces and the access log (src/observability/); started with the HTTP server. */
  observer: Observability;
  /**
   * The app with the newest settings. A request takes it once, at its start (http/server.ts), and
   * uses it to its end, so a request in flight finishes on the settings it started with.
   */
  latest(): App;
  /**
   * Re-reads the configuration and swaps it in at once (config/reload.ts); under `serve --workers
   * N`, in every worker. Refused with a ConfigError naming the offending field when anything is
   * invalid, and the settings in use stay.
   */
  reload(): Promise<ReloadReport>;
  /** The same, in this process only (what a cluster worker runs when its primary asks). */
  reloadHere(): Promise<ReloadReport>;
  /** OpenRouter's plugins (src/plugins/): request-side per endpoint, answer-side on the completion. */
  plugins: Plugins;
  /** Connects, migrates the schema, starts the reservation heartbeat; idempotent. */
  init(): Promise<void>;
  /** Final flush of records and settlements, then disconnects. */
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  rng?: Rng;
  gate?: Gate;
  /**
   * Without Redis: the bus (on SQLite; PostgreSQL keeps its own) and the rate limiter to use instead
   * of the in-process ones. The workers of `serve --workers N` share them through the primary (src/cluster/).
   */
  hostBus?: () => Bus;
  hostLimiter?: () => RateLimiter;
  /** Told the storage connection once it is open (a cluster worker holds its writes for the primary's checkpoints). */
  onSql?: (sql: Sql) => void;
  /** A cluster worker's link to the other workers' metrics: one scrape sums them all (observability/cluster-metrics.ts). */
  clusterMetrics?: ClusterMetricsLink;
  /** A cluster worker: `reload()` asks the primary, which has every worker reload (cluster/primary.ts). */
  reload?: () => Promise<ReloadReport>;
}

/** An error that start-up reports as one line (bad database or Redis URL, server down, …). */
export class StartupError extends Error {}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function createApp(settings: Settings, opts: AppOptions = {}): App {
  const log = opts.logger ?? createLogger(settings.logLevel);
  // Replaying providers' cassettes are read now, so a broken one stops the start, not a request.
  for (const p of settings.providers.values()) if (p.replay) replayStoreFor(p.replay);
  // A single process is the file's only steady writer: it checkpoints with the fsyncs off its event
  // loop. The workers of `serve --workers N` leave that to their primary (cluster/checkpoints.ts).
  const sql = openSql({
    databaseUrl: settings.databaseUrl,
    dataDir: settings.dataDir,
    postgres: {
      connectTimeoutMs: settings.pgConnectTimeoutMs,
      queryTimeoutMs: settings.pgQueryTimeoutMs,
      onListener: (event, err) =>
        event === 'lost'
          ? log.warn({ err: err?.message }, 'PostgreSQL LISTEN connection lost; reconnecting')
          : log.warn('PostgreSQL LISTEN connection restored; cached keys dropped'),
    },
    checkpoints:
      cluster.isWorker || settings.checkpointPages === 0
        ? false
        : {
            thresholdFrames: settings.checkpointPages,
            onFallback: (err) => log.warn({ err: err.message }, 'checkpointing off the event loop failed; SQLite checkpoints inside commits again'),
          },
  });
  opts.onSql?.(sql);
  const redis = settings.redisUrl ? openRedis(settings) : null;
  const bus: Bus = redis ? new RedisBus(redis, settings.redisPrefix) : sql.dialect === 'postgres' ? new PostgresBus(sql, settings.redisPrefix) : (opts.hostBus?.() ?? new LocalBus());
  const store = new GenerationStore(sql, settings.flushIntervalMs, settings.maxQueuedRecords);
  const responses = new ResponseStore(sql, { ttlMs: settings.responsesTtlMs });
  responses.onError = (err) => log.warn({ err: (err as Error).message }, 'expiring stored responses failed');
  // Once when an outage starts, then about once a minute (retries are at most a second apart).
  store.onError = (err, failures) => {
    if (failures === 1 || failures % 60 === 0) log.error({ err: (err as Error).message, queued: store.queued, failures }, 'writing generation records failed; kept in memory and retried');
  };
  store.onRecovered = (written) => log.warn({ written }, 'generation records are written again');
  const keyStore = new KeyStore(sql, bus);
  const keys = new KeyRing(settings.apiKeys, { store: keyStore, cacheTtlMs: settings.keyCacheTtlMs, defaultRateLimit: settings.defaultRateLimit, adminKeyDigest: settings.adminKeyDigest });
  const fallback = redis
    ? new FallbackRateLimiter(redis, new RedisRateLimiter(redis), new MemoryRateLimiter(), {
        onDown: (reason) => log.warn({ err: reason }, 'Redis unavailable: rate limits are counted in this process until it is back'),
        onUp: () => log.warn('Redis is back: rate limits are shared again'),
      })
    : null;
  const limiter: RateLimiter = fallback ?? opts.hostLimiter?.() ?? new MemoryRateLimiter();
  const ledger = new Ledger(sql, store, { reservationTtlMs: settings.reservationTtlMs, log });
  const health = new HealthTracker(settings.failureWindowMs);
  // Every replica's outcomes in every replica's tracker (nothing at all with the in-process bus).
  const healthSync = new HealthSync(health, bus, {
    // A Redis outage is reported once, by the rate limiter.
    onError: (err) => {
      if (!fallback?.unavailable) log.warn({ err: (err as Error).message }, 'publishing endpoint health failed');
    },
  });
  let ready: Promise<void> | null = null;
  let closing: Promise<void> | null = null;
  let latest: App;
  // Reloads one after the other: each one compares against the settings the previous one left.
  let reloading: Promise<unknown> = Promise.resolve();
  /** The one moment new settings take over: the long-lived parts that keep a setting, then the new app object. */
  const adopt = (next: Settings) => {
    keys.configure(next.apiKeys, next.defaultRateLimit, next.adminKeyDigest);
    if (app.gate instanceof AccountingGate) app.gate.useDefaultRateLimit(next.defaultRateLimit);
    if (app.recorder) app.recorder.redactor = providerRedactor(next.providers.values());
    app.observer.useSettings(next);
    // Plugin services (Exa, OCR, moderation) follow the file; unchanged ones keep their parsed-file cache.
    const plugins = isDeepStrictEqual(next.plugins, latest.settings.plugins) ? latest.plugins : new Plugins(next.plugins);
    latest = { ...app, settings: next, plugins };
  };
  const reloadHere = (): Promise<ReloadReport> => {
    const run = reloading.then(async () => {
      const current = latest.settings;
      let prepared: ReturnType<typeof prepareReload>;
      try {
        prepared = prepareReload(current);
        // Removing the last configured key must not turn auth off on an address others reach.
        if (current.apiKeys.length > 0 && prepared.next.apiKeys.length === 0 && !isLoopback(current.host) && !(await keyStore.anyActive(Date.now()))) {
          throw new ConfigError(`auth.keys: no API key would be left (none in the configuration or the environment, none in the database) while serving on ${current.host}`);
        }
      } catch (err) {
        log.error({ reason: (err as Error).message }, 'configuration reload refused; the settings in use stay');
        throw err;
      }
      adopt(prepared.next);
      const { report, moved } = prepared;
      // A breaker opened against the old address must not keep the new one out.
      for (const model of moved.length > 0 ? prepared.next.catalog.models.values() : []) {
        for (const ep of prepared.next.catalog.endpointsOf(model)) if (moved.includes(ep.provider.slug)) health.forget(healthKey(ep));
      }
      log.info({ models: report.models, providers: report.providers }, 'configuration reloaded');
      if (report.needs_restart.length > 0) log.warn({ needs_restart: report.needs_restart }, 'changed settings that take effect only after a restart; the running values stay');
      return report;
    });
    reloading = run.catch(() => undefined);
    return run;
  };

  const app: App = {
    settings,
    health,
    store,
    keys,
    log,
    rng: opts.rng ?? Math.random,
    gate: opts.gate ?? new AccountingGate(ledger, limiter, log, settings.defaultRateLimit),
    recorder: settings.recordDir ? new Recorder(settings.recordDir, undefined, settings.replay.secretHeaders, providerRedactor(settings.providers.values())) : null,
    sql,
    keyStore,
    ledger,
    limiter,
    bus,
    redis,
    responses,
    observer: new Observability(settings, log, health, opts.clusterMetrics ?? null),
    latest: () => latest,
    reload: opts.reload ?? reloadHere,
    reloadHere,
    plugins: new Plugins(settings.plugins),
    init() {
      ready ??= (async () => {
        try {
          // A first answer within a bound (a server that accepts connections but never answers
          // must not hang start-up); the migrations themselves may take as long as they need.
          if (sql.dialect === 'postgres') await within(sql.query('SELECT 1'), settings.pgConnectTimeoutMs + 5000);
          await migrate(sql);
        } catch (err) {
          const reason = ((err instanceof DatabaseUnavailable && err.cause instanceof Error ? err.cause : err) as Error).message;
          throw new StartupError(sql.dialect === 'postgres' ? `cannot reach PostgreSQL at ${sql.description}: ${reason}` : `cannot open the database (${sql.description}): ${reason}`);
        }
        if (redis) {
          try {
            await reachRedis(redis, settings.redisConnectTimeoutMs + 1000);
          } catch (err) {
            redis.disconnect();
            throw new StartupError(`cannot reach ${redisName(settings.redisUrl!)}: ${(err as Error).message}`);
          }
        }
        const dropCached = () => {
          keys.invalidate();
          ledger.invalidateAccount();
        };
        try {
          await within(
            (async () => {
              await bus.subscribe('keys', (hash) => (hash ? keys.invalidate(hash) : dropCached()));
              await healthSync.start();
            })(),
            (redis ? settings.redisConnectTimeoutMs : settings.pgConnectTimeoutMs) + 5000,
          );
        } catch (err) {
          redis?.disconnect();
          throw new StartupError(`cannot subscribe to ${redis ? redisName(settings.redisUrl!) : `PostgreSQL at ${sql.description}`}: ${(err as Error).message}`);
        }
        // A replica that was cut off from the bus missed invalidations: it forgets what it cached.
        bus.onReconnect?.(dropCached);
        fallback?.start();
        await ledger.reconcile().catch((err) => log.warn({ err: (err as Error).message }, 'reservation reconcile failed'));
        ledger.start();
        responses.startCleanup();
      })();
      return ready;
    },
    close() {
      closing ??= (async () => {
        ledger.stop();
        await app.observer.close();
        responses.stop();
        // Answers whose save is still being written (a stream cut at the drain deadline).
        await responses.flush();
        await healthSync.stop();
        try {
          await store.close();
        } catch (err) {
          log.error({ err: (err as Error).message, queued: store.queued }, 'final flush of generation records failed');
        }
        await bus.close().catch(() => undefined);
        await limiter.close();
        if (redis) redis.disconnect();
        await sql.close();
      })();
      return closing;
    },
  };
  latest = app;
  return app;
}
