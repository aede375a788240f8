/**
 * The `switchyard serve` process as an operator runs it: embedded defaults, refusals with clear
 * messages, and SIGTERM draining an open stream before exit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { readAcross, runCli, waitFor } from './support/process.js';

const run = runCli;

describe('switchyard serve', () => {
  let groq: MockUpstream;
  before(async () => {
    groq = await startMockUpstream();
  });
  after(async () => {
    await groq.close();
  });

  it('starts on embedded defaults with no config and no keys: demo mode, SQLite under ./data, auth off on loopback', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const p = run(['serve', '--port', '0'], { SWITCHYARD_REPLAY_PACE: 'fast' }, cwd);
    try {
      const [, url] = await waitFor(p, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
      await waitFor(p, /demo mode/);
      assert.match(p.output(), /auth is off/);
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200);
      // The README's curl example: answered from the bundled recording.
      const res = await fetch(`${url}/api/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'moonshotai/kimi-k2-0905',
          messages: [
            { content: 'You are a helpful assistant', role: 'system' },
            { content: 'Say hi in Portuguese', role: 'user' },
          ],
          max_tokens: 4000,
          stream: true,
          provider: { only: ['groq'] },
        }),
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /"provider":"Groq"/);
      assert.match(text, /"content":"Ol"/);
      assert.match(text, /data: \[DONE\]\n\n$/);
      assert.ok(existsSync(join(cwd, 'data', 'switchyard.sqlite')));
    } finally {
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0);
    }
  });

  it('with a config file and no provider key: no demo, 503 naming the keys to set', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    writeFileSync(join(cwd, 'switchyard.yaml'), 'log:\n  level: info\n');
    const p = run(['serve', '--port', '0'], {}, cwd);
    try {
      const [, url] = await waitFor(p, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
      await waitFor(p, /no provider is enabled/);
      const res = await fetch(`${url}/api/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'moonshotai/kimi-k2-0905', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /GROQ_API_KEY/);
    } finally {
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0);
    }
  });

  it('refuses to bind a non-loopback address without API keys', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const p = run(['serve', '--host', '0.0.0.0', '--port', '0'], {}, cwd);
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /refusing to bind 0\.0\.0\.0 without API keys/);
  });

  it('refuses an unknown SQLite driver in one line (SWITCHYARD_SQLITE_DRIVER)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const p = run(['serve', '--port', '0'], { SWITCHYARD_SQLITE_DRIVER: 'sqlite4' }, cwd);
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /^switchyard: SWITCHYARD_SQLITE_DRIVER must be "node" or "better-sqlite3", not "sqlite4"\n$/);
  });

  it('rejects an invalid config file naming the bad field', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    writeFileSync(join(cwd, 'switchyard.yaml'), 'server:\n  port: "eighty"\n');
    let p = run(['serve'], {}, cwd);
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /server\.port must be integer/);
    writeFileSync(join(cwd, 'switchyard.yaml'), 'providers:\n  nosuch:\n    enabled: true\n');
    p = run(['serve'], {}, cwd);
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /providers\.nosuch: unknown provider/);
    p = run(['serve', '--config', 'missing.yaml'], {}, cwd);
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /config file not found/);
  });

  it('SIGTERM drains an open stream, then exits 0', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    const chunk = (content: string, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
    groq.enqueue({ sse: [chunk('one'), chunk(' two'), chunk(' three'), chunk('', 'stop'), 'data: [DONE]\n\n'], chunkDelayMs: 300 });
    const p = run(['serve', '--port', '0'], { GROQ_API_KEY: 'k', GROQ_BASE_URL: groq.baseUrl, PORT: '0' }, cwd);
    const [, url] = await waitFor(p, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
    const res = await fetch(`${url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'moonshotai/kimi-k2-0905', stream: true, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'count' }] }),
    });
    assert.equal(res.status, 200);
    const text = await readAcross(res, () => p.child.kill('SIGTERM'));
    assert.match(text, /" three"/);
    assert.match(text, /data: \[DONE\]\n\n$/);
    assert.equal(await p.exited, 0);
    assert.match(p.output(), /draining open requests/);
  });
});
