import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from '../storage/sql.js';
import type { Bus } from '../state/bus.js';
import { formatInterval, type RateLimitSpec } from '../state/rate-limit.js';
import { isoOrNull, MAX_CREDITS_NANO, nanoToUsd, periodStart, periodStarts, type LimitReset } from './money.js';

/**
 * API keys kept in the database: inference keys and management keys. The plaintext
 * (`sk-sy-v1-` + 64 hex) is shown once, at creation; only its SHA-256 (hex, the key API's `hash`)
 * and a masked label are stored. Changes are published on the bus so every replica drops its
 * cached copy at once.
 */
export const KEY_PREFIX = 'sk-sy-v1-';
export const KEYS_CHANNEL = 'keys';

export const hashKey = (plain: string): string => createHash('sha256').update(plain).digest('hex');
export const newPlainKey = (): string => KEY_PREFIX + randomBytes(32).toString('hex');
export const maskKey = (plain: string): string => `${plain.slice(0, KEY_PREFIX.length + 3)}...${plain.slice(-3)}`;

export interface KeyRow {
  hash: string;
  name: string;
  label: string;
  is_management: number;
  disabled: number;
  deleted_at: number | null;
  limit_nano: number | null;
  limit_reset: LimitReset | null;
  include_byok_in_limit: number;
  period_start: number;
  period_usage_nano: number;
  reserved_nano: number;
  usage_nano: number;
  rl_requests: number | null;
  rl_interval_ms: number | null;
  rl_tokens_per_minute: number | null;
  created_at: number;
  updated_at: number | null;
  expires_at: number | null;
  creator_user_id: string | null;
}

export interface NewKey {
  name: string;
  management?: boolean;
  limitNano?: number | null;
  limitReset?: LimitReset | null;
  includeByokInLimit?: boolean;
  expiresAt?: number | null;
  rateLimit?: RateLimitSpec | null;
  creatorUserId?: string | null;
}

export interface KeyPatch {
  name?: string;
  disabled?: boolean;
  limitNano?: number | null;
  limitReset?: LimitReset | null;
  includeByokInLimit?: boolean;
  expiresAt?: number | null;
  rateLimit?: RateLimitSpec | null;
}

export interface Usage {
  total: number;
  daily: number;
  weekly: number;
  monthly: number;
}

export const isUsable = (row: KeyRow, now = Date.now()): boolean =>
  Number(row.disabled) === 0 && row.deleted_at === null && (row.expires_at === null || Number(row.expires_at) > now);

export function rateLimitOf(row: KeyRow): RateLimitSpec | null {
  if (!row.rl_requests && !row.rl_tokens_per_minute) return null;
  return { requests: row.rl_requests ?? null, intervalMs: Number(row.rl_interval_ms ?? 60_000), tokensPerMinute: row.rl_tokens_per_minute ?? null };
}

/** Settled spend in the key's current period (a period that has rolled over has spent nothing yet). */
export function periodUsage(row: KeyRow, now = Date.now()): number {
  return Number(row.period_start) >= periodStart(row.limit_reset, now) ? Number(row.period_usage_nano) : 0;
}

export class KeyStore {
  constructor(
    private readonly sql: Sql,
    private readonly bus: Bus,
  ) {}

  /** After any change to keys or credits: bump the configuration version, then tell the other replicas. */
  private async changed(hash: string): Promise<void> {
    await this.sql.query('UPDATE account SET config_version = config_version + 1 WHERE id = 1');
    await this.bus.publish(KEYS_CHANNEL, hash).catch(() => undefined);
  }

  /** See Sql.externalVersion: changes with every key or credits change, by any process. */
  externalVersion(): number {
    return this.sql.externalVersion();
  }

  /** Whether externalVersion sees every other writer (SQLite), or only a constant (PostgreSQL). */
  get tracksExternalWrites(): boolean {
    return this.sql.dialect === 'sqlite';
  }

