// Child processes of the bench (all tracked, all stopped on exit) and /proc readings.
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const GUARD = fileURLToPath(new URL('./orphan-guard.mjs', import.meta.url));

export const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Hard and soft open-file limits a child gets (the runner raises soft to hard before exec). */
export const nofile = (() => {
  try {
    const hard = execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim();
    const raised = execFileSync('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; ulimit -n']).toString().trim();
    return { hard: hard === 'unlimited' ? Infinity : Number(hard), effective: raised === 'unlimited' ? Infinity : Number(raised) };
  } catch {
    return { hard: 1024, effective: 1024 };
  }
})();

const children = new Set();

/**
 * Starts `node <nodeArgs>` pinned to `core` (taskset, when available) with the open-file soft
 * limit raised to the hard limit. The orphan guard is preloaded so the child dies with the runner.
 */
export function spawnNode(name, core, nodeArgs, { env = process.env, cwd, ipc = false, logFile, pipeStdout = false } = {}) {
  const argv = [process.execPath, '--import', GUARD, ...nodeArgs];
  const cmd = hasTaskset && core !== null ? ['taskset', '-c', String(core), ...argv] : argv;
  const logFd = logFile ? openSync(logFile, 'a') : 'ignore';
  const stdio = ['ignore', pipeStdout ? 'pipe' : logFd, logFd];
  if (ipc) stdio.push('ipc');
  const proc = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...cmd], { env, cwd, stdio });
  if (typeof logFd === 'number') closeSync(logFd);
  const child = { name, proc, pid: proc.pid, exited: false, exitCode: null };
  child.exitPromise = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      child.exited = true;
      child.exitCode = code ?? signal;
      children.delete(child);
      resolve(child.exitCode);
    });
  });
  children.add(child);
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child, graceMs = 5000) {
  if (!child || child.exited) return child?.exitCode;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
  const t = setTimeout(() => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, graceMs);
  const code = await child.exitPromise;
  clearTimeout(t);
  return code;
}

export async function stopAll() {
  await Promise.all([...children].map((c) => stopChild(c, 3000)));
}

/** Last-resort synchronous cleanup (process 'exit' handler). */
export function killAllSync() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** utime + stime of the whole process (all threads), in seconds. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * VmRSS and VmHWM (peak RSS) in KiB, and the RSS split: RssAnon (heap, stacks: this process's own
 * memory), RssFile (file-backed pages: the node binary and shared libraries, shared with every
 * process that maps them) and RssShmem.
 */
export function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: get('VmRSS'), hwmKiB: get('VmHWM'), anonKiB: get('RssAnon'), fileKiB: get('RssFile'), shmemKiB: get('RssShmem') };
}

/** Parent pid of `pid` (field 4 of /proc/<pid>/stat), or null when it is gone. */
function ppidOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** Children of every process, from one scan of /proc. */
function childrenByParent() {
  const byParent = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pp = ppidOf(Number(name));
    if (pp === null) continue;
    if (!byParent.has(pp)) byParent.set(pp, []);
    byParent.get(pp).push(Number(name));
  }
  return byParent;
}

/** `pid` and all its descendants (e.g. a node:cluster primary and its workers), from /proc. */
export function processTree(pid, byParent = childrenByParent()) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(byParent.get(out[i]) ?? []));
  return out;
}

/**
 * CPU seconds of a process tree: utime + stime of `pid` and of every live descendant, plus the
 * cutime + cstime of `pid` (children that exited and were reaped). Compare two readings.
 */
export function treeCpuSeconds(pid, byParent = childrenByParent()) {
  let s = 0;
  for (const p of processTree(pid, byParent)) {
    try {
      s += cpuSeconds(p);
    } catch {
      /* exited between the listing and the read */
    }
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    s += (Number(fields[13]) + Number(fields[14])) / CLK_TCK;
  } catch {
    /* gone */
  }
  return s;
}

/** Resets VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`); false when not allowed. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export function openFds(pid) {
  try {
    return execFileSync('ls', [`/proc/${pid}/fd`]).toString().split('\n').filter(Boolean).length;
  } catch {
    return null;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Busy CPU seconds of the whole machine and per core, from /proc/stat. */
export function machineBusy() {
  const out = {};
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^(cpu\d*)\s+(.+)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = m[2].split(/\s+/).map(Number);
    out[m[1]] = (user + nice + system + irq + softirq + (steal ?? 0)) / CLK_TCK;
    void idle;
    void iowait;
  }
  return out;
}

/** CPU seconds used by the bench itself: the runner and every child still running, with their own children (cluster workers). */
export function benchBusy() {
  const u = process.cpuUsage();
  let s = (u.user + u.system) / 1e6;
  const byParent = childrenByParent();
  for (const c of children) {
    try {
      s += treeCpuSeconds(c.pid, byParent);
    } catch {
      /* exited */
    }
  }
  return s;
}

/**
 * Other work on the machine (e.g. compilers or test suites of concurrent sessions) competes with
 * the measured processes. Returns a probe; probe() gives the CPU share (0..1 of all cores) used
 * by processes outside the bench since the previous call.
 */
export function backgroundProbe() {
  const cores = Object.keys(machineBusy()).filter((k) => k !== 'cpu').length || 1;
  let m0 = machineBusy().cpu;
  let b0 = benchBusy();
  let t0 = performance.now();
  return () => {
    const m1 = machineBusy().cpu;
    const b1 = benchBusy();
    const t1 = performance.now();
    const secs = (t1 - t0) / 1000;
    const share = secs > 0 ? Math.max(0, m1 - m0 - (b1 - b0)) / (secs * cores) : 0;
    m0 = m1;
    b0 = b1;
    t0 = t1;
    return share;
  };
}
