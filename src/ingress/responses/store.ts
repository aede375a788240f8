import type { GenerationRequest } from '../../model/request.js';
import { insertRows, type Queryable, type Sql } from '../../storage/sql.js';
import { responsesErrorBody, setInputResolver } from './codec.js';
import { responsesContextOf } from './context.js';
import { responseIdOfItem } from './encode.js';
import { isObj, type Json } from './schema.js';
import type { InputResolver } from './to-model.js';

/**
 * Stored responses (table `stored_responses`, storage/migrations.ts): what `previous_response_id`
 * continues and `item_reference` points into, in the shared database, so any replica can answer.
 *
 * Each row holds one response: its own input items (item references resolved), its output items
 * as generated (reasoning envelopes included whatever the client's `include` said), the response
 * object for GET, and the response it continued. A conversation is the chain of rows up to the
 * first: one recursive query reads it. Saving a response extends the expiry of its whole chain to
 * its own, so a conversation expires as a whole; a deleted response that others continue stays as
 * a tombstone (hidden from GET, DELETE, previous_response_id and item_reference) until then.
 *
 * Rows belong to the key that made them (`key_hash`; '' without keys): another key is told the
 * response does not exist. `store: false` responses are not saved.
 *
 * Saves are group-committed: the answers finished in one turn of the event loop (and those that
 * finish while a batch is being written) share one transaction. A transaction per answer (its
 * commit writing the table's and three indexes' pages to the WAL, and the checkpoints after) was
 * most of what `store: true` cost in CPU (bench/README.md). Each save still resolves only once its
 * batch is committed, and the door sends the answer's last bytes after that: a follow-up sent the
 * moment an answer ends finds it on any replica or worker process, which answers kept in this
 * process until written later could not promise. Waiting costs the answer a commit of latency,
 * not CPU.
 */

export const DEFAULT_RESPONSE_TTL_MS = 30 * 24 * 3600 * 1000;
/** Longest chain followed: beyond it a conversation is treated as lost (404). */
const MAX_CHAIN = 10_000;

export interface ResponseStoreOptions {
  /** How long a stored response lives (default 30 days). */
  ttlMs?: number;
  now?: () => number;
}

export interface StoredResponse {
  id: string;
  createdAt: number;
  expiresAt: number;
  previousResponseId: string | null;
  /** The request's own input items, item references resolved. */
  input: Json[];
  /** Output items, complete. */
  output: Json[];
  /** The response object (its `output` is `output` above). */
  response: Json;
}

/** What save() writes: normally taken from a request's Responses context (saveRequest). */
export interface ResponseRecord {
  previousResponseId: string | null;
  /** The request's input items (item references resolved), or their JSON text. */
  input: Json[] | string;
  /** The complete response object (`id`, `output`, …). */
  response: Json;
}

interface Row {
  id: string;
  created_at: number;
  expires_at: number;
  previous_response_id: string | null;
  input_items: string;
  output_items: string;
  response: string;
}

const owner = (hash: string | null | undefined) => hash ?? '';

const INSERT_HEAD = 'INSERT INTO stored_responses (id, key_hash, created_at, expires_at, previous_response_id, input_items, output_items, response)';
/** Rows per multi-row INSERT on PostgreSQL (a row holds a whole request's input). */
const INSERT_CHUNK = 50;

