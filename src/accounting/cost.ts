import type { PriceTable } from '../catalog/types.js';
import type { TokenUsage } from '../model/response.js';

export interface Cost {
  prompt: number;
  completion: number;
  total: number;
}

/** Exact powers of ten as doubles (10^22 is the last one a double holds exactly). */
const POW10 = Array.from({ length: 23 }, (_v, i) => Number(`1e${i}`));

/**
 * Money as OpenRouter prints it: no float noise (0.0000126, not 0.000012599999999999998). The
 * value is `Number(x.toPrecision(12))`, x rounded to 12 significant digits, but computed with
 * arithmetic: toPrecision formats through V8's exact decimal conversion and was 1.4 % of a
 * request's CPU profile (three calls per request).
 *
 * Why the arithmetic gives the same double: with k chosen so that x·10^k has 12 integer digits
 * (k ≤ 22), the product is computed within 2^-13 of its exact value (it is below 2^40), so when
 * its fraction is not within 1e-3 of a half, rounding it gives the same integer n as rounding the
 * exact value (which is what toPrecision does). n < 2^53 and 10^k are exact doubles, so n / 10^k
 * is correctly rounded: the double nearest to n·10^-k, which is also what parsing the decimal
 * string gives. Anything else (near-halves, magnitudes outside [1e-10, 1e11)) takes toPrecision.
 */
export function roundUsd(x: number): number {
  if (!Number.isFinite(x) || x <= 0) return 0;
  if (x >= 1e-10 && x < 1e11) {
    let k = 11 - Math.floor(Math.log10(x));
    let scaled = x * POW10[k]!;
    // log10 can be one off next to a power of ten.
    if (scaled >= 1e12) scaled = x * POW10[--k]!;
    else if (scaled < 1e11 && k < 22) scaled = x * POW10[++k]!;
    const floor = Math.floor(scaled);
    const fraction = scaled - floor;
    if (scaled >= 1e11 && scaled < 1e12 && Math.abs(fraction - 0.5) > 1e-3) return (fraction < 0.5 ? floor : floor + 1) / POW10[k]!;
  }
  return Number(x.toPrecision(12));
}

/**
 * Cost from the endpoint's prices and the upstream's token counts (docs/COMPATIBILITY.md#cost-arithmetic):
 * prompt = uncached × prompt price + cached × cache-read + cache-writes × cache-write, plus the
 * per-request price and the provider's web searches × its search price, or that price once when the
 * endpoint charges it per answer that searched (fees on the asking side);
 * completion = completion tokens (reasoning included) × completion price, unless the endpoint
 * prices reasoning separately. A discount applies to both.
 */
export function computeCost(usage: TokenUsage, price: PriceTable): Cost {
  const uncached = Math.max(0, usage.promptTokens - usage.cachedTokens - usage.cacheWriteTokens);
  const keep = 1 - price.discount;
  const searches = usage.webSearchRequests ?? 0;
  const searchFees = (price.webSearchPerRequest ? Math.min(searches, 1) : searches) * price.webSearch;
  const prompt = roundUsd((uncached * price.prompt + usage.cachedTokens * price.cacheRead + usage.cacheWriteTokens * price.cacheWrite + price.request + searchFees) * keep);
  const completionTokens = price.reasoning === null ? usage.completionTokens : usage.completionTokens - usage.reasoningTokens;
  const reasoningCost = price.reasoning === null ? 0 : usage.reasoningTokens * price.reasoning;
  const completion = roundUsd((completionTokens * price.completion + reasoningCost) * keep);
  return { prompt, completion, total: roundUsd(prompt + completion) };
}

export const ZERO_USAGE: TokenUsage = {
  promptTokens: 0,
  completionTokens: 0,
  cachedTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  audioPromptTokens: 0,
};
