import type { Redis } from 'ioredis';

/**
 * Per-key request and token rate limits. Fixed windows: a key may make `requests` requests in each
 * window of `intervalMs` aligned to the epoch (so up to twice that can pass around a window
 * boundary), and, when `tokensPerMinute` is set, a request is refused while the tokens settled in
 * the current UTC minute already reached it (tokens are counted when a generation ends).
 *
 * With Redis, one Lua script checks and counts atomically against Redis's clock, so every replica
 * shares the same windows; without Redis the counters live in this process, or, for the workers
 * of `serve --workers N`, in their cluster primary (state/cluster-ipc.ts).
 */
export interface RateLimitSpec {
  requests: number | null;
  intervalMs: number;
  tokensPerMinute: number | null;
}

export interface RateDecision {
  allowed: boolean;
  /** Which limit decided: requests or tokens; 'none' when the key has no limit. */
  reason: 'requests' | 'tokens' | 'none';
  limit: number;
  remaining: number;
  resetAt: number; // epoch ms
}

export interface RateLimiter {
  readonly kind: 'redis' | 'memory' | 'cluster';
  hit(id: string, spec: RateLimitSpec): Promise<RateDecision>;
  addTokens(id: string, tokens: number): Promise<void>;
  close(): Promise<void>;
}

const NONE: RateDecision = { allowed: true, reason: 'none', limit: 0, remaining: 0, resetAt: 0 };

export class MemoryRateLimiter implements RateLimiter {
  readonly kind = 'memory' as const;
  private readonly counters = new Map<string, { n: number; expires: number }>();
  private sweeps = 0;

  private get(key: string, now: number): number {
    const c = this.counters.get(key);
    return c && c.expires > now ? c.n : 0;
  }

  private add(key: string, by: number, expires: number): number {
    const now = Date.now();
    const n = this.get(key, now) + by;
    this.counters.set(key, { n, expires });
    if (++this.sweeps % 1000 === 0) for (const [k, c] of this.counters) if (c.expires <= now) this.counters.delete(k);
    return n;
  }

  async hit(id: string, spec: RateLimitSpec): Promise<RateDecision> {
    const now = Date.now();
    if (spec.tokensPerMinute) {
      const minute = Math.floor(now / 60_000);
      if (this.get(`tok:${id}:${minute}`, now) >= spec.tokensPerMinute) {
        return { allowed: false, reason: 'tokens', limit: spec.tokensPerMinute, remaining: 0, resetAt: (minute + 1) * 60_000 };
      }
    }
    if (!spec.requests) return NONE;
    const win = Math.floor(now / spec.intervalMs);
    const key = `req:${id}:${spec.intervalMs}:${win}`;
    const resetAt = (win + 1) * spec.intervalMs;
    if (this.get(key, now) >= spec.requests) return { allowed: false, reason: 'requests', limit: spec.requests, remaining: 0, resetAt };
    const n = this.add(key, 1, resetAt);
    return { allowed: true, reason: 'requests', limit: spec.requests, remaining: spec.requests - n, resetAt };
  }

  async addTokens(id: string, tokens: number): Promise<void> {
    if (tokens <= 0) return;
    const minute = Math.floor(Date.now() / 60_000);
    this.add(`tok:${id}:${minute}`, tokens, (minute + 1) * 60_000);
  }

  async close(): Promise<void> {
    this.counters.clear();
  }
}

const HIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tpm = tonumber(ARGV[3])
if tpm > 0 then
  local minute = math.floor(now / 60000)
  local used = tonumber(redis.call('GET', KEYS[2] .. ':' .. minute) or '0')
  if used >= tpm then return {0, tpm, 0, (minute + 1) * 60000, 'tokens'} end
