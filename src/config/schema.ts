import { Type, type Static } from '@sinclair/typebox';

/**
 * What a setting is for, and the environment variable and flag that also set it: read by
 * scripts/settings-table.ts for README's settings table (JSON Schema's `description`; validators ignore `env` and `flag`).
 */
const about = (description: string, env?: string, flag?: string) => ({ description, ...(env ? { env } : {}), ...(flag ? { flag } : {}) });

/**
 * The shape of `switchyard.yaml`. Every field is optional: an absent file, or an empty one, is the
 * embedded default configuration. Secrets come from the environment (see config/load.ts).
 */
const Timeouts = Type.Object(
  {
    connect_ms: Type.Optional(Type.Integer({ minimum: 1, ...about('Bound on opening a connection to the provider (ms)') })),
    first_byte_ms: Type.Optional(Type.Integer({ minimum: 1, ...about("Bound on the provider's response headers (ms)") })),
    idle_ms: Type.Optional(Type.Integer({ minimum: 1, ...about('Bound on the silence between two chunks of an answer (ms)') })),
  },
  { additionalProperties: false },
);

const ProviderSettings = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean(about('On or off regardless of keys (default: on when it has a key, or a base URL for keyless local servers)'))),
    api_key: Type.Optional(Type.String({ minLength: 1, ...about("The provider's key (comma-separated in the variable: a key pool; the provider's own variable names work too, e.g. GEMINI_API_KEY)", '<SLUG>_API_KEY') })),
    // A key pool: several credentials, each attempt takes one; a rate-limited or refused key rests alone.
    keys: Type.Optional(
      Type.Array(
        Type.Object(
          {
            key: Type.String({ minLength: 1 }),
            label: Type.Optional(Type.String({ minLength: 1 })),
            weight: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
            // Amazon Bedrock: the key's account may live in another region than the provider's default.
            region: Type.Optional(Type.String({ pattern: '^[a-z0-9-]+$' })),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, ...about("A key pool: `{key, label, weight}` entries, each attempt takes one (Amazon Bedrock: also `region`, the key's own AWS region)") },
      ),
    ),
    base_url: Type.Optional(Type.String({ pattern: '^https?://', ...about("Replaces the catalog's base URL (and enables a keyless local server)", '<SLUG>_BASE_URL') })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), about('Extra headers on every request to the provider'))),
    timeouts: Type.Optional(Timeouts),
    // Azure OpenAI: the deployments API's api-version (with a base URL at the resource root), and
    // which catalog model (id or alias) each deployment serves.
    api_version: Type.Optional(Type.String({ minLength: 1, ...about("Azure OpenAI: the deployments API's api-version") })),
    deployments: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), about('Azure OpenAI: deployment name → the catalog model it serves'))),
    protocol: Type.Optional(Type.String({ minLength: 1, ...about('The protocol (adapter) for every endpoint of this provider, replacing the catalog\'s, e.g. openai-responses or azure-responses (docs/COMPATIBILITY.md)') })),
    // Google Vertex AI: service-account key file(s) (prefer GOOGLE_APPLICATION_CREDENTIALS), project and location.
    credentials: Type.Optional(Type.String({ minLength: 1, ...about('Google Vertex AI: service-account key file(s), comma-separated', 'GOOGLE_APPLICATION_CREDENTIALS') })),
    project: Type.Optional(Type.String({ minLength: 1, ...about('Google Vertex AI: the Google Cloud project (default: the key file\'s)', 'GOOGLE_CLOUD_PROJECT') })),
    location: Type.Optional(Type.String({ pattern: '^[a-z0-9-]+$', ...about('Google Vertex AI: the region (default: global)', 'GOOGLE_CLOUD_LOCATION') })),
    region: Type.Optional(Type.String({ pattern: '^[a-z0-9-]+$', ...about('Amazon Bedrock: the AWS region requests go to and are signed for (default us-east-1)', 'AWS_REGION, AWS_DEFAULT_REGION') })),
    // Answer this provider's requests from a folder of cassettes instead of the network.
    replay: Type.Optional(Type.String({ minLength: 1, ...about("Answer this provider's requests from a folder of cassettes") })),
  },
  { additionalProperties: false },
);

