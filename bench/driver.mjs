#!/usr/bin/env node
// Load driver, run by bench/run.mjs as a separate process (pinned to the other core) and driven
// over IPC. Commands:
//   latency       closed loop of `conc` undici clients for `durationMs`; per request: total time,
//                 time to response headers, to the first body byte and to the first content event
//                 (`data:` for chat completions, the wire's first text delta otherwise), all from
//                 performance.now() (microsecond resolution); every answer is checked complete in
//                 its wire (lib/wires.mjs) after the clock stops
//   autocannon    autocannon for `durationSec` at `conc` connections (requests/s); every answer is
//                 checked the same way (verifyBody), and incomplete ones are not counted
//   open-streams  open `n` concurrent streams and keep them open (memory per open stream)
//   close-streams abort every stream opened by open-streams
import { Pool } from 'undici';
import autocannon from 'autocannon';
import { answerOk, WIRES } from './lib/wires.mjs';

const pools = new Map();
function poolFor(origin, conc) {
  const key = `${origin}|${conc}`;
  let p = pools.get(key);
  if (!p) {
    p = new Pool(origin, { connections: conc, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
    pools.set(key, p);
  }
  return p;
}

async function resetPools() {
  const all = [...pools.values()];
  pools.clear();
  await Promise.allSettled(all.map((p) => p.destroy()));
}

const DATA = 'data:';

async function latency({ origin, path, headers, body, conc, durationMs, stream, wire = 'chat', record = true }) {
  const pool = poolFor(origin, conc);
  const marker = WIRES[wire].firstContent;
  let badSample = null;
  const total = [];
  const head = [];
  const ttfb = [];
  const ttft = [];
  let errors = 0;
  let non2xx = 0;
  let bad = 0;
  const errorKinds = {};
  const started = performance.now();
  const end = started + durationMs;
  async function worker() {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const res = await pool.request({ path, method: 'POST', headers, body });
        const th = performance.now();
        let tb = -1;
        let td = -1;
        let carry = '';
        const parts = [];
        for await (const chunk of res.body) {
          if (tb < 0) tb = performance.now();
          if (stream && td < 0) {
            const s = carry + chunk.toString('latin1');
            if (s.includes(marker)) td = performance.now();
            else carry = s.slice(1 - marker.length);
          }
          parts.push(chunk);
        }
        const t1 = performance.now();
        // Checked after the clock stopped: the check is not part of the figure.
        if (res.statusCode !== 200) non2xx++;
        else if (!answerOk(wire, stream, (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('latin1'))) {
          // (latin1: the checks look for ASCII only, and it is the cheaper decoding)
          bad++;
          badSample ??= Buffer.concat(parts).toString('utf8').slice(-300);
        } else if (record) {
          total.push(t1 - t0);
          head.push(th - t0);
          ttfb.push((tb < 0 ? t1 : tb) - t0);
          if (stream) ttft.push((td < 0 ? t1 : td) - t0);
        }
      } catch (err) {
        errors++;
        const k = err.code ?? err.name ?? 'error';
        errorKinds[k] = (errorKinds[k] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }
  await Promise.all(Array.from({ length: conc }, worker));
  const elapsedMs = performance.now() - started;
  return { count: total.length, errors, non2xx, bad, badSample, errorKinds, elapsedMs, total, head, ttfb, ttft };
}

async function runAutocannon({ url, headers, body, conc, durationSec, stream = false, wire = 'chat' }) {
  // autocannon keeps every response body as a string anyway; the check adds only its own work.
  // A response that fails it (an error status included) is a "mismatch" and not counted.
  const result = await autocannon({
    url,
    method: 'POST',
    headers,
    body,
    connections: conc,
    pipelining: 1,
    duration: durationSec,
    timeout: 60,
    verifyBody: (text) => answerOk(wire, stream, text),
  });
  const mismatches = result.mismatches ?? 0;
  const good = Math.max(0, result.requests.total - mismatches);
  return {
    total: good,
    rps: good / result.duration,
    duration: result.duration,
    non2xx: result.non2xx,
    // Answered with 200 but incomplete in its wire (error statuses fail the check too: not twice).
    badBody: Math.max(0, mismatches - result.non2xx),
    errors: result.errors,
    timeouts: result.timeouts,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
  };
}

let open = []; // [{ pool, controllers }]: one per open-streams call since the last close
// add: keep the streams already open (the memory test opens its streams in two steps).
// A stream counts as open with content once `firstContent` arrived (chat: any `data:` event).
async function openStreams({ origin, path, headers, body, n, timeoutMs, stallMs = 5000, add = false, firstContent = DATA }) {
  if (open.length > 0 && !add) await closeStreams();
  const pool = new Pool(origin, { connections: n, pipelining: 1, headersTimeout: 0, bodyTimeout: 0, connectTimeout: 30_000 });
  const state = { pool, controllers: [], headers: 0, opened: 0, failed: 0, ended: 0, errorKinds: {} };
  open.push(state);
  const started = performance.now();
  let resolveAll;
  const all = new Promise((r) => (resolveAll = r));
  const settle = () => {
    if (state.opened + state.failed + state.ended >= n) resolveAll();
  };
  for (let i = 0; i < n; i++) {
    const ac = new AbortController();
    state.controllers.push(ac);
    pool
      .request({ path, method: 'POST', headers, body, signal: ac.signal })
      .then((res) => {
        state.headers++;
        if (res.statusCode !== 200) {
          state.failed++;
          state.errorKinds[`http ${res.statusCode}`] = (state.errorKinds[`http ${res.statusCode}`] ?? 0) + 1;
          res.body.resume();
          settle();
          return;
        }
        let seen = false;
        let carry = '';
        res.body.on('data', (chunk) => {
          if (seen) return;
          const s = carry + chunk.toString('latin1');
          if (!s.includes(firstContent)) carry = s.slice(1 - firstContent.length);
          else {
            carry = '';
            seen = true;
            state.opened++;
            settle();
          }
        });
        res.body.on('error', () => {});
        res.body.on('end', () => {
          if (!seen) {
            state.ended++;
            settle();
          }
        });
      })
      .catch((err) => {
        if (ac.signal.aborted) return;
        state.failed++;
        const k = err.code ?? err.name ?? 'error';
        state.errorKinds[k] = (state.errorKinds[k] ?? 0) + 1;
        settle();
      });
  }
  // Bounded: stop waiting at the timeout, or once nothing progressed for stallMs (streams that a
  // router queues without answering would otherwise hold the run until the timeout).
  const timer = setTimeout(resolveAll, timeoutMs);
  let last = -1;
  let lastChange = performance.now();
  const watch = setInterval(() => {
    const progress = state.opened + state.failed + state.ended + state.headers;
    if (progress !== last) {
      last = progress;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > stallMs) resolveAll();
  }, 250);
  await all;
  clearTimeout(timer);
  clearInterval(watch);
  return { n, opened: state.opened, headers: state.headers, failed: state.failed, endedEarly: state.ended, errorKinds: state.errorKinds, elapsedMs: performance.now() - started };
}

async function closeStreams() {
  const states = open;
  open = [];
  let closed = 0;
  for (const { pool, controllers } of states) {
    for (const ac of controllers) ac.abort();
    await pool.destroy().catch(() => {});
    closed += controllers.length;
  }
  return { closed };
}

const handlers = {
  latency,
  autocannon: runAutocannon,
  'open-streams': openStreams,
  'close-streams': closeStreams,
  'reset-pools': resetPools,
};

process.on('message', async (msg) => {
  const { id, cmd, args } = msg;
  if (cmd === 'exit') {
    await closeStreams();
    await resetPools();
    process.exit(0);
  }
  try {
    const result = await handlers[cmd](args ?? {});
    process.send({ id, ok: true, result });
  } catch (err) {
    process.send({ id, ok: false, error: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
