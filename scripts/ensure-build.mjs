// Builds dist/ when it is missing or older than any source file, so `npm start` always serves current code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const marker = 'dist/cli/main.js';
const consolePage = 'dist/web/console/index.html';
const stale =
  !existsSync(marker) ||
  !existsSync('dist/validation/compiled.js') ||
  statSync(marker).mtimeMs < newest('src') ||
  // The web console (web/console/), bundled by generate.ts.
  !existsSync(consolePage) ||
  statSync(consolePage).mtimeMs < newest('web');
if (stale) {
  // As `npm run build`: the validators are generated from the schemas, then everything is compiled.
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/generate.ts'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
