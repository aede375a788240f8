#!/usr/bin/env node
// Where Switchyard's idle RSS comes from: RSS and live heap after importing each dependency, then
// Switchyard's own modules, then a real `switchyard serve` start (catalog, config, database).
// Run: node --expose-gc bench/startup-memory.mjs   (after npm run build)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
const mib = (b) => (b / 2 ** 20).toFixed(1);
const rows = [];
let last = process.memoryUsage().rss;
function step(label) {
  globalThis.gc?.();
  const m = process.memoryUsage();
  rows.push([label, mib(m.rss), `+${mib(m.rss - last)}`, mib(m.heapTotal), mib(m.heapUsed)]);
  last = m.rss;
}
step('node itself');
const pkg = require('./package.json');
for (const dep of Object.keys(pkg.dependencies)) {
  try {
    await import(pathToFileURL(require.resolve(dep)).href);
    step(`import ${dep}`);
  } catch (err) {
    rows.push([`import ${dep}`, `failed: ${err.message.split('\n')[0]}`]);
  }
}
try {
  await import(pathToFileURL(join(ROOT, 'dist/cli/main.js')).href);
  step('import dist/cli/main.js (all of src/)');
} catch (err) {
  rows.push(['import dist/cli/main.js', `failed: ${err.message.split('\n')[0]}`]);
}

// A real start: the gateway's own idle RSS, 2 s after it is listening.
const dir = mkdtempSync(join(tmpdir(), 'switchyard-startmem-'));
const child = spawn(process.execPath, [join(ROOT, 'bin/switchyard.js'), 'serve'], {
  cwd: dir,
  env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', SWITCHYARD_DATA_DIR: join(dir, 'data'), GROQ_API_KEY: 'x', LOG_LEVEL: 'warn' },
  stdio: 'ignore',
});
await new Promise((r) => setTimeout(r, 3000));
try {
  const { readFileSync } = await import('node:fs');
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)[1]) * 1024;
  rows.push(['switchyard serve, idle 3 s after start', mib(rss), '', '', '']);
} catch (err) {
  rows.push(['switchyard serve', `failed: ${err.message}`]);
}
child.kill('SIGKILL');
rmSync(dir, { recursive: true, force: true });

const widths = [44, 8, 8, 10, 9];
console.log(['', 'RSS MiB', 'Δ MiB', 'heapTotal', 'heapUsed'].map((h, i) => (i ? h.padStart(widths[i]) : h.padEnd(widths[i]))).join(' '));
for (const r of rows) console.log(r.map((c, i) => (i ? String(c ?? '').padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' '));
if (!globalThis.gc) console.log('(run with --expose-gc for heap figures after a full GC)');
