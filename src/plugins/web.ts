import { ApiError } from '../core/errors.js';
import type { WebPluginOptions } from '../model/plugins.js';
import { oneOf, optionalString, optionalStrings } from './options.js';

/** OpenRouter's default number of search results per request. */
const DEFAULT_MAX_RESULTS = 5;
const MAX_RESULTS_LIMIT = 25;

/** The `web` plugin's options (also what `:online` means, with every default). */
export function webOptions(entry: Record<string, unknown>): WebPluginOptions {
  const engine = oneOf(entry.engine, ['native', 'exa'] as const, 'web', 'engine');
  const max = entry.max_results;
  if (max !== undefined && max !== null && (!Number.isInteger(max) || (max as number) < 1 || (max as number) > MAX_RESULTS_LIMIT)) {
    throw new ApiError(400, `plugin web: max_results must be an integer from 1 to ${MAX_RESULTS_LIMIT}`);
  }
  const out: WebPluginOptions = { maxResults: (max as number | undefined) ?? DEFAULT_MAX_RESULTS };
  if (engine) out.engine = engine;
  const prompt = optionalString(entry, 'web', 'search_prompt');
  if (prompt !== undefined) out.searchPrompt = prompt;
  const include = optionalStrings(entry, 'web', 'include_domains');
  if (include) out.includeDomains = include;
  const exclude = optionalStrings(entry, 'web', 'exclude_domains');
  if (exclude) out.excludeDomains = exclude;
  return out;
}
