/**
 * roundUsd (src/accounting/cost.ts) computes `Number(x.toPrecision(12))` with arithmetic. Costs
 * are printed in responses and compared with recorded OpenRouter traffic as strings, so the
 * result must be the very same double for every input: checked here against toPrecision on
 * millions of values, including the halves and powers of ten where the arithmetic could differ.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { roundUsd } from '../src/accounting/cost.js';

const reference = (x: number): number => (!Number.isFinite(x) || x <= 0 ? 0 : Number(x.toPrecision(12)));

function check(x: number): void {
  const got = roundUsd(x);
  const want = reference(x);
  if (!Object.is(got, want)) assert.fail(`roundUsd(${x}) = ${got}, toPrecision gives ${want}`);
}

describe('roundUsd', () => {
  it('matches toPrecision(12) on costs as they are computed: tokens × prices, sums, discounts', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const prices = [1e-7, 1.5e-7, 2e-7, 5.9e-7, 7.9e-7, 1e-6, 1.25e-6, 2.5e-6, 3e-6, 1.5e-5, 7.5e-5, 0.0000126, 0.001, 0.04];
    for (let i = 0; i < 300_000; i++) {
      const tokens = Math.floor(rand() * (i % 3 === 0 ? 2_000_000 : 5_000));
      const a = tokens * prices[i % prices.length]!;
      const b = Math.floor(rand() * 4000) * prices[(i * 7) % prices.length]!;
      check(a);
      check(a + b);
      check((a + b) * (1 - 0.25));
      check(roundUsd(a) + roundUsd(b));
    }
  });

  it('matches toPrecision(12) across magnitudes, at halves and next to powers of ten', () => {
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 1_000_000; i++) check(Math.pow(10, rand() * 26 - 13) * (1 + rand()));
    for (let k = 0; k <= 23; k++) {
      for (let i = 0; i < 20_000; i++) {
        const n = 1e11 + Math.floor(rand() * 9e11);
        const half = (n + 0.5) / 10 ** k;
        check(half);
        check(half * (1 + Number.EPSILON));
        check(half * (1 - Number.EPSILON));
        check(n / 10 ** k);
      }
      const p = 10 ** (11 - k);
      for (const x of [p, p * (1 - Number.EPSILON), p * (1 + Number.EPSILON), p * (1 - 1e-12), p * (1 - 6e-13), p * (1 + 5e-12), 0.999999999999 * p, 0.9999999999995 * p]) check(x);
    }
    for (const x of [0, -1, Number.NaN, Infinity, -Infinity, Number.MIN_VALUE, 1e-300, 1e-10, 1e11, 9.99999999999e10, 1e300, Number.MAX_VALUE]) check(x);
  });
});
