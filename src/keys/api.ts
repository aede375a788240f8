import type { App } from '../app.js';
import type { Caller } from '../auth/keys.js';
import { ApiError } from '../core/errors.js';
import { firstError } from '../core/validation.js';
import { validateCreditsChange, validateKeyCreate, validateKeyPatch } from '../validation/compiled.js';
import type { CreditsChangeBody, KeyCreateBody, KeyPatchBody, RateLimitBody } from './schema.js';
import { parseInterval, type RateLimitSpec } from '../state/rate-limit.js';
import { creditsRangeMessage, nanoToUsd, usdToNano, type LimitReset } from './money.js';
import { apiKeyJson, rateLimitJson, type KeyPatch, type KeyRow } from './store.js';

/**
 * OpenRouter's key API: `GET /key` (the calling key), `GET /credits`, and the management API
 * `/keys`, `/keys/{hash}` (docs/COMPATIBILITY.md#keys-credits-and-limits). Switchyard extensions on create/update: `management`
 * (create a management key) and `rate_limit: {requests, interval, tokens_per_minute}`; and `POST /credits`.
 */
export interface Reply {
  status: number;
  body: unknown;
}


function rateLimitFrom(v: RateLimitBody | undefined): RateLimitSpec | null | undefined {
  if (v === undefined) return undefined;
  if (v === null || (!v.requests && !v.tokens_per_minute)) return null;
  const intervalMs = parseInterval(v.interval ?? '1m');
  if (!intervalMs) throw new ApiError(400, 'rate_limit.interval must be like "10s", "1m", "1h", "1d" or a number of milliseconds');
  return { requests: v.requests ?? null, intervalMs, tokensPerMinute: v.tokens_per_minute ?? null };
}

/** UTC ISO 8601 only (OpenRouter rejects other zones). */
function expiresFrom(v: string | null | undefined, now: number): number | null | undefined {
  if (v === undefined || v === null) return v;
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|\+00:00)$/.test(v)) throw new ApiError(400, 'expires_at must be a UTC ISO 8601 timestamp, e.g. 2027-12-31T23:59:59Z');
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new ApiError(400, 'expires_at is not a valid date');
  if (ms <= now) throw new ApiError(400, 'expires_at must be in the future');
  return ms;
}

/** Usage figures include this replica's generations that ended a moment ago (read-your-writes). */
const settled = (app: App) => app.store.flush().catch(() => undefined);

async function keyJson(app: App, row: KeyRow): Promise<Record<string, unknown>> {
  return apiKeyJson(row, await app.keyStore.usage(row.hash, Date.now(), row));
}

/** `GET /key`: the calling key, any kind (docs/COMPATIBILITY.md#current-key). */
export async function currentKey(app: App, caller: Caller): Promise<Reply> {
  await settled(app);
  const now = Date.now();
  let info: Record<string, unknown>;
  if (caller.source === 'db' && caller.hash) {
    const row = (await app.keyStore.get(caller.hash)) ?? caller.row!;
    const k = await keyJson(app, row);
    info = {
      label: k.label,
      limit: k.limit,
      limit_remaining: k.limit_remaining,
      limit_reset: k.limit_reset,
      include_byok_in_limit: k.include_byok_in_limit,
      usage: k.usage,
      usage_daily: k.usage_daily,
      usage_weekly: k.usage_weekly,
      usage_monthly: k.usage_monthly,
      byok_usage: 0,
      byok_usage_daily: 0,
      byok_usage_weekly: 0,
      byok_usage_monthly: 0,
      is_free_tier: false,
      is_management_key: caller.kind === 'management',
      is_provisioning_key: caller.kind === 'management',
      creator_user_id: row.creator_user_id,
      expires_at: k.expires_at,
      rate_limit: rateLimitJson(caller.rateLimit),
    };
  } else {
    // A configured key, or anyone while auth is off: no per-key limit; usage from the ledger.
    const u = await app.keyStore.usage(caller.hash, now);
    info = {
      label: caller.label ?? 'anonymous',
      limit: null,
      limit_remaining: null,
      limit_reset: null,
      include_byok_in_limit: false,
      usage: nanoToUsd(u.total),
      usage_daily: nanoToUsd(u.daily),
      usage_weekly: nanoToUsd(u.weekly),
      usage_monthly: nanoToUsd(u.monthly),
      byok_usage: 0,
      byok_usage_daily: 0,
      byok_usage_weekly: 0,
      byok_usage_monthly: 0,
      is_free_tier: false,
      is_management_key: caller.kind === 'management',
      is_provisioning_key: caller.kind === 'management',
      creator_user_id: null,
      expires_at: null,
      rate_limit: rateLimitJson(caller.rateLimit ?? app.settings.defaultRateLimit),
    };
  }
  return { status: 200, body: { data: info } };
}

/** `/credits` data: an account without a balance is unlimited (see credits below). */
function creditsJson(creditsNano: number | null, usageNano: number): Record<string, unknown> {
  const data: Record<string, unknown> = {
    total_credits: creditsNano === null ? Number.MAX_SAFE_INTEGER : nanoToUsd(creditsNano),
    total_usage: nanoToUsd(usageNano),
  };
  if (creditsNano === null) data.unlimited = true;
  return data;
}

/**
 * `GET /credits` (docs/COMPATIBILITY.md#credits). An account without a balance (the default) is unlimited: it reports
 * `total_credits` as 9007199254740991 (Number.MAX_SAFE_INTEGER, still a number for SDKs) and
 * `unlimited: true`.
 */
