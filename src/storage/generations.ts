import { decodeRouting, encodeRouting, routingTailId, type ProviderAttempt, type TailStore } from './routing-codec.js';
import { insertRoutingLists, RoutingLists } from './routing-lists.js';
import { insertRows, type Queryable, type Sql } from './sql.js';

export type { ProviderAttempt } from './routing-codec.js';

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
  /** SHA-256 hex of the key that made the request (the key API's `hash`); decides who may read the record. */
  apiKeyHash?: string | null;
  externalUser: string | null;
  userAgent: string | null;
  httpReferer: string | null;
  serviceTier: string | null;
  sessionId: string | null;
  /** The front door: chat_completions, messages, responses or embeddings (null: rows from before it was recorded). */
  api?: string | null;
  /** What the pipeline changed about the request: hosted tools left out, max_tokens clamped. */
  notes?: string[];
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
  'api_key_hash',
  'api',
  'notes',
] as const;

export type GenerationRow = Record<(typeof COLUMNS)[number], unknown>;

/** The row of a record; with `tails`, the routing explanation's shared tail is stored by reference. */
export function toRow(r: GenerationRecord, tails?: TailStore): unknown[] {
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
    encodeRouting(r.attempts, tails),
    r.apiKey,
    r.externalUser,
    r.userAgent,
    r.httpReferer,
    r.serviceTier,
    r.sessionId,
    r.apiKeyHash ?? null,
    r.api ?? null,
    r.notes && r.notes.length > 0 ? JSON.stringify(r.notes) : null,
  ];
}

/** The record of a row; `tail` gives the text of the routing explanation's shared tail, if it has one. */
export function fromRow(row: GenerationRow, tail?: (id: string) => string | undefined): GenerationRecord {
  return {
    id: row.id as string,
    createdAt: Number(row.created_at),
    model: row.model as string,
    requestedModel: row.requested_model as string,
    providerName: row.provider_name as string | null,
    providerSlug: row.provider_slug as string | null,
    upstreamId: row.upstream_id as string | null,
    streamed: Number(row.streamed) === 1,
    cancelled: Number(row.cancelled) === 1,
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
    attempts: decodeRouting(row.attempts as string, tail),
    apiKey: row.api_key as string | null,
    externalUser: row.external_user as string | null,
    userAgent: row.user_agent as string | null,
    httpReferer: row.http_referer as string | null,
    serviceTier: row.service_tier as string | null,
    sessionId: row.session_id as string | null,
    apiKeyHash: (row.api_key_hash as string | null) ?? null,
    api: (row.api as string | null) ?? null,
    notes: typeof row.notes === 'string' ? (JSON.parse(row.notes) as string[]) : [],
  };
}


/**
 * Something written in the same transaction as a batch of generation records (the ledger's
 * settlements): `take` hands over what is pending, `write` stores it, and `done` is told whether
 * the transaction committed (false: the items are pending again and retried with the next batch).
 */
export interface BatchParticipant<T = unknown> {
  take(): T[];
  write(q: Queryable, items: T[]): Promise<void>;
  done(items: T[], committed: boolean): void;
}

const INSERT_CHUNK = 400; // rows per multi-row INSERT (32 columns: well under PostgreSQL's 65,535 parameters)

/**
 * Generation records, written off the request path: `save` queues a record in memory and a
 * flush writes every queued record in one transaction per interval (group commit), together with
 * the ledger settlements of the same generations, so records and spend are committed atomically.
 * Look-ups see queued records too, so a record is readable the moment its response ends.
 *
 * Durability: a record is *acknowledged* once the transaction holding it commits (`flush()` /
 * `acknowledged()` resolve). Acknowledged records survive the process being killed. A generation
 * whose record was still queued when its replica died is not lost without trace either: its
 * reservation (written before any upstream call) is reconciled into a record marked as such.
 */
export class GenerationStore {
  /**
   * Records queued since the last flush began, and the batch that flush is writing. A flush takes
   * the whole map and starts a new one instead of deleting what it wrote: a long-lived map that
   * every record enters and leaves made V8's young-generation collector keep records alive until
   * the next full collection (see OpenRequests in http/server.ts for the same effect, measured).
   */
  private pending = new Map<string, GenerationRecord>();
  /** Shared tails of the records' routing explanations (routing-lists.ts). */
  private readonly routingLists = new RoutingLists();
  private writing: Map<string, GenerationRecord> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private readonly participants: BatchParticipant[] = [];
  private closed = false;
  private failures = 0;
  /** Why the last flush failed, while flushes fail (the database is down: readiness says so). */
  private lastError: string | null = null;
  /** Told of each failed flush (with the number of failures in a row), and of the first commit after failures. */
  onError: (err: unknown, failures: number) => void = () => undefined;
  onRecovered: (written: number) => void = () => undefined;

  constructor(
    readonly sql: Sql,
    private readonly flushIntervalMs = 50,
    /**
     * Records held in memory while flushes fail. Past it `saturated` is true and new generations
     * are refused (Ledger.reserve): records of generations already admitted are still queued,
     * never dropped.
     */
    readonly maxQueued = 50_000,
  ) {}

  /** As many records are waiting as the bound allows: no new generation should start. */
  get saturated(): boolean {
    return this.queued >= this.maxQueued;
  }

  /** Why writing records fails, while it does; null when the last flush committed. */
  get failing(): string | null {
    return this.lastError;
  }

