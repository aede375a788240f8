import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ScriptedBody } from './body.js';
import { deriveUpstream, isStreamBody, loadCassetteFile, splitSseEvents, type RecordedResponse } from './cassette.js';
import type { UpstreamRequest } from '../types.js';
import type { UpstreamResponse } from '../types.js';
import type { CancelSignal } from '../../core/cancel.js';

export type Pace = 'recorded' | 'fast';

/**
 * Recorded interactions a provider answers from instead of the network. Two kinds are understood:
 * provider-level cassettes (matched on the request Switchyard would send upstream) and
 * OpenRouter-level cassettes (matched on the client's request; the provider-side answer is derived
 * from OpenRouter's response, and each interaction belongs to the provider that served it).
 */
interface Entry {
  source: string; // file:interaction
  kind: 'upstream' | 'openrouter';
  method: string;
  path: string;
  body: unknown; // parsed JSON, or the raw string
  response: RecordedResponse;
  providerName: string | null; // OpenRouter-level: who served it
}

export interface ReplayOptions {
  pace?: Pace;
  ignoreFields?: string[]; // top-level JSON fields left out of matching
  providerName?: string; // OpenRouter-level entries: keep only this provider's
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function servedBy(res: RecordedResponse): string | null {
  const body = res.body.trim();
  if (isStreamBody(body)) {
    const m = /"provider":"([^"]+)"/.exec(body);
    return m ? m[1] : null;
  }
  try {
    const json = JSON.parse(body) as { provider?: string; error?: { metadata?: { provider_name?: string } } };
    return json.provider ?? json.error?.metadata?.provider_name ?? null;
  } catch {
    return null;
  }
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (name.endsWith('.yaml') || name.endsWith('.yml')) out.push(p);
  }
  return out;
}

/** JSON with object keys sorted, so key order never matters when matching. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The path and values of the first difference between two JSON values (depth-first, sorted keys). */
export function firstDifference(a: unknown, b: unknown, path = ''): { path: string; want: unknown; got: unknown } | null {
  if (canonical(a) === canonical(b)) return null;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
  } else if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
  }
  return { path: path || '(body)', want: a, got: b };
}

function countDifferences(a: unknown, b: unknown): number {
  if (canonical(a) === canonical(b)) return 0;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    let n = 0;
    for (const k of keys) n += countDifferences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
    return n;
  }
  return 1;
}

/**
 * Paths match when one ends with the other at a segment boundary, so a recording made against one
 * base URL (a local mock, a proxy) replays under another (`/v1/chat/completions` vs
 * `/openai/v1/chat/completions`).
 */
function samePath(a: string, b: string): boolean {
  if (a === b) return true;
  const [long, short_] = a.length > b.length ? [a, b] : [b, a];
  return short_.startsWith('/') && long.endsWith(short_);
}