/** A save waiting for its batch's commit. */
interface QueuedSave {
  row: unknown[];
  previousResponseId: string | null;
  expires: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const CHAIN = `WITH RECURSIVE chain(id, previous_response_id, depth) AS (
    SELECT id, previous_response_id, 0 FROM stored_responses WHERE id = $1 AND key_hash = $2 AND deleted = 0 AND expires_at > $3
    UNION ALL
    SELECT r.id, r.previous_response_id, c.depth + 1 FROM stored_responses r JOIN chain c ON r.id = c.previous_response_id
    WHERE r.key_hash = $2 AND c.depth < $4
  )
  SELECT r.id, r.previous_response_id, r.input_items, r.output_items, c.depth FROM chain c JOIN stored_responses r ON r.id = c.id ORDER BY c.depth DESC`;

const EXTEND_CHAIN = `UPDATE stored_responses SET expires_at = $1 WHERE expires_at < $1 AND id IN (
    WITH RECURSIVE chain(id, previous_response_id, depth) AS (
      SELECT id, previous_response_id, 0 FROM stored_responses WHERE id = $2
      UNION ALL
      SELECT r.id, r.previous_response_id, c.depth + 1 FROM stored_responses r JOIN chain c ON r.id = c.previous_response_id WHERE c.depth < $3
    )
    SELECT id FROM chain
  )`;

const parseList = (text: string): Json[] => {
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? (v as Json[]) : [];
};

const notFoundBody = (message: string) => responsesErrorBody({ status: 404, message });

/** Output items as a client sees them: reasoning envelopes only when `include` asks. */
function visibleItems(items: Json[], include: readonly string[]): Json[] {
  if (include.includes('reasoning.encrypted_content')) return items;
  return items.map((item) => {
    if (item.type !== 'reasoning' || item.encrypted_content === undefined) return item;
    const { encrypted_content: _e, ...rest } = item;
    return rest;
  });
}

export class ResponseStore {
  private readonly ttlMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  /** Saves for the next batch; replaced, not emptied, when a batch is taken (see GenerationStore). */
  private queued: QueuedSave[] = [];
  /** The batch being written (never rejects: its saves are told). */
  private writing: Promise<void> | null = null;
  private writingCount = 0;
  private writeScheduled = false;
  private readonly writeSoon = () => {
    this.writeScheduled = false;
    void this.writeQueued();
  };
  /** Called with a failed periodic cleanup's error. */
  onError: (err: unknown) => void = () => undefined;

