import type { ServerResponse } from 'node:http';
import { tickerFor, type Tickable } from '../core/ticker.js';

/**
 * The client side of a streamed answer, in any wire. `open` commits status 200 and starts the
 * wire's keep-alive (an SSE comment or a ping event) whenever nothing else was written for an
 * interval; `contentCommitted` records whether any content went out, after which fallback is no
 * longer invisible.
 */
export class SseResponse implements Tickable {
  opened = false;
  contentCommitted = false;
  private lastWrite = 0;
  private ticking = false;
  tickSlot = -1;

  constructor(
    private readonly res: ServerResponse,
    private readonly keepaliveMs: number,
    private readonly keepAlive: string,
    /** The first write, which carries the status line out (defaults to the keep-alive). */
    private readonly opening: string = keepAlive,
  ) {}

  open(generationId: string, route?: string, extraHeaders?: Record<string, string>): void {
    if (this.opened) return;
    this.opened = true;
    const headers: Record<string, string> = {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      'X-Generation-Id': generationId,
    };
    // Assigned, not spread in: spreading a fresh object literal costs V8 far more than a store.
    if (route) headers['X-Switchyard-Route'] = route;
    if (extraHeaders) for (const k in extraHeaders) headers[k] = extraHeaders[k]!;
    this.res.writeHead(200, headers);
    // The first comment carries the status line and headers out in the same write.
    this.write(this.opening);
    this.ticking = true;
    tickerFor(this.keepaliveMs).add(this);
  }

  tick(now: number): void {
    if (now - this.lastWrite >= this.keepaliveMs) this.write(this.keepAlive);
  }

  get backpressured(): boolean {
    return this.res.writableNeedDrain;
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  write(data: string): void {
    if (!data || this.res.writableEnded || this.res.destroyed) return;
    this.lastWrite = Date.now();
    this.res.write(data);
  }

  end(data: string): void {
    this.stopKeepAlive();
    if (this.res.writableEnded || this.res.destroyed) return;
    this.res.end(data);
  }

  stopKeepAlive(): void {
    if (!this.ticking) return;
    this.ticking = false;
    tickerFor(this.keepaliveMs).delete(this);
  }
}
