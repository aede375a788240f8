import type { App } from '../app.js';
import type { GenerationRequest } from '../model/request.js';
import { adapterFor } from '../providers/registry.js';
import { planRoute } from '../routing/select.js';
import { sendUpstream } from '../upstream/transport.js';

/** How long one upstream count may take before the next endpoint (or the estimate) answers. */
export const COUNT_TIMEOUT_MS = 5_000;

export interface UpstreamCount {
  inputTokens: number;
  /** The provider slug that counted. */
  provider: string;
}

/**
 * A prompt's input tokens as the upstream that would serve it counts them, without generating:
 * the route is planned as for a generation and the first endpoint whose protocol can count
 * (ProviderAdapter.tokenCounter) and answers in time gives the figure. Counting is free upstream,
 * so nothing is admitted, charged or recorded. Null when no endpoint could count: the caller
 * answers with its estimate. Replaying providers are skipped (recordings hold no counts).
 */
export async function countInputTokens(app: App, req: GenerationRequest): Promise<UpstreamCount | null> {
  let candidates;
  try {
    candidates = planRoute({ catalog: app.settings.catalog, providers: app.settings.providers, health: app.health, rng: app.rng }, req).candidates;
  } catch {
    return null;
  }
  for (const { endpoint } of candidates) {
    const counter = adapterFor(endpoint.provider.protocol)?.tokenCounter;
    const provider = app.settings.providers.get(endpoint.provider.slug);
    if (!counter || !provider || provider.replay) continue;
    try {
      let credential = provider.keys.size > 0 ? provider.keys.pick(new Set()) : undefined;
      if (credential === null) continue;
      if (credential && provider.resolveCredential) credential = await provider.resolveCredential(credential);
      const request = counter.buildRequest(req, endpoint, provider, credential);
      if (!request) continue;
      const response = await sendUpstream(provider, request, AbortSignal.timeout(COUNT_TIMEOUT_MS));
      const text = await response.body.text();
      if (response.statusCode >= 300) continue;
      const n = counter.parseCount(JSON.parse(text));
      if (n !== null) return { inputTokens: n, provider: endpoint.provider.slug };
    } catch {
      // A count is a convenience: any failure leaves the next endpoint, then the estimate.
    }
  }
  return null;
}
