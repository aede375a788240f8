/**
 * Shutdown's drain (src/http/server.ts): open requests may finish until the drain deadline; a
 * stream still open then is cut with its connection, the shutdown completes, and the cut
 * generation is still recorded, as cancelled.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMockUpstream } from './support/mock-upstream.js';
import { startGateway } from './support/gateway.js';
import { streamWithUsage } from './support/usage-upstream.js';
import type { GenerationRecord } from '../src/storage/generations.js';

describe('shutdown drain', () => {
  it('a stream still open at the drain deadline is cut, the shutdown completes, and its record says cancelled', async () => {
    const groq = await startMockUpstream();
    // 40 words, one every 100 ms: about 4 s, far past the drain deadline below.
    groq.onRequest(() => streamWithUsage({ promptTokens: 8, completionTokens: 40, words: 40, chunkDelayMs: 100 }));
    const gw = await startGateway({ providers: { groq: groq.baseUrl } });
    gw.app.settings.drainTimeoutMs = 300;
    const saved: GenerationRecord[] = [];
    const save = gw.app.store.save.bind(gw.app.store);
    gw.app.store.save = (r: GenerationRecord) => {
      saved.push(r);
      save(r);
    };
    try {
      const res = await fetch(`${gw.baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'moonshotai/kimi-k2-0905', stream: true, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('w1 ')) text += new TextDecoder().decode((await reader.read()).value);
      const started = Date.now();
      const closed = gw.close();
      // The client sees its stream end early, without [DONE].
      const rest = (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return 'ended';
            text += new TextDecoder().decode(value);
          }
        } catch {
          return 'cut';
        }
      })();
      await closed;
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 2500, `shutdown took ${elapsed} ms with a 300 ms drain deadline`);
      assert.ok(['ended', 'cut'].includes(await rest));
      assert.doesNotMatch(text, /\[DONE\]/);
      assert.equal(saved.length, 1);
      assert.equal(saved[0].cancelled, true);
      assert.equal(saved[0].streamed, true);
    } finally {
      await groq.close();
    }
  });
});
