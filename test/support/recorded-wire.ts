/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies of recorded provider traffic */
/**
 * What recorded provider traffic (test/fixtures/cassettes/upstream/…) says, read the way the SDK
 * acceptance tests (test/sdk-messages.test.ts, test/sdk-responses.test.ts, test/ai-sdk.test.ts)
 * compare it with what a real client received through Switchyard: Anthropic SSE events one by
 * one, an OpenAI chat stream or body joined into text / reasoning / tool calls / usage, a Gemini
 * stream or body likewise. Plus mock replies derived from recordings (another model id, other usage).
 */
import assert from 'node:assert/strict';
import { loadCassette, splitSseEvents, type Interaction } from './cassettes.js';
import { replyFromUpstreamRecording, type MockReply } from './mock-upstream.js';
import type { Gateway } from './gateway.js';

export type { Interaction };

/** The interactions of an upstream recording (path below test/fixtures/cassettes/upstream, no `.yaml`). */
export function upstreamRecording(rel: string, expected?: number): Interaction[] {
  const its = loadCassette(`upstream/${rel}.yaml`);
  if (expected !== undefined) assert.equal(its.length, expected, `upstream/${rel}.yaml holds ${expected} interaction(s)`);
  return its;
}

export const requestJson = (it: Interaction): any => JSON.parse(it.request.body);
export const responseJson = (it: Interaction): any => JSON.parse(it.response.body);

/** The recorded provider response, served as it was recorded. */
export const replay = (it: Interaction): MockReply => replyFromUpstreamRecording(it.response);

// ------------------------------------------------------------------------------------------------
// Anthropic
// ------------------------------------------------------------------------------------------------

export interface RecordedSseEvent {
  /** `event:` name (null when the block has none). */
  event: string | null;
  /** The `data:` text as recorded (Anthropic pads some with spaces). */
  data: string;
  json: any;
  /** The whole block, separator included, byte for byte. */
  raw: string;
}

/** The events of an SSE body, in order (comments and empty blocks left out). */
export function sseEvents(body: string): RecordedSseEvent[] {
  const out: RecordedSseEvent[] = [];
  for (const raw of splitSseEvents(body)) {
    let event: string | null = null;
    const data: string[] = [];
    for (const line of raw.replace(/\r\n?/g, '\n').split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (event === null && data.length === 0) continue;
    const text = data.join('\n');
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    out.push({ event, data: text, json, raw });
  }
  return out;
}

/** What an Anthropic message (body or stream) holds, the way a client assembles it. */
export interface AnthropicTurn {
  id: string;
  model: string;
  text: string;
  thinking: { thinking: string; signature: string }[];
  toolUses: { id: string; name: string; input: any }[];
  stopReason: string | null;
  usage: any;
  /** The content blocks, as Anthropic's final message has them. */
  content: any[];
}

/** An Anthropic message body → its turn. */
export function anthropicTurnOfBody(body: any): AnthropicTurn {
  const content: any[] = body.content;
  return {
    id: body.id,
    model: body.model,
    text: content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
    thinking: content.filter((b) => b.type === 'thinking').map((b) => ({ thinking: b.thinking, signature: b.signature })),
    toolUses: content.filter((b) => b.type === 'tool_use').map((b) => ({ id: b.id, name: b.name, input: b.input })),
    stopReason: body.stop_reason,
    usage: body.usage,
    content,
  };
}

/** A recorded Anthropic SSE stream → the message it builds (as the SDK's finalMessage() builds it). */
export function anthropicTurnOfStream(body: string): AnthropicTurn {
  let message: any = null;
  const blocks: any[] = [];
  const partial = new Map<number, string>();
  for (const e of sseEvents(body)) {
    const j = e.json;
    if (!j) continue;
    if (j.type === 'message_start') message = structuredClone(j.message);
    if (j.type === 'content_block_start') {
      blocks[j.index] = structuredClone(j.content_block);
      if (j.content_block.type === 'tool_use') partial.set(j.index, '');
    }
    if (j.type === 'content_block_delta') {
      const b = blocks[j.index];
      const d = j.delta;
      if (d.type === 'text_delta') b.text += d.text;
      if (d.type === 'thinking_delta') b.thinking += d.thinking;
      if (d.type === 'signature_delta') b.signature = d.signature;
      if (d.type === 'input_json_delta') partial.set(j.index, partial.get(j.index)! + d.partial_json);
    }
    if (j.type === 'content_block_stop' && partial.has(j.index)) {
      const json = partial.get(j.index)!;
      blocks[j.index].input = json === '' ? {} : JSON.parse(json);
    }
    if (j.type === 'message_delta') {
      message.stop_reason = j.delta.stop_reason;
      message.stop_sequence = j.delta.stop_sequence;
      message.usage = { ...message.usage, ...j.usage };
    }
  }
  assert.ok(message, 'the recorded stream has a message_start');
  message.content = blocks;
  return anthropicTurnOfBody(message);
}

/** A recorded Anthropic reply with another model id in its body / message_start (same bytes otherwise). */
export function anthropicReplyAs(it: Interaction, model: string): MockReply {
  const recorded = it.response.body.match(/"model":"([^"]+)"/)?.[1];
  assert.ok(recorded, 'recording names its model');
  return replay({ ...it, response: { ...it.response, body: it.response.body.split(`"model":"${recorded}"`).join(`"model":"${model}"`) } });
}

