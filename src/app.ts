import type { Logger } from 'pino';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Settings } from './config/load.js';
import { HealthTracker } from './routing/health.js';
import { HealthSync } from './routing/health-sync.js';
import { GenerationStore } from './storage/generations.js';
import { KeyRing } from './auth/keys.js';
import type { Rng } from './routing/select.js';
import { Recorder } from './upstream/replay/recorder.js';
import type { Gate } from './accounting/gate.js';
import { AccountingGate } from './accounting/accounting-gate.js';
import { Ledger } from './accounting/ledger.js';
import { KeyStore } from './keys/store.js';
import { openSql, type Sql } from './storage/sql.js';
import cluster from 'node:cluster';
import { migrate } from './storage/migrations.js';
import { LocalBus, PostgresBus, RedisBus, type Bus } from './state/bus.js';
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './state/rate-limit.js';
import { ResponseStore } from './ingress/responses/store.js';
import { Observability } from './observability/observer.js';
import type { ClusterMetricsLink } from './observability/cluster-metrics.js';
import { createLogger } from './observability/logger.js';

/** Everything a request handler needs, built once at start-up. */
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
}

// ioredis is loaded only when REDIS_URL is set: a single process does not pay its memory.
const require = createRequire(import.meta.url);
const loadRedis = (): typeof Redis => (require('ioredis') as typeof import('ioredis')).Redis;

/** An error that start-up reports as one line (bad database or Redis URL, server down, …). */
export class StartupError extends Error {}

export function createApp(settings: Settings, opts: AppOptions = {}): App {
  const log = opts.logger ?? createLogger(settings.logLevel);
  // A single process is the file's only steady writer: it checkpoints with the fsyncs off its event
  // loop. The workers of `serve --workers N` leave that to their primary (cluster/checkpoints.ts).
  const sql = openSql({
    databaseUrl: settings.databaseUrl,
    dataDir: settings.dataDir,
    checkpoints:
      cluster.isWorker || settings.checkpointPages === 0
        ? false
        : {
            thresholdFrames: settings.checkpointPages,
            onFallback: (err) => log.warn({ err: err.message }, 'checkpointing off the event loop failed; SQLite checkpoints inside commits again'),
          },
  });
  opts.onSql?.(sql);
  const redis = settings.redisUrl
    ? new (loadRedis())(settings.redisUrl, { keyPrefix: settings.redisPrefix, lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 5000 })
    : null;
  redis?.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  const bus: Bus = redis ? new RedisBus(redis, settings.redisPrefix) : sql.dialect === 'postgres' ? new PostgresBus(sql, settings.redisPrefix) : (opts.hostBus?.() ?? new LocalBus());
  const store = new GenerationStore(sql, settings.flushIntervalMs);
  const responses = new ResponseStore(sql, { ttlMs: settings.responsesTtlMs });
  responses.onError = (err) => log.warn({ err: (err as Error).message }, 'expiring stored responses failed');
  store.onError = (err) => log.error({ err: (err as Error).message }, 'writing generation records failed; retrying');
  const keyStore = new KeyStore(sql, bus);
  const keys = new KeyRing(settings.apiKeys, { store: keyStore, cacheTtlMs: settings.keyCacheTtlMs, defaultRateLimit: settings.defaultRateLimit });
  const limiter: RateLimiter = redis ? new RedisRateLimiter(redis) : (opts.hostLimiter?.() ?? new MemoryRateLimiter());
  const ledger = new Ledger(sql, store, { reservationTtlMs: settings.reservationTtlMs, log });
  const health = new HealthTracker(settings.failureWindowMs);
  // Every replica's outcomes in every replica's tracker (nothing at all with the in-process bus).
  const healthSync = new HealthSync(health, bus, { onError: (err) => log.warn({ err: (err as Error).message }, 'publishing endpoint health failed') });
  let ready: Promise<void> | null = null;
  let closing: Promise<void> | null = null;

  const app: App = {
    settings,
    health,
    store,
    keys,
    log,
    rng: opts.rng ?? Math.random,
    gate: opts.gate ?? new AccountingGate(ledger, limiter, log, settings.defaultRateLimit),
    recorder: settings.recordDir ? new Recorder(settings.recordDir, undefined, settings.replay.secretHeaders) : null,
    sql,
    keyStore,
    ledger,
    limiter,
    bus,
    redis,
    responses,
    observer: new Observability(settings, log, health, opts.clusterMetrics ?? null),
    init() {
      ready ??= (async () => {
        try {
          await migrate(sql);
        } catch (err) {
          throw new StartupError(`cannot open the database (${sql.description}): ${(err as Error).message}`);
        }
        if (redis) {
          try {
            await redis.connect();
            await redis.ping();
          } catch (err) {
            throw new StartupError(`cannot reach Redis at ${settings.redisUrl!.replace(/\/\/[^@]*@/, '//…@')}: ${(err as Error).message}`);
          }
        }
        await bus.subscribe('keys', (hash) => {
          keys.invalidate(hash || undefined);
          if (!hash) ledger.invalidateAccount();
        });
        await healthSync.start();
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
        await healthSync.stop();
        try {
          await store.close();
        } catch (err) {
          log.error({ err: (err as Error).message, queued: store.queued }, 'final flush of generation records failed');
        }
        await bus.close().catch(() => undefined);
        if (redis) redis.disconnect();
        await limiter.close();
        await sql.close();
      })();
      return closing;
    },
  };
  return app;
}
