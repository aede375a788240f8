/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * `switchyard serve --workers N`: several processes sharing one port, with the state they must
 * share going through the cluster primary when there is no Redis.
 *
 * - In-process: the IPC-backed bus and rate limiter (state/cluster-ipc.ts) against the primary's
 *   host over a simulated channel: fan-out to every worker, exact counts, a primary that is gone.
 * - Real processes: one `serve --workers 2` on the embedded SQLite default and a mock upstream.
 *   Both workers take traffic, a request rate limit holds exactly across them, a disabled key is
 *   refused by every worker at once, a worker killed with SIGKILL is replaced while the gateway
 *   keeps serving, and SIGTERM drains an open stream, flushes the records and exits 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { readAcross, runCli, startServe, stopProc, waitFor, type Proc } from './support/process.js';
import { jsonWithUsage, streamWithUsage } from './support/usage-upstream.js';
import { createTestDatabase } from './support/services.js';
import { ConfigError, loadSettings } from '../src/config/load.js';
import { openSql, type Sql } from '../src/storage/sql.js';
import { migrate } from '../src/storage/migrations.js';
import { KeyStore } from '../src/keys/store.js';
import { LocalBus } from '../src/state/bus.js';
import { ClusterBus, ClusterRateLimiter, PrimaryChannel, SharedStateHost } from '../src/state/cluster-ipc.js';
import type { PrimaryTransport, ToPrimary, ToWorker } from '../src/cluster/ipc.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A worker's channel to an in-process primary host: messages cross through JSON and a macrotask, as over IPC. */
function simulatedWorker(host: SharedStateHost, id: number) {
  const listeners = new Set<(m: unknown) => void>();
  const closers = new Set<() => void>();
  let connected = true;
  let primaryAnswers = true;
  host.add({
    id,
    send: (msg: ToWorker) => {
      if (!connected) return;
      const copy = JSON.parse(JSON.stringify(msg));
      setImmediate(() => listeners.forEach((l) => l(copy)));
    },
  });
  const transport: PrimaryTransport = {
    get connected() {
      return connected;
    },
    send(msg: ToPrimary, onError) {
      if (!connected) return onError?.(new Error('closed'));
      const copy = JSON.parse(JSON.stringify(msg));
      setImmediate(() => primaryAnswers && host.handle(id, copy));
    },
    onMessage: (fn) => void listeners.add(fn),
    onClose: (fn) => void closers.add(fn),
  };
  return {
    transport,
    /** The primary exits: the channel closes. */
    disconnect() {
      connected = false;
      host.remove(id);
      closers.forEach((c) => c());
    },
    /** The primary stops answering (but the channel stays open). */
    mute() {
      primaryAnswers = false;
    },
  };
}

