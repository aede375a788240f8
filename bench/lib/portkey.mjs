// The Portkey gateway as a peer: installed into a temporary folder (never a project dependency).
//
// A plain `npm install @portkey-ai/gateway@1.15.2` resolves a newer @hono/node-server whose
// response streaming breaks Portkey's SSE with HTTP 500; @hono/node-server 1.13.5 and
// hono 4.9.7 are the versions of Portkey's own lockfile, pinned here with npm `overrides`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PORTKEY_VERSION = '1.15.2';
const PINS = { '@hono/node-server': '1.13.5', hono: '4.9.7' };

function installedVersion(dir, name) {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** Returns the install folder; reuses an earlier install with the same pinned versions. */
export function ensurePortkey(log) {
  const dir = join(tmpdir(), `switchyard-bench-portkey-${PORTKEY_VERSION}`);
  const ok = () =>
    installedVersion(dir, '@portkey-ai/gateway') === PORTKEY_VERSION &&
    Object.entries(PINS).every(([n, v]) => installedVersion(dir, n) === v) &&
    existsSync(join(dir, 'node_modules/@portkey-ai/gateway/build/start-server.js'));
  if (ok()) {
    log(`portkey: reusing ${dir}`);
  } else {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify(
        {
          name: 'switchyard-bench-portkey',
          private: true,
          description: 'Temporary install of the Portkey gateway for `npm run bench -- --peer portkey`',
          dependencies: { '@portkey-ai/gateway': PORTKEY_VERSION, ...PINS },
          overrides: PINS,
        },
        null,
        2,
      ),
    );
    log(`portkey: npm install @portkey-ai/gateway@${PORTKEY_VERSION} (+ ${Object.entries(PINS).map(([n, v]) => `${n}@${v}`).join(', ')}) into ${dir}`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], timeout: 180_000 });
    if (!ok()) throw new Error(`portkey install in ${dir} did not produce the pinned versions`);
  }
  return {
    dir,
    script: join(dir, 'node_modules/@portkey-ai/gateway/build/start-server.js'),
    versions: {
      '@portkey-ai/gateway': installedVersion(dir, '@portkey-ai/gateway'),
      '@hono/node-server': installedVersion(dir, '@hono/node-server'),
      hono: installedVersion(dir, 'hono'),
    },
  };
}

/** Portkey routes by headers: provider, custom host (our mock), and the provider key. */
export function portkeyHeaders(mockBaseUrl) {
  return {
    'content-type': 'application/json',
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': mockBaseUrl,
    authorization: 'Bearer bench',
  };
}
