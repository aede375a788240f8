import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type pgTypes from 'pg';
import { WalCheckpoints, type WalCheckpointOptions } from './wal-checkpoints.js';
import { isBusy, openSqlite, type SqliteConnection, type SqliteDriverName, type SqliteStatement } from './sqlite-driver.js';

// node-postgres is loaded only when a PostgreSQL URL is configured: an embedded-default process
// does not pay its memory (a few MiB) for a driver it never uses.
const require = createRequire(import.meta.url);
let pgModule: typeof pgTypes | null = null;
const loadPg = (): typeof pgTypes => (pgModule ??= require('pg') as typeof pgTypes);

/**
 * The one SQL seam under every store: the embedded SQLite file (node:sqlite or better-sqlite3,
 * sqlite-driver.ts) or a PostgreSQL server (node-postgres). Statements are written once, with PostgreSQL's `$1…$n` placeholders and
 * the portable subset of SQL both engines share (`INSERT … ON CONFLICT`, `RETURNING`, `CASE`);
 * `dialect` lets the few engine-specific spots (row locks, date formatting) pick their variant.
 * Money is stored as integer nano-dollars (BIGINT), never as floating point.
 */
export type Dialect = 'sqlite' | 'postgres';
export type Row = Record<string, unknown>;

export interface Queryable {
  readonly dialect: Dialect;
  query<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Sql extends Queryable {
  /** Runs fn in one transaction (committed when it resolves, rolled back when it throws). */
  tx<T>(fn: (q: Queryable) => Promise<T>, opts?: TxOptions): Promise<T>;
  /** `FOR UPDATE` on PostgreSQL; SQLite transactions are already exclusive (BEGIN IMMEDIATE). */
  readonly forUpdate: string;
  close(): Promise<void>;
  /** PostgreSQL LISTEN; absent on SQLite (its processes share a bus through the cluster primary, or none). */
  listen?(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  notify?(channel: string, payload: string): Promise<void>;
  /** After the LISTEN connection was lost and is back (PostgreSQL). */
  onListenRestored?(fn: () => void): void;
  /**
   * The configuration version (`account.config_version`): bumped in the same statement as every
   * change to keys or credits, by whatever process makes it (the CLI, another worker). Caches of
   * key rows and of the balance compare it to notice such changes without reading those tables;
   * read at most every 5 ms on SQLite. Constant on PostgreSQL, where changes come over the bus.
   */
  externalVersion(): number;
  readonly description: string;
}

/**
 * Inserts rows in the shape each engine writes fastest: one prepared single-row statement per row
 * on SQLite (inside the caller's transaction that is what SQLite recommends, and the statement
 * text never varies, so it is prepared once), multi-row statements of up to `chunk` rows on
 * PostgreSQL (one round trip per chunk).
 */
export async function insertRows(q: Queryable, head: string, rows: unknown[][], tail: string, chunk = 400): Promise<void> {
  if (rows.length === 0) return;
  if (q.dialect === 'sqlite') {
    const text = `${head} VALUES (${rows[0].map((_v, i) => `$${i + 1}`).join(', ')}) ${tail}`;
    for (const row of rows) await q.query(text, row);
    return;
  }
  for (let start = 0; start < rows.length; start += chunk) {
    const part = rows.slice(start, start + chunk);
    const params: unknown[] = [];
    const tuples = part.map((r) => {
      const base = params.length;
      params.push(...r);
      return `(${r.map((_v, j) => `$${base + j + 1}`).join(', ')})`;
    });
    await q.query(`${head} VALUES ${tuples.join(', ')} ${tail}`, params);
  }
}

const MAX_STATEMENTS = 512; // distinct statement texts kept prepared; beyond that the cache starts over

/** How long a statement waits for another process's write lock before it fails with SQLITE_BUSY. */
const LOCK_WAIT_MS = 5000;


const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SqliteSql implements Sql {
  readonly dialect = 'sqlite' as const;
  readonly forUpdate = '';
  readonly description: string;
  private readonly db: SqliteConnection;
  private readonly statements = new Map<string, { st: SqliteStatement; order: number[] }>();
  private chain: Promise<unknown> = Promise.resolve();
  /** Checkpoints with their fsyncs off the event loop (wal-checkpoints.ts); null: SQLite's own. */
  readonly checkpoints: WalCheckpoints | null = null;
  private checkpointQueued = false;

  constructor(dataDir: string, opts: { checkpoints?: WalCheckpointOptions | false } = {}) {
    mkdirSync(dataDir, { recursive: true });
    const file = sqliteFile(dataDir);
    this.description = `sqlite:${file}`;
    this.db = openSqlite(file);
    // Opening may wait for another connection (the switch to WAL, a recovery) under SQLite's busy
    // timeout; afterwards the connection has none, and withLock waits instead.
    this.db.exec('PRAGMA busy_timeout = 5000');
    this.db.exec('PRAGMA journal_mode = WAL');
    // WAL + NORMAL: a committed transaction survives the process being killed (kill -9); only an
    // operating-system crash or power loss can drop the last few commits.
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.db.exec('PRAGMA busy_timeout = 0');
    if (opts.checkpoints) this.checkpoints = new WalCheckpoints(file, this.db, opts.checkpoints);
  }

  /** After each commit of this process: queues a checkpoint cycle behind the writes when one is due. */
  private committed(): void {
    if (this.checkpointQueued || !this.checkpoints?.due()) return;
    this.checkpointQueued = true;
    const checkpoints = this.checkpoints;
    this.chain = this.chain.then(() => checkpoints.run()).finally(() => {
      this.checkpointQueued = false;
    });
  }

  /** The driver under this connection (sqlite-driver.ts). */
  get driver(): SqliteDriverName {
    return this.db.driver;
  }

  private versionStatement: SqliteStatement | null = null;
  private versionRead = { value: 0, at: -Infinity };

  externalVersion(): number {
    const now = performance.now();
    if (now - this.versionRead.at < 5) return this.versionRead.value;
    let value = 0;
    try {
      this.versionStatement ??= this.db.prepare('SELECT config_version FROM account WHERE id = 1');
      value = Number(this.versionStatement.get()?.config_version ?? 0);
    } catch (err) {
      // Busy (rare in WAL mode): the last value stands until the next read.
      if (isBusy(err)) return this.versionRead.value;
      // Not migrated yet: nothing is cached before the schema exists anyway.
      this.versionStatement = null;
    }
    this.versionRead = { value, at: now };
    return value;
  }

  /** The prepared statement for a `$n` statement text, converted and prepared once. */
  private prepare(sql: string): { st: SqliteStatement; order: number[] } {
    let hit = this.statements.get(sql);
    if (!hit) {
      const order: number[] = [];
      const text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
        order.push(Number(n) - 1);
        return '?';
      });
      if (this.statements.size >= MAX_STATEMENTS) this.statements.clear();
      hit = { st: this.db.prepare(text), order };
      this.statements.set(sql, hit);
    }
    return hit;
  }

