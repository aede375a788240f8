#!/usr/bin/env node
// Switchyard benchmark runner (`npm run bench`). See bench/README.md.
//
// Processes: the mock upstream and the load driver run pinned to core 0, the router under test
// (Switchyard, and Portkey with --peer portkey) pinned to core 1. Direct-to-mock, Switchyard and
// the peers are measured in alternation, round after round, within every cell of the matrix.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { summariseProfile } from './lib/cpuprofile.mjs';
import { heapDiff } from './lib/heap-diff.mjs';
import { heapOwners } from './lib/heap-owners.mjs';
import { ensurePortkey, portkeyHeaders, PORTKEY_VERSION } from './lib/portkey.mjs';
import { settleIdle, IDLE_RULE } from './lib/idle.mjs';
import { backgroundProbe, CLK_TCK, cpuSeconds, freePort, hasTaskset, killAllSync, memory, nofile, openFds, processTree, resetPeak, sleep, spawnNode, stopAll, stopChild, treeCpuSeconds } from './lib/proc.mjs';
import { baselineSection, idleSummary, ingressNote, ingressSections, sqliteDriversSections, workersSection } from './report.mjs';
import { fmt, fmtInt, round, summarise, summariseSoak, table } from './lib/stats.mjs';
import { answerOk, DEFAULT_WIRES, WIRE_NAMES, WIRES } from './lib/wires.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = join(ROOT, 'bench');

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    peer: { type: 'string', multiple: true, default: [] },
    profile: { type: 'boolean', default: false },
    'profile-only': { type: 'boolean', default: false },
    'profile-ingress': { type: 'string' },
    'profile-seconds': { type: 'string' },
    'profile-conc': { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'no-memory': { type: 'boolean', default: false },
    'no-matrix': { type: 'boolean', default: false },
    soak: { type: 'string' },
    conc: { type: 'string' },
    rounds: { type: 'string' },
    'latency-ms': { type: 'string' },
    'throughput-s': { type: 'string' },
    streams: { type: 'string' },
    'long-prompt-kib': { type: 'string' },
    'slow-interval-ms': { type: 'string', default: '2000' },
    chunks: { type: 'string', default: '20' },
    'chunk-delay': { type: 'string', default: '0' },
    ttft: { type: 'string', default: '0' },
    out: { type: 'string' },
    'max-minutes': { type: 'string' },
    'wait-quiet': { type: 'string' },
    'cell-attempts': { type: 'string' },
    'node-args': { type: 'string' },
    'heap-snapshots': { type: 'boolean', default: false },
    'no-floor': { type: 'boolean', default: false },
    'workers-scaling': { type: 'boolean', default: false },
    'no-workers-scaling': { type: 'boolean', default: false },
    'workers-seconds': { type: 'string' },
    'idle-s': { type: 'string' },
    ingress: { type: 'string' },
    baseline: { type: 'string' },
    'sqlite-drivers': { type: 'boolean', default: false },
    'sqlite-rounds': { type: 'string' },
    'sqlite-records': { type: 'string' },
    'better-sqlite3-build': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (opt.help) {
  process.stdout.write(`Usage: npm run bench -- [options]
  --quick                 ~4 minutes: 2 rounds of short slices, 1,000 streams only, no workers scaling
  --ingress chat,messages,responses
                          front doors measured (default: those three; chat completions is always measured):
                          POST /api/v1/messages and /api/v1/responses are extra targets in every cell of the
                          matrix and get their own memory-per-open-stream test; responses-stored is the
                          Responses door with store: true (every answer saved), not measured by default
  --baseline <git-ref>    also build and run Switchyard at <git-ref> (git worktree in the temp folder, node_modules
                          linked when its lockfile is covered by this tree's, else npm ci) and measure its chat
                          completions, and each other door of --ingress that it serves, in every cell,
                          interleaved with the current tree: before vs after
  --sqlite-drivers        node:sqlite against better-sqlite3 (needs a Node with node:sqlite, 22.13+): the store
                          measurement (bench/sqlite-store.mjs, --sqlite-rounds N rounds, default 7; quick 5;
                          --sqlite-records N records per run, default 20000), both drivers in every round, and a
                          second Switchyard of the current tree on better-sqlite3 in every cell of the matrix
  --better-sqlite3-build DIR
                          a better-sqlite3 package built for the running Node (its addon in build/Release): the
                          current tree's copy uses it instead of this tree's, which is built for another Node
  --peer portkey          also measure the Portkey gateway ${PORTKEY_VERSION} (installed into a temp folder)
  --profile               also record a CPU profile of Switchyard under load (non-streaming and streaming)
  --profile-only          only the CPU profiles
  --profile-ingress DOOR  the front door profiled (default chat; e.g. responses-stored)
  --profile-conc N        the concurrency the profile's load runs at (default 64; 1 shows the fixed per-request cost)
  --soak MIN              also run a MIN-minute soak at concurrency 16 and report RSS growth
  --conc 1,16,64,256      concurrency levels
  --rounds N              alternation rounds per cell (default 3; quick 2)
  --latency-ms N          latency slice per target and round (default 1500; quick 500)
  --throughput-s N        autocannon slice per target and round (default 1.5; quick 0.5)
  --streams 1000,10000    open-stream counts for the memory test (quick: 1000)
  --slow-interval-ms N    chunk interval of the slow streams (default 2000)
  --long-prompt-kib N     memory test: also 1,000 streams whose prompt is N KiB (full run: 32; quick: 0 = off)
  --chunks N --chunk-delay MS --ttft MS   mock stream shape for the matrix (default 20, 0, 0)
  --wait-quiet S          wait up to S seconds for other processes to leave the CPUs idle (default 60; quick 20)
  --cell-attempts N        measure a cell up to N times while other processes disturb it (default 2; quick 1)
  --heap-snapshots         memory test: heap snapshots before/with the streams open, diffed per stream (slow)
  --no-floor              leave out the Node floor (bench/floor-proxy.mjs, a minimal Node reverse proxy) from the matrix
                          and the memory test
  --workers-scaling       also measure \`serve --workers 1\` vs \`--workers 2\` on both cores (default in a full run;
                          --no-workers-scaling turns it off); --workers-seconds N per instance, round and mode (default 5; quick 3)
  --idle-s N              poll idle RSS for up to N s after start until it settles (default 120; quick 40; 0: at start only)
  --node-args "..."        extra node flags for Switchyard (diagnostics, e.g. "--trace-gc"; BENCH_KEEP_TMP=1 keeps its log)
  --no-matrix --no-memory --no-build --out FILE --max-minutes N
                          (--no-build leaves this tree's dist/ as it is; a baseline is always built)
`);
  process.exit(0);
}

const quick = opt.quick;
// Front doors: chat completions always (the targets, the floor, the baseline and every earlier
// results file are about it); Messages and Responses on top, by default.
const ingress = ['chat', ...(opt.ingress ?? DEFAULT_WIRES.join(',')).split(',').map((x) => x.trim()).filter((x) => x && x !== 'chat')];
for (const w of ingress) if (!WIRES[w]) throw new Error(`unknown --ingress "${w}" (known: ${WIRE_NAMES.join(', ')})`);
const extraDoors = () => ingress.filter((w) => w !== 'chat' && doorAvailable[w] !== false);
/** Front doors found missing from the build (404 to the probe): left out, with the reason. */
const doorAvailable = {};
const baselineRef = opt.baseline ?? null;
const sqliteDrivers = opt['sqlite-drivers'];
const sqliteRounds = Number(opt['sqlite-rounds'] ?? (quick ? 5 : 7));
const sqliteRecords = Number(opt['sqlite-records'] ?? 20_000);
const peers = opt.peer.flatMap((p) => p.split(',')).filter(Boolean);
for (const p of peers) if (p !== 'portkey') throw new Error(`unknown peer "${p}" (known: portkey)`);
const concs = (opt.conc ?? '1,16,64,256').split(',').map(Number);
const rounds = Number(opt.rounds ?? (quick ? 2 : 3));
const latencyMs = Number(opt['latency-ms'] ?? (quick ? 500 : 1500));
const throughputS = Number(opt['throughput-s'] ?? (quick ? 0.5 : 1.5));
const streamCounts = (opt.streams ?? (quick ? '1000' : '1000,10000')).split(',').map(Number).filter((n) => n > 0);
const longPromptKiB = Number(opt['long-prompt-kib'] ?? (quick ? 0 : 32));
const slowIntervalMs = Number(opt['slow-interval-ms']);
const profileSeconds = Number(opt['profile-seconds'] ?? (quick ? 3 : 8));
const profileConc = Number(opt['profile-conc'] ?? 64);
if (!Number.isInteger(profileConc) || profileConc < 1) throw new Error(`--profile-conc must be a positive integer, not "${opt['profile-conc']}"`);
const soakMinutes = opt.soak ? Number(opt.soak) : 0;
const doProfile = opt.profile || opt['profile-only'];
const profileWire = opt['profile-ingress'] ?? 'chat';
if (!WIRES[profileWire]) throw new Error(`unknown --profile-ingress "${profileWire}" (known: ${WIRE_NAMES.join(', ')})`);
const doMatrix = !opt['profile-only'] && !opt['no-matrix'];
const doMemory = !opt['no-memory'] && !opt['profile-only'];
const maxMinutes = Number(opt['max-minutes'] ?? (quick ? 8 : 30)) + soakMinutes + (baselineRef ? 5 : 0) + (sqliteDrivers ? 5 : 0);
const waitQuietS = Number(opt['wait-quiet'] ?? (quick ? 20 : 60));
const cellAttempts = Number(opt['cell-attempts'] ?? (quick ? 1 : 2));
const doFloor = !opt['no-floor'];
// Multi-core scaling: on request, and by default in a full run that measures the matrix.
const doWorkers = !opt['no-workers-scaling'] && (opt['workers-scaling'] || (!quick && doMatrix));
const workersSeconds = Number(opt['workers-seconds'] ?? (quick ? 3 : 5));
const idleMaxS = Number(opt['idle-s'] ?? (quick ? 40 : 120));
const mockShape = { chunks: Number(opt.chunks), chunkDelayMs: Number(opt['chunk-delay']), ttftMs: Number(opt.ttft), slowIntervalMs: 0 };

const LOAD_CORE = 0;
const PROXY_CORE = cpus().length > 1 ? 1 : 0;
const ALL_CORES = cpus().length > 1 ? '0,1' : '0';
const MODEL = 'moonshotai/kimi-k2-0905';
const UPSTREAM_MODEL = 'moonshotai/kimi-k2-instruct-0905'; // Groq's id for MODEL (catalog/models.yaml)
const BARE_NODE_SCRIPT = "require('http').createServer((q,s)=>s.end()).listen(PORT, '127.0.0.1')";
// Request bodies per front door and mode (lib/wires.mjs); BODY is chat completions'.
const BODIES = Object.fromEntries(WIRE_NAMES.map((w) => [w, { nonstream: WIRES[w].body(false), stream: WIRES[w].body(true) }]));
const BODY = BODIES.chat;
const bodyOf = (target, mode) => BODIES[target.wire ?? 'chat'][mode];

const t0 = Date.now();
const log = (msg) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
const work = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));

