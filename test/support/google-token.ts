/**
 * A Google OAuth token endpoint for tests: checks the service account's JWT-bearer grant as Google
 * does (RS256 signature, issuer, audience = its own URL, scope) and counts the tokens it issues.
 */
import { createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MockReply, MockUpstream, ReceivedRequest } from './mock-upstream.js';

export interface ServiceAccount {
  email: string;
  publicKey: KeyObject;
  /** The private key, PEM (PKCS #8). */
  pem: string;
}

export function newServiceAccount(email = 'router@switchyard-test.iam.gserviceaccount.com'): ServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { email, publicKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** A service-account key file whose token_uri is `tokenUri`; returns its path. */
export function writeKeyFile(account: ServiceAccount, tokenUri: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'switchyard-sa-')), 'sa.json');
  writeFileSync(file, JSON.stringify({ type: 'service_account', project_id: 'from-key-file', private_key_id: 'k1', private_key: account.pem, client_email: account.email, token_uri: tokenUri }));
  return file;
}

/** Makes `mock` the token endpoint at `${mock.url}/token`; `issued` lists the tokens given out. */
export function tokenEndpoint(mock: MockUpstream, account: Pick<ServiceAccount, 'email' | 'publicKey'>): { issued: string[] } {
  const state = { issued: [] as string[] };
  mock.onRequest((r: ReceivedRequest): MockReply => {
    const form = new URLSearchParams(r.body);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, json: { error: 'unsupported_grant_type' } };
    const [h, c, sig] = (form.get('assertion') ?? '').split('.');
    const ok = createVerify('RSA-SHA256').update(`${h}.${c}`).verify(account.publicKey, Buffer.from(sig ?? '', 'base64url'));
    const claims = JSON.parse(Buffer.from(c ?? '', 'base64url').toString()) as Record<string, unknown>;
    if (!ok || claims.iss !== account.email || claims.aud !== `${mock.url}/token` || claims.scope !== 'https://www.googleapis.com/auth/cloud-platform') {
      return { status: 400, json: { error: 'invalid_grant' } };
    }
    const token = `ya29.test-${state.issued.length + 1}`;
    state.issued.push(token);
    return { json: { access_token: token, expires_in: 3599, token_type: 'Bearer' } };
  });
  return state;
}
