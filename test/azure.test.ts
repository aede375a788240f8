/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Azure OpenAI through a mock Azure resource that checks what Azure checks: the `api-key` header,
 * the deployment route and its `api-version` (or the v1 route and its `model`), answering with
 * recorded Azure traffic (test/fixtures/cassettes/upstream/TestAzureCommon).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCassette } from './support/cassettes.js';
import { replyFromUpstreamRecording, startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { postChat, readSse, startGateway, type Gateway } from './support/gateway.js';
import { azureChatUrl, parseAzureError } from '../src/providers/azure/adapter.js';

const KEY = 'azure-key-0123456789';
const recorded = (name: string) => replyFromUpstreamRecording(loadCassette(`upstream/TestAzureCommon/azure-o4-mini/${name}.yaml`)[0].response);
const CONTENT_FILTER = {
  error: {
    message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
    type: null,
    param: 'prompt',
    code: 'content_filter',
    status: 400,
    innererror: {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: { hate: { filtered: true, severity: 'medium' }, jailbreak: { filtered: false, detected: false }, sexual: { filtered: false, severity: 'safe' } },
    },
  },
};

/** What a real Azure resource refuses: a wrong key, a missing api-version, an unknown route. */
function azureGate(r: ReceivedRequest, route: RegExp): MockReply | null {
  if (r.headers['api-key'] !== KEY) return { status: 401, json: { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } } };
  if (r.headers.authorization !== undefined) return { status: 400, json: { error: { message: 'unexpected Authorization header' } } };
  if (!route.test(r.path)) return { status: 404, json: { error: { code: '404', message: `Resource not found: ${r.path}` } } };
  return null;
}

function configFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-azure-'));
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, yaml);
  return file;
}

const only = { provider: { only: ['azure'] } };

/** A mock Azure resource and a gateway pointed at it (`suffix` after the mock's origin in AZURE_BASE_URL). */
function azureSuite(yaml: string, suffix: string): { azure: MockUpstream; gw: Gateway } {
  const ctx = {} as { azure: MockUpstream; gw: Gateway };
  before(async () => {
    ctx.azure = await startMockUpstream();
    ctx.gw = await startGateway({ providers: {}, configFile: configFile(yaml), env: { AZURE_API_KEY: KEY, AZURE_BASE_URL: `${ctx.azure.url}${suffix}` } });
  });
  after(async () => {
    await ctx.gw.close();
    await ctx.azure.close();
  });
  return ctx;
}

