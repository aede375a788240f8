import type { WireEra } from '../../config/load.js';
import type { TokenUsage } from '../../model/response.js';
import type { CostFigures } from '../../pipeline/ingress.js';

/**
 * The `usage` object in OpenRouter's key order for the chosen era (docs/COMPATIBILITY.md#usage-object, #wire-eras). Two whole
 * literals rather than a shared base spread into each: built on every response, and a spread
 * copies property by property into a fresh shape.
 */
export function usageJson(usage: TokenUsage, cost: CostFigures, era: WireEra): Record<string, unknown> {
  const out = eraUsageJson(usage, cost, era);
  // Present only when the provider's own web search ran, as OpenRouter documents it.
  if (usage.webSearchRequests) out.server_tool_use_details = { web_search_requests: usage.webSearchRequests };
  return out;
}

function eraUsageJson(usage: TokenUsage, cost: CostFigures, era: WireEra): Record<string, unknown> {
  if (era === '2025') {
    return {
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
      total_tokens: usage.promptTokens + usage.completionTokens,
      cost: cost.total,
      is_byok: false,
      prompt_tokens_details: { cached_tokens: usage.cachedTokens, audio_tokens: usage.audioPromptTokens },
      cost_details: {
        upstream_inference_cost: null,
        upstream_inference_prompt_cost: cost.prompt,
        upstream_inference_completions_cost: cost.completion,
      },
      completion_tokens_details: { reasoning_tokens: usage.reasoningTokens, image_tokens: 0 },
    };
  }
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    cost: cost.total,
    is_byok: false,
    prompt_tokens_details: {
      cached_tokens: usage.cachedTokens,
      cache_write_tokens: usage.cacheWriteTokens,
      audio_tokens: usage.audioPromptTokens,
      video_tokens: 0,
    },
    cost_details: {
      upstream_inference_cost: cost.total,
      upstream_inference_prompt_cost: cost.prompt,
      upstream_inference_completions_cost: cost.completion,
    },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens, image_tokens: 0, audio_tokens: 0 },
  };
}
