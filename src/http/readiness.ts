import type { App } from '../app.js';
import { within } from '../core/within.js';
import { FallbackRateLimiter } from '../state/rate-limit.js';
import { MIGRATIONS } from '../storage/migrations.js';

/** The schema version this build needs. */
const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** How long a readiness answer may wait for the database; k8s gives a probe one second by default. */
const PROBE_WAIT_MS = 900;
/** A database probe's answer serves the probes of the next second too. */
const PROBE_REUSE_MS = 1000;

export interface ReadinessBody {
  status: 'ok' | 'unavailable';
  /** The checks that make the process unready (only when it is). */
  failing?: string[];
  checks: Record<string, string>;
}

/** What one database probe found: whether it answered, and the schema version it holds. */
interface Probed {
  database: string;
  migrations: string;
}

/**
 * `GET /health/ready`: whether this process can serve inference now. Not ready while the database
 * cannot be reached (one query at a time, answered within PROBE_WAIT_MS), while its schema lacks
 * migrations this build needs, while writing generation records fails, while the catalog has no
 * model, or while the server drains. Redis is reported but never makes the process unready:
 * without it requests go through, rate limits counted in this process.
 */
export class Readiness {
  draining = false;
  private probe: Promise<Probed> | null = null;
  private last: { at: number; result: Probed } | null = null;

  constructor(
    private readonly app: App,
    /** Requests still being served, reported while draining. */
    private readonly open: { count: number } = { count: 0 },
  ) {}

  async check(): Promise<{ ready: boolean; body: ReadinessBody }> {
    const probed = await this.database();
    const models = this.app.latest().settings.catalog.models.size;
    const checks: Record<string, string> = {
      database: withoutAddresses(probed.database),
      migrations: probed.migrations,
      catalog: models > 0 ? 'ok' : 'empty: no model in the catalog',
      draining: this.draining ? `yes: ${this.open.count} requests still being served` : 'no',
    };
    const limiter = this.app.limiter;
    if (limiter instanceof FallbackRateLimiter) {
      const down = limiter.unavailable;
      checks.redis = down === null ? 'ok' : `down: ${withoutAddresses(down)} (rate limits counted in this process)`;
    }
    // The migrations are unknown while the database is down: that one failing check is named.
    const failing = ['database', 'migrations', 'catalog'].filter((name) => checks[name] !== 'ok' && checks[name] !== 'unknown');
    if (this.draining) failing.push('draining');
    const ready = failing.length === 0;
    return { ready, body: ready ? { status: 'ok', checks } : { status: 'unavailable', failing, checks } };
  }

  private async database(): Promise<Probed> {
    const { store } = this.app;
    if (store.saturated) return { database: `down: ${store.queued} generation records wait to be written (limit ${store.maxQueued})`, migrations: 'unknown' };
    if (store.failing) return { database: `down: ${store.failing}`, migrations: 'unknown' };
    const now = Date.now();
    if (this.last && now - this.last.at < PROBE_REUSE_MS) return this.last.result;
    // One query proves both: the database answers, and its schema is the one this build needs.
    this.probe ??= this.app.sql.query<{ version: number | string | null }>('SELECT MAX(version) AS version FROM schema_migrations').then(
      (rows) => {
        const version = Number(rows[0]?.version ?? 0);
        return this.probed({ database: 'ok', migrations: version >= SCHEMA_VERSION ? 'ok' : `pending: the schema is at version ${version}, this build needs ${SCHEMA_VERSION}` });
      },
      (err: unknown) => {
        const message = (err as Error).message;
        // The database answers, without the table the migrations keep: never migrated (or emptied since).
        if (/schema_migrations/.test(message)) return this.probed({ database: 'ok', migrations: `pending: no schema_migrations table, this build needs version ${SCHEMA_VERSION}` });
        return this.probed(unreachable(message));
      },
    );
    return within(this.probe, PROBE_WAIT_MS).catch(() => unreachable(`no answer within ${PROBE_WAIT_MS} ms`));
  }

  /** A request just found the database unavailable: readiness says so without waiting for the next probe. */
  databaseFailed(reason: string): void {
    this.last = { at: Date.now(), result: unreachable(reason) };
  }

  private probed(result: Probed): Probed {
    this.last = { at: Date.now(), result };
    this.probe = null;
    return result;
  }
}

const unreachable = (reason: string): Probed => ({ database: `down: ${reason}`, migrations: 'unknown' });

/**
 * Readiness answers anyone: driver messages such as `connect ECONNREFUSED 10.0.0.5:5432` keep
 * their reason and lose the address (the log keeps it for the operator).
 */
export function withoutAddresses(text: string): string {
  return text
    .replace(/\[[0-9a-fA-F:.]+\](?::\d+)?/g, '<address>')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '<address>')
    .replace(/\b[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+:\d{2,5}\b/g, '<address>')
    .replace(/\b(localhost):\d{2,5}\b/g, '<address>');
}
