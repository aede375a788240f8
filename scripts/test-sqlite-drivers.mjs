// Runs the storage tests once per SQLite driver this Node can load (SWITCHYARD_SQLITE_DRIVER,
// src/storage/sqlite-driver.ts): node:sqlite on Node 22.13+/24, better-sqlite3 where its native
// addon is built for this Node. A driver that cannot load is named with the reason and skipped;
// none at all is a failure. Arguments: test files instead of the default list.
import { spawnSync } from 'node:child_process';

const STORAGE_TESTS = [
  'test/sqlite-locks.test.ts',
  'test/wal-checkpoints.test.ts',
  'test/generation-store.test.ts',
  'test/responses-store.test.ts',
  'test/keys.test.ts',
  'test/startup.test.ts',
];
const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : STORAGE_TESTS;

/** Whether the driver opens a database under this Node; the reason when it does not. */
function probe(driver) {
  const script = "const m = await import('./src/storage/sqlite-driver.ts'); m.openSqlite(':memory:').close();";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, SWITCHYARD_SQLITE_DRIVER: driver },
    encoding: 'utf8',
  });
  return r.status === 0 ? null : (r.stderr.split('\n').find((l) => /^\w*(Error|Unavailable)( \[Error\])?:/.test(l)) ?? `exit ${r.status}`).trim();
}

let ran = 0;
let failed = false;
for (const driver of ['node', 'better-sqlite3']) {
  const why = probe(driver);
  if (why) {
    process.stdout.write(`\n# SQLite driver ${driver}: not available under Node ${process.version}, skipped (${why})\n`);
    continue;
  }
  process.stdout.write(`\n# SQLite driver ${driver} (Node ${process.version})\n`);
  const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', ...files], { stdio: 'inherit', env: { ...process.env, SWITCHYARD_SQLITE_DRIVER: driver } });
  ran++;
  if (r.status !== 0) failed = true;
}
if (ran === 0) {
  process.stdout.write('no SQLite driver loads under this Node\n');
  process.exit(1);
}
process.exit(failed ? 1 : 0);
