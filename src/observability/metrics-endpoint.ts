import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App } from '../app.js';
import { ApiError } from '../core/errors.js';

/**
 * `GET /metrics` (on the main port, outside the API prefixes): the Prometheus text exposition.
 * Open while auth is off; once any key exists it takes a management key, unless `metrics.public`
 * (or SWITCHYARD_METRICS_PUBLIC=1) opens it to anyone who reaches the port.
 */
export async function serveMetrics(app: App, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!app.settings.metrics.enabled) throw new ApiError(404, 'Metrics are off (metrics.enabled: false)');
  if (!app.settings.metrics.public && (await app.keys.isEnabled())) await app.keys.authenticateManagement(req);
  const scraped = await app.observer.scrape();
  if (!scraped) throw new ApiError(503, 'Metrics are not collected yet');
  res.writeHead(200, { 'Content-Type': scraped.contentType, 'Content-Length': Buffer.byteLength(scraped.body), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : scraped.body);
}