describe('cluster shared state over IPC (in-process)', () => {
  it('ClusterBus: any channel, many subscribers, every worker including the publisher; publish resolves after delivery', async () => {
    const host = new SharedStateHost();
    const a = new ClusterBus(new PrimaryChannel(simulatedWorker(host, 1).transport));
    const b = new ClusterBus(new PrimaryChannel(simulatedWorker(host, 2).transport));
    await sleep(5); // the workers' hello
    const seen: string[] = [];
    await a.subscribe('keys', (m) => seen.push(`a1:keys:${m}`));
    await a.subscribe('keys', (m) => seen.push(`a2:keys:${m}`));
    await b.subscribe('keys', (m) => seen.push(`b:keys:${m}`));
    await b.subscribe('health', (m) => seen.push(`b:health:${m}`));
    await a.publish('keys', 'h1');
    assert.deepEqual(seen.sort(), ['a1:keys:h1', 'a2:keys:h1', 'b:keys:h1'], 'every subscriber of the channel, on every worker, before publish resolved');
    seen.length = 0;
    await b.publish('health', '{"v":1}');
    assert.deepEqual(seen, ['b:health:{"v":1}']);
    await b.close();
    seen.length = 0;
    await a.publish('keys', 'h2');
    assert.deepEqual(seen.sort(), ['a1:keys:h2', 'a2:keys:h2']);
    host.close();
  });

  it('ClusterRateLimiter: one set of counters for all workers', async () => {
    const host = new SharedStateHost();
    const limiters = [1, 2, 3].map((id) => new ClusterRateLimiter(new PrimaryChannel(simulatedWorker(host, id).transport)));
    const spec = { requests: 10, intervalMs: 3_600_000, tokensPerMinute: null };
    const decisions = await Promise.all(Array.from({ length: 25 }, (_v, i) => limiters[i % 3].hit('k', spec)));
    assert.equal(decisions.filter((d) => d.allowed).length, 10);
    assert.ok(decisions.filter((d) => !d.allowed).every((d) => d.reason === 'requests' && d.limit === 10 && d.remaining === 0));
    // Tokens per minute, counted from any worker.
    const tpm = { requests: null, intervalMs: 60_000, tokensPerMinute: 100 };
    assert.equal((await limiters[0].hit('t', tpm)).allowed, true);
    await limiters[1].addTokens('t', 60);
    await limiters[2].addTokens('t', 60);
    const refused = await limiters[0].hit('t', tpm);
    assert.equal(refused.allowed, false);
    assert.equal(refused.reason, 'tokens');
    host.close();
  });

  it('a worker whose primary is gone fails at once with a clear error; a silent primary times out', async () => {
    const host = new SharedStateHost();
    const w = simulatedWorker(host, 1);
    const channel = new PrimaryChannel(w.transport, { timeoutMs: 200 });
    const limiter = new ClusterRateLimiter(channel);
    const bus = new ClusterBus(channel);
    const spec = { requests: 1, intervalMs: 60_000, tokensPerMinute: null };
    w.mute();
    const started = Date.now();
    await assert.rejects(limiter.hit('k', spec), /did not answer rl\.hit within 200 ms/);
    assert.ok(Date.now() - started < 1000);
    const pending = limiter.hit('k', spec);
    w.disconnect();
    await assert.rejects(pending, /cluster primary is gone/);
    await assert.rejects(limiter.hit('k', spec), /cluster primary is gone/);
    await assert.rejects(bus.publish('keys', 'x'), /cluster primary is gone/);
    assert.equal(channel.connected, false);
    host.close();
  });

  it('workers setting: flag, SWITCHYARD_WORKERS, server.workers; auto and 0 mean one per CPU; bad values are a ConfigError', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-cluster-cfg-'));
    assert.equal(loadSettings({ env: {}, cwd }).workers, 1);
    assert.equal(loadSettings({ env: { SWITCHYARD_WORKERS: '3' }, cwd }).workers, 3);
    assert.equal(loadSettings({ env: { SWITCHYARD_WORKERS: '3' }, cwd, workers: '2' }).workers, 2);
    assert.equal(loadSettings({ env: {}, cwd, workers: 'auto' }).workers, availableParallelism());
    assert.equal(loadSettings({ env: { SWITCHYARD_WORKERS: '0' }, cwd }).workers, availableParallelism());
    assert.throws(() => loadSettings({ env: {}, cwd, workers: 'two' }), (e: unknown) => e instanceof ConfigError && /--workers must be a number of worker processes.*got "two"/.test(e.message));
    assert.throws(() => loadSettings({ env: { SWITCHYARD_WORKERS: '-1' }, cwd }), /SWITCHYARD_WORKERS must be/);
    assert.throws(() => loadSettings({ env: {}, cwd, workers: '1.5' }), ConfigError);
    writeFileSync(join(cwd, 'switchyard.yaml'), 'server:\n  workers: 3\n');
    assert.equal(loadSettings({ env: {}, cwd }).workers, 3);
    assert.equal(loadSettings({ env: { SWITCHYARD_WORKERS: 'auto' }, cwd }).workers, availableParallelism(), 'the environment beats the file');
    writeFileSync(join(cwd, 'switchyard.yaml'), 'server:\n  workers: lots\n');
    assert.throws(() => loadSettings({ env: {}, cwd }), /switchyard\.yaml: server\.workers must be a number of worker processes.*got "lots"/);
    rmSync(cwd, { recursive: true, force: true });
  });
});

interface Backend {
  name: string;
  sqlite?: boolean;
  /** Environment for the gateway (DATABASE_URL, …) and its clean-up. */
  setup(dataDir: string): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  { name: 'embedded SQLite, no Redis', sqlite: true, setup: async () => ({ env: {}, cleanup: async () => undefined }) },
  {
    // The bus is PostgreSQL's LISTEN/NOTIFY; the rate-limit counters are still the primary's.
    name: 'PostgreSQL, no Redis',
    async setup() {
      const db = await createTestDatabase();
      return { env: { DATABASE_URL: db.url }, cleanup: () => db.drop() };
    },
  },
];

