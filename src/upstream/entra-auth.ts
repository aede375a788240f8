import type { Credential, ProviderKey } from './key-pool.js';
import { requestToken, TokenCache } from './token-cache.js';

/**
 * Microsoft Entra ID (Azure AD) application credentials for Azure OpenAI: the OAuth 2.0 client
 * credentials grant against `{authority}/{tenant}/oauth2/v2.0/token` with the Cognitive Services
 * scope. The variables are the ones Azure's own SDKs read (EnvironmentCredential):
 * AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST.
 */

export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

export interface EntraApplication {
  tenant_id: string;
  client_id: string;
  client_secret: string;
  authority_host: string;
}

/** The application of the environment as a pool key (its secret the application's JSON), or none. */
export function entraKeys(env: NodeJS.ProcessEnv): ProviderKey[] {
  const { AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: secret } = env;
  if (!tenant || !client || !secret) return [];
  const app: EntraApplication = { tenant_id: tenant, client_id: client, client_secret: secret, authority_host: (env.AZURE_AUTHORITY_HOST || DEFAULT_AUTHORITY_HOST).replace(/\/+$/, '') };
  return [{ secret: JSON.stringify(app), label: 'entra-1', weight: 1 }];
}

/** Access tokens of Entra ID applications, cached per application. */
export class EntraTokenSource {
  private readonly tokens: TokenCache;

  constructor(now: () => number = Date.now) {
    this.tokens = new TokenCache(now);
  }

  /** The credential with its secret (the application's JSON) replaced by a bearer token. */
  async resolve(credential: Credential): Promise<Credential> {
    const app = JSON.parse(credential.secret) as EntraApplication;
    const url = `${app.authority_host}/${encodeURIComponent(app.tenant_id)}/oauth2/v2.0/token`;
    const token = await this.tokens.get(`${app.tenant_id}\n${app.client_id}\n${url}`, () =>
      requestToken(url, { grant_type: 'client_credentials', client_id: app.client_id, client_secret: app.client_secret, scope: COGNITIVE_SERVICES_SCOPE }, `application ${app.client_id}`),
    );
    return { label: credential.label, secret: token, bearer: true };
  }
}