  constructor(
    private readonly sql: Sql,
    opts: ResponseStoreOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_RESPONSE_TTL_MS;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Loads what a request body refers to (its previous_response_id's conversation, its
   * item_references) for the key making it, and leaves a resolver for the codec's parse() of this
   * same body object. Call before parse(). Nothing to load: null. What is not found (or not this
   * key's) is reported by parse() as a 404 naming the field.
   */
  async prepare(body: unknown, ownerHash: string | null): Promise<InputResolver | null> {
    if (!isObj(body)) return null;
    const previousId = typeof body.previous_response_id === 'string' && body.previous_response_id !== '' ? body.previous_response_id : null;
    const refs = Array.isArray(body.input) ? (body.input as unknown[]).filter((i): i is Json => isObj(i) && i.type === 'item_reference' && typeof i.id === 'string').map((i) => i.id as string) : [];
    if (previousId === null && refs.length === 0) return null;
    const conversation = previousId === null ? null : await this.conversation(previousId, ownerHash);
    const items = new Map<string, Json>();
    const byResponse = new Map<string, StoredResponse | null>();
    for (const id of refs) {
      if (items.has(id)) continue;
      const responseId = responseIdOfItem(id);
      if (responseId === null) continue;
      if (!byResponse.has(responseId)) byResponse.set(responseId, await this.load(responseId, ownerHash));
      const found = byResponse.get(responseId)?.output.find((i) => i.id === id);
      if (found) items.set(id, found);
    }
    const resolver: InputResolver = {
      previous: (id) => (id === previousId && conversation ? conversation : undefined),
      item: (id) => items.get(id),
    };
    setInputResolver(body, resolver);
    return resolver;
  }

  /**
   * Saves the finished response of a request parsed by the Responses front door, when it asked to
   * be stored (`store` not false) and finished (completed or incomplete; failed ones are not kept).
   * True when saved.
   */
  async saveRequest(req: GenerationRequest, ownerHash: string | null): Promise<boolean> {
    const ctx = responsesContextOf(req);
    if (!ctx || !ctx.store || !ctx.input || !ctx.stored) return false;
    const status = ctx.stored.status;
    if (status !== 'completed' && status !== 'incomplete') return false;
    await this.save({ previousResponseId: ctx.previousResponseId, input: ctx.input, response: ctx.stored }, ownerHash);
    return true;
  }

  /**
   * Writes one response (a retried save of the same id changes nothing) and extends its chain's
   * expiry, in the next batch. Resolves once committed; rejects, with the batch, when it fails.
   */
  save(record: ResponseRecord, ownerHash: string | null): Promise<void> {
    const { output, ...rest } = record.response;
    const now = this.now();
    const expires = now + this.ttlMs;
    const row = [
      String(record.response.id),
      owner(ownerHash),
      now,
      expires,
      record.previousResponseId,
      typeof record.input === 'string' ? record.input : JSON.stringify(record.input),
      JSON.stringify(Array.isArray(output) ? output : []),
      JSON.stringify(rest),
    ];
    return new Promise((resolve, reject) => {
      this.queued.push({ row, previousResponseId: record.previousResponseId, expires, resolve, reject });
      this.scheduleWrite();
    });
  }

  /** Saves queued or being written. */
  get pending(): number {
    return this.queued.length + this.writingCount;
  }

  /** Resolves once every save made before the call is committed or has failed (shutdown waits here). */
  async flush(): Promise<void> {
    while (this.writing || this.queued.length > 0) await (this.writing ?? this.writeQueued());
  }

  /** A batch at the end of this turn of the event loop, or after the one being written. */
  private scheduleWrite(): void {
    if (this.writeScheduled || this.writing) return;
    this.writeScheduled = true;
    setImmediate(this.writeSoon);
  }

  private writeQueued(): Promise<void> {
    if (this.writing) return this.writing;
    const batch = this.queued;
    if (batch.length === 0) return Promise.resolve();
    this.queued = [];
    this.writingCount = batch.length;
    this.writing = this.writeBatch(batch)
      .then(
        () => {
          for (const s of batch) s.resolve();
        },
        (err: unknown) => {
          for (const s of batch) s.reject(err);
        },
      )
      .finally(() => {
        this.writing = null;
        this.writingCount = 0;
        if (this.queued.length > 0) this.scheduleWrite();
      });
    return this.writing;
  }

  private writeBatch(batch: QueuedSave[]): Promise<void> {
    return this.sql.tx(async (q: Queryable) => {
      await insertRows(q, INSERT_HEAD, batch.map((s) => s.row), 'ON CONFLICT (id) DO NOTHING', INSERT_CHUNK);
      for (const s of batch) if (s.previousResponseId !== null) await q.query(EXTEND_CHAIN, [s.expires, s.previousResponseId, MAX_CHAIN]);
    });
  }

  /** One stored response of this key (null: unknown, another key's, expired or deleted). */
  async load(id: string, ownerHash: string | null): Promise<StoredResponse | null> {
    const rows = await this.sql.query<Row>(
      'SELECT id, created_at, expires_at, previous_response_id, input_items, output_items, response FROM stored_responses WHERE id = $1 AND key_hash = $2 AND deleted = 0 AND expires_at > $3',
      [id, owner(ownerHash), this.now()],
    );
    const row = rows[0];
    if (!row) return null;
    const output = parseList(row.output_items);
    const response = JSON.parse(row.response) as Json;
    response.output = output;
    return {
      id: row.id,
      createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at),
      previousResponseId: row.previous_response_id,
      input: parseList(row.input_items),
      output,
      response,
    };
  }

  /**
   * The items a request continuing `id` starts from: every input and output item of the chain
   * ending with `id`, oldest first. Null when `id` is not this key's live response, or its chain
   * is broken.
   */
  async conversation(id: string, ownerHash: string | null): Promise<Json[] | null> {
    const rows = await this.sql.query<{ id: string; previous_response_id: string | null; input_items: string; output_items: string }>(CHAIN, [
      id,
      owner(ownerHash),
      this.now(),
      MAX_CHAIN,
    ]);
    if (rows.length === 0 || rows[0].previous_response_id !== null) return null;
    const items: Json[] = [];
    for (const row of rows) {
      for (const item of parseList(row.input_items)) items.push(item);
      for (const item of parseList(row.output_items)) items.push(item);
    }
    return items;
  }

  /** An output item of one of this key's stored responses, by item id. */
  async resolveItem(id: string, ownerHash: string | null): Promise<Json | null> {
    const responseId = responseIdOfItem(id);
    if (responseId === null) return null;
    const stored = await this.load(responseId, ownerHash);
    return stored?.output.find((i) => i.id === id) ?? null;
  }

  /**
   * Deletes a response of this key. One that another stored response continues is kept, hidden,
   * until its conversation expires; a hidden one left with nothing continuing it goes too. False
   * when there was no such response.
   */
  async delete(id: string, ownerHash: string | null): Promise<boolean> {
    const now = this.now();
    return this.sql.tx(async (q) => {
      const rows = await q.query<{ previous_response_id: string | null }>(
        `SELECT previous_response_id FROM stored_responses WHERE id = $1 AND key_hash = $2 AND deleted = 0 AND expires_at > $3 ${this.sql.forUpdate}`,
        [id, owner(ownerHash), now],
      );
      if (rows.length === 0) return false;
      let current: string | null = id;
      let previous: string | null = rows[0].previous_response_id;
      while (current !== null) {
        const children = await q.query('SELECT id FROM stored_responses WHERE previous_response_id = $1 LIMIT 1', [current]);
        if (children.length > 0) {
          await q.query('UPDATE stored_responses SET deleted = 1 WHERE id = $1', [current]);
          break;
        }
        await q.query('DELETE FROM stored_responses WHERE id = $1', [current]);
        if (previous === null) break;
        // The response it continued: gone with it if it was only kept for this one.
        const parent: { previous_response_id: string | null; deleted: number }[] = await q.query('SELECT previous_response_id, deleted FROM stored_responses WHERE id = $1', [previous]);
        if (parent.length === 0 || Number(parent[0].deleted) !== 1) break;
        current = previous;
        previous = parent[0].previous_response_id;
      }
      return true;
    });
  }

  /** Removes expired responses (every replica may run it). Returns how many went. */
  async cleanup(): Promise<number> {
    const rows = await this.sql.query<{ id: string }>('DELETE FROM stored_responses WHERE expires_at <= $1 RETURNING id', [this.now()]);
    return rows.length;
  }

  /** Runs cleanup() every `intervalMs` (default one hour) until stop(); the timer does not hold the process. */
  startCleanup(intervalMs = 3600_000): void {
    this.stop();
    this.timer = setInterval(() => {
      this.cleanup().catch((err: unknown) => this.onError(err));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  // --- HTTP bodies (the routes are wired by the server) --------------------------------------

  /** `GET /responses/{id}[?include[]=reasoning.encrypted_content]`: the response object, or OpenAI's 404. */
  async getBody(id: string, ownerHash: string | null, include: readonly string[] = []): Promise<{ status: number; body: unknown }> {
    const stored = await this.load(id, ownerHash);
    if (!stored) return notFoundBody(`Response with id '${id}' not found.`);
    return { status: 200, body: { ...stored.response, output: visibleItems(stored.output, include) } };
  }

  /** `DELETE /responses/{id}`: `{id, object:"response", deleted:true}`, or OpenAI's 404. */
  async deleteBody(id: string, ownerHash: string | null): Promise<{ status: number; body: unknown }> {
    if (!(await this.delete(id, ownerHash))) return notFoundBody(`Response with id '${id}' not found.`);
    return { status: 200, body: { id, object: 'response', deleted: true } };
  }

  /** `GET /responses/{id}/input_items`: the request's own input items as a list (`order` asc or desc, default desc as OpenAI). */
  async inputItemsBody(id: string, ownerHash: string | null, order: 'asc' | 'desc' = 'desc'): Promise<{ status: number; body: unknown }> {
    const stored = await this.load(id, ownerHash);
    if (!stored) return notFoundBody(`Response with id '${id}' not found.`);
    const data = order === 'asc' ? stored.input : stored.input.slice().reverse();
    const ids = data.map((i) => (typeof i.id === 'string' ? i.id : null));
    return { status: 200, body: { object: 'list', data, first_id: ids[0] ?? null, last_id: ids[ids.length - 1] ?? null, has_more: false } };
  }
}
