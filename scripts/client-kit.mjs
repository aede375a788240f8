// Client libraries the tests need that cannot live in the project's own tree: their peer
// dependencies conflict with versions other tests use (the OpenRouter AI SDK provider 3 wants
// `ai` 7, which needs Node 22; the Node 20 tests use `ai` 6). Each kit is a package.json and a
// package-lock.json under test/clients/<name>/, installed with `npm ci` into
// node_modules/.cache/clients-<name>/ on first use, and again when its lockfile changes.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

/** The folder holding the kit's node_modules, installed if it is missing or stale. */
export function clientKit(name) {
  const source = resolve('test', 'clients', name);
  const prefix = resolve('node_modules', '.cache', `clients-${name}`);
  const lock = readFileSync(join(source, 'package-lock.json'));
  const digest = createHash('sha256').update(lock).digest('hex');
  const stamp = join(prefix, '.installed');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return prefix;
  mkdirSync(prefix, { recursive: true });
  copyFileSync(join(source, 'package.json'), join(prefix, 'package.json'));
  copyFileSync(join(source, 'package-lock.json'), join(prefix, 'package-lock.json'));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // Quiet unless it fails: a test file may call this, and its output is the test runner's.
  const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--prefix', prefix], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`Could not install the test client kit ${name} (npm ci in ${prefix}) from the npm registry:\n${r.stderr}`);
  writeFileSync(stamp, digest);
  return prefix;
}

/** Every kit under test/clients/, installed (the test runner does this before the Node 22+ files run). */
export function allClientKits() {
  const root = resolve('test', 'clients');
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => {
      console.log(`Test client kit ${e.name}: ${clientKit(e.name)}`);
      return e.name;
    });
}
