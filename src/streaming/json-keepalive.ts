import type { ServerResponse } from 'node:http';
import { tickerFor, type Tickable } from '../core/ticker.js';

/** OpenRouter's keep-alive unit for non-streaming bodies: newline, nine spaces, newline (docs/COMPATIBILITY.md#whitespace-keep-alive). */
const WHITESPACE_UNIT = '\n         \n';

/**
 * Non-streamed answers to slow upstreams: once an upstream accepted the request and nothing is
 * ready after an interval, commit 200 and write whitespace (JSON parsers ignore it) so idle-timeout
 * proxies keep the connection. Until then the real status can still be sent.
 */
export class JsonKeepAlive implements Tickable {
  committed = false;
  private started = false;
  private lastWrite = 0;
  private generationId = '';
  private route = '';
  private extra: Record<string, string> | undefined;
  tickSlot = -1;

  constructor(
    private readonly res: ServerResponse,
    private readonly intervalMs: number,
  ) {}

  /** `route` is the explanation header of the attempt now serving (X-Switchyard-Route). */
  start(generationId: string, route: string, extraHeaders?: Record<string, string>): void {
    this.generationId = generationId;
    this.route = route;
    this.extra = extraHeaders;
    // An interval of 0: the wire takes no whitespace before its JSON; only the headers are kept.
    if (this.started || this.intervalMs <= 0) return;
    this.started = true;
    this.lastWrite = Date.now();
    tickerFor(this.intervalMs).add(this);
  }

  tick(now: number): void {
    if (now - this.lastWrite < this.intervalMs) return;
    if (this.res.writableEnded || this.res.destroyed) return this.stop();
    this.lastWrite = now;
    if (!this.committed) {
      this.committed = true;
      this.res.writeHead(200, { 'Content-Type': 'application/json', 'X-Generation-Id': this.generationId, 'X-Switchyard-Route': this.route, ...this.extra });
    }
    this.res.write(WHITESPACE_UNIT);
  }

  finish(status: number, json: string): void {
    this.stop();
    if (this.res.writableEnded || this.res.destroyed) return;
    if (!this.committed) {
      this.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), 'X-Generation-Id': this.generationId, 'X-Switchyard-Route': this.route, ...this.extra });
    }
    this.res.end(json);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    tickerFor(this.intervalMs).delete(this);
  }
}
