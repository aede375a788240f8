/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON payloads from recordings */
/**
 * The demo answers a non-streamed request from a streamed recording and the other way round
 * (store.ts): an OpenAI chat-completions stream folded into one `chat.completion`, and a
 * `chat.completion` unfolded into the chunks a host would have streamed.
 */
import { parseSse } from './cassette.js';

type Json = Record<string, any>;

/** A chat-completions stream (SSE text) as the one `chat.completion` body it adds up to. */
export function streamToCompletion(sse: string): string {
  let head: Json | null = null;
  let content: string | null = null;
  let reasoning: string | null = null;
  let refusal: string | null = null;
  let finish: string | null = null;
  let usage: unknown;
  const calls: { id: string; type: string; function: { name: string; arguments: string } }[] = [];
  for (const data of parseSse(sse).events) {
    if (data === '[DONE]') continue;
    let j: Json;
    try {
      j = JSON.parse(data) as Json;
    } catch {
      continue;
    }
    head ??= j;
    if (j.usage) usage = j.usage;
    const c = Array.isArray(j.choices) ? j.choices[0] : undefined;
    if (!c) continue;
    const d = (c.delta ?? {}) as Json;
    if (typeof d.content === 'string') content = (content ?? '') + d.content;
    const r = d.reasoning_content ?? d.reasoning;
    if (typeof r === 'string') reasoning = (reasoning ?? '') + r;
    if (typeof d.refusal === 'string') refusal = (refusal ?? '') + d.refusal;
    for (const t of Array.isArray(d.tool_calls) ? (d.tool_calls as Json[]) : []) {
      const i = typeof t.index === 'number' ? t.index : calls.length;
      const call = (calls[i] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
      if (!call.id && typeof t.id === 'string') call.id = t.id;
      if (!call.function.name && typeof t.function?.name === 'string') call.function.name = t.function.name;
      if (typeof t.function?.arguments === 'string') call.function.arguments += t.function.arguments;
    }
    if (typeof c.finish_reason === 'string') finish = c.finish_reason;
  }
  const toolCalls = calls.filter(Boolean);
  const message: Json = { role: 'assistant', content: content === '' && toolCalls.length > 0 ? null : content };
  if (reasoning !== null) message.reasoning_content = reasoning;
  if (refusal !== null) message.refusal = refusal;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const out: Json = { id: head?.id ?? 'chatcmpl-replay', object: 'chat.completion', created: head?.created ?? 0, model: head?.model ?? '' };
  if (head && 'system_fingerprint' in head) out.system_fingerprint = head.system_fingerprint;
  out.choices = [{ index: 0, message, finish_reason: finish, logprobs: null }];
  if (usage !== undefined) out.usage = usage;
  return JSON.stringify(out);
}

/** A `chat.completion` body as the stream a host would have sent for it, one SSE event per piece. */
export function completionToStream(json: string): string[] {
  const j = JSON.parse(json) as Json;
  const c = (Array.isArray(j.choices) ? j.choices[0] : undefined) ?? {};
  const m = (c.message ?? {}) as Json;
  const head: Json = { id: j.id ?? 'chatcmpl-replay', object: 'chat.completion.chunk', created: j.created ?? 0, model: j.model ?? '' };
  if ('system_fingerprint' in j) head.system_fingerprint = j.system_fingerprint;
  const events: string[] = [];
  const chunk = (delta: Json, finish: string | null = null) =>
    events.push(`data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`);
  chunk({ role: 'assistant', content: '' });
  const reasoning = m.reasoning_content ?? m.reasoning;
  if (typeof reasoning === 'string' && reasoning !== '') chunk({ reasoning_content: reasoning });
  if (typeof m.content === 'string' && m.content !== '') chunk({ content: m.content });
  if (typeof m.refusal === 'string' && m.refusal !== '') chunk({ refusal: m.refusal });
  (Array.isArray(m.tool_calls) ? (m.tool_calls as Json[]) : []).forEach((t, index) => {
    const args = typeof t.function?.arguments === 'string' ? t.function.arguments : JSON.stringify(t.function?.arguments ?? {});
    chunk({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.function?.name ?? '', arguments: args } }] });
  });
  chunk({}, typeof c.finish_reason === 'string' ? c.finish_reason : 'stop');
  if (j.usage) events.push(`data: ${JSON.stringify({ ...head, choices: [], usage: j.usage })}\n\n`);
  events.push('data: [DONE]\n\n');
  return events;
}
