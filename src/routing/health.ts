/**
 * Per-endpoint health from live traffic, in process memory. OpenRouter deprioritises endpoints with
 * significant failures in the last 30 s (spec §11.2); a rate-limit's Retry-After extends that.
 */
interface EndpointHealth {
  failures: number[]; // timestamps (ms) of recent hard failures, oldest first
  blockedUntil: number; // from Retry-After
  ttftMs: number | null; // exponentially weighted
  tokensPerSecond: number | null;
  successes: number;
}

const EWMA = 0.3;
const MAX_REMEMBERED = 32;

export class HealthTracker {
  private readonly byEndpoint = new Map<string, EndpointHealth>();

  constructor(private readonly windowMs = 30_000) {}

  private entry(key: string): EndpointHealth {
    let h = this.byEndpoint.get(key);
    if (!h) {
      h = { failures: [], blockedUntil: 0, ttftMs: null, tokensPerSecond: null, successes: 0 };
      this.byEndpoint.set(key, h);
    }
    return h;
  }

  recordFailure(key: string, now = Date.now(), retryAfterMs?: number): void {
    const h = this.entry(key);
    h.failures.push(now);
    if (h.failures.length > MAX_REMEMBERED) h.failures.shift();
    if (retryAfterMs && retryAfterMs > 0) h.blockedUntil = Math.max(h.blockedUntil, now + retryAfterMs);
  }

  recordSuccess(key: string, ttftMs: number | null, tokensPerSecond: number | null): void {
    const h = this.entry(key);
    h.successes++;
    if (ttftMs !== null) h.ttftMs = h.ttftMs === null ? ttftMs : h.ttftMs + EWMA * (ttftMs - h.ttftMs);
    if (tokensPerSecond !== null && Number.isFinite(tokensPerSecond)) {
      h.tokensPerSecond = h.tokensPerSecond === null ? tokensPerSecond : h.tokensPerSecond + EWMA * (tokensPerSecond - h.tokensPerSecond);
    }
  }

  /** True when the endpoint failed within the window or is inside a Retry-After period. */
  isDegraded(key: string, now = Date.now()): boolean {
    const h = this.byEndpoint.get(key);
    if (!h) return false;
    if (h.blockedUntil > now) return true;
    const last = h.failures[h.failures.length - 1];
    return last !== undefined && now - last < this.windowMs;
  }

  stats(key: string): { ttftMs: number | null; tokensPerSecond: number | null } {
    const h = this.byEndpoint.get(key);
    return { ttftMs: h?.ttftMs ?? null, tokensPerSecond: h?.tokensPerSecond ?? null };
  }
}
