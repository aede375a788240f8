import type { Logger } from 'pino';
import type { Caller } from '../auth/keys.js';
import { ApiError } from '../core/errors.js';
import type { TokenUsage } from '../providers/types.js';
import { usdToNano, usdToNanoCeil } from '../keys/money.js';
import type { RateLimiter, RateLimitSpec } from '../state/rate-limit.js';
import type { Admission, AdmissionRequest, Gate } from './gate.js';
import type { Ledger } from './ledger.js';

/**
 * The Gate behind every inference request: rate limit first (429), then reserve the worst-case
 * cost against the key's limit and the account balance (402, or 401 for a key disabled meanwhile);
 * the admission settles the actual cost when the generation ends, whatever way it ends.
 */
export class AccountingGate implements Gate {
  private limiterWarnedAt = -Infinity;

  constructor(
    private readonly ledger: Ledger,
    private readonly limiter: RateLimiter,
    private readonly log: Logger,
    private defaultRateLimit: RateLimitSpec | null = null,
  ) {}

  /** A reload's `limits.rate_limit`, for requests admitted from now on. */
  useDefaultRateLimit(spec: RateLimitSpec | null): void {
    this.defaultRateLimit = spec;
  }

  async admit(caller: Caller, request: AdmissionRequest): Promise<Admission> {
    const spec = caller.rateLimit ?? this.defaultRateLimit;
    const rateId = caller.hash ?? 'anonymous';
    if (spec) {
      let decision;
      try {
        decision = await this.limiter.hit(rateId, spec);
      } catch (err) {
        // Rate-limit state unreachable (the cluster primary did not answer): fail open, budgets
        // still hold (they live in the database). Said once a minute, not once a request.
        const now = Date.now();
        if (now - this.limiterWarnedAt >= 60_000) {
          this.limiterWarnedAt = now;
          this.log.warn({ err: (err as Error).message }, 'rate limiter unavailable; requests let through');
        }
      }
      if (decision && !decision.allowed) {
        const retryAfter = Math.max(1, Math.ceil((decision.resetAt - Date.now()) / 1000));
        throw new ApiError(
          429,
          'Rate limit exceeded',
          { error_type: 'rate_limit_exceeded', limit_type: decision.reason },
          {
            'Retry-After': String(retryAfter),
            'X-RateLimit-Limit': String(decision.limit),
            'X-RateLimit-Remaining': String(decision.remaining),
            'X-RateLimit-Reset': String(decision.resetAt),
          },
        );
      }
    }
    const reserved = await this.ledger.reserve({
      id: request.generationId,
      keyHash: caller.hash,
      dbKey: caller.source === 'db',
      keyLimited: caller.source === 'db' && caller.row?.limit_nano != null,
      amountNano: usdToNanoCeil(request.worstCaseUsd),
      model: request.model,
      maxOutputTokens: request.maxOutputTokens,
    });
    let settled = false;
    return {
      settle: (actualUsd: number, usage: TokenUsage | null) => {
        if (settled) return;
        settled = true;
        this.ledger.settle({ id: request.generationId, keyHash: caller.hash, dbKey: caller.source === 'db', reserved, actualNano: usdToNano(actualUsd), at: Date.now() });
        if (spec?.tokensPerMinute && usage) {
          void this.limiter.addTokens(rateId, usage.promptTokens + usage.completionTokens).catch(() => undefined);
        }
      },
    };
  }
}
