// The console's only way out: the gateway's own JSON API, with the management key of this tab.

/** The API prefix the gateway serves (it writes it into the page). */
const PREFIX = document.querySelector<HTMLMetaElement>('meta[name="switchyard-api"]')?.content || '/api/v1';
const STORAGE_KEY = 'switchyard.console.key';

/** The management key lives in this tab's session storage only: closing the tab forgets it. */
export const session = {
  get key(): string | null {
    return sessionStorage.getItem(STORAGE_KEY);
  },
  set(key: string): void {
    sessionStorage.setItem(STORAGE_KEY, key);
  },
  clear(): void {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: (message: string) => void = () => undefined;
/** Called when a request with the stored key is refused with 401 (the key was deleted or disabled). */
export function whenUnauthorized(f: (message: string) => void): void {
  onUnauthorized = f;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; key?: string | null } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = init.key === undefined ? session.key : init.key;
  if (key) headers.authorization = `Bearer ${key}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(PREFIX + path, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    throw new ApiFailure(0, 'The gateway cannot be reached');
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: the status line speaks */
  }
  if (!res.ok) {
    const message = (json as { error?: { message?: string } } | null)?.error?.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 401 && key && init.key === undefined) onUnauthorized(message);
    throw new ApiFailure(res.status, message);
  }
  return json as T;
}

export function query(params: Record<string, string | number | null | undefined | false>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '' && v !== false) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Shapes of the answers the console reads (README: "Endpoints").

export interface CurrentKey {
  label: string;
  is_management_key: boolean;
}

export interface Attempt {
  provider_name: string;
  endpoint: string;
  model: string;
  status: number;
  outcome: string;
  latency: number | null;
}

export interface GenerationItem {
  id: string;
  created_at: string;
  api: string;
  model: string | null;
  requested_model: string | null;
  provider_name: string | null;
  provider: string | null;
  api_key: string | null;
  api_key_hash: string | null;
  status: number | null;
  cancelled: boolean;
  streamed: boolean;
  finish_reason: string | null;
  tokens_prompt: number | null;
  tokens_completion: number | null;
  native_tokens_reasoning: number | null;
  native_tokens_cached: number | null;
  total_cost: number;
  latency: number | null;
  generation_time: number | null;
  ttft: number | null;
  attempts: Attempt[];
  error: { code: number; message: string | null } | null;
}

export interface GenerationPage {
  data: GenerationItem[];
  has_more: boolean;
  next_cursor: string | null;
}

export interface RoutingEntry {
  model: string;
  endpoint: string;
  provider_name: string;
  outcome: 'served' | 'failed' | 'skipped' | 'not tried' | string;
  status: number | null;
  reason: string | null;
  latency: number | null;
  key?: string;
}

export interface GenerationDetail {
  id: string;
  created_at: string;
  model: string;
  provider_name: string | null;
  streamed: boolean;
  cancelled: boolean;
  finish_reason: string | null;
  native_finish_reason: string | null;
  tokens_prompt: number | null;
  tokens_completion: number | null;
  native_tokens_reasoning: number | null;
  native_tokens_cached: number | null;
  total_cost: number;
  latency: number | null;
  generation_time: number | null;
  ttft: number | null;
  api: string;
  status: number | null;
  error: { code: number; message: string | null } | null;
  notes: string[];
  routing: RoutingEntry[];
  provider_responses: { status: number; provider_name: string; endpoint_id: string; model_permaslug: string; latency: number | null; key?: string }[];
  provider_key: string | null;
  user_agent: string | null;
  session_id: string | null;
  external_user: string | null;
  upstream_id: string | null;
}

export interface UsageRow {
  key?: string | null;
  label?: string | null;
  model?: string | null;
  provider?: string | null;
  provider_name?: string | null;
  day?: string;
  hour?: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  cached_tokens: number;
  cost: number;
  errors: number;
  cancelled: number;
}

export interface Percentiles {
  p50: number;
  p75: number;
  p90: number;
  p99: number;
}

export interface EndpointHealth {
  model: string;
  provider: string;
  endpoint: string;
  name: string;
  model_name: string;
  provider_name: string;
  tag: string;
  quantization: string | null;
  context_length: number;
  pricing: { prompt: string; completion: string };
  status: number;
  breaker: 'closed' | 'open' | 'half-open';
  uptime_last_5m: number | null;
  uptime_last_30m: number | null;
  uptime_last_1d: number | null;
  latency_last_30m: Percentiles | null;
  throughput_last_30m: Percentiles | null;
  requests_last_30m: number;
}

export interface ApiKey {
  hash: string;
  name: string;
  label: string;
  disabled: boolean;
  limit: number | null;
  limit_remaining: number | null;
  limit_reset: 'daily' | 'weekly' | 'monthly' | null;
  usage: number;
  usage_daily: number;
  usage_monthly: number;
  created_at: string | null;
  expires_at: string | null;
  is_management_key: boolean;
  rate_limit: { requests: number; interval: string; tokens_per_minute?: number };
}

export interface Credits {
  total_credits: number;
  total_usage: number;
  unlimited?: boolean;
}
