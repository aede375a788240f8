// Preloaded (`node --expose-gc --import`) into a router for the memory measurements only: on
// SIGUSR2 it runs a full garbage collection and writes process.memoryUsage() to $BENCH_MEM_PROBE,
// so that "memory per open stream" compares live memory, not garbage waiting for collection.
// With $BENCH_HEAP_SNAPSHOT_DIR set it also writes a heap snapshot there (bench/lib/heap-diff.mjs).
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

const file = process.env.BENCH_MEM_PROBE;
const snapshotDir = process.env.BENCH_HEAP_SNAPSHOT_DIR;
let seq = 0;
if (file) {
  process.on('SIGUSR2', () => {
    const t0 = performance.now();
    globalThis.gc?.();
    globalThis.gc?.();
    const gcMs = performance.now() - t0;
    const usage = process.memoryUsage();
    const snapshot = snapshotDir ? writeHeapSnapshot(join(snapshotDir, `${process.pid}-${++seq}.heapsnapshot`)) : undefined;
    setImmediate(() => {
      writeFileSync(`${file}.tmp`, JSON.stringify({ at: Date.now(), gcMs, gcExposed: typeof globalThis.gc === 'function', snapshot, ...usage }));
      renameSync(`${file}.tmp`, file);
    });
  });
}
