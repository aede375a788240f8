/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON request bodies */
/**
 * The demo's lenient matching (store.ts): what a chat-completions request says, split into the
 * conversation (model, messages, tool names: what a recording must share to answer it) and the
 * request's options (stream, max_tokens, temperature, provider preferences, …: they only decide
 * which of several recordings of the conversation is closest).
 *
 * Both sides are chat-completions bodies: a recording's OpenRouter-level request, and the upstream
 * request the OpenAI-compatible adapter built from whatever front door the client used (chat
 * completions, Messages, Responses), so a conversation translated from another wire matches too.
 * What differs only in representation is levelled: content as a string or as text parts, tool-call
 * ids (calls are numbered in order, results point at the number), arguments' JSON formatting,
 * `developer` for `system`, names, cache markers and reasoning fields.
 */

type Json = Record<string, any>;

export interface ConversationKey {
  /** The model the request names (upstream requests: the provider's model id). */
  model: string;
  /** Messages and tool names in a canonical form; equal strings are the same conversation. */
  key: string;
  /** The same, as a value (for the first difference in a diagnostic). */
  value: { messages: unknown[]; tools: string[] };
}

/** JSON with object keys sorted, so key order never matters. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A message's content as text, or (with images, files, audio) as text and canonical parts. */
function contentOf(content: unknown): unknown {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content.trim();
  if (!Array.isArray(content)) return canonical(content);
  const out: unknown[] = [];
  let text = '';
  for (const part of content as Json[]) {
    if (part && typeof part.text === 'string') {
      text += part.text;
      continue;
    }
    if (text) out.push(text.trim());
    text = '';
    const { cache_control: _c, ...rest } = part ?? {};
    out.push(canonical(rest));
  }
  if (text || out.length === 0) out.push(text.trim());
  return out.length === 1 ? out[0] : out;
}

function argumentsOf(args: unknown): unknown {
  if (typeof args !== 'string') return canonical(args ?? {});
  try {
    return canonical(JSON.parse(args));
  } catch {
    return args.trim();
  }
}

/** The conversation of a chat-completions body, or null when the body is not one. */
export function conversationOf(body: unknown): ConversationKey | null {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return null;
  const b = body as Json;
  if (!Array.isArray(b.messages) || typeof b.model !== 'string') return null;
  const callNumbers = new Map<string, number>();
  let calls = 0;
  const messages: unknown[] = [];
  for (const m of b.messages as Json[]) {
    if (!m || typeof m !== 'object') continue;
    const role = m.role === 'developer' ? 'system' : m.role;
    if (role === 'tool') {
      const id = String(m.tool_call_id ?? '');
      messages.push({ role, call: callNumbers.get(id) ?? id, content: contentOf(m.content) });
      continue;
    }
    const out: Json = { role, content: contentOf(m.content) };
    if (role === 'assistant' && Array.isArray(m.tool_calls) && m.tool_calls.length > 0) {
      out.tool_calls = (m.tool_calls as Json[]).map((tc) => {
        const n = calls++;
        if (typeof tc?.id === 'string') callNumbers.set(tc.id, n);
        return { call: n, name: tc?.function?.name ?? null, arguments: argumentsOf(tc?.function?.arguments) };
      });
    }
    messages.push(out);
  }
  const tools = toolsOf(b.tools)
    .map((t) => t.name)
    .sort();
  const value = { messages, tools };
  return { model: b.model, key: canonical(value), value };
}

function toolsOf(tools: unknown): { name: string; parameters: unknown }[] {
  if (!Array.isArray(tools)) return [];
  return (tools as Json[])
    .map((t) => ({ name: String(t?.function?.name ?? t?.name ?? ''), parameters: t?.function?.parameters ?? t?.parameters ?? null }))
    .filter((t) => t.name !== '');
}

/**
 * The options of a chat-completions body that do not change the conversation but tell recordings
 * of it apart: stream or not, output limit, sampling, tool choice and definitions, and (from the
 * client's own body, when it has one) OpenRouter's provider preferences.
 */
export function optionsOf(body: unknown, client: unknown): Record<string, unknown> {
  const b = (body && typeof body === 'object' ? body : {}) as Json;
  const c = (client && typeof client === 'object' && !Array.isArray(client) ? client : {}) as Json;
  const out: Record<string, unknown> = { stream: b.stream === true };
  const maxTokens = b.max_tokens ?? b.max_completion_tokens;
  if (maxTokens !== undefined) out.max_tokens = maxTokens;
  for (const k of ['temperature', 'top_p', 'top_k', 'seed', 'stop', 'tool_choice', 'response_format', 'parallel_tool_calls', 'frequency_penalty', 'presence_penalty', 'logprobs']) {
    if (b[k] !== undefined && b[k] !== null) out[k] = b[k];
  }
  const tools = toolsOf(b.tools);
  if (tools.length > 0) out.tools = canonical(tools);
  if (c.provider !== undefined && c.provider !== null) out.provider = canonical(c.provider);
  return out;
}
