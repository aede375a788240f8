import { setTimeout as sleep } from 'node:timers/promises';
import type { UpstreamBody } from '../types.js';
import type { CancelSignal } from '../../core/cancel.js';

/**
 * A response body played from a script: pieces of text released after given delays. It has the
 * part of undici's body API the pipeline uses (async iteration, text(), destroy()).
 */
export class ScriptedBody implements UpstreamBody {
  destroyed = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly pieces: (string | Buffer)[],
    private readonly delaysMs: number[],
    signal?: CancelSignal,
  ) {
    signal?.addEventListener('abort', () => this.destroy(), { once: true });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (let i = 0; i < this.pieces.length; i++) {
      const delay = this.delaysMs[i] ?? 0;
      if (delay > 0) {
        try {
          await sleep(delay, undefined, { signal: this.abort.signal });
        } catch {
          return;
        }
      }
      if (this.destroyed) return;
      const piece = this.pieces[i];
      yield typeof piece === 'string' ? Buffer.from(piece) : piece;
    }
  }

  async text(): Promise<string> {
    let out = '';
    for await (const piece of this) out += piece.toString('utf8');
    return out;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.abort.abort();
  }
}