const ApiKeyEntry = Type.Union([
  Type.String({ minLength: 8 }),
  Type.Object({ key: Type.String({ minLength: 8 }), label: Type.Optional(Type.String()) }, { additionalProperties: false }),
]);

export const RateLimitEntry = Type.Object(
  {
    requests: Type.Optional(Type.Integer({ minimum: 1, ...about('Requests allowed per interval') })),
    interval: Type.Optional(Type.Union([Type.String({ pattern: '^\\d+\\s*(ms|s|m|h|d)$' }), Type.Integer({ minimum: 1 })], about('The interval: 10s, 1m, 1h, 1d, or milliseconds (default: 1m)'))),
    tokens_per_minute: Type.Optional(Type.Integer({ minimum: 1, ...about('Tokens allowed per minute') })),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1, ...about('Address to bind (default: 127.0.0.1; another address needs an API key)', 'HOST', '--host') })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, ...about('Port to listen on (default: 8787)', 'PORT', '--port') })),
          // Worker processes sharing the port (node:cluster); 0 or "auto": one per available CPU; 1: no cluster.
          // Checked by config/load.ts (parseWorkers), which says what is allowed.
          workers: Type.Optional(Type.Union([Type.Integer(), Type.String()], about('Processes serving the port: a count, or auto / 0 for one per CPU (default: 1)', 'SWITCHYARD_WORKERS', '--workers'))),
          body_limit_bytes: Type.Optional(Type.Integer({ minimum: 1024, ...about('Largest request body (default: 20 MiB)') })),
          keepalive_ms: Type.Optional(Type.Integer({ minimum: 50, ...about('Interval of keep-alive comments on a waiting stream (default: 1000)') })),
          drain_timeout_ms: Type.Optional(Type.Integer({ minimum: 0, ...about('How long SIGTERM waits for open requests (default: 30000)') })),
          api_prefixes: Type.Optional(Type.Array(Type.String(), about('Path prefixes the API answers under (default: /api/v1, /v1)'))),
          // A client must send its request headers within this long, and its body within body_timeout_ms.
          headers_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, ...about("Bound on a client's request headers (default: 30000)") })),
          body_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, ...about("Bound on a client's request body (default: 60000)") })),
          // How long an idle keep-alive connection stays open.
          idle_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, ...about('How long an idle keep-alive connection stays open (default: 65000)') })),
          // Open connections per process; more are closed as they arrive.
          max_connections: Type.Optional(Type.Integer({ minimum: 1, ...about('Open connections per process (default: 10000)') })),
        },
        { additionalProperties: false },
      ),
    ),
    storage: Type.Optional(
      Type.Object(
        {
          data_dir: Type.Optional(Type.String({ minLength: 1, ...about('Where the SQLite database lives (default: ./data)', 'SWITCHYARD_DATA_DIR') })),
          flush_interval_ms: Type.Optional(Type.Integer({ minimum: 1, ...about('How often generation records are written in a batch (default: 10)') })),
          // SQLite: log pages that start a checkpoint off the event loop; 0 leaves checkpoints to SQLite.
          checkpoint_pages: Type.Optional(Type.Integer({ minimum: 0, ...about('SQLite: log pages that start a checkpoint off the event loop; 0: SQLite\'s own (default: 256)') })),
          // postgres://… for PostgreSQL (prefer DATABASE_URL); absent: SQLite under data_dir.
          database_url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', ...about('PostgreSQL instead of SQLite (required for several replicas)', 'DATABASE_URL') })),
          // PostgreSQL: bound on opening a connection, and on one statement (server and client side).
          connect_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, ...about('PostgreSQL: bound on opening a connection (default: 5000)', 'SWITCHYARD_PG_CONNECT_TIMEOUT_MS') })),
          query_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, ...about('PostgreSQL: bound on one statement (default: 10000)', 'SWITCHYARD_PG_QUERY_TIMEOUT_MS') })),
          // Generation records kept in memory while the database cannot take them; past it, 503.
          max_queued_records: Type.Optional(Type.Integer({ minimum: 1, ...about('Records held in memory while the database cannot take them; past it, 503 (default: 50000)', 'SWITCHYARD_MAX_QUEUED_RECORDS') })),
        },
        { additionalProperties: false },
      ),
    ),
    auth: Type.Optional(
      Type.Object(
        {
          keys: Type.Optional(Type.Array(ApiKeyEntry, about('Inference keys clients send (comma-separated in the variable); auth is off while no key exists anywhere', 'SWITCHYARD_API_KEYS'))),
          // How long a replica trusts its cached copy of a database key (changes are also pushed).
          key_cache_ttl_ms: Type.Optional(Type.Integer({ minimum: 0, ...about('How long a replica trusts its cached copy of a database key (default: 2000)') })),
        },
        { additionalProperties: false },
      ),
    ),
    redis: Type.Optional(
      Type.Object(
        {
          url: Type.Optional(Type.String({ pattern: '^rediss?://', ...about('Redis for rate limits and key invalidations shared by every replica', 'REDIS_URL') })),
          prefix: Type.Optional(Type.String(about('Prefix of every Redis key and channel (default: switchyard:)', 'SWITCHYARD_REDIS_PREFIX'))),
          connect_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, ...about('Redis: bound on opening the connection (default: 2000)', 'SWITCHYARD_REDIS_CONNECT_TIMEOUT_MS') })),
          // Bound on one command (on the request path: the rate limit), after which the request goes on without it.
          command_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, ...about('Redis: bound on one command, then rate limits are counted in this process (default: 250)', 'SWITCHYARD_REDIS_COMMAND_TIMEOUT_MS') })),
        },
        { additionalProperties: false },
      ),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          // How long a reservation outlives a replica that stopped extending it.
          reservation_ttl_ms: Type.Optional(Type.Integer({ minimum: 100, ...about('How long a budget reservation outlives a replica that stopped (default: 60000)', 'SWITCHYARD_RESERVATION_TTL_MS') })),
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
          era: Type.Optional(Type.Union([Type.Literal('2026'), Type.Literal('2025')], about("Which recorded era of OpenRouter's wire format to emit (default: 2026)", 'SWITCHYARD_WIRE_ERA'))),
        },
        { additionalProperties: false },
      ),
    ),
    routing: Type.Optional(
      Type.Object(
        {
          timeouts: Type.Optional(Timeouts),
          failure_window_ms: Type.Optional(Type.Integer({ minimum: 1, ...about("How long a provider's failures count against it (default: 30000)") })),
          max_models: Type.Optional(Type.Integer({ minimum: 1, ...about('Most models one request may list (default: 10)') })),
        },
        { additionalProperties: false },
      ),
    ),
    responses: Type.Optional(
      Type.Object(
        {
          // How long stored Responses API answers are kept for previous_response_id (10s, 1h, 30d, or milliseconds).
          retention: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 1 })], about('How long stored Responses API answers are kept: 1h, 30d, or milliseconds (default: 30d)', 'SWITCHYARD_RESPONSES_RETENTION'))),
        },
        { additionalProperties: false },
      ),
    ),
    replay: Type.Optional(
      Type.Object(
        {
          record_dir: Type.Optional(Type.String({ minLength: 1, ...about('Record every upstream exchange as cassettes in this folder', 'SWITCHYARD_RECORD_DIR', '--record') })),
          pace: Type.Optional(Type.Union([Type.Literal('recorded'), Type.Literal('fast')], about('Replay with the recorded delays, or without (default: recorded)', 'SWITCHYARD_REPLAY_PACE'))),
          ignore_fields: Type.Optional(Type.Array(Type.String(), about('Request fields replay matching ignores'))),
          secret_headers: Type.Optional(Type.Array(Type.String(), about('Extra headers masked in recorded cassettes'))),
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
          file_parser: Type.Optional(
            Type.Object(
              {
                cache_entries: Type.Optional(Type.Integer({ minimum: 0, ...about('file-parser: parsed PDFs kept in memory, by content hash (default: 256)') })),
                // A PDF given by URL is fetched by the gateway when it parses it (src/plugins/pdf-download.ts).
                url_max_bytes: Type.Optional(Type.Integer({ minimum: 1, ...about('file-parser: largest PDF fetched from a URL, in bytes (default: 20 MiB)', 'SWITCHYARD_FILE_PARSER_URL_MAX_BYTES') })),
                url_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, ...about('file-parser: bound on fetching a PDF from a URL (ms, default: 30000)', 'SWITCHYARD_FILE_PARSER_URL_TIMEOUT_MS') })),
                allow_private_urls: Type.Optional(
                  Type.Boolean(about('file-parser: also fetch PDFs from loopback, private and link-local addresses (default: off)', 'SWITCHYARD_FILE_PARSER_ALLOW_PRIVATE_URLS')),
                ),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    catalog: Type.Optional(
      Type.Object(
        {
          // Extra catalog files (same format as catalog/*.yaml), merged over the embedded catalog.
          files: Type.Optional(Type.Array(Type.String(), about('Extra catalog files, merged over the embedded catalog'))),
          providers: Type.Optional(Type.Array(Type.Any(), about('Catalog providers written inline (catalog file format)'))),
          models: Type.Optional(Type.Array(Type.Any(), about('Catalog models written inline (catalog file format)'))),
        },
        { additionalProperties: false },
      ),
    ),
    metrics: Type.Optional(
      Type.Object(
        {
          // Prometheus metrics at GET /metrics (default: on).
          enabled: Type.Optional(Type.Boolean(about('Prometheus metrics at GET /metrics (default: on)'))),
          // Readable without a management key once keys exist (SWITCHYARD_METRICS_PUBLIC=1 too).
          public: Type.Optional(Type.Boolean(about('/metrics readable without a management key once keys exist', 'SWITCHYARD_METRICS_PUBLIC'))),
        },
        { additionalProperties: false },
      ),
    ),
    log: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), about('Log level (default: info)', 'LOG_LEVEL'))),
          // One info line per finished request (default: on).
          access: Type.Optional(Type.Boolean(about('One info line per finished request (default: on)'))),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** Settings only the environment (or a flag) gives: they have no key in the file. */
