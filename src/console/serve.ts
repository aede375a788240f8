import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from '../core/errors.js';

/**
 * The web console (`/console`, and `/` redirects there): a single-page app built at build time by
 * scripts/build-console.ts from web/console/ into dist/web/console/. This module only serves those
 * files: from memory, pre-compressed (brotli or gzip as the browser accepts), content-hashed assets
 * cached for a year, the page itself revalidated every time, under a Content-Security-Policy that
 * lets the page load nothing but its own files and talk to nothing but this gateway.
 *
 * The page holds no secret: every datum it shows comes from the JSON API with the management key
 * the operator types in, so serving the files needs no auth.
 */

/** The build output; the same path from src/console/ (tests, tsx) and dist/console/ (built). */
export const CONSOLE_BUILD_DIR = fileURLToPath(new URL('../../dist/web/console/', import.meta.url));

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  type: string;
  etag: string;
  identity: Buffer;
  br?: Buffer;
  gzip?: Buffer;
  /** Content-hashed names never change content: cached for a year. */
  immutable: boolean;
}

interface Bundle {
  page: Asset;
  assets: Map<string, Asset>;
}

function asset(dir: string, name: string, type: string, immutable: boolean, body?: Buffer): Asset {
  const identity = body ?? readFileSync(join(dir, name));
  const variant = (suffix: string) => (body === undefined && existsSync(join(dir, name + suffix)) ? readFileSync(join(dir, name + suffix)) : undefined);
  return {
    type,
    etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`,
    identity,
    br: variant('.br'),
    gzip: variant('.gz'),
    immutable,
  };
}

/** Loaded once per build directory and API prefix (the page names the prefix its scripts call). */
const loaded = new Map<string, Bundle>();

function bundle(dir: string, apiPrefix: string): Bundle | null {
  const id = `${dir}\n${apiPrefix}`;
  const cached = loaded.get(id);
  if (cached) return cached;
  let b: Bundle | null = null;
  // Not there yet is not remembered: a build made after start-up is found.
  if (existsSync(join(dir, 'index.html'))) {
    const html = readFileSync(join(dir, 'index.html'), 'utf8').replace('%API_PREFIX%', apiPrefix.replace(/[^\w/.-]/g, ''));
    const assets = new Map<string, Asset>();
    const assetDir = join(dir, 'assets');
    for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
      const type = TYPES[extname(name)];
      if (type) assets.set(name, asset(assetDir, name, type, true));
    }
    b = { page: asset(dir, 'index.html', TYPES['.html'], false, Buffer.from(html)), assets };
  }
  if (b) loaded.set(id, b);
  return b;
}

/** Whether the console answers this path: `/`, `/console` and everything below it. */
export function isConsolePath(pathname: string): boolean {
  return pathname === '/' || pathname === '/console' || pathname.startsWith('/console/');
}

function send(req: IncomingMessage, res: ServerResponse, a: Asset): void {
  res.setHeader('Content-Type', a.type);
  res.setHeader('Cache-Control', a.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  res.setHeader('ETag', a.etag);
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Content-Security-Policy', CSP);
  if (req.headers['if-none-match'] === a.etag) {
    res.writeHead(304);
    res.end();
    return;
  }
  const accepted = String(req.headers['accept-encoding'] ?? '');
  let body = a.identity;
  if (a.br && /\bbr\b/.test(accepted)) {
    body = a.br;
    res.setHeader('Content-Encoding', 'br');
  } else if (a.gzip && /\bgzip\b/.test(accepted)) {
    body = a.gzip;
    res.setHeader('Content-Encoding', 'gzip');
  }
  res.setHeader('Content-Length', body.length);
  res.writeHead(200);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Answers a console path (see isConsolePath). Unknown paths below `/console/` get the page: the
 * app routes them itself (`/console/keys`, `/console/activity/gen-…`).
 */
export function serveConsole(req: IncomingMessage, res: ServerResponse, url: URL, apiPrefix: string, dir = CONSOLE_BUILD_DIR): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError(405, `Method ${req.method} not allowed on ${url.pathname}`);
  if (url.pathname === '/') {
    res.writeHead(302, { Location: '/console/', 'Content-Length': 0 });
    res.end();
    return;
  }
  const b = bundle(dir, apiPrefix);
  if (!b) throw new ApiError(503, 'The web console is not built: run `npm run build`');
  if (url.pathname.startsWith('/console/assets/')) {
    const a = b.assets.get(url.pathname.slice('/console/assets/'.length));
    if (!a) throw new ApiError(404, `Not found: ${url.pathname}`);
    send(req, res, a);
    return;
  }
  send(req, res, b.page);
}