// ------------------------------------------------------------------------------------------------
// OpenAI chat completions (OpenAI-compatible upstreams)
// ------------------------------------------------------------------------------------------------

export interface ChatTurn {
  text: string;
  reasoning: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finish: string | null;
  usage: any;
}

/** A recorded chat completion (body or SSE stream) → what it says. */
export function chatTurnOf(it: Interaction): ChatTurn {
  const body = it.response.body;
  if (!body.trimStart().startsWith('data:')) {
    const j = JSON.parse(body);
    const m = j.choices[0].message;
    return {
      text: m.content ?? '',
      reasoning: m.reasoning_content ?? m.reasoning ?? '',
      toolCalls: (m.tool_calls ?? []).map((t: any) => ({ id: t.id, name: t.function.name, arguments: t.function.arguments })),
      finish: j.choices[0].finish_reason,
      usage: j.usage,
    };
  }
  const out: ChatTurn = { text: '', reasoning: '', toolCalls: [], finish: null, usage: null };
  for (const e of sseEvents(body)) {
    const j = e.json;
    if (!j) continue;
    if (j.usage) out.usage = j.usage;
    const c = j.choices?.[0];
    if (!c) continue;
    if (typeof c.delta?.content === 'string') out.text += c.delta.content;
    const r = c.delta?.reasoning_content ?? c.delta?.reasoning;
    if (typeof r === 'string') out.reasoning += r;
    for (const tc of c.delta?.tool_calls ?? []) {
      const slot = (out.toolCalls[tc.index ?? 0] ??= { id: '', name: '', arguments: '' });
      if (tc.id) slot.id = tc.id;
      if (tc.function?.name) slot.name = tc.function.name;
      if (tc.function?.arguments) slot.arguments += tc.function.arguments;
    }
    if (c.finish_reason) out.finish = c.finish_reason;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Gemini generateContent / streamGenerateContent
// ------------------------------------------------------------------------------------------------

export interface GeminiTurn {
  text: string;
  thoughts: string;
  calls: { name: string; args: any }[];
  finish: string | null;
  usage: any;
}

/** A recorded Gemini answer (one body, a JSON array or SSE chunks) → what it says. */
export function geminiTurnOf(it: Interaction): GeminiTurn {
  const body = it.response.body.trim();
  let chunks: any[];
  if (body.startsWith('data:')) chunks = sseEvents(body).map((e) => e.json).filter(Boolean);
  else {
    const j = JSON.parse(body);
    chunks = Array.isArray(j) ? j : [j];
  }
  const out: GeminiTurn = { text: '', thoughts: '', calls: [], finish: null, usage: null };
  for (const c of chunks) {
    if (c.usageMetadata) out.usage = c.usageMetadata;
    const cand = c.candidates?.[0];
    if (!cand) continue;
    for (const p of cand.content?.parts ?? []) {
      if (typeof p.text === 'string') {
        if (p.thought) out.thoughts += p.text;
        else out.text += p.text;
      }
      if (p.functionCall) out.calls.push({ name: p.functionCall.name, args: p.functionCall.args });
    }
    if (cand.finishReason) out.finish = cand.finishReason;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// gateway state
// ------------------------------------------------------------------------------------------------

/**
 * Forget every endpoint's health (a test that made an upstream fail must not steer the next one's
 * routing). Same trick as test/anthropic.test.ts.
 */
export function freshHealth(gw: Gateway): void {
  (gw.app as any).health = new (gw.app.health.constructor as any)(30_000);
}