// ---------------------------------------------------------------- cleanup: never leave processes behind
let cleaning = null;
async function cleanup() {
  cleaning ??= (async () => {
    try {
      if (driver && !driver.exited) driver.proc.send?.({ cmd: 'exit' });
    } catch {
      /* gone */
    }
    killCommands();
    await stopAll();
    unlinkNodeModules();
    removeBaselineWorktree();
    if (!process.env.BENCH_KEEP_TMP) rmSync(work, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on('exit', () => {
  killAllSync();
  killCommands();
  unlinkNodeModules();
  removeBaselineWorktree();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping`);
    void cleanup().then(() => process.exit(130));
  });
}
const deadline = setTimeout(() => {
  log(`run exceeded --max-minutes ${maxMinutes}: stopping`);
  void cleanup().then(() => process.exit(3));
}, maxMinutes * 60_000);
deadline.unref();

// ---------------------------------------------------------------- machine
function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const mhz = /^cpu MHz\s*:\s*(.+)$/m.exec(cpuinfo)?.[1];
  let commit = null;
  let dirty = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().length > 0;
  } catch {
    /* not a git checkout */
  }
  return {
    cpuModel: model,
    cpuMHz: mhz ? Number(mhz) : null,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    platform: `${process.platform}-${process.arch}`,
    clkTck: CLK_TCK,
    openFileLimit: nofile,
    taskset: hasTaskset,
    pinning: hasTaskset ? { routerUnderTest: `core ${PROXY_CORE}`, mockAndLoadDriver: `core ${LOAD_CORE}` } : 'none (taskset not found)',
    switchyardCommit: commit,
    switchyardSrcDirty: dirty,
  };
}

// ---------------------------------------------------------------- processes
/** Waits for the {"port":N} line a bench server (mock, floor) prints when listening. */
async function portLine(child, what) {
  const port = await new Promise((resolveP, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start`)), 10_000);
    child.proc.stdout.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolveP(JSON.parse(buf.slice(0, nl)).port);
      }
    });
    child.proc.once('exit', () => reject(new Error(`${what} exited`)));
  });
  child.proc.stdout.resume();
  return port;
}

async function startMock() {
  const child = spawnNode('mock', LOAD_CORE, [join(BENCH, 'mock-upstream.mjs'), '--chunks', String(mockShape.chunks), '--chunk-delay', String(mockShape.chunkDelayMs), '--ttft', String(mockShape.ttftMs)], {
    pipeStdout: true,
    logFile: join(work, 'mock.log'),
  });
  child.origin = `http://127.0.0.1:${await portLine(child, 'mock upstream')}`;
  return child;
}

/** The Node floor (floor-proxy.mjs): a minimal Node reverse proxy to the mock, on the router's core. */
async function startFloor({ memProbe } = {}) {
  const logFile = join(work, `floor-${++instance}.log`);
  const probeFile = memProbe ? join(work, `floor-${instance}-mem.json`) : null;
  const env = childEnv(probeFile ? { BENCH_MEM_PROBE: probeFile, ...snapshotEnv(probeFile) } : {});
  const child = spawnNode('floor', PROXY_CORE, [...memProbeArgs(probeFile), join(BENCH, 'floor-proxy.mjs'), '--upstream', mock.origin, '--model', UPSTREAM_MODEL], { pipeStdout: true, cwd: ROOT, logFile, env });
  child.logFile = logFile;
  child.probeFile = probeFile;
  child.origin = `http://127.0.0.1:${await portLine(child, 'floor proxy')}`;
  await waitReady(`${child.origin}/`, child);
  child.target = { name: 'floor', wire: 'chat', origin: child.origin, path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, pid: child.pid };
  return child;
}

/** A bare Node HTTP server on the router's core: what Node itself holds when idle. */
async function startBareNode() {
  const port = await freePort();
  const logFile = join(work, `bare-node-${++instance}.log`);
  const child = spawnNode('bare-node', PROXY_CORE, ['-e', BARE_NODE_SCRIPT.replace('PORT', String(port))], { cwd: work, logFile, env: childEnv({}) });
  child.logFile = logFile;
  child.origin = `http://127.0.0.1:${port}`;
  await waitReady(`${child.origin}/`, child);
  child.readyAt = Date.now();
  return child;
}

/** The dependency floor (idle-deps.mjs): Node plus the libraries the request path stands on, doing nothing. */
async function startDepsFloor() {
  const port = await freePort();
  const dir = join(work, `deps-floor-${++instance}`);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'deps-floor.log');
  const child = spawnNode('deps-floor', PROXY_CORE, ['--expose-gc', join(BENCH, 'idle-deps.mjs'), String(port), dir], { cwd: ROOT, logFile, env: childEnv({}) });
  child.logFile = logFile;
  child.origin = `http://127.0.0.1:${port}`;
  await waitReady(`${child.origin}/`, child);
  child.readyAt = Date.now();
  return child;
}

async function mockControl(path, body) {
  const res = await request(`${mock.origin}${path}`, { method: body ? 'POST' : 'GET', body: body ? JSON.stringify(body) : undefined });
  return res.body.json();
}

let driver = null;
async function startDriver() {
  const child = spawnNode('driver', LOAD_CORE, [join(BENCH, 'driver.mjs')], { ipc: true, cwd: ROOT, logFile: join(work, 'driver.log') });
  const pending = new Map();
  let seq = 0;
  await new Promise((resolveP, reject) => {
    const timer = setTimeout(() => reject(new Error('load driver did not start')), 15_000);
    child.proc.on('message', (m) => {
      if (m.ready) {
        clearTimeout(timer);
        resolveP();
        return;
      }
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`driver: ${m.error}`));
    });
    child.proc.once('exit', () => {
      for (const p of pending.values()) p.reject(new Error('load driver exited'));
      reject(new Error('load driver exited'));
    });
  });
  child.call = (cmd, args, timeoutMs = 120_000) =>
    new Promise((resolveP, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`driver: ${cmd} timed out`));
      }, timeoutMs);
      pending.set(id, { resolve: resolveP, reject, timer });
      child.proc.send({ id, cmd, args });
    });
  return child;
}

async function waitReady(url, child, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exited) throw new Error(`${child.name} exited during start-up (code ${child.exitCode}); see ${child.logFile}`);
    try {
      const res = await request(url, { method: 'GET', headersTimeout: 1000, bodyTimeout: 1000 });
      await res.body.dump();
      if (res.statusCode < 500) return;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  throw new Error(`${child.name} did not become ready at ${url}`);
}

function childEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // The router under test sees only the bench's provider settings.
    if (/_API_KEY$|_BASE_URL$|^SWITCHYARD_|^PORT$|^HOST$|^LOG_LEVEL$|^NODE_OPTIONS$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

let instance = 0;
const MEM_PROBE = join(BENCH, 'lib', 'mem-probe.mjs');
const snapshotEnv = (probeFile) => {
  if (!probeFile || !opt['heap-snapshots']) return {};
  const dir = join(work, 'heap');
  mkdirSync(dir, { recursive: true });
  return { BENCH_HEAP_SNAPSHOT_DIR: dir };
};
const memProbeArgs = (file) => (file ? ['--expose-gc', '--import', MEM_PROBE] : []);

/**
 * A Switchyard on the routers' core. `wire` picks the front door its target drives (one process
 * per door in the matrix, so CPU and RSS are each door's own); `root` another build (the baseline).
 */
async function startSwitchyard({ cpuProfDir, memProbe, workers, cores = PROXY_CORE, wire = 'chat', root = CURRENT, name, sqliteDriver } = {}) {
  const port = await freePort();
  const dir = join(work, `switchyard-${++instance}`);
  mkdirSync(dir, { recursive: true });
  const probeFile = memProbe ? join(dir, 'mem.json') : null;
  const env = childEnv({ PORT: String(port), HOST: '127.0.0.1', SWITCHYARD_DATA_DIR: join(dir, 'data'), GROQ_API_KEY: 'bench', GROQ_BASE_URL: `${mock.origin}/v1`, ...(probeFile ? { BENCH_MEM_PROBE: probeFile } : {}), ...snapshotEnv(probeFile), ...sqliteDriverEnv(sqliteDriver) });
  const nodeArgs = [...(opt['node-args'] ? opt['node-args'].split(/\s+/).filter(Boolean) : []), ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []), ...memProbeArgs(probeFile)];
  const logFile = join(dir, 'switchyard.log');
  const serveArgs = workers !== undefined ? ['serve', '--workers', String(workers)] : ['serve'];
  const targetName = name ?? (wire === 'chat' ? 'switchyard' : `switchyard-${wire}`);
  const child = spawnNode(workers !== undefined ? `switchyard --workers ${workers}` : targetName, cores, [...nodeArgs, join(root, 'bin/switchyard.js'), ...serveArgs], { env, cwd: dir, logFile });
  child.logFile = logFile;
  child.probeFile = probeFile;
  child.origin = `http://127.0.0.1:${port}`;
  try {
    await waitReady(`${child.origin}/health`, child);
  } catch (err) {
    err.child = child;
    throw err;
  }
  child.readyAt = Date.now();
  child.target = {
    name: targetName,
    wire,
    origin: child.origin,
    path: WIRES[wire].path,
    headers: { 'content-type': 'application/json' },
    pid: child.pid,
  };
  return child;
}

// ---------------------------------------------------------------- SQLite drivers (--sqlite-drivers)
const SQLITE_DRIVERS = ['node', 'better-sqlite3'];
/** The environment that makes a Switchyard use one SQLite driver (none: its own choice). */
const sqliteDriverEnv = (driver) => (driver ? { SWITCHYARD_SQLITE_DRIVER: driver } : {});

/** Both drivers open a database under this Node from the current tree's copy; throws with the reason otherwise. */
function checkSqliteDrivers() {
  const module = pathToFileURL(join(CURRENT, 'dist', 'storage', 'sqlite-driver.js')).href;
  const versions = {};
  for (const d of SQLITE_DRIVERS) {
    const script = `const m = await import(${JSON.stringify(module)}); const c = m.openSqlite(':memory:'); process.stdout.write(String(c.prepare('SELECT sqlite_version() AS v').get().v));`;
    try {
      versions[d] = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: CURRENT, env: childEnv(sqliteDriverEnv(d)), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (err) {
      throw new Error(`--sqlite-drivers: the ${d} driver does not work under Node ${process.version}: ${String(err.stderr ?? err.message).trim().split('\n').find((l) => /Error/.test(l)) ?? err.message}`);
    }
  }
  return versions;
}

/** Per metric: median, min and max over the rounds. */
const spreadOf = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? { median: s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2, min: s[0], max: s.at(-1), n: s.length } : null;
};
const STORE_METRICS = [
  ['records/s, off-loop checkpoints (serve)', 'offLoopCheckpoints.recordsPerS', 0],
  ['CPU µs per record, off-loop checkpoints', 'offLoopCheckpoints.cpuUsPerRecord', 1],
  ['flush p50 ms, off-loop checkpoints', 'offLoopCheckpoints.flushP50Ms', 2],
  ['flush p99 ms, off-loop checkpoints', 'offLoopCheckpoints.flushP99Ms', 2],
  ['event-loop delay max ms, off-loop checkpoints', 'offLoopCheckpoints.loopDelayMaxMs', 1],
  ['checkpoint cycles', 'offLoopCheckpoints.checkpointCycles', 0],
  ["records/s, SQLite's own checkpoint", 'autoCheckpoint.recordsPerS', 0],
  ["CPU µs per record, SQLite's own checkpoint", 'autoCheckpoint.cpuUsPerRecord', 1],
  ["flush p99 ms, SQLite's own checkpoint", 'autoCheckpoint.flushP99Ms', 2],
  ["event-loop delay max ms, SQLite's own checkpoint", 'autoCheckpoint.loopDelayMaxMs', 1],
  ['key/credit updates/s (autocommit)', 'keys.writesPerS', 0],
  ['CPU µs per key/credit update', 'keys.cpuUsPerWrite', 1],
  ['key-row reads/s', 'keys.readsPerS', 0],
  ['CPU µs per key-row read', 'keys.cpuUsPerRead', 1],
  ['event-loop delay max ms, key updates', 'keys.loopDelayMaxMs', 1],
];
const at = (o, path) => path.split('.').reduce((x, k) => x?.[k], o);

/**
 * The store measurement: bench/sqlite-store.mjs once per driver per round, on the routers' core,
 * the order alternating, so both drivers meet the same machine state; the other load on the
 * machine is read per round.
 */
