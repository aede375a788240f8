import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ApiError } from '../core/errors.js';
import { DatabaseUnavailable, insertRows, type Queryable, type Sql } from '../storage/sql.js';
import { COLUMNS_FOR_PLACEHOLDER, type BatchParticipant, type GenerationStore } from '../storage/generations.js';
import { isUsable, periodUsage, type KeyRow } from '../keys/store.js';
import { periodStart, periodStartSql, periodStarts } from '../keys/money.js';

/**
 * Budgets in the database: reserve, then settle.
 *
 * - `reserve` runs before any upstream call, in one transaction (skipped when nothing could
 *   refuse: a caller without a key limit while the account has no balance): a conditional UPDATE adds the
 *   worst-case cost to the key's `reserved_nano` only `WHERE limit - period usage - reserved >=
 *   amount` (and the key is still enabled), the same against the account balance when one is set,
 *   and a reservation row is inserted. PostgreSQL re-evaluates the WHERE clause on the locked,
 *   latest row version, so concurrent reservations on any number of replicas can never together
 *   exceed the limit; SQLite transactions are serial.
 * - `settle` queues the actual cost; the generation store's next flush commits it in the same
 *   transaction as the generation record: the reservation row is deleted, its amount released, and
 *   the actual cost charged and written to the ledger. The charge is capped at what the limit still
 *   allows, so settled spend never exceeds a limit either, even when a provider bills more than the
 *   worst-case estimate (the ledger keeps both the charged and the actual amount).
 * - Reservations carry an expiry that their replica extends while it lives (heartbeat). A replica
 *   that dies leaves reservations that expire; any replica then reconciles them: the amount is
 *   released, nothing is charged, and a generation record marks what happened.
 */

export interface Settlement {
  id: string;
  keyHash: string | null;
  dbKey: boolean;
  /** A reservation row was written for it (reserve returned true). */
  reserved: boolean;
  actualNano: number;
  at: number;
  /**
   * Its flush failed before: that transaction may have committed all the same (the connection was
   * lost during COMMIT), so the next write charges it only if its ledger row is absent.
   */
  retried?: boolean;
}

export interface ReserveRequest {
  id: string;
  keyHash: string | null;
  /** The caller is a database key: its row's limit applies and its state is re-checked. */
  dbKey: boolean;
  /** The key has a credit limit (as last read): the reservation cannot be skipped. */
  keyLimited: boolean;
  amountNano: number;
  model: string;
  maxOutputTokens: number;
}

export interface LedgerOptions {
  reservationTtlMs: number;
  log: Logger;
  replica?: string;
}

interface ReservationRow {
  id: string;
  key_hash: string | null;
  key_nano: number;
  account_nano: number;
  amount_nano: number;
  model: string | null;
  created_at: number;
}

const ACCOUNT_CACHE_MS = 2000;

const CREDITS_HINT = 'raise the key limit (PATCH /api/v1/keys/{hash}) or add credits (switchyard credits add)';

/** OpenRouter's 402 (docs/COMPATIBILITY.md#credit-limit-errors): how many output tokens the remaining budget could still buy. */
export function insufficientCredits(req: ReserveRequest, remainingNano: number): ApiError {
  const remaining = Math.max(0, remainingNano);
  const affordable = req.amountNano > 0 ? Math.max(0, Math.floor((req.maxOutputTokens * remaining) / req.amountNano)) : 0;
  return new ApiError(
    402,
    `This request requires more credits, or fewer max_tokens. You requested up to ${req.maxOutputTokens} tokens, but can only afford ${Math.min(affordable, req.maxOutputTokens)}. To increase, ${CREDITS_HINT}`,
    { provider_name: null },
  );
}

