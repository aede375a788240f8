import { ApiError } from '../core/errors.js';
import { textOf, type GenerationRequest } from '../model/request.js';
import type { PluginSettings } from './settings.js';

/**
 * `moderation`: the prompt is checked by the configured moderation API (OpenAI's `/moderations`
 * shape) before any provider sees it; a flagged prompt is refused with 403 and OpenRouter's
 * moderation metadata (`reasons`, `flagged_input`, `provider_name`, `model_slug`), and nothing
 * is charged. https://openrouter.ai/docs/api-reference/errors
 */

/** How much of the flagged input the error repeats (OpenRouter truncates it too). */
const FLAGGED_INPUT_CHARS = 100;

export async function moderate(req: GenerationRequest, settings: PluginSettings['moderation']): Promise<void> {
  if (!settings) throw new ApiError(400, 'plugin moderation: no moderation provider is configured on this server (plugins.moderation in switchyard.yaml)');
  const input = req.messages
    .filter((m) => m.role === 'user' || m.role === 'system')
    .map((m) => textOf(m.content, '\n'))
    .filter((t) => t !== '')
    .join('\n\n');
  if (input === '') return;
  let res: Response;
  try {
    res = await fetch(`${settings.baseUrl}/moderations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${settings.apiKey}` },
      body: JSON.stringify({ model: settings.model, input }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new ApiError(502, `plugin moderation: the moderation provider could not be reached: ${(err as Error).message}`);
  }
  const body = (await res.json().catch(() => null)) as { results?: { flagged?: boolean; categories?: Record<string, boolean> }[] } | null;
  if (!res.ok || !body || !Array.isArray(body.results)) throw new ApiError(502, `plugin moderation: the moderation provider answered ${res.status}`);
  const flagged = body.results.filter((r) => r.flagged === true);
  if (flagged.length === 0) return;
  const reasons = [...new Set(flagged.flatMap((r) => Object.entries(r.categories ?? {}).filter(([, on]) => on).map(([name]) => name)))];
  const model = req.model ?? req.models[0] ?? '';
  throw new ApiError(403, `${model} requires moderation. Your input was flagged for "${reasons.join(', ') || 'unspecified'}". No credits were charged.`, {
    reasons,
    flagged_input: input.length > FLAGGED_INPUT_CHARS ? `${input.slice(0, FLAGGED_INPUT_CHARS)}...` : input,
    provider_name: 'Moderation',
    model_slug: model,
  });
}
