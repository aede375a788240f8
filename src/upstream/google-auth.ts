import { createSign } from 'node:crypto';
import type { Credential } from './key-pool.js';
import { lifetimeOf, TokenCache, TokenError, type IssuedToken } from './token-cache.js';

export { TOKEN_MARGIN_MS, TokenError } from './token-cache.js';

/**
 * Google service-account credentials for Vertex AI: the OAuth 2.0 JWT-bearer grant (RFC 7523)
 * against the key file's own `token_uri`. The assertion is signed RS256 with node:crypto; the
 * access token is kept until shortly before its `expires_in` and shared by concurrent requests
 * (one exchange in flight per account). Neither the private key nor the token is ever logged:
 * errors name the account and the status only.
 */

export interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
  project_id?: string;
}

const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** A key file's JSON as a service account, or an Error saying what is missing. */
export function parseServiceAccount(text: string, origin: string): ServiceAccount {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${origin}: not a JSON service-account key file`);
  }
  for (const field of ['client_email', 'private_key', 'token_uri'] as const) {
    if (typeof json[field] !== 'string' || json[field] === '') throw new Error(`${origin}: service-account key file without ${field}`);
  }
  return json as unknown as ServiceAccount;
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** The signed JWT the grant exchanges for an access token. */
export function assertion(sa: ServiceAccount, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  const header: Record<string, string> = { alg: 'RS256', typ: 'JWT' };
  if (sa.private_key_id) header.kid = sa.private_key_id;
  const claims = { iss: sa.client_email, scope: SCOPE, aud: sa.token_uri, iat, exp: iat + 3600 };
  const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(sa.private_key);
  return `${unsigned}.${b64url(signature)}`;
}

/** Access tokens of service accounts, cached per account (upstream/token-cache.ts). */
export class GoogleTokenSource {
  private readonly tokens: TokenCache;

  constructor(private readonly now: () => number = Date.now) {
    this.tokens = new TokenCache(now);
  }

  /** The credential with its secret (the key file's JSON) replaced by a current access token. */
  async resolve(credential: Credential): Promise<Credential> {
    const sa = parseServiceAccount(credential.secret, credential.label);
    const token = await this.tokens.get(`${sa.client_email}\n${sa.token_uri}`, () => this.exchange(sa));
    return { label: credential.label, secret: token };
  }

  private async exchange(sa: ServiceAccount): Promise<IssuedToken> {
    const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: assertion(sa, this.now()) });
    const res = await fetch(sa.token_uri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    if (!res.ok) throw new TokenError(res.status >= 400 && res.status < 500 ? 401 : 502, `token exchange for ${sa.client_email} failed (HTTP ${res.status})`);
    const json = JSON.parse(text) as { access_token?: unknown; expires_in?: unknown };
    if (typeof json.access_token !== 'string') throw new TokenError(502, `token exchange for ${sa.client_email} returned no access_token`);
    return { token: json.access_token, lifetimeMs: lifetimeOf(json.expires_in) };
  }
}
