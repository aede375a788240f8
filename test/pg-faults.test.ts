/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * PostgreSQL faults, with the real server behind a TCP proxy (test/support/tcp-proxy.ts) that cuts,
 * refuses and black-holes Switchyard's connections: the process survives every one, requests that
 * need the database fail within the configured bounds (503), records of answered requests are
 * held in memory and written once the database is back, readiness says what is down, and the
 * LISTEN connection that carries key invalidations between replicas reconnects.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, startGateway, type Gateway } from './support/gateway.js';
import { createTestDatabase, type TestDatabase } from './support/services.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { runCli } from './support/process.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const KEY = 'sk-test-configured-key';
const CONNECT_MS = 300;
const QUERY_MS = 1000;
const REQUEST = { model: MODEL, messages: [{ role: 'user', content: 'Say hi' }] };
/** How late an answer may be on a busy machine (CI shares its two cores), on top of the bound checked. */
const LATE_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A pino logger whose lines land in `lines` (parsed). */
function capture(): { logger: pino.Logger; lines: any[] } {
  const lines: any[] = [];
  return { lines, logger: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }) };
}

function configFile(dir: string, yaml: string): string {
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** The generation ids among `ids` that are in the database (read directly, not through the proxy). */
async function stored(db: TestDatabase, ids: string[]): Promise<string[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const r = await c.query('SELECT id FROM generations WHERE id = ANY($1::text[])', [ids]);
    return r.rows.map((row) => row.id as string).sort();
  } finally {
    await c.end();
  }
}

describe('PostgreSQL faults', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let upstream: MockUpstream;
  let gw: Gateway;
  let dir: string;
  let log: ReturnType<typeof capture>;
  const answered: string[] = [];

  const chat = async (headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) => {
    const started = Date.now();
    const res = await postChat(gw, REQUEST, headers);
    const body = (await res.json()) as any;
    const id = res.headers.get('x-generation-id');
    if (res.status === 200) answered.push(id!);
    return { status: res.status, body, id, ms: Date.now() - started };
  };
  const ready = async () => {
    const res = await fetch(`${gw.url}/health/ready`);
    return { status: res.status, body: (await res.json()) as any };
  };
  const drained = () => until('the queued records to be written', () => gw.app.store.queued === 0 && gw.app.store.failing === null);

  before(async () => {
    db = await createTestDatabase();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port) });
    upstream = await startMockUpstream();
    upstream.onRequest(() => ({ json: chatCompletion('Hi', { prompt_tokens: 3, completion_tokens: 1 }) }));
    dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-faults-'));
    log = capture();
    const file = configFile(
      dir,
      [
        'storage:',
        `  connect_timeout_ms: ${CONNECT_MS}`,
        `  query_timeout_ms: ${QUERY_MS}`,
        '  max_queued_records: 8',
        'auth:',
        '  key_cache_ttl_ms: 0', // every request with a database key reads its row
        '',
      ].join('\n'),
    );
    gw = await startGateway({ providers: { groq: upstream.baseUrl }, apiKeys: [KEY], configFile: file, env: { DATABASE_URL: proxy.url(db.url) }, logger: log.logger });
  });

  after(async () => {
    proxy.forward();
    await proxy.accept();
    await gw?.close();
    await upstream?.close();
    await proxy?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a cut while records are being flushed: the process lives, and the records are written once the database answers again', async () => {
    assert.equal((await chat()).status, 200);
    await gw.app.store.flush();
    // The database stops answering: requests are still answered (nothing on their path needs it),
    // and the flush of their records waits inside its transaction…
    proxy.blackhole();
    const during = await Promise.all([chat(), chat(), chat()]);
    assert.deepEqual(during.map((r) => r.status), [200, 200, 200]);
    await until('a flush in progress', () => (gw.app.store as any).flushing !== null);
    await sleep(20);
    // …when the connection is cut under it (a checked-out client: this used to end the process).
    proxy.cut({ reset: true });
    proxy.forward();
    await drained();
    assert.deepEqual(await stored(db, answered), [...answered].sort());
    // Cuts a few milliseconds after each answer, whatever the flush was doing then.
    for (const delay of [0, 2, 5, 9, 15]) {
      assert.equal((await chat()).status, 200);
      await sleep(delay);
      proxy.cut({ reset: delay % 2 === 0 });
    }
    await drained();
    assert.deepEqual(await stored(db, answered), [...answered].sort());
    assert.ok(log.lines.some((l) => l.msg.startsWith('writing generation records failed')));
    assert.ok(log.lines.some((l) => l.msg === 'generation records are written again'));
  });

  it('an idle cut: the pool and the LISTEN connection reconnect', async () => {
    assert.equal((await chat()).status, 200);
    await drained();
    const count = (prefix: string) => log.lines.filter((l) => l.msg.startsWith(`PostgreSQL LISTEN connection ${prefix}`)).length;
    // The earlier cuts' reconnects are over: the LISTEN connection is up.
    await until('the LISTEN connection to be up', () => count('lost') === count('restored'));
    const lost = count('lost');
    await sleep(50);
    proxy.cut();
    await until('the LISTEN connection to be restored', () => count('restored') > lost);
    assert.equal(count('lost'), lost + 1);
    const after = await chat();
    assert.equal(after.status, 200);
    await gw.app.store.flush();
    assert.deepEqual(await stored(db, [after.id!]), [after.id]);
  });

  it('black-holed: a request that needs the database fails within the bounds (503), readiness says database down', async () => {
    const { key } = await gw.app.keyStore.create({ name: 'db key' });
    const dbKey = { authorization: `Bearer ${key}` };
    assert.equal((await chat(dbKey)).status, 200);
    assert.deepEqual(await ready(), { status: 200, body: { status: 'ok', checks: { database: 'ok', migrations: 'ok', catalog: 'ok', draining: 'no' } } });
    proxy.blackhole();
    try {
      const refused = await chat(dbKey);
      assert.equal(refused.status, 503);
      assert.deepEqual(refused.body, { error: { message: 'The database is unavailable; try again later', code: 503 } });
      assert.ok(refused.ms < Math.max(CONNECT_MS, QUERY_MS) + LATE_MS, `answered within the bounds (${refused.ms} ms)`);
      const started = Date.now();
      const r = await ready();
      assert.equal(r.status, 503);
      assert.equal(r.body.status, 'unavailable');
      assert.deepEqual(r.body.failing, ['database']);
      assert.match(r.body.checks.database, /^down: /);
      assert.ok(Date.now() - started < 900 + LATE_MS, 'readiness answers within a second');
      assert.equal((await fetch(`${gw.url}/health/live`)).status, 200);
      // A caller whose key needs no look-up is still served; its record waits in memory.
      assert.equal((await chat()).status, 200);
    } finally {
      proxy.forward();
    }
    await drained();
    await until('readiness to recover', async () => (await ready()).status === 200);
    assert.equal((await chat(dbKey)).status, 200);
  });

  it('past the bound on held records: new requests get 503, readiness says why; all is written once the database is back', async () => {
    await drained();
    await proxy.refuse();
    proxy.cut();
    try {
      const bound = gw.app.store.maxQueued;
      for (let i = 0; i < bound; i++) assert.equal((await chat()).status, 200, `request ${i} is served and held`);
      const refused = await chat();
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, 503);
      assert.match(refused.body.error.message, /generation records are waiting/);
      const r = await ready();
      assert.equal(r.status, 503);
      assert.match(r.body.checks.database, new RegExp(`^down: ${bound} generation records wait to be written \\(limit ${bound}\\)`));
    } finally {
      await proxy.accept();
    }
    await drained();
    assert.equal((await chat()).status, 200);
    await drained();
    assert.deepEqual(await stored(db, answered), [...answered].sort(), 'every answered request has its record');
    await until('readiness to recover', async () => (await ready()).status === 200);
  });
});

