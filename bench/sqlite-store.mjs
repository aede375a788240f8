// One round of the SQLite store measurement (bench/README.md, "SQLite drivers"), in a process of
// its own because the driver is chosen per process (SWITCHYARD_SQLITE_DRIVER). It drives the
// gateway's real stores from a build's dist/ on a fresh file, the way `serve` does, and prints
// one JSON line:
//   records:     GenerationStore group commits (batches of generation records, as the request
//                path queues them), checkpoints off the event loop (serve's default);
//   autoCheckpoint: the same batches with SQLite's own checkpoint inside the commits;
//   keys:        key-limit updates and credit top-ups (autocommit writes), and key-row reads;
// each with the event loop's delay while it ran (what requests in flight would wait); the loop
// turns between batches, as it does between serve's timer-driven flushes.
// Arguments: <dist dir> <data dir> [records] [batch].
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const [dist, dataDir, recordsArg, batchArg] = process.argv.slice(2);
const RECORDS = Number(recordsArg ?? 20_000);
const BATCH = Number(batchArg ?? 100);
const KEY_OPS = Math.max(2000, Math.round(RECORDS / 4));
const load = (p) => import(pathToFileURL(join(dist, p)).href);
const { SqliteSql } = await load('storage/sql.js');
const { sqliteDriver } = await load('storage/sqlite-driver.js');
const { migrate } = await load('storage/migrations.js');
const { GenerationStore } = await load('storage/generations.js');
const { KeyStore } = await load('keys/store.js');
const { LocalBus } = await load('state/bus.js');

// CPU time of this process (all its threads: the thread pool's fsyncs too) per operation: less
// disturbed than wall-clock rates when other processes compete for the cores.
const cpuUsPer = (since, n) => {
  const d = process.cpuUsage(since);
  return Math.round(((d.user + d.system) / n) * 10) / 10;
};
const turn = () => new Promise((resolve) => setImmediate(resolve));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (ns) => Math.round(ns / 1e4) / 100;

/** A record as a streamed chat completion leaves it: one attempt, usage, cost. */
function record(i) {
  const now = Date.now();
  return {
    id: `gen-${process.pid}-${i}`,
    createdAt: now,
    model: 'moonshotai/kimi-k2-0905',
    requestedModel: 'moonshotai/kimi-k2-0905',
    providerName: 'Groq',
    providerSlug: 'groq',
    upstreamId: `chatcmpl-${i.toString(36)}`,
    streamed: true,
    cancelled: false,
    status: 200,
    finishReason: 'stop',
    nativeFinishReason: 'stop',
    tokensPrompt: 12,
    tokensCompletion: 20,
    tokensCached: 0,
    tokensReasoning: 0,
    cost: 62_000,
    promptCost: 12_000,
    completionCost: 50_000,
    latencyMs: 41,
    generationTimeMs: 38,
    ttftMs: 9,
    errorCode: null,
    errorMessage: null,
    attempts: [{ provider: 'Groq', endpoint: 'groq', model: 'moonshotai/kimi-k2-0905', status: 200, latencyMs: 41, outcome: 'served' }],
    apiKey: null,
    externalUser: null,
    userAgent: 'bench',
    httpReferer: null,
    serviceTier: null,
    sessionId: null,
    api: 'chat_completions',
  };
}

/** Runs fn with the event loop's delay recorded (10 ms resolution is too coarse: 1 ms). */
async function withLoopDelay(fn) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const out = await fn();
  h.disable();
  return { ...out, loopDelayP99Ms: ms(h.percentile(99)), loopDelayMaxMs: ms(h.max) };
}

/** Batches of records through GenerationStore.flush (one transaction each); per-flush times. */
async function records(dir, checkpoints, count = RECORDS) {
  mkdirSync(dir, { recursive: true });
  const sql = new SqliteSql(dir, { checkpoints: checkpoints ? {} : false });
  await migrate(sql);
  const store = new GenerationStore(sql, 60_000);
  const flushes = [];
  const out = await withLoopDelay(async () => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < count; i += BATCH) {
      for (let j = i; j < Math.min(count, i + BATCH); j++) store.save(record(j));
      const f0 = performance.now();
      await store.flush();
      flushes.push(performance.now() - f0);
      // Flushes are timer-driven in serve: the loop turns between them (and the delay monitor samples).
      await turn();
    }
    const seconds = (performance.now() - t0) / 1000;
    return { recordsPerS: Math.round(count / seconds), cpuUsPerRecord: cpuUsPer(c0, count) };
  });
  flushes.sort((a, b) => a - b);
  const cp = sql.checkpoints;
  const result = {
    sqliteVersion: (await sql.query('SELECT sqlite_version() AS v'))[0].v,
    ...out,
    flushP50Ms: Math.round(pct(flushes, 50) * 100) / 100,
    flushP99Ms: Math.round(pct(flushes, 99) * 100) / 100,
    flushMaxMs: Math.round(flushes.at(-1) * 100) / 100,
    ...(cp ? { checkpointCycles: cp.cycles, checkpointSkipped: cp.skipped, checkpointFailure: cp.failure?.message ?? null } : {}),
  };
  if ((await store.count()) !== count) throw new Error(`expected ${count} records`);
  await store.close();
  await sql.close();
  return result;
}

/** Key rows and the account: limit updates and credit top-ups (autocommit), key-row reads. */
async function keys(dir) {
  mkdirSync(dir, { recursive: true });
  const sql = new SqliteSql(dir, { checkpoints: {} });
  await migrate(sql);
  const store = new KeyStore(sql, new LocalBus());
  const hashes = [];
  for (let i = 0; i < 50; i++) hashes.push((await store.create({ name: `k${i}`, limitNano: 10e9 })).row.hash);
  const out = await withLoopDelay(async () => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < KEY_OPS; i++) {
      if (i % 2 === 0) await store.update(hashes[i % hashes.length], { limitNano: (10 + (i % 7)) * 1e9 });
      else await store.addCredits(1000);
      if (i % 10 === 9) await turn();
    }
    const t1 = performance.now();
    const cpuUsPerWrite = cpuUsPer(c0, KEY_OPS);
    const c1 = process.cpuUsage();
    for (let i = 0; i < KEY_OPS; i++) await store.get(hashes[i % hashes.length]);
    const t2 = performance.now();
    return { writesPerS: Math.round(KEY_OPS / ((t1 - t0) / 1000)), cpuUsPerWrite, readsPerS: Math.round(KEY_OPS / ((t2 - t1) / 1000)), cpuUsPerRead: cpuUsPer(c1, KEY_OPS) };
  });
  await sql.close();
  return out;
}

// Warm-up (JIT, the driver's first statements), not reported.
await records(join(dataDir, 'warm-up'), true, 2000);
const t0 = performance.now();
const result = {
  driver: sqliteDriver(),
  node: process.version,
  records: RECORDS,
  batch: BATCH,
  keyOps: KEY_OPS,
  offLoopCheckpoints: await records(join(dataDir, 'records'), true),
  autoCheckpoint: await records(join(dataDir, 'records-auto'), false),
  keys: await keys(join(dataDir, 'keys')),
};
result.seconds = Math.round(performance.now() - t0) / 1000;
process.stdout.write(`${JSON.stringify(result)}\n`);
