/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON payloads from recordings */
/**
 * go-vcr version 2 cassettes (the YAML format of the recorded traffic Switchyard replays and
 * records): loading, SSE helpers, and the derivation of a provider-side (OpenAI chat-completions)
 * response from an OpenRouter-level recording, i.e. the recording minus what the router adds.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { yaml } from '../../core/yaml.js';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string[]>;
  body: string;
}

export interface RecordedResponse {
  code: number;
  headers: Record<string, string[]>;
  body: string;
  durationMs: number;
  /** Switchyard extension: ms from the response start at which each SSE event arrived. */
  eventOffsetsMs?: number[];
  /** A binary body (YAML `!!binary`, e.g. AWS event streams) as its bytes; `body` is then only its lossy text. */
  bodyBytes?: Buffer;
}

export interface Interaction {
  request: RecordedRequest;
  response: RecordedResponse;
}

export interface DerivedUpstream {
  status: number;
  contentType: string;
  /** Full response body (for streams: all events concatenated, ending with `data: [DONE]\n\n`). */
  body: string;
  /** Streams only: one string per SSE event (`data: ...\n\n`), in order, so a replay can pace them. */
  chunks?: string[];
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign (what Go prints)
  'μs': 1e-3, // U+03BC greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parse a Go `time.Duration` string ("553.728583ms", "1.3s", "1m2.5s", "850µs", "0s") into milliseconds.
 * A bare number is taken as nanoseconds (go-vcr v1 stored durations as integers).
 */
export function parseGoDuration(value: unknown): number {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value === 'number') return value / 1e6;
  const text = String(value).trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) return Number(text) / 1e6;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let sign = 1;
  let rest = text;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  let total = 0;
  let pos = 0;
  re.lastIndex = 0;
  while (pos < rest.length) {
    re.lastIndex = pos;
    const m = re.exec(rest);
    if (!m) throw new Error(`invalid Go duration: ${JSON.stringify(text)}`);
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos = re.lastIndex;
  }
  return sign * total;
}

function toHeaderMap(raw: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!raw || typeof raw !== 'object') return out;
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (Array.isArray(value)) out[name] = value.map((v) => String(v));
    else if (value !== undefined && value !== null) out[name] = [String(value)];
  }
  return out;
}

