/**
 * One timer for many periodic checks. Every open stream and every waiting non-streaming request
 * needs a keep-alive check about once a second; a setInterval each cost a timer object, a closure
 * and two timer-list operations per request. Here one interval per period walks a set of
 * subscribers, and runs only while the set is not empty.
 */
export interface Tickable {
  tick(now: number): void;
}

class Ticker {
  private readonly members = new Set<Tickable>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly periodMs: number) {}

  add(t: Tickable): void {
    this.members.add(t);
    if (!this.timer) {
      this.timer = setInterval(() => {
        const now = Date.now();
        for (const m of this.members) m.tick(now);
      }, this.periodMs);
      this.timer.unref();
    }
  }

  delete(t: Tickable): void {
    this.members.delete(t);
    if (this.members.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

const tickers = new Map<number, Ticker>();

/**
 * The shared ticker for checks due every `intervalMs`: it fires four times per interval, so a
 * check runs at most a quarter interval late.
 */
export function tickerFor(intervalMs: number): Ticker {
  const period = Math.max(5, Math.floor(intervalMs / 4));
  let t = tickers.get(period);
  if (!t) {
    t = new Ticker(period);
    tickers.set(period, t);
  }
  return t;
}
