// Builds the web console (web/console/) into dist/web/console/, which src/console/serve.ts serves:
// one JavaScript and one CSS file bundled and minified by esbuild (Preact and uPlot included, so the
// page loads nothing from elsewhere), named by their content hash, each with a brotli and a gzip copy;
// and index.html naming them. Run by scripts/generate.ts (so by `npm run build`, `npm test`,
// `npm run lint` and `npm start`'s rebuild); about a tenth of a second. Files are rewritten only
// when their content changes, and assets of earlier builds are removed.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE = join(ROOT, 'web/console');
export const CONSOLE_OUT = join(ROOT, 'dist/web/console');

function writeIfChanged(path: string, data: Uint8Array | string): boolean {
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  if (existsSync(path) && readFileSync(path).equals(bytes)) return false;
  writeFileSync(path, bytes);
  return true;
}

/** Libraries bundled into the console's script, whose licence texts travel with it. */
const BUNDLED = [
  { name: 'Preact', license: 'node_modules/preact/LICENSE' },
  { name: 'uPlot', license: 'node_modules/uplot/LICENSE' },
];

export async function buildConsole(): Promise<void> {
  const assetDir = join(CONSOLE_OUT, 'assets');
  mkdirSync(assetDir, { recursive: true });
  const result = await build({
    entryPoints: { console: join(SOURCE, 'main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome111', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: assetDir,
    entryNames: '[name]-[hash]',
    legalComments: 'eof',
    // The MIT notices of what is bundled (uPlot's own header is not a legal comment esbuild keeps).
    banner: { js: `/*! Switchyard console. Bundles ${BUNDLED.map((b) => `${b.name} (MIT)`).join(' and ')}: see THIRD_PARTY_LICENSES.txt */` },
    write: false,
    logLevel: 'warning',
  });
  const kept = new Set<string>();
  let js = '';
  let css = '';
  let changed = 0;
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    if (name.endsWith('.js')) js = name;
    else if (name.endsWith('.css')) css = name;
    const variants: [string, Uint8Array][] = [
      [name, file.contents],
      [`${name}.br`, brotliCompressSync(file.contents, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } })],
      [`${name}.gz`, gzipSync(file.contents, { level: 9 })],
    ];
    for (const [n, bytes] of variants) {
      kept.add(n);
      if (writeIfChanged(join(assetDir, n), bytes)) changed++;
    }
  }
  if (!js || !css) throw new Error('build-console: esbuild produced no JavaScript or no CSS');
  for (const name of readdirSync(assetDir)) if (!kept.has(name)) rmSync(join(assetDir, name));
  const licenses = BUNDLED.map((b) => `${b.name}\n${'='.repeat(b.name.length)}\n\n${readFileSync(join(ROOT, b.license), 'utf8').trim()}\n`).join('\n');
  if (writeIfChanged(join(CONSOLE_OUT, 'THIRD_PARTY_LICENSES.txt'), `The web console bundles these libraries.\n\n${licenses}`)) changed++;
  const page = readFileSync(join(SOURCE, 'index.html'), 'utf8').replace('%CSS%', `/console/assets/${css}`).replace('%JS%', `/console/assets/${js}`);
  if (writeIfChanged(join(CONSOLE_OUT, 'index.html'), page)) changed++;
  // Its time says when the console was last built from its sources (scripts/ensure-build.mjs).
  const now = new Date();
  utimesSync(join(CONSOLE_OUT, 'index.html'), now, now);
  if (changed > 0) {
    const size = (n: string) => Math.round(readFileSync(join(assetDir, n)).length / 1024);
    console.log(`build-console: wrote dist/web/console (${js} ${size(js)} KiB, ${size(`${js}.br`)} KiB brotli; ${css} ${size(css)} KiB)`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildConsole();
