/**
 * Starts a real Switchyard HTTP server on loopback for tests, configured through the same
 * environment variables an operator uses (<SLUG>_API_KEY / <SLUG>_BASE_URL), with its own data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadSettings, type WireEra } from '../../src/config/load.js';
import { createApp, type App } from '../../src/app.js';
import { startServer } from '../../src/http/server.js';
import type { Endpoint } from '../../src/catalog/types.js';
import { unitPrice } from '../../src/routing/select.js';

export interface GatewayOptions {
  /** provider slug -> mock base URL (e.g. mock.baseUrl) */
  providers: Record<string, string>;
  era?: WireEra;
  apiKeys?: string[];
  configFile?: string;
  env?: Record<string, string>;
  keepaliveMs?: number;
  logger?: import('pino').Logger;
}

export interface Gateway {
  url: string; // http://127.0.0.1:PORT
  baseUrl: string; // url + /api/v1
  app: App;
  dataDir: string;
  /** Shuts the server down (drain, final writes) and keeps the data dir, for a test to read. */
  shutdown(): Promise<void>;
  /** shutdown(), then the data dir is removed. */
  close(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  const env: Record<string, string> = { SWITCHYARD_DATA_DIR: dataDir, ...(opts.env ?? {}) };
  for (const [slug, url] of Object.entries(opts.providers)) {
    const stem = slug.toUpperCase().replace(/[^A-Z0-9]/g, '_');
    env[`${stem}_API_KEY`] = `test-key-${slug}`;
    env[`${stem}_BASE_URL`] = url;
  }
  if (opts.era) env.SWITCHYARD_WIRE_ERA = opts.era;
  if (opts.apiKeys) env.SWITCHYARD_API_KEYS = opts.apiKeys.join(',');
  const settings = loadSettings({ env, port: 0, host: '127.0.0.1', configFile: opts.configFile, cwd: dataDir });
  if (opts.keepaliveMs) settings.keepaliveMs = opts.keepaliveMs;
  const app = createApp(settings, { logger: opts.logger ?? pino({ level: 'silent' }) });
  const running = await startServer(app);
  return {
    url: running.url,
    baseUrl: `${running.url}/api/v1`,
    app,
    dataDir,
    shutdown: () => running.shutdown(),
    async close() {
      await running.shutdown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * An RNG that makes the default price-weighted lottery pick `key` first among the enabled
 * endpoints of `modelId`, so tests that need a particular first provider stay deterministic.
 */
export function rngPicking(app: App, modelId: string, key: string): () => number {
  const model = app.settings.catalog.models.get(modelId)!;
  const eps: Endpoint[] = app.settings.catalog
    .endpointsOf(model)
    .filter((ep) => app.settings.providers.get(ep.provider.slug)?.enabled);
  const weights = eps.map((ep) => 1 / Math.max(unitPrice(ep), 1e-12) ** 2);
  const total = weights.reduce((a, b) => a + b, 0);
  const i = eps.findIndex((ep) => ep.key === key);
  if (i < 0) throw new Error(`${key} is not an enabled endpoint of ${modelId}`);
  const before = weights.slice(0, i).reduce((a, b) => a + b, 0);
  const r = (before + weights[i] / 2) / total;
  return () => r;
}

/** Reads an SSE response body into its data payloads and comment count. */
export async function readSse(res: Response): Promise<{ events: string[]; comments: number; raw: string }> {
  const raw = await res.text();
  const events: string[] = [];
  let comments = 0;
  for (const block of raw.split('\n\n')) {
    if (!block) continue;
    if (block.startsWith(':')) comments++;
    else if (block.startsWith('data: ')) events.push(block.slice(6));
  }
  return { events, comments, raw };
}

/** A chunk with its per-run identity (id, created) blanked, for byte-level comparison. */
export function blankIdentity(event: string): string {
  return event.replace(/"id":"gen-\d+-[A-Za-z0-9]{20}"/, '"id":"gen-X"').replace(/"created":\d+/, '"created":0');
}

export function postChat(gw: Gateway, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
