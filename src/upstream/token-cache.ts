/**
 * Access tokens obtained from a token endpoint (Google service accounts, Microsoft Entra ID),
 * cached per identity until shortly before they expire, with one exchange in flight per identity
 * however many requests wait for it. Tokens are held here only: never logged, never in errors.
 */

/** A token is renewed this long before its issuer says it expires. */
export const TOKEN_MARGIN_MS = 5 * 60_000;

export interface IssuedToken {
  token: string;
  /** How long the issuer says it is valid (`expires_in`), in milliseconds. */
  lifetimeMs: number;
}

interface Cached {
  token: string;
  renewAt: number;
}

export class TokenCache {
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<Cached>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The current token of `id`, from `exchange` when there is none or it is about to expire. */
  async get(id: string, exchange: () => Promise<IssuedToken>): Promise<string> {
    const cached = this.cache.get(id);
    if (cached && this.now() < cached.renewAt) return cached.token;
    let flight = this.pending.get(id);
    if (!flight) {
      flight = exchange()
        .then((t) => ({ token: t.token, renewAt: this.now() + Math.max(0, t.lifetimeMs - TOKEN_MARGIN_MS) }))
        .finally(() => this.pending.delete(id));
      this.pending.set(id, flight);
    }
    const fresh = await flight;
    this.cache.set(id, fresh);
    return fresh.token;
  }
}

/** The token endpoint refused or failed: the attempt fails with `status` (401 for refused credentials). */
export class TokenError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The `expires_in` of a token answer in milliseconds (an hour when absent, as both issuers default). */
export function lifetimeOf(expiresIn: unknown): number {
  const seconds = typeof expiresIn === 'number' ? expiresIn : typeof expiresIn === 'string' && /^\d+$/.test(expiresIn) ? Number(expiresIn) : 3600;
  return seconds * 1000;
}
