/**
 * The shared keep-alive ticker (src/core/ticker.ts): every member ticks once per period, members
 * that leave during their own tick do not make others miss theirs, joining twice or leaving when
 * not a member change nothing, and the interval stops once a tick finds no member (and starts
 * again with the next one).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { tickerFor, type Tickable } from '../src/core/ticker.js';

class Member implements Tickable {
  tickSlot = -1;
  ticks = 0;
  constructor(private readonly onTick: (m: Member) => void = () => undefined) {}
  tick(): void {
    this.ticks++;
    this.onTick(this);
  }
}

describe('ticker', () => {
  it('ticks every member; members leaving in their own tick do not make others miss one', async () => {
    const ticker = tickerFor(40); // a 10 ms period
    const leaveAfterOne = (m: Member) => ticker.delete(m);
    const members = Array.from({ length: 9 }, (_v, i) => new Member(i % 3 === 0 ? leaveAfterOne : undefined));
    for (const m of members) ticker.add(m);
    ticker.add(members[1]); // already a member: no second slot
    assert.equal(ticker.size, 9);
    await sleep(35);
    for (const [i, m] of members.entries()) {
      if (i % 3 === 0) {
        assert.equal(m.ticks, 1, `member ${i} ticked once, then left`);
        assert.equal(m.tickSlot, -1);
      } else assert.ok(m.ticks >= 2, `member ${i} ticked every period (${m.ticks})`);
    }
    assert.equal(ticker.size, 6);
    ticker.delete(members[0]); // not a member any more: nothing happens
    assert.equal(ticker.size, 6);
    const counts = members.map((m) => m.ticks);
    for (const m of members) ticker.delete(m);
    assert.equal(ticker.size, 0);
    await sleep(35);
    assert.deepEqual(members.map((m) => m.ticks), counts, 'no ticks after leaving');
    // Empty: the interval has stopped; a new member starts it again.
    const late = new Member();
    ticker.add(late);
    await sleep(35);
    assert.ok(late.ticks >= 2, `a member added after the ticker stopped ticks (${late.ticks})`);
    ticker.delete(late);
  });
});
