/* eslint-disable @typescript-eslint/no-explicit-any -- decoded chunks under test */
/**
 * The OpenAI-compatible stream decoder's per-token fast path must decode exactly what a full
 * JSON.parse of every event decodes, whatever the content holds and whenever the shape changes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAICompatibleAdapter } from '../src/providers/openai/adapter.js';
import type { Endpoint } from '../src/catalog/types.js';
import type { ProviderRuntime } from '../src/config/load.js';
import type { GenerationRequest } from '../src/model/request.js';

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

describe('OpenAI-compatible request from the wire-neutral model', () => {
  const endpoint = { upstreamModel: 'up-model', maxCompletionTokens: null, supportedParameters: new Set<string>() } as unknown as Endpoint;
  const provider = (slug: string) => ({ entry: { slug }, headers: { 'X-Extra': 'y' }, baseUrl: 'https://host/v1', apiKey: 'k', enabled: true }) as unknown as ProviderRuntime;
  const gen = (r: Partial<GenerationRequest>): GenerationRequest => ({
    api: 'responses',
    model: 'm',
    models: [],
    provider: null,
    messages: [],
    tools: [],
    stream: false,
    extra: {},
    promptChars: 0,
    parameters: [],
    ...r,
  });
  const build = (r: Partial<GenerationRequest>, slug = 'groq', stream = false) => adapter.buildRequest(gen(r), endpoint, provider(slug), stream);

  it('a custom tool becomes a function of one string; its calls and outputs go back as JSON arguments and tool messages', () => {
    const body = JSON.parse(
      build({
        tools: [
          { type: 'function', kind: 'custom', name: 'apply_patch', description: 'Apply a patch', format: { type: 'grammar', syntax: 'lark', definition: 'start: /.+/' } },
          { type: 'hosted', name: 'web_search', config: { type: 'web_search' } },
        ],
        toolChoice: { name: 'apply_patch' },
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'fix it' }] },
          {
            role: 'assistant',
            content: [
              { type: 'reasoning', encrypted: 'gAAA', format: 'openai-responses-v1', id: 'rs_1' },
              { type: 'tool-call', kind: 'custom', id: 'call_1', name: 'apply_patch', arguments: '*** Begin Patch' },
            ],
          },
          { role: 'tool', content: [{ type: 'tool-result', kind: 'custom', callId: 'call_1', content: [{ type: 'text', text: 'done' }] }] },
        ],
      }).body,
    );
    assert.equal(body.tools.length, 1, 'hosted tools have no chat-completions form');
    assert.equal(body.tools[0].type, 'function');
    assert.equal(body.tools[0].function.name, 'apply_patch');
    assert.deepEqual(body.tools[0].function.parameters.required, ['input']);
    assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'apply_patch' } });
    assert.deepEqual(body.messages.slice(1), [
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"*** Begin Patch"}' } }] },
      { role: 'tool', content: 'done', tool_call_id: 'call_1' },
    ]);
  });

  it('tool results: one tool message each; an image result is an array of parts', () => {
    const body = JSON.parse(
      build({
        messages: [
          { role: 'assistant', content: [{ type: 'tool-call', id: 'a', name: 'f', arguments: '{}' }, { type: 'tool-call', id: 'b', name: 'g', arguments: '{}' }] },
          {
            role: 'tool',
            content: [
              { type: 'tool-result', callId: 'a', content: [{ type: 'text', text: 'see' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBO' }, detail: 'low' }] },
              { type: 'tool-result', callId: 'b', content: [{ type: 'text', text: 'ok' }] },
            ],
          },
        ],
      }).body,
    );
    assert.deepEqual(body.messages.slice(1), [
      {
        role: 'tool',
        content: [
          { type: 'text', text: 'see' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBO', detail: 'low' } },
        ],
        tool_call_id: 'a',
      },
      { role: 'tool', content: 'ok', tool_call_id: 'b' },
    ]);
  });

  it('file, audio and video parts; a cached lone text stays an array; message keys in the client order', () => {
    const req = build({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'be brief', cache: { type: 'ephemeral' } }] },
        {
          role: 'user',
          name: 'ann',
          content: [
            { type: 'file', filename: 'a.pdf', source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBERi0=' } },
            { type: 'file', source: { kind: 'url', url: 'https://example.com/b.pdf' } },
            { type: 'file', filename: 'c.pdf', source: { kind: 'file-id', fileId: 'file-123' } },
            { type: 'audio', data: 'UklG', format: 'wav' },
            { type: 'video', url: 'https://example.com/v.mp4' },
          ],
        },
      ],
      maxTokens: 100,
      stop: ['END'],
      user: 'someone@example.com',
      extra: { verbosity: 'low', safe_prompt: true },
    });
    const body = JSON.parse(req.body);
    assert.deepEqual(body.messages, [
      { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
      {
        role: 'user',
        content: [
          { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
          { type: 'file', file: { file_data: 'https://example.com/b.pdf' } },
          { type: 'file', file: { filename: 'c.pdf', file_id: 'file-123' } },
          { type: 'input_audio', input_audio: { data: 'UklG', format: 'wav' } },
          { type: 'video_url', video_url: { url: 'https://example.com/v.mp4' } },
        ],
        name: 'ann',
      },
    ]);
    assert.deepEqual(Object.keys(body.messages[1]), ['role', 'content', 'name']);
    assert.deepEqual(Object.keys(body), ['model', 'messages', 'max_tokens', 'stop', 'user', 'verbosity', 'safe_prompt']);
    assert.match(body.user, /^[0-9a-f]{32}$/, 'the end user is hashed');
    assert.equal(req.headers['x-extra'], 'y');
    assert.equal(req.headers.authorization, 'Bearer k');
    const openai = JSON.parse(build({ maxTokens: 100, topK: 5, extra: { safe_prompt: true }, reasoning: { enabled: true } }, 'openai', true).body);
    assert.deepEqual(openai, { model: 'up-model', messages: [], max_completion_tokens: 100, reasoning_effort: 'medium', stream: true, stream_options: { include_usage: true } });
  });
});
