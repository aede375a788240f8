/** Money in the database is integer nano-dollars (1e-9 USD); the API speaks USD numbers. */
export const NANO_PER_USD = 1e9;

export const usdToNano = (usd: number): number => Math.round(usd * NANO_PER_USD);
/** Rounds up: used for reservations, which must cover the worst case. */
export const usdToNanoCeil = (usd: number): number => Math.ceil(usd * NANO_PER_USD - 1e-6);
export const nanoToUsd = (nano: number): number => Number((nano / NANO_PER_USD).toFixed(9));

/**
 * The account's total credits stay within 0..this ($9,000,000): below 2^53, so every figure is exact
 * as a JavaScript number (PostgreSQL hands BIGINT over as text).
 */
export const MAX_CREDITS_NANO = 9_000_000 * NANO_PER_USD;

/** Why a credits change that would leave 0..MAX_CREDITS_NANO was refused. */
export function creditsRangeMessage(totalNano: number): string {
  const bound = totalNano < 0 ? 'they cannot go below $0' : `they cannot exceed $${nanoToUsd(MAX_CREDITS_NANO)}`;
  const total = totalNano < 0 ? `-$${nanoToUsd(-totalNano)}` : `$${nanoToUsd(totalNano)}`;
  return `total credits would be ${total}; ${bound}`;
}

export type LimitReset = 'daily' | 'weekly' | 'monthly';

/** Start (ms, UTC) of the budget period containing `now`; 0 for a limit that never resets. Weeks start on Monday. */
export function periodStart(reset: LimitReset | null, now: number): number {
  if (!reset) return 0;
  const d = new Date(now);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (reset === 'daily') return day;
  if (reset === 'weekly') return day - ((d.getUTCDay() + 6) % 7) * 86_400_000;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export interface PeriodStarts {
  daily: number;
  weekly: number;
  monthly: number;
}

export function periodStarts(now: number): PeriodStarts {
  return { daily: periodStart('daily', now), weekly: periodStart('weekly', now), monthly: periodStart('monthly', now) };
}

/**
 * SQL for "start of this key's current period", from the three starts passed as parameters
 * $d, $w, $m. Used inside the atomic reserve/settle statements so a period rolls over lazily.
 */
export function periodStartSql(d: number, w: number, m: number): string {
  return `(CASE limit_reset WHEN 'daily' THEN CAST($${d} AS BIGINT) WHEN 'weekly' THEN CAST($${w} AS BIGINT) WHEN 'monthly' THEN CAST($${m} AS BIGINT) ELSE 0 END)`;
}

export const isoOrNull = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString().replace(/\.\d{3}Z$/, 'Z');
