import type { ProviderRuntime } from '../../config/load.js';

/** Where Vertex AI's models live: `{base}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{id}`. */

/** Claude models live under the anthropic publisher; everything else under google. */
export function vertexPublisher(upstreamModel: string): 'anthropic' | 'google' {
  return upstreamModel.startsWith('claude') ? 'anthropic' : 'google';
}

/** `https://{location}-aiplatform.googleapis.com`, or the global endpoint's host. */
export function vertexBaseUrl(location: string): string {
  return location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${location}-aiplatform.googleapis.com`;
}

/** The model's resource URL, without the method. */
export function vertexModelUrl(provider: ProviderRuntime, upstreamModel: string): string {
  const location = provider.location ?? 'global';
  const base = provider.baseUrlOverridden ? provider.baseUrl : vertexBaseUrl(location);
  return `${base}/v1/projects/${encodeURIComponent(provider.project ?? '')}/locations/${location}/publishers/${vertexPublisher(upstreamModel)}/models/${upstreamModel}`;
}
