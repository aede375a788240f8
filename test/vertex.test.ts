/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Google Vertex AI through a mock token endpoint (the service account's own token_uri, which
 * verifies the RS256 assertion) and a mock Vertex that accepts only the token it issued, answering
 * with recorded Vertex traffic (test/fixtures/cassettes/upstream/TestGoogleVertexObjectGeneration).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCassette } from './support/cassettes.js';
import { replyFromUpstreamRecording, startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { postChat, readSse, startGateway, type Gateway } from './support/gateway.js';
import { GoogleTokenSource, TOKEN_MARGIN_MS } from '../src/upstream/google-auth.js';
import { tokenEndpoint as googleTokenEndpoint } from './support/google-token.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const EMAIL = 'router@switchyard-test.iam.gserviceaccount.com';
const recorded = (path: string) => replyFromUpstreamRecording(loadCassette(`upstream/TestGoogleVertexObjectGeneration/${path}.yaml`)[0].response);
const only = { provider: { only: ['google-vertex'] } };

const tokenEndpoint = (mock: MockUpstream) => googleTokenEndpoint(mock, { email: EMAIL, publicKey });

describe('Google Vertex AI', () => {
  let google: MockUpstream;
  let vertex: MockUpstream;
  let gw: Gateway;
  let tokens: { issued: string[] };
  const logs: string[] = [];
  before(async () => {
    [google, vertex] = await Promise.all([startMockUpstream(), startMockUpstream()]);
    tokens = tokenEndpoint(google);
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-vertex-'));
    const keyFile = join(dir, 'sa.json');
    writeFileSync(keyFile, JSON.stringify({ type: 'service_account', project_id: 'from-key-file', private_key_id: 'k1', private_key: PEM, client_email: EMAIL, token_uri: `${google.url}/token` }));
    const pino = (await import('pino')).default;
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
    gw = await startGateway({
      providers: {},
      logger,
      env: { GOOGLE_APPLICATION_CREDENTIALS: keyFile, GOOGLE_CLOUD_PROJECT: 'proj-1', GOOGLE_CLOUD_LOCATION: 'us-east5', GOOGLE_VERTEX_BASE_URL: vertex.url },
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([google.close(), vertex.close()]);
  });

  /** Vertex's own check: only a token the token endpoint issued. */
  const gate = (r: ReceivedRequest, path: RegExp, reply: MockReply): MockReply => {
    const token = String(r.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!tokens.issued.includes(token)) return { status: 401, json: { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } } };
    if (!path.test(r.path)) return { status: 404, json: { error: { code: 404, message: `not found: ${r.path}`, status: 'NOT_FOUND' } } };
    return reply;
  };

  it('Gemini through generateContent with a token from the key file’s token_uri', async () => {
    vertex.onRequest((r) => gate(r, /^\/v1\/projects\/proj-1\/locations\/us-east5\/publishers\/google\/models\/gemini-2\.5-flash:generateContent$/, recorded('vertex-gemini-2-5-flash/simple_object')));
    const res = await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'Alice, 30, Paris' }], ...only });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.provider, 'Google');
    assert.match(body.choices[0].message.content, /Alice/);
    assert.ok(body.usage.prompt_tokens > 0);
    assert.equal(vertex.requests.at(-1)!.json.contents[0].role, 'user');
  });

  it('Gemini streams through streamGenerateContent?alt=sse; the token is reused', async () => {
    vertex.onRequest((r) => gate(r, /gemini-2\.5-flash:streamGenerateContent\?alt=sse$/, recorded('vertex-gemini-2-5-flash/simple_object_streaming')));
    const res = await postChat(gw, { model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'Alice, 30, Paris' }], stream: true, ...only });
    assert.equal(res.status, 200);
    const { events } = await readSse(res);
    const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    assert.match(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), /Alice/);
    assert.ok(chunks.at(-1).usage.cost > 0);
    assert.equal(tokens.issued.length, 1, 'one token for both requests');
  });

  it('Claude through streamRawPredict: anthropic_version vertex-2023-10-16, no model, stream true', async () => {
    vertex.onRequest((r) => gate(r, /^\/v1\/projects\/proj-1\/locations\/us-east5\/publishers\/anthropic\/models\/claude-sonnet-4-5@20250929:streamRawPredict$/, recorded('vertex-claude-3-7-sonnet/simple_object_streaming')));
    const res = await postChat(gw, {
      model: 'anthropic/claude-sonnet-4.5',
      messages: [{ role: 'user', content: 'Alice, 30, Paris' }],
      tools: [{ type: 'function', function: { name: 'Person', parameters: { type: 'object', properties: { name: { type: 'string' } } } } }],
      stream: true,
      ...only,
    });
    assert.equal(res.status, 200);
    const { events } = await readSse(res);
    const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    const args = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []).map((t: any) => t.function?.arguments ?? '').join('');
    assert.match(args, /Alice/);
    assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'tool_calls'));
    const sent = vertex.requests.at(-1)!.json;
    assert.equal(sent.anthropic_version, 'vertex-2023-10-16');
    assert.equal(sent.model, undefined);
    assert.equal(sent.stream, true);
  });

  it('Claude through rawPredict (one body)', async () => {
    vertex.onRequest((r) => gate(r, /claude-sonnet-4-5@20250929:rawPredict$/, recorded('vertex-claude-3-7-sonnet/simple_object')));
    const res = await postChat(gw, { model: 'anthropic/claude-sonnet-4.5', messages: [{ role: 'user', content: 'Alice' }], ...only });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.provider, 'Google');
    assert.equal(vertex.requests.at(-1)!.json.stream, undefined);
  });

  it('never logs the token or the private key', () => {
    const all = logs.join('\n');
    assert.ok(!all.includes('ya29.test'), 'no access token in the log');
    assert.ok(!all.includes('PRIVATE KEY'), 'no private key in the log');
  });
});

describe('GoogleTokenSource', () => {
  it('renews a token shortly before it expires, one exchange for concurrent callers', async () => {
    const google = await startMockUpstream();
    try {
      const state = tokenEndpoint(google);
      let now = 1_000_000;
      const source = new GoogleTokenSource(() => now);
      const secret = JSON.stringify({ private_key: PEM, client_email: EMAIL, token_uri: `${google.url}/token` });
      const [a, b] = await Promise.all([source.resolve({ label: 'key-1', secret }), source.resolve({ label: 'key-1', secret })]);
      assert.equal(a.secret, 'ya29.test-1');
      assert.equal(b.secret, 'ya29.test-1');
      now += 3599_000 - TOKEN_MARGIN_MS - 1000;
      assert.equal((await source.resolve({ label: 'key-1', secret })).secret, 'ya29.test-1');
      now += 2000;
      assert.equal((await source.resolve({ label: 'key-1', secret })).secret, 'ya29.test-2');
      assert.equal(state.issued.length, 2);
    } finally {
      await google.close();
    }
  });
});
