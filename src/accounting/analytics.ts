import type { App } from '../app.js';
import type { Caller } from '../auth/keys.js';
import { ApiError } from '../core/errors.js';

/**
 * `GET /api/v1/analytics/usage?group_by=key|model|provider|day|hour&from=&to=` (Switchyard extension):
 * request, token and cost totals from the generation records, per key, model, provider, UTC day or
 * UTC hour. Two dimensions, comma-separated, give a series over time per group (`group_by=hour,model`:
 * at most one of them a time bucket), what the console's charts draw.
 * A management key (or anyone while auth is off) sees every key; any other key sees its own usage.
 * `from` / `to`: ISO 8601 dates or times, or epoch milliseconds; default: the last 30 days.
 */
const GROUPS = ['key', 'model', 'provider', 'day', 'hour'] as const;
type Group = (typeof GROUPS)[number];
const TIME_GROUPS: readonly Group[] = ['day', 'hour'];

function groupsOf(v: string | null): Group[] {
  const groups = (v ?? 'day').split(',').map((g) => g.trim()) as Group[];
  const known = groups.every((g) => GROUPS.includes(g));
  if (!known || groups.length > 2 || new Set(groups).size !== groups.length || groups.filter((g) => TIME_GROUPS.includes(g)).length > 1) {
    throw new ApiError(400, `group_by must be one of ${GROUPS.join(', ')}, or two of them comma-separated (at most one of day, hour)`);
  }
  return groups;
}

function time(v: string | null, fallback: number, name: string): number {
  if (v === null || v === '') return fallback;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new ApiError(400, `${name} must be an ISO 8601 date or epoch milliseconds`);
  return ms;
}

export async function usageAnalytics(app: App, caller: Caller, url: URL): Promise<{ status: number; body: unknown }> {
  const groups = groupsOf(url.searchParams.get('group_by'));
  const now = Date.now();
  const to = time(url.searchParams.get('to'), now, 'to');
  const from = time(url.searchParams.get('from'), to - 30 * 86_400_000, 'from');
  if (from >= to) throw new ApiError(400, 'from must be before to');
  const day =
    app.sql.dialect === 'postgres'
      ? `to_char(to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
      : `strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')`;
  const hour =
    app.sql.dialect === 'postgres'
      ? `to_char(to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":00:00Z"')`
      : `strftime('%Y-%m-%dT%H:00:00Z', created_at / 1000, 'unixepoch')`;
  const column = { key: 'api_key_hash', model: 'model', provider: 'provider_slug', day, hour };
  const buckets = groups.map((g, i) => `${column[g]} AS bucket${i}`).join(', ');
  const groupBy = groups.map((g) => column[g]).join(', ');
  const timeFirst = groups.findIndex((g) => TIME_GROUPS.includes(g));
  const order = timeFirst >= 0 ? `bucket${timeFirst}, cost DESC${groups.length > 1 ? `, bucket${1 - timeFirst}` : ''}` : 'cost DESC, bucket0';
  const params: unknown[] = [from, to];
  let scope = '';
  if (caller.kind !== 'management' && caller.kind !== 'anonymous') {
    params.push(caller.hash);
    scope = `AND api_key_hash = $${params.length}`;
  }
  await app.store.flush().catch(() => undefined);
  const rows = await app.sql.query<Record<string, unknown>>(
    `SELECT ${buckets}, MAX(api_key) AS label, MAX(provider_name) AS provider_name, COUNT(*) AS requests,
            SUM(COALESCE(tokens_prompt, 0)) AS prompt_tokens, SUM(COALESCE(tokens_completion, 0)) AS completion_tokens,
            SUM(COALESCE(tokens_reasoning, 0)) AS reasoning_tokens, SUM(COALESCE(tokens_cached, 0)) AS cached_tokens,
            SUM(cost) AS cost, SUM(CASE WHEN error_code IS NOT NULL THEN 1 ELSE 0 END) AS errors, SUM(cancelled) AS cancelled
       FROM generations WHERE created_at >= $1 AND created_at < $2 ${scope}
      GROUP BY ${groupBy} ORDER BY ${order}`,
    params,
  );
  const data = rows.map((r) => {
    const out: Record<string, unknown> = {};
    groups.forEach((g, i) => (out[g] = r[`bucket${i}`] ?? null));
    if (groups.includes('key')) out.label = r.label ?? null;
    if (groups.includes('provider')) out.provider_name = r.provider_name ?? null;
    out.requests = Number(r.requests);
    out.prompt_tokens = Number(r.prompt_tokens ?? 0);
    out.completion_tokens = Number(r.completion_tokens ?? 0);
    out.reasoning_tokens = Number(r.reasoning_tokens ?? 0);
    out.cached_tokens = Number(r.cached_tokens ?? 0);
    out.cost = Number(Number(r.cost ?? 0).toFixed(9));
    out.errors = Number(r.errors ?? 0);
    out.cancelled = Number(r.cancelled ?? 0);
    return out;
  });
  return {
    status: 200,
    body: { data, group_by: groups.join(','), from: new Date(from).toISOString(), to: new Date(to).toISOString() },
  };
}