describe('Azure OpenAI, deployments API', () => {
  const ctx = azureSuite('providers:\n  azure:\n    api_version: 2024-10-21\n    deployments:\n      my-o4: openai/o4-mini\n      gpt4o-prod: openai/gpt-4o\n', '');

  it('routes to /openai/deployments/{deployment}/chat/completions?api-version with api-key and no model field', async () => {
    ctx.azure.onRequest((r) => azureGate(r, /^\/openai\/deployments\/my-o4\/chat\/completions\?api-version=2024-10-21$/) ?? recorded('simple'));
    const res = await postChat(ctx.gw, { model: 'openai/o4-mini', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], max_tokens: 4000, ...only });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.choices[0].message.content, 'Olá!');
    assert.equal(body.provider, 'Azure');
    assert.equal(body.usage.completion_tokens_details.reasoning_tokens, 64);
    const sent = ctx.azure.requests.at(-1)!.json;
    assert.equal(sent.model, undefined);
    assert.equal(sent.max_completion_tokens, 4000, 'a reasoning model gets max_completion_tokens');
    assert.equal(sent.max_tokens, undefined);
  });

  it('streams the recorded Azure stream (prompt filter results first) in OpenRouter chunks', async () => {
    ctx.azure.onRequest((r) => azureGate(r, /^\/openai\/deployments\/my-o4\/chat\/completions\?api-version=/) ?? recorded('simple_streaming'));
    const res = await postChat(ctx.gw, { model: 'openai/o4-mini', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], stream: true, ...only });
    assert.equal(res.status, 200);
    const { events } = await readSse(res);
    const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.ok(text.length > 0);
    assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'stop'));
    assert.ok(chunks.at(-1).usage.cost > 0);
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(ctx.azure.requests.at(-1)!.json.stream, true);
  });

  it('a model that does not reason gets max_tokens on its own deployment', async () => {
    ctx.azure.onRequest((r) => azureGate(r, /^\/openai\/deployments\/gpt4o-prod\/chat\/completions\?api-version=2024-10-21$/) ?? recorded('simple'));
    const res = await postChat(ctx.gw, { model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, ...only });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const sent = ctx.azure.requests.at(-1)!.json;
    assert.equal(sent.max_tokens, 50);
    assert.equal(sent.max_completion_tokens, undefined);
  });

  it("Azure's content filter: a 400 that names the flagged categories", async () => {
    ctx.azure.onRequest((r) => azureGate(r, /deployments\/my-o4/) ?? { status: 400, json: CONTENT_FILTER });
    const res = await postChat(ctx.gw, { model: 'openai/o4-mini', messages: [{ role: 'user', content: 'something hateful' }], ...only });
    assert.equal(res.status, 400);
    const body = (await res.json()) as any;
    assert.match(body.error.metadata.raw, /Azure content filter blocked the request: hate \(medium\)/);
    assert.equal(body.error.metadata.provider_name, 'Azure');
  });

  it('a content_filter finish reason is reported as such', async () => {
    const filtered = { id: 'c', object: 'chat.completion', created: 1, model: 'o4-mini', choices: [{ index: 0, finish_reason: 'content_filter', message: { role: 'assistant', content: null }, content_filter_results: { violence: { filtered: true, severity: 'high' } } }], usage: { prompt_tokens: 5, completion_tokens: 0, total_tokens: 5 } };
    ctx.azure.onRequest((r) => azureGate(r, /deployments\/my-o4/) ?? { json: filtered });
    const res = await postChat(ctx.gw, { model: 'openai/o4-mini', messages: [{ role: 'user', content: 'x' }], ...only });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).choices[0].finish_reason, 'content_filter');
  });
});

describe('Azure OpenAI, v1 API', () => {
  const ctx = azureSuite('providers:\n  azure:\n    deployments:\n      o4-mini-eu: openai/o4-mini\n', '/openai/v1');

  it('calls /openai/v1/chat/completions with model = the deployment name', async () => {
    ctx.azure.onRequest((r) => azureGate(r, /^\/openai\/v1\/chat\/completions$/) ?? recorded('simple'));
    const res = await postChat(ctx.gw, { model: 'openai/o4-mini', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], ...only });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).choices[0].message.content, 'Olá!');
    assert.equal(ctx.azure.requests.at(-1)!.json.model, 'o4-mini-eu');
  });
});

describe('Azure routes and errors', () => {
  it('builds the deployment and v1 URLs', () => {
    assert.equal(azureChatUrl('https://r.openai.azure.com', 'dep 1', '2024-10-21'), 'https://r.openai.azure.com/openai/deployments/dep%201/chat/completions?api-version=2024-10-21');
    assert.equal(azureChatUrl('https://r.openai.azure.com/openai/v1', 'dep', undefined), 'https://r.openai.azure.com/openai/v1/chat/completions');
    assert.equal(azureChatUrl('https://r.openai.azure.com/openai/v1', 'dep', 'preview'), 'https://r.openai.azure.com/openai/v1/chat/completions?api-version=preview');
  });

  it('maps errors: content filter, others by their message', () => {
    assert.equal(parseAzureError(400, JSON.stringify(CONTENT_FILTER)).status, 400);
    assert.deepEqual(parseAzureError(429, '{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded call rate limit"}}'), {
      status: 429,
      raw: 'Requests to the ChatCompletions_Create Operation have exceeded call rate limit',
    });
  });
});