export async function credits(app: App): Promise<Reply> {
  await settled(app);
  const a = await app.keyStore.account();
  return { status: 200, body: { data: creditsJson(a.creditsNano, a.usageNano) } };
}

/**
 * `POST /credits` (Switchyard extension, docs/COMPATIBILITY.md#changing-the-credits): `set` the
 * total (null: unlimited) and/or `add` to it (negative: a correction), applied in one statement;
 * answers the new `/credits`.
 */
export async function changeCredits(app: App, caller: Caller, body: unknown): Promise<Reply> {
  if (!validateCreditsChange(body)) throw new ApiError(400, firstError(validateCreditsChange));
  const b = body as CreditsChangeBody;
  if (b.add === undefined && b.set === undefined) {
    throw new ApiError(400, 'Give add (USD to add; negative to take off) and/or set (the total in USD, or null for unlimited)');
  }
  if (b.set === null && b.add !== undefined) throw new ApiError(400, 'add cannot go with set: null (an unlimited balance has nothing to add to)');
  await settled(app);
  const change = await app.keyStore.changeCredits({
    setNano: b.set === undefined ? undefined : b.set === null ? null : usdToNano(b.set),
    addNano: b.add === undefined ? undefined : usdToNano(b.add),
  });
  if (!change.ok) throw new ApiError(400, `Credits not changed: ${creditsRangeMessage(change.totalNano)}`);
  // This replica stops trusting its cached "unlimited" now; the others hear it on the bus.
  app.ledger.invalidateAccount();
  app.log.info(
    { by: caller.hash, by_label: caller.label, add: b.add, set: b.set, total_credits: change.creditsNano === null ? null : nanoToUsd(change.creditsNano) },
    'credits changed',
  );
  return { status: 200, body: { data: creditsJson(change.creditsNano, change.usageNano) } };
}

export async function listKeys(app: App, url: URL): Promise<Reply> {
  const offsetRaw = url.searchParams.get('offset') ?? '0';
  const offset = Number(offsetRaw);
  if (!Number.isInteger(offset) || offset < 0) throw new ApiError(400, 'offset must be a non-negative integer');
  const inc = url.searchParams.get('include_disabled');
  if (inc !== null && inc !== 'true' && inc !== 'false') throw new ApiError(400, 'include_disabled must be "true" or "false"');
  await settled(app);
  const rows = await app.keyStore.list({ includeDisabled: inc === 'true', offset, limit: 100 });
  const data = [];
  for (const row of rows) data.push(await keyJson(app, row));
  return { status: 200, body: { data } };
}

export async function createKey(app: App, caller: Caller, body: unknown): Promise<Reply> {
  if (!validateKeyCreate(body)) throw new ApiError(400, firstError(validateKeyCreate));
  const b = body as KeyCreateBody;
  const now = Date.now();
  const { row, key } = await app.keyStore.create(
    {
      name: b.name,
      management: b.management === true,
      limitNano: b.limit === undefined || b.limit === null ? null : usdToNano(b.limit),
      limitReset: (b.limit_reset ?? null) as LimitReset | null,
      includeByokInLimit: b.include_byok_in_limit ?? false,
      expiresAt: expiresFrom(b.expires_at, now) ?? null,
      rateLimit: rateLimitFrom(b.rate_limit) ?? null,
      creatorUserId: b.creator_user_id ?? null,
    },
    now,
  );
  app.keys.invalidate();
  app.log.info({ hash: row.hash, by: caller.hash, management: row.is_management === 1 }, 'key created');
  return { status: 201, body: { data: await keyJson(app, row), key } };
}

const HASH = /^[0-9a-f]{64}$/;

async function found(app: App, hash: string): Promise<KeyRow> {
  const row = HASH.test(hash) ? await app.keyStore.get(hash) : null;
  if (!row) throw new ApiError(404, 'Key not found');
  return row;
}

export async function getKey(app: App, hash: string): Promise<Reply> {
  await settled(app);
  return { status: 200, body: { data: await keyJson(app, await found(app, hash)) } };
}

export async function updateKey(app: App, caller: Caller, hash: string, body: unknown): Promise<Reply> {
  await found(app, hash);
  if (!validateKeyPatch(body)) throw new ApiError(400, firstError(validateKeyPatch));
  const b = body as KeyPatchBody;
  const patch: KeyPatch = {
    name: b.name,
    disabled: b.disabled,
    limitNano: b.limit === undefined ? undefined : b.limit === null ? null : usdToNano(b.limit),
    limitReset: b.limit_reset as LimitReset | null | undefined,
    includeByokInLimit: b.include_byok_in_limit,
    expiresAt: expiresFrom(b.expires_at, Date.now()),
    rateLimit: rateLimitFrom(b.rate_limit),
  };
  const row = await app.keyStore.update(hash, patch);
  if (!row) throw new ApiError(404, 'Key not found');
  app.keys.invalidate(hash);
  app.log.info({ hash, by: caller.hash, disabled: row.disabled === 1 }, 'key updated');
  return { status: 200, body: { data: await keyJson(app, row) } };
}

export async function deleteKey(app: App, caller: Caller, hash: string): Promise<Reply> {
  if (!HASH.test(hash) || !(await app.keyStore.delete(hash))) throw new ApiError(404, 'Key not found');
  app.keys.invalidate(hash);
  app.log.info({ hash, by: caller.hash }, 'key deleted');
  return { status: 200, body: { deleted: true } };
}
