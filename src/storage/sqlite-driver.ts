import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * The SQLite driver under SqliteSql and the checkpoint cycles: Node's built-in `node:sqlite`
 * where the running Node has it (22.13+, 23.4+), `better-sqlite3` otherwise (Node 20). Both are
 * synchronous bindings of the same C library; this seam holds only what the stores use —
 * prepared statements with positional parameters, `exec` (pragmas, BEGIN/COMMIT), the
 * transaction flag, close — and hides where the two differ:
 *
 * - a statement's kind: better-sqlite3 runs a statement that returns rows with `all()` and any
 *   other with `run()` (its `all()` refuses those); node:sqlite's `all()` runs either;
 * - rows: node:sqlite's have no prototype (`Object.create(null)`); the stores only read fields,
 *   so they are passed on as they are;
 * - integers: both return numbers (neither is set to return BigInts); node:sqlite throws for a
 *   value past 2^53 where better-sqlite3 loses precision, and money (nano-dollars) stays far below;
 * - errors: better-sqlite3 names the code (`SQLITE_BUSY_SNAPSHOT`), node:sqlite gives
 *   `ERR_SQLITE_ERROR` with the numeric extended code in `errcode` (isBusy reads both);
 * - defaults: better-sqlite3 is built with a 16 MiB page cache per connection, Node's SQLite with
 *   2 MiB; connections opened here get the former on either driver, so the choice of driver does
 *   not change how the database behaves.
 *
 * `SWITCHYARD_SQLITE_DRIVER=node|better-sqlite3` forces one (tests run the stores with each); a
 * forced driver that is not there is a start-up error saying why.
 */
export type SqliteDriverName = 'node' | 'better-sqlite3';
export type SqliteRow = Record<string, unknown>;

export interface SqliteStatement {
  /** Runs the statement: its rows when it returns any, else []. */
  all(values: unknown[]): SqliteRow[];
  /** The first row, or undefined. */
  get<T = SqliteRow>(values?: unknown[]): T | undefined;
}

export interface SqliteConnection {
  readonly driver: SqliteDriverName;
  prepare(sql: string): SqliteStatement;
  /** One or more statements without parameters or results (pragmas, BEGIN, COMMIT, DDL). */
  exec(sql: string): void;
  readonly inTransaction: boolean;
  readonly open: boolean;
  close(): void;
}

export interface OpenOptions {
  /** Fail instead of creating the file (a second connection to a database another one made). */
  mustExist?: boolean;
}

/** No driver can be loaded (or the forced one cannot): start-up reports it as one line. */
export class SqliteDriverUnavailable extends Error {}

/** SQLite's page cache per connection (KiB, as `PRAGMA cache_size` takes a negative size): better-sqlite3's build default. */
const CACHE_KIB = 16_000;

/** SQLITE_BUSY and its extended codes: another connection holds the lock a statement needs. */
export function isBusy(err: unknown): boolean {
  const e = err as { code?: unknown; errcode?: unknown } | null;
  if (typeof e?.code !== 'string') return false;
  if (e.code === 'ERR_SQLITE_ERROR') return typeof e.errcode === 'number' && (e.errcode & 0xff) === 5;
  return e.code.startsWith('SQLITE_BUSY');
}

// --- node:sqlite (typed here: the project's @types/node is Node 20's, which has no node:sqlite) ---

interface NodeStatement {
  all(...values: unknown[]): SqliteRow[];
  get(...values: unknown[]): SqliteRow | undefined;
}
interface NodeDatabase {
  prepare(sql: string): NodeStatement;
  exec(sql: string): void;
  close(): void;
  readonly isOpen: boolean;
  readonly isTransaction: boolean;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string) => NodeDatabase;
}

/**
 * The built-in module, or why it cannot be used. Node 22.13–22.x prints an ExperimentalWarning
 * when it is first loaded; the driver is the gateway's choice, not the operator's, so that one
 * warning is kept off their console (every other warning passes through).
 */
