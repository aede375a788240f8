/**
 * One timer for many periodic checks. Every open stream and every waiting non-streaming request
 * needs a keep-alive check about once a second; a setInterval each cost a timer object, a closure
 * and two timer-list operations per request. Here one interval per period walks the members, and
 * runs while there are any (it stops at the first tick that finds none, so back-to-back requests
 * at concurrency 1 do not start and stop it each time).
 *
 * Members sit in a plain array and know their slot, so joining and leaving allocate nothing: a
 * `Set` that every request entered and left rehashed into new tables as it churned, which lived
 * as long as the set and were promoted by each scavenge (43 % of what survived scavenges at c=16,
 * by a sampling heap profile; the pattern of item 24 in bench/README.md).
 */
export interface Tickable {
  tick(now: number): void;
  /** The member's slot in its ticker; -1 while not a member. Owned by the ticker. */
  tickSlot: number;
}

class Ticker {
  /** Members in slots 0 … count−1; the array never shrinks, vacated slots are cleared. */
  private readonly slots: (Tickable | null)[] = [];
  private count = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly periodMs: number) {}

  add(t: Tickable): void {
    if (t.tickSlot >= 0) return;
    t.tickSlot = this.count;
    if (this.count < this.slots.length) this.slots[this.count] = t;
    else this.slots.push(t);
    this.count++;
    if (!this.timer) {
      this.timer = setInterval(() => this.run(), this.periodMs);
      this.timer.unref();
    }
  }

  delete(t: Tickable): void {
    const i = t.tickSlot;
    if (i < 0 || this.slots[i] !== t) return;
    const last = this.slots[--this.count]!;
    this.slots[i] = last;
    last.tickSlot = i;
    this.slots[this.count] = null;
    t.tickSlot = -1;
  }

  get size(): number {
    return this.count;
  }

  private run(): void {
    if (this.count === 0) {
      clearInterval(this.timer!);
      this.timer = null;
      return;
    }
    const now = Date.now();
    // From the end: a member that leaves during its tick is replaced by one already visited.
    for (let i = this.count - 1; i >= 0; i--) {
      if (i >= this.count) continue;
      this.slots[i]!.tick(now);
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
