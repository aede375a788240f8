/**
 * `switchyard doctor` as an operator runs it: the settings serve would use (flags, environment,
 * ./switchyard.yaml), real PostgreSQL / Redis / SQLite, and providers played by HTTP servers on
 * loopback (one answering, one refusing the key, one unreachable).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { createTestDatabase, testRedis, type TestDatabase, type TestRedis } from './support/services.js';
import { runCli } from './support/process.js';

async function doctor(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; out: string }> {
  const p = runCli(['doctor', ...args], env, cwd);
  const code = await p.exited;
  return { code, out: p.output() };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'switchyard-doctor-'));

describe('switchyard doctor', () => {
  let groq: MockUpstream;
  let anthropic: MockUpstream;
  let db: TestDatabase;
  let redis: TestRedis;
  let deadPort: number;

  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest(() => ({ json: { object: 'list', data: [{ id: 'moonshotai/kimi-k2-instruct-0905', object: 'model' }] } }));
    anthropic = await startMockUpstream();
    anthropic.onRequest(() => ({ status: 401, json: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } } }));
    db = await createTestDatabase();
    redis = await testRedis();
    deadPort = await closedPort();
  });
  after(async () => {
    await groq?.close();
    await anthropic?.close();
    await db?.drop();
    await redis?.clear();
  });

  it('one line per check; a refused key and an unreachable provider fail it, each with what to do', async () => {
    const cwd = tempDir();
    // ./switchyard.yaml is read as serve reads it, ${VAR} references included.
    writeFileSync(join(cwd, 'switchyard.yaml'), 'providers:\n  anthropic:\n    base_url: ${ANTHROPIC_MOCK_URL}\n');
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      SWITCHYARD_REDIS_PREFIX: redis.prefix,
      GROQ_API_KEY: 'gsk_doctor_groq_secret',
      GROQ_BASE_URL: groq.baseUrl,
      ANTHROPIC_API_KEY: 'sk-ant-doctor-secret',
      ANTHROPIC_MOCK_URL: anthropic.baseUrl,
      OPENAI_API_KEY: 'sk-openai-doctor-secret',
      OPENAI_BASE_URL: `http://127.0.0.1:${deadPort}/v1`,
    };
    const { code, out } = await doctor(['--timeout', '5000'], env, cwd);
    assert.equal(code, 1, out);
    assert.match(out, /^OK\s+config\s+\S*switchyard\.yaml; providers: openai, groq, anthropic$/m);
    assert.match(out, new RegExp(`^OK\\s+storage\\s+postgres.*${db.name}.*`, 'm'));
    assert.match(out, /^OK\s+redis\s+Redis at redis:\/\/127\.0\.0\.1:6379 answers$/m);
    assert.match(out, /^OK\s+groq\s+GET http:\/\/127\.0\.0\.1:\d+\/v1\/models answered 200 in \d+ ms$/m);
    assert.match(out, /^FAIL\s+anthropic\s+key refused \(401: invalid x-api-key\); check ANTHROPIC_API_KEY \(or providers\.anthropic in the config file\)$/m);
    assert.match(out, new RegExp(`^FAIL\\s+openai\\s+unreachable \\(GET http://127\\.0\\.0\\.1:${deadPort}/v1/models: .*ECONNREFUSED.*\\); check OPENAI_BASE_URL`, 'm'));
    assert.match(out, /switchyard doctor: 2 check\(s\) failed/);
    // Each provider was asked with its own key, the way a request would carry it; none is printed.
    assert.equal(groq.requests[0]?.method, 'GET');
    assert.equal(groq.requests[0]?.headers.authorization, 'Bearer gsk_doctor_groq_secret');
    assert.equal(anthropic.requests[0]?.headers['x-api-key'], 'sk-ant-doctor-secret');
    assert.equal(anthropic.requests[0]?.path, '/v1/models?limit=1');
    for (const secret of Object.values(env).filter((v) => v.includes('secret'))) assert.ok(!out.includes(secret), `${secret} not printed`);
  });

  it('exits 0 when everything answers (SQLite, no Redis); each protocol asks its own way', async () => {
    const ok = await startMockUpstream();
    ok.onRequest(() => ({ json: { data: [] } }));
    try {
      const env = {
        GROQ_API_KEY: 'gsk_ok',
        GROQ_BASE_URL: ok.baseUrl,
        GEMINI_API_KEY: 'gemini-ok-key',
        GOOGLE_AI_STUDIO_BASE_URL: `${ok.url}/v1beta`,
        AZURE_API_KEY: 'azure-ok-key',
        AZURE_BASE_URL: `${ok.url}/openai/v1`,
      };
      const { code, out } = await doctor([], env, tempDir());
      assert.equal(code, 0, out);
      assert.match(out, /^OK\s+storage\s+sqlite:.*switchyard\.sqlite/m);
      assert.match(out, /^OK\s+redis\s+not configured/m);
      for (const slug of ['groq', 'google-ai-studio', 'azure']) assert.match(out, new RegExp(`^OK\\s+${slug}\\s+GET http://127\\.0\\.0\\.1:\\d+/\\S+ answered 200`, 'm'));
      assert.match(out, /no problem found/);
      const byPath = new Map(ok.requests.map((r) => [r.path, r.headers]));
      assert.equal(byPath.get('/v1/models')?.authorization, 'Bearer gsk_ok');
      assert.equal(byPath.get('/v1beta/models?pageSize=1')?.['x-goog-api-key'], 'gemini-ok-key');
      assert.equal(byPath.get('/openai/v1/models')?.['api-key'], 'azure-ok-key');
    } finally {
      await ok.close();
    }
  });

  it('an unreachable Redis fails its check', async () => {
    const { code, out } = await doctor(['--timeout', '1500'], { GROQ_API_KEY: 'gsk_ok', GROQ_BASE_URL: groq.baseUrl, REDIS_URL: `redis://127.0.0.1:${deadPort}` }, tempDir());
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`^FAIL\\s+redis\\s+cannot reach Redis at redis://127\\.0\\.0\\.1:${deadPort}: .*; check REDIS_URL`, 'm'));
  });

  it('a bad configuration is the config check failing, naming the field; no stack trace', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'switchyard.yaml'), 'server:\n  port: 70000\n');
    const { code, out } = await doctor([], {}, cwd);
    assert.equal(code, 1, out);
    assert.match(out, /^FAIL\s+config\s+\S*switchyard\.yaml: server\.port must be <= 65535; fix that setting/m);
    assert.doesNotMatch(out, /^\s+at /m);
  });
});

describe('bad input on the command line', () => {
  for (const [args, pattern] of [
    [['doctor', '--timeout', 'soon'], /^switchyard: --timeout must be a number of milliseconds, got "soon"$/],
    [['serve', '--port', 'eighty'], /^switchyard: --port must be a port number, got "eighty"$/],
    [['serve', '--bogus'], /^switchyard: Unknown option '--bogus'/],
    [['keys', 'create', '--limit', 'lots'], /^switchyard: --limit must be a number of USD, got "lots"$/],
  ] as const) {
    it(`switchyard ${args.join(' ')}: one line, no stack trace`, async () => {
      const p = runCli([...args], {}, tempDir());
      assert.equal(await p.exited, 2);
      const lines = p.output().trim().split('\n');
      assert.equal(lines.length, 1, p.output());
      assert.match(lines[0]!, pattern);
    });
  }

  it('a refused start names the offending field', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'switchyard.yaml'), 'storage:\n  flush_interval_ms: 0\n');
    const p = runCli(['serve', '--port', '0'], {}, cwd);
    assert.equal(await p.exited, 2);
    assert.match(p.output().trim(), /^switchyard: \S*switchyard\.yaml: storage\.flush_interval_ms must be >= 1$/);
  });
});
