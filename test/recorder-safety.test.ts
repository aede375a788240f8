/** Recording never replaces an earlier cassette and never writes a credential an upstream echoes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatCompletion, startMockUpstream } from './support/mock-upstream.js';
import { postChat, startGateway } from './support/gateway.js';
import { loadCassetteFile } from '../src/upstream/replay/cassette.js';

describe('recording', () => {
  it('appends to a cassette named again (another session, another client) and masks echoed keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-rec-safety-'));
    const body = { model: 'moonshotai/kimi-k2-0905', messages: [{ role: 'user', content: 'hi' }], provider: { only: ['groq'] } };
    for (const text of ['first session', 'second session']) {
      const groq = await startMockUpstream();
      const gw = await startGateway({ providers: { groq: groq.baseUrl }, env: { SWITCHYARD_RECORD_DIR: dir } });
      try {
        groq.enqueue({ json: chatCompletion(text) });
        groq.enqueue({ status: 401, json: { error: { message: 'Incorrect API key provided: test-key-groq' } } });
        assert.equal((await postChat(gw, body, { 'X-Switchyard-Cassette': 'shared-name' })).status, 200);
        assert.equal((await postChat(gw, body, { 'X-Switchyard-Cassette': 'shared-name' })).status, 502);
      } finally {
        await gw.close();
        await groq.close();
      }
    }
    assert.deepEqual(readdirSync(dir), ['shared-name.yaml']);
    const interactions = loadCassetteFile(join(dir, 'shared-name.yaml'));
    assert.equal(interactions.length, 4);
    assert.match(interactions[0].response.body, /first session/);
    assert.match(interactions[2].response.body, /second session/);
    const text = readFileSync(join(dir, 'shared-name.yaml'), 'utf8');
    assert.ok(!text.includes('test-key-groq'), 'the echoed provider key reached the cassette');
    assert.match(text, /\[redacted\]/);
  });
});