  async create(k: NewKey, now = Date.now()): Promise<{ row: KeyRow; key: string }> {
    const key = newPlainKey();
    const hash = hashKey(key);
    const reset = k.limitReset ?? null;
    await this.sql.query(
      `INSERT INTO api_keys (hash, name, label, is_management, disabled, limit_nano, limit_reset, include_byok_in_limit,
         period_start, period_usage_nano, reserved_nano, usage_nano, rl_requests, rl_interval_ms, rl_tokens_per_minute,
         created_at, updated_at, expires_at, creator_user_id)
       VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8, 0, 0, 0, $9, $10, $11, $12, NULL, $13, $14)`,
      [
        hash,
        k.name,
        maskKey(key),
        k.management ? 1 : 0,
        k.limitNano ?? null,
        reset,
        k.includeByokInLimit ? 1 : 0,
        periodStart(reset, now),
        k.rateLimit?.requests ?? null,
        k.rateLimit ? k.rateLimit.intervalMs : null,
        k.rateLimit?.tokensPerMinute ?? null,
        now,
        k.expiresAt ?? null,
        k.creatorUserId ?? null,
      ],
    );
    await this.changed(hash);
    return { row: (await this.get(hash))!, key };
  }

  /** The key row, deleted keys excluded. */
  async get(hash: string): Promise<KeyRow | null> {
    const rows = await this.sql.query<KeyRow>('SELECT * FROM api_keys WHERE hash = $1 AND deleted_at IS NULL', [hash]);
    return rows[0] ? normalise(rows[0]) : null;
  }

  async list(opts: { includeDisabled: boolean; offset: number; limit: number }): Promise<KeyRow[]> {
    const rows = await this.sql.query<KeyRow>(
      `SELECT * FROM api_keys WHERE deleted_at IS NULL ${opts.includeDisabled ? '' : 'AND disabled = 0'}
       ORDER BY created_at, hash LIMIT $1 OFFSET $2`,
      [opts.limit, opts.offset],
    );
    return rows.map(normalise);
  }

  /** True when at least one key that can authenticate exists (auth turns on with the first key). */
  async anyActive(now = Date.now()): Promise<boolean> {
    const rows = await this.sql.query(
      'SELECT hash FROM api_keys WHERE deleted_at IS NULL AND disabled = 0 AND (expires_at IS NULL OR expires_at > $1) LIMIT 1',
      [now],
    );
    return rows.length > 0;
  }

  async update(hash: string, patch: KeyPatch, now = Date.now()): Promise<KeyRow | null> {
    const row = await this.sql.tx(async (q) => {
      const found = await q.query<KeyRow>(`SELECT * FROM api_keys WHERE hash = $1 AND deleted_at IS NULL ${this.sql.forUpdate}`, [hash]);
      if (!found[0]) return null;
      const cur = normalise(found[0]);
      const sets: string[] = [];
      const params: unknown[] = [hash];
      const set = (col: string, v: unknown) => {
        params.push(v);
        sets.push(`${col} = $${params.length}`);
      };
      if (patch.name !== undefined) set('name', patch.name);
      if (patch.disabled !== undefined) set('disabled', patch.disabled ? 1 : 0);
      if (patch.limitNano !== undefined) set('limit_nano', patch.limitNano);
      if (patch.includeByokInLimit !== undefined) set('include_byok_in_limit', patch.includeByokInLimit ? 1 : 0);
      if (patch.expiresAt !== undefined) set('expires_at', patch.expiresAt);
      if (patch.rateLimit !== undefined) {
        set('rl_requests', patch.rateLimit?.requests ?? null);
        set('rl_interval_ms', patch.rateLimit ? patch.rateLimit.intervalMs : null);
        set('rl_tokens_per_minute', patch.rateLimit?.tokensPerMinute ?? null);
      }
      if (patch.limitReset !== undefined && patch.limitReset !== cur.limit_reset) {
        // A new reset cadence: the current period's spend is recomputed from the ledger.
        const start = periodStart(patch.limitReset, now);
        const spent = await q.query<{ s: number | null }>(
          'SELECT SUM(charged_nano) AS s FROM ledger WHERE key_hash = $1 AND created_at >= $2',
          [hash, start],
        );
        set('limit_reset', patch.limitReset);
        set('period_start', start);
        set('period_usage_nano', Number(spent[0]?.s ?? 0));
      }
      set('updated_at', now);
      await q.query(`UPDATE api_keys SET ${sets.join(', ')} WHERE hash = $1`, params);
      const after = await q.query<KeyRow>('SELECT * FROM api_keys WHERE hash = $1', [hash]);
      return normalise(after[0]);
    });
    if (row) await this.changed(hash);
    return row;
  }

