import { UntranslatableRequest } from '../types.js';
import { OpenAIResponsesAdapter } from '../openai-responses/adapter.js';
import { allowedDomainsOf } from '../openai-responses/request.js';
import { hostedToolOf } from '../openai-responses/hosted-tools.js';

/**
 * xAI's Responses API (`POST https://api.x.ai/v1/responses`, protocol `xai-responses`): the only
 * place xAI runs its server-side tools since Live Search on chat completions was retired. It is
 * the Responses wire (a Responses client's body passes through, answers decode as OpenAI's), with
 * xAI's own hosted tools: web search (domain filters at the top level, at most five of either
 * kind) and X search. Reached as an extra protocol of the `xai` provider: chat requests stay on
 * chat completions unless they need one of these tools (providers/registry.ts adapterForAttempt).
 * https://docs.x.ai/docs/guides/tools/search-tools
 */

const XAI_HOSTED: ReadonlySet<string> = new Set(['web_search', 'x_search', 'code_interpreter', 'mcp']);

/** xAI refuses more domains than this in either web search filter. */
const MAX_DOMAINS = 5;

type Json = Record<string, unknown>;

/** A neutral hosted tool in xAI's terms. */
export function xaiHostedTool(name: string, config: Json): Json | null {
  if (name === 'web_search') {
    const tool: Json = { type: 'web_search' };
    const allowed = allowedDomainsOf(config);
    const excluded = Array.isArray(config.excluded_domains) ? config.excluded_domains : Array.isArray(config.blocked_domains) ? config.blocked_domains : undefined;
    if (allowed) tool.allowed_domains = limited(allowed, 'allowed');
    else if (excluded && excluded.length > 0) tool.excluded_domains = limited(excluded as string[], 'excluded');
    if (typeof config.enable_image_understanding === 'boolean') tool.enable_image_understanding = config.enable_image_understanding;
    return tool;
  }
  if (name === 'x_search') {
    // The client's own x_search as written; else OpenRouter's `x_search_filter` fields, as the web plugin passes them.
    if (hostedToolOf(config.type) === 'x_search') return config;
    const tool: Json = { type: 'x_search' };
    for (const k of ['allowed_x_handles', 'excluded_x_handles', 'from_date', 'to_date', 'enable_image_understanding', 'enable_video_understanding']) {
      if (config[k] !== undefined && config[k] !== null) tool[k] = config[k];
    }
    return tool;
  }
  if (hostedToolOf(config.type) === name) return config;
  return null;
}

function limited(domains: string[], kind: string): string[] {
  if (domains.length > MAX_DOMAINS) throw new UntranslatableRequest(`xAI's web search takes at most ${MAX_DOMAINS} ${kind} domains (${domains.length} given)`);
  return domains;
}

export class XaiResponsesAdapter extends OpenAIResponsesAdapter {
  override readonly protocol: string = 'xai-responses';

  constructor() {
    super(XAI_HOSTED, xaiHostedTool);
  }
}
