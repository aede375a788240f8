import type { Queryable, Sql } from './sql.js';

/**
 * One schema, one list of migrations, for SQLite and PostgreSQL alike. Each migration is a list of
 * statements in the SQL both engines accept (BIGINT, DOUBLE PRECISION, TEXT, INTEGER booleans).
 * Applied versions are kept in `schema_migrations`; on PostgreSQL the whole run holds an advisory
 * lock, so replicas starting together apply each migration once.
 *
 * Money columns end in `_nano`: integer nano-dollars (1e-9 USD), so budgets add up exactly.
 */
export const MIGRATIONS: { version: number; name: string; statements: string[] }[] = [
  {
    version: 1,
    name: 'generations',
    statements: [
      `CREATE TABLE IF NOT EXISTS generations (
        id TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL,
        model TEXT NOT NULL,
        requested_model TEXT NOT NULL,
        provider_name TEXT,
        provider_slug TEXT,
        upstream_id TEXT,
        streamed INTEGER NOT NULL,
        cancelled INTEGER NOT NULL,
        status INTEGER NOT NULL,
        finish_reason TEXT,
        native_finish_reason TEXT,
        tokens_prompt INTEGER,
        tokens_completion INTEGER,
        tokens_cached INTEGER,
        tokens_reasoning INTEGER,
        cost DOUBLE PRECISION NOT NULL,
        prompt_cost DOUBLE PRECISION NOT NULL,
        completion_cost DOUBLE PRECISION NOT NULL,
        latency_ms BIGINT,
        generation_time_ms BIGINT,
        ttft_ms BIGINT,
        error_code INTEGER,
        error_message TEXT,
        attempts TEXT NOT NULL,
        api_key TEXT,
        external_user TEXT,
        user_agent TEXT,
        http_referer TEXT,
        service_tier TEXT,
        session_id TEXT
      )`,
      'CREATE INDEX IF NOT EXISTS generations_created ON generations(created_at)',
    ],
  },
  {
    version: 2,
    name: 'keys, account, reservations, ledger',
    statements: [
      'ALTER TABLE generations ADD COLUMN api_key_hash TEXT',
      'CREATE INDEX IF NOT EXISTS generations_key_created ON generations(api_key_hash, created_at)',
      `CREATE TABLE api_keys (
        hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        label TEXT NOT NULL,
        is_management INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        deleted_at BIGINT,
        limit_nano BIGINT,
        limit_reset TEXT,
        include_byok_in_limit INTEGER NOT NULL DEFAULT 0,
        period_start BIGINT NOT NULL DEFAULT 0,
        period_usage_nano BIGINT NOT NULL DEFAULT 0,
        reserved_nano BIGINT NOT NULL DEFAULT 0,
        usage_nano BIGINT NOT NULL DEFAULT 0,
        rl_requests INTEGER,
        rl_interval_ms BIGINT,
        rl_tokens_per_minute INTEGER,
        created_at BIGINT NOT NULL,
        updated_at BIGINT,
        expires_at BIGINT,
        creator_user_id TEXT
      )`,
      `CREATE TABLE account (
        id INTEGER PRIMARY KEY,
        credits_nano BIGINT,
        usage_nano BIGINT NOT NULL DEFAULT 0,
        reserved_nano BIGINT NOT NULL DEFAULT 0,
        updated_at BIGINT
      )`,
      'INSERT INTO account (id, credits_nano, usage_nano, reserved_nano) VALUES (1, NULL, 0, 0)',
      `CREATE TABLE reservations (
        id TEXT PRIMARY KEY,
        key_hash TEXT,
        key_nano BIGINT NOT NULL,
        account_nano BIGINT NOT NULL,
        amount_nano BIGINT NOT NULL,
        model TEXT,
        replica TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      )`,
      'CREATE INDEX reservations_expiry ON reservations(expires_at)',
      'CREATE INDEX reservations_replica ON reservations(replica)',
      `CREATE TABLE ledger (
        id TEXT PRIMARY KEY,
        key_hash TEXT,
        charged_nano BIGINT NOT NULL,
        actual_nano BIGINT NOT NULL,
        reserved_nano BIGINT NOT NULL,
        kind TEXT NOT NULL,
        created_at BIGINT NOT NULL
      )`,
      'CREATE INDEX ledger_key_created ON ledger(key_hash, created_at)',
    ],
  },
  {
    version: 3,
    name: 'configuration version',
    // Bumped with every key or credits change, so caches in other processes notice it (Sql.externalVersion).
    statements: ['ALTER TABLE account ADD COLUMN config_version BIGINT NOT NULL DEFAULT 0'],
  },
  {
    version: 4,
    name: 'routing lists',
    // The shared tails of generations.attempts (storage/routing-codec.ts), keyed by a hash of their text.
    statements: ['CREATE TABLE routing_lists (id TEXT PRIMARY KEY, body TEXT NOT NULL)'],
  },
  {
    version: 5,
    name: 'generation front door and notes',
    // Which API the request came through (chat_completions, messages, responses), and what the
    // pipeline changed about it (hosted tools left out, max_tokens clamped), as JSON.
    statements: ['ALTER TABLE generations ADD COLUMN api TEXT', 'ALTER TABLE generations ADD COLUMN notes TEXT'],
  },
  {
    version: 6,
    name: 'stored responses',
    // OpenAI Responses kept for previous_response_id and item_reference (ingress/responses/store.ts):
    // one row per response, its own input and output items as JSON, chained by previous_response_id.
    statements: [
      `CREATE TABLE stored_responses (
        id TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        previous_response_id TEXT,
        input_items TEXT NOT NULL,
        output_items TEXT NOT NULL,
        response TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0
      )`,
      'CREATE INDEX stored_responses_expiry ON stored_responses(expires_at)',
      'CREATE INDEX stored_responses_previous ON stored_responses(previous_response_id)',
    ],
  },
];

async function applied(q: Queryable): Promise<Set<number>> {
  await q.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
  const rows = await q.query<{ version: number }>('SELECT version FROM schema_migrations');
  return new Set(rows.map((r) => Number(r.version)));
}

/** Applies the missing migrations in order, each in its own transaction. Returns the versions applied. */
export async function migrate(sql: Sql): Promise<number[]> {
  const done: number[] = [];
  await sql.tx(async (q) => {
    // 0x5377 'Sw': one migrator at a time across replicas; released at commit.
    if (q.dialect === 'postgres') await q.query('SELECT pg_advisory_xact_lock(21367, 1)');
    const have = await applied(q);
    for (const m of MIGRATIONS) {
      if (have.has(m.version)) continue;
      for (const statement of m.statements) await q.query(statement);
      await q.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      done.push(m.version);
    }
  }, { unbounded: true });
  return done;
}
