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
  /** config: `auth.keys` / SWITCHYARD_API_KEYS / SWITCHYARD_ADMIN_KEY; db: created with the CLI or the key API. */
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
  /** SHA-256 of a management key given by the environment (SWITCHYARD_ADMIN_KEY). */
  adminKeyDigest?: Buffer | null;
}

const ADMIN_KEY_LABEL = 'SWITCHYARD_ADMIN_KEY';

const MAX_CACHED = 10_000;

/** Inference keys of the configuration, and the environment's management key (SWITCHYARD_ADMIN_KEY) when given. */
function configuredKeys(keys: ApiKey[], adminKeyDigest: Buffer | null): { digest: Buffer; label: string; kind: 'inference' | 'management' }[] {
  const out = keys.map((k) => ({ digest: sha256(k.key), label: k.label, kind: 'inference' as const }) as { digest: Buffer; label: string; kind: 'inference' | 'management' });
  if (adminKeyDigest) out.push({ digest: adminKeyDigest, label: ADMIN_KEY_LABEL, kind: 'management' });
  return out;
}

interface Cached<T> {
  value: T;
  at: number;
  version: number;
}

/**
 * Bearer-key check against the configured keys and the keys in the database. Keys are held only
 * as SHA-256 digests and compared in constant time, so neither memory dumps nor response timing
 * reveal them. Database rows are cached briefly per replica; a change on any replica is published
 * on the bus and evicts the copy everywhere, and a change by another process on the same SQLite
 * file (the CLI, another worker) is seen through the configuration version it bumps. Keys with a credit limit are also re-checked atomically
 * when their cost is reserved. Without a working bus, a disabled key can pass for at most the
 * cache TTL on replicas that did not make the change.
 *
 * Auth is off while no key exists anywhere (configuration, environment, database).
 */
export class KeyRing {
  private keys: { digest: Buffer; label: string; kind: 'inference' | 'management' }[];
  private readonly store: KeyStore | null;
  private readonly ttl: number;
  private defaultRateLimit: RateLimitSpec | null;
  private readonly cache = new Map<string, Cached<KeyRow | null>>();
  private anyDbKey: Cached<boolean> | null = null;

  constructor(keys: ApiKey[], opts: KeyRingOptions = {}) {
    this.keys = configuredKeys(keys, opts.adminKeyDigest ?? null);
    this.store = opts.store ?? null;
    this.ttl = opts.cacheTtlMs ?? 2000;
    this.defaultRateLimit = opts.defaultRateLimit ?? null;
    if (opts.bus) void opts.bus.subscribe(KEYS_CHANNEL, (hash) => this.invalidate(hash)).catch(() => undefined);
  }

  /** A reload's keys and default rate limit (config/reload.ts); requests authenticated before keep what they got. */
  configure(keys: ApiKey[], defaultRateLimit: RateLimitSpec | null, adminKeyDigest: Buffer | null = null): void {
    this.keys = configuredKeys(keys, adminKeyDigest);
    this.defaultRateLimit = defaultRateLimit;
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

  /**
   * A cached read is trusted while it is younger than the TTL and the configuration version has not
   * moved since (on SQLite, any process changing a key or the credits bumps it; read every 5 ms).
   * Changes made through this process or announced on the bus evict entries at once.
   */
  private fresh<T>(c: Cached<T> | null | undefined, now: number): c is Cached<T> {
    return c != null && now - c.at <= this.ttl && c.version === this.store!.externalVersion();
  }

  async isEnabled(): Promise<boolean> {
    if (this.keys.length > 0) return true;
    if (!this.store) return false;
    const now = Date.now();
    // "No key yet" is cached on SQLite: the first key, made by the CLI in another process, bumps
    // the configuration version, so auth turns on within 5 ms. On PostgreSQL it is re-read every
    // time: a key written by a process that announces nothing must still turn auth on at once.
    if (!this.fresh(this.anyDbKey, now) || (!this.anyDbKey.value && !this.store.tracksExternalWrites)) {
      const version = this.store.externalVersion();
      this.anyDbKey = { value: await this.store.anyActive(now), at: now, version };
    }
    return this.anyDbKey.value;
  }

  private async row(hash: string): Promise<KeyRow | null> {
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (this.fresh(hit, now)) return hit.value;
    const version = this.store!.externalVersion();
    const row = await this.store!.get(hash);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(hash, { value: row, at: now, version });
    return row;
  }

  /** Any valid key (`Authorization: Bearer` or `x-api-key`), inference or management; anonymous when auth is off. */
  async authenticate(req: IncomingMessage): Promise<Caller> {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
    // Anthropic's clients send the key as `x-api-key`; any endpoint takes either form.
    const apiKey = req.headers['x-api-key'];
    const token = match?.[1].trim() || (typeof apiKey === 'string' ? apiKey.trim() : undefined);
    if (!(await this.isEnabled())) return ANONYMOUS;
    if (!token) throw new ApiError(401, 'No auth credentials found');
    const digest = sha256(token);
    let found: (typeof this.keys)[number] | null = null;
    for (const k of this.keys) if (timingSafeEqual(k.digest, digest)) found = k;
    const hash = digest.toString('hex');
    if (found !== null) return { label: found.label, hash, kind: found.kind, source: 'config', rateLimit: found.kind === 'management' ? null : this.defaultRateLimit };
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

  /** For inference endpoints: management keys are refused (docs/COMPATIBILITY.md#key-kinds). */
  async authenticateInference(req: IncomingMessage): Promise<Caller> {
    const caller = await this.authenticate(req);
    if (caller.kind === 'management') {
      throw new ApiError(403, 'Management keys cannot be used for inference; create an inference key with POST /api/v1/keys');
    }
    return caller;
  }

  /** For the key management API and /credits: management keys only (docs/COMPATIBILITY.md#key-kinds). */
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
