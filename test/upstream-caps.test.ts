/** Upstream bytes are held only up to a cap: past it the attempt fails and the next provider serves. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, rngPicking, startGateway, type Gateway } from './support/gateway.js';
import { MAX_SSE_EVENT_CHARS } from '../src/pipeline/stream.js';
import { MAX_UPSTREAM_BODY } from '../src/upstream/transport.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const chunk = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

describe('caps on upstream buffers', () => {
  let groq: MockUpstream;
  let novita: MockUpstream;
  let gw: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    novita = await startMockUpstream();
    gw = await startGateway({ providers: { groq: groq.baseUrl, novita: novita.baseUrl } });
  });
  after(async () => {
    await gw.close();
    await groq.close();
    await novita.close();
  });

  it('an SSE line that never ends fails the attempt before content; the next provider answers', async () => {
    gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
    const piece = Buffer.alloc(1024 * 1024, 'x');
    const endless = [Buffer.from('data: {"choices":[{"delta":{"content":"'), ...Array.from({ length: Math.ceil(MAX_SSE_EVENT_CHARS / piece.length) + 2 }, () => piece)];
    groq.enqueue({ sse: endless });
    novita.enqueue({ sse: [chunk('fine'), chunk('', 'stop'), 'data: [DONE]\n\n'] });
    const res = await postChat(gw, { model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const got = await readSse(res);
    assert.equal(res.status, 200);
    assert.match(got.raw, /"content":"fine"/);
    assert.ok(!got.raw.includes('xxxxxxxx'));
    assert.match(res.headers.get('x-switchyard-route') ?? '', /groq=serving|groq/);
  });

  it('a non-streamed body over the cap fails the attempt; the next provider answers', async () => {
    gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
    groq.enqueue({ raw: `{"choices":[{"message":{"content":"${'y'.repeat(MAX_UPSTREAM_BODY + 1024)}"}}]}`, headers: { 'content-type': 'application/json' } });
    novita.enqueue({ json: chatCompletion('small and fine') });
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(res.status, 200);
    assert.equal(body.choices[0].message.content, 'small and fine');
  });
});
