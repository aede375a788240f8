import { ConfigError, envStem, loadSettings, type LoadOptions, type ProviderRuntime, type Settings } from '../config/load.js';
import { openSql } from '../storage/sql.js';
import { MIGRATIONS } from '../storage/migrations.js';
import { openRedis, reachRedis, redisName } from '../state/redis.js';
import { within } from '../core/within.js';
import { providerRedactor, type Redactor } from '../core/redact.js';
import { adapterFor } from '../providers/registry.js';
import type { Credential } from '../upstream/key-pool.js';
import { request } from 'undici';

/**
 * `switchyard doctor`: the settings `serve` would start with, then each dependency they name —
 * storage, Redis, every enabled provider (its model list, asked with its key) — checked once with
 * a bound on each, one line per check with what to do about a failure.
 */

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorOptions {
  /** Bound on each network check. */
  timeoutMs: number;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

async function checkStorage(settings: Settings, timeoutMs: number): Promise<CheckResult> {
  const fix = settings.databaseUrl
    ? 'check DATABASE_URL (or storage.database_url), that the server is up and accepts this user'
    : 'check that SWITCHYARD_DATA_DIR (or storage.data_dir) is writable';
  let sql;
  try {
    sql = openSql({
      databaseUrl: settings.databaseUrl,
      dataDir: settings.dataDir,
      postgres: { connectTimeoutMs: Math.min(settings.pgConnectTimeoutMs, timeoutMs), queryTimeoutMs: timeoutMs },
      checkpoints: false,
    });
  } catch (err) {
    return { name: 'storage', status: 'fail', detail: `cannot open the database: ${message(err)}; ${fix}` };
  }
  try {
    await within(sql.query('SELECT 1'), timeoutMs + 1000);
    // Read-only: migrations are serve's to apply; the doctor only says how far the schema is.
    const rows = await within(sql.query<{ version: number }>('SELECT version FROM schema_migrations'), timeoutMs).catch(() => []);
    const have = new Set(rows.map((r) => Number(r.version)));
    const known = new Set(MIGRATIONS.map((m) => m.version));
    const pending = MIGRATIONS.filter((m) => !have.has(m.version)).length;
    const unknown = [...have].filter((v) => !known.has(v));
    if (unknown.length > 0) {
      return { name: 'storage', status: 'warn', detail: `${sql.description}: schema has migrations this version does not know (${unknown.join(', ')}); a newer Switchyard wrote it` };
    }
    return { name: 'storage', status: 'ok', detail: `${sql.description}${pending === 0 ? ', schema up to date' : `, ${pending} migration(s) to apply at the next start`}` };
  } catch (err) {
    return { name: 'storage', status: 'fail', detail: `${sql.description}: ${message(err)}; ${fix}` };
  } finally {
    await sql.close().catch(() => undefined);
  }
}

async function checkRedis(settings: Settings, timeoutMs: number): Promise<CheckResult> {
  if (!settings.redisUrl) {
    return { name: 'redis', status: 'ok', detail: 'not configured: rate limits are counted per process (set REDIS_URL to share them between replicas)' };
  }
  const redis = openRedis({ ...settings, redisConnectTimeoutMs: Math.min(settings.redisConnectTimeoutMs, timeoutMs) });
  try {
    await reachRedis(redis, timeoutMs);
    return { name: 'redis', status: 'ok', detail: `${redisName(settings.redisUrl)} answers` };
  } catch (err) {
    return { name: 'redis', status: 'fail', detail: `cannot reach ${redisName(settings.redisUrl)}: ${message(err)}; check REDIS_URL (or redis.url) and that Redis is up` };
  } finally {
    redis.disconnect();
  }
}

/** Where an operator changes a provider's key and base URL. */
function providerHints(rt: ProviderRuntime): { key: string; url: string } {
  const stem = envStem(rt.entry.slug);
  const keyVars = rt.entry.protocol === 'vertex' ? ['GOOGLE_APPLICATION_CREDENTIALS'] : rt.entry.protocol === 'bedrock' ? ['AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY', 'AWS_BEARER_TOKEN_BEDROCK'] : [`${stem}_API_KEY`, ...(rt.entry.key_env ?? [])];
  return { key: `${keyVars.join(' / ')} (or providers.${rt.entry.slug} in the config file)`, url: `${stem}_BASE_URL (or providers.${rt.entry.slug}.base_url)` };
}

/** One key of a provider: its model list, asked with that key. */
async function probeKey(rt: ProviderRuntime, credential: Credential | undefined, timeoutMs: number, redactor: Redactor): Promise<{ status: CheckStatus; detail: string }> {
  const hints = providerHints(rt);
  let resolved = credential;
  try {
    if (credential && rt.resolveCredential) resolved = await within(rt.resolveCredential(credential), timeoutMs);
  } catch (err) {
    return { status: 'fail', detail: `cannot get an access token: ${redactor.redact(message(err))}; check ${hints.key}` };
  }
  const adapter = adapterFor(rt.entry.protocol)!;
  let probe = adapter.probeRequest(rt, resolved);
  if (adapter.authorize) {
    // A signature over the request itself (Bedrock's SigV4).
    try {
      probe = await adapter.authorize({ method: 'GET', url: probe.url, headers: probe.headers, body: '' }, rt, resolved);
    } catch (err) {
      return { status: 'fail', detail: `cannot sign the request: ${redactor.redact(message(err))}; check ${hints.key}` };
    }
  }
  const target = `GET ${probe.url.replace(/\?.*$/, '')}`;
  const started = performance.now();
  let status: number;
  let text: string;
  try {
    // undici itself rather than fetch: fetch refuses some ports (its "bad ports") a local server may use.
    const res = await request(probe.url, { headers: probe.headers, signal: AbortSignal.timeout(timeoutMs) });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    const why = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError' ? `no answer within ${timeoutMs} ms` : message(err);
    return { status: 'fail', detail: `unreachable (${target}: ${why}); check ${hints.url} and the network` };
  }
  const ms = Math.round(performance.now() - started);
  if (status >= 200 && status < 300) return { status: 'ok', detail: `${target} answered ${status} in ${ms} ms` };
  const said = redactor.redact(adapterFor(rt.entry.protocol)!.parseError(status, text).raw || text).replace(/\s+/g, ' ').slice(0, 200) || 'no message';
  if (status === 401 || status === 403) return { status: 'fail', detail: `key refused (${status}: ${said}); check ${hints.key}` };
  if (status === 429) return { status: 'warn', detail: `rate-limited (429: ${said}); the key is accepted` };
  if (status === 404 || status === 405) {
    return { status: 'warn', detail: `${target} answered ${status}: no model list there, so the key is unverified; if requests fail, check ${hints.url}` };
  }
  return { status: 'fail', detail: `${target} answered ${status} (${said}); check ${hints.url} and the provider's status` };
}

async function checkProvider(rt: ProviderRuntime, timeoutMs: number, redactor: Redactor): Promise<CheckResult> {
  const name = rt.entry.slug;
  if (rt.replay) return { name, status: 'ok', detail: 'answered from recorded traffic (replay), no network check' };
  if (!adapterFor(rt.entry.protocol)) return { name, status: 'fail', detail: `unknown protocol "${rt.entry.protocol}" in the catalog` };
  const labels = rt.keys.size > 1 ? rt.keys.labels() : [undefined];
  const results = await Promise.all(
    labels.map(async (label) => {
      const credential = label === undefined ? rt.keys.primary : rt.keys.pick(new Set(rt.keys.labels().filter((l) => l !== label)));
      return { label, ...(await probeKey(rt, credential ?? undefined, timeoutMs, redactor)) };
    }),
  );
  if (results.length === 1) return { name, status: results[0]!.status, detail: results[0]!.detail };
  // A key pool: the worst key decides, every key named.
  const rank: Record<CheckStatus, number> = { ok: 0, warn: 1, fail: 2 };
  const worst = results.reduce((a, b) => (rank[b.status] > rank[a.status] ? b : a));
  const bad = results.filter((r) => r.status !== 'ok');
  const detail = bad.length === 0 ? `${results.length} keys: ${results[0]!.detail}` : bad.map((r) => `${r.label}: ${r.detail}`).join('; ');
  return { name, status: worst.status, detail };
}

/** Every check, in order; the config check first (nothing else runs when it fails). */
export async function runChecks(load: LoadOptions, opts: DoctorOptions): Promise<CheckResult[]> {
  let settings: Settings;
  try {
    settings = loadSettings(load);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return [{ name: 'config', status: 'fail', detail: `${err.message}; fix that setting and run switchyard doctor again` }];
  }
  const enabled = [...settings.providers.values()].filter((p) => p.enabled);
  const source = settings.configFile ?? 'no configuration file (environment and defaults)';
  const results: CheckResult[] = [
    enabled.length === 0
      ? { name: 'config', status: 'fail', detail: `${source}; no provider is enabled: set a provider key such as GROQ_API_KEY (see README)` }
      : { name: 'config', status: 'ok', detail: `${source}${settings.demo ? '; demo mode (no provider key set)' : ''}; providers: ${enabled.map((p) => p.entry.slug).join(', ')}` },
  ];
  const redactor = providerRedactor(enabled);
  const [storage, redis, ...providers] = await Promise.all([
    checkStorage(settings, opts.timeoutMs),
    checkRedis(settings, opts.timeoutMs),
    ...enabled.map((rt) => checkProvider(rt, opts.timeoutMs, redactor)),
  ]);
  return [...results, storage!, redis!, ...providers];
}

/** `ok    storage  sqlite:/…` — one line per check, the names aligned. */
export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  return results.map((r) => `${r.status.toUpperCase().padEnd(4)}  ${r.name.padEnd(width)}  ${r.detail}\n`).join('');
}
