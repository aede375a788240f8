import { createHash } from 'node:crypto';
import type { Endpoint } from '../catalog/types.js';
import type { ProviderRuntime } from '../config/load.js';
import type { EmbeddingRequest } from '../model/embeddings.js';
import type { FunctionTool, GenerationRequest, JsonSchema } from '../model/request.js';
import type { TokenUsage, UpstreamChunk } from '../model/response.js';
import { UntranslatableRequest } from './types.js';
import type { Credential } from '../upstream/key-pool.js';
import type { SseEvent } from './types.js';

/** What every provider adapter shares: one place, so no adapter repeats another. */

/** Share of the output budget a reasoning effort gives to thinking (OpenRouter's documented ratios). */
export const EFFORT_RATIO: Readonly<Record<string, number>> = { max: 0.95, xhigh: 0.95, high: 0.8, medium: 0.5, low: 0.2, minimal: 0.1 };
/** Anthropic's minimum thinking budget, also the floor of computed budgets elsewhere. */
export const MIN_THINKING_BUDGET = 1024;
/** The ceiling OpenRouter's effort formula applies. */
export const MAX_EFFORT_BUDGET = 128_000;

/** A thinking budget from an effort and the output budget it shares. */
export function effortBudget(effort: string | null | undefined, outputTokens: number): number {
  const ratio = EFFORT_RATIO[effort ?? 'medium'] ?? EFFORT_RATIO.medium;
  return Math.max(Math.min(Math.floor(outputTokens * ratio), MAX_EFFORT_BUDGET), MIN_THINKING_BUDGET);
}

/** End-user ids identify people; providers get a stable digest, never the id. */
export function hashUser(user: string): string {
  return createHash('sha256').update(user).digest('hex').slice(0, 32);
}

/**
 * The output limit to send to one endpoint: the client's, lowered to the endpoint's own maximum
 * when the request allows clamping (routing tries such endpoints last).
 */
export function maxTokensFor(req: GenerationRequest, endpoint: Endpoint): number | undefined {
  const wanted = req.maxTokens;
  if (wanted === undefined) return undefined;
  const cap = endpoint.maxCompletionTokens;
  if (req.maxTokensPolicy === 'clamp' && cap !== null && wanted > cap) return cap;
  return wanted;
}

/** Tool-call arguments as an object (Anthropic, Gemini): JSON text parsed, anything else wrapped. */
export function argumentsObject(args: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const parsed = JSON.parse(args) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { value: parsed };
  } catch {
    // Keep the client's text rather than failing the whole request.
    return { arguments: args };
  }
}

/** The single parameter a free-form (custom) tool gets when the upstream knows only JSON function tools. */
export const CUSTOM_TOOL_INPUT = 'input';

/** A tool's JSON Schema for a function-calling upstream: custom tools take one string. */
export function toolParameters(tool: FunctionTool): JsonSchema {
  if (tool.kind === 'custom') {
    const format = tool.format;
    const grammar = format && typeof format.definition === 'string' ? ` Input must follow this ${String(format.syntax ?? 'grammar')} grammar:\n${format.definition}` : '';
    return {
      type: 'object',
      properties: { [CUSTOM_TOOL_INPUT]: { type: 'string', description: `The raw input for the tool.${grammar}` } },
      required: [CUSTOM_TOOL_INPUT],
      additionalProperties: false,
    };
  }
  return tool.parameters ?? { type: 'object', properties: {} };
}

/** Arguments of a call to a custom tool as a function-calling upstream expects them back. */
export function customArgumentsAsJson(input: string): string {
  return JSON.stringify({ [CUSTOM_TOOL_INPUT]: input });
}

/** The headers every upstream request carries, then the operator's configured ones. */
export function baseHeaders(provider: ProviderRuntime, stream: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
    'user-agent': 'Switchyard',
  };
  for (const [k, v] of Object.entries(provider.headers)) headers[k.toLowerCase()] = v;
  return headers;
}

/** The headers of a bodiless GET (a probe): the common ones without a content type, then the operator's. */
export function probeHeaders(provider: ProviderRuntime): Record<string, string> {
  const headers = baseHeaders(provider, false);
  delete headers['content-type'];
  return headers;
}

/** The secret one request carries: the attempt's pool key, else the provider's first key. */
export function secretFor(provider: ProviderRuntime, credential: Credential | undefined): string | undefined {
  return credential ? credential.secret : provider.apiKey;
}

/** Upstream error text for a client, a log or a record: bounded. */
export function boundedText(text: string, max = 2000): string {
  const t = text.trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** The most human part of an upstream error body, else the body itself (bounded). */
export function extractErrorMessage(body: string): string {
  const text = body.trim();
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const err = json.error;
    if (typeof err === 'string') return err;
    if (err && typeof err === 'object' && typeof (err as Record<string, unknown>).message === 'string') return (err as Record<string, unknown>).message as string;
    if (typeof json.message === 'string') return json.message;
    if (typeof json.detail === 'string') return json.detail;
  } catch {
    // not JSON: fall through to the text
  }
  return boundedText(text);
}

/**
 * An upstream SSE event as text, framing included (`event:` line when it had one, one `data:` line
 * per line of data): what a decoder keeps as `UpstreamChunk.native` for a client of the same wire.
 */
export function sseEventText(event: SseEvent): string {
  const head = event.event !== undefined && event.event !== '' ? `event: ${event.event}\n` : '';
  return `${head}data: ${event.data.split('\n').join('\ndata: ')}\n\n`;
}

/** Usage of an embeddings call: prompt tokens only. */
export function promptOnlyUsage(promptTokens: number): TokenUsage {
  return { promptTokens, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, audioPromptTokens: 0 };
}

/** The texts of an embeddings request, for protocols that take no token ids. */
export function embeddingTexts(req: EmbeddingRequest, protocol: string): string[] {
  if (req.input.kind !== 'text') throw new UntranslatableRequest(`${protocol} embeddings take text, not token ids`);
  return req.input.texts;
}

/**
 * A JSON stream event of a typed-event wire (Anthropic's, OpenAI Responses'): its object and type
 * (the `type` field, else the SSE event name). An empty event carries nothing (`[]`); invalid JSON
 * fails the attempt with a chunk that says so.
 */
export function typedJsonEvent(event: SseEvent): { json: Record<string, unknown>; type: string } | UpstreamChunk[] {
  const data = event.data.trim();
  if (data === '') return [];
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return [{ error: { status: 502, raw: `upstream sent invalid JSON in stream: ${data.slice(0, 200)}` } }];
  }
  return { json, type: typeof json.type === 'string' ? json.type : (event.event ?? '') };
}