export class Ledger implements BatchParticipant<Settlement> {
  readonly replica: string;
  private pending: Settlement[] = [];
  private inflight = 0;
  private timers: NodeJS.Timeout[] = [];
  private readonly ttl: number;
  private readonly log: Logger;
  private accountCache: { unlimited: boolean; at: number; version: number } | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly store: GenerationStore,
    opts: LedgerOptions,
  ) {
    this.ttl = opts.reservationTtlMs;
    this.log = opts.log;
    this.replica = opts.replica ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    store.addParticipant(this as BatchParticipant<Settlement>);
  }

  /** Starts the heartbeat (extends this replica's reservations) and the reconciler (frees expired ones). */
  start(): void {
    const every = Math.max(50, Math.floor(this.ttl / 3));
    const beat = setInterval(() => void this.heartbeat().catch((err) => this.log.warn({ err }, 'reservation heartbeat failed')), every);
    const sweep = setInterval(() => void this.reconcile().catch((err) => this.log.warn({ err }, 'reservation reconcile failed')), every);
    beat.unref();
    sweep.unref();
    this.timers.push(beat, sweep);
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /**
   * Reserves `amountNano` or throws 402 (limit or balance too low) / 401 (key gone). A refusal while
   * this replica still has settlements queued flushes them and tries once more, so a client making
   * requests back to back is not refused for spend that is already released in memory.
   */
  async reserve(r: ReserveRequest): Promise<boolean> {
    // Every generation ends in a record; while the database cannot take them, at most the store's
    // bound are held in memory and new generations are refused.
    if (this.store.saturated) {
      throw new ApiError(503, 'The database is unavailable and too many generation records are waiting to be written; try again later', undefined, { 'Retry-After': '1' });
    }
    // Nothing can refuse a caller without a key limit while the account is unlimited: no
    // reservation (and no write transaction) on the request path. The settlement still charges
    // the actual cost, capped at whatever limit exists by then, so spend never exceeds a limit
    // set in the meantime.
    if (!r.keyLimited && (await this.accountUnlimited())) return false;
    try {
      await this.tryReserve(r);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 402) || (this.pending.length === 0 && this.inflight === 0)) throw err;
      await this.store.flush().catch(() => undefined);
      await this.tryReserve(r);
    }
    return true;
  }

  /**
   * Whether the account has no credit balance, cached like key rows: until the TTL, a change
   * announced on the bus (invalidateAccount), or a commit by another process on the same file.
   */
  private async accountUnlimited(): Promise<boolean> {
    const now = Date.now();
    const c = this.accountCache;
    if (c && now - c.at <= ACCOUNT_CACHE_MS && c.version === this.sql.externalVersion()) return c.unlimited;
    const version = this.sql.externalVersion();
    let rows: { credits_nano: number | null }[];
    try {
      rows = await this.sql.query<{ credits_nano: number | null }>('SELECT credits_nano FROM account WHERE id = 1');
    } catch (err) {
      // Database unreachable: the last answer stands for another cache period, so callers nothing
      // can refuse keep being served (their records wait in memory). Safe for the limits: a
      // settlement is capped at whatever balance exists when it is written.
      if (!(err instanceof DatabaseUnavailable) || !c) throw err;
      this.accountCache = { ...c, at: now };
      return c.unlimited;
    }
    this.accountCache = { unlimited: rows[0]?.credits_nano == null, at: now, version };
    return this.accountCache.unlimited;
  }

  invalidateAccount(): void {
    this.accountCache = null;
  }

  private async tryReserve(r: ReserveRequest): Promise<void> {
    const now = Date.now();
    const p = periodStarts(now);
    await this.sql.tx(async (q) => {
      let keyNano = 0;
      if (r.dbKey && r.keyHash) {
        const ps = periodStartSql(3, 4, 5);
        const spent = `(CASE WHEN period_start < ${ps} THEN 0 ELSE period_usage_nano END)`;
        const rows = await q.query(
          `UPDATE api_keys SET
             period_usage_nano = ${spent},
             period_start = CASE WHEN period_start < ${ps} THEN ${ps} ELSE period_start END,
             reserved_nano = reserved_nano + $2
           WHERE hash = $1 AND deleted_at IS NULL AND disabled = 0 AND (expires_at IS NULL OR expires_at > $6)
             AND (limit_nano IS NULL OR (limit_nano - ${spent} - reserved_nano >= $2 AND limit_nano - ${spent} - reserved_nano > 0))
           RETURNING hash`,
          [r.keyHash, r.amountNano, p.daily, p.weekly, p.monthly, now],
        );
        if (rows.length === 0) {
          const found = await q.query<KeyRow>('SELECT * FROM api_keys WHERE hash = $1', [r.keyHash]);
          const row = found[0];
          if (!row || !isUsable({ ...row, deleted_at: row.deleted_at ?? null, expires_at: row.expires_at ?? null }, now)) {
            throw new ApiError(401, 'User not found.');
          }
          throw insufficientCredits(r, Number(row.limit_nano) - periodUsage(row, now) - Number(row.reserved_nano));
        }
        keyNano = r.amountNano;
      }
      let accountNano = 0;
      const acc = await q.query(
        `UPDATE account SET reserved_nano = reserved_nano + $1
         WHERE id = 1 AND credits_nano IS NOT NULL AND credits_nano - usage_nano - reserved_nano >= $1 AND credits_nano - usage_nano - reserved_nano > 0
         RETURNING id`,
        [r.amountNano],
      );
      if (acc.length > 0) accountNano = r.amountNano;
      else {
        const a = await q.query<{ credits_nano: number | null; usage_nano: number; reserved_nano: number }>('SELECT credits_nano, usage_nano, reserved_nano FROM account WHERE id = 1');
        if (a[0].credits_nano !== null) throw insufficientCredits(r, Number(a[0].credits_nano) - Number(a[0].usage_nano) - Number(a[0].reserved_nano));
      }
      await q.query(
        `INSERT INTO reservations (id, key_hash, key_nano, account_nano, amount_nano, model, replica, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [r.id, r.keyHash, keyNano, accountNano, r.amountNano, r.model, this.replica, now, now + this.ttl],
      );
    });
  }

  /** Queues the actual cost; committed with the generation record by the store's next flush. */
  settle(s: Settlement): void {
    this.pending.push(s);
    this.store.schedule();
  }

  take(): Settlement[] {
    const out = this.pending;
    this.pending = [];
    this.inflight += out.length;
    return out;
  }

  done(items: Settlement[], committed: boolean): void {
    this.inflight -= items.length;
    if (committed) return;
    for (const s of items) s.retried = true;
    this.pending.unshift(...items);
  }

  async write(q: Queryable, all: Settlement[]): Promise<void> {
    const now = Date.now();
    // 0. Settlements retried after a failed flush: skip those whose earlier transaction did commit.
    const items = all.some((s) => s.retried) ? await unsettled(q, all) : all;
    // 1. Take the reservations out (absent: already reconciled, or never made).
    const released = new Map<string, ReservationRow>();
    const reservedIds = items.filter((s) => s.reserved).map((s) => s.id);
    if (reservedIds.length > 0) for (const r of await takeReservations(q, reservedIds)) released.set(r.id, r);
    // 2. Lock the rows the charges go to: keys in a fixed order, then the account (the same order as reserve).
    const hashes = [...new Set(items.filter((s) => s.dbKey && s.keyHash).map((s) => s.keyHash!))].sort();
    const keys = new Map<string, { limit: number | null; reset: KeyRow['limit_reset']; start: number; spent: number; reserved: number; released: number; charged: number }>();
    for (const h of hashes) {
      const rows = await q.query<KeyRow>(`SELECT * FROM api_keys WHERE hash = $1 ${this.sql.forUpdate}`, [h]);
      const row = rows[0];
      if (!row) continue;
      const start = periodStart(row.limit_reset, now);
      keys.set(h, {
        limit: row.limit_nano === null ? null : Number(row.limit_nano),
        reset: row.limit_reset,
        start: Math.max(Number(row.period_start), start),
        spent: Number(row.period_start) >= start ? Number(row.period_usage_nano) : 0,
        reserved: Number(row.reserved_nano),
        released: 0,
        charged: 0,
      });
    }
    const accRows = await q.query<{ credits_nano: number | null; usage_nano: number; reserved_nano: number }>(
      `SELECT credits_nano, usage_nano, reserved_nano FROM account WHERE id = 1 ${this.sql.forUpdate}`,
    );
    const acc = {
      credits: accRows[0].credits_nano === null ? null : Number(accRows[0].credits_nano),
      usage: Number(accRows[0].usage_nano),
      reserved: Number(accRows[0].reserved_nano),
      released: 0,
      charged: 0,
    };
    // 3. Charge each settlement: the actual cost, capped at the headroom left once its own reservation is released.
    const ledgerRows: unknown[][] = [];
    for (const s of items) {
      const res = released.get(s.id);
      let charged = Math.max(0, s.actualNano);
      const k = s.dbKey && s.keyHash ? keys.get(s.keyHash) : undefined;
      if (k) {
        const r = res ? Number(res.key_nano) : 0;
        k.reserved -= r;
        k.released += r;
        if (k.limit !== null) charged = Math.min(charged, Math.max(0, k.limit - k.spent - k.reserved));
      }
      const ra = res ? Number(res.account_nano) : 0;
      acc.reserved -= ra;
      acc.released += ra;
      if (acc.credits !== null) charged = Math.min(charged, Math.max(0, acc.credits - acc.usage - acc.reserved));
      if (k) {
        k.spent += charged;
        k.charged += charged;
      }
      acc.usage += charged;
      acc.charged += charged;
      if (charged < s.actualNano) {
        this.log.warn({ gen: s.id, actualNano: s.actualNano, chargedNano: charged }, 'actual cost exceeded the reservation and the remaining limit; charge capped at the limit');
      }
      ledgerRows.push([s.id, s.keyHash, charged, s.actualNano, res ? Number(res.amount_nano) : 0, 'settled', s.at]);
    }
    // 4. Write: key counters, account, ledger.
    for (const [h, k] of keys) {
      await q.query(
        `UPDATE api_keys SET reserved_nano = reserved_nano - $2, period_start = $3, period_usage_nano = $4, usage_nano = usage_nano + $5 WHERE hash = $1`,
        [h, k.released, k.start, k.spent, k.charged],
      );
    }
    if (acc.released !== 0 || acc.charged !== 0) {
      await q.query('UPDATE account SET reserved_nano = reserved_nano - $1, usage_nano = usage_nano + $2 WHERE id = 1', [acc.released, acc.charged]);
    }
    await insertLedger(q, ledgerRows, 'DO UPDATE SET charged_nano = excluded.charged_nano, actual_nano = excluded.actual_nano, reserved_nano = excluded.reserved_nano, kind = excluded.kind, created_at = excluded.created_at');
  }

  /** Extends the expiry of every reservation this replica holds. */
  async heartbeat(now = Date.now()): Promise<void> {
    await this.sql.query('UPDATE reservations SET expires_at = $1 WHERE replica = $2', [now + this.ttl, this.replica]);
  }

  /**
   * Frees reservations whose replica stopped extending them: the reserved amount is released,
   * nothing is charged (the actual cost died with the replica), and a generation record and a
   * zero ledger entry say so, unless the real ones exist. Returns how many were reconciled.
   */
  async reconcile(now = Date.now()): Promise<number> {
    return this.sql.tx(async (q) => {
      const rows = await q.query<ReservationRow>(
        'DELETE FROM reservations WHERE expires_at < $1 RETURNING id, key_hash, key_nano, account_nano, amount_nano, model, created_at',
        [now],
      );
      if (rows.length === 0) return 0;
      const perKey = new Map<string, number>();
      let account = 0;
      for (const r of rows) {
        if (r.key_hash && Number(r.key_nano) > 0) perKey.set(r.key_hash, (perKey.get(r.key_hash) ?? 0) + Number(r.key_nano));
        account += Number(r.account_nano);
      }
      for (const h of [...perKey.keys()].sort()) {
        await q.query('UPDATE api_keys SET reserved_nano = reserved_nano - $2 WHERE hash = $1', [h, perKey.get(h)]);
      }
      if (account > 0) await q.query('UPDATE account SET reserved_nano = reserved_nano - $1 WHERE id = 1', [account]);
      await insertLedger(
        q,
        rows.map((r) => [r.id, r.key_hash, 0, 0, Number(r.amount_nano), 'reconciled', now]),
        'DO NOTHING',
      );
      for (const r of rows) {
        const values = COLUMNS_FOR_PLACEHOLDER.values(r.id, Number(r.created_at), r.model ?? '', r.key_hash);
        await q.query(
          `INSERT INTO generations (${COLUMNS_FOR_PLACEHOLDER.columns.join(', ')}) VALUES (${values.map((_v, i) => `$${i + 1}`).join(', ')}) ON CONFLICT (id) DO NOTHING`,
          values,
        );
      }
      this.log.warn({ count: rows.length }, 'reconciled reservations left by a stopped replica (released, not charged)');
      return rows.length;
    });
  }

  /** Outstanding reservations (all replicas); for tests and diagnostics. */
  async outstanding(): Promise<number> {
    const rows = await this.sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM reservations');
    return Number(rows[0].n);
  }
}

function insertLedger(q: Queryable, rows: unknown[][], onConflict: string): Promise<void> {
  return insertRows(q, 'INSERT INTO ledger (id, key_hash, charged_nano, actual_nano, reserved_nano, kind, created_at)', rows, `ON CONFLICT (id) ${onConflict}`, 500);
}

/** The settlements not yet settled (the retried ones are looked up), so that a charge is never applied twice. */
async function unsettled(q: Queryable, items: Settlement[]): Promise<Settlement[]> {
  const ids = items.filter((s) => s.retried).map((s) => s.id);
  const rows =
    q.dialect === 'postgres'
      ? await q.query<{ id: string }>(`SELECT id FROM ledger WHERE id = ANY($1::text[]) AND kind = 'settled'`, [ids])
      : (await Promise.all(ids.map((id) => q.query<{ id: string }>(`SELECT id FROM ledger WHERE id = $1 AND kind = 'settled'`, [id])))).flat();
  const done = new Set(rows.map((r) => r.id));
  return items.filter((s) => !done.has(s.id));
}

/** Deletes the reservations with these ids and returns them; one fixed statement per engine. */
async function takeReservations(q: Queryable, ids: string[]): Promise<ReservationRow[]> {
  const cols = 'RETURNING id, key_hash, key_nano, account_nano, amount_nano';
  if (q.dialect === 'postgres') return q.query<ReservationRow>(`DELETE FROM reservations WHERE id = ANY($1::text[]) ${cols}`, [ids]);
  const out: ReservationRow[] = [];
  for (const id of ids) out.push(...(await q.query<ReservationRow>(`DELETE FROM reservations WHERE id = $1 ${cols}`, [id])));
  return out;
}
