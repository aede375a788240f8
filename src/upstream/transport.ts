import { Agent, errors as undiciErrors, request } from 'undici';
import type { ProviderRuntime } from '../config/load.js';
import type { UpstreamFailure, UpstreamRequest } from '../providers/types.js';
import type { UpstreamResponse } from './types.js';

/**
 * HTTP to upstream providers over undici, one keep-alive connection pool per provider so each
 * gets its own connect timeout. First-byte and idle timeouts map to undici's headers/body timeouts.
 */
const agents = new Map<string, Agent>();

function agentFor(p: ProviderRuntime): Agent {
  let agent = agents.get(p.entry.slug);
  if (!agent) {
    agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      // No cap: a cap silently queues streams beyond it with no status line or keep-alive (seen at 512).
      connections: null,
      pipelining: 1,
      connect: { timeout: p.timeouts.connectMs },
    });
    agents.set(p.entry.slug, agent);
  }
  return agent;
}

export async function closeAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.allSettled(all.map((a) => a.close()));
}

export type { UpstreamResponse } from './types.js';

export function sendUpstream(p: ProviderRuntime, req: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
  return request(req.url, {
    method: 'POST',
    headers: req.headers,
    body: req.body,
    signal,
    dispatcher: agentFor(p),
    headersTimeout: p.timeouts.firstByteMs,
    bodyTimeout: p.timeouts.idleMs,
  });
}

/** A transport-level failure (no usable HTTP response) in the upstream-failure vocabulary. */
export function networkFailure(err: unknown): UpstreamFailure {
  const e = err as { code?: string; message?: string; name?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? e.name ?? 'ERROR';
  if (err instanceof undiciErrors.HeadersTimeoutError) return { status: 408, raw: 'upstream did not respond in time (first-byte timeout)' };
  if (err instanceof undiciErrors.BodyTimeoutError) return { status: 408, raw: 'upstream stalled between chunks (idle timeout)' };
  if (err instanceof undiciErrors.ConnectTimeoutError) return { status: 408, raw: 'could not connect to upstream in time (connect timeout)' };
  return { status: 502, raw: `upstream connection failed (${code}${e.cause?.message ? `: ${e.cause.message}` : e.message ? `: ${e.message}` : ''})` };
}

/** Whether another provider should be tried after this failure (spec §11.4, §30.1 step 9). */
export function isRetryable(status: number): boolean {
  if (status === 408 || status === 429 || status >= 500) return true;
  // A provider that rejects our credentials or lacks the model is a provider problem, not the client's.
  return status === 401 || status === 403 || status === 404;
}

export function retryAfterSeconds(headers: UpstreamResponse['headers']): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - Date.now()) / 1000)) : undefined;
}
