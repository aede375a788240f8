import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ScriptedBody } from './body.js';
import { deriveUpstream, isStreamBody, loadCassetteFile, splitSseEvents, type RecordedResponse } from './cassette.js';
import { canonical, conversationOf, optionsOf, type ConversationKey } from './conversation.js';
import { completionToStream, streamToCompletion } from './convert.js';
import type { UpstreamRequest } from '../types.js';
import type { UpstreamResponse } from '../types.js';
import type { CancelSignal } from '../../core/cancel.js';

export type Pace = 'recorded' | 'fast';

/**
 * Recorded interactions a provider answers from instead of the network. Two kinds are understood:
 * provider-level cassettes (matched on the request Switchyard would send upstream) and
 * OpenRouter-level cassettes (matched on the client's request; the provider-side answer is derived
 * from OpenRouter's response, and each interaction belongs to the provider that served it).
 *
 * Strict replay (`providers.<slug>.replay`) answers only a request equal to a recorded one (key
 * order and `replay.ignore_fields` aside) and explains a miss. The demo matches leniently: see
 * `ReplayOptions.lenient`.
 */
export interface Recorded {
  source: string; // file#interaction, as diagnostics name it
  /** The cassette's name (its path without .yaml) and the interaction: `seeds/tool_streaming_add#2`. */
  name: string;
  kind: 'upstream' | 'openrouter';
  method: string;
  path: string;
  parsed: unknown; // the request body: parsed JSON, or the raw string
  response: RecordedResponse;
  providerName: string | null; // OpenRouter-level: who served it
  /** Chat-completions on both sides (OpenRouter-level, or a provider's /chat/completions). */
  chat: boolean;
  /** Lenient matching: the request's conversation and options, worked out once. */
  conversation?: ConversationKey | null;
  options?: Record<string, unknown>;
}

interface Entry extends Recorded {
  body: unknown; // `parsed` without the ignored fields
}

