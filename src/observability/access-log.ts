import type { GenerationRecord } from '../storage/generations.js';

/**
 * The access log: one `info` line per finished generation request (served, failed, cancelled or
 * refused), in the JSON the rest of the log uses (ISO 8601 `time`, level names; logger.ts).
 * `log.access: false` switches it off.
 */
export const ACCESS_MESSAGE = 'request';

export interface AccessLine {
  gen: string;
  /** The label of the key that made the request (null while auth is off). */
  key: string | null;
  api: string;
  /** The catalog model that served (or was last tried), else the model the client named. */
  model: string | null;
  /** The provider slug that served; null when none did. */
  provider: string | null;
  status: number;
  stream?: boolean;
  cancelled?: boolean;
  promptTokens: number | null;
  completionTokens: number | null;
  reasoningTokens?: number | null;
  cachedTokens?: number | null;
  /** USD charged. */
  cost: number;
  durationMs: number | null;
  ttftMs: number | null;
  /** Upstream exchanges made. */
  attempts: number;
  error?: string;
}

/** The line of a request that went through the pipeline (its generation record). */
export function accessLine(r: GenerationRecord, servedSlug: string | null, attempts: number): AccessLine {
  const line: AccessLine = {
    gen: r.id,
    key: r.apiKey,
    api: r.api ?? 'chat_completions',
    model: r.model,
    provider: servedSlug,
    status: r.status,
    stream: r.streamed,
    promptTokens: r.tokensPrompt,
    completionTokens: r.tokensCompletion,
    reasoningTokens: r.tokensReasoning,
    cachedTokens: r.tokensCached,
    cost: r.cost,
    durationMs: r.latencyMs,
    ttftMs: r.ttftMs,
    attempts,
  };
  if (r.cancelled) line.cancelled = true;
  if (r.errorMessage !== null && r.status !== 499) line.error = r.errorMessage.slice(0, 200);
  return line;
}

/** The line of a request refused before any upstream call. */
export function refusedLine(id: string, key: string | null, api: string, model: string | null, status: number, message: string, durationMs: number | null): AccessLine {
  return { gen: id, key, api, model, provider: null, status, promptTokens: null, completionTokens: null, cost: 0, durationMs, ttftMs: null, attempts: 0, error: message.slice(0, 200) };
}
