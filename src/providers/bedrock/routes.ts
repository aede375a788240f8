import type { ProviderRuntime } from '../../config/load.js';
import type { Credential } from '../types.js';

/** The AWS region a request goes to and is signed for: the key's own, else the provider's, else us-east-1. */
export function bedrockRegion(provider: ProviderRuntime, credential: Credential | undefined): string {
  return credential?.region ?? provider.region ?? 'us-east-1';
}

/** Bedrock's runtime origin for the provider: AMAZON_BEDROCK_BASE_URL when set, else the region's. */
export function bedrockRuntimeBase(provider: ProviderRuntime, credential: Credential | undefined): string {
  return provider.baseUrlOverridden ? provider.baseUrl : `https://bedrock-runtime.${bedrockRegion(provider, credential)}.amazonaws.com`;
}
