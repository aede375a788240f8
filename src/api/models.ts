import type { App } from '../app.js';
import type { ModelEntry } from '../catalog/types.js';

/** `GET /api/v1/models` (spec §20): the catalog in OpenRouter's model shape. */
export function modelsResponse(app: App): { data: Record<string, unknown>[] } {
  const data = [...app.settings.catalog.models.values()].map((m) => modelJson(app, m));
  return { data };
}

function modelJson(app: App, m: ModelEntry): Record<string, unknown> {
  const eps = app.settings.catalog.endpointsOf(m);
  const cheapest = [...eps].sort((a, b) => a.price.prompt + a.price.completion - (b.price.prompt + b.price.completion))[0];
  const params = new Set<string>();
  for (const ep of eps) for (const p of ep.supportedParameters) params.add(p);
  const input = m.input_modalities ?? ['text'];
  const output = m.output_modalities ?? ['text'];
  return {
    id: m.id,
    canonical_slug: m.canonical_slug ?? m.id,
    name: m.name ?? m.id,
    created: m.created ?? 0,
    description: m.description ?? '',
    context_length: m.context_length ?? Math.max(0, ...eps.map((e) => e.contextLength ?? 0)),
    architecture: {
      modality: `${input.join('+')}->${output.join('+')}`,
      input_modalities: input,
      output_modalities: output,
      tokenizer: 'Other',
      instruct_type: null,
    },
    pricing: cheapest
      ? { prompt: cheapest.pricing.prompt, completion: cheapest.pricing.completion, request: cheapest.pricing.request ?? '0', image: cheapest.pricing.image ?? '0' }
      : { prompt: '0', completion: '0', request: '0', image: '0' },
    top_provider: {
      context_length: cheapest?.contextLength ?? null,
      max_completion_tokens: cheapest?.maxCompletionTokens ?? null,
      is_moderated: false,
    },
    per_request_limits: null,
    supported_parameters: [...params].sort(),
    // Switchyard extension: which endpoints this gateway can actually reach right now.
    endpoints_enabled: eps.filter((ep) => app.settings.providers.get(ep.provider.slug)?.enabled).map((ep) => ep.key),
  };
}
