import type { App } from '../app.js';
import { within } from '../core/within.js';
import { FallbackRateLimiter } from '../state/rate-limit.js';

/** How long a readiness answer may wait for the database; k8s gives a probe one second by default. */
const PROBE_WAIT_MS = 900;
/** A database probe's answer serves the probes of the next second too. */
const PROBE_REUSE_MS = 1000;

export interface ReadinessBody {
  status: 'ok' | 'unavailable';
  checks: Record<string, string>;
}

/**
 * `GET /health/ready`: whether this process can serve inference now. Not ready while the database
 * cannot be reached (a `SELECT 1`, one at a time, answered within PROBE_WAIT_MS), while writing
 * generation records fails, or while the server drains. Redis is reported but never makes the
 * process unready: without it requests go through, rate limits counted in this process.
 */
export class Readiness {
  draining = false;
  private probe: Promise<string> | null = null;
  private last: { at: number; result: string } | null = null;

  constructor(private readonly app: App) {}

  async check(): Promise<{ ready: boolean; body: ReadinessBody }> {
    const checks: Record<string, string> = { database: withoutAddresses(await this.database()) };
    const limiter = this.app.limiter;
    if (limiter instanceof FallbackRateLimiter) {
      const down = limiter.unavailable;
      checks.redis = down === null ? 'ok' : `down: ${withoutAddresses(down)} (rate limits counted in this process)`;
    }
    if (this.draining) checks.server = 'draining';
    const ready = checks.database === 'ok' && !this.draining;
    return { ready, body: { status: ready ? 'ok' : 'unavailable', checks } };
  }

  private async database(): Promise<string> {
    const { store } = this.app;
    if (store.saturated) return `down: ${store.queued} generation records wait to be written (limit ${store.maxQueued})`;
    if (store.failing) return `down: ${store.failing}`;
    const now = Date.now();
    if (this.last && now - this.last.at < PROBE_REUSE_MS) return this.last.result;
    this.probe ??= this.app.sql.query('SELECT 1').then(
      () => this.probed('ok'),
      (err: unknown) => this.probed(`down: ${(err as Error).message}`),
    );
    return within(this.probe, PROBE_WAIT_MS).catch(() => `down: no answer within ${PROBE_WAIT_MS} ms`);
  }

  /** A request just found the database unavailable: readiness says so without waiting for the next probe. */
  databaseFailed(reason: string): void {
    this.last = { at: Date.now(), result: `down: ${reason}` };
  }

  private probed(result: string): string {
    this.last = { at: Date.now(), result };
    this.probe = null;
    return result;
  }
}

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
