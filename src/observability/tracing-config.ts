/**
 * OpenTelemetry trace export as the standard environment variables configure it
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ and the OTLP
 * exporter's). Tracing is off unless an OTLP endpoint is set. Values the SDK would ignore (a bad
 * sampler name, an unsupported protocol) are reported as warnings, logged at start-up: tracing
 * never stops the gateway from starting.
 */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export type SamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

export interface TracingSettings {
  /** The traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces). */
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  timeoutMs: number;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, parsed. */
  resource: Record<string, string>;
  sampler: SamplerName;
  /** The ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG). */
  ratio: number;
  /** OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true: prompts and answers go into the spans. */
  captureContent: boolean;
  /** OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT (or OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT): longer strings are cut; null: no limit. */
  attributeValueLengthLimit: number | null;
  /** The batch span processor (OTEL_BSP_*). */
  batch: { scheduledDelayMs: number; maxQueueSize: number; maxExportBatchSize: number; exportTimeoutMs: number };
  /** What was set but could not be used (logged once tracing starts). */
  warnings: string[];
}

const SAMPLERS: readonly SamplerName[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

/** `k1=v1,k2=v2` with percent-encoded values (W3C Baggage syntax), as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES use it. */
export function parseKeyValues(raw: string | undefined, warnings: string[], name: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const item of raw.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) {
      warnings.push(`${name}: ignored "${item.trim()}" (expected key=value)`);
      continue;
    }
    try {
      out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      warnings.push(`${name}: ignored "${item.slice(0, eq).trim()}" (bad percent-encoding)`);
    }
  }
  return out;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, warnings: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  warnings.push(`${name}: "${raw}" is not a positive integer; using ${fallback}`);
  return fallback;
}

const truthy = (v: string | undefined) => v !== undefined && v.trim().toLowerCase() === 'true';

/** The trace export the environment asks for; null when tracing is off. */
export function tracingSettings(env: NodeJS.ProcessEnv): TracingSettings | null {
  if (truthy(env.OTEL_SDK_DISABLED)) return null;
  const exporter = (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase();
  if (exporter === 'none') return null;
  const warnings: string[] = [];
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const general = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  let url: string;
  if (specific) url = specific;
  else if (general) url = `${general.replace(/\/+$/, '')}/v1/traces`;
  else return null;
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    return { ...off(), warnings: [`OTLP endpoint "${url}" is not an http(s) URL; tracing is off`] };
  }
  if (exporter !== '' && exporter !== 'otlp') warnings.push(`OTEL_TRACES_EXPORTER=${exporter} is not supported (only otlp); exporting OTLP`);
  const protoRaw = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  let protocol: OtlpProtocol = 'http/protobuf';
  if (protoRaw === 'http/json') protocol = 'http/json';
  else if (protoRaw !== 'http/protobuf') {
    return { ...off(), warnings: [`OTLP protocol "${protoRaw}" is not supported (use http/protobuf or http/json); tracing is off`] };
  }
  const headers = { ...parseKeyValues(env.OTEL_EXPORTER_OTLP_HEADERS, warnings, 'OTEL_EXPORTER_OTLP_HEADERS'), ...parseKeyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS, warnings, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS') };
  const timeoutMs = positiveInt(env, env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT' : 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000, warnings);
  let sampler = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase() as SamplerName;
  if (!SAMPLERS.includes(sampler)) {
    warnings.push(`OTEL_TRACES_SAMPLER=${sampler} is not supported; using parentbased_always_on`);
    sampler = 'parentbased_always_on';
  }
  let ratio = 1;
  if (sampler.endsWith('traceidratio') && env.OTEL_TRACES_SAMPLER_ARG !== undefined && env.OTEL_TRACES_SAMPLER_ARG.trim() !== '') {
    const r = Number(env.OTEL_TRACES_SAMPLER_ARG);
    if (Number.isFinite(r) && r >= 0 && r <= 1) ratio = r;
    else warnings.push(`OTEL_TRACES_SAMPLER_ARG=${env.OTEL_TRACES_SAMPLER_ARG} is not a ratio from 0 to 1; using 1`);
  }
  const resource = parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES, warnings, 'OTEL_RESOURCE_ATTRIBUTES');
  return {
    url,
    protocol,
    headers,
    timeoutMs,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || resource['service.name'] || 'switchyard',
    resource,
    sampler,
    ratio,
    captureContent: truthy(env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT),
    attributeValueLengthLimit: env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT || env.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT ? positiveInt(env, env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT ? 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT' : 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', 0, warnings) || null : null,
    batch: {
      scheduledDelayMs: positiveInt(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, warnings),
      maxQueueSize: positiveInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, warnings),
      maxExportBatchSize: positiveInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, warnings),
      exportTimeoutMs: positiveInt(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000, warnings),
    },
    warnings,
  };
}

/** Settings that say only why tracing is off (url empty). */
function off(): TracingSettings {
  return {
    url: '',
    protocol: 'http/protobuf',
    headers: {},
    timeoutMs: 10_000,
    serviceName: 'switchyard',
    resource: {},
    sampler: 'always_off',
    ratio: 0,
    captureContent: false,
    attributeValueLengthLimit: null,
    batch: { scheduledDelayMs: 5000, maxQueueSize: 2048, maxExportBatchSize: 512, exportTimeoutMs: 30_000 },
    warnings: [],
  };
}
