import { Type, type Static } from '@sinclair/typebox';

/**
 * The shape of `switchyard.yaml`. Every field is optional: an absent file, or an empty one, is the
 * embedded default configuration. Secrets come from the environment (see config/load.ts).
 */
const Timeouts = Type.Object(
  {
    connect_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    first_byte_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    idle_ms: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

const ProviderSettings = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    api_key: Type.Optional(Type.String({ minLength: 1 })),
    // A key pool: several credentials, each attempt takes one; a rate-limited or refused key rests alone.
    keys: Type.Optional(
      Type.Array(
        Type.Object(
          { key: Type.String({ minLength: 1 }), label: Type.Optional(Type.String({ minLength: 1 })), weight: Type.Optional(Type.Number({ exclusiveMinimum: 0 })) },
          { additionalProperties: false },
        ),
        { minItems: 1 },
      ),
    ),
    base_url: Type.Optional(Type.String({ pattern: '^https?://' })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    timeouts: Type.Optional(Timeouts),
    // Azure OpenAI: the deployments API's api-version (with a base URL at the resource root), and
    // which catalog model (id or alias) each deployment serves.
    api_version: Type.Optional(Type.String({ minLength: 1 })),
    deployments: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }))),
    // Google Vertex AI: service-account key file(s) (prefer GOOGLE_APPLICATION_CREDENTIALS), project and location.
    credentials: Type.Optional(Type.String({ minLength: 1 })),
    project: Type.Optional(Type.String({ minLength: 1 })),
    location: Type.Optional(Type.String({ pattern: '^[a-z0-9-]+$' })),
    // Answer this provider's requests from a folder of cassettes instead of the network.
    replay: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const ApiKeyEntry = Type.Union([
  Type.String({ minLength: 8 }),
  Type.Object({ key: Type.String({ minLength: 8 }), label: Type.Optional(Type.String()) }, { additionalProperties: false }),
]);