  /**
   * Resolves, with a release function, once every write queued before the call is done; writes
   * queued after it wait until release is called (the cluster primary checkpoints meanwhile).
   */
  holdWrites(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = this.chain.then(() => release);
    this.chain = held.then(() => released);
    return held;
  }

  /** Synchronous core, also used inside transactions. */
  run<T>(sql: string, params: unknown[] = []): T[] {
    const { st, order } = this.prepare(sql);
    const values = new Array<unknown>(order.length);
    for (let i = 0; i < order.length; i++) {
      const v = params[order[i]];
      values[i] = typeof v === 'boolean' ? (v ? 1 : 0) : v === undefined ? null : v;
    }
    return st.all(values) as T[];
  }

  /**
   * Runs `attempt` until it does not fail for a lock another process holds (the other workers of
   * `serve --workers N`, the CLI), waiting on timers between tries, for up to LOCK_WAIT_MS.
   * SQLite's own busy handler (busy_timeout) sleeps in the calling thread, 1 ms and more per try:
   * with two workers flushing records into one file, their main threads slept there tens of times
   * a second, every request in flight waiting (strace: 1–7 ms per sleep). So the connection has
   * no busy timeout, and a busy lock is waited for here, with the event loop free.
   */
  private async withLock<T>(attempt: () => T): Promise<T> {
    const deadline = performance.now() + LOCK_WAIT_MS;
    for (let wait = 1; ; wait = Math.min(wait * 2, 16)) {
      try {
        return attempt();
      } catch (err) {
        if (!isBusy(err) || performance.now() >= deadline) throw err;
      }
      await pause(wait);
    }
  }

