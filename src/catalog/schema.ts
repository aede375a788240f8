import { Type } from '@sinclair/typebox';

/** One provider and one model of a catalog file (catalog/*.yaml, or the config's own catalog files). */
const PriceString = Type.String({ pattern: '^(0|[0-9]+(\\.[0-9]+)?([eE]-?[0-9]+)?)$' });

export const CatalogProviderSchema = Type.Object({
  slug: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$' }),
  name: Type.String({ minLength: 1 }),
  protocol: Type.String({ minLength: 1 }),
  extra_protocols: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  base_url: Type.String({ pattern: '^https?://' }),
  requires_key: Type.Optional(Type.Boolean()),
  // The provider's own documented variable names for its key, read when <SLUG>_API_KEY is unset (first set wins).
  key_env: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$' }))),
  data_collection: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny')])),
  zdr: Type.Optional(Type.Boolean()),
  privacy_policy_url: Type.Optional(Type.String()),
  terms_of_service_url: Type.Optional(Type.String()),
  status_page_url: Type.Optional(Type.String()),
  headquarters: Type.Optional(Type.String()),
});

const EndpointSchema = Type.Object({
  provider: Type.String({ minLength: 1 }),
  tag: Type.Optional(Type.String({ minLength: 1 })),
  upstream_model: Type.String({ minLength: 1 }),
  // The protocol (adapter id) this endpoint is reached by when it differs from its provider's,
  // e.g. `openai-responses` for a model OpenAI serves only, or with hosted tools, on its Responses API.
  protocol: Type.Optional(Type.String({ minLength: 1 })),
  pricing: Type.Object({
    prompt: PriceString,
    completion: PriceString,
    request: Type.Optional(PriceString),
    image: Type.Optional(PriceString),
    input_cache_read: Type.Optional(PriceString),
    input_cache_write: Type.Optional(PriceString),
    internal_reasoning: Type.Optional(PriceString),
    web_search: Type.Optional(PriceString),
    // What web_search is charged for: each search (default), or once per answer that searched.
    web_search_unit: Type.Optional(Type.Union([Type.Literal('search'), Type.Literal('request')])),
    discount: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  }),
  context_length: Type.Optional(Type.Integer({ minimum: 1 })),
  max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
  quantization: Type.Optional(Type.String()),
  supported_parameters: Type.Optional(Type.Array(Type.String())),
});

export const CatalogModelSchema = Type.Object({
  id: Type.String({ pattern: '^[^\\s/]+/[^\\s]+$' }),
  canonical_slug: Type.Optional(Type.String()),
  // Other ids clients use for this model (the vendor's own API ids, dated and undated): routing
  // resolves them to `id` (Catalog.resolve). Unique across the catalog.
  aliases: Type.Optional(Type.Array(Type.String({ pattern: '^\\S+$' }))),
  name: Type.Optional(Type.String()),
  created: Type.Optional(Type.Integer()),
  description: Type.Optional(Type.String()),
  context_length: Type.Optional(Type.Integer({ minimum: 1 })),
  input_modalities: Type.Optional(Type.Array(Type.String())),
  output_modalities: Type.Optional(Type.Array(Type.String())),
  reasoning: Type.Optional(Type.Boolean()),
  endpoints: Type.Array(EndpointSchema),
});