export const RateLimitEntry = Type.Object(
  {
    requests: Type.Optional(Type.Integer({ minimum: 1 })),
    interval: Type.Optional(Type.Union([Type.String({ pattern: '^\\d+\\s*(ms|s|m|h|d)$' }), Type.Integer({ minimum: 1 })])),
    tokens_per_minute: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1 })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          // Worker processes sharing the port (node:cluster); 0 or "auto": one per available CPU; 1: no cluster.
          // Checked by config/load.ts (parseWorkers), which says what is allowed.
          workers: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
          body_limit_bytes: Type.Optional(Type.Integer({ minimum: 1024 })),
          keepalive_ms: Type.Optional(Type.Integer({ minimum: 50 })),
          drain_timeout_ms: Type.Optional(Type.Integer({ minimum: 0 })),
          api_prefixes: Type.Optional(Type.Array(Type.String())),
          // A client must send its request headers within this long, and its body within body_timeout_ms.
          headers_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
          body_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
          // How long an idle keep-alive connection stays open.
          idle_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
          // Open connections per process; more are closed as they arrive.
          max_connections: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    storage: Type.Optional(
      Type.Object(
        {
          data_dir: Type.Optional(Type.String({ minLength: 1 })),
          flush_interval_ms: Type.Optional(Type.Integer({ minimum: 1 })),
          // SQLite: log pages that start a checkpoint off the event loop; 0 leaves checkpoints to SQLite.
          checkpoint_pages: Type.Optional(Type.Integer({ minimum: 0 })),
          // postgres://… for PostgreSQL (prefer DATABASE_URL); absent: SQLite under data_dir.
          database_url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
          // PostgreSQL: bound on opening a connection, and on one statement (server and client side).
          connect_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
          query_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
          // Generation records kept in memory while the database cannot take them; past it, 503.
          max_queued_records: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    auth: Type.Optional(
      Type.Object(
        {
          keys: Type.Optional(Type.Array(ApiKeyEntry)),
          // How long a replica trusts its cached copy of a database key (changes are also pushed).
          key_cache_ttl_ms: Type.Optional(Type.Integer({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
    ),
    redis: Type.Optional(
      Type.Object(
        {
          url: Type.Optional(Type.String({ pattern: '^rediss?://' })),
          prefix: Type.Optional(Type.String()),
          connect_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
          // Bound on one command (on the request path: the rate limit), after which the request goes on without it.
          command_timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          // How long a reservation outlives a replica that stopped extending it.
          reservation_ttl_ms: Type.Optional(Type.Integer({ minimum: 100 })),
          // Default rate limit for keys without their own (and for anonymous callers).
          rate_limit: Type.Optional(RateLimitEntry),
        },
        { additionalProperties: false },
      ),
    ),
    wire: Type.Optional(
      Type.Object(
        {
          // Which recorded era of OpenRouter's wire format to emit (docs/COMPATIBILITY.md#wire-eras). 2026 is current.
          era: Type.Optional(Type.Union([Type.Literal('2026'), Type.Literal('2025')])),
        },
        { additionalProperties: false },
      ),
    ),
    routing: Type.Optional(
      Type.Object(
        {
          timeouts: Type.Optional(Timeouts),
          failure_window_ms: Type.Optional(Type.Integer({ minimum: 1 })),
          max_models: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    responses: Type.Optional(
      Type.Object(
        {
          // How long stored Responses API answers are kept for previous_response_id (10s, 1h, 30d, or milliseconds).
          retention: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 1 })])),
        },
        { additionalProperties: false },
      ),
    ),
    replay: Type.Optional(
      Type.Object(
        {
          record_dir: Type.Optional(Type.String({ minLength: 1 })),
          pace: Type.Optional(Type.Union([Type.Literal('recorded'), Type.Literal('fast')])),
          ignore_fields: Type.Optional(Type.Array(Type.String())),
          secret_headers: Type.Optional(Type.Array(Type.String())),
        },
        { additionalProperties: false },
      ),
    ),
    providers: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$' }), ProviderSettings)),
    // The services behind OpenRouter's plugins (src/plugins/settings.ts); keys are better kept in the environment.
    plugins: Type.Optional(
      Type.Object(
        {
          exa: Type.Optional(
            Type.Object(
              { api_key: Type.Optional(Type.String({ minLength: 1 })), base_url: Type.Optional(Type.String({ pattern: '^https?://' })), price_per_result: Type.Optional(Type.Number({ minimum: 0 })) },
              { additionalProperties: false },
            ),
          ),
          mistral_ocr: Type.Optional(
            Type.Object(
              { api_key: Type.Optional(Type.String({ minLength: 1 })), base_url: Type.Optional(Type.String({ pattern: '^https?://' })), model: Type.Optional(Type.String({ minLength: 1 })) },
              { additionalProperties: false },
            ),
          ),
          moderation: Type.Optional(
            Type.Object(
              {
                provider: Type.Optional(Type.Literal('openai')),
                api_key: Type.Optional(Type.String({ minLength: 1 })),
                base_url: Type.Optional(Type.String({ pattern: '^https?://' })),
                model: Type.Optional(Type.String({ minLength: 1 })),
              },
              { additionalProperties: false },
            ),
          ),
          file_parser: Type.Optional(Type.Object({ cache_entries: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
    ),
    catalog: Type.Optional(
      Type.Object(
        {
          // Extra catalog files (same format as catalog/*.yaml), merged over the embedded catalog.
          files: Type.Optional(Type.Array(Type.String())),
          providers: Type.Optional(Type.Array(Type.Any())),
          models: Type.Optional(Type.Array(Type.Any())),
        },
        { additionalProperties: false },
      ),
    ),
    metrics: Type.Optional(
      Type.Object(
        {
          // Prometheus metrics at GET /metrics (default: on).
          enabled: Type.Optional(Type.Boolean()),
          // Readable without a management key once keys exist (SWITCHYARD_METRICS_PUBLIC=1 too).
          public: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    log: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)))),
          // One info line per finished request (default: on).
          access: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type ConfigFile = Static<typeof ConfigSchema>;
export type ProviderSettingsFile = Static<typeof ProviderSettings>;