end
local limit = tonumber(ARGV[1])
if limit <= 0 then return {1, 0, 0, 0, 'none'} end
local interval = tonumber(ARGV[2])
local win = math.floor(now / interval)
local key = KEYS[1] .. ':' .. interval .. ':' .. win
local reset = (win + 1) * interval
local n = tonumber(redis.call('GET', key) or '0')
if n >= limit then return {0, limit, 0, reset, 'requests'} end
n = redis.call('INCR', key)
if n == 1 then redis.call('PEXPIRE', key, interval + 1000) end
return {1, limit, limit - n, reset, 'requests'}
`;

const ADD_TOKENS = `
local t = redis.call('TIME')
local minute = math.floor((tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) / 60000)
local key = KEYS[1] .. ':' .. minute
redis.call('INCRBY', key, ARGV[1])
redis.call('PEXPIRE', key, 120000)
return 1
`;

type Scripted = Redis & {
  switchyardRateHit(req: string, tok: string, limit: number, intervalMs: number, tpm: number): Promise<[number, number, number, number, string]>;
  switchyardAddTokens(tok: string, tokens: number): Promise<number>;
};

export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis' as const;
  private readonly redis: Scripted;

  constructor(redis: Redis) {
    redis.defineCommand('switchyardRateHit', { numberOfKeys: 2, lua: HIT });
    redis.defineCommand('switchyardAddTokens', { numberOfKeys: 1, lua: ADD_TOKENS });
    this.redis = redis as Scripted;
  }

  async hit(id: string, spec: RateLimitSpec): Promise<RateDecision> {
    const [allowed, limit, remaining, resetAt, reason] = await this.redis.switchyardRateHit(
      `rl:req:${id}`,
      `rl:tok:${id}`,
      spec.requests ?? 0,
      spec.intervalMs,
      spec.tokensPerMinute ?? 0,
    );
    return { allowed: allowed === 1, limit, remaining: Math.max(0, remaining), resetAt, reason: reason as RateDecision['reason'] };
  }

  async addTokens(id: string, tokens: number): Promise<void> {
    if (tokens > 0) await this.redis.switchyardAddTokens(`rl:tok:${id}`, tokens);
  }

  async close(): Promise<void> {}
}

export interface FallbackOptions {
  /** How often Redis is asked (PING) whether it answers again, while it does not. */
  probeIntervalMs?: number;
  /** Told once when Redis stops answering (counting moves into this process) and once when it is back. */
  onDown(reason: string): void;
  onUp(): void;
}

/**
 * Redis's shared counters while Redis answers; this process's own counters (`local`) while it
 * does not. The README's promise: with Redis unreachable requests go through, each waiting at most
 * one command timeout (the first that fails); later ones skip Redis altogether until a probe finds
 * it back. Connection events (lost, ready again) switch at once; a Redis that stops answering
 * without closing is found by the command timeout.
 */
export class FallbackRateLimiter implements RateLimiter {
  readonly kind = 'redis' as const;
  private down: string | null = null;
  private watching = false;
  private probe: NodeJS.Timeout | null = null;
  private readonly probeIntervalMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly shared: RateLimiter,
    private readonly local: RateLimiter,
    private readonly opts: FallbackOptions,
  ) {
    this.probeIntervalMs = opts.probeIntervalMs ?? 500;
    redis.on('error', (err: Error) => this.markDown(err.message));
    redis.on('close', () => this.markDown('connection closed'));
    redis.on('ready', () => this.markUp());
  }

  /** Starts reacting to connection events (before: start-up, which reports failures itself). */
  start(): void {
    this.watching = true;
  }

  /** Why Redis is not used, while it is not; null while it is. */
  get unavailable(): string | null {
    return this.down;
  }

  async hit(id: string, spec: RateLimitSpec): Promise<RateDecision> {
    if (this.down === null) {
      try {
        return await this.shared.hit(id, spec);
      } catch (err) {
        this.failed(err);
      }
    }
    return this.local.hit(id, spec);
  }

  async addTokens(id: string, tokens: number): Promise<void> {
    if (this.down === null) {
      try {
        return await this.shared.addTokens(id, tokens);
      } catch (err) {
        this.failed(err);
      }
    }
    return this.local.addTokens(id, tokens);
  }

  private failed(err: unknown): void {
    this.markDown(this.redis.status === 'ready' ? (err as Error).message : `not connected (${this.redis.status})`);
  }

  private markDown(reason: string): void {
    if (!this.watching || this.down !== null) return;
    this.down = reason;
    this.opts.onDown(reason);
    this.scheduleProbe();
  }

  private markUp(): void {
    if (this.down === null) return;
    this.down = null;
    if (this.probe) clearTimeout(this.probe);
    this.probe = null;
    this.opts.onUp();
  }

  private scheduleProbe(): void {
    this.probe = setTimeout(() => {
      this.probe = null;
      this.redis.ping().then(
        () => this.markUp(),
        () => {
          if (this.down !== null && this.watching) this.scheduleProbe();
        },
      );
    }, this.probeIntervalMs);
    this.probe.unref();
  }

  async close(): Promise<void> {
    this.watching = false;
    if (this.probe) clearTimeout(this.probe);
    this.probe = null;
    await this.local.close();
  }
}

/** "30s", "1m", "1h", "1d", or a number of milliseconds. */
export function parseInterval(v: string | number): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v > 0 ? v : null;
  const m = /^(\d+)\s*(ms|s|m|h|d)$/.exec(v.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return n > 0 ? n * unit : null;
}

export function formatInterval(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
