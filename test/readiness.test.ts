/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON bodies of the gateway's answers */
/**
 * Liveness and readiness (src/http/readiness.ts): `/health/live` and `/health/ready` answer without
 * a key; ready names the failing check (a schema missing a migration, the drain). On SIGTERM, a
 * single process and every worker of `--workers 2` turn unready first while the listener stays
 * open, serve what arrives meanwhile, let the open streams finish, then exit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { startServe, stopProc, type Proc } from './support/process.js';
import { jsonWithUsage, streamWithUsage } from './support/usage-upstream.js';
import { MIGRATIONS } from '../src/storage/migrations.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const KEY = 'sk-readiness-test';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** GET over a new connection (under --workers N, node:cluster hands each to the next worker). */
function getFresh(url: string): Promise<{ status: number; body: any; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), connection: res.headers.connection }));
    }).on('error', reject);
  });
}

describe('liveness and readiness', () => {
  let upstream: MockUpstream;
  let gw: Gateway;

  before(async () => {
    upstream = await startMockUpstream();
    gw = await startGateway({ providers: { groq: upstream.baseUrl }, apiKeys: [KEY] });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('need no key, even with auth on; ready lists every check', async () => {
    for (const path of ['/health', '/health/live']) {
      const r = await getFresh(`${gw.url}${path}`);
      assert.deepEqual([r.status, r.body], [200, { status: 'ok' }]);
    }
    const ready = await getFresh(`${gw.url}/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ok', checks: { database: 'ok', migrations: 'ok', catalog: 'ok', draining: 'no' } });
    assert.equal((await fetch(`${gw.baseUrl}/models`)).status, 200);
    assert.equal((await fetch(`${gw.baseUrl}/key`)).status, 401, 'auth is on');
  });

  it('names a schema that lacks a migration this build needs, and recovers once it is there', async () => {
    const latest = MIGRATIONS[MIGRATIONS.length - 1];
    const [row] = await gw.app.sql.query<{ name: string; applied_at: number }>('SELECT name, applied_at FROM schema_migrations WHERE version = $1', [latest.version]);
    await gw.app.sql.query('DELETE FROM schema_migrations WHERE version = $1', [latest.version]);
    try {
      let ready: Awaited<ReturnType<typeof getFresh>> | null = null;
      await until('readiness to see the missing migration', async () => (ready = await getFresh(`${gw.url}/health/ready`)).status === 503);
      assert.deepEqual(ready!.body.failing, ['migrations']);
      assert.equal(ready!.body.checks.migrations, `pending: the schema is at version ${latest.version - 1}, this build needs ${latest.version}`);
      assert.equal(ready!.body.checks.database, 'ok');
    } finally {
      await gw.app.sql.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [latest.version, row.name, row.applied_at]);
    }
    await until('readiness to recover', async () => (await getFresh(`${gw.url}/health/ready`)).status === 200);
  });
});

/** A slow stream (the upstream's answer to "slow"): the whole body once it ended. */
async function slowStream(url: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: MODEL, stream: true, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'slow' }] }),
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
  }
}

for (const workers of [1, 2]) {
  describe(`SIGTERM drain${workers > 1 ? ` under --workers ${workers}` : ''}`, () => {
    let upstream: MockUpstream;
    let dir: string;
    let gw: (Proc & { url: string }) | undefined;

    before(async () => {
      upstream = await startMockUpstream();
      dir = mkdtempSync(join(tmpdir(), 'switchyard-readiness-'));
    });
    after(async () => {
      await stopProc(gw);
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('ready turns 503 (draining) while the listener stays open; open streams finish; then the process exits 0', async () => {
      // 60 words, one every 100 ms: the stream stays open for seconds after the signal.
      upstream.onRequest((req) => (req.json?.messages?.[0]?.content === 'slow' ? streamWithUsage({ promptTokens: 5, completionTokens: 60, words: 60, chunkDelayMs: 100 }) : jsonWithUsage({ promptTokens: 5, completionTokens: 2 })));
      const env = { SWITCHYARD_DATA_DIR: join(dir, 'data'), GROQ_API_KEY: 'k', GROQ_BASE_URL: upstream.baseUrl, SWITCHYARD_API_KEYS: KEY };
      gw = await startServe(env, dir, 60_000, workers > 1 ? ['--workers', String(workers)] : []);
      const url = gw.url;
      assert.equal((await getFresh(`${url}/health/ready`)).status, 200);

      // One open stream per worker (fresh connections go to each worker in turn).
      const started: Promise<void>[] = [];
      const streams = Array.from({ length: workers }, () => slowStream(url));
      for (let i = 0; i < workers; i++) started.push(until('the upstream to be asked', () => upstream.requests.length > i));
      await Promise.all(started);
      await new Promise((r) => setTimeout(r, 200));
      gw.child.kill('SIGTERM');

      // Unready, on every worker, while the listener still answers.
      await until('readiness to say draining', async () => {
        const r = await getFresh(`${url}/health/ready`);
        if (r.status === 503) {
          assert.deepEqual(r.body.failing, ['draining']);
          assert.match(r.body.checks.draining, /^yes: \d+ requests still being served$/);
        }
        return r.status === 503;
      });
      for (let i = 0; i < 2 * workers; i++) {
        const r = await getFresh(`${url}/health/ready`);
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.equal(r.connection, 'close', 'no connection is kept while draining');
        assert.equal((await getFresh(`${url}/health/live`)).status, 200, 'still alive while draining');
      }
      // A request that arrives meanwhile is still served.
      const late = await fetch(`${url}/api/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'late' }] }),
      });
      assert.equal(late.status, 200);
      await late.text();

      for (const text of await Promise.all(streams)) {
        assert.match(text, /w59 /);
        assert.match(text, /data: \[DONE\]/, 'the open stream finished');
      }
      assert.equal(await gw.exited, 0);
      await assert.rejects(getFresh(`${url}/health/live`), 'the listener is closed once the process is gone');
    });
  });
}