  /** Reads run at once; writes wait for any open transaction, so they never join (or roll back with) it. */
  query<T = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (/^\s*SELECT\b/i.test(sql)) {
      try {
        return Promise.resolve(this.run<T>(sql, params));
      } catch (err) {
        // In WAL mode a read is busy only in rare moments (another connection recovering the log).
        return isBusy(err) ? this.withLock(() => this.run<T>(sql, params)) : Promise.reject(err);
      }
    }
    const next = this.chain.then(async () => {
      const rows = await this.withLock(() => this.run<T>(sql, params));
      this.committed();
      return rows;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  /**
   * Transactions are serialised in-process (one connection) and BEGIN IMMEDIATE takes SQLite's
   * write lock up front, so another process on the same file (the CLI, the other workers of
   * `serve --workers N`) waits for it (withLock). Once it holds the lock, nothing in the
   * transaction can be busy: WAL readers never block a writer. A deferred BEGIN would not be safe there:
   * a transaction that reads and then writes fails with SQLITE_BUSY(_SNAPSHOT) when another process
   * committed in between, and the busy handler does not retry a lock upgrade. Statements outside a
   * transaction (autocommit) take their locks afresh and are retried by withLock.
   */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const next = this.chain.then(async () => {
      await this.withLock(() => this.db.exec('BEGIN IMMEDIATE'));
      const inner: Queryable = { dialect: 'sqlite', query: async <R = Row>(text: string, params: unknown[] = []) => this.run<R>(text, params) };
      try {
        const out = await fn(inner);
        this.db.exec('COMMIT');
        this.committed();
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.chain;
    const closeMain = () => {
      if (this.db.open) this.db.close();
    };
    if (this.checkpoints) await this.checkpoints.close(closeMain);
    else closeMain();
  }
}

const BIGINT_OID = 20;
const NUMERIC_OID = 1700;

/**
 * The database could not be used (unreachable, connection cut, no answer in time), as opposed to
 * a statement that failed on its own: the operation is worth retrying later, and a request that
 * needed it gets a 503 (http/server.ts).
 */
export class DatabaseUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnavailable';
  }
}

/** SQLSTATE classes of a server that cannot serve: connection exception, insufficient resources, operator intervention (shutdown, statement_timeout), system error. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57|58)/;

/** Whether a node-postgres error is about the connection (or its bound) rather than the statement. */
function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof loadPg().DatabaseError) return UNAVAILABLE_SQLSTATE.test(err.code ?? '');
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, …
  return /connection|terminated|timeout|not queryable|end on the pool/i.test(err.message);
}

export interface TxOptions {
  /** No statement timeout (migrations, which may rebuild large tables). */
  unbounded?: boolean;
}

export interface PostgresOptions {
  max?: number;
  /** Opening a connection, TLS and authentication included (pg's connectionTimeoutMillis). */
  connectTimeoutMs?: number;
  /** One statement: the server's statement_timeout, and how long the client waits for its answer (query_timeout). */
  queryTimeoutMs?: number;
  /** Told when the LISTEN connection is lost (with why) and when it is back, re-subscribed. */
  onListener?: (event: 'lost' | 'restored', err?: Error) => void;
}

