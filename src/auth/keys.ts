import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../core/errors.js';
import type { ApiKey } from '../config/load.js';
import { hashKey, isUsable, KEYS_CHANNEL, rateLimitOf, type KeyRow, type KeyStore } from '../keys/store.js';
import type { Bus } from '../state/bus.js';
import type { RateLimitSpec } from '../state/rate-limit.js';

export interface Caller {
  label: string | null; // null when auth is off
  /** SHA-256 hex of the bearer key (the key API's `hash`); null when auth is off. */
  hash: string | null;
  kind: 'inference' | 'management' | 'anonymous';
  /** config: `auth.keys` / SWITCHYARD_API_KEYS; db: created with the CLI or the key API. */
  source: 'config' | 'db' | 'none';
  rateLimit: RateLimitSpec | null;
  /** The key's database row as read for this request (db keys only). */
  row?: KeyRow;
}

export const ANONYMOUS: Caller = { label: null, hash: null, kind: 'anonymous', source: 'none', rateLimit: null };

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export interface KeyRingOptions {
  store?: KeyStore;
  bus?: Bus;
  /** How long a replica trusts its cached copy of a key row without hearing of a change. */
  cacheTtlMs?: number;
  /** Applied to keys without a rate limit of their own. */
  defaultRateLimit?: RateLimitSpec | null;
}

const MAX_CACHED = 10_000;

/**
 * Bearer-key check against the configured keys and the keys in the database. Keys are held only
 * as SHA-256 digests and compared in constant time, so neither memory dumps nor response timing
 * reveal them. Database rows are cached briefly per replica; a change on any replica is published
 * on the bus and evicts the copy everywhere. Inference requests also re-check the row atomically
 * when their cost is reserved, so a disabled key is refused by every replica at once.
 *
 * Auth is off while no key exists anywhere (configuration, environment, database).
 */
export class KeyRing {
  private readonly keys: { digest: Buffer; label: string }[];
  private readonly store: KeyStore | null;
  private readonly ttl: number;
  private readonly defaultRateLimit: RateLimitSpec | null;
  private readonly cache = new Map<string, { row: KeyRow | null; at: number }>();
  private anyDbKey: { value: boolean; at: number } | null = null;

  constructor(keys: ApiKey[], opts: KeyRingOptions = {}) {
    this.keys = keys.map((k) => ({ digest: sha256(k.key), label: k.label }));
    this.store = opts.store ?? null;
    this.ttl = opts.cacheTtlMs ?? 2000;
    this.defaultRateLimit = opts.defaultRateLimit ?? null;
    if (opts.bus) void opts.bus.subscribe(KEYS_CHANNEL, (hash) => this.invalidate(hash)).catch(() => undefined);
  }

  /** Configured keys exist (database keys are checked by isEnabled). */
  get enabled(): boolean {
    return this.keys.length > 0;
  }

  invalidate(hash?: string): void {
    if (hash) this.cache.delete(hash);
    else this.cache.clear();
    this.anyDbKey = null;
  }

  async isEnabled(): Promise<boolean> {
    if (this.keys.length > 0) return true;
    if (!this.store) return false;
    const now = Date.now();
    // "A key exists" is cached; "no key yet" is not, so the first key (made by the CLI in another
    // process, or on another replica) turns auth on with the very next request.
    if (!this.anyDbKey || !this.anyDbKey.value || now - this.anyDbKey.at > this.ttl) this.anyDbKey = { value: await this.store.anyActive(now), at: now };
    return this.anyDbKey.value;
  }

  private async row(hash: string): Promise<KeyRow | null> {
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && now - hit.at <= this.ttl) return hit.row;
    const row = await this.store!.get(hash);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(hash, { row, at: now });
    return row;
  }

  /** Any valid key, inference or management; anonymous when auth is off. */
  async authenticate(req: IncomingMessage): Promise<Caller> {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
    const token = match?.[1].trim();
    if (!(await this.isEnabled())) return ANONYMOUS;
    if (!token) throw new ApiError(401, 'No auth credentials found');
    const digest = sha256(token);
    let found: string | null = null;
    for (const k of this.keys) if (timingSafeEqual(k.digest, digest)) found = k.label;
    const hash = digest.toString('hex');
    if (found !== null) return { label: found, hash, kind: 'inference', source: 'config', rateLimit: this.defaultRateLimit };
    if (this.store) {
      const row = await this.row(hash);
      if (row && timingSafeEqual(Buffer.from(row.hash, 'hex'), digest) && isUsable(row)) {
        return {
          label: row.label,
          hash,
          kind: row.is_management === 1 ? 'management' : 'inference',
          source: 'db',
          rateLimit: rateLimitOf(row) ?? this.defaultRateLimit,
          row,
        };
      }
    }
    throw new ApiError(401, 'User not found.');
  }

  /** For inference endpoints: management keys are refused (spec §1.2). */
  async authenticateInference(req: IncomingMessage): Promise<Caller> {
    const caller = await this.authenticate(req);
    if (caller.kind === 'management') {
      throw new ApiError(403, 'Management keys cannot be used for inference; create an inference key with POST /api/v1/keys');
    }
    return caller;
  }

  /** For the key management API and /credits: management keys only (spec §24, §25). */
  async authenticateManagement(req: IncomingMessage): Promise<Caller> {
    if (!(await this.isEnabled())) {
      throw new ApiError(401, 'No auth credentials found', { hint: 'create the first management key with: switchyard keys create --management' });
    }
    const caller = await this.authenticate(req);
    if (caller.kind !== 'management') throw new ApiError(403, 'Only management keys can perform this operation');
    return caller;
  }
}

export { hashKey };
