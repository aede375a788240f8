/* eslint-disable @typescript-eslint/no-explicit-any -- decoded chunks under test */
/**
 * The OpenAI-compatible stream decoder's per-token fast path must decode exactly what a full
 * JSON.parse of every event decodes, whatever the content holds and whenever the shape changes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAICompatibleAdapter } from '../src/providers/openai/adapter.js';

const adapter = new OpenAICompatibleAdapter();

const envelope = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}, finish: string | null = null) =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1757000000,
    model: 'moonshotai/kimi-k2-instruct-0905',
    system_fingerprint: 'fp_1',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    x_groq: { id: 'req_1' },
    ...extra,
  });

type Decoded = Record<string, any>[] | null;

/**
 * Each event decoded by one long-lived decoder (fast path on) and by a fresh one (full parse).
 * A fast-path chunk carries only its choice (the envelope fields were reported by the chunk it
 * was learned from), so choices are compared, and envelope fields where the full path was taken.
 */
function both(events: string[]): { streamed: Decoded[]; fresh: Decoded[]; fast: boolean[] } {
  const decoder = adapter.createStreamDecoder();
  const streamed = events.map((data) => decoder.decode({ data }) as Decoded);
  const fresh = events.map((data) => adapter.createStreamDecoder().decode({ data }) as Decoded);
  const fast = streamed.map((chunks) => chunks !== null && chunks.length === 1 && chunks[0].upstreamId === undefined && chunks[0].choice !== undefined);
  for (const [i, chunks] of streamed.entries()) {
    if (fast[i]) assert.deepEqual(chunks![0].choice, fresh[i]![0].choice, `event ${i}`);
    else assert.deepEqual(chunks, fresh[i], `event ${i}`);
  }
  return { streamed, fresh, fast };
}

describe('OpenAI-compatible stream decoder', () => {
  it('plain content chunks decode the same with and without the fast path', () => {
    const contents = ['Olá', '!', ' a "quoted" word', ' back\\slash', ' line\nbreak', ' tab\t', ' emoji 🎉', ' \u0001 control', '', ' done'];
    const events = [envelope({ role: 'assistant', content: '' }), ...contents.map((c) => envelope({ content: c }))];
    const { streamed, fast } = both(events);
    for (const [i, c] of contents.entries()) assert.equal(streamed[i + 1]![0].choice.content, c);
    // The role chunk and the first content chunk are parsed in full; the rest take the fast path.
    assert.deepEqual(fast, [false, false, ...contents.slice(1).map(() => true)]);
  });

  it('a chunk that differs outside its content takes the full path', () => {
    const events = [
      envelope({ content: 'a' }),
      envelope({ content: 'b' }),
      envelope({ content: 'c' }, { system_fingerprint: 'fp_2' }),
      envelope({ content: 'd' }),
      envelope({ content: 'e' }, { usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }),
      envelope({ content: 'f', reasoning: 'r' }),
      envelope({ content: 'g' }, {}, 'stop'),
      envelope({ content: '"},"logprobs":null,"finish_reason":"stop"}],"x":{"a":"' }),
      envelope({ content: 'h' }),
      // Non-ASCII escaped by the upstream (\u00e1), unlike JSON.stringify: the literal is unescaped.
      envelope({ content: 'á' }).replace('á', '\\u00e1'),
      envelope({ content: 'i' }),
    ];
    const { streamed, fast } = both(events);
    // Learned again after the odd content (its quotes are escaped alike), so h, á and i are fast.
    assert.deepEqual(fast, [false, true, false, false, false, false, false, false, true, true, true]);
    assert.equal(streamed[2]![0].systemFingerprint, 'fp_2');
    assert.equal(streamed[4]![0].usage.completionTokens, 2);
    assert.equal(streamed[6]![0].choice.finishReason, 'stop');
    assert.equal(streamed[9]![0].choice.content, 'á');
  });

  it('ends at [DONE] and reports invalid JSON', () => {
    const decoder = adapter.createStreamDecoder();
    decoder.decode({ data: envelope({ content: 'a' }) });
    assert.equal(decoder.decode({ data: '[DONE]' }), null);
    const bad = decoder.decode({ data: envelope({ content: 'a' }).slice(0, -3) }) as Decoded;
    assert.equal(bad![0].error.status, 502);
  });
});