async function sqliteStore() {
  const runs = Object.fromEntries(SQLITE_DRIVERS.map((d) => [d, []]));
  const backgroundCpuPct = [];
  const logFile = join(work, 'sqlite-store.log');
  for (let r = 0; r < sqliteRounds; r++) {
    const order = r % 2 === 0 ? SQLITE_DRIVERS : [...SQLITE_DRIVERS].reverse();
    const background = backgroundProbe();
    for (const d of order) {
      const dir = join(work, `sqlite-store-${r}-${d}`);
      const child = spawnNode(`sqlite-store ${d}`, PROXY_CORE, [join(BENCH, 'sqlite-store.mjs'), join(CURRENT, 'dist'), dir, String(sqliteRecords)], { cwd: work, env: childEnv(sqliteDriverEnv(d)), logFile, pipeStdout: true });
      let out = '';
      child.proc.stdout.on('data', (b) => (out += b));
      const code = await child.exitPromise;
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) throw new Error(`sqlite-store (${d}) exited with ${code}: ${lastLogLines(logFile, 5)}`);
      const result = JSON.parse(out.trim().split('\n').at(-1));
      if (result.driver !== d) throw new Error(`sqlite-store asked for ${d} ran ${result.driver}`);
      runs[d].push(result);
    }
    backgroundCpuPct.push(round(background() * 100, 1));
    log(`sqlite store round ${r + 1}/${sqliteRounds}: ${order.map((d) => `${d} ${fmtInt(runs[d].at(-1).offLoopCheckpoints.recordsPerS)} records/s, ${fmtInt(runs[d].at(-1).keys.writesPerS)} key updates/s`).join('; ')}; other load ${fmt(backgroundCpuPct.at(-1), 0)}%`);
  }
  const metrics = STORE_METRICS.map(([label, path, digits]) => {
    const m = { label, path, digits };
    for (const d of SQLITE_DRIVERS) m[d] = spreadOf(runs[d].map((x) => at(x, path)));
    // Paired per round: the same machine state for both.
    m.ratio = spreadOf(runs.node.map((x, i) => at(x, path) / at(runs['better-sqlite3'][i], path)));
    return m;
  });
  return { rounds: sqliteRounds, records: sqliteRecords, batch: runs.node[0]?.batch, keyOps: runs.node[0]?.keyOps, backgroundCpuPct, metrics, runs };
}

// ---------------------------------------------------------------- the current tree, as built
/**
 * Where this tree's Switchyard runs from: a copy of what `npm run build` produced, taken right
 * after it. Other people's builds rewrite dist/ in a shared tree; without the copy, processes
 * started later in the run would run other code (or a half-written dist/).
 */
let CURRENT = ROOT;
function snapshotCurrent() {
  const dir = join(work, 'current');
  mkdirSync(dir, { recursive: true });
  // src/ only for the CPU profile's source maps (dist/*.js.map point at ../src).
  for (const p of ['bin', 'dist', 'catalog', 'demo', 'src', 'package.json']) if (existsSync(join(ROOT, p))) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  if (opt['better-sqlite3-build']) overlayNodeModules(dir, resolve(opt['better-sqlite3-build']));
  else symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  CURRENT = dir;
}
/**
 * --better-sqlite3-build: the copy's node_modules links every package of this tree's except
 * better-sqlite3, which is a copy of the given build (a native addon is built for one Node ABI;
 * the package's own lookup finds the addon next to its code, and its dependencies through the links).
 */
function overlayNodeModules(dir, build) {
  if (!existsSync(join(build, 'build', 'Release', 'better_sqlite3.node'))) throw new Error(`--better-sqlite3-build ${build}: no build/Release/better_sqlite3.node`);
  const nm = join(dir, 'node_modules');
  mkdirSync(nm);
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry === 'better-sqlite3') continue;
    symlinkSync(join(ROOT, 'node_modules', entry), join(nm, entry));
  }
  cpSync(build, join(nm, 'better-sqlite3'), { recursive: true });
}
/** The links into this tree's node_modules go first: nothing may delete through them. */
function unlinkNodeModules() {
  for (const dir of [CURRENT !== ROOT ? CURRENT : null, baselineWorktree]) {
    if (!dir) continue;
    try {
      const nm = join(dir, 'node_modules');
      // An overlay (--better-sqlite3-build): its links, then its own copy of better-sqlite3.
      if (existsSync(nm) && !lstatSync(nm).isSymbolicLink()) for (const entry of readdirSync(nm)) rmSync(join(nm, entry), { force: true, recursive: !lstatSync(join(nm, entry)).isSymbolicLink() });
      rmSync(nm, { force: true });
    } catch {
      /* a real directory (npm ci): removed with its folder */
    }
  }
}

// ---------------------------------------------------------------- the baseline: another commit, built in a worktree
const commands = new Set(); // build and install commands running (own process groups)
function killCommands() {
  for (const c of commands) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  commands.clear();
}

