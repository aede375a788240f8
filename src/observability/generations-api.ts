import type { App } from '../app.js';
import type { Caller } from '../auth/keys.js';
import { ApiError } from '../core/errors.js';
import { decodeRouting } from '../storage/routing-codec.js';

/**
 * `GET /api/v1/generations` (Switchyard extension): generation records, newest first, one page at
 * a time: what an activity view (the console) or a script lists. A management key (or anyone while
 * auth is off) sees every key's generations; any other key sees its own. Each item is the record's
 * summary in the field names of `GET /generation?id=` (which has the full routing explanation).
 *
 * Filters (all optional, combined with AND):
 * - `key`: a key's hash (64 hex digits, as the key API names it) or its label;
 * - `model`: a catalog model id or alias (the model that served, or was last tried);
 * - `provider`: a provider slug (the one that served, or was last tried);
 * - `status`: comma-separated, any of an HTTP status (`429`), a class (`4xx`), `ok` (below 400 and
 *   not cancelled), `error` (400 or more), `cancelled`;
 * - `api`: `chat_completions`, `messages`, `responses`, `embeddings`;
 * - `from`, `to`: ISO 8601 dates or times, or epoch milliseconds (`from` inclusive, `to` exclusive);
 * - `limit`: 1 to 500 (default 50); `cursor`: the previous page's `next_cursor`.
 */
const MAX_LIMIT = 500;
const DEFAULT_LIMIT = 50;
const APIS = ['chat_completions', 'messages', 'responses', 'embeddings'];

const COLUMNS =
  'id, created_at, api, model, requested_model, provider_name, provider_slug, streamed, cancelled, status, finish_reason, ' +
  'tokens_prompt, tokens_completion, tokens_reasoning, tokens_cached, cost, latency_ms, generation_time_ms, ttft_ms, ' +
  'error_code, error_message, attempts, api_key, api_key_hash, external_user, session_id';

type Row = Record<string, unknown>;

function time(v: string | null, name: string): number | null {
  if (v === null || v === '') return null;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new ApiError(400, `${name} must be an ISO 8601 date or time, or epoch milliseconds`);
  return ms;
}

/** `[createdAt, id]` of the last item of a page, opaque to clients. */
function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'number' && Number.isFinite(createdAt) && typeof id === 'string') return { createdAt, id };
  } catch {
    /* reported below */
  }
  throw new ApiError(400, 'cursor is not one this endpoint returned');
}

export async function listGenerations(app: App, caller: Caller, url: URL): Promise<{ status: number; body: unknown }> {
  const q = url.searchParams;
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (caller.kind !== 'management' && caller.kind !== 'anonymous') where.push(`api_key_hash = ${param(caller.hash)}`);

  const limitRaw = q.get('limit');
  const limit = limitRaw === null || limitRaw === '' ? DEFAULT_LIMIT : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new ApiError(400, `limit must be an integer from 1 to ${MAX_LIMIT}`);

  const key = q.get('key');
  if (key) where.push(/^[0-9a-f]{64}$/i.test(key) ? `api_key_hash = ${param(key.toLowerCase())}` : `api_key = ${param(key)}`);
  const model = q.get('model');
  if (model) where.push(`model = ${param(app.settings.catalog.resolve(model)?.id ?? model)}`);
  const provider = q.get('provider');
  if (provider) where.push(`provider_slug = ${param(provider)}`);
  const api = q.get('api');
  if (api) {
    if (!APIS.includes(api)) throw new ApiError(400, `api must be one of ${APIS.join(', ')}`);
    // Rows from before the front door was recorded are chat completions.
    where.push(api === 'chat_completions' ? `(api = ${param(api)} OR api IS NULL)` : `api = ${param(api)}`);
  }
  const status = q.get('status');
  if (status) where.push(`(${status.split(',').map((s) => statusCondition(s.trim().toLowerCase(), param)).join(' OR ')})`);
  const from = time(q.get('from'), 'from');
  const to = time(q.get('to'), 'to');
  if (from !== null) where.push(`created_at >= ${param(from)}`);
  if (to !== null) where.push(`created_at < ${param(to)}`);
  const cursor = q.get('cursor');
  if (cursor) {
    const c = decodeCursor(cursor);
    const at = param(c.createdAt);
    where.push(`(created_at < ${at} OR (created_at = ${at} AND id < ${param(c.id)}))`);
  }

  // Records are written in batches: the ones still queued are committed first, so a request that
  // just ended is listed.
  await app.store.flush().catch(() => undefined);
  const rows = await app.sql.query<Row>(
    `SELECT ${COLUMNS} FROM generations ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${param(limit + 1)}`,
    params,
  );
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return {
    status: 200,
    body: { data: page.map(item), has_more: more, next_cursor: more && last ? encodeCursor(Number(last.created_at), String(last.id)) : null },
  };
}

function statusCondition(s: string, param: (v: unknown) => string): string {
  if (/^\d{3}$/.test(s)) return `status = ${param(Number(s))}`;
  if (/^[1-5]xx$/.test(s)) {
    const base = Number(s[0]) * 100;
    return `(status >= ${param(base)} AND status < ${param(base + 100)})`;
  }
  if (s === 'ok') return '(status < 400 AND cancelled = 0)';
  if (s === 'error') return 'status >= 400';
  if (s === 'cancelled') return 'cancelled = 1';
  throw new ApiError(400, `status must be a list of HTTP statuses (429), classes (4xx), ok, error or cancelled; got "${s}"`);
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** One record's summary; its upstream attempts (not the skipped endpoints: see GET /generation). */
function item(r: Row): Record<string, unknown> {
  let attempts: Record<string, unknown>[] = [];
  try {
    // The head of the stored explanation holds every attempt; the shared tail only skipped or untried endpoints.
    attempts = decodeRouting(String(r.attempts))
      .filter((a) => a.outcome === undefined || a.outcome === 'served' || a.outcome === 'failed')
      .map((a) => ({ provider_name: a.provider, endpoint: a.endpoint, model: a.model, status: a.status, outcome: a.outcome ?? (a.status === 200 ? 'served' : 'failed'), latency: a.latencyMs }));
  } catch {
    /* an unreadable explanation lists no attempts */
  }
  const code = num(r.error_code);
  return {
    id: r.id,
    created_at: new Date(Number(r.created_at)).toISOString(),
    api: r.api ?? 'chat_completions',
    model: r.model,
    requested_model: r.requested_model,
    provider_name: r.provider_name ?? null,
    provider: r.provider_slug ?? null,
    api_key: r.api_key ?? null,
    api_key_hash: r.api_key_hash ?? null,
    status: num(r.status),
    cancelled: Number(r.cancelled) === 1,
    streamed: Number(r.streamed) === 1,
    finish_reason: r.finish_reason ?? null,
    tokens_prompt: num(r.tokens_prompt),
    tokens_completion: num(r.tokens_completion),
    native_tokens_reasoning: num(r.tokens_reasoning),
    native_tokens_cached: num(r.tokens_cached),
    total_cost: Number(r.cost ?? 0),
    latency: num(r.latency_ms),
    generation_time: num(r.generation_time_ms),
    ttft: num(r.ttft_ms),
    attempts,
    error: code !== null ? { code, message: r.error_message ?? null } : null,
    external_user: r.external_user ?? null,
    session_id: r.session_id ?? null,
  };
}
