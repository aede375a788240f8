/**
 * A headless Chromium for browser tests, driven by playwright-core (which brings no browser of its
 * own): the system's Chromium (Debian's `chromium` package), installed with apt-get when it is
 * missing and the tests run as root. Without one the tests fail, saying how to get it; they never
 * pass without a browser.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

function found(): string | undefined {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH names ${configured}, which does not exist`);
    return configured;
  }
  return CANDIDATES.find((p) => existsSync(p));
}

export function chromiumPath(): string {
  let path = found();
  if (!path && process.getuid?.() === 0) {
    const install = spawnSync('sh', ['-c', 'apt-get install -y chromium || (apt-get update && apt-get install -y chromium)'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (install.status !== 0) throw new Error(`apt-get install -y chromium failed (exit ${install.status}); the browser tests need Chromium`);
    path = found();
  }
  if (!path) {
    throw new Error(
      'The browser tests need Chromium and none was found (looked at CHROMIUM_PATH and ' +
        `${CANDIDATES.join(', ')}). Install it (Debian/Ubuntu: sudo apt-get install -y chromium) or set CHROMIUM_PATH.`,
    );
  }
  return path;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // --no-sandbox: Chromium's sandbox cannot start as root (CI runs as root).
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
  });
}
