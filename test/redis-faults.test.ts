/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies and log lines under test */
/**
 * Redis faults, with the real server behind a TCP proxy (test/support/tcp-proxy.ts): with Redis
 * refused or silent, requests go through within the command timeout, rate limits counted in this
 * process; one warning when that starts and one when Redis is back. Start-up against a silent
 * Redis fails within its bound, in one line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Redis } from 'ioredis';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, startGateway, type Gateway } from './support/gateway.js';
import { testRedis, type TestRedis } from './support/services.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { runCli } from './support/process.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const COMMAND_MS = 200;
/** What a request may take on top of the Redis bound (the mock upstream, loopback HTTP, a busy CI machine sharing two cores). */
const SLACK_MS = 1500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 6000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('Redis faults', () => {
  let redis: TestRedis;
  let direct: Redis;
  let proxy: TcpProxy;
  let upstream: MockUpstream;
  let gw: Gateway;
  let dir: string;
  const lines: any[] = [];
  const count = (msg: RegExp) => lines.filter((l) => msg.test(l.msg)).length;

  const chat = async () => {
    const started = Date.now();
    const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'Say hi' }] });
    await res.arrayBuffer();
    return { status: res.status, ms: Date.now() - started };
  };
  /** Requests counted in Redis for the anonymous caller in the current window. */
  const counted = async () => {
    const keys = await direct.keys(`${redis.prefix}rl:req:anonymous:*`);
    const values = await Promise.all(keys.map((k) => direct.get(k)));
    return values.reduce((n, v) => n + Number(v ?? 0), 0);
  };

  before(async () => {
    redis = await testRedis();
    direct = new Redis(redis.url);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(redis.url).port || 6379) });
    upstream = await startMockUpstream();
    upstream.onRequest(() => ({ json: chatCompletion('Hi', { prompt_tokens: 3, completion_tokens: 1 }) }));
    dir = mkdtempSync(join(tmpdir(), 'switchyard-redis-faults-'));
    const file = join(dir, 'switchyard.yaml');
    writeFileSync(file, `redis:\n  connect_timeout_ms: 300\n  command_timeout_ms: ${COMMAND_MS}\nlimits:\n  rate_limit:\n    requests: 100000\n    interval: 1h\n`);
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    gw = await startGateway({ providers: { groq: upstream.baseUrl }, configFile: file, env: { REDIS_URL: proxy.url(redis.url), SWITCHYARD_REDIS_PREFIX: redis.prefix }, logger });
  });

  after(async () => {
    proxy.forward();
    await proxy.accept();
    await gw?.close();
    await upstream?.close();
    await proxy?.close();
    await redis?.clear();
    direct?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refused: requests go through within the bound, counted in this process; one warning each way', async () => {
    assert.equal((await chat()).status, 200);
    const before = await counted();
    assert.ok(before >= 1, 'counted in Redis');
    await proxy.refuse();
    proxy.cut();
    for (let i = 0; i < 10; i++) {
      const r = await chat();
      assert.equal(r.status, 200);
      assert.ok(r.ms < COMMAND_MS + SLACK_MS, `request ${i} took ${r.ms} ms`);
    }
    assert.equal(count(/^Redis unavailable/), 1);
    assert.equal(await counted(), before, 'nothing reached Redis meanwhile');
    await proxy.accept();
    await until('Redis to be back', () => count(/^Redis is back/) === 1);
    assert.equal((await chat()).status, 200);
    assert.equal(await counted(), before + 1, 'counted in Redis again');
    assert.equal(count(/^Redis unavailable/), 1);
    assert.equal(count(/^Redis is back/), 1);
  });

  it('black-holed: the first request waits one command timeout, the next ones not at all; readiness reports it', async () => {
    // Calls that reach Redis's limiter (the one behind the fallback).
    const shared = (gw.app.limiter as any).shared;
    const hit = shared.hit.bind(shared);
    let asked = 0;
    shared.hit = (...args: unknown[]) => {
      asked++;
      return hit(...args);
    };
    proxy.blackhole();
    try {
      const first = await chat();
      assert.equal(first.status, 200);
      assert.ok(first.ms >= COMMAND_MS - 20 && first.ms < COMMAND_MS + SLACK_MS, `first request took ${first.ms} ms`);
      assert.equal(asked, 1);
      for (let i = 0; i < 5; i++) {
        const r = await chat();
        assert.equal(r.status, 200);
        assert.ok(r.ms < COMMAND_MS + SLACK_MS, `request ${i} took ${r.ms} ms`);
      }
      assert.equal(asked, 1, 'the next requests did not wait for Redis');
      assert.equal(count(/^Redis unavailable/), 2);
      const ready = await fetch(`${gw.url}/health/ready`);
      assert.equal(ready.status, 200, 'Redis does not make the process unready');
      const body = (await ready.json()) as any;
      assert.equal(body.checks.database, 'ok');
      assert.match(body.checks.redis, /^down: .*\(rate limits counted in this process\)$/);
    } finally {
      proxy.forward();
    }
    await until('Redis to be back', () => count(/^Redis is back/) === 2);
    assert.equal((await chat()).status, 200);
    assert.equal(asked, 2, 'Redis is asked again');
    shared.hit = hit;
    const ready = (await (await fetch(`${gw.url}/health/ready`)).json()) as any;
    assert.equal(ready.checks.redis, 'ok');
    assert.equal(count(/^Redis unavailable/), 2);
  });
});

describe('start-up against Redis that does not answer', () => {
  it('fails within the bound with one line naming Redis', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    proxy.blackhole();
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-redis-start-'));
    try {
      const started = Date.now();
      const p = runCli(['serve', '--port', '0'], { REDIS_URL: proxy.url('redis://127.0.0.1:6379'), SWITCHYARD_REDIS_CONNECT_TIMEOUT_MS: '300', SWITCHYARD_DATA_DIR: cwd, GROQ_API_KEY: 'k' }, cwd);
      const code = await p.exited;
      const elapsed = Date.now() - started;
      assert.equal(code, 2);
      const lines = p.output().trim().split('\n');
      assert.equal(lines.length, 1, p.output());
      assert.match(lines[0], /^switchyard: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: no answer within 1300 ms/);
      assert.ok(elapsed < 8000, `exited after ${elapsed} ms`);
    } finally {
      await proxy.close();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
