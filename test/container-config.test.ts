/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies */
/**
 * Configuration a container platform can give: a management key from the environment
 * (SWITCHYARD_ADMIN_KEY), `${VAR}` references in switchyard.yaml, and providers' own variable names
 * for their keys.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadSettings } from '../src/config/load.js';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, startGateway, type Gateway } from './support/gateway.js';
import { jsonWithUsage } from './support/usage-upstream.js';
import { runCli, waitFor, stopProc } from './support/process.js';

const ADMIN_KEY = 'sy-admin-0123456789abcdef';
const chat = { model: 'moonshotai/kimi-k2-0905', messages: [{ role: 'user', content: 'hi' }], provider: { only: ['groq'] } };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-conf-'));
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, text);
  return file;
}

/** The ConfigError loadSettings refuses with. */
function refusal(file: string, env: Record<string, string>): string {
  try {
    loadSettings({ configFile: file, env, demo: false });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('loadSettings accepted the configuration');
}

describe('SWITCHYARD_ADMIN_KEY', () => {
  let groq: MockUpstream;
  let gw: Gateway;
  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest(() => jsonWithUsage({ promptTokens: 3, completionTokens: 2 }));
    gw = await startGateway({ providers: { groq: groq.baseUrl }, env: { SWITCHYARD_ADMIN_KEY: ADMIN_KEY }, apiKeys: ['sy-config-inference-key'] });
  });
  after(async () => {
    await gw?.close();
    await groq?.close();
  });

  it('turns auth on and is a management key beside configured and database keys', async () => {
    assert.equal((await postChat(gw, chat)).status, 401);
    const me = (await (await fetch(`${gw.baseUrl}/key`, { headers: bearer(ADMIN_KEY) })).json()) as any;
    assert.deepEqual([me.data.label, me.data.is_management_key], ['SWITCHYARD_ADMIN_KEY', true]);
    // It manages database keys…
    const created = await fetch(`${gw.baseUrl}/keys`, { method: 'POST', headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' }, body: '{"name":"app"}' });
    assert.equal(created.status, 201);
    const { key } = (await created.json()) as { key: string };
    const served = await postChat(gw, chat, bearer(key));
    assert.equal(served.status, 200);
    await served.text();
    // …is refused for inference like any management key, while the configured inference key still works.
    assert.equal((await postChat(gw, chat, bearer(ADMIN_KEY))).status, 403);
    const configured = await postChat(gw, chat, bearer('sy-config-inference-key'));
    assert.equal(configured.status, 200);
    await configured.text();
    assert.equal((await fetch(`${gw.baseUrl}/keys`, { headers: bearer(`${ADMIN_KEY}x`) })).status, 401);
  });

  it('is kept only as a digest: not in the settings, not in the database', async () => {
    assert.ok(!JSON.stringify(gw.app.settings).includes(ADMIN_KEY));
    assert.equal(gw.app.settings.adminKeyDigest?.length, 32);
    await gw.app.store.flush();
    for (const f of readdirSync(gw.dataDir)) assert.ok(!readFileSync(join(gw.dataDir, f)).includes(ADMIN_KEY), `${f} holds no plaintext admin key`);
    const rows = await gw.app.sql.query('SELECT * FROM api_keys');
    assert.equal(rows.length, 1, 'only the key it created');
  });
});

describe('${VAR} in switchyard.yaml', () => {
  it('expands references, defaults and escapes; unquoted numbers and booleans keep their type', () => {
    const file = configFile(
      [
        'server:',
        '  port: ${SY_TEST_PORT:-9911}',
        '  host: "${SY_TEST_HOST:-0.0.0.0}"',
        'metrics:',
        '  public: ${SY_TEST_PUBLIC}',
        'redis:',
        '  prefix: "pre-$${literal}-${SY_TEST_EMPTY:-dflt}:"',
        'providers:',
        '  groq:',
        '    api_key: ${SY_TEST_GROQ_KEY}',
        '    base_url: ${SY_TEST_GROQ_URL}/openai/v1',
        '    headers:',
        '      x-team: "${SY_TEST_TEAM}"',
      ].join('\n'),
    );
    const s = loadSettings({ configFile: file, env: { SY_TEST_PUBLIC: 'true', SY_TEST_GROQ_KEY: 'gsk_from_env', SY_TEST_GROQ_URL: 'http://127.0.0.1:9', SY_TEST_EMPTY: '', SY_TEST_TEAM: '42' }, demo: false });
    assert.equal(s.port, 9911);
    assert.equal(s.host, '0.0.0.0');
    assert.equal(s.metrics.public, true);
    assert.equal(s.redisPrefix, 'pre-${literal}-dflt:');
    const groq = s.providers.get('groq')!;
    assert.deepEqual([groq.enabled, groq.apiKey, groq.baseUrl, groq.headers['x-team']], [true, 'gsk_from_env', 'http://127.0.0.1:9/openai/v1', '42']);
  });

  it('an unset variable without a default refuses the start, naming the variable and the field', () => {
    const msg = refusal(configFile('providers:\n  groq:\n    api_key: ${SY_TEST_MISSING_KEY}\n'), {});
    assert.match(msg, /providers\.groq\.api_key: environment variable SY_TEST_MISSING_KEY is not set/);
    assert.match(refusal(configFile('server:\n  host: ${1BAD}\n'), {}), /server\.host: "\$\{1BAD\}" is not a variable reference/);
    assert.match(refusal(configFile('server:\n  host: "${OPEN"\n'), {}), /server\.host: "\$\{" without its closing "\}"/);
  });

  it('a value from the environment never appears in a refusal', () => {
    const secret = 'sk-very-secret-value-7731';
    const msg = refusal(configFile('responses:\n  retention: ${SY_TEST_RETENTION}\n'), { SY_TEST_RETENTION: secret });
    assert.match(msg, /responses\.retention must be an interval/);
    assert.ok(!msg.includes(secret), msg);
    assert.match(msg, /\$\{SY_TEST_RETENTION\}/);
    const pattern = refusal(configFile('providers:\n  groq:\n    base_url: ${SY_TEST_URL}\n'), { SY_TEST_URL: secret });
    assert.match(pattern, /providers\.groq\.base_url/);
    assert.ok(!pattern.includes(secret), pattern);
  });

  it('a served gateway logs no expanded secret', async () => {
    const upstream = await startMockUpstream();
    upstream.onRequest(() => ({ status: 401, json: { error: { message: 'Invalid API Key gsk_logged_secret_123' } } }));
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-conf-'));
    writeFileSync(join(cwd, 'switchyard.yaml'), 'providers:\n  groq:\n    api_key: ${SY_TEST_GROQ_KEY}\n    base_url: ${SY_TEST_GROQ_URL}\n');
    const p = runCli(['serve', '--port', '0'], { SY_TEST_GROQ_KEY: 'gsk_logged_secret_123', SY_TEST_GROQ_URL: upstream.baseUrl, LOG_LEVEL: 'debug' }, cwd);
    try {
      const [, url] = await waitFor(p, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/, 20_000);
      const res = await fetch(`${url}/api/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat) });
      const body = await res.text();
      assert.equal(upstream.requests[0]?.headers.authorization, 'Bearer gsk_logged_secret_123');
      assert.ok(!body.includes('gsk_logged_secret_123'), body);
      await waitFor(p, /"msg":"request"|access|\/chat\/completions/);
    } finally {
      await stopProc(p);
      await upstream.close();
    }
    assert.ok(!p.output().includes('gsk_logged_secret_123'), p.output());
  });
});

describe("providers' own key variables", () => {
  const keyOf = (env: Record<string, string>, slug: string) => loadSettings({ env, demo: false }).providers.get(slug)!.apiKey;

  it('are read when the slug form is unset; the slug form wins when both are set', () => {
    assert.equal(keyOf({ GEMINI_API_KEY: 'g1' }, 'google-ai-studio'), 'g1');
    assert.equal(keyOf({ GOOGLE_API_KEY: 'g2', GEMINI_API_KEY: 'g1' }, 'google-ai-studio'), 'g2');
    assert.equal(keyOf({ GOOGLE_AI_STUDIO_API_KEY: 'g0', GOOGLE_API_KEY: 'g2', GEMINI_API_KEY: 'g1' }, 'google-ai-studio'), 'g0');
    assert.equal(keyOf({ MOONSHOT_API_KEY: 'm1' }, 'moonshotai'), 'm1');
    assert.equal(keyOf({ MOONSHOT_API_KEY: 'm1', MOONSHOTAI_API_KEY: 'm0' }, 'moonshotai'), 'm0');
    assert.equal(keyOf({ ZAI_API_KEY: 'z1' }, 'z-ai'), 'z1');
    assert.equal(keyOf({ AZURE_OPENAI_API_KEY: 'a1' }, 'azure'), 'a1');
    assert.equal(keyOf({ MISTRAL_API_KEY: 'mi' }, 'mistral'), 'mi');
    assert.equal(loadSettings({ env: { GEMINI_API_KEY: 'g1' }, demo: false }).providers.get('google-ai-studio')!.enabled, true);
  });
});
