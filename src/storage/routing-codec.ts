import type { ProviderAttempt } from './generations.js';

/**
 * The routing explanation of a generation record, as stored.
 *
 * Every record lists each endpoint the router looked at; most of them were skipped by a filter
 * or never reached, and for a model served by many providers that list was ~2 KB of repeated
 * JSON keys per request, two thirds of the record row. Written on every request, it cost about
 * 13 % of the CPU of a non-streaming request (stringify, SQLite B-tree and WAL bytes). Stored
 * entries that carry nothing but an endpoint, its provider, its model and a reason are therefore
 * written as short arrays, with the model and the reasons held once:
 *
 *   {"m":"<model>","r":["<reason>",…],"e":[<attempt object> | [endpoint, provider, reasonIndex, model?], …]}
 *
 * reasonIndex −1 means "not tried" (no reason); the model is written only when it differs from
 * "m". Anything else (served and failed attempts, entries with an error or a latency) stays a
 * plain object. Decoding gives back exactly the list that was encoded, in order. Rows written
 * before this format hold a plain JSON array and are read as such.
 */
export function encodeRouting(entries: readonly ProviderAttempt[]): string {
  let model: string | undefined;
  const reasons: string[] = [];
  const out: unknown[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const a = entries[i]!;
    if (!isCompactable(a)) {
      out[i] = a;
      continue;
    }
    model ??= a.model;
    let reasonIndex = -1;
    if (a.outcome === 'skipped') {
      reasonIndex = reasons.indexOf(a.reason!);
      if (reasonIndex < 0) reasonIndex = reasons.push(a.reason!) - 1;
    }
    out[i] = a.model === model ? [a.endpoint, a.provider, reasonIndex] : [a.endpoint, a.provider, reasonIndex, a.model];
  }
  if (model === undefined) return JSON.stringify(entries);
  return JSON.stringify({ m: model, r: reasons, e: out });
}

export function decodeRouting(text: string): ProviderAttempt[] {
  const parsed = JSON.parse(text) as ProviderAttempt[] | { m: string; r: string[]; e: (ProviderAttempt | CompactEntry)[] };
  if (Array.isArray(parsed)) return parsed;
  return parsed.e.map((e) => {
    if (!Array.isArray(e)) return e;
    const [endpoint, provider, reasonIndex, model] = e;
    const a: ProviderAttempt = { provider, endpoint, model: model ?? parsed.m, status: null, latencyMs: 0, outcome: reasonIndex < 0 ? 'not tried' : 'skipped' };
    if (reasonIndex >= 0) a.reason = parsed.r[reasonIndex]!;
    return a;
  });
}

type CompactEntry = [endpoint: string, provider: string, reasonIndex: number, model?: string];

/** Entries whose every field fits the compact form, so that decoding restores them exactly. */
function isCompactable(a: ProviderAttempt): boolean {
  if (a.status !== null || a.latencyMs !== 0 || a.error !== undefined) return false;
  if (a.outcome === 'not tried') return a.reason === undefined && keysWithin(a, 6);
  if (a.outcome === 'skipped') return typeof a.reason === 'string' && keysWithin(a, 7);
  return false;
}

/** No field beyond the ones the compact form restores (objects read back from older rows may carry others). */
function keysWithin(a: ProviderAttempt, n: number): boolean {
  let count = 0;
  for (const k in a) if ((a as unknown as Record<string, unknown>)[k] !== undefined) count++;
  return count <= n;
}
