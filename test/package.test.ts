/**
 * The published package as a new user gets it: `npm pack` (its prepack build included), the tarball
 * installed into an empty folder from the npm cache with no devDependencies and no install scripts,
 * and the installed `switchyard serve` answering the README's demo request over real HTTP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor, stopProc, type Proc } from './support/process.js';
import { createTestDatabase, type TestDatabase } from './support/services.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');
const run = promisify(execFile);
// Only the npm cache: a dependency missing from it is fetched, but nothing else is (no install scripts, no devDependencies).
const INSTALL_FLAGS = ['--prefer-offline', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'];

interface PackedFile {
  path: string;
}

const DEMO_REQUEST = {
  model: 'moonshotai/kimi-k2-0905',
  messages: [
    { content: 'You are a helpful assistant', role: 'system' },
    { content: 'Say hi in Portuguese', role: 'user' },
  ],
  max_tokens: 4000,
  stream: true,
  provider: { only: ['groq'] },
};

/** The installed command, run by the installed package's own bin link. */
function runInstalled(app: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(join(app, 'node_modules', '.bin', 'switchyard'), args, {
    cwd: app,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

async function demoRequest(url: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(DEMO_REQUEST) });
  assert.equal(res.status, 200);
  // The console ships built: the installed gateway serves it with no build step.
  const page = await fetch(`${url}/console/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<script[^>]+src="[^"]*console-[^"]+\.js"/);
  return res.text();
}

describe('npm package', { timeout: 180_000 }, () => {
  let dir: string;
  let app: string;
  let files: string[];
  let db: TestDatabase;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-pack-'));
    // Packed from a copy of the tree: prepack rebuilds dist/ from scratch, which must not pull it from under anything else using this checkout.
    const tree = join(dir, 'tree');
    for (const p of ['bin', 'src', 'web', 'scripts', 'catalog', 'demo', 'package.json', 'tsconfig.json', 'LICENSE', 'NOTICE', 'README.md']) cpSync(join(ROOT, p), join(tree, p), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir, '--loglevel=error'], { cwd: tree, maxBuffer: 16 * 1024 * 1024 });
    // prepack's build output precedes npm's JSON on stdout.
    const packed = JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as { filename: string; files: PackedFile[] }[];
    files = packed[0]!.files.map((f) => f.path);
    app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'switchyard-install-check', private: true }));
    await run('npm', ['install', join(dir, packed[0]!.filename), ...INSTALL_FLAGS], { cwd: app, maxBuffer: 16 * 1024 * 1024 });
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
    // The link first, so removing the copy cannot reach into this checkout's node_modules.
    rmSync(join(dir, 'tree', 'node_modules'), { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('ships the compiled gateway, the catalog, the demo and the licences, and nothing of the sources, tests or bench', () => {
    for (const f of ['bin/switchyard.js', 'dist/cli/main.js', 'dist/validation/compiled.js', 'dist/web/console/index.html', 'catalog/models.yaml', 'catalog/embedded.snapshot.json', 'demo/cassettes/simple_streaming.yaml', 'LICENSE', 'NOTICE', 'README.md']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    const unwanted = files.filter((f) => /^(src|test|bench|scripts|docs|web)\//.test(f) || f.endsWith('.ts') || f.endsWith('.map'));
    assert.deepEqual(unwanted, []);
  });

  it('installs without TypeScript or any devDependency', () => {
    for (const dev of ['typescript', 'tsx', 'eslint', 'openai']) assert.ok(!existsSync(join(app, 'node_modules', dev)), `${dev} is not installed`);
    assert.ok(existsSync(join(app, 'node_modules', 'switchyard-gateway', 'dist', 'cli', 'main.js')));
  });

  it('`switchyard serve` from the installed package answers the demo request', async () => {
    // PostgreSQL, so the check does not depend on the SQLite driver's native build (skipped with install scripts).
    const p = runInstalled(app, ['serve', '--port', '0'], { SWITCHYARD_REPLAY_PACE: 'fast', DATABASE_URL: db.url });
    try {
      const [, url] = await waitFor(p, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/, 30_000);
      await waitFor(p, /demo mode/);
      const text = await demoRequest(url);
      assert.match(text, /"provider":"Groq"/);
      assert.match(text, /data: \[DONE\]\n\n$/);
    } finally {
      await stopProc(p);
    }
  });

  it('on the embedded SQLite default it serves, or names the driver build it lacks in one line', async () => {
    const p = runInstalled(app, ['serve', '--port', '0'], { SWITCHYARD_REPLAY_PACE: 'fast' });
    try {
      const listening = await waitFor(p, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/, 30_000).catch(() => null);
      if (listening) {
        assert.match(await demoRequest(listening[1]!), /data: \[DONE\]\n\n$/);
      } else {
        assert.equal(await p.exited, 1);
        assert.match(p.output(), /^switchyard: the SQLite driver \(better-sqlite3\) has no native build .*npm rebuild better-sqlite3.*DATABASE_URL/m);
        assert.doesNotMatch(p.output(), /^\s+at /m, 'no stack trace');
      }
    } finally {
      await stopProc(p);
    }
  });
});