describe('PostgreSQL LISTEN between replicas', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let a: Gateway;
  let b: Gateway;
  let dir: string;
  let logB: ReturnType<typeof capture>;

  before(async () => {
    db = await createTestDatabase();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port) });
    dir = mkdtempSync(join(tmpdir(), 'switchyard-pg-listen-'));
    // Cached keys are trusted for ten minutes: only the bus (or a reconnect) can evict them.
    const file = configFile(dir, `storage:\n  connect_timeout_ms: ${CONNECT_MS}\n  query_timeout_ms: ${QUERY_MS}\nauth:\n  key_cache_ttl_ms: 600000\n`);
    a = await startGateway({ providers: {}, configFile: file, env: { DATABASE_URL: db.url } });
    logB = capture();
    b = await startGateway({ providers: {}, configFile: file, env: { DATABASE_URL: proxy.url(db.url) }, logger: logB.logger });
  });

  after(async () => {
    await proxy.accept();
    await a?.close();
    await b?.close();
    await proxy?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const restoredCount = () => logB.lines.filter((l) => l.msg.startsWith('PostgreSQL LISTEN connection restored')).length;
  const keyStatus = async (gw: Gateway, key: string) => (await fetch(`${gw.baseUrl}/key`, { headers: { authorization: `Bearer ${key}` } })).status;

  it('a replica cut off drops its cached keys when it reconnects, and key changes reach it again', async () => {
    await a.app.keyStore.create({ name: 'ops', management: true }); // auth stays on when the other key is disabled
    const { row, key } = await a.app.keyStore.create({ name: 'shared' });
    assert.equal(await keyStatus(b, key), 200); // cached on B
    // B loses its connections and cannot reconnect while A disables the key: B misses the NOTIFY.
    await proxy.refuse();
    proxy.cut();
    await a.app.keyStore.update(row.hash, { disabled: true });
    await sleep(100);
    const restored = restoredCount();
    await proxy.accept();
    await until('B to re-subscribe', () => restoredCount() > restored);
    assert.equal(await keyStatus(b, key), 401, 'the reconnect dropped the stale copy');
    // After a plain cut, B re-subscribes and hears the next change.
    proxy.cut();
    await until('B to re-subscribe again', () => restoredCount() > restored + 1);
    await a.app.keyStore.update(row.hash, { disabled: false });
    await until('the change to reach B', async () => (await keyStatus(b, key)) === 200, 3000);
  });
});

describe('start-up against PostgreSQL that does not answer', () => {
  it('fails within the bound with one line naming PostgreSQL', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
    proxy.blackhole();
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-pg-start-'));
    try {
      const started = Date.now();
      const p = runCli(['serve', '--port', '0'], { DATABASE_URL: proxy.url('postgres://postgres@127.0.0.1:5432/postgres'), SWITCHYARD_PG_CONNECT_TIMEOUT_MS: '500', GROQ_API_KEY: 'k' }, cwd);
      const code = await p.exited;
      const elapsed = Date.now() - started;
      assert.equal(code, 2);
      const lines = p.output().trim().split('\n');
      assert.equal(lines.length, 1, p.output());
      assert.match(lines[0], /^switchyard: cannot reach PostgreSQL at postgres:\/\/127\.0\.0\.1:\d+\/postgres: .*timeout/);
      assert.ok(elapsed < 8000, `exited after ${elapsed} ms`);
    } finally {
      await proxy.close();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
