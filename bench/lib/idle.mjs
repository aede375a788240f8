// Settled idle RSS of a freshly started process that has had no traffic yet.
//
// V8 keeps the young generation that start-up grew (tens of MiB of committed but free new space)
// until its memory reducer runs, some 10–30 s after the process goes idle; RSS then falls by that
// much in one or two steps. A reading 1 s after start therefore overstates what an idle process
// holds. This polls /proc every second from the moment the process answered:
//
//   at start  the reading 1 s after ready (what the bench reported before)
//   settled   once RSS has dropped (at least `dropMiB` below the highest reading) and has then not
//             fallen by more than `fallMiB` for `holdS` seconds: the lowest reading of that quiet
//             window. Without such a drop within `maxS` seconds: the reading at `maxS`.
//
// The drop is required because RSS is flat for 20 s or more before the memory reducer runs: "no
// fall for 8 s" alone would accept that plateau. Every sample is returned, so a reader can check.
import { memory, sleep } from './proc.mjs';

const MiB = (kib) => Math.round((kib / 1024) * 10) / 10;

export const IDLE_RULE = {
  intervalS: 1,
  holdS: 8,
  fallMiB: 0.5,
  dropMiB: 2,
  text: 'RSS polled every 1 s from ready; settled = lowest reading once RSS has dropped ≥ 2 MiB below its highest and then not fallen by more than 0.5 MiB for 8 s; else the reading at the time limit',
};

/**
 * Polls `pid` until its idle RSS settled (see above) or `maxS` seconds after `readyAt`
 * (Date.now() when the process first answered). Never throws: a process that exits is reported
 * with `error`. `stop()` (optional, for a baseline that may never drop) ends the polling early
 * once it returns true and RSS has not fallen for `holdS` seconds. With `lowest` (a baseline whose
 * release does not follow the routers' pattern, e.g. a small drop at start and the real one later)
 * the rule is not applied: polling goes on until `stop()` and the lowest reading is reported.
 */
export async function settleIdle(pid, { readyAt = Date.now(), maxS = 40, holdS = IDLE_RULE.holdS, fallMiB = IDLE_RULE.fallMiB, dropMiB = IDLE_RULE.dropMiB, stop, lowest = false } = {}) {
  const samples = []; // [s, rssMiB, anonMiB, fileMiB]
  let peak = -Infinity;
  let level = null; // reference for "fallen by more than fallMiB"
  let levelAt = 0;
  let result = null;
  for (let i = 1; i <= Math.max(1, Math.floor(maxS)); i++) {
    const wait = readyAt + i * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    let m;
    try {
      m = memory(pid);
    } catch (err) {
      result = { error: `process ${pid} is gone (${err.code ?? err.message})` };
      break;
    }
    const s = { s: i, rss: MiB(m.rssKiB), anon: MiB(m.anonKiB), file: MiB(m.fileKiB), shmem: MiB(m.shmemKiB) };
    samples.push(s);
    peak = Math.max(peak, s.rss);
    if (level === null || s.rss < level - fallMiB) {
      level = s.rss;
      levelAt = i;
    }
    if (lowest) {
      if (stop?.()) {
        result = { settled: false, at: samples.reduce((a, b) => (b.rss < a.rss ? b : a)), reason: `lowest reading in ${i} s, until the routers were done` };
        break;
      }
      continue;
    }
    const window = samples.filter((x) => x.s >= levelAt);
    const low = window.reduce((a, b) => (b.rss < a.rss ? b : a));
    if (peak - low.rss >= dropMiB && i - levelAt >= holdS) {
      result = { settled: true, at: low, settledAfterS: i };
      break;
    }
    if (stop?.() && i - levelAt >= holdS) {
      result = { settled: false, at: low, reason: `no drop; flat for ${i - levelAt} s when the routers were done` };
      break;
    }
  }
  const first = samples[0];
  const last = samples.at(-1);
  const droppedMiB = samples.length ? Math.round((peak - Math.min(...samples.map((x) => x.rss))) * 10) / 10 : null;
  if (!result && lowest && samples.length) {
    result = { settled: false, at: samples.reduce((a, b) => (b.rss < a.rss ? b : a)), reason: `lowest reading in ${samples.length} s` };
  }
  if (!result) {
    const reason = droppedMiB >= dropMiB ? `dropped at ${levelAt} s, but only ${maxS - levelAt} s without a fall by ${maxS} s` : `no drop within ${maxS} s`;
    result = { settled: false, at: last, settledAfterS: null, reason };
  }
  const at = result.at ?? last;
  return {
    atStartMiB: first?.rss ?? null,
    atStartAnonMiB: first?.anon ?? null,
    atStartFileMiB: first?.file ?? null,
    settledMiB: at?.rss ?? null,
    anonMiB: at?.anon ?? null,
    fileMiB: at?.file ?? null,
    shmemMiB: at?.shmem ?? null,
    settled: result.settled ?? false,
    settledAfterS: result.settledAfterS ?? null,
    // How far RSS fell below its highest reading: about the young generation start-up left behind.
    droppedMiB,
    readingAtS: at?.s ?? null,
    reason: result.reason ?? result.error ?? null,
    maxS,
    samples: samples.map((x) => [x.s, x.rss, x.anon, x.file]),
  };
}