export interface ReplayOptions {
  pace?: Pace;
  ignoreFields?: string[]; // top-level JSON fields left out of matching
  providerName?: string; // OpenRouter-level entries: keep only this provider's
  /**
   * Demo mode: answer the closest recording of the same conversation (model, messages and tool
   * names, compared as the upstream chat-completions request expresses them, so a conversation
   * sent through the Messages or Responses door matches too), whatever the other fields say; a
   * streamed recording answers a non-streamed request as one completion and the other way round.
   * Among several recordings of the conversation the closest (fewest differing options: stream,
   * max_tokens, sampling, tools, provider preferences) answers, and only from the provider that
   * served it (another provider with a closer one declines, so routing moves on to it).
   */
  lenient?: {
    /** The provider's model ids for a recorded (OpenRouter) model id; the upstream request names one of them. */
    upstreamModels?: (model: string) => readonly string[];
  };
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

/** Every interaction of the cassettes under `dir`, in file and recorded order. */
function loadRecorded(dir: string): Recorded[] {
  const out: Recorded[] = [];
  for (const file of yamlFiles(dir)) {
    const rel = relative(dir, file) || file;
    loadCassetteFile(file).forEach((it, i) => {
      let path: string;
      try {
        const url = new URL(it.request.url);
        path = url.pathname + url.search;
      } catch {
        path = it.request.url;
      }
      const kind = /\/api\/v1\/chat\/completions$/.test(path) ? 'openrouter' : 'upstream';
      out.push({
        source: `${rel}#${i}`,
        name: `${rel.replace(/\.ya?ml$/, '')}#${i}`,
        kind,
        method: it.request.method.toUpperCase(),
        path,
        parsed: parseBody(it.request.body),
        response: it.response,
        providerName: kind === 'openrouter' ? servedBy(it.response) : null,
        chat: kind === 'openrouter' || /\/chat\/completions(\?|$)/.test(path),
      });
    });
  }
  return out;
}

/** The header that names the recording a replayed answer comes from. */
export const RECORDING_HEADER = 'x-switchyard-recording';

/**
 * Where a provider's answers come from instead of the network. Configuration only describes it;
 * the upstream layer loads the cassettes (replayStoreFor) when the app starts.
 */
export interface ReplaySource {
  readonly dir: string;
  readonly options: ReplayOptions;
  /** The folder's interactions, when they were read already (the demo reads them to pick its providers). */
  readonly preloaded?: readonly Recorded[];
}

const stores = new WeakMap<ReplaySource, ReplayStore>();

/** The store of a replay source, loaded on first use and kept for as long as the source is (one per settings). */
export function replayStoreFor(source: ReplaySource): ReplayStore {
  let store = stores.get(source);
  if (!store) {
    store = new ReplayStore(source.dir, source.options, source.preloaded);
    stores.set(source, store);
  }
  return store;
}

/**
 * The demo's sources: one per provider that served a recording under `dir`, matching leniently
 * and sharing the interactions read once here (which providers served them decides which
 * providers the demo turns on).
 */
export function demoReplaySources(
  dir: string,
  providers: { name: string; upstreamModels: (model: string) => readonly string[] }[],
  opts: Omit<ReplayOptions, 'providerName' | 'lenient'> = {},
): Map<string, ReplaySource> {
  const recorded = loadRecorded(dir);
  const sources = new Map<string, ReplaySource>();
  for (const p of providers) {
    if (!recorded.some((r) => r.providerName === p.name)) continue;
    sources.set(p.name, { dir, options: { ...opts, providerName: p.name, lenient: { upstreamModels: p.upstreamModels } }, preloaded: recorded });
  }
  return sources;
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
  private readonly lenient: ReplayOptions['lenient'];
  /** Lenient matching: every recording of the folder, other providers' too (the closest one answers). */
  private readonly peers: readonly Recorded[];
  private readonly providerName: string | undefined;

  constructor(dir: string, opts: ReplayOptions = {}, recorded: readonly Recorded[] = loadRecorded(dir)) {
    this.pace = opts.pace ?? 'recorded';
    this.ignore = new Set(opts.ignoreFields ?? []);
    this.lenient = opts.lenient;
    this.providerName = opts.providerName;
    this.peers = recorded;
    for (const r of recorded) {
      if (r.kind === 'openrouter' && opts.providerName && r.providerName !== opts.providerName) continue;
      this.entries.push({ ...r, body: this.strip(r.parsed) });
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
    if (this.lenient) {
      const lenient = this.answerLeniently(path, parseBody(req.body), clientBody, signal);
      if (lenient) return lenient;
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

  /**
   * Demo matching (ReplayOptions.lenient): the closest recording of this conversation, or a 404
   * saying why none answers here; null when the request is no chat-completions body (then the
   * strict rules apply).
   */
  private answerLeniently(path: string, upstream: unknown, client: unknown, signal?: CancelSignal): UpstreamResponse | null {
    const want = conversationOf(upstream);
    if (!want) return null;
    const options = optionsOf(upstream, client);
    const distance = (r: Recorded) => countDifferences(optionsOfRecorded(r), options);
    const own = this.entries.filter((e) => e.chat && (e.kind === 'openrouter' || samePath(e.path, path)) && this.sameConversation(e, want));
    if (own.length === 0) return this.lenientMiss(path, want);
    let best = Infinity;
    for (const e of own) best = Math.min(best, distance(e));
    const group = own.filter((e) => distance(e) === best);
    // Another provider's recording of the conversation that is closer to this request answers
    // instead: this one declines, and routing moves on (as it does past a provider with none).
    const models = new Set(own.map((e) => conversationOfRecorded(e)!.model));
    const closer = this.peers.find(
      (r) =>
        r.kind === 'openrouter' &&
        r.providerName !== this.providerName &&
        models.has(conversationOfRecorded(r)?.model ?? '') &&
        conversationOfRecorded(r)?.key === want.key &&
        distance(r) < best,
    );
    if (closer) {
      return notFound(
        `replay (demo): ${this.providerName ?? 'this provider'} recorded this conversation (${group[0].name}), but ${closer.name}, served by ${closer.providerName}, is closer to this request`,
      );
    }
    // Equally close recordings (a 429, then its retry) answer in recorded order, then start over.
    const key = group.map((e) => e.source).join('|');
    const n = this.plays.get(key) ?? 0;
    this.plays.set(key, n + 1);
    return this.play(group[n % group.length], signal, options.stream === true);
  }

  /** Lenient: the recording names the same model (the provider's id for it, upstream) and conversation. */
  private sameConversation(r: Recorded, want: ConversationKey): boolean {
    const rec = conversationOfRecorded(r);
    return rec !== null && rec.key === want.key && this.sameModel(r, rec.model, want.model);
  }

  private sameModel(r: Recorded, recorded: string, requested: string): boolean {
    if (recorded === requested) return true;
    return r.kind === 'openrouter' && (this.lenient?.upstreamModels?.(recorded).includes(requested) ?? false);
  }

  /** Lenient miss: the closest recording's conversation and where it first differs. */
  private lenientMiss(path: string, want: ConversationKey): UpstreamResponse {
    let message = `replay (demo): no recording of this conversation (the model, messages and tool names must match a recording's; other fields may differ) for POST ${path}`;
    let best: { entry: Entry; score: number; recorded: unknown } | null = null;
    for (const e of this.entries) {
      const rec = e.chat ? conversationOfRecorded(e) : null;
      if (!rec) continue;
      const model = this.sameModel(e, rec.model, want.model) ? want.model : rec.model;
      const recorded = { model, ...rec.value };
      const score = countDifferences(recorded, { model: want.model, ...want.value });
      if (!best || score < best.score) best = { entry: e, score, recorded };
    }
    if (best) {
      const d = firstDifference(best.recorded, { model: want.model, ...want.value });
      message += `; closest is ${best.entry.name}`;
      if (d) message += `, first difference at ${d.path}: recorded ${short(d.want)}, got ${short(d.got)}`;
    } else {
      message += ' (no chat-completions recordings loaded)';
    }
    return notFound(message);
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
    return notFound(message);
  }

  /**
   * A recording's answer, named in the RECORDING_HEADER. With `stream` (lenient matching), a
   * chat-completions success is given in the mode asked for: a stream folded into one completion,
   * or a completion unfolded into a stream.
   */
  private play(entry: Entry, signal?: CancelSignal, stream?: boolean): UpstreamResponse {
    const fast = this.pace === 'fast';
    const bytes = entry.response.bodyBytes;
    if (bytes) {
      // A binary stream (AWS event stream) is played back as its bytes, in one piece.
      const contentType = entry.response.headers['Content-Type']?.[0] ?? entry.response.headers['content-type']?.[0];
      const headers = { 'content-type': contentType ?? 'application/octet-stream', [RECORDING_HEADER]: entry.name };
      return { statusCode: entry.response.code, headers, body: new ScriptedBody([bytes], fast ? [] : [entry.response.durationMs], signal) };
    }
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
    if (stream !== undefined && entry.chat && status < 300) {
      const streamed = isStreamBody(pieces[0] ?? '');
      if (streamed && !stream) {
        pieces = [streamToCompletion(pieces.join(''))];
        contentType = 'application/json';
        offsets = undefined;
      } else if (!streamed && stream) {
        pieces = completionToStream(pieces.join(''));
        contentType = 'text/event-stream';
        offsets = undefined;
      }
    }
    const delays = fast ? [] : pacing(pieces.length, entry.response.durationMs, offsets);
    return {
      statusCode: status,
      headers: { 'content-type': contentType ?? 'application/json', [RECORDING_HEADER]: entry.name },
      body: new ScriptedBody(pieces, delays, signal),
    };
  }
}

function notFound(message: string): UpstreamResponse {
  const body = JSON.stringify({ error: { message, type: 'replay_miss' } });
  return { statusCode: 404, headers: { 'content-type': 'application/json' }, body: new ScriptedBody([body], [0]) };
}

/** A recording's conversation (null: its request is no chat-completions body), worked out once. */
function conversationOfRecorded(r: Recorded): ConversationKey | null {
  if (r.conversation === undefined) r.conversation = r.chat ? conversationOf(r.parsed) : null;
  return r.conversation;
}

/** A recording's options; an OpenRouter-level request is also the client's (provider preferences). */
function optionsOfRecorded(r: Recorded): Record<string, unknown> {
  r.options ??= optionsOf(r.parsed, r.kind === 'openrouter' ? r.parsed : undefined);
  return r.options;
}

/** Per-piece delays: recorded offsets when present, else the recorded duration spread evenly. */
function pacing(n: number, durationMs: number, offsets?: number[]): number[] {
  if (offsets && offsets.length === n) return offsets.map((t, i) => Math.max(0, t - (i === 0 ? 0 : offsets[i - 1])));
  const step = n > 0 ? durationMs / n : 0;
  return Array.from({ length: n }, () => step);
}