/** Runs a command in its own process group (so cleanup can stop npm and everything under it), output to a log. */
function runCommand(cmd, args, { cwd, logFile, timeoutMs }) {
  return new Promise((resolveP, reject) => {
    const out = openSync(logFile, 'a');
    const c = spawn(cmd, args, { cwd, stdio: ['ignore', out, out], detached: true, env: { ...process.env, npm_config_update_notifier: 'false' } });
    closeSync(out);
    commands.add(c);
    const timer = setTimeout(() => {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    c.once('error', (err) => {
      clearTimeout(timer);
      commands.delete(c);
      reject(err);
    });
    c.once('exit', (code, signal) => {
      clearTimeout(timer);
      commands.delete(c);
      if (code === 0) resolveP();
      else reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${signal ?? `exit ${code}`}; ${lastLogLines(logFile, 8)}`));
    });
  });
}

/**
 * Whether the packages installed here serve the baseline as `npm ci` would: every package its
 * lockfile pins is installed at the same path with the same version (and integrity), and nothing
 * installed here is nested under one of them (which would change what it resolves). Compared with
 * `node_modules/.package-lock.json` (what is installed), else `package-lock.json`.
 */
function lockCovered(baseText) {
  const hidden = join(ROOT, 'node_modules', '.package-lock.json');
  const curFile = existsSync(hidden) ? hidden : join(ROOT, 'package-lock.json');
  if (!existsSync(join(ROOT, 'node_modules'))) return { ok: false, reason: 'this tree has no node_modules' };
  const curText = readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
  if (curText === baseText) return { ok: true, reason: 'the lockfiles match' };
  let base;
  let cur;
  try {
    base = JSON.parse(baseText).packages;
    cur = JSON.parse(readFileSync(curFile, 'utf8')).packages;
  } catch (err) {
    return { ok: false, reason: `a lockfile does not parse (${err.message})` };
  }
  if (!base || !cur) return { ok: false, reason: 'a lockfile has no "packages" (lockfileVersion < 2)' };
  for (const [path, b] of Object.entries(base)) {
    if (path === '') continue;
    const c = cur[path];
    if (!c) {
      if (b.optional) continue; // an optional package for another platform: not installed for either
      return { ok: false, reason: `${path} is not installed here` };
    }
    if (c.version !== b.version || (c.integrity && b.integrity && c.integrity !== b.integrity) || (c.link ?? false) !== (b.link ?? false) || (b.link && c.resolved !== b.resolved)) {
      return { ok: false, reason: `${path}: ${b.version ?? b.resolved} in the baseline's lockfile, ${c.version ?? c.resolved} installed here` };
    }
  }
  const extra = Object.keys(cur).filter((p) => p !== '' && !(p in base));
  const shadowing = extra.find((p) => {
    const i = p.lastIndexOf('/node_modules/');
    return i > 0 && p.slice(0, i) in base;
  });
  if (shadowing) return { ok: false, reason: `${shadowing} is installed here under a package the baseline also has` };
  return { ok: true, reason: `every package the baseline's lockfile pins is installed here at the same version (${extra.length} more here)` };
}

let baselineWorktree = null;
function removeBaselineWorktree() {
  const dir = baselineWorktree;
  if (!dir) return;
  baselineWorktree = null;
  // The node_modules link first: nothing below may ever delete through it into this tree's packages.
  try {
    rmSync(join(dir, 'node_modules'), { force: true });
  } catch {
    /* a real directory (npm ci): removed with the worktree */
  }
  try {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    try {
      execFileSync('git', ['worktree', 'prune'], { cwd: ROOT, stdio: 'ignore' });
    } catch {
      /* not a git checkout */
    }
  }
}

/** `--baseline <ref>`: a worktree of <ref> in the temp folder, its packages, `npm run build`. */
async function prepareBaseline(ref) {
  const git = (...args) => execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
  let commit;
  try {
    commit = git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
  } catch {
    throw new Error(`--baseline ${ref}: not a commit of this repository`);
  }
  const short = git('rev-parse', '--short', commit);
  const info = { ref, commit, short, subject: git('log', '-1', '--format=%s', commit), date: git('log', '-1', '--format=%cI', commit) };
  const dir = join(work, `baseline-${short}`);
  const started = Date.now();
  git('worktree', 'add', '--detach', dir, commit);
  baselineWorktree = dir;
  const logFile = join(work, 'baseline-build.log');
  const lockFile = join(dir, 'package-lock.json');
  const cover = existsSync(lockFile) ? lockCovered(readFileSync(lockFile, 'utf8')) : { ok: false, reason: 'the baseline has no package-lock.json' };
  if (cover.ok) {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    info.nodeModules = `linked to this tree's: ${cover.reason}`;
  } else {
    log(`baseline ${short}: npm ci (${cover.reason})`);
    await runCommand('npm', existsSync(lockFile) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'], { cwd: dir, logFile, timeoutMs: 10 * 60_000 });
    info.nodeModules = `npm ci: ${cover.reason}`;
  }
  log(`baseline ${short}: npm run build (node_modules ${info.nodeModules})`);
  await runCommand('npm', ['run', 'build', '--silent'], { cwd: dir, logFile, timeoutMs: 10 * 60_000 });
  if (!existsSync(join(dir, 'bin', 'switchyard.js'))) throw new Error(`baseline ${short} has no bin/switchyard.js`);
  info.preparedS = round((Date.now() - started) / 1000, 1);
  info.root = dir;
  return info;
}

let portkeyInstall = null;
async function startPortkey({ memProbe } = {}) {
  portkeyInstall ??= ensurePortkey(log);
  const port = await freePort();
  const logFile = join(work, `portkey-${++instance}.log`);
  const probeFile = memProbe ? join(work, `portkey-${instance}-mem.json`) : null;
  const env = childEnv(probeFile ? { BENCH_MEM_PROBE: probeFile, ...snapshotEnv(probeFile) } : {});
  const child = spawnNode('portkey', PROXY_CORE, [...memProbeArgs(probeFile), portkeyInstall.script, `--port=${port}`, '--headless'], { env, cwd: portkeyInstall.dir, logFile });
  child.logFile = logFile;
  child.probeFile = probeFile;
  child.origin = `http://127.0.0.1:${port}`;
  await waitReady(`${child.origin}/`, child);
  child.readyAt = Date.now();
  child.target = { name: 'portkey', wire: 'chat', origin: child.origin, path: '/v1/chat/completions', headers: portkeyHeaders(`${mock.origin}/v1`), pid: child.pid };
  return child;
}

const directTarget = () => ({
  name: 'direct',
  wire: 'chat',
  origin: mock.origin,
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
  pid: null,
});

/**
 * One real request per mode; checks the shape so that a broken router is not "fast": a complete
 * answer in the target's wire (lib/wires.mjs; the same check the driver applies to every response).
 */
async function sanity(target) {
  const out = {};
  for (const mode of ['nonstream', 'stream']) {
    const res = await request(`${target.origin}${target.path}`, { method: 'POST', headers: target.headers, body: bodyOf(target, mode) });
    const text = await res.body.text();
    const ok = res.statusCode === 200 && answerOk(target.wire ?? 'chat', mode === 'stream', text, true);
    out[mode] = { ok, status: res.statusCode, bytes: text.length, sample: text.slice(0, 300) };
    if (!ok) log(`${target.name} ${mode} sanity check FAILED: ${res.statusCode} ${text.slice(0, 500)}`);
  }
  return out;
}

/**
 * Which of the other front doors a build serves (`root`: the current tree's copy, or the
 * baseline's): one request each to a fresh Switchyard (then stopped). A door whose route answers
 * "Not found" is left out of the run for that build, with the reason; any other answer keeps it in
 * (a broken door shows as failed requests, not as a missing one).
 */
async function probeDoors(root = CURRENT, available = doorAvailable) {
  const out = {};
  const which = root === CURRENT ? 'switchyard' : 'baseline';
  const child = await startSwitchyard({ root, name: `${which} (front-door probe)` });
  try {
    for (const w of ingress) {
      if (w === 'chat') continue;
      const res = await request(`${child.origin}${WIRES[w].path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODIES[w].nonstream });
      const text = await res.body.text();
      const missing = res.statusCode === 405 || (res.statusCode === 404 && text.includes('Not found: POST'));
      available[w] = !missing;
      out[w] = { path: WIRES[w].path, available: !missing, probeStatus: res.statusCode, ...(missing ? { reason: `POST ${WIRES[w].path} answered ${res.statusCode} (${text.slice(0, 120)}): this build has no such front door; left out` } : {}) };
      log(missing ? `${which} front door ${w}: ${out[w].reason}` : `${which} front door ${w}: POST ${WIRES[w].path} answers (${res.statusCode})`);
    }
  } finally {
    await stopChild(child, 10_000);
  }
  return out;
}
/** The baseline's answers to the same probe. */
const baselineDoorAvailable = {};

// ---------------------------------------------------------------- matrix
function latencyArgs(target, mode, conc, durationMs, record = true) {
  return { origin: target.origin, path: target.path, headers: target.headers, body: bodyOf(target, mode), conc, durationMs, stream: mode === 'stream', wire: target.wire ?? 'chat', record };
}

/** autocannon's arguments: the target's body, and its wire and mode for the per-response check. */
function acArgs(target, mode, conc, durationSec) {
  return { url: `${target.origin}${target.path}`, headers: target.headers, body: bodyOf(target, mode), conc, durationSec, stream: mode === 'stream', wire: target.wire ?? 'chat' };
}

async function measureCell(mode, conc, targets) {
  const background = backgroundProbe();
  const acc = Object.fromEntries(
    targets.map((t) => [
      t.name,
      { total: [], head: [], ttfb: [], ttft: [], lat: { count: 0, errors: 0, non2xx: 0, bad: 0, badSample: null, elapsedMs: 0, cpu: 0, errorKinds: {} }, ac: { total: 0, duration: 0, non2xx: 0, badBody: 0, errors: 0, timeouts: 0, cpu: 0 }, rounds: [] },
    ]),
  );
  // Warm-up: connections at this concurrency, JIT, the router's upstream pool.
  for (const t of targets) await driver.call('latency', latencyArgs(t, mode, conc, quick ? 150 : 300, false));
  for (const t of targets) if (t.pid) resetPeak(t.pid);
  for (let r = 0; r < rounds; r++) {
    const order = targets.map((_, i) => targets[(i + r) % targets.length]);
    for (const t of order) {
      const a = acc[t.name];
      const c0 = t.pid ? cpuSeconds(t.pid) : 0;
      const lat = await driver.call('latency', latencyArgs(t, mode, conc, latencyMs), latencyMs + 120_000);
      const c1 = t.pid ? cpuSeconds(t.pid) : 0;
      const ac = await driver.call('autocannon', acArgs(t, mode, conc, throughputS), throughputS * 1000 + 180_000);
      const c2 = t.pid ? cpuSeconds(t.pid) : 0;
      for (const k of ['total', 'head', 'ttfb', 'ttft']) for (const v of lat[k]) a[k].push(v);
      a.lat.count += lat.count;
      a.lat.errors += lat.errors;
      a.lat.non2xx += lat.non2xx;
      a.lat.bad += lat.bad;
      a.lat.badSample ??= lat.badSample;
      a.lat.elapsedMs += lat.elapsedMs;
      a.lat.cpu += c1 - c0;
      for (const [k, v] of Object.entries(lat.errorKinds)) a.lat.errorKinds[k] = (a.lat.errorKinds[k] ?? 0) + v;
      a.ac.total += ac.total;
      a.ac.duration += ac.duration;
      a.ac.non2xx += ac.non2xx;
      a.ac.badBody += ac.badBody;
      a.ac.errors += ac.errors;
      a.ac.timeouts += ac.timeouts;
      a.ac.cpu += c2 - c1;
      const served = lat.count + lat.bad + lat.non2xx + ac.total + ac.badBody + ac.non2xx;
      a.rounds.push({ p50: summarise(lat.total)?.p50 ?? null, rps: ac.total / ac.duration, cpuUs: t.pid ? ((c2 - c0) * 1e6) / Math.max(1, served) : null });
    }
  }
  const backgroundShare = background();
  await driver.call('reset-pools', {});
  const out = { backgroundCpuPct: round(backgroundShare * 100, 1) };
  for (const t of targets) {
    const a = acc[t.name];
    const lat = summarise(a.total);
    const requests = a.lat.count + a.lat.bad + a.lat.non2xx + a.ac.total + a.ac.badBody + a.ac.non2xx;
    const res = {
      latencyMs: lat && pick(lat),
      headersMs: a.head.length ? pick(summarise(a.head)) : null,
      ttfbMs: a.ttfb.length ? pick(summarise(a.ttfb)) : null,
      ttftMs: a.ttft.length ? pick(summarise(a.ttft)) : null,
      closedLoopRps: round(a.lat.count / (a.lat.elapsedMs / 1000), 0),
      rps: round(a.ac.total / a.ac.duration, 0),
      failures: { latencyErrors: a.lat.errors, latencyNon2xx: a.lat.non2xx, latencyBadBody: a.lat.bad, latencyErrorKinds: a.lat.errorKinds, autocannonNon2xx: a.ac.non2xx, autocannonBadBody: a.ac.badBody, autocannonErrors: a.ac.errors, autocannonTimeouts: a.ac.timeouts },
      ...(a.lat.badSample ? { badBodySample: a.lat.badSample } : {}),
      perRound: a.rounds.map((x) => ({ p50: round(x.p50), rps: round(x.rps, 0), ...(x.cpuUs !== null ? { cpuUsPerRequest: round(x.cpuUs, 1) } : {}) })),
    };
    if (t.pid) {
      res.cpuUsPerRequest = round(((a.lat.cpu + a.ac.cpu) * 1e6) / Math.max(1, requests), 1);
      res.cpuUsPerRequestSaturated = round((a.ac.cpu * 1e6) / Math.max(1, a.ac.total), 1);
      res.coreUtilisation = round(a.ac.cpu / Math.max(0.001, a.ac.duration), 2);
      res.peakRssMiB = round(memory(t.pid).hwmKiB / 1024, 1);
    }
    out[t.name] = res;
  }
  const d = out.direct;
  if (backgroundShare > 0.1) log(`  warning: other processes used ${Math.round(backgroundShare * 100)}% of the machine's CPU during this cell; its figures are disturbed`);
  const diff = (x, y) => (x && y ? round(x - y) : null);
  // One target's figures minus a baseline's, from the same rounds.
  const minus = (o, base) => ({
    p50Ms: diff(o.latencyMs?.p50, base.latencyMs?.p50),
    p99Ms: diff(o.latencyMs?.p99, base.latencyMs?.p99),
    meanMs: diff(o.latencyMs?.mean, base.latencyMs?.mean),
    ttfbP50Ms: diff(o.ttfbMs?.p50, base.ttfbMs?.p50),
    ttfbP99Ms: diff(o.ttfbMs?.p99, base.ttfbMs?.p99),
    ttftP50Ms: diff(o.ttftMs?.p50, base.ttftMs?.p50),
    ttftP99Ms: diff(o.ttftMs?.p99, base.ttftMs?.p99),
    // Spread of the per-round p50 differences: how much of the figure is noise.
    p50PerRoundMs: o.perRound.map((r, i) => diff(r.p50, base.perRound[i]?.p50)),
  });
  // What a router adds over the upstream called directly, and beyond the Node floor (floor-proxy.mjs).
  const f = out.floor;
  const chat = out.switchyard;
  for (const t of targets) {
    if (t.name === 'direct') continue;
    const o = out[t.name];
    o.added = minus(o, d);
    if (f && t.name !== 'floor') o.addedOverFloor = minus(o, f);
    // Another front door of the same build: what it costs beyond chat completions (its translation).
    if (chat && t.wire !== 'chat' && t.name.startsWith('switchyard-')) {
      o.overChat = { ...minus(o, chat), rpsRatio: chat.rps ? round(o.rps / chat.rps, 3) : null, cpuUsPerRequest: diff(o.cpuUsPerRequest, chat.cpuUsPerRequest) };
    }
  }
  // Before vs after: each front door of the current tree against the baseline build's same door
  // ("switchyard" / "baseline", "switchyard-<door>" / "baseline-<door>"), same rounds.
  // A share of a negative or zero "before" (added p99 can be below direct's) means nothing: null.
  const pct = (now, before) => (now !== null && now !== undefined && before > 0 ? round(((now - before) / before) * 100, 1) : null);
  for (const t of targets) {
    const now = out[t.name];
    const base = t.name === 'switchyard' ? out.baseline : t.name.startsWith('switchyard-') ? out[`baseline-${t.name.slice('switchyard-'.length)}`] : undefined;
    if (!base) continue;
    now.vsBaseline = {
      addedP50Pct: pct(now.added.p50Ms, base.added.p50Ms),
      addedP99Pct: pct(now.added.p99Ms, base.added.p99Ms),
      p50Pct: pct(now.latencyMs?.p50, base.latencyMs?.p50),
      p99Pct: pct(now.latencyMs?.p99, base.latencyMs?.p99),
      rpsPct: pct(now.rps, base.rps),
      cpuUsPerRequestPct: pct(now.cpuUsPerRequest, base.cpuUsPerRequest),
      // The same per round (both measured within seconds of each other): the spread is the noise.
      cpuUsPerRequestPctPerRound: now.perRound.map((x, i) => pct(x.cpuUsPerRequest, base.perRound[i]?.cpuUsPerRequest)),
      addedTtftP50Pct: pct(now.added.ttftP50Ms, base.added.ttftP50Ms),
      // The current build minus the baseline, from the same rounds (ms).
      minus: minus(now, base),
    };
  }
  return out;
}

function pick(s) {
  return { n: s.n, mean: round(s.mean), p50: round(s.p50), p90: round(s.p90), p99: round(s.p99), max: round(s.max) };
}

// ---------------------------------------------------------------- memory per open stream
/** Full GC in the child (mem-probe preload), then its memoryUsage() and /proc VmRSS, in KiB. */
async function probeMemory(child) {
  if (!child.probeFile) return { rssKiB: memory(child.pid).rssKiB };
  rmSync(child.probeFile, { force: true });
  process.kill(child.pid, 'SIGUSR2');
  const until = Date.now() + 15_000;
  while (!existsSync(child.probeFile)) {
    if (Date.now() > until) throw new Error(`${child.name}: memory probe did not answer`);
    await sleep(20);
  }
  const m = JSON.parse(readFileSync(child.probeFile, 'utf8'));
  await sleep(100);
  const kib = (b) => b / 1024;
  return { snapshot: m.snapshot, rssKiB: memory(child.pid).rssKiB, heapUsedKiB: kib(m.heapUsed), heapTotalKiB: kib(m.heapTotal), externalKiB: kib(m.external), arrayBuffersKiB: kib(m.arrayBuffers), gcMs: m.gcMs };
}

/** A streaming request whose user message is about `kib` KiB: what an open stream holds of its prompt. */
function longPromptBody(kib) {
  const filler = 'The quick brown fox jumps over the lazy dog. '.repeat(Math.ceil((kib * 1024) / 45));
  return JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `Say hi in Portuguese. ${filler.slice(0, kib * 1024)}` }], stream: true, provider: { only: ['groq'] } });
}

async function memoryTest(kind, requestedN, promptKiB = 0) {
  const needFds = 2 * requestedN + 200;
  let n = requestedN;
  let note = null;
  if (needFds > nofile.effective) {
    n = Math.floor((nofile.effective - 200) / 2 / 100) * 100;
    note = `${requestedN.toLocaleString('en-US')} streams requested; ran ${n.toLocaleString('en-US')}: the open-file limit is ${nofile.effective} (hard limit ${nofile.hard}; raising it needs CAP_SYS_RESOURCE) and a router holds 2 sockets per stream (client + upstream), so ${needFds} would be needed`;
    log(note);
  }
  // kind: 'switchyard' (chat completions), 'switchyard-messages', 'switchyard-responses', 'floor', 'portkey'
  const door = kind.startsWith('switchyard-') ? kind.slice('switchyard-'.length) : null;
  const child =
    kind === 'switchyard' || door ? await startSwitchyard({ memProbe: true, wire: door ?? 'chat' }) : kind === 'floor' ? await startFloor({ memProbe: true }) : await startPortkey({ memProbe: true });
  const t = child.target;
  try {
    const startRss = memory(t.pid).rssKiB;
    // A light warm-up (one client): code paths compiled, the heap not inflated by load.
    for (const mode of ['nonstream', 'stream']) await driver.call('latency', latencyArgs(t, mode, 1, 300, false));
    await mockControl('/__bench/config', { ...mockShape, slowIntervalMs });
    await sleep(1000);
    const before = await probeMemory(child);
    resetPeak(t.pid);
    const cpu0 = cpuSeconds(t.pid);
    const streamArgs = { ...latencyArgs(t, 'stream', n, 0), firstContent: WIRES[t.wire].firstContent, ...(promptKiB > 0 ? { body: longPromptBody(promptKiB) } : {}) };
    // In two halves, measured after each: (open - before) / n includes whatever the first streams
    // make V8 and the allocator grow once (the young generation sized for the load, allocator
    // arenas); the second half's growth is what one more open stream costs (the marginal figure).
    const halves = [Math.floor(n / 2), n - Math.floor(n / 2)];
    const openHalf = (k, add) => driver.call('open-streams', { ...streamArgs, n: k, add, timeoutMs: 20_000 + k * 4, stallMs: 5000 }, 60_000 + k * 10);
    const first = await openHalf(halves[0], false);
    await sleep(3000);
    const mid = await probeMemory(child);
    const second = await openHalf(halves[1], true);
    const opened = {
      opened: first.opened + second.opened,
      headers: first.headers + second.headers,
      failed: first.failed + second.failed,
      errorKinds: Object.fromEntries(
        [...new Set([...Object.keys(first.errorKinds), ...Object.keys(second.errorKinds)])].map((k) => [k, (first.errorKinds[k] ?? 0) + (second.errorKinds[k] ?? 0)]),
      ),
    };
    const openMs = first.elapsedMs + second.elapsedMs;
    // An error status counts as headers received and as failed: not "without a response".
    const httpFailed = Object.entries(opened.errorKinds).reduce((sum, [k, v]) => sum + (k.startsWith('http ') ? v : 0), 0);
    await sleep(3000);
    const cpu1 = cpuSeconds(t.pid);
    const sampleSecs = 6 + openMs / 1000;
    const open = await probeMemory(child);
    const upstream = await mockControl('/__bench/stats');
    const fds = openFds(t.pid);
    const hwm = memory(t.pid).hwmKiB;
    await driver.call('close-streams', {}, 60_000);
    await mockControl('/__bench/close-slow', {});
    await sleep(2500);
    const after = await probeMemory(child);
    const held = opened.opened;
    const per = (k) => (open[k] !== undefined && before[k] !== undefined ? round((open[k] - before[k]) / n, 2) : null);
    const result = {
      target: kind,
      ...(door ? { ingress: door } : {}),
      requested: requestedN,
      n,
      promptKiB,
      note,
      streamsWithContent: held,
      streamsWithHeadersOnly: opened.headers - held - httpFailed,
      clientConnectionsWithoutResponse: n - opened.headers - (opened.failed - httpFailed),
      failed: opened.failed,
      failureKinds: opened.errorKinds,
      upstreamStreamsOpen: upstream.openSlowStreams,
      openFds: fds,
      secondsToOpen: round(openMs / 1000, 2),
      rssAtStartMiB: round(startRss / 1024, 1),
      rssBeforeMiB: round(before.rssKiB / 1024, 1),
      rssOpenMiB: round(open.rssKiB / 1024, 1),
      peakRssMiB: round(hwm / 1024, 1),
      rssAfterCloseMiB: round(after.rssKiB / 1024, 1),
      heapUsedBeforeMiB: before.heapUsedKiB !== undefined ? round(before.heapUsedKiB / 1024, 1) : null,
      heapUsedOpenMiB: open.heapUsedKiB !== undefined ? round(open.heapUsedKiB / 1024, 1) : null,
      heapUsedAfterCloseMiB: after.heapUsedKiB !== undefined ? round(after.heapUsedKiB / 1024, 1) : null,
      // RSS after a full GC, before and with the streams open, divided by the client connections.
      kibPerOpenConnection: round((open.rssKiB - before.rssKiB) / n, 1),
      kibPerStreamingStream: held > 0 ? round((open.rssKiB - before.rssKiB) / held, 1) : null,
      // One more open stream: the growth from the first half open to all open, per stream added.
      marginalKibPerStream: second.opened === halves[1] && first.opened === halves[0] ? round((open.rssKiB - mid.rssKiB) / halves[1], 1) : null,
      marginalLiveHeapKibPerStream: open.heapUsedKiB !== undefined && mid.heapUsedKiB !== undefined ? round((open.heapUsedKiB - mid.heapUsedKiB) / halves[1], 2) : null,
      rssHalfOpenMiB: round(mid.rssKiB / 1024, 1),
      liveHeapKibPerConnection: per('heapUsedKiB'),
      externalKibPerConnection: per('externalKiB'),
      gcMsWithStreamsOpen: open.gcMs !== undefined ? round(open.gcMs, 1) : null,
      cpuPercentWhileOpen: round(((cpu1 - cpu0) / sampleSecs) * 100, 1),
    };
    if (before.snapshot && open.snapshot) {
      result.heapPerStream = heapDiff(before.snapshot, open.snapshot, n, 20);
      // Who holds it: each new object attributed to its nearest named owner on the dominator chain.
      result.heapOwnersPerStream = heapOwners(before.snapshot, open.snapshot, n, { top: 25 });
      result.note = [result.note, 'heap snapshots were taken: the RSS figures include the snapshotter\'s own memory; use the live-heap figure'].filter(Boolean).join('; ');
      if (after.snapshot) result.heapRetainedAfterClose = heapDiff(before.snapshot, after.snapshot, n, 20);
      rmSync(before.snapshot, { force: true });
      rmSync(open.snapshot, { force: true });
    }
    if (after.snapshot) rmSync(after.snapshot, { force: true });
    if (mid.snapshot) rmSync(mid.snapshot, { force: true });
    log(
      `${kind} ${n} streams${promptKiB ? ` with a ${promptKiB} KiB prompt` : ''}: ${held} streaming, ${result.clientConnectionsWithoutResponse} waiting for headers, ${opened.failed} failed; upstream open ${upstream.openSlowStreams}; RSS after GC ${result.rssBeforeMiB} → ${result.rssHalfOpenMiB} (half open) → ${result.rssOpenMiB} MiB = ${result.kibPerOpenConnection} KiB per connection, ${result.marginalKibPerStream} KiB per stream added to the open half (live heap ${result.liveHeapKibPerConnection} / ${result.marginalLiveHeapKibPerStream} KiB)`,
    );
    return result;
  } finally {
    await mockControl('/__bench/config', mockShape).catch(() => {});
    await stopChild(child, 10_000);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---------------------------------------------------------------- CPU profile
async function profileRun() {
  const out = {};
  for (const mode of ['nonstream', 'stream']) {
    const dir = join(work, `prof-${mode}`);
    mkdirSync(dir, { recursive: true });
    const child = await startSwitchyard({ cpuProfDir: dir, wire: profileWire });
    const t = child.target;
    await driver.call('latency', latencyArgs(t, mode, Math.min(16, profileConc), 1000, false));
    const c0 = cpuSeconds(t.pid);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const ac = await driver.call('autocannon', acArgs(t, mode, profileConc, profileSeconds), profileSeconds * 1000 + 120_000);
    const toUs = Number(process.hrtime.bigint() / 1000n);
    const c1 = cpuSeconds(t.pid);
    await stopChild(child, 20_000);
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) {
      log(`profile ${mode}: no .cpuprofile written (exit ${child.exitCode})`);
      continue;
    }
    // Only the samples of the load window (start-up and warm-up excluded).
    const summary = summariseProfile(join(dir, file), { root: CURRENT, top: 30, window: { fromUs, toUs } });
    summary.file = undefined;
    summary.load = { ingress: profileWire, concurrency: profileConc, seconds: profileSeconds, requests: ac.total, rps: round(ac.total / ac.duration, 0), cpuUsPerRequest: round(((c1 - c0) * 1e6) / Math.max(1, ac.total), 1) };
    if (process.env.BENCH_KEEP_PROFILES) {
      const dest = join(process.env.BENCH_KEEP_PROFILES, `switchyard-${mode}.cpuprofile`);
      mkdirSync(process.env.BENCH_KEEP_PROFILES, { recursive: true });
      copyFileSync(join(dir, file), dest);
      summary.savedTo = dest;
    }
    out[mode] = summary;
    log(`profile ${mode}: ${ac.total} requests, top self: ${summary.topSelf.slice(0, 5).map((f) => `${f.function} ${f.selfPct}%`).join(', ')}`);
  }
  return out;
}

// ---------------------------------------------------------------- soak
async function soak(minutes) {
  const child = await startSwitchyard({ memProbe: true });
  const t = child.target;
  const samples = [];
  const started = Date.now();
  const sample = async (withGc) => {
    const m = withGc ? await probeMemory(child) : { rssKiB: memory(t.pid).rssKiB };
    samples.push({ s: Math.round((Date.now() - started) / 1000), rssMiB: round(m.rssKiB / 1024, 1), heapUsedAfterGcMiB: m.heapUsedKiB !== undefined ? round(m.heapUsedKiB / 1024, 1) : undefined });
  };
  let requests = 0;
  try {
    await sample(true);
    let i = 0;
    let lastGc = Date.now();
    while (Date.now() - started < minutes * 60_000) {
      const mode = i++ % 2 === 0 ? 'nonstream' : 'stream';
      const ac = await driver.call('autocannon', acArgs(t, mode, 16, 10), 200_000);
      requests += ac.total;
      const gcNow = Date.now() - lastGc >= 60_000;
      if (gcNow) lastGc = Date.now();
      await sample(gcNow);
      if (gcNow) log(`soak ${samples.at(-1).s} s: ${fmtInt(requests)} requests, RSS ${samples.at(-1).rssMiB} MiB, live heap after GC ${samples.at(-1).heapUsedAfterGcMiB} MiB`);
    }
    await sample(true);
  } finally {
    await stopChild(child, 10_000);
  }
  return summariseSoak(minutes, 16, requests, samples);
}

// ---------------------------------------------------------------- multi-core scaling
function lastLogLines(file, n = 3) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-n).join(' | ').slice(0, 600);
  } catch {
    return '(no log)';
  }
}

/** Stops a (cluster) Switchyard and any of its worker processes still alive afterwards. */
async function stopTree(child, pids) {
  await stopChild(child, 10_000);
  for (const pid of pids ?? []) {
    if (pid === child.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('switchyard')) continue; // pid reused
      process.kill(pid, 'SIGKILL');
      log(`workers scaling: killed worker ${pid}, still alive after its primary exited`);
    } catch {
      /* gone */
    }
  }
}

/**
 * `switchyard serve --workers 1` against `--workers 2`, both allowed on every core (taskset -c
 * 0,1): peak req/s with autocannon at c=64 after a warm-up, alternating the two instances over
 * two rounds per mode, and CPU per request summed over the primary and its workers.
 */
async function workersScaling() {
  const conc = 64;
  const scalingRounds = 2;
  const counts = [1, 2];
  const out = {
    available: false,
    reason: null,
    cores: ALL_CORES,
    concurrency: conc,
    secondsPerSlice: workersSeconds,
    rounds: scalingRounds,
    note: `Switchyard may use cores ${ALL_CORES}; the load driver and the mock upstream run on core ${LOAD_CORE}, so with ${cpus().length} cores they compete with the workers for CPU and the ratio understates how Switchyard scales on a machine with cores to spare`,
    instances: {},
    modes: {},
  };
  if (cpus().length < 2) {
    out.reason = 'the machine has one core';
    return out;
  }
  const inst = {};
  try {
    for (const n of counts) {
      try {
        inst[n] = await startSwitchyard({ workers: n, cores: ALL_CORES });
      } catch (err) {
        if (err.child) await stopChild(err.child, 5000);
        const why = err.child ? `exit code ${err.child.exitCode ?? 'none (did not answer)'}; log: ${lastLogLines(err.child.logFile)}` : String(err?.message ?? err);
        out.reason = `\`switchyard serve --workers ${n}\` did not start (${why})`;
        log(`workers scaling: not available: ${out.reason}`);
        return out;
      }
      const tree = processTree(inst[n].pid);
      inst[n].tree = tree;
      out.instances[`workers${n}`] = { processes: tree.length, workerPids: tree.slice(1) };
      if (n > 1 && tree.length < n + 1) {
        out.reason = `\`serve --workers ${n}\` started, but ${tree.length - 1} worker processes were found (the CLI may not implement --workers yet)`;
        log(`workers scaling: not available: ${out.reason}`);
        return out;
      }
      const check = await sanity({ ...inst[n].target, name: `switchyard --workers ${n}` });
      if (!check.nonstream.ok || !check.stream.ok) {
        out.reason = `\`serve --workers ${n}\` failed the sanity check (non-streaming ${check.nonstream.status}, streaming ${check.stream.status})`;
        out.instances[`workers${n}`].sanity = check;
        log(`workers scaling: not available: ${out.reason}`);
        return out;
      }
    }
    log(`workers scaling: --workers 1 (pid ${inst[1].pid}) and --workers 2 (pid ${inst[2].pid}, workers ${inst[2].tree.slice(1).join(', ')}) on cores ${ALL_CORES}`);
    for (const mode of ['nonstream', 'stream']) {
      const acOf = (t, durationSec) => driver.call('autocannon', acArgs(t, mode, conc, durationSec), durationSec * 1000 + 180_000);
      for (const n of counts) await acOf(inst[n].target, quick ? 1 : 2); // warm-up: JIT, pools, both workers
      const acc = Object.fromEntries(counts.map((n) => [n, { total: 0, duration: 0, cpu: 0, non2xx: 0, badBody: 0, errors: 0, timeouts: 0, perRoundRps: [] }]));
      const background = backgroundProbe();
      for (let r = 0; r < scalingRounds; r++) {
        for (const n of r % 2 === 0 ? counts : [...counts].reverse()) {
          const t = inst[n].target;
          const c0 = treeCpuSeconds(t.pid);
          const ac = await acOf(t, workersSeconds);
          const c1 = treeCpuSeconds(t.pid);
          const a = acc[n];
          a.total += ac.total;
          a.duration += ac.duration;
          a.cpu += c1 - c0;
          a.non2xx += ac.non2xx;
          a.badBody += ac.badBody;
          a.errors += ac.errors;
          a.timeouts += ac.timeouts;
          a.perRoundRps.push(round(ac.total / ac.duration, 0));
        }
      }
      const res = {};
      for (const n of counts) {
        const a = acc[n];
        res[`workers${n}`] = {
          rps: round(a.total / a.duration, 0),
          requests: a.total,
          cpuUsPerRequest: round((a.cpu * 1e6) / Math.max(1, a.total), 1),
          coresBusy: round(a.cpu / Math.max(0.001, a.duration), 2),
          perRoundRps: a.perRoundRps,
          failures: { non2xx: a.non2xx, badBody: a.badBody, errors: a.errors, timeouts: a.timeouts },
        };
      }
      res.ratio = round(res.workers2.rps / Math.max(1, res.workers1.rps), 2);
      res.backgroundCpuPct = round(background() * 100, 1);
      if (res.backgroundCpuPct > 10) log(`  warning: other processes used ${Math.round(res.backgroundCpuPct)}% of the machine's CPU during the ${mode} scaling test; its figures are disturbed`);
      out.modes[mode] = res;
      log(`workers scaling ${mode}: --workers 1 ${fmtInt(res.workers1.rps)} req/s (${fmt(res.workers1.cpuUsPerRequest, 0)} µs CPU/req), --workers 2 ${fmtInt(res.workers2.rps)} req/s (${fmt(res.workers2.cpuUsPerRequest, 0)} µs CPU/req): ${fmt(res.ratio, 2)}×`);
    }
    out.available = true;
    return out;
  } finally {
    for (const n of counts) if (inst[n]) await stopTree(inst[n], inst[n].tree);
  }
}

// ---------------------------------------------------------------- checks against the targets
function checks(results) {
  const out = [];
  const cell = (mode, c) => results.matrix.find((m) => m.mode === mode && m.concurrency === c);
  const add = (goal, value, pass, note) => out.push({ goal, value, pass, note });
  for (const mode of ['nonstream', 'stream']) {
    for (const c of [1, 16]) {
      const sy = cell(mode, c)?.results.switchyard;
      if (!sy) continue;
      // Context only: what the Node floor (floor-proxy.mjs) adds over direct in the same cell, and
      // Switchyard over the floor. The targets themselves stay "through Switchyard minus direct".
      const fl = cell(mode, c)?.results.floor;
      const floorNote = (key, overKey) => (fl ? `the Node floor itself adds ${fmt(fl.added[key])} ms; Switchyard is ${fmt(sy.addedOverFloor?.[overKey])} ms over the floor` : null);
      const note = (...parts) => parts.filter(Boolean).join('; ') || null;
      add(`${mode} c=${c}: added p50 ≤ 0.15 ms`, sy.added.p50Ms, sy.added.p50Ms !== null && sy.added.p50Ms <= 0.15, note(over(sy.added.p50Ms, 0.15), floorNote('p50Ms', 'p50Ms')));
      add(`${mode} c=${c}: added p99 ≤ 1 ms`, sy.added.p99Ms, sy.added.p99Ms !== null && sy.added.p99Ms <= 1, note(over(sy.added.p99Ms, 1), floorNote('p99Ms', 'p99Ms')));
      if (mode === 'stream') {
        add(`stream c=${c}: added time to first byte ≤ 0.3 ms`, sy.added.ttfbP50Ms, sy.added.ttfbP50Ms !== null && sy.added.ttfbP50Ms <= 0.3, note(over(sy.added.ttfbP50Ms, 0.3), floorNote('ttfbP50Ms', 'ttfbP50Ms')));
        add(`stream c=${c}: added time to first data event ≤ 0.3 ms`, sy.added.ttftP50Ms, sy.added.ttftP50Ms !== null && sy.added.ttftP50Ms <= 0.3, note(over(sy.added.ttftP50Ms, 0.3), floorNote('ttftP50Ms', 'ttftP50Ms')));
      }
    }
  }
  if (results.peers.includes('portkey') && results.matrix.length > 0) {
    for (const mode of ['nonstream', 'stream']) {
      const rows = results.matrix.filter((m) => m.mode === mode);
      const best = (name) => Math.max(...rows.map((m) => m.results[name]?.rps ?? 0));
      const ratio = best('switchyard') / Math.max(1, best('portkey'));
      add(`${mode}: peak req/s ≥ 10× Portkey's`, round(ratio, 2), ratio >= 10, `Switchyard ${fmtInt(best('switchyard'))} req/s vs Portkey ${fmtInt(best('portkey'))} req/s`);
    }
  }
  const idle = results.idle?.switchyard;
  if (idle?.settledMiB !== null && idle?.settledMiB !== undefined) {
    const v = idle.settledMiB;
    const bare = results.idle.bareNode;
    add(
      'idle RSS ≤ 60 MB (settled)',
      v,
      v * 1.048576 <= 60,
      [
        over(v * 1.048576, 60, 'MB'),
        `${idle.settled ? `settled after ${idle.settledAfterS} s` : `did not settle: reading at ${idle.readingAtS} s (${idle.reason})`}; at start ${idle.atStartMiB} MiB`,
        `RssAnon ${fmt(idle.anonMiB, 1)} + RssFile ${fmt(idle.fileMiB, 1)} MiB (file-backed: mostly the node binary, shared with every Node process)`,
        bare?.settledMiB != null ? `a bare Node HTTP server: ${fmt(bare.settledMiB, 1)} MiB (RssAnon ${fmt(bare.anonMiB, 1)})` : null,
        results.idle.dependencyFloor?.settledMiB != null
          ? `Node with only the libraries of the request path (HTTP server, undici agent, SQLite, crypto), idle: ${fmt(results.idle.dependencyFloor.settledMiB, 1)} MiB`
          : null,
      ]
        .filter(Boolean)
        .join('; '),
    );
  } else if (results.switchyardIdleRssMiB != null) {
    add('idle RSS ≤ 60 MB (at start; settled not measured)', results.switchyardIdleRssMiB, results.switchyardIdleRssMiB * 1.048576 <= 60, over(results.switchyardIdleRssMiB * 1.048576, 60, 'MB'));
  }
  for (const m of results.memory.filter((x) => x.target === 'switchyard' && !x.promptKiB)) {
    // Judged on what one more open stream costs (the second half's growth); the average over all
    // n, which also holds the heap's one-time growth for the load, is in the note.
    const v = m.marginalKibPerStream ?? m.kibPerOpenConnection;
    const streaming = m.streamsWithContent === m.n;
    const how = m.marginalKibPerStream != null ? `per stream added to ${fmtInt(m.n - Math.ceil(m.n / 2))} open; (open − before) / n: ${fmt(m.kibPerOpenConnection, 1)} KiB` : null;
    const floor = results.memory.find((x) => x.target === 'floor' && x.n === m.n && !x.promptKiB);
    const floorNote = floor ? `the Node floor at the same count: ${fmt(floor.marginalKibPerStream ?? floor.kibPerOpenConnection, 1)} KiB per stream added, live heap ${fmt(floor.liveHeapKibPerConnection, 1)} KiB (Switchyard ${fmt(m.liveHeapKibPerConnection, 1)})` : null;
    add(`${m.requested.toLocaleString('en-US')} open streams: ≤ 20 KiB each`, v, v !== null && v <= 20 && streaming, [over(v, 20, 'KiB'), how, floorNote, streaming ? null : `only ${m.streamsWithContent} of ${m.n} streams received content`].filter(Boolean).join('; ') || null);
  }
  if (results.soak) {
    const k = results.soak;
    add(
      `no RSS growth over a ${k.minutes}-minute soak`,
      k.rssGrowthMiB,
      k.rssGrowthMiB !== null && k.rssGrowthMiB <= 2,
      `RSS after GC ${k.rssAfterGcFirstMinuteMiB} → ${k.rssAfterGcEndMiB} MiB from minute 1 to the end (${k.rssSlopeMiBPerMinute} MiB/min)${k.rssGrowthSecondHalfMiB != null ? `, ${k.rssGrowthSecondHalfMiB >= 0 ? '+' : ''}${k.rssGrowthSecondHalfMiB} MiB in the second half (${k.rssSlopeSecondHalfMiBPerMinute} MiB/min)` : ''}; live heap after GC ${k.liveHeapFirstMinuteMiB} → ${k.liveHeapEndMiB} MiB over ${fmtInt(k.requests)} requests`,
    );
  }
  else add('no RSS growth over a 10-minute soak', null, null, 'not run (use --soak 10)');
  return out;
}

function over(value, limit, unit = 'ms') {
  if (value === null || value === undefined) return 'not measured';
  return value <= limit ? null : `misses by ${fmt(value - limit, unit === 'ms' ? 3 : 1)} ${unit} (${fmt(value / limit, 1)}× the target)`;
}

// ---------------------------------------------------------------- console report
function printReport(results) {
  const lines = [];
  const targets = ['floor', 'switchyard', ...results.peers];
  const hasFloor = results.matrix.some((m) => m.results.floor);
  for (const mode of ['nonstream', 'stream']) {
    const rows = [];
    if (!results.matrix.some((x) => x.mode === mode)) continue;
    for (const m of results.matrix.filter((x) => x.mode === mode)) {
      for (const name of ['direct', ...targets]) {
        const r = m.results[name];
        if (!r) continue;
        rows.push([
          `c=${m.concurrency} ${name}`,
          fmt(r.latencyMs?.p50),
          fmt(r.latencyMs?.p99),
          r.added ? fmt(r.added.p50Ms) : '',
          r.added ? fmt(r.added.p99Ms) : '',
          ...(hasFloor ? [r.addedOverFloor ? fmt(r.addedOverFloor.p50Ms) : '', r.addedOverFloor ? fmt(r.addedOverFloor.p99Ms) : ''] : []),
          fmtInt(r.rps),
          ...(mode === 'stream' ? [fmt(r.ttfbMs?.p50), r.added ? fmt(r.added.ttfbP50Ms) : '', fmt(r.ttftMs?.p50), r.added ? fmt(r.added.ttftP50Ms) : ''] : []),
          r.cpuUsPerRequest !== undefined ? fmt(r.cpuUsPerRequest, 0) : '',
          r.coreUtilisation !== undefined ? `${Math.round(r.coreUtilisation * 100)}%` : '',
          r.peakRssMiB !== undefined ? fmt(r.peakRssMiB, 1) : '',
          failuresOf(r),
          name === 'direct' ? `${fmt(m.backgroundCpuPct, 0)}%` : '',
        ]);
      }
    }
    const headers = ['', 'p50 ms', 'p99 ms', '+p50 ms', '+p99 ms', ...(hasFloor ? ['+floor p50', '+floor p99'] : []), 'req/s', ...(mode === 'stream' ? ['TTFB p50', '+TTFB', 'TTFT p50', '+TTFT'] : []), 'CPU µs/req', 'core', 'peak RSS MiB', 'failures', 'other load'];
    lines.push(`\n${mode === 'stream' ? 'Streaming' : 'Non-streaming'} (${mode === 'stream' ? `${results.config.mock.chunks} content chunks` : 'chat.completion'}; latency from the undici driver, req/s from autocannon)`);
    lines.push(table(headers, rows));
  }
  if (hasFloor) lines.push('"floor": a minimal Node reverse proxy (floor-proxy.mjs) on the routers\' core, what any Node proxy adds here; "+floor": the router minus the floor, same cell');
  const doorTables = ingressSections(results);
  for (const t of doorTables) {
    lines.push(`\n${t.title}`);
    lines.push(table(t.headers, t.rows));
  }
  if (doorTables.length) lines.push(ingressNote(results));
  const before = baselineSection(results);
  if (before) {
    lines.push(`\n${before.text}`);
    lines.push(table(before.headers, before.rows));
  }
  for (const t of sqliteDriversSections(results)) {
    lines.push(`\n${t.title}`);
    lines.push(table(t.headers, t.rows));
  }
  if (results.memory.length) {
    lines.push('\nMemory per open stream (slow streams: one chunk every ' + results.config.slowIntervalMs + ' ms; RSS and live heap after a full GC)');
    lines.push(
      table(
        ['', 'streams', 'with content', 'no headers', 'upstream open', 'RSS before MiB', 'RSS half open', 'RSS open MiB', 'KiB/stream', 'KiB/added stream', 'live heap KiB/stream', 'live heap KiB/added', 'RSS after close', 'open s'],
        results.memory.map((m) => [m.promptKiB ? `${m.target}, ${m.promptKiB} KiB prompt` : m.target, fmtInt(m.n), fmtInt(m.streamsWithContent), fmtInt(m.clientConnectionsWithoutResponse), fmtInt(m.upstreamStreamsOpen), fmt(m.rssBeforeMiB, 1), fmt(m.rssHalfOpenMiB, 1), fmt(m.rssOpenMiB, 1), fmt(m.kibPerOpenConnection, 1), fmt(m.marginalKibPerStream, 1), fmt(m.liveHeapKibPerConnection, 1), fmt(m.marginalLiveHeapKibPerStream, 1), fmt(m.rssAfterCloseMiB, 1), fmt(m.secondsToOpen, 1)]),
      ),
    );
    for (const note of new Set(results.memory.map((m) => m.note).filter(Boolean))) lines.push(`note: ${note}`);
  }
  const idle = idleSummary(results);
  if (idle) lines.push(`\n${idle}`);
  const w = workersSection(results);
  if (w) {
    lines.push(`\nMulti-core scaling: ${w.text}`);
    if (w.headers) lines.push(table(w.headers, w.rows));
  }
  if (results.checks?.length) {
    lines.push('\nTargets');
    lines.push(table(['goal', 'measured', 'result', 'note'], results.checks.map((c) => [c.goal, c.value === null ? '–' : String(c.value), c.pass === null ? 'n/a' : c.pass ? 'PASS' : 'MISS', c.note ?? ''])));
  }
  if (results.profile) {
    for (const [mode, p] of Object.entries(results.profile)) {
      lines.push(`\nCPU profile, ${mode} (c=${p.load.concurrency ?? 64}, ${p.load.requests} requests, ${p.load.cpuUsPerRequest} µs CPU/request): top self time`);
      lines.push(table(['function', 'where', 'self %'], p.topSelf.slice(0, 15).map((f) => [f.function, f.where, fmt(f.selfPct, 1)])));
      lines.push(table(['area', 'self %'], p.byArea.slice(0, 10).map((a) => [a.area, fmt(a.selfPct, 1)])));
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function failuresOf(r) {
  const f = r.failures;
  const n = f.latencyErrors + f.latencyNon2xx + f.latencyBadBody + f.autocannonNon2xx + (f.autocannonBadBody ?? 0) + f.autocannonErrors + f.autocannonTimeouts;
  return n === 0 ? '0' : `${n}`;
}

// ---------------------------------------------------------------- a quiet machine
/** Waits (bounded) until processes outside the bench use < 10 % of the CPUs for 3 s in a row. */
async function waitQuiet(seconds = waitQuietS) {
  if (seconds <= 0) return null;
  const probe = backgroundProbe();
  const until = Date.now() + seconds * 1000;
  let quietFor = 0;
  let last = 0;
  while (Date.now() < until) {
    await sleep(1000);
    last = probe();
    quietFor = last < 0.1 ? quietFor + 1 : 0;
    if (quietFor >= 3) return { waitedS: Math.round(seconds - (until - Date.now()) / 1000), backgroundCpuPct: round(last * 100, 1) };
  }
  log(`warning: the machine stayed busy (other processes at ${Math.round(last * 100)}% CPU) for ${seconds} s; measuring anyway`);
  return { waitedS: seconds, backgroundCpuPct: round(last * 100, 1), busy: true };
}

// ---------------------------------------------------------------- main
let mock = null;
async function main() {
  const results = {
    schema: 1,
    startedAt: new Date().toISOString(),
    kind: quick ? 'quick' : 'full',
    sections: { matrix: doMatrix, floor: doMatrix && doFloor, memory: doMemory, workersScaling: doWorkers, profile: doProfile, soakMinutes },
    argv: process.argv.slice(2),
    switchyardNodeArgs: opt['node-args'] ?? null,
    machine: machine(),
    config: {
      concurrency: concs,
      rounds,
      latencySliceMs: latencyMs,
      throughputSliceS: throughputS,
      mock: mockShape,
      slowIntervalMs,
      streamCounts,
      request: { nonstream: JSON.parse(BODY.nonstream), stream: JSON.parse(BODY.stream) },
      ingress,
      // The other front doors' bodies (path: lib/wires.mjs), same model, same mock upstream.
      ingressRequests: Object.fromEntries(ingress.filter((w) => w !== 'chat').map((w) => [w, { path: WIRES[w].path, nonstream: JSON.parse(BODIES[w].nonstream), stream: JSON.parse(BODIES[w].stream) }])),
      switchyard: 'node bin/switchyard.js serve — embedded defaults, records enabled (SQLite in a temp dir), GROQ_BASE_URL=<mock>/v1',
      floor: doFloor ? 'bench/floor-proxy.mjs — node:http in, undici request (keep-alive Agent) out; non-streaming: JSON.parse, model := upstream id, provider dropped, JSON.stringify; answer JSON.parse + provider "Groq" + JSON.stringify with content-length; streaming: upstream SSE bytes piped through' : null,
      idleMaxS,
      workersSeconds: doWorkers ? workersSeconds : undefined,
    },
    peers,
    matrix: [],
    memory: [],
  };
  log(`machine: ${results.machine.cpuModel}, ${results.machine.cores} cores, node ${results.machine.node}; pinning ${JSON.stringify(results.machine.pinning)}`);
  if (!opt['no-build']) {
    log('npm run build');
    try {
      execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    } catch {
      // tsc still emits on type errors; the sanity checks below catch a gateway that does not work.
      results.buildFailed = true;
      log('warning: npm run build reported errors (src/ may be mid-edit); measuring the emitted dist/ anyway');
    }
  }
  snapshotCurrent();
  if (sqliteDrivers) {
    results.sqliteDrivers = { node: process.version, sqliteVersions: checkSqliteDrivers(), measured: 'store: bench/sqlite-store.mjs per driver, interleaved rounds; matrix: "switchyard" forced to node:sqlite, "better-sqlite3" the same build forced to better-sqlite3' };
    log(`sqlite drivers: ${JSON.stringify(results.sqliteDrivers.sqliteVersions)} under Node ${process.version}`);
  }
  let baseline = null;
  if (baselineRef && !doMatrix) log(`--baseline ${baselineRef}: ignored, the matrix is not measured`);
  else if (baselineRef) {
    baseline = await prepareBaseline(baselineRef);
    results.baseline = { ref: baseline.ref, commit: baseline.commit, short: baseline.short, subject: baseline.subject, date: baseline.date, nodeModules: baseline.nodeModules, preparedS: baseline.preparedS, measured: 'chat completions and the other front doors of --ingress that it serves, every cell of the matrix, interleaved with the current tree' };
    log(`baseline ${baseline.short} built in ${baseline.preparedS} s`);
  }
  mock = await startMock();
  driver = await startDriver();
  log(`mock upstream ${mock.origin} (pid ${mock.pid}); load driver pid ${driver.pid}`);
  if ((doMatrix || doMemory) && ingress.length > 1) results.ingress = await probeDoors();
  if (baseline && ingress.length > 1) results.baseline.ingress = await probeDoors(baseline.root, baselineDoorAvailable);

  // The routers of the matrix start first and stay idle, with no traffic, until their idle RSS
  // has settled (lib/idle.mjs; up to --idle-s seconds). A bare Node HTTP server on the same core
  // settles alongside, as the baseline. Meanwhile the runner waits for a quiet machine and runs
  // the sections that use their own, fresh processes (memory test, workers scaling): load on the
  // cores does not change an idle process's RSS.
  let sy = null;
  let pk = null;
  let fl = null;
  let bl = null;
  let bs = null; // --sqlite-drivers: the current tree on better-sqlite3
  const doors = {}; // front door -> its Switchyard (started once idle RSS is measured)
  const baselineDoors = {}; // the same for the baseline build
  let idleDone = null;
  if (doMatrix) {
    let bare = null;
    let deps = null;
    [sy, pk, bare, deps, bl, bs] = await Promise.all([
      startSwitchyard(sqliteDrivers ? { sqliteDriver: 'node' } : {}),
      peers.includes('portkey') ? startPortkey() : null,
      idleMaxS > 0 ? startBareNode() : null,
      idleMaxS > 0 ? startDepsFloor() : null,
      baseline ? startSwitchyard({ root: baseline.root, name: 'baseline' }) : null,
      sqliteDrivers ? startSwitchyard({ name: 'better-sqlite3', sqliteDriver: 'better-sqlite3' }) : null,
    ]);
    const settle = (child, stop, lowest = false) => (child ? settleIdle(child.pid, { readyAt: child.readyAt, maxS: Math.max(1, idleMaxS), stop, lowest }) : null);
    // The bare server usually has nothing to release; its polling ends with the routers'.
    let routersDone = false;
    const routers = Promise.all([settle(sy), settle(pk), settle(bl), settle(bs)]).finally(() => (routersDone = true));
    const bareIdle = settle(bare, () => routersDone);
    // The dependency floor drops ~2 MiB at once and releases its young generation only ~20 s later,
    // which the settle rule would miss: it reports its lowest reading until the routers are done
    // and at least 60 s have passed (or the --idle-s limit).
    const depsIdle = settle(deps, () => routersDone && Date.now() - deps.readyAt >= 60_000, true);
    log(`switchyard ${sy.origin} (pid ${sy.pid})${bl ? `, baseline ${baseline.short} ${bl.origin} (pid ${bl.pid})` : ''}${pk ? `, portkey ${pk.origin} (pid ${pk.pid})` : ''}${bare ? `, bare node (pid ${bare.pid})` : ''}${deps ? `, dependency floor (pid ${deps.pid})` : ''}: idle, measuring idle RSS for up to ${idleMaxS} s`);
    idleDone = Promise.all([routers, bareIdle, depsIdle]).then(async ([[idleSy, idlePk, idleBl, idleBs], idleBare, idleDeps]) => {
      if (bare) await stopChild(bare, 5000);
      if (deps) await stopChild(deps, 5000);
      const only = (x) => (idleMaxS > 0 ? x : { ...x, settledMiB: null, anonMiB: null, fileMiB: null, shmemMiB: null, reason: 'not measured (--idle-s 0)' });
      results.idle = {
        rule: IDLE_RULE.text,
        maxS: idleMaxS,
        switchyard: only(idleSy),
        ...(idlePk ? { portkey: only(idlePk) } : {}),
        ...(idleBl ? { baseline: { commit: baseline.short, ...only(idleBl) } } : {}),
        ...(idleBs ? { betterSqlite3: only(idleBs) } : {}),
        ...(idleBare ? { bareNode: { script: BARE_NODE_SCRIPT, ...idleBare } } : {}),
        ...(idleDeps ? { dependencyFloor: { script: 'bench/idle-deps.mjs', ...idleDeps } } : {}),
      };
      results.switchyardIdleRssMiB = idleSy.atStartMiB;
      results.switchyardIdleRssSettledMiB = results.idle.switchyard.settledMiB;
      for (const [name, x] of Object.entries(results.idle)) {
        if (typeof x !== 'object') continue;
        log(`${name} idle RSS: ${x.atStartMiB} MiB at start, ${x.settledMiB ?? '–'} MiB ${x.settled ? `settled after ${x.settledAfterS} s` : `at ${x.readingAtS} s (${x.reason})`} (RssAnon ${x.anonMiB ?? '–'}, RssFile ${x.fileMiB ?? '–'} MiB)`);
      }
    });
    // Not awaited yet; make a rejection surface where it is awaited, not as an unhandled one.
    idleDone.catch(() => {});
  }

  results.backgroundBeforeStart = await waitQuiet();

  if (doMemory) {
    for (const n of streamCounts) {
      const m = await memoryTest('switchyard', n);
      results.memory.push(m);
      // Streams that never got a response (queued inside the router) make KiB/stream meaningless;
      // measure once more at the largest count that streamed completely.
      const fits = Math.floor(m.streamsWithContent / 100) * 100;
      if (m.streamsWithContent < m.n && fits >= 100 && !streamCounts.includes(fits) && !results.memory.some((x) => x.n === fits)) {
        log(`only ${m.streamsWithContent} of ${m.n} streams got a response; measuring ${fits} streams as well`);
        const extra = await memoryTest('switchyard', fits);
        extra.note = `added because only ${m.streamsWithContent} of ${m.n} streams got a response: the largest count that streams completely`;
        results.memory.push(extra);
      }
    }
    // What any Node proxy holds per open stream (node:http in, undici out, the body piped through):
    // the floor under the router's own figure, at every count.
    if (doFloor) for (const n of streamCounts) results.memory.push(await memoryTest('floor', n));
    // The other front doors, at every count: the same pipeline behind another wire's encoder.
    for (const w of extraDoors()) for (const n of streamCounts) results.memory.push(await memoryTest(`switchyard-${w}`, n));
    if (peers.includes('portkey')) results.memory.push(await memoryTest('portkey', Math.min(...streamCounts)));
    // Real prompts are long, and a router that keeps the request (for fallback, or in its HTTP
    // client) holds it once per open stream: the same count with a long prompt shows that.
    if (longPromptKiB > 0) {
      const n = Math.min(1000, ...streamCounts);
      results.memory.push(await memoryTest('switchyard', n, longPromptKiB));
      if (peers.includes('portkey')) results.memory.push(await memoryTest('portkey', n, longPromptKiB));
    }
  }

  if (sqliteDrivers) results.sqliteDrivers.store = await sqliteStore();

  if (doWorkers) {
    results.workersScaling = await workersScaling().catch((err) => {
      log(`workers scaling: not available: ${err?.message ?? err}`);
      return { available: false, reason: String(err?.message ?? err) };
    });
  }

  if (doMatrix) {
    await idleDone;
    if (pk) results.portkey = { versions: portkeyInstall.versions, installDir: portkeyInstall.dir.replace(tmpdir(), '$TMPDIR'), idleRssMiB: results.idle.portkey.atStartMiB, idleRssSettledMiB: results.idle.portkey.settledMiB };
    if (doFloor) {
      fl = await startFloor();
      log(`floor proxy ${fl.origin} (pid ${fl.pid})`);
    }
    // One Switchyard per other front door, started now so that they do not disturb the idle reading.
    for (const w of extraDoors()) {
      doors[w] = await startSwitchyard({ wire: w });
      log(`switchyard ${WIRES[w].path} ${doors[w].origin} (pid ${doors[w].pid})`);
      if (baseline && baselineDoorAvailable[w]) {
        baselineDoors[w] = await startSwitchyard({ wire: w, root: baseline.root, name: `baseline-${w}` });
        log(`baseline ${baseline.short} ${WIRES[w].path} ${baselineDoors[w].origin} (pid ${baselineDoors[w].pid})`);
      }
    }
    results.sanity = { switchyard: await sanity(sy.target) };
    const targets = [directTarget(), sy.target];
    if (fl) {
      results.sanity.floor = await sanity(fl.target);
      targets.splice(1, 0, fl.target);
    }
    if (bl) {
      results.sanity.baseline = await sanity(bl.target);
      targets.push(bl.target);
    }
    if (bs) {
      results.sanity['better-sqlite3'] = await sanity(bs.target);
      targets.push(bs.target);
    }
    for (const child of [...Object.values(doors), ...Object.values(baselineDoors)]) {
      results.sanity[child.target.name] = await sanity(child.target);
      targets.push(child.target);
    }
    if (pk) {
      results.sanity.portkey = await sanity(pk.target);
      targets.push(pk.target);
    }
    results.sanity.direct = await sanity(directTarget());
    for (const mode of ['nonstream', 'stream']) {
      for (const conc of concs) {
        // A cell disturbed by other processes (> 15 % of the machine) is measured again after a
        // (bounded) wait for quiet; the least disturbed measurement is kept.
        let cell = await measureCell(mode, conc, targets);
        let attempts = 1;
        while (cell.backgroundCpuPct > 15 && attempts < cellAttempts) {
          await waitQuiet(quick ? 10 : 30);
          const again = await measureCell(mode, conc, targets);
          attempts++;
          if (again.backgroundCpuPct < cell.backgroundCpuPct) cell = again;
        }
        const { backgroundCpuPct, ...cellResults } = cell;
        results.matrix.push({ mode, concurrency: conc, backgroundCpuPct, attempts, results: cellResults });
        const s = cellResults.switchyard;
        const p = cellResults.portkey;
        const f = cellResults.floor;
        const b = cellResults.baseline;
        log(
          `${mode} c=${conc}: direct p50 ${fmt(cellResults.direct.latencyMs?.p50)} ms` +
            (f ? `; floor +${fmt(f.added.p50Ms)}/+${fmt(f.added.p99Ms)} ms, ${fmtInt(f.rps)} req/s` : '') +
            `; switchyard +${fmt(s.added.p50Ms)}/+${fmt(s.added.p99Ms)} ms p50/p99, ${fmtInt(s.rps)} req/s` +
            (s.addedOverFloor ? ` (over the floor +${fmt(s.addedOverFloor.p50Ms)}/+${fmt(s.addedOverFloor.p99Ms)} ms)` : '') +
            (b ? `; baseline ${baseline.short} +${fmt(b.added.p50Ms)}/+${fmt(b.added.p99Ms)} ms, ${fmtInt(b.rps)} req/s` : '') +
            Object.keys(doors)
              .map((w) => [w, cellResults[`switchyard-${w}`]])
              .filter(([, x]) => x)
              .map(([w, x]) => `; ${w} +${fmt(x.added.p50Ms)}/+${fmt(x.added.p99Ms)} ms, ${fmtInt(x.rps)} req/s, ${fmt(x.cpuUsPerRequest, 0)} µs CPU/req` + (cellResults[`baseline-${w}`] ? ` (baseline ${fmtInt(cellResults[`baseline-${w}`].rps)} req/s, ${fmt(cellResults[`baseline-${w}`].cpuUsPerRequest, 0)} µs)` : ''))
              .join('') +
            (p ? `; portkey +${fmt(p.added.p50Ms)}/+${fmt(p.added.p99Ms)} ms, ${fmtInt(p.rps)} req/s` : ''),
        );
      }
    }
    results.switchyardRssAfterMatrixMiB = round(memory(sy.pid).rssKiB / 1024, 1);
    results.switchyardPeakRssMiB = round(memory(sy.pid).hwmKiB / 1024, 1);
    await stopChild(sy, 10_000);
    if (bl) {
      results.baselinePeakRssMiB = round(memory(bl.pid).hwmKiB / 1024, 1);
      await stopChild(bl, 10_000);
    }
    if (bs) await stopChild(bs, 10_000);
    for (const child of [...Object.values(doors), ...Object.values(baselineDoors)]) await stopChild(child, 10_000);
    if (pk) await stopChild(pk, 10_000);
    if (fl) await stopChild(fl, 5000);
  }

  if (doProfile) results.profile = await profileRun();
  if (soakMinutes > 0) results.soak = await soak(soakMinutes);

  results.checks = checks(results);
  results.finishedAt = new Date().toISOString();
  results.durationS = Math.round((Date.now() - t0) / 1000);
  printReport(results);

  const stamp = results.startedAt.replace(/\.\d+Z$/, '').replace(/:/g, '').replace('T', '-');
  const file = opt.out ? resolve(opt.out) : join(BENCH, 'results', `${stamp}${quick ? '-quick' : ''}${peers.length ? `-${peers.join('-')}` : ''}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
  rmSync(file, { force: true });
  copyFileSync(`${file}.tmp`, file);
  rmSync(`${file}.tmp`, { force: true });
  log(`results: ${file}; ${results.durationS} s (markdown tables: node bench/report.mjs ${file})`);
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (err) => {
    if (cleaning) return; // interrupted: the signal handler is already cleaning up and exiting
    log(`FAILED: ${err?.stack ?? err}`);
    if (process.env.BENCH_KEEP_TMP) log(`logs kept in ${work}`);
    await cleanup();
    process.exit(1);
  });