/** How often the LISTEN connection proves it is alive: a connection the network silently dropped is otherwise noticed only by TCP, after many minutes. */
const LISTENER_HEARTBEAT_MS = 15_000;
const LISTENER_RETRY_MAX_MS = 5000;

export class PostgresSql implements Sql {
  readonly dialect = 'postgres' as const;
  readonly forUpdate = 'FOR UPDATE';
  readonly description: string;
  readonly pool: pgTypes.Pool;
  readonly queryTimeoutMs: number;
  private readonly clientConfig: pgTypes.ClientConfig;
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private readonly restored = new Set<() => void>();
  private readonly onListener: PostgresOptions['onListener'];
  /** The dedicated LISTEN connection (not a pooled one: it lives for the whole process, and is replaced when lost). */
  private listener: pgTypes.Client | null = null;
  private listenerRetry: NodeJS.Timeout | null = null;
  private listenerRetryMs = 100;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(url: string, opts: PostgresOptions = {}) {
    const u = new URL(url);
    this.description = `postgres://${u.host}${u.pathname}`;
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 10_000;
    this.onListener = opts.onListener;
    const pg = loadPg();
    this.clientConfig = {
      connectionString: url,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      statement_timeout: this.queryTimeoutMs,
      keepAlive: true,
      // BIGINT (nano-dollars, ms timestamps) and NUMERIC (SUMs) arrive as strings by default.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === BIGINT_OID || oid === NUMERIC_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pgTypes.types.getTypeParser,
      },
    };
    this.pool = new pg.Pool({ ...this.clientConfig, max: opts.max ?? 10 });
    // An idle client losing its server connection must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  /** The error to throw for a failed call: connection failures become DatabaseUnavailable, statement errors stay as they are. */
  private failure(err: unknown): unknown {
    if (err instanceof DatabaseUnavailable || !isConnectionFailure(err)) return err;
    return new DatabaseUnavailable(`PostgreSQL (${this.description}): ${(err as Error).message}`, { cause: err });
  }

  private statement(text: string, values: unknown[], timeoutMs = this.queryTimeoutMs): pgTypes.QueryConfig {
    // query_timeout: the client's own bound, for a server that does not answer at all (statement_timeout cannot fire there).
    return timeoutMs > 0 ? ({ text, values, query_timeout: timeoutMs } as pgTypes.QueryConfig) : { text, values };
  }

