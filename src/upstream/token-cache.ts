/**
 * OAuth access tokens of cloud credentials (Google service accounts, Entra ID applications), kept
 * until shortly before they expire and shared by concurrent requests: one exchange in flight per
 * credential. Tokens are never logged; the exchanges' errors name the account and status only.
 */

/** A token is renewed this long before its issuer says it expires. */
export const TOKEN_MARGIN_MS = 5 * 60_000;

export interface IssuedToken {
  token: string;
  /** The issuer's `expires_in`, in milliseconds. */
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

  /** The current token of credential `id`, exchanged anew (once, whoever asks) when it is due. */
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

/** The token endpoint refused or failed: the attempt fails with `status` (401 for a refused credential). */
export class TokenError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * POSTs a form to a token endpoint and reads `access_token` / `expires_in` (RFC 6749 §5.1).
 * `who` names the credential in errors (never a secret).
 */
export async function requestToken(url: string, form: Record<string, string>, who: string): Promise<IssuedToken> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) throw new TokenError(res.status >= 400 && res.status < 500 ? 401 : 502, `token exchange for ${who} failed (HTTP ${res.status})`);
  let json: { access_token?: unknown; expires_in?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    throw new TokenError(502, `token exchange for ${who} returned no JSON`);
  }
  if (typeof json.access_token !== 'string') throw new TokenError(502, `token exchange for ${who} returned no access_token`);
  // Entra ID has sent expires_in as a string; Google sends a number.
  const seconds = Number(json.expires_in ?? 3600);
  return { token: json.access_token, lifetimeMs: (Number.isFinite(seconds) ? seconds : 3600) * 1000 };
}
