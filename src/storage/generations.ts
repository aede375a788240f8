import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface ProviderAttempt {
  provider: string; // display name
  endpoint: string; // endpoint tag, e.g. "groq" or "moonshotai/turbo"
  model: string;
  status: number | null; // upstream HTTP status; null when no response (network error, timeout)
  latencyMs: number;
  error?: string;
  /** Routing explanation: served/failed attempts, plus endpoints skipped by filters or never reached. */
  outcome?: 'served' | 'failed' | 'skipped' | 'not tried';
  reason?: string;
}

export interface GenerationRecord {
  id: string;
  createdAt: number; // ms
  model: string; // model that served (or was last tried)
  requestedModel: string;
  providerName: string | null;
  providerSlug: string | null;
  upstreamId: string | null;
  streamed: boolean;
  cancelled: boolean;
  status: number; // what the client was told (HTTP status, or error code inside a committed response)
  finishReason: string | null;
  nativeFinishReason: string | null;
  tokensPrompt: number | null;
  tokensCompletion: number | null;
  tokensCached: number | null;
  tokensReasoning: number | null;
  cost: number;
  promptCost: number;
  completionCost: number;
  latencyMs: number | null;
  generationTimeMs: number | null;
  ttftMs: number | null;
  errorCode: number | null;
  errorMessage: string | null;
  attempts: ProviderAttempt[];
  apiKey: string | null; // label of the key that made the request
  externalUser: string | null;
  userAgent: string | null;
  httpReferer: string | null;
  serviceTier: string | null;
  sessionId: string | null;
}

const COLUMNS = [
  'id',
  'created_at',
  'model',
  'requested_model',
  'provider_name',
  'provider_slug',
  'upstream_id',
  'streamed',
  'cancelled',
  'status',
  'finish_reason',
  'native_finish_reason',
  'tokens_prompt',
  'tokens_completion',
  'tokens_cached',
  'tokens_reasoning',
  'cost',
  'prompt_cost',
  'completion_cost',
  'latency_ms',
  'generation_time_ms',
  'ttft_ms',
  'error_code',
  'error_message',
  'attempts',
  'api_key',
  'external_user',
  'user_agent',
  'http_referer',
  'service_tier',
  'session_id',
] as const;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS generations (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
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
  cost REAL NOT NULL,
  prompt_cost REAL NOT NULL,
  completion_cost REAL NOT NULL,
  latency_ms INTEGER,
  generation_time_ms INTEGER,
  ttft_ms INTEGER,
  error_code INTEGER,
  error_message TEXT,
  attempts TEXT NOT NULL,
  api_key TEXT,
  external_user TEXT,
  user_agent TEXT,
  http_referer TEXT,
  service_tier TEXT,
  session_id TEXT
);
CREATE INDEX IF NOT EXISTS generations_created ON generations(created_at);
`;

type Row = Record<(typeof COLUMNS)[number], unknown>;

function toRow(r: GenerationRecord): unknown[] {
  return [
    r.id,
    r.createdAt,
    r.model,
    r.requestedModel,
    r.providerName,
    r.providerSlug,
    r.upstreamId,
    r.streamed ? 1 : 0,
    r.cancelled ? 1 : 0,
    r.status,
    r.finishReason,
    r.nativeFinishReason,
    r.tokensPrompt,
    r.tokensCompletion,
    r.tokensCached,
    r.tokensReasoning,
    r.cost,
    r.promptCost,
    r.completionCost,
    r.latencyMs,
    r.generationTimeMs,
    r.ttftMs,
    r.errorCode,
    r.errorMessage,
    JSON.stringify(r.attempts),
    r.apiKey,
    r.externalUser,
    r.userAgent,
    r.httpReferer,
    r.serviceTier,
    r.sessionId,
  ];
}

function fromRow(row: Row): GenerationRecord {
  return {
    id: row.id as string,
    createdAt: row.created_at as number,
    model: row.model as string,
    requestedModel: row.requested_model as string,
    providerName: row.provider_name as string | null,
    providerSlug: row.provider_slug as string | null,
    upstreamId: row.upstream_id as string | null,
    streamed: row.streamed === 1,
    cancelled: row.cancelled === 1,
    status: row.status as number,
    finishReason: row.finish_reason as string | null,
    nativeFinishReason: row.native_finish_reason as string | null,
    tokensPrompt: row.tokens_prompt as number | null,
    tokensCompletion: row.tokens_completion as number | null,
    tokensCached: row.tokens_cached as number | null,
    tokensReasoning: row.tokens_reasoning as number | null,
    cost: row.cost as number,
    promptCost: row.prompt_cost as number,
    completionCost: row.completion_cost as number,
    latencyMs: row.latency_ms as number | null,
    generationTimeMs: row.generation_time_ms as number | null,
    ttftMs: row.ttft_ms as number | null,
    errorCode: row.error_code as number | null,
    errorMessage: row.error_message as string | null,
    attempts: JSON.parse(row.attempts as string) as ProviderAttempt[],
    apiKey: row.api_key as string | null,
    externalUser: row.external_user as string | null,
    userAgent: row.user_agent as string | null,
    httpReferer: row.http_referer as string | null,
    serviceTier: row.service_tier as string | null,
    sessionId: row.session_id as string | null,
  };
}

/**
 * Generation records in SQLite, written off the request path: records queue in memory and are
 * flushed in one transaction per interval. Look-ups see queued records too, so a record is
 * readable the moment its response ends. A crash can lose at most one flush interval of records.
 */
export class GenerationStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;
  private pending = new Map<string, GenerationRecord>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    dataDir: string,
    private readonly flushIntervalMs = 50,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'switchyard.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.insert = this.db.prepare(
      `INSERT OR REPLACE INTO generations (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
    );
    this.select = this.db.prepare('SELECT * FROM generations WHERE id = ?');
  }

  save(record: GenerationRecord): void {
    this.pending.set(record.id, record);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.flushIntervalMs);
      this.timer.unref();
    }
  }

  get(id: string): GenerationRecord | null {
    const queued = this.pending.get(id);
    if (queued) return queued;
    const row = this.select.get(id) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.db.transaction((records: GenerationRecord[]) => {
      for (const r of records) this.insert.run(...toRow(r));
    })(batch);
    for (const r of batch) if (this.pending.get(r.id) === r) this.pending.delete(r.id);
  }

  count(): number {
    this.flush();
    return (this.db.prepare('SELECT COUNT(*) AS n FROM generations').get() as { n: number }).n;
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}
