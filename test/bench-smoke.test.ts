/**
 * The benchmark runs end to end and writes its report. Figures are not checked (these machines
 * are noisy; `npm run bench` is where speed is judged): only that every target answered every
 * request of a minimal run correctly and that the report renders.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');

describe('npm run bench (smoke)', () => {
  it('a minimal run measures every target without a failed request and reports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-smoke-'));
    try {
      const out = join(dir, 'result.json');
      const args = ['bench/run.mjs', '--quick', '--no-memory', '--no-workers-scaling', '--idle-s', '0', '--wait-quiet', '0', '--conc', '1', '--rounds', '1', '--latency-ms', '200', '--throughput-s', '0.2', '--out', out];
      const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
      assert.equal(run.status, 0, `bench exited with ${run.status}:\n${run.stderr.slice(-3000)}`);
      const result = JSON.parse(readFileSync(out, 'utf8'));
      assert.deepEqual(
        result.matrix.map((m: { mode: string; concurrency: number }) => `${m.mode}@${m.concurrency}`),
        ['nonstream@1', 'stream@1'],
      );
      for (const cell of result.matrix) {
        for (const target of ['direct', 'floor', 'switchyard']) {
          const r = cell.results[target];
          assert.ok(r, `${cell.mode}: ${target} measured`);
          assert.ok(r.latencyMs.n > 0 && r.rps > 0, `${cell.mode}: ${target} served requests`);
          const failed = Object.entries(r.failures as Record<string, unknown>).filter(([, v]) => typeof v === 'number' && v > 0);
          assert.deepEqual(failed, [], `${cell.mode}: ${target} had failed requests`);
        }
      }
      assert.equal(result.sanity.switchyard.nonstream.ok, true);
      assert.equal(result.sanity.switchyard.stream.ok, true);
      assert.ok(result.checks.length > 0, 'targets are checked');
      const report = spawnSync(process.execPath, ['bench/report.mjs', out], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(report.status, 0, report.stderr);
      assert.match(report.stdout, /\*\*Targets\*\*/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