export const ENVIRONMENT_ONLY_SETTINGS: { env?: string; flag?: string; description: string }[] = [
  { env: 'SWITCHYARD_CONFIG', flag: '--config', description: 'The configuration file (default: ./switchyard.yaml when present)' },
  { env: 'SWITCHYARD_ADMIN_KEY', description: 'A management key given by the environment: works beside database keys, turns auth on, held only as its SHA-256' },
  { flag: '--demo', description: 'Serve the bundled demo recordings (the default with no provider key and no configuration file)' },
  { env: 'SWITCHYARD_SQLITE_DRIVER', description: 'Force the embedded database driver: `node` (node:sqlite, the default where Node has it) or `better-sqlite3`' },
  {
    env: 'AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_BEARER_TOKEN_BEDROCK, AMAZON_BEDROCK_API_KEY',
    description: 'Amazon Bedrock: SigV4 credentials (several comma-separated: a pool), a profile of the shared credentials file, or Bedrock API keys',
  },
  { env: 'AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST', description: 'Azure OpenAI through a Microsoft Entra ID app (client credentials grant) when it has no key' },
  {
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, OTEL_TRACES_EXPORTER, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OTEL_SDK_DISABLED, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT',
    description: 'OpenTelemetry trace export, off unless an endpoint is set (see Traces)',
  },
];

export type ConfigFile = Static<typeof ConfigSchema>;
export type ProviderSettingsFile = Static<typeof ProviderSettings>;
