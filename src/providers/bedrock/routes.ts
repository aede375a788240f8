import type { ProviderRuntime } from '../../config/load.js';

/** Bedrock's runtime origin for the provider: AMAZON_BEDROCK_BASE_URL when set, else the region's. */
export function bedrockRuntimeBase(provider: ProviderRuntime): string {
  return provider.baseUrlOverridden ? provider.baseUrl : `https://bedrock-runtime.${provider.region ?? 'us-east-1'}.amazonaws.com`;
}
