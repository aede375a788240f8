import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type { GenerationRequest } from '../../model/request.js';
import { baseHeaders, probeHeaders, secretFor } from '../shared.js';
import type { Completion, Credential, DecoderOptions, ProbeRequest, ProviderAdapter, StreamDecoder, UpstreamFailure, UpstreamRequest } from '../types.js';
import { geminiEmbeddings } from './embeddings.js';
import { toGenerateContentRequest } from './request.js';
import { GeminiStreamDecoder, parseCompletion, statusOf } from './response.js';

/**
 * Google Gemini over the Generative Language API (Google AI Studio keys):
 * `POST {base}/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`, key in
 * `x-goog-api-key`. Request translation lives in request.ts (+ schema.ts for tool schemas),
 * response translation in response.ts.
 */

type Json = Record<string, unknown>;

/** Longest upstream error body kept for metadata.raw. */
const MAX_RAW = 4000;

function modelPath(upstreamModel: string): string {
  return /^(models|tunedModels)\//.test(upstreamModel) ? upstreamModel : `models/${upstreamModel}`;
}

/** RetryInfo.retryDelay ("37s", "1.5s") from a google.rpc error's details, in whole seconds. */
function retryDelaySeconds(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    if (d && typeof d === 'object' && typeof (d as Json).retryDelay === 'string') {
      const m = /^(\d+(?:\.\d+)?)s$/.exec((d as Json).retryDelay as string);
      if (m) return Math.ceil(Number(m[1]));
    }
  }
  return undefined;
}

function hasReason(details: unknown, reason: string): boolean {
  return Array.isArray(details) && details.some((d) => d && typeof d === 'object' && (d as Json).reason === reason);
}

export class GeminiAdapter implements ProviderAdapter {
  readonly protocol = 'gemini';
  /** Web search is Google Search grounding (request.ts `toTools`). */
  readonly hostedTools: ReadonlySet<string> = new Set(['web_search']);
  readonly embeddings = geminiEmbeddings;

  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    const body = toGenerateContentRequest(req, endpoint);
    const method = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
    const headers = baseHeaders(provider, stream);
    const secret = secretFor(provider, credential);
    if (secret) headers['x-goog-api-key'] = secret;
    return { url: `${provider.baseUrl}/${modelPath(endpoint.upstreamModel)}:${method}`, headers, body: JSON.stringify(body) };
  }

  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest {
    const headers = probeHeaders(provider);
    const secret = secretFor(provider, credential);
    if (secret) headers['x-goog-api-key'] = secret;
    return { url: `${provider.baseUrl}/models?pageSize=1`, headers };
  }

  createStreamDecoder(opts?: DecoderOptions): StreamDecoder {
    return new GeminiStreamDecoder(opts);
  }

  parseCompletion(body: unknown): Completion {
    return parseCompletion(body);
  }

  /**
   * Google's `{"error":{"code","message","status","details"}}`. OpenRouter puts Google's body
   * itself into metadata.raw (docs/COMPATIBILITY.md#upstream-errors), so it is kept verbatim. An invalid API key arrives as
   * 400 INVALID_ARGUMENT with reason API_KEY_INVALID: that is the provider's credential problem,
   * reported as 401 so that routing moves on to another provider.
   */
  parseError(status: number, body: string): UpstreamFailure {
    const raw = body.length > MAX_RAW ? `${body.slice(0, MAX_RAW)}…` : body;
    const failure: UpstreamFailure = { status, raw: raw.trim() === '' ? `HTTP ${status}` : raw };
    try {
      const json = JSON.parse(body) as Json;
      const e = (Array.isArray(json) ? (json[0] as Json)?.error : json.error) as Json | undefined;
      if (e && typeof e === 'object') {
        if (status < 400) failure.status = typeof e.code === 'number' ? e.code : statusOf(String(e.status ?? ''));
        if (hasReason(e.details, 'API_KEY_INVALID')) failure.status = 401;
        const delay = retryDelaySeconds(e.details);
        if (delay !== undefined) failure.retryAfterSeconds = delay;
      }
    } catch {
      // not JSON: keep the text
    }
    return failure;
  }
}