const short = (v: unknown) => {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

export class ReplayStore {
  private readonly entries: Entry[] = [];
  private readonly plays = new Map<string, number>();
  readonly pace: Pace;
  private readonly ignore: Set<string>;

  constructor(dir: string, opts: ReplayOptions = {}) {
    this.pace = opts.pace ?? 'recorded';
    this.ignore = new Set(opts.ignoreFields ?? []);
    for (const file of yamlFiles(dir)) {
      loadCassetteFile(file).forEach((it, i) => {
        let path: string;
        try {
          const url = new URL(it.request.url);
          path = url.pathname + url.search;
        } catch {
          path = it.request.url;
        }
        const kind = /\/api\/v1\/chat\/completions$/.test(path) ? 'openrouter' : 'upstream';
        const providerName = kind === 'openrouter' ? servedBy(it.response) : null;
        if (kind === 'openrouter' && opts.providerName && providerName !== opts.providerName) return;
        this.entries.push({
          source: `${relative(dir, file) || file}#${i}`,
          kind,
          method: it.request.method.toUpperCase(),
          path,
          body: this.strip(parseBody(it.request.body)),
          response: it.response,
          providerName,
        });
      });
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** Provider display names that served OpenRouter-level entries. */
  providerNames(): string[] {
    return [...new Set(this.entries.map((e) => e.providerName).filter((n): n is string => n !== null))];
  }

  private strip(body: unknown): unknown {
    if (this.ignore.size === 0 || !body || typeof body !== 'object' || Array.isArray(body)) return body;
    const copy = { ...(body as Record<string, unknown>) };
    for (const f of this.ignore) delete copy[f];
    return copy;
  }

  /** The recorded answer to this request, or an HTTP 404 whose body says what was closest. */
  answer(req: UpstreamRequest, clientBody: unknown, signal?: CancelSignal): UpstreamResponse {
    let path: string;
    try {
      const url = new URL(req.url);
      path = url.pathname + url.search;
    } catch {
      path = req.url;
    }
    const upstreamBody = this.strip(parseBody(req.body));
    const client = this.strip(clientBody);
    const wanted = (e: Entry) => (e.kind === 'upstream' ? upstreamBody : client);
    const matches = this.entries.filter(
      (e) => (e.kind === 'openrouter' || (e.method === 'POST' && samePath(e.path, path))) && canonical(e.body) === canonical(wanted(e)),
    );
    if (matches.length === 0) return this.miss(path, upstreamBody, client);
    // Identical requests replay their interactions in recorded order, then start over.
    const key = canonical(wanted(matches[0]));
    const n = this.plays.get(key) ?? 0;
    this.plays.set(key, n + 1);
    const entry = matches[n % matches.length];
    return this.play(entry, signal);
  }

  private miss(path: string, upstreamBody: unknown, client: unknown): UpstreamResponse {
    let best: { entry: Entry; score: number } | null = null;
    for (const e of this.entries) {
      const target = e.kind === 'upstream' ? upstreamBody : client;
      const score = countDifferences(e.body, target) + (e.kind === 'upstream' && !samePath(e.path, path) ? 1000 : 0);
      if (!best || score < best.score) best = { entry: e, score };
    }
    let message = `replay: no recorded interaction matches POST ${path}`;
    if (best) {
      const e = best.entry;
      const d = firstDifference(e.body, e.kind === 'upstream' ? upstreamBody : client);
      message += `; closest is ${e.source}`;
      if (e.kind === 'upstream' && !samePath(e.path, path)) message += ` (recorded path ${e.path})`;
      else if (d) message += `, first difference at ${d.path}: recorded ${short(d.want)}, got ${short(d.got)}`;
    } else {
      message += ' (no cassettes loaded)';
    }
    const body = JSON.stringify({ error: { message, type: 'replay_miss' } });
    return { statusCode: 404, headers: { 'content-type': 'application/json' }, body: new ScriptedBody([body], [0]) };
  }

  private play(entry: Entry, signal?: CancelSignal): UpstreamResponse {
    const fast = this.pace === 'fast';
    let status = entry.response.code;
    let contentType = entry.response.headers['Content-Type']?.[0] ?? entry.response.headers['content-type']?.[0];
    let pieces: string[];
    let offsets: number[] | undefined = entry.response.eventOffsetsMs;
    if (entry.kind === 'openrouter') {
      const d = deriveUpstream(entry.response);
      status = d.status;
      contentType = d.contentType;
      pieces = d.chunks ?? [d.body];
      offsets = undefined;
    } else {
      pieces = status < 400 && isStreamBody(entry.response.body) ? splitSseEvents(entry.response.body) : [entry.response.body];
    }
    const delays = fast ? [] : pacing(pieces.length, entry.response.durationMs, offsets);
    return {
      statusCode: status,
      headers: { 'content-type': contentType ?? 'application/json' },
      body: new ScriptedBody(pieces, delays, signal),
    };
  }
}

/** Per-piece delays: recorded offsets when present, else the recorded duration spread evenly. */
function pacing(n: number, durationMs: number, offsets?: number[]): number[] {
  if (offsets && offsets.length === n) return offsets.map((t, i) => Math.max(0, t - (i === 0 ? 0 : offsets[i - 1])));
  const step = n > 0 ? durationMs / n : 0;
  return Array.from({ length: n }, () => step);
}
