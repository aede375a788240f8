/**
 * Key pools: several credentials for one provider (`GROQ_API_KEY=k1,k2,k3`, or
 * `providers.<slug>.keys`). Each attempt takes the next key by smooth weighted round robin
 * among those not resting; a key that answers 429 (rate limited) or 401/403 (refused) rests on
 * its own, for the upstream's Retry-After when it gave one, while the others keep serving. The
 * provider as a whole fails only when every key did (pipeline/attempt.ts).
 *
 * Secrets never leave this module except as the `Credential` an adapter writes into one request;
 * records, logs and health figures name keys by label.
 */

/** One configured credential of a provider. */
export interface ProviderKey {
  secret: string;
  /** What records and figures call it: the operator's label, else `key-1`, `key-2`, … */
  label: string;
  weight: number;
  /** Amazon Bedrock: the AWS region this key's requests go to and are signed for, when not the provider's. */
  region?: string;
}

/** The credential one upstream request is built with. */
export interface Credential {
  label: string;
  secret: string;
  /**
   * `bearer`: the secret is an access token obtained for this attempt (ProviderRuntime.resolveCredential),
   * sent as `Authorization: Bearer` whatever header the provider's keys otherwise go in.
   */
  scheme?: 'bearer';
  /** The key's own region (ProviderKey.region). */
  region?: string;
}

/** A key's figures, as the endpoint health figures show them (no secret). */
export interface KeyFigures {
  label: string;
  weight: number;
  state: 'active' | 'resting';
  /** ISO time the key serves again (resting keys only). */
  resting_until: string | null;
  /** Attempts this key answered with a usable status, and those it failed (since start, this replica). */
  served: number;
  failed: number;
  last_status: number | null;
}

/** How long a key rests after a 429 without Retry-After, and after a 401/403. */
export const RATE_LIMIT_REST_MS = 30_000;
export const REFUSED_REST_MS = 300_000;

/** Statuses that are one key's problem rather than the provider's. */
export function isKeyFailure(status: number): boolean {
  return status === 429 || status === 401 || status === 403;
}

class KeyState {
  current = 0;
  restingUntil = 0;
  served = new Map<string, number>();
  failed = new Map<string, number>();
  lastStatus: number | null = null;
  constructor(readonly key: ProviderKey) {}
}

function credentialOf(key: ProviderKey): Credential {
  return { label: key.label, secret: key.secret, ...(key.region ? { region: key.region } : {}) };
}

function bump(counts: Map<string, number>, scope: string): void {
  counts.set(scope, (counts.get(scope) ?? 0) + 1);
}

export class KeyPool {
  private readonly states: KeyState[];

  constructor(keys: readonly ProviderKey[]) {
    this.states = keys.map((k) => new KeyState(k));
  }

  get size(): number {
    return this.states.length;
  }

  /** The first key's secret (a provider with one key, or code that builds a request without a pool). */
  get primary(): Credential | undefined {
    const k = this.states[0]?.key;
    return k ? credentialOf(k) : undefined;
  }

  /** Every secret, for the Redactor that scrubs upstream error text (core/redact.ts); nothing else may read them. */
  secrets(): string[] {
    return this.states.map((s) => s.key.secret);
  }

  labels(): string[] {
    return this.states.map((s) => s.key.label);
  }

  /** The same keys (secret, label, weight, region, in order) as `other`: a reload keeps this pool, with its resting keys and figures. */
  sameKeys(other: KeyPool): boolean {
    return (
      this.states.length === other.states.length &&
      this.states.every((s, i) => {
        const o = other.states[i].key;
        return s.key.secret === o.secret && s.key.label === o.label && s.key.weight === o.weight && s.key.region === o.region;
      })
    );
  }

  /**
   * The next key to use, skipping resting ones and those in `exclude` (already tried in this
   * attempt); null when none is left. Smooth weighted round robin: over any run of picks each key
   * gets its share of the weight, interleaved.
   */
  pick(exclude: ReadonlySet<string>, now = Date.now()): Credential | null {
    let best: KeyState | null = null;
    let total = 0;
    for (const s of this.states) {
      if (s.restingUntil > now || exclude.has(s.key.label)) continue;
      s.current += s.key.weight;
      total += s.key.weight;
      if (best === null || s.current > best.current) best = s;
    }
    if (best === null) return null;
    best.current -= total;
    return credentialOf(best.key);
  }

  /** Whether a key not resting and not in `exclude` is left. */
  hasAvailable(exclude: ReadonlySet<string>, now = Date.now()): boolean {
    return this.states.some((s) => s.restingUntil <= now && !exclude.has(s.key.label));
  }

  /** When the first resting key serves again (ms epoch), or null when none rests. */
  nextWake(now = Date.now()): number | null {
    let soonest: number | null = null;
    for (const s of this.states) if (s.restingUntil > now && (soonest === null || s.restingUntil < soonest)) soonest = s.restingUntil;
    return soonest;
  }

  /** A key answered `status` for `scope` (an endpoint key). Returns how long it now rests (ms), 0 if not at all. */
  outcome(label: string, scope: string, status: number, retryAfterSeconds?: number, now = Date.now()): number {
    const s = this.states.find((x) => x.key.label === label);
    if (!s) return 0;
    s.lastStatus = status;
    if (status < 300) {
      bump(s.served, scope);
      return 0;
    }
    bump(s.failed, scope);
    // One key has nothing to fall back to: its provider's health (breaker) decides instead.
    if (this.states.length < 2 || !isKeyFailure(status)) return 0;
    const ms = status === 429 ? (retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : RATE_LIMIT_REST_MS) : REFUSED_REST_MS;
    s.restingUntil = Math.max(s.restingUntil, now + ms);
    return ms;
  }

  /** Each key's figures for one endpoint (`scope`), for GET /models/{id}/endpoints. */
  figures(scope: string, now = Date.now()): KeyFigures[] {
    return this.states.map((s) => ({
      label: s.key.label,
      weight: s.key.weight,
      state: s.restingUntil > now ? 'resting' : 'active',
      resting_until: s.restingUntil > now ? new Date(s.restingUntil).toISOString() : null,
      served: s.served.get(scope) ?? 0,
      failed: s.failed.get(scope) ?? 0,
      last_status: s.lastStatus,
    }));
  }
}

/**
 * The keys of one provider from its environment variable (comma-separated, labels derived) or
 * its configured list; an empty list for a provider that needs none.
 */
export function parseKeys(fromEnv: string | undefined, configured: readonly { key: string; label?: string; weight?: number; region?: string }[] | undefined, single: string | undefined): ProviderKey[] {
  if (fromEnv) {
    return fromEnv
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '')
      .map((secret, i) => ({ secret, label: `key-${i + 1}`, weight: 1 }));
  }
  if (configured && configured.length > 0) {
    return configured.map((k, i) => ({ secret: k.key, label: k.label ?? `key-${i + 1}`, weight: k.weight ?? 1, ...(k.region ? { region: k.region } : {}) }));
  }
  return single ? [{ secret: single, label: 'key-1', weight: 1 }] : [];
}
