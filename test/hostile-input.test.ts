/** Bodies and paths no real client sends: each gets a clear 4xx in the door's envelope, never a 500. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { startGateway, type Gateway } from './support/gateway.js';

const deep = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

describe('hostile input', () => {
  let groq: MockUpstream;
  let gw: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    gw = await startGateway({ providers: { groq: groq.baseUrl } });
  });
  after(async () => {
    await gw.close();
    await groq.close();
  });

  const post = (path: string, body: string) => fetch(`${gw.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('a body nested 100,000 levels deep is a 400 on every front door, with a generation id', async () => {
    const tools = `[{"type":"function","function":{"name":"f","parameters":${deep(100_000)}}}]`;
    for (const [path, body, shape] of [
      ['/chat/completions', `{"model":"moonshotai/kimi-k2-0905","messages":[{"role":"user","content":"hi"}],"tools":${tools}}`, 'error'],
      ['/messages', `{"model":"moonshotai/kimi-k2-0905","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"metadata":${deep(100_000)}}`, 'type'],
      ['/responses', `{"model":"moonshotai/kimi-k2-0905","input":"hi","text":{"format":{"type":"json_schema","name":"x","schema":${deep(100_000)}}}}`, 'error'],
    ] as const) {
      const res = await post(path, body);
      const json = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(json)}`);
      assert.ok(shape in json, `${path}: ${JSON.stringify(json)}`);
      assert.match(JSON.stringify(json), /nested more than 128 levels/);
      assert.match(res.headers.get('x-generation-id') ?? '', /^gen-/);
    }
    assert.equal(groq.requests.length, 0);
  });

  it('malformed percent-encoding in a path is a 400, not a 500', async () => {
    for (const path of ['/models/foo/%E0%A4%A', '/models/foo/%E0%A4%A/endpoints', '/responses/%E0%A4%A']) {
      const res = await fetch(`${gw.baseUrl}${path}`);
      assert.equal(res.status, 400, `${path}: ${res.status}`);
    }
    // Management routes check the key first (401 here, auth off means no management key exists); never a 500.
    const keys = await fetch(`${gw.baseUrl}/keys/%ZZ`);
    assert.ok(keys.status < 500, `/keys/%ZZ: ${keys.status}`);
  });
});

describe('readiness names no addresses', () => {
  it('driver messages keep their reason and lose host and port', async () => {
    const { withoutAddresses } = await import('../src/http/readiness.js');
    assert.equal(withoutAddresses('connect ECONNREFUSED 127.0.0.1:5432'), 'connect ECONNREFUSED <address>');
    assert.equal(withoutAddresses('getaddrinfo ENOTFOUND db.internal.example:6379 failed'), 'getaddrinfo ENOTFOUND <address> failed');
    assert.equal(withoutAddresses('connect ECONNREFUSED [::1]:6379'), 'connect ECONNREFUSED <address>');
    assert.equal(withoutAddresses('Connection terminated due to connection timeout'), 'Connection terminated due to connection timeout');
  });
});