function asString(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

/** Load a go-vcr v2 cassette file into its interactions, in order. */
export function loadCassetteFile(file: string): Interaction[] {
  const rel = file;
  const doc = yaml().parse(readFileSync(file, 'utf8'), { maxAliasCount: -1 }) as { interactions?: unknown } | null;
  const list = doc && Array.isArray(doc.interactions) ? (doc.interactions as Array<Record<string, any>>) : [];
  return list.map((it, i) => {
    const req = it.request ?? {};
    const res = it.response ?? {};
    if (typeof res.code !== 'number') throw new Error(`${rel}: interaction ${i} has no numeric response.code`);
    return {
      request: {
        method: asString(req.method) || 'GET',
        url: asString(req.url),
        headers: toHeaderMap(req.headers),
        body: asString(req.body),
      },
      response: {
        code: res.code,
        headers: toHeaderMap(res.headers),
        body: asString(res.body),
        durationMs: parseGoDuration(res.duration),
        eventOffsetsMs: Array.isArray(res.event_offsets_ms) ? (res.event_offsets_ms as number[]) : undefined,
        ...(res.body instanceof Uint8Array ? { bodyBytes: Buffer.from(res.body) } : {}),
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------
// SSE
// ---------------------------------------------------------------------------------------------

/**
 * Split an SSE body into comment lines (text after the leading ':' and one optional space, e.g.
 * "OPENROUTER PROCESSING") and event data payloads in order (multi-line data joined with "\n";
 * the terminating "[DONE]" is included as a payload).
 */
export function parseSse(body: string): { comments: string[]; events: string[] } {
  const comments: string[] = [];
  const events: string[] = [];
  const blocks = body.replace(/\r\n?/g, '\n').split(/\n\n+/);
  for (const block of blocks) {
    if (!block.trim()) continue;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '') continue;
      if (line.startsWith(':')) {
        comments.push(line.slice(1).replace(/^ /, ''));
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
    }
    if (data.length > 0) events.push(data.join('\n'));
  }
  return { comments, events };
}

/** True when the body is an SSE stream (starts, after whitespace, with a data/event field or a comment). */
export function isStreamBody(body: string): boolean {
  const head = body.trimStart();
  return head.startsWith('data:') || head.startsWith(':') || head.startsWith('event:');
}

/**
 * Split an SSE body into its raw events, byte for byte: each piece keeps its own line endings and
 * blank-line separator (`\n\n` or `\r\n\r\n`, as Gemini sends), so the pieces join back into the
 * original body. Stray blank lines stay with the event before them.
 */
export function splitSseEvents(body: string): string[] {
  const out: string[] = [];
  const separator = /\r\n\r\n|\n\n|\r\r/g;
  let last = 0;
  for (let m = separator.exec(body); m; m = separator.exec(body)) {
    const piece = body.slice(last, m.index + m[0].length);
    last = m.index + m[0].length;
    if (piece.trim() === '' && out.length > 0) out[out.length - 1] += piece;
    else out.push(piece);
  }
  if (last < body.length) {
    const rest = body.slice(last);
    if (rest.trim() === '' && out.length > 0) out[out.length - 1] += rest;
    else out.push(rest);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// OpenRouter -> upstream (OpenAI chat-completions) derivation
// ---------------------------------------------------------------------------------------------

/** A stable, random-looking chat-completions id derived from the OpenRouter generation id. */
function upstreamId(orId: unknown): string {
  const hex = createHash('sha256').update(String(orId ?? 'unknown')).digest('hex');
  return `chatcmpl-${hex.slice(0, 29)}`;
}

/** Reasoning text of an OpenRouter delta/message: `reasoning` if it is a non-empty string, else the
 * text of its readable reasoning_details (reasoning.text, reasoning.summary); encrypted ones are dropped. */
function reasoningText(part: any): string | undefined {
  if (typeof part?.reasoning === 'string' && part.reasoning !== '') return part.reasoning;
  const details: any[] = Array.isArray(part?.reasoning_details) ? part.reasoning_details : [];
  let text = '';
  for (const d of details) {
    if (d?.type === 'reasoning.text' && typeof d.text === 'string') text += d.text;
    else if (d?.type === 'reasoning.summary' && typeof d.summary === 'string') text += d.summary;
  }
  return text === '' ? undefined : text;
}

function upstreamUsage(u: any): Record<string, unknown> {
  return {
    prompt_tokens: u?.prompt_tokens ?? 0,
    completion_tokens: u?.completion_tokens ?? 0,
    total_tokens: u?.total_tokens ?? (u?.prompt_tokens ?? 0) + (u?.completion_tokens ?? 0),
    prompt_tokens_details: { cached_tokens: u?.prompt_tokens_details?.cached_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u?.completion_tokens_details?.reasoning_tokens ?? 0 },
  };
}

function upstreamDelta(delta: any): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (delta && 'role' in delta) out.role = delta.role;
  if (delta && 'content' in delta) out.content = delta.content;
  const reasoning = reasoningText(delta);
  if (reasoning !== undefined) out.reasoning_content = reasoning;
  if (delta && 'tool_calls' in delta) out.tool_calls = delta.tool_calls;
  return out;
}

/** Whether a choice of the recorded usage chunk carries output that must not be lost. */
function choiceHasOutput(choice: any): boolean {
  const d = choice?.delta ?? {};
  return (
    (typeof d.content === 'string' && d.content !== '') ||
    (Array.isArray(d.tool_calls) && d.tool_calls.length > 0) ||
    reasoningText(d) !== undefined
  );
}

function finishOf(choice: any): string | null {
  return choice?.native_finish_reason ?? choice?.finish_reason ?? null;
}

function errorType(code: number): string {
  if (code === 429) return 'rate_limit_exceeded';
  if (code >= 500) return 'server_error';
  return 'invalid_request_error';
}

function deriveError(res: RecordedResponse): DerivedUpstream {
  let message = res.body.trim();
  try {
    const j = JSON.parse(res.body);
    const e = j?.error ?? {};
    message = String(e?.metadata?.raw ?? e?.message ?? message);
  } catch {
    // non-JSON error body: use it as the message
  }
  const type = errorType(res.code);
  const code = res.code === 429 ? 'rate_limit_exceeded' : res.code >= 500 ? 'server_error' : null;
  return {
    status: res.code,
    contentType: 'application/json',
    body: JSON.stringify({ error: { message, type, code } }),
  };
}

function deriveStream(res: RecordedResponse, upstreamModel: string | undefined): DerivedUpstream {
  const { events } = parseSse(res.body); // comments (": OPENROUTER PROCESSING") are dropped here
  const chunks: string[] = [];
  let finished = false;
  const emit = (obj: unknown) => chunks.push(`data: ${JSON.stringify(obj)}\n\n`);
  for (const ev of events) {
    if (ev === '[DONE]') continue;
    const j = JSON.parse(ev);
    const head = (): Record<string, unknown> => {
      const h: Record<string, unknown> = {
        id: upstreamId(j.id),
        object: 'chat.completion.chunk',
        created: j.created,
        model: upstreamModel ?? j.model,
      };
      if ('system_fingerprint' in j) h.system_fingerprint = j.system_fingerprint;
      return h;
    };
    const choice = Array.isArray(j.choices) && j.choices.length > 0 ? j.choices[0] : undefined;
    const regular = (c: any) => {
      const fr = finishOf(c);
      if (fr !== null) finished = true;
      emit({ ...head(), choices: [{ index: 0, delta: upstreamDelta(c.delta), logprobs: null, finish_reason: fr }] });
    };
    if (j.usage) {
      // 2025: one choice with empty delta and finish_reason null; 2026-03-12: choices []; 2026-03-19/04:
      // one choice repeating the finish reason. Only keep the choice if it carries something new.
      if (choice && (choiceHasOutput(choice) || (!finished && finishOf(choice) !== null))) regular(choice);
      emit({ ...head(), choices: [], usage: upstreamUsage(j.usage) });
      continue;
    }
    if (!choice) continue; // e.g. a debug chunk
    regular(choice);
  }
  chunks.push('data: [DONE]\n\n');
  return { status: res.code, contentType: 'text/event-stream', body: chunks.join(''), chunks };
}

function deriveJson(res: RecordedResponse, upstreamModel: string | undefined): DerivedUpstream {
  const j = JSON.parse(res.body.trim());
  const c = Array.isArray(j.choices) && j.choices.length > 0 ? j.choices[0] : {};
  const m = c.message ?? {};
  const message: Record<string, unknown> = { role: m.role ?? 'assistant', content: m.content ?? null };
  if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0) {
    // OpenRouter adds `index` to non-streaming tool calls; OpenAI-style upstreams do not send it.
    message.tool_calls = m.tool_calls.map((tc: any) => {
      const rest = { ...tc };
      delete rest.index;
      return rest;
    });
  }
  const reasoning = reasoningText(m);
  if (reasoning !== undefined) message.reasoning_content = reasoning;
  const out: Record<string, unknown> = {
    id: upstreamId(j.id),
    object: 'chat.completion',
    created: j.created,
    model: upstreamModel ?? j.model,
  };
  if ('system_fingerprint' in j) out.system_fingerprint = j.system_fingerprint;
  out.choices = [{ index: 0, message, finish_reason: finishOf(c), logprobs: null }];
  out.usage = upstreamUsage(j.usage);
  return { status: res.code, contentType: 'application/json', body: JSON.stringify(out) };
}

/**
 * Derive the provider-side (OpenAI chat-completions protocol) response from an OpenRouter recorded
 * response, i.e. remove what the router adds (gen- ids, `provider`, `native_finish_reason`, `reasoning` /
 * `reasoning_details`, cost fields, keep-alive comments and whitespace padding).
 *
 * - Streams: one OpenAI chunk per recorded data chunk, `finish_reason` = recorded `native_finish_reason`,
 *   reasoning as `delta.reasoning_content`, the recorded usage chunk as a usage-only chunk (`choices: []`),
 *   then `data: [DONE]`.
 * - JSON bodies: an OpenAI `chat.completion` object.
 * - Errors (code >= 400): `{"error":{"message":<metadata.raw>,"type":...,"code":...}}` with the same status.
 */
export function deriveUpstream(orResponse: RecordedResponse, opts: { upstreamModel?: string } = {}): DerivedUpstream {
  if (orResponse.code >= 400) return deriveError(orResponse);
  if (isStreamBody(orResponse.body)) return deriveStream(orResponse, opts.upstreamModel);
  return deriveJson(orResponse, opts.upstreamModel);
}


// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/** Milliseconds as a Go `time.Duration` string, the way go-vcr stores it ("553.728583ms"). */
export function formatGoDuration(ms: number): string {
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(9))}s`;
  return `${Number(ms.toFixed(6))}ms`;
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 408: 'Request Timeout', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 529: 'Site Overloaded' };

/** The cassette document in go-vcr v2's field order, so Go's recorder and ours read each other's files. */
export function cassetteDocument(interactions: Interaction[]): Record<string, unknown> {
  return {
    version: 2,
    interactions: interactions.map((it, id) => {
      const url = new URL(it.request.url);
      const response: Record<string, unknown> = {
        proto: 'HTTP/1.1',
        proto_major: 1,
        proto_minor: 1,
        content_length: -1,
        // A binary body is written as YAML `!!binary` (stringify with customTags: ['binary']).
        body: it.response.bodyBytes ? new Uint8Array(it.response.bodyBytes) : it.response.body,
        headers: it.response.headers,
        status: `${it.response.code} ${STATUS_TEXT[it.response.code] ?? ''}`.trim(),
        code: it.response.code,
        duration: formatGoDuration(it.response.durationMs),
      };
      if (it.response.eventOffsetsMs) response.event_offsets_ms = it.response.eventOffsetsMs;
      return {
        id,
        request: {
          proto: 'HTTP/1.1',
          proto_major: 1,
          proto_minor: 1,
          content_length: Buffer.byteLength(it.request.body),
          host: url.host,
          body: it.request.body,
          headers: it.request.headers,
          url: it.request.url,
          method: it.request.method,
        },
        response,
      };
    }),
  };
}