  /** Soft delete: the row stays for the ledger, the key never authenticates again. */
  async delete(hash: string, now = Date.now()): Promise<boolean> {
    const rows = await this.sql.query(
      'UPDATE api_keys SET deleted_at = $2, disabled = 1, updated_at = $2 WHERE hash = $1 AND deleted_at IS NULL RETURNING hash',
      [hash, now],
    );
    if (rows.length > 0) await this.changed(hash);
    return rows.length > 0;
  }

  /** Settled spend of a key (or of any caller hash, config keys included) overall and per current UTC period. */
  async usage(hash: string | null, now = Date.now(), row?: KeyRow | null): Promise<Usage> {
    const p = periodStarts(now);
    const since = Math.min(p.daily, p.weekly, p.monthly);
    const cond = hash === null ? 'key_hash IS NULL' : 'key_hash = $4';
    const params: unknown[] = [p.daily, p.weekly, p.monthly];
    if (hash !== null) params.push(hash);
    params.push(since);
    const sinceParam = `$${params.length}`;
    const rows = await this.sql.query<{ d: number | null; w: number | null; m: number | null }>(
      `SELECT SUM(CASE WHEN created_at >= $1 THEN charged_nano ELSE 0 END) AS d,
              SUM(CASE WHEN created_at >= $2 THEN charged_nano ELSE 0 END) AS w,
              SUM(CASE WHEN created_at >= $3 THEN charged_nano ELSE 0 END) AS m
         FROM ledger WHERE ${cond} AND created_at >= ${sinceParam}`,
      params,
    );
    let total: number;
    if (row) total = Number(row.usage_nano);
    else {
      const t = await this.sql.query<{ s: number | null }>(`SELECT SUM(charged_nano) AS s FROM ledger WHERE ${hash === null ? 'key_hash IS NULL' : 'key_hash = $1'}`, hash === null ? [] : [hash]);
      total = Number(t[0]?.s ?? 0);
    }
    return { total, daily: Number(rows[0]?.d ?? 0), weekly: Number(rows[0]?.w ?? 0), monthly: Number(rows[0]?.m ?? 0) };
  }

  async account(): Promise<{ creditsNano: number | null; usageNano: number; reservedNano: number }> {
    const rows = await this.sql.query<{ credits_nano: number | null; usage_nano: number; reserved_nano: number }>('SELECT * FROM account WHERE id = 1');
    const a = rows[0];
    return { creditsNano: a.credits_nano === null ? null : Number(a.credits_nano), usageNano: Number(a.usage_nano), reservedNano: Number(a.reserved_nano) };
  }

  /** Adds to the account balance (the first addition turns the balance on: it starts at what is already used). */
  async addCredits(nano: number, now = Date.now()): Promise<CreditsChange> {
    return this.changeCredits({ addNano: nano }, now);
  }

  /** Sets the total credits; null makes the account unlimited again. */
  async setCredits(nano: number | null, now = Date.now()): Promise<CreditsChange> {
    return this.changeCredits({ setNano: nano }, now);
  }

