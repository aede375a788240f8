import type { Credential } from './key-pool.js';
import { lifetimeOf, TokenCache, TokenError, type IssuedToken } from './token-cache.js';

/**
 * Microsoft Entra ID (Azure AD) app credentials for Azure OpenAI: the OAuth 2.0 client credentials
 * grant against `{authority}/{tenant}/oauth2/v2.0/token` for the Cognitive Services scope
 * (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow). The
 * grant is one form POST, written here rather than through MSAL, which insists on an https
 * authority and discovery round trips (and so on a real Microsoft endpoint in tests). The access
 * token is cached until shortly before its `expires_in` (upstream/token-cache.ts) and sent as
 * `Authorization: Bearer`; neither it nor the client secret is ever logged or put in an error.
 */

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

export interface EntraApp {
  tenantId: string;
  clientId: string;
  /** `AZURE_AUTHORITY_HOST` (sovereign clouds, tests), else Microsoft's public cloud. */
  authorityHost: string;
}

export class EntraTokenSource {
  private readonly tokens: TokenCache;

  constructor(
    private readonly app: EntraApp,
    now: () => number = Date.now,
  ) {
    this.tokens = new TokenCache(now);
  }

  get tokenUrl(): string {
    return `${this.app.authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(this.app.tenantId)}/oauth2/v2.0/token`;
  }

  /** The credential (its secret: the client secret) as a current access token, to be sent as a bearer token. */
  async resolve(credential: Credential): Promise<Credential> {
    const token = await this.tokens.get(`${this.app.tenantId}\n${this.app.clientId}\n${credential.label}`, () => this.exchange(credential.secret));
    return { label: credential.label, secret: token, scheme: 'bearer' };
  }

  private async exchange(clientSecret: string): Promise<IssuedToken> {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.app.clientId, client_secret: clientSecret, scope: COGNITIVE_SERVICES_SCOPE });
    const res = await fetch(this.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    const who = `Entra ID token request for client ${this.app.clientId} in tenant ${this.app.tenantId}`;
    let json: { access_token?: unknown; expires_in?: unknown; error?: unknown } = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      // not JSON: reported by status below
    }
    // The OAuth error code (invalid_client, unauthorized_client, …) says what is wrong and is no secret.
    const code = typeof json.error === 'string' ? `: ${json.error}` : '';
    if (!res.ok) throw new TokenError(res.status >= 400 && res.status < 500 ? 401 : 502, `${who} failed (HTTP ${res.status}${code})`);
    if (typeof json.access_token !== 'string') throw new TokenError(502, `${who} returned no access_token`);
    return { token: json.access_token, lifetimeMs: lifetimeOf(json.expires_in) };
  }
}
