/** Upstream replies with realistic usage for budget tests: an OpenAI-style stream that ends with a usage chunk. */
import type { MockReply } from './mock-upstream.js';

export interface UsageReply {
  promptTokens: number;
  completionTokens: number;
  /** Content chunks before the finish (each one word). */
  words?: number;
  chunkDelayMs?: number;
}

const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

export function streamWithUsage(u: UsageReply): MockReply {
  const words = u.words ?? 3;
  const base = { id: 'chatcmpl-usage', object: 'chat.completion.chunk', created: 1, model: 'm' };
  const sse: string[] = [];
  for (let i = 0; i < words; i++) sse.push(chunk({ ...base, choices: [{ index: 0, delta: { content: `w${i} ` }, finish_reason: null }] }));
  sse.push(chunk({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
  sse.push(chunk({ ...base, choices: [], usage: { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens } }));
  sse.push('data: [DONE]\n\n');
  return { sse, chunkDelayMs: u.chunkDelayMs };
}

export function jsonWithUsage(u: UsageReply): MockReply {
  return {
    json: {
      id: 'chatcmpl-usage',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens },
    },
  };
}
