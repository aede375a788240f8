/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Large prompts: the gateway hands bodies of 16 KiB or more to undici as a one-shot iterable (so
 * an open stream does not keep its prompt) and stops holding the client's body once read. The
 * bytes must still reach the upstream intact, with an exact content-length, on every attempt.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, rngPicking, startGateway, type Gateway } from './support/gateway.js';
import { fetchGeneration } from './support/requests.js';

const MODEL = 'moonshotai/kimi-k2-0905';
// Multi-byte characters, so that characters and bytes differ.
const PROMPT = 'Résumé ✓ 日本語 '.repeat(6000);
const sse = (content: string) => [
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: null }] })}\n\n`,
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 } })}\n\n`,
  'data: [DONE]\n\n',
];

describe('large request bodies', () => {
  let groq: MockUpstream;
  let novita: MockUpstream;
  let gw: Gateway;

  before(async () => {
    groq = await startMockUpstream();
    novita = await startMockUpstream();
    gw = await startGateway({ providers: { groq: groq.baseUrl, novita: novita.baseUrl } });
    gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
  });
  after(async () => {
    await gw.close();
    await groq.close();
    await novita.close();
  });

  const checkReceived = (up: MockUpstream) => {
    const got = up.requests.at(-1)!;
    assert.ok(Buffer.byteLength(got.body) > 16 * 1024, 'the body is above the one-shot threshold');
    assert.equal(Number(got.headers['content-length']), Buffer.byteLength(got.body), 'content-length is the byte length');
    assert.equal(got.headers['transfer-encoding'], undefined, 'not chunked');
    assert.equal(got.json.messages[0].content, PROMPT, 'the prompt arrived intact');
  };

  it('streaming: the prompt reaches the upstream intact, also on the fallback attempt', async () => {
    groq.enqueue({ status: 500, json: { error: { message: 'boom' } } });
    novita.enqueue({ sse: sse('Olá') });
    const res = await postChat(gw, { model: MODEL, stream: true, user: 'user-7', session_id: 'sess-7', messages: [{ role: 'user', content: PROMPT }] });
    const got = await readSse(res);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(got.events[0]).choices[0].delta.content, 'Olá');
    checkReceived(groq);
    checkReceived(novita);
    // The conversation is released once content went out; the record keeps what it needs.
    const rec = await fetchGeneration(gw, res.headers.get('x-generation-id')!);
    assert.equal(rec.model, MODEL);
    assert.equal(rec.streamed, true);
    assert.equal(rec.external_user, 'user-7');
    assert.equal(rec.session_id, 'sess-7');
    assert.equal(rec.provider_name, 'Novita');
    assert.equal(rec.tokens_prompt, 9);
  });

  it('non-streaming: the prompt reaches the upstream intact', async () => {
    groq.enqueue({ json: chatCompletion('Olá', { prompt_tokens: 9, completion_tokens: 1 }) });
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: PROMPT }] });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).choices[0].message.content, 'Olá');
    checkReceived(groq);
  });
});