  addParticipant(p: BatchParticipant): void {
    this.participants.push(p);
  }

  save(record: GenerationRecord): void {
    this.pending.set(record.id, record);
    this.schedule();
  }

  /** Asks for a flush soon (participants call this when they queue work of their own). */
  schedule(delayMs = this.flushIntervalMs): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush().catch(() => undefined);
    }, delayMs);
    this.timer.unref();
  }

  async get(id: string): Promise<GenerationRecord | null> {
    const queued = this.pending.get(id) ?? this.writing?.get(id);
    if (queued) return queued;
    const rows = await this.sql.query<GenerationRow>('SELECT * FROM generations WHERE id = $1', [id]);
    if (!rows[0]) return null;
    const tailId = routingTailId(rows[0].attempts as string);
    const tail = tailId === null ? null : await this.routingLists.text(this.sql, tailId);
    return fromRow(rows[0], () => tail ?? undefined);
  }

  /** Writes everything queued so far; resolves once it is committed. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const taken = this.participants.map((p) => p.take());
    if (this.pending.size === 0 && taken.every((t) => t.length === 0)) return;
    const writing = this.pending;
    this.pending = new Map();
    this.writing = writing;
    const batch = [...writing.values()];
    this.flushing = (async () => {
      let committed = false;
      try {
        const tails = new Map<string, string>();
        await this.sql.tx(async (q) => {
          tails.clear();
          await insertRecords(q, batch, this.routingLists, tails);
          for (const [i, p] of this.participants.entries()) if (taken[i].length > 0) await p.write(q, taken[i]);
        });
        this.routingLists.stored(tails.keys());
        committed = true;
        if (this.failures > 0) this.onRecovered(batch.length);
        this.failures = 0;
        this.lastError = null;
      } catch (err) {
        this.failures++;
        this.lastError = (err as Error).message;
        this.onError(err, this.failures);
        throw err;
      } finally {
        for (const [i, p] of this.participants.entries()) if (taken[i].length > 0) p.done(taken[i], committed);
        // A failed batch goes back in front of what was queued meanwhile (a newer version of a
        // record, queued during the flush, wins).
        if (!committed) this.pending = new Map([...writing, ...this.pending]);
        this.writing = null;
        this.flushing = null;
        // Anything queued meanwhile (or a failed batch) goes out with the next flush; failures back
        // off, up to a second: the records are written soon after the database is back.
        if (this.pending.size > 0 || !committed) this.schedule(committed ? this.flushIntervalMs : Math.min(1000, this.flushIntervalMs * 2 ** this.failures));
      }
    })();
    return this.flushing;
  }

  /** Resolves when every record queued before the call is committed. */
  acknowledged(): Promise<void> {
    return this.flush();
  }

  async count(): Promise<number> {
    await this.flush();
    const rows = await this.sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM generations');
    return Number(rows[0].n);
  }

  get queued(): number {
    return this.pending.size + (this.writing?.size ?? 0);
  }

  /**
   * Final flush; the SQL connection itself belongs to the app. While the database fails it is
   * retried for up to `retryMs`, so records held through an outage get their chance to be written.
   */
  async close(retryMs = 5000): Promise<void> {
    const deadline = Date.now() + retryMs;
    try {
      for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
        try {
          await this.flush();
          break;
        } catch (err) {
          if (Date.now() + wait > deadline) throw err;
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    } finally {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
    }
  }
}

const INSERT_HEAD = `INSERT INTO generations (${COLUMNS.join(', ')})`;
const INSERT_TAIL = `ON CONFLICT (id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'id')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ')}`;

/** Writes the records, and first the routing tails they refer to that are not known to be stored (collected in `tails`). */
async function insertRecords(q: Queryable, records: GenerationRecord[], lists: RoutingLists, tails: Map<string, string>): Promise<void> {
  const store = lists.batch(tails);
  const rows = records.map((r) => toRow(r, store));
  if (tails.size > 0) await insertRoutingLists(q, tails);
  await insertRows(q, INSERT_HEAD, rows, INSERT_TAIL, INSERT_CHUNK);
}

/**
 * The record written for a generation whose replica stopped before it finished (its reservation
 * was reconciled): nothing is known but its id, start, model and key; cost 0, status 500.
 */
export function placeholderRecord(id: string, createdAt: number, model: string, keyHash: string | null): GenerationRecord {
  return {
    id,
    createdAt,
    model,
    requestedModel: model,
    providerName: null,
    providerSlug: null,
    upstreamId: null,
    streamed: false,
    cancelled: true,
    status: 500,
    finishReason: null,
    nativeFinishReason: null,
    tokensPrompt: null,
    tokensCompletion: null,
    tokensCached: null,
    tokensReasoning: null,
    cost: 0,
    promptCost: 0,
    completionCost: 0,
    latencyMs: null,
    generationTimeMs: null,
    ttftMs: null,
    errorCode: 500,
    errorMessage: 'reconciled: the replica serving this generation stopped before recording it; its reservation was released without charge',
    attempts: [],
    apiKey: null,
    externalUser: null,
    userAgent: null,
    httpReferer: null,
    serviceTier: null,
    sessionId: null,
    apiKeyHash: keyHash,
  };
}

export const COLUMNS_FOR_PLACEHOLDER = {
  columns: [...COLUMNS],
  values: (id: string, createdAt: number, model: string, keyHash: string | null): unknown[] => toRow(placeholderRecord(id, createdAt, model, keyHash)),
};
