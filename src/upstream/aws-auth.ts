import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SignatureV4 } from '@smithy/signature-v4';
import type { ProviderKey } from './key-pool.js';
import type { UpstreamRequest } from './types.js';

/**
 * AWS credentials for Amazon Bedrock, and request signing. A Bedrock pool key's secret is either
 * an access key pair, written `ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]` (none of the three
 * contains a colon), which signs the request with Signature Version 4 (AWS's own
 * `@smithy/signature-v4`), or a Bedrock API key (no colon), sent as `Authorization: Bearer`.
 *
 * Keys come, in this order, from `AWS_BEARER_TOKEN_BEDROCK`, from `AWS_ACCESS_KEY_ID` /
 * `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, from the profiles named by `AWS_PROFILE` in the
 * shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`), or from the
 * provider's configured keys. Each variable may list several values, comma-separated, for a key
 * pool (several accounts).
 */

/** The service name Bedrock's runtime requests are signed for (the host says bedrock-runtime). */
export const BEDROCK_SIGNING_SERVICE = 'bedrock';

export interface AwsAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A pool key's secret as an access key pair, or null when it is a bearer API key. */
export function accessKeyOf(secret: string): AwsAccessKey | null {
  const parts = secret.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) return null;
  return { accessKeyId: parts[0], secretAccessKey: parts[1], ...(parts[2] ? { sessionToken: parts[2] } : {}) };
}

/** The pool secret of an access key pair. */
export function accessKeySecret(key: AwsAccessKey): string {
  return [key.accessKeyId, key.secretAccessKey, ...(key.sessionToken ? [key.sessionToken] : [])].join(':');
}

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** The sections of an INI file (the shared credentials file's format), keys lower-cased. */
function parseIni(text: string): Map<string, Record<string, string>> {
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      current = {};
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current && eq > 0) current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return sections;
}

/** Thrown for credentials that are configured but unusable (a missing profile, half a key pair). */
export class AwsCredentialsError extends Error {}

/** Each profile's `region`, from the shared config file (AWS_CONFIG_FILE, else ~/.aws/config), else the credentials file. */
function profileRegions(env: NodeJS.ProcessEnv, credentialsFile: string): Map<string, string> {
  const regions = new Map<string, string>();
  const configFile = env.AWS_CONFIG_FILE || join(homedir(), '.aws', 'config');
  for (const file of [credentialsFile, configFile]) {
    if (!existsSync(file)) continue;
    for (const [profile, section] of parseIni(readFileSync(file, 'utf8'))) {
      if (section.region && /^[a-z0-9-]+$/.test(section.region)) regions.set(profile, section.region);
    }
  }
  return regions;
}

/** A profile's keys from the shared credentials file. */
function profileKey(file: string, profile: string): AwsAccessKey {
  const section = parseIni(readFileSync(file, 'utf8')).get(profile);
  const id = section?.aws_access_key_id;
  const secret = section?.aws_secret_access_key;
  if (!id || !secret) throw new AwsCredentialsError(`AWS_PROFILE: profile "${profile}" has no aws_access_key_id / aws_secret_access_key in ${file}`);
  return { accessKeyId: id, secretAccessKey: secret, ...(section.aws_session_token ? { sessionToken: section.aws_session_token } : {}) };
}

/** Bedrock's keys from the environment, labelled as the pool shows them; empty when none is set. */
export function bedrockKeysFromEnv(env: NodeJS.ProcessEnv, regionFixed = false): ProviderKey[] {
  const bearer = list(env.AWS_BEARER_TOKEN_BEDROCK);
  if (bearer.length > 0) return bearer.map((secret, i) => ({ secret, label: `key-${i + 1}`, weight: 1 }));
  const ids = list(env.AWS_ACCESS_KEY_ID);
  const secrets = list(env.AWS_SECRET_ACCESS_KEY);
  if (ids.length > 0 || secrets.length > 0) {
    if (ids.length !== secrets.length) throw new AwsCredentialsError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must list as many values each');
    const tokens = list(env.AWS_SESSION_TOKEN);
    return ids.map((accessKeyId, i) => ({ secret: accessKeySecret({ accessKeyId, secretAccessKey: secrets[i], sessionToken: tokens[i] }), label: ids.length > 1 ? `key-${i + 1}` : 'key-1', weight: 1 }));
  }
  const profiles = list(env.AWS_PROFILE);
  if (profiles.length > 0) {
    const file = env.AWS_SHARED_CREDENTIALS_FILE || join(homedir(), '.aws', 'credentials');
    if (!existsSync(file)) throw new AwsCredentialsError(`AWS_PROFILE is set but the shared credentials file ${file} does not exist`);
    // A profile's own region (the shared config file, as AWS's SDKs read it) when none is set for
    // the whole provider: profiles of accounts in several regions then sign for their own.
    const regions = regionFixed ? null : profileRegions(env, file);
    return profiles.map((profile) => {
      const key: ProviderKey = { secret: accessKeySecret(profileKey(file, profile)), label: profile, weight: 1 };
      const region = regions?.get(profile);
      if (region) key.region = region;
      return key;
    });
  }
  return [];
}

/** The region requests go to and are signed for: AWS_REGION, AWS_DEFAULT_REGION, the config, else us-east-1. */
export function awsRegion(env: NodeJS.ProcessEnv, configured: string | undefined): string {
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || configured || 'us-east-1';
}

const signers = new Map<string, SignatureV4>();

// AWS's signer is loaded with the first signed request, not at start: its modules hold ~15 MiB of
// resident memory, which a gateway without Bedrock would carry for nothing.
let signerLibrary: Promise<[typeof import('@smithy/signature-v4'), typeof import('@aws-crypto/sha256-js')]> | null = null;

/** One signer per access key and region (it caches its derived signing keys). */
async function signerFor(key: AwsAccessKey, region: string): Promise<SignatureV4> {
  const id = `${accessKeySecret(key)}\n${region}`;
  let signer = signers.get(id);
  if (!signer) {
    signerLibrary ??= Promise.all([import('@smithy/signature-v4'), import('@aws-crypto/sha256-js')]);
    const [{ SignatureV4 }, { Sha256 }] = await signerLibrary;
    if (signers.size >= 64) signers.clear();
    signer = new SignatureV4({ credentials: key, region, service: BEDROCK_SIGNING_SERVICE, sha256: Sha256 });
    signers.set(id, signer);
  }
  return signer;
}

/**
 * The request with SigV4 headers added (`authorization`, `x-amz-date`, `x-amz-security-token`
 * with a session token, and `host`, which the signature covers).
 */
export async function signRequest(request: UpstreamRequest, key: AwsAccessKey, region: string, now = new Date()): Promise<UpstreamRequest> {
  const url = new URL(request.url);
  const headers: Record<string, string> = { ...request.headers, host: url.host };
  const signed = await (await signerFor(key, region)).sign(
    {
      method: request.method ?? 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: request.body,
    },
    { signingDate: now },
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k.toLowerCase()] = String(v);
  return { ...request, headers: out };
}
