/**
 * Bounds on clients: headers (slowloris), the request body (not the response: a long stream is
 * never cut), idle keep-alive connections, connections per process, and a chunked body over the
 * size limit answered 413 rather than reset. Short configured timeouts keep these quick.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, startGateway, type Gateway } from './support/gateway.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const HEADERS_MS = 300;
const BODY_MS = 400;
const IDLE_MS = 300;
const LIMIT = 1024 * 1024;
/** How late a timer may fire on a busy machine (CI shares its two cores): the bounds checked are timeout + this. */
const LATE_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw connection: what it received, and when the server closed it. */
interface Raw {
  socket: Socket;
  data: () => string;
  closed: Promise<number>;
}

async function raw(url: string): Promise<Raw> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = '';
  socket.on('data', (d) => (data += d));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  return { socket, data: () => data, closed };
}

function gatewayConfig(dir: string, server: Record<string, number>): string {
  const file = join(dir, `switchyard-${Object.keys(server).join('-')}.yaml`);
  writeFileSync(file, `server:\n${Object.entries(server).map(([k, v]) => `  ${k}: ${v}\n`).join('')}`);
  return file;
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

describe('HTTP server bounds', () => {
  let upstream: MockUpstream;
  let gw: Gateway;
  let dir: string;

  before(async () => {
    upstream = await startMockUpstream();
    dir = mkdtempSync(join(tmpdir(), 'switchyard-http-'));
    const configFile = gatewayConfig(dir, { headers_timeout_ms: HEADERS_MS, body_timeout_ms: BODY_MS, idle_timeout_ms: IDLE_MS, body_limit_bytes: LIMIT });
    gw = await startGateway({ providers: { groq: upstream.baseUrl }, configFile });
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('slowloris: headers trickling in are cut at the headers timeout', async () => {
    const c = await raw(gw.url);
    const started = Date.now();
    c.socket.write('POST /api/v1/chat/completions HTTP/1.1\r\nHost: switchyard\r\n');
    const trickle = setInterval(() => c.socket.writable && c.socket.write(`X-Slow-${Date.now()}: 1\r\n`), 50);
    try {
      const closedAt = await c.closed;
      const elapsed = closedAt - started;
      assert.ok(elapsed >= HEADERS_MS - 50 && elapsed < HEADERS_MS + LATE_MS, `cut after ${elapsed} ms`);
      assert.match(c.data(), /^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(trickle);
    }
  });

  it('a connection that never sends its request is cut at the headers timeout too', async () => {
    const c = await raw(gw.url);
    const started = Date.now();
    const elapsed = (await c.closed) - started;
    assert.ok(elapsed < HEADERS_MS + LATE_MS, `cut after ${elapsed} ms`);
  });

  it('an idle keep-alive connection is closed after the idle timeout', async () => {
    const c = await raw(gw.url);
    c.socket.write('GET /health HTTP/1.1\r\nHost: switchyard\r\n\r\n');
    while (!c.data().includes('{"status":"ok"}')) await sleep(5);
    const answered = Date.now();
    assert.match(c.data(), /^HTTP\/1\.1 200 /);
    const elapsed = (await c.closed) - answered;
    assert.ok(elapsed >= IDLE_MS - 50 && elapsed < IDLE_MS + LATE_MS, `closed after ${elapsed} ms idle`);
  });

  it('a body that does not arrive in time: 408 in OpenRouter’s shape, connection closed', async () => {
    const c = await raw(gw.url);
    const started = Date.now();
    c.socket.write('POST /api/v1/chat/completions HTTP/1.1\r\nHost: switchyard\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":');
    const closedAt = await c.closed;
    const elapsed = closedAt - started;
    assert.ok(elapsed >= BODY_MS - 50 && elapsed < BODY_MS + LATE_MS, `answered after ${elapsed} ms`);
    assert.match(c.data(), /^HTTP\/1\.1 408 /);
    assert.match(c.data(), /Connection: close/i);
    const body = JSON.parse(c.data().slice(c.data().indexOf('\r\n\r\n') + 4));
    assert.deepEqual(body, { error: { message: `Request body not received within ${BODY_MS} ms`, code: 408 } });
  });

  /** POSTs `bytes` in 64 KiB pieces, with a Content-Length or chunked, and returns the answer (a reset rejects). */
  const postLarge = (bytes: number, declared: boolean) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(gw.url);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (declared) headers['content-length'] = String(bytes);
      const req = request({ host: hostname, port, method: 'POST', path: '/api/v1/chat/completions', headers }, (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      const piece = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const write = () => {
        while (sent < bytes) {
          sent += piece.length;
          if (!req.write(piece)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });

  it('a chunked body over the limit gets a 413 answer, not a reset', async () => {
    const res = await postLarge(LIMIT * 1.5, false);
    assert.equal(res.status, 413);
    assert.deepEqual(JSON.parse(res.body), { error: { message: `Request body is larger than ${LIMIT} bytes`, code: 413 } });
    // The connection went on: the gateway still answers on a fresh one.
    assert.equal((await fetch(`${gw.url}/health`)).status, 200);
  });

  it('so does one announced larger than the limit, however much larger', async () => {
    const res = await postLarge(LIMIT * 4, true);
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).error.code, 413);
  });

  it('a stream lasting longer than every client timeout is not cut', async () => {
    const events = [chunk({ role: 'assistant', content: 'One' }), ...['two', 'three', 'four', 'five', 'six'].map((w) => chunk({ content: ` ${w}` })), chunk({}, 'stop'), 'data: [DONE]\n\n'];
    upstream.enqueue({ sse: events, chunkDelayMs: 150 });
    const started = Date.now();
    const res = await postChat(gw, { model: MODEL, stream: true, messages: [{ role: 'user', content: 'count' }] });
    const got = await readSse(res);
    const elapsed = Date.now() - started;
    assert.ok(elapsed > Math.max(HEADERS_MS, BODY_MS, IDLE_MS) * 2, `the stream lasted ${elapsed} ms`);
    assert.equal(got.events.at(-1), '[DONE]');
    const text = got.events
      .filter((e) => e !== '[DONE]')
      .map((e) => JSON.parse(e).choices?.[0]?.delta?.content ?? '')
      .join('');
    assert.equal(text, 'One two three four five six');
  });
});

describe('connections per process', () => {
  let gw: Gateway;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-conns-'));
    gw = await startGateway({ providers: {}, configFile: gatewayConfig(dir, { max_connections: 2 }) });
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('past server.max_connections new connections are closed; below it they are served again', async () => {
    const held = [await raw(gw.url), await raw(gw.url)];
    await sleep(50);
    const extra = await raw(gw.url);
    extra.socket.write('GET /health HTTP/1.1\r\nHost: switchyard\r\n\r\n');
    await extra.closed;
    assert.equal(extra.data(), '', 'closed without an answer');
    held[0].socket.destroy();
    await held[0].closed;
    await sleep(50);
    const again = await raw(gw.url);
    again.socket.write('GET /health HTTP/1.1\r\nHost: switchyard\r\nConnection: close\r\n\r\n');
    await again.closed;
    assert.match(again.data(), /^HTTP\/1\.1 200 /);
    held[1].socket.destroy();
  });
});
