/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Azure OpenAI authenticated by a Microsoft Entra ID app (AZURE_TENANT_ID, AZURE_CLIENT_ID,
 * AZURE_CLIENT_SECRET): a mock token endpoint on loopback (AZURE_AUTHORITY_HOST) that checks the
 * client credentials grant as Entra does, and a mock Azure resource that takes only the bearer token
 * it issued, answering with recorded Azure traffic (TestAzureCommon).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCassette } from './support/cassettes.js';
import { replyFromUpstreamRecording, startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { postChat, startGateway, type Gateway } from './support/gateway.js';
import { createLogger } from '../src/observability/logger.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT_ID = '0f1e2d3c-aaaa-bbbb-cccc-123456789abc';
const CLIENT_SECRET = 'entra-client-secret-value-0123456789';
const recorded = () => replyFromUpstreamRecording(loadCassette('upstream/TestAzureCommon/azure-o4-mini/simple.yaml')[0].response);
const ask = { model: 'openai/o4-mini', messages: [{ role: 'user', content: 'Say hi in Portuguese' }], provider: { only: ['azure'] } };

interface Env {
  login: MockUpstream;
  azure: MockUpstream;
  gw: Gateway;
  logs: string[];
  issued: string[];
}

/** What Entra checks: the tenant's v2 token route and a client credentials grant for the Cognitive Services scope. */
function tokenEndpoint(env: Env, expiresIn: number, refuse = false): (r: ReceivedRequest) => MockReply {
  return (r) => {
    const form = new URLSearchParams(r.body);
    if (r.path !== `/${TENANT}/oauth2/v2.0/token`) return { status: 404, json: { error: 'not_found' } };
    if (r.headers['content-type'] !== 'application/x-www-form-urlencoded') return { status: 400, json: { error: 'invalid_request' } };
    if (form.get('grant_type') !== 'client_credentials' || form.get('scope') !== 'https://cognitiveservices.azure.com/.default') return { status: 400, json: { error: 'invalid_scope' } };
    if (refuse || form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
      return { status: 401, json: { error: 'invalid_client', error_description: `AADSTS7000215: Invalid client secret provided. Secret: ${form.get('client_secret')}` } };
    }
    const token = `eyJ0eXAiOiJKV1Qi.entra-token-${env.issued.length + 1}`;
    env.issued.push(token);
    return { json: { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token } };
  };
}

/** The resource takes only the last token Entra issued, as a bearer token, never an api-key. */
function azureResource(env: Env): (r: ReceivedRequest) => MockReply {
  return (r) => {
    if (r.headers['api-key'] !== undefined || r.headers.authorization !== `Bearer ${env.issued.at(-1)}`) return { status: 401, json: { error: { code: 'PermissionDenied', message: 'Principal does not have access' } } };
    if (r.path !== '/openai/v1/chat/completions') return { status: 404, json: { error: { code: '404', message: 'Resource not found' } } };
    return recorded();
  };
}

function suite(expiresIn: number, extraEnv: Record<string, string> = {}): Env {
  const env = { logs: [] as string[], issued: [] as string[] } as unknown as Env;
  before(async () => {
    env.login = await startMockUpstream();
    env.azure = await startMockUpstream();
    env.login.onRequest(tokenEndpoint(env, expiresIn));
    env.azure.onRequest(azureResource(env));
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-entra-'));
    const configFile = join(dir, 'switchyard.yaml');
    writeFileSync(configFile, 'providers:\n  azure:\n    deployments:\n      o4-mini: openai/o4-mini\n');
    const logger = createLogger('debug', undefined, { write: (l: string) => void env.logs.push(l) });
    env.gw = await startGateway({
      providers: {},
      configFile,
      logger,
      env: { AZURE_BASE_URL: `${env.azure.url}/openai/v1`, AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT_ID, AZURE_CLIENT_SECRET: CLIENT_SECRET, AZURE_AUTHORITY_HOST: env.login.url, ...extraEnv },
    });
  });
  after(async () => {
    await env.gw.close();
    await env.login.close();
    await env.azure.close();
  });
  return env;
}

describe('Azure with an Entra ID app', () => {
  const env = suite(3599);

  it('obtains a token once, sends it as a bearer token, and reuses it until shortly before it expires', async () => {
    const answers = await Promise.all([postChat(env.gw, ask), postChat(env.gw, ask), postChat(env.gw, ask)]);
    for (const res of answers) {
      const body = (await res.json()) as any;
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.choices[0].message.content, 'Olá!');
    }
    const res = await postChat(env.gw, ask);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(env.login.requests.length, 1, 'one token exchange for concurrent and later requests');
    assert.equal(env.azure.requests.length, 4);
  });

  it('never logs the token or the client secret', () => {
    const text = env.logs.join('\n');
    assert.ok(env.logs.length > 0);
    assert.ok(!text.includes(CLIENT_SECRET), 'client secret in the log');
    for (const token of env.issued) assert.ok(!text.includes(token), 'access token in the log');
  });
});

describe('Azure with an Entra ID token about to expire', () => {
  // 60 s of validity is inside the renewal margin: every request needs a fresh token.
  const env = suite(60);

  it('renews the token before each request', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await postChat(env.gw, ask);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    assert.equal(env.login.requests.length, 2);
    assert.equal(env.azure.requests.at(-1)!.headers.authorization, `Bearer ${env.issued[1]}`);
  });
});

describe('Azure whose Entra ID app is refused', () => {
  const env = suite(3599);

  it('fails the attempt with the OAuth error code, without the secret, and never calls Azure', async () => {
    env.login.onRequest(tokenEndpoint(env, 3599, true));
    const res = await postChat(env.gw, ask);
    const body = (await res.json()) as any;
    assert.notEqual(res.status, 200);
    const raw = String(body.error.metadata?.raw ?? body.error.message);
    assert.match(raw, /Entra ID token request for client .* failed \(HTTP 401: invalid_client\)/);
    assert.ok(!JSON.stringify(body).includes(CLIENT_SECRET));
    assert.ok(!env.logs.join('\n').includes(CLIENT_SECRET));
    assert.equal(env.azure.requests.length, 0);
  });
});

describe('Azure with an API key and Entra ID variables', () => {
  const env = suite(3599, { AZURE_API_KEY: 'azure-key-0123456789' });

  it('uses the key (api-key header) and asks Entra for nothing', async () => {
    env.azure.onRequest((r) => (r.headers['api-key'] === 'azure-key-0123456789' && r.headers.authorization === undefined ? recorded() : { status: 401, json: { error: { code: '401', message: 'denied' } } }));
    const res = await postChat(env.gw, ask);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(env.login.requests.length, 0);
  });
});
