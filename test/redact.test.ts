import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { providerRedactor, Redactor } from '../src/core/redact.js';

describe('Redactor', () => {
  const r = new Redactor(['configured-secret-value-123', undefined, 'short']);

  it('masks configured keys wherever they appear', () => {
    assert.equal(r.redact('key configured-secret-value-123 was rejected'), 'key [redacted] was rejected');
  });

  it('masks credential-shaped tokens of the common providers', () => {
    const text = [
      'Incorrect API key provided: sk-proj-abcdefghijklmnop1234.',
      'anthropic sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv',
      'Authorization: Bearer abc.def-ghi_jkl012',
      'groq gsk_ABCDEFGHIJKLMNOPQRSTUV',
      'google AIzaSyA1234567890abcdefghijklmnopqrstu',
      'aws AKIAIOSFODNN7EXAMPLE',
      'url https://x.example/v1?key=supersecret&alt=sse',
    ].join('\n');
    const out = r.redact(text);
    for (const leaked of ['sk-proj-abcdefghijklmnop1234', 'sk-ant-api03', 'abc.def-ghi_jkl012', 'gsk_ABCDEFGHIJKLMNOPQRSTUV', 'AIzaSyA1234567890', 'AKIAIOSFODNN7EXAMPLE', 'supersecret']) {
      assert.ok(!out.includes(leaked), `${leaked} leaked: ${out}`);
    }
    assert.match(out, /\?key=\[redacted\]&alt=sse/);
    assert.match(out, /Incorrect API key provided: \[redacted\]\./);
  });

  it('masks the secrets inside a credential that is a JSON document (service account, Entra ID application)', () => {
    const app = JSON.stringify({ tenant_id: 't', client_id: 'client-visible', client_secret: 'entra-secret-value-123', authority_host: 'https://login.example' });
    const r = providerRedactor([{ keys: { secrets: () => [app] } }]);
    assert.equal(r.redact('AADSTS7000215: Invalid client secret entra-secret-value-123 for client-visible'), 'AADSTS7000215: Invalid client secret [redacted] for client-visible');
  });

  it('leaves ordinary error text alone (short values are not scanned for)', () => {
    const text = 'Rate limit reached for model kimi-k2 in organization org-1: short answer, try again in 20s';
    assert.equal(r.redact(text), text);
  });
});

describe('secrets in upstream errors never pass through', () => {
  it('a provider 401 echoing its key reaches the client, the log and the record masked; connection errors name no address', async () => {
    const { startMockUpstream } = await import('./support/mock-upstream.js');
    const { startGateway, postChat } = await import('./support/gateway.js');
    const { fetchGeneration } = await import('./support/requests.js');
    const pino = (await import('pino')).default;
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const groq = await startMockUpstream();
    const gw = await startGateway({ providers: { groq: groq.baseUrl }, logger });
    try {
      // startGateway configures `test-key-groq`; the provider echoes it back, plus another provider's key shape.
      groq.enqueue({ status: 401, json: { error: { message: 'Incorrect API key provided: test-key-groq (also tried sk-proj-abcdefghijklmnopqrstuv)' } } });
      const res = await postChat(gw, { model: 'moonshotai/kimi-k2-0905', messages: [{ role: 'user', content: 'hi' }], provider: { only: ['groq'] } });
      const text = await res.text();
      assert.equal(res.status, 502);
      assert.ok(!text.includes('test-key-groq') && !text.includes('sk-proj-abc'), text);
      assert.match(text, /\[redacted\]/);
      const rec = await fetchGeneration(gw, res.headers.get('x-generation-id')!);
      assert.ok(!JSON.stringify(rec).includes('test-key-groq'), JSON.stringify(rec));
      assert.ok(!lines.join('').includes('test-key-groq'), 'the log leaked the key');

      gw.app.settings.providers.get('groq')!.baseUrl = 'http://127.0.0.1:1/v1';
      const refused = await postChat(gw, { model: 'moonshotai/kimi-k2-0905', messages: [{ role: 'user', content: 'hi' }], provider: { only: ['groq'] } });
      const body = await refused.text();
      assert.ok(!body.includes('127.0.0.1'), body);
      assert.match(body, /upstream connection failed \(ECONNREFUSED\)/);
    } finally {
      await gw.close();
      await groq.close();
    }
  });
});