for (const backend of BACKENDS) describe(`switchyard serve --workers 2 (${backend.name})`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-cluster-'));
  const cwd = mkdtempSync(join(tmpdir(), 'switchyard-cluster-cwd-'));
  let env: Record<string, string>;
  let cleanup: (() => Promise<void>) | undefined;
  let groq: MockUpstream;
  let sql: Sql;
  let keys: KeyStore;
  let gw: Proc & { url: string };
  let mgmt = '';
  let limited = ''; // a key with a credit limit: its requests hold a reservation row naming their process
  const served = new Set<string>();

  const post = async (key: string, body: Record<string, unknown> = {}, dispatcher?: Agent) => {
    const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: MODEL, max_tokens: 100, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'hi' }], ...body }),
    });
    const text = await res.text();
    if (res.status === 200) served.add(res.headers.get('x-generation-id')!);
    return { status: res.status, text, id: res.headers.get('x-generation-id') };
  };
  /**
   * n concurrent requests, each on a connection of its own: node:cluster's primary hands each new
   * connection to the next worker, whereas requests on pooled keep-alive connections stay with the
   * worker that accepted the connection.
   */
  const spread = async <T>(n: number, fn: (i: number, fresh: Agent) => Promise<T>): Promise<T[]> => {
    const fresh = new Agent();
    try {
      return await Promise.all(Array.from({ length: n }, (_v, i) => fn(i, fresh)));
    } finally {
      await fresh.close();
    }
  };
  /** Worker pids from the primary's "worker ready" lines, in order. */
  const readyWorkers = () => [...gw.output().matchAll(/"pid":(\d+),"port":(\d+),"msg":"worker ready"/g)].map((m) => ({ pid: Number(m[1]), port: Number(m[2]) }));
  const port = () => Number(new URL(gw.url).port);
  /** Slow streams through the gateway; while they are open, the processes holding their reservations. */
  const servingPids = async (n: number): Promise<Set<number>> => {
    const pids = new Set<number>();
    let open = true;
    const streams = spread(n, (i, fresh) => post(limited, { stream: true, messages: [{ role: 'user', content: `slow ${i}` }] }, fresh)).finally(() => {
      open = false;
    });
    while (open) {
      for (const r of await sql.query<{ replica: string }>('SELECT replica FROM reservations')) pids.add(Number(/-(\d+)-[0-9a-f]+$/.exec(r.replica)![1]));
      await sleep(20);
    }
    for (const r of await streams) assert.equal(r.status, 200, r.text);
    return pids;
  };

  before(async () => {
    groq = await startMockUpstream();
    groq.onRequest((req) =>
      req.json?.stream
        ? streamWithUsage({ promptTokens: 8, completionTokens: 20, words: 4, chunkDelayMs: /^slow|^drain/.test(req.json.messages[0].content) ? 150 : 0 })
        : jsonWithUsage({ promptTokens: 8, completionTokens: 20 }),
    );
    ({ env, cleanup } = await backend.setup(dataDir));
    // Small checkpoint rounds, so that a few hundred requests make the primary run several.
    writeFileSync(join(cwd, 'switchyard.yaml'), 'storage:\n  checkpoint_pages: 8\n');
    // Keys exist before the gateway starts (auth on from the first request); the schema is the gateway's own.
    sql = openSql({ databaseUrl: env.DATABASE_URL ?? null, dataDir });
    await migrate(sql);
    keys = new KeyStore(sql, new LocalBus());
    mgmt = (await keys.create({ name: 'ops', management: true })).key;
    limited = (await keys.create({ name: 'limited', limitNano: 100e9 })).key;
    gw = await startServe({ ...env, SWITCHYARD_DATA_DIR: dataDir, GROQ_API_KEY: 'k', GROQ_BASE_URL: groq.baseUrl, LOG_LEVEL: 'info' }, cwd, 30_000, ['--workers', '2']);
  });
  after(async () => {
    await stopProc(gw);
    await sql?.close();
    await groq?.close();
    await cleanup?.();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  });

  it('one "listening" line, two workers on its port, and both take traffic', async () => {
    assert.equal(gw.output().match(/Switchyard listening on/g)?.length, 1, gw.output());
    const workers = readyWorkers();
    assert.equal(workers.length, 2);
    assert.notEqual(workers[0].pid, workers[1].pid);
    for (const w of workers) assert.equal(w.port, port(), 'every worker listens on the announced port (port 0 is shared by node:cluster)');
    const listening = JSON.parse(gw.output().split('\n').find((l) => l.includes('Switchyard listening on'))!);
    assert.deepEqual(Object.keys(listening).filter((k) => !['level', 'time', 'msg'].includes(k)), ['url', 'config', 'dataDir', 'database', 'redis', 'providers', 'models']);
    const pids = await servingPids(8);
    assert.deepEqual([...pids].sort(), workers.map((w) => w.pid).sort(), 'both workers held reservations of requests they were serving');
  });

  it('a rate limit of 10 requests is exact across the workers', async () => {
    // An hour-long window: the test cannot straddle a window boundary.
    const { key } = await keys.create({ name: 'rl', rateLimit: { requests: 10, intervalMs: 3_600_000, tokensPerMinute: null } });
    const results = await spread(30, (_i, fresh) => post(key, {}, fresh));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 10, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 20, statuses.join(','));
    const refused = results.find((r) => r.status === 429)!;
    assert.equal(JSON.parse(refused.text).error.metadata.limit_type, 'requests');
  });

  it('disabling a key through the key API is effective at once on every worker', async () => {
    const { key, row } = await keys.create({ name: 'to-disable' });
    // Both workers have the key cached.
    for (const r of await spread(8, (_i, fresh) => post(key, {}, fresh))) assert.equal(r.status, 200);
    const res = await fetch(`${gw.url}/api/v1/keys/${row.hash}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${mgmt}` },
      body: JSON.stringify({ disabled: true }),
    });
    assert.equal(res.status, 200);
    const after = await spread(40, (_i, fresh) => post(key, {}, fresh));
    assert.deepEqual(after.filter((r) => r.status !== 401).map((r) => r.status), [], 'no request succeeds after the PATCH answered');
  });

  it('a worker killed with SIGKILL is replaced, on the same port, and the gateway keeps serving', async () => {
    const [victim, other] = readyWorkers();
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(gw, /worker exited unexpectedly; starting a replacement/);
    // Meanwhile the other worker serves.
    for (const r of await spread(4, (_i, fresh) => post(limited, {}, fresh))) assert.equal(r.status, 200);
    for (let i = 0; i < 300 && readyWorkers().length < 3; i++) await sleep(50);
    const replacement = readyWorkers()[2];
    assert.ok(replacement, `a replacement worker is ready:\n${gw.output()}`);
    assert.ok(![victim.pid, other.pid].includes(replacement.pid));
    assert.equal(replacement.port, port());
    const pids = await servingPids(8);
    assert.deepEqual([...pids].sort(), [other.pid, replacement.pid].sort(), 'the replacement takes traffic');
  });

  if (backend.sqlite) {
    it('the primary checkpoints the shared SQLite file while both workers write', async () => {
      const file = join(dataDir, 'switchyard.sqlite');
      const PAGE = 4096;
      const logical = async () => Number((await sql.query<{ page_count: number }>('PRAGMA page_count'))[0].page_count);
      const onDisk = () => statSync(file).size / PAGE;
      const [logicalBefore, diskBefore] = [await logical(), onDisk()];
      for (let batch = 0; batch < 8; batch++) {
        for (const r of await spread(40, (i, fresh) => post(limited, { messages: [{ role: 'user', content: `checkpoint ${batch}.${i}` }] }, fresh))) assert.equal(r.status, 200, r.text);
      }
      await sleep(300); // the last records' flush, and a round after it
      const grown = (await logical()) - logicalBefore;
      assert.ok(grown >= 64, `the requests wrote only ${grown} pages: too few to tell`);
      // New pages reach the database file only through a checkpoint. SQLite's own (in the workers,
      // the safety net) runs once the log holds 1,000 pages, which the log file never did.
      const walPages = statSync(`${file}-wal`).size / (PAGE + 24);
      assert.ok(walPages < 1000, `the log reached ${walPages} pages`);
      assert.ok(onDisk() - diskBefore >= grown / 2, `database file +${onDisk() - diskBefore} pages, log +${grown}`);
      assert.doesNotMatch(gw.output(), /checkpointing from the primary failed/);
    });
  }

  it('SIGTERM drains an open stream, flushes every generation record, and exits 0', async () => {
    const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${limited}` },
      body: JSON.stringify({ model: MODEL, stream: true, max_tokens: 100, provider: { only: ['groq'] }, messages: [{ role: 'user', content: 'drain me' }] }),
    });
    assert.equal(res.status, 200);
    const id = res.headers.get('x-generation-id')!;
    served.add(id);
    const text = await readAcross(res, () => gw.child.kill('SIGTERM'));
    assert.match(text, /data: \[DONE\]\n\n$/);
    assert.equal(await gw.exited, 0);
    assert.match(gw.output(), /"signal":"SIGTERM","workers":2,"msg":"draining open requests"/);
    const rows = await sql.query<{ id: string }>('SELECT id FROM generations');
    const stored = new Set(rows.map((r) => r.id));
    const missing = [...served].filter((g) => !stored.has(g));
    assert.deepEqual(missing, [], `every served generation has its record in the database (${served.size} served)`);
    const [drained] = await sql.query<any>('SELECT status, cancelled FROM generations WHERE id = $1', [id]);
    assert.equal(Number(drained.status), 200);
    assert.equal(Number(drained.cancelled), 0);
  });
});

describe('switchyard serve --workers: refusals', () => {
  it('rejects a bad worker count with a clear message and exit code 2', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'switchyard-cluster-bad-'));
    const p = runCli(['serve', '--port', '0', '--workers', 'many'], {}, cwd);
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /switchyard: --workers must be a number of worker processes from 1 to 1024, or 0 or "auto" for one per CPU; got "many"/);
    rmSync(cwd, { recursive: true, force: true });
  });
});