  async query<T = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      const r = await this.pool.query(this.statement(sql, params));
      return r.rows as T[];
    } catch (err) {
      throw this.failure(err);
    }
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>, opts: TxOptions = {}): Promise<T> {
    let client: pgTypes.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.failure(err);
    }
    // A checked-out client has no listener of the pool's: without one, losing the connection
    // mid-transaction would be an unhandled 'error' event, which ends the process.
    let broken: Error | null = null;
    const onError = (err: Error) => (broken ??= err);
    client.on('error', onError);
    const timeoutMs = opts.unbounded ? 0 : this.queryTimeoutMs;
    const q: Queryable = {
      dialect: 'postgres',
      query: async <R = Row>(sql: string, params: unknown[] = []) => {
        try {
          return (await client.query(this.statement(sql, params, timeoutMs))).rows as R[];
        } catch (err) {
          throw this.failure(err);
        }
      },
    };
    try {
      await q.query('BEGIN');
      if (opts.unbounded) await q.query('SET LOCAL statement_timeout = 0');
      const out = await fn(q);
      await q.query('COMMIT');
      return out;
    } catch (err) {
      // After a connection failure or a timeout the connection's state is unknown: it is closed
      // (the server rolls back), never handed to the next caller.
      if (err instanceof DatabaseUnavailable) broken ??= err;
      if (!broken) await client.query(this.statement('ROLLBACK', [])).catch((e: Error) => (broken ??= e));
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken ?? undefined);
    }
  }

  async listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    const added = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(onMessage);
    if (!this.listener && !this.listenerRetry) await this.openListener();
    else if (added && this.listener) await this.listenOn(this.listener, channel);
    return async () => {
      set.delete(onMessage);
    };
  }

  /** Called each time the LISTEN connection is back after a loss (notifications sent meanwhile were missed). */
  onListenRestored(fn: () => void): void {
    this.restored.add(fn);
  }

  private async listenOn(client: pgTypes.Client, channel: string): Promise<void> {
    try {
      await client.query(this.statement(`LISTEN ${loadPg().escapeIdentifier(channel)}`, []));
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** Connects the LISTEN connection and subscribes it to every channel; throws when that fails. */
  private async openListener(): Promise<void> {
    const client = new (loadPg().Client)(this.clientConfig);
    client.on('error', (err) => this.listenerLost(client, err));
    client.on('end', () => this.listenerLost(client, new Error('connection ended')));
    client.on('notification', (n) => {
      for (const h of this.handlers.get(n.channel) ?? []) {
        try {
          h(n.payload ?? '');
        } catch {
          // A subscriber's failure is its own; the connection goes on.
        }
      }
    });
    try {
      await client.connect();
      for (const channel of this.handlers.keys()) await this.listenOn(client, channel);
    } catch (err) {
      client.removeAllListeners('end');
      client.end().catch(() => undefined);
      throw this.failure(err);
    }
    if (this.closed) {
      client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.heartbeat = setInterval(() => {
      client.query(this.statement('SELECT 1', [])).catch((err: Error) => this.listenerLost(client, err));
    }, LISTENER_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private listenerLost(client: pgTypes.Client, err: Error): void {
    if (client !== this.listener) return; // still opening (openListener throws) or already replaced
    this.listener = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.onListener?.('lost', err);
    this.listenerRetryMs = 100;
    this.retryListener();
  }

  private retryListener(): void {
    this.listenerRetry = setTimeout(() => {
      void this.openListener().then(
        () => {
          this.listenerRetry = null;
          if (this.closed) return;
          this.onListener?.('restored');
          for (const fn of this.restored) fn();
        },
        () => {
          if (this.closed) return;
          this.listenerRetryMs = Math.min(this.listenerRetryMs * 2, LISTENER_RETRY_MAX_MS);
          this.retryListener();
        },
      );
    }, this.listenerRetryMs);
    this.listenerRetry.unref();
  }

  externalVersion(): number {
    return 0;
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.listenerRetry) clearTimeout(this.listenerRetry);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const listener = this.listener;
    this.listener = null;
    if (listener) await listener.end().catch(() => undefined);
    await this.pool.end();
  }
}

export interface OpenSqlOptions {
  databaseUrl: string | null;
  dataDir: string;
  /** PostgreSQL: bounds and the LISTEN connection's events. */
  postgres?: PostgresOptions;
  /** SQLite: checkpoint with the fsyncs off the event loop (a serving process that is the file's main writer). */
  checkpoints?: WalCheckpointOptions | false;
}

const isPostgresUrl = (url: string | null): url is string => url !== null && /^postgres(ql)?:\/\//.test(url);

/** The embedded database's file in a data directory. */
export const sqliteFile = (dataDir: string): string => join(dataDir, 'switchyard.sqlite');

/** The SQLite file these settings open, or null when they name a PostgreSQL server. */
export function sqliteFileOf(opts: Pick<OpenSqlOptions, 'databaseUrl' | 'dataDir'>): string | null {
  return isPostgresUrl(opts.databaseUrl) ? null : sqliteFile(opts.dataDir);
}

export function openSql(opts: OpenSqlOptions): Sql {
  if (isPostgresUrl(opts.databaseUrl)) return new PostgresSql(opts.databaseUrl, opts.postgres);
  return new SqliteSql(opts.dataDir, { checkpoints: opts.checkpoints });
}
