/** Catalog data (catalog/*.yaml): which providers exist and which endpoints serve each model. */

export interface ProviderEntry {
  slug: string;
  name: string; // display name as OpenRouter prints it
  protocol: string; // adapter id, one folder under src/providers/
  /**
   * Other protocols the provider's endpoints are reachable by (e.g. OpenAI's Responses API next to
   * its chat completions): an attempt takes one instead of `protocol` for a request in that
   * protocol's own wire, or with hosted tools only it runs (providers/registry.ts adapterForAttempt).
   */
  extra_protocols?: string[];
  base_url: string;
  requires_key?: boolean;
  /** The provider's own variable names for its key, after `<SLUG>_API_KEY` (config/load.ts). */
  key_env?: string[];
  data_collection?: 'allow' | 'deny';
  zdr?: boolean; // zero data retention
  privacy_policy_url?: string;
  terms_of_service_url?: string;
  status_page_url?: string;
  headquarters?: string;
}

export interface Pricing {
  prompt: string; // USD per token, as a string (OpenRouter style)
  completion: string;
  request?: string;
  image?: string;
  input_cache_read?: string;
  input_cache_write?: string;
  internal_reasoning?: string;
  /** USD per search the provider's own web search runs (OpenRouter's `web_search` price). */
  web_search?: string;
  /**
   * What `web_search` is charged for: `search` (default), each search the provider ran; `request`,
   * once per answer that searched, however many searches it ran (Google's Gemini 2.x grounding,
   * billed per grounded prompt). Switchyard's own field: /models does not show it.
   */
  web_search_unit?: 'search' | 'request';
  discount?: number;
}

export interface EndpointEntry {
  provider: string;
  tag?: string;
  upstream_model: string;
  /** The protocol this endpoint is reached by, when not its provider's (e.g. `openai-responses`). */
  protocol?: string;
  pricing: Pricing;
  context_length?: number;
  max_completion_tokens?: number | null;
  quantization?: string;
  supported_parameters?: string[];
}

export interface ModelEntry {
  id: string;
  canonical_slug?: string;
  /** Other ids that name this model (e.g. Anthropic's `claude-sonnet-4-5-20250929`); see Catalog.resolve. */
  aliases?: string[];
  name?: string;
  created?: number;
  description?: string;
  context_length?: number;
  input_modalities?: string[];
  output_modalities?: string[];
  reasoning?: boolean;
  endpoints: EndpointEntry[];
}

/** Prices parsed once so the hot path never re-parses strings. */
export interface PriceTable {
  prompt: number;
  completion: number;
  request: number;
  cacheRead: number;
  cacheWrite: number;
  reasoning: number | null; // null: reasoning billed as completion
  webSearch: number; // per search run by the provider's native web search
  webSearchPerRequest: boolean; // webSearch is charged once per answer that searched, not per search
  discount: number;
}

/** A resolved, routable endpoint: one model served by one provider. */
export interface Endpoint {
  key: string; // `${provider}` or `${provider}/${tag}`; unique per model
  model: ModelEntry;
  provider: ProviderEntry;
  tag: string; // same as key: e.g. "groq", "moonshotai/turbo"
  upstreamModel: string;
  /** Adapter id (src/providers/registry.ts): the endpoint's own `protocol`, else its provider's. */
  protocol: string;
  /** `protocol` first, then the provider's extra protocols: what an attempt may choose from. */
  protocols: readonly string[];
  pricing: Pricing;
  price: PriceTable;
  contextLength: number | null;
  maxCompletionTokens: number | null;
  quantization: string;
  supportedParameters: ReadonlySet<string>;
}