  /**
   * Sets and/or adds to the total credits in one conditional UPDATE, so concurrent changes from any
   * replica or the CLI all count (the row is re-read under its lock, on PostgreSQL as on SQLite).
   * An addition to an unlimited account starts from what is already used. A total that would leave
   * 0..MAX_CREDITS_NANO is refused and nothing changes. Bumps the configuration version in the same
   * statement, then tells the other replicas.
   */
  async changeCredits(change: { setNano?: number | null; addNano?: number }, now = Date.now()): Promise<CreditsChange> {
    const params: unknown[] = [now];
    const param = (v: unknown) => {
      params.push(v);
      return `CAST($${params.length} AS BIGINT)`;
    };
    let total: string;
    let guard = '';
    if (change.setNano === null) {
      if (change.addNano !== undefined) throw new Error('credits: cannot add to an unlimited balance being set');
      total = 'NULL';
    } else {
      const base = change.setNano === undefined ? 'COALESCE(credits_nano, usage_nano)' : param(change.setNano);
      total = change.addNano === undefined ? base : `${base} + ${param(change.addNano)}`;
      guard = `AND ${total} >= 0 AND ${total} <= ${param(MAX_CREDITS_NANO)}`;
    }
    const rows = await this.sql.query<{ credits_nano: number | null; usage_nano: number }>(
      `UPDATE account SET credits_nano = ${total}, updated_at = $1, config_version = config_version + 1
        WHERE id = 1 ${guard} RETURNING credits_nano, usage_nano`,
      params,
    );
    if (!rows[0]) {
      const a = await this.account();
      const base = change.setNano ?? a.creditsNano ?? a.usageNano;
      return { ok: false, totalNano: base + (change.addNano ?? 0), usageNano: a.usageNano };
    }
    await this.bus.publish(KEYS_CHANNEL, '').catch(() => undefined);
    const creditsNano = rows[0].credits_nano === null ? null : Number(rows[0].credits_nano);
    return { ok: true, creditsNano, usageNano: Number(rows[0].usage_nano) };
  }
}

/**
 * The outcome of a credits change: the account after it, or, refused, the total it would have
 * made (out of 0..MAX_CREDITS_NANO).
 */
export type CreditsChange =
  | { ok: true; creditsNano: number | null; usageNano: number }
  | { ok: false; totalNano: number; usageNano: number };

function normalise(r: KeyRow): KeyRow {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    ...r,
    is_management: Number(r.is_management),
    disabled: Number(r.disabled),
    deleted_at: num(r.deleted_at),
    limit_nano: num(r.limit_nano),
    include_byok_in_limit: Number(r.include_byok_in_limit),
    period_start: Number(r.period_start),
    period_usage_nano: Number(r.period_usage_nano),
    reserved_nano: Number(r.reserved_nano),
    usage_nano: Number(r.usage_nano),
    rl_requests: num(r.rl_requests),
    rl_interval_ms: num(r.rl_interval_ms),
    rl_tokens_per_minute: num(r.rl_tokens_per_minute),
    created_at: Number(r.created_at),
    updated_at: num(r.updated_at),
    expires_at: num(r.expires_at),
  };
}

const RATE_NOTE = 'Switchyard: requests per interval for this key (fixed windows); -1 when unlimited.';

export function rateLimitJson(spec: RateLimitSpec | null): Record<string, unknown> {
  if (!spec) return { requests: -1, interval: '10s', note: RATE_NOTE };
  const out: Record<string, unknown> = { requests: spec.requests ?? -1, interval: formatInterval(spec.intervalMs), note: RATE_NOTE };
  if (spec.tokensPerMinute) out.tokens_per_minute = spec.tokensPerMinute;
  return out;
}

/** `ApiKey` of the key management API (docs/COMPATIBILITY.md#key-management-api), plus `is_management_key` and `rate_limit`. */
export function apiKeyJson(row: KeyRow, usage: Usage, now = Date.now()): Record<string, unknown> {
  const spent = periodUsage(row, now);
  return {
    hash: row.hash,
    name: row.name,
    label: row.label,
    disabled: row.disabled === 1,
    limit: row.limit_nano === null ? null : nanoToUsd(row.limit_nano),
    limit_remaining: row.limit_nano === null ? null : nanoToUsd(Math.max(0, row.limit_nano - spent)),
    limit_reset: row.limit_reset,
    include_byok_in_limit: row.include_byok_in_limit === 1,
    usage: nanoToUsd(usage.total),
    usage_daily: nanoToUsd(usage.daily),
    usage_weekly: nanoToUsd(usage.weekly),
    usage_monthly: nanoToUsd(usage.monthly),
    byok_usage: 0,
    byok_usage_daily: 0,
    byok_usage_weekly: 0,
    byok_usage_monthly: 0,
    created_at: isoOrNull(row.created_at),
    updated_at: isoOrNull(row.updated_at),
    expires_at: isoOrNull(row.expires_at),
    creator_user_id: row.creator_user_id,
    workspace_id: 'default',
    is_management_key: row.is_management === 1,
    rate_limit: rateLimitJson(rateLimitOf(row)),
  };
}