function loadNodeSqlite(): NodeSqliteModule | string {
  if (typeof process.getBuiltinModule !== 'function') return `Node ${process.version} has no process.getBuiltinModule`;
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/^SQLite is an experimental feature/.test(text)) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  let mod: Partial<NodeSqliteModule> | undefined;
  try {
    mod = process.getBuiltinModule('node:sqlite') as Partial<NodeSqliteModule> | undefined;
  } finally {
    process.emitWarning = emitWarning;
  }
  if (!mod?.DatabaseSync) return `Node ${process.version} has no node:sqlite (it needs 22.13+ or 23.4+)`;
  // `PRAGMA wal_checkpoint(NOOP)` (wal-checkpoints.ts) is SQLite 3.51+; older versions take it for a PASSIVE checkpoint.
  const version = process.versions.sqlite ?? '0';
  if (compareVersions(version, '3.51.0') < 0) return `Node ${process.version} bundles SQLite ${version}; Switchyard needs 3.51+`;
  // Both are accessors of the instance (Node 22.15+/22.16+), not of the prototype.
  const probe = new mod.DatabaseSync(':memory:');
  const complete = typeof probe.isTransaction === 'boolean' && typeof probe.isOpen === 'boolean';
  probe.close();
  if (!complete) return `Node ${process.version}'s node:sqlite lacks isTransaction/isOpen`;
  return mod as NodeSqliteModule;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

class NodeSqliteConnection implements SqliteConnection {
  readonly driver = 'node' as const;
  private readonly db: NodeDatabase;

  constructor(mod: NodeSqliteModule, file: string) {
    this.db = new mod.DatabaseSync(file);
  }

  prepare(sql: string): SqliteStatement {
    const st = this.db.prepare(sql);
    return {
      all: (values) => st.all(...values),
      get: <T>(values: unknown[] = []) => st.get(...values) as T | undefined,
    };
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  get inTransaction(): boolean {
    return this.db.isTransaction;
  }

  get open(): boolean {
    return this.db.isOpen;
  }

  close(): void {
    this.db.close();
  }
}

// --- better-sqlite3 (an optional dependency: installed where node:sqlite is missing) ---

type BetterSqliteModule = typeof BetterSqlite3;

function loadBetterSqlite(): BetterSqliteModule | string {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as BetterSqliteModule;
  } catch (err) {
    return `better-sqlite3 cannot be loaded (${(err as Error).message.split('\n')[0]}); on Node 20 it must be installed (npm install better-sqlite3)`;
  }
}

class BetterSqliteConnection implements SqliteConnection {
  readonly driver = 'better-sqlite3' as const;
  private readonly db: BetterSqlite3.Database;

  constructor(mod: BetterSqliteModule, file: string) {
    this.db = new mod(file);
  }

  prepare(sql: string): SqliteStatement {
    const st = this.db.prepare(sql);
    const all = st.reader
      ? (values: unknown[]) => st.all(...values) as SqliteRow[]
      : (values: unknown[]) => {
          st.run(...values);
          return [];
        };
    return { all, get: <T>(values: unknown[] = []) => st.get(...values) as T | undefined };
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    this.db.close();
  }
}

// --- choice ---

type Opener = { name: SqliteDriverName; open: (file: string) => SqliteConnection };
let chosen: Opener | null = null;

function choose(): Opener {
  const forced = process.env.SWITCHYARD_SQLITE_DRIVER?.trim() || '';
  if (forced !== '' && forced !== 'node' && forced !== 'better-sqlite3') {
    throw new SqliteDriverUnavailable(`SWITCHYARD_SQLITE_DRIVER must be "node" or "better-sqlite3", not "${forced}"`);
  }
  if (forced !== 'better-sqlite3') {
    const mod = loadNodeSqlite();
    if (typeof mod !== 'string') return { name: 'node', open: (file) => new NodeSqliteConnection(mod, file) };
    if (forced === 'node') throw new SqliteDriverUnavailable(`SWITCHYARD_SQLITE_DRIVER=node: ${mod}`);
  }
  const mod = loadBetterSqlite();
  if (typeof mod === 'string') throw new SqliteDriverUnavailable(forced === '' ? `no SQLite driver: ${loadNodeSqlite() as string}, and ${mod}` : `SWITCHYARD_SQLITE_DRIVER=better-sqlite3: ${mod}`);
  return { name: 'better-sqlite3', open: (file) => new BetterSqliteConnection(mod, file) };
}

/** The driver this process uses (chosen once, on first use). */
export function sqliteDriver(): SqliteDriverName {
  return (chosen ??= choose()).name;
}

/** Opens a connection to the database file with the chosen driver. */
export function openSqlite(file: string, opts: OpenOptions = {}): SqliteConnection {
  chosen ??= choose();
  if (opts.mustExist && !existsSync(file)) throw new Error(`SQLite database ${file} does not exist`);
  const conn = chosen.open(file);
  conn.exec(`PRAGMA cache_size = -${CACHE_KIB}`);
  return conn;
}

/** A pragma's single value (`PRAGMA journal_mode` → 'wal'). */
export function pragmaValue(conn: SqliteConnection, pragma: string): unknown {
  const row = conn.prepare(`PRAGMA ${pragma}`).get();
  return row ? Object.values(row)[0] : undefined;
}
