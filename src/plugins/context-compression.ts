import type { ContentPart, GenerationRequest, Message } from '../model/request.js';
import { oneOf } from './options.js';

/**
 * `context-compression` (the legacy `transforms: ["middle-out"]`): a prompt longer than the
 * endpoint's context is made to fit by removing messages from the middle of the conversation, and
 * if that is not enough, by cutting text out of the middle of the longest remaining messages,
 * instead of failing. https://openrouter.ai/docs/guides/features/message-transforms
 *
 * What is kept: the leading system messages and the last message. What goes first: the messages
 * nearest the middle. An assistant message that called tools goes together with the tool results
 * that answer it, so no upstream sees a result without its call.
 *
 * Tokens are estimated, not counted: 4 characters of the message's JSON per token, the estimate
 * routing and admission use. No tokenizer is loaded (each model family has its own), so the
 * estimate is deliberately on the high side for prose; a prompt the estimate misjudges still
 * meets the provider's own context check.
 */

export function contextCompressionOptions(entry: Record<string, unknown>): void {
  oneOf(entry.engine, ['middle-out'] as const, 'plugin context-compression', 'engine');
}

const CHARS_PER_TOKEN = 4;
/** What replaces the text cut out of a message. */
const CUT_MARKER = '\n[…]\n';
/** What the marker adds to a message's JSON, which the estimate measures (its newlines are escaped there). */
const CUT_MARKER_JSON_LENGTH = JSON.stringify(CUT_MARKER).length - 2;
/** What each end of a shortened text keeps, so the model sees what the text was about. */
const KEPT_AT_EACH_END = 64;

export const estimateMessageTokens = (m: Message) => Math.ceil(JSON.stringify(m.content).length / CHARS_PER_TOKEN) + 4;

/** Upstreams that refuse more messages than this, whatever their length (Anthropic: 1,000). */
export function messageLimitOf(protocol: string): number | null {
  return protocol === 'anthropic' || protocol === 'vertex' ? 1000 : null;
}

export interface CompressionResult {
  messages: Message[];
  dropped: number;
  truncated: number;
  /** The estimate for what is left: above the budget when what may not go (see compressMessages) is already too long. */
  tokens: number;
}

/**
 * The conversation cut to `budgetTokens` (and to `maxMessages`), or null when it already fits.
 * Never removes the leading system messages or the last message, nor shortens a text to less than
 * its first and last 64 characters, nor touches what is not text (images, files, tool calls): a
 * conversation made of too much of those stays over the budget, as `tokens` says.
 */
export function compressMessages(messages: readonly Message[], budgetTokens: number, maxMessages: number | null): CompressionResult | null {
  const sizes = messages.map(estimateMessageTokens);
  let total = sizes.reduce((a, b) => a + b, 0);
  if (total <= budgetTokens && (maxMessages === null || messages.length <= maxMessages)) return null;

  let head = 0;
  while (head < messages.length - 1 && messages[head]!.role === 'system') head++;
  const tail = messages.length - 1;
  // Units of the middle: a message, or an assistant tool-call message with the tool results after it.
  const units: number[][] = [];
  for (let i = head; i < tail; i++) {
    const m = messages[i]!;
    if (m.role === 'tool' && units.length > 0 && isToolUnit(messages, units[units.length - 1]!)) units[units.length - 1]!.push(i);
    else units.push([i]);
  }
  const removed = new Set<number>();
  let count = messages.length;
  const over = () => total > budgetTokens || (maxMessages !== null && count > maxMessages);
  while (over() && units.length > 0) {
    // The unit nearest the middle of what is left: removal spreads outwards from the middle.
    const unit = units.splice(Math.floor(units.length / 2), 1)[0]!;
    for (const i of unit) {
      removed.add(i);
      total -= sizes[i]!;
      count--;
    }
  }
  const kept = messages.filter((_, i) => !removed.has(i)).map((m) => ({ ...m, content: [...m.content] }));
  let truncated = 0;
  if (total > budgetTokens) {
    truncated = truncateLongest(kept, total - budgetTokens);
    if (truncated > 0) total = kept.reduce((sum, m) => sum + estimateMessageTokens(m), 0);
  }
  return { messages: kept, dropped: removed.size, truncated, tokens: total };
}

function isToolUnit(messages: readonly Message[], unit: number[]): boolean {
  const first = messages[unit[0]!]!;
  return first.role === 'assistant' && first.content.some((p) => p.type === 'tool-call');
}

/** Cuts `excessTokens` out of the middle of the longest text parts; returns how many parts were cut. */
function truncateLongest(messages: Message[], excessTokens: number): number {
  let excessChars = excessTokens * CHARS_PER_TOKEN;
  const texts: { m: Message; i: number; length: number }[] = [];
  for (const m of messages) {
    m.content.forEach((p, i) => {
      if (p.type === 'text') texts.push({ m, i, length: p.text.length });
    });
  }
  texts.sort((a, b) => b.length - a.length);
  let cut = 0;
  for (const t of texts) {
    if (excessChars <= 0) break;
    const part = t.m.content[t.i] as Extract<ContentPart, { type: 'text' }>;
    const removable = part.text.length - 2 * KEPT_AT_EACH_END;
    // A cut no longer than the marker would make the text longer, not shorter.
    if (removable <= CUT_MARKER_JSON_LENGTH) continue;
    const take = Math.min(removable, excessChars + CUT_MARKER_JSON_LENGTH);
    const keepStart = Math.floor((part.text.length - take) / 2);
    t.m.content[t.i] = { ...part, text: part.text.slice(0, keepStart) + CUT_MARKER + part.text.slice(keepStart + take) };
    excessChars -= take - CUT_MARKER_JSON_LENGTH;
    cut++;
  }
  return cut;
}

/** Tokens the answer needs room for: the client's max_tokens, else an eighth of the context; at most half of it. */
export function outputReserve(req: GenerationRequest, contextLength: number): number {
  return Math.min(req.maxTokens ?? Math.floor(contextLength / 8), Math.floor(contextLength / 2));
}
