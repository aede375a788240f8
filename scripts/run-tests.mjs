// Runs every test file under test/ with Node's own test runner (TypeScript through tsx): first on
// the Node that runs this script, then on Node 24 (the newest clients need Node 22+; see
// scripts/node-binary.mjs for where that Node comes from).
//
//   npm test                       the whole suite on this Node, then on Node 24
//   npm test -- test/a.test.ts     only those files, on this Node (and on Node 24 with --node24)
//   SWITCHYARD_TEST_NODES=current  this Node only (a quick local run; CI runs both)
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { nodeBinary } from './node-binary.mjs';
import { allClientKits } from './client-kit.mjs';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : find(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const major = (v) => Number(v.replace(/^v/, '').split('.')[0]);
/** Files named *.node22.test.ts use clients that need Node 22 or later. */
const needsNode22 = (f) => f.endsWith('.node22.test.ts');

// The gateway imports validators generated from its schemas; tests run the same generated code.
const gen = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/generate.ts'], { stdio: 'inherit' });
if (gen.status !== 0) process.exit(gen.status ?? 1);

const args = process.argv.slice(2);
const alsoNode24Flag = args.includes('--node24');
const named = args.filter((a) => a !== '--node24');
const files = named.length > 0 ? named : find('test').sort();
const nodes = process.env.SWITCHYARD_TEST_NODES ?? (named.length > 0 && !alsoNode24Flag ? 'current' : 'current,24');

function run(bin, version, list) {
  if (list.length === 0) return 0;
  console.log(`\n# ${list.length} test file(s) on Node ${version}\n`);
  const r = spawnSync(bin, ['--import', 'tsx', '--test', '--test-concurrency=2', ...list], { stdio: 'inherit' });
  return r.status ?? 1;
}

let status = 0;
const here = major(process.version);
// Kits of clients that cannot share the project's tree (scripts/client-kit.mjs), for the Node 22+ files.
if (files.some(needsNode22) && (here >= 22 || nodes.includes('24'))) allClientKits();
if (nodes.split(',').includes('current')) {
  const skipped = here < 22 ? files.filter(needsNode22) : [];
  status = run(process.execPath, process.version, files.filter((f) => !skipped.includes(f)));
  if (skipped.length > 0 && !nodes.includes('24')) {
    console.error(`\n${skipped.length} file(s) need Node 22+ and were not run on ${process.version}: ${skipped.join(', ')}`);
    status ||= 1;
  }
}
if (nodes.split(',').includes('24') && here !== 24) {
  const bin = nodeBinary(24);
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  status = run(bin, version, files) || status;
}
process.exit(status);
