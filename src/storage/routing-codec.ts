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
 *
 * Even compact, the skipped and untried endpoints were ~75 % of a record row (~510 of ~690 bytes
 * for a model with a dozen endpoints), and they repeat from request to request: they depend on
 * the model, the deployment's providers and the request's preferences, not on the request. With a
 * `TailStore`, the list's compactable tail (at least MIN_TAIL entries) is stored once, under an
 * id derived from its text (`routing_lists`, routing-lists.ts), and the record refers to it:
 *
 *   {"m":…,"r":[…],"e":[<the entries before the tail>],"t":"<tail id>"}
 */
export interface TailStore {
  /**
   * The id of a tail stored before whose entries equal `entries[from..]` (all compactable), found
   * without building its text; undefined when none is known.
   */
  known(entries: readonly ProviderAttempt[], from: number): string | undefined;
  /** The id under which this tail (its text, and its entries for `known`) is or will be stored. */
  ref(text: string, entries: readonly ProviderAttempt[], from: number): string;
}

/** Fewer compactable entries than this stay inline: a reference would save nothing. */
export const MIN_TAIL = 3;

interface CompactForm {
  m?: string;
  r: string[];
  e: unknown[];
  t?: string;
}

export function encodeRouting(entries: readonly ProviderAttempt[], tails?: TailStore): string {
  let cut = entries.length;
  if (tails) while (cut > 0 && isCompactable(entries[cut - 1]!)) cut--;
  if (!tails || entries.length - cut < MIN_TAIL) {
    const form = compact(entries, 0, entries.length);
    return form.m === undefined ? JSON.stringify(entries) : JSON.stringify(form);
  }
  const head = compact(entries, 0, cut);
  head.t = tails.known(entries, cut) ?? tails.ref(JSON.stringify(compact(entries, cut, entries.length)), entries, cut);
  return JSON.stringify(head);
}

/** The tail id a stored explanation refers to, or null (read before decoding, to fetch the tail). */
export function routingTailId(text: string): string | null {
  if (!text.endsWith('"}')) return null;
  const at = text.lastIndexOf(',"t":"');
  return at < 0 ? null : text.slice(at + 6, -2);
}

/**
 * The stored explanation as a list. `tail` gives the text of a referenced tail; a tail it cannot
 * give (a database edited by hand) leaves those entries out rather than failing the read.
 */
export function decodeRouting(text: string, tail?: (id: string) => string | undefined): ProviderAttempt[] {
  const parsed = JSON.parse(text) as ProviderAttempt[] | CompactForm;
  if (Array.isArray(parsed)) return parsed;
  const out = expand(parsed);
  if (parsed.t !== undefined) {
    const tailText = tail?.(parsed.t);
    if (tailText !== undefined) out.push(...expand(JSON.parse(tailText) as CompactForm));
  }
  return out;
}

type CompactEntry = [endpoint: string, provider: string, reasonIndex: number, model?: string];

function compact(entries: readonly ProviderAttempt[], from: number, to: number): CompactForm {
  let model: string | undefined;
  const reasons: string[] = [];
  const out: unknown[] = new Array(to - from);
  for (let i = from; i < to; i++) {
    const a = entries[i]!;
    if (!isCompactable(a)) {
      out[i - from] = a;
      continue;
    }
    model ??= a.model;
    let reasonIndex = -1;
    if (a.outcome === 'skipped') {
      reasonIndex = reasons.indexOf(a.reason!);
      if (reasonIndex < 0) reasonIndex = reasons.push(a.reason!) - 1;
    }
    out[i - from] = a.model === model ? [a.endpoint, a.provider, reasonIndex] : [a.endpoint, a.provider, reasonIndex, a.model];
  }
  return { m: model, r: reasons, e: out };
}

function expand(form: CompactForm): ProviderAttempt[] {
  return form.e.map((e) => {
    if (!Array.isArray(e)) return e as ProviderAttempt;
    const [endpoint, provider, reasonIndex, model] = e as CompactEntry;
    const a: ProviderAttempt = { provider, endpoint, model: model ?? form.m!, status: null, latencyMs: 0, outcome: reasonIndex < 0 ? 'not tried' : 'skipped' };
    if (reasonIndex >= 0) a.reason = form.r[reasonIndex]!;
    return a;
  });
}

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

/** One endpoint in a generation's routing explanation. */
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
  /** Label of the provider key the attempt used (key pools; never the secret). */
  key?: string;
}
