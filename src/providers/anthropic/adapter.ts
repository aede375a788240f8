import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type { GenerationRequest } from '../../model/request.js';
import { baseHeaders, probeHeaders, secretFor } from '../shared.js';
import type { Completion, Credential, DecoderOptions, ProbeRequest, ProviderAdapter, StreamDecoder, TokenCounter, UpstreamFailure, UpstreamRequest } from '../types.js';
import { buildMessagesBody, countTokensBody, nativeMessagesBody } from './request.js';
import { AnthropicStreamDecoder, parseAnthropicCompletion, parseAnthropicError } from './response.js';

/**
 * Anthropic Messages protocol (`POST {base_url}/messages`): Anthropic itself and any host that
 * speaks it. Request translation lives in request.ts, response translation in response.ts. A
 * request that came in on Anthropic's own wire (`req.native`) is passed through as the client
 * wrote it.
 */

export const ANTHROPIC_VERSION = '2023-06-01';

const BETA_HEADERS = new Set(['anthropic-beta', 'x-anthropic-beta']);

/** A comma-separated beta list -> its names, trimmed, empty ones left out. */
function betaNames(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
}

/**
 * Betas are sent only when the operator configured them for the provider, as an `anthropic-beta`
 * header (or OpenRouter's spelling `x-anthropic-beta`) under `providers.<slug>.headers`.
 */
function configuredBetas(headers: Record<string, string>): string {
  const found: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (BETA_HEADERS.has(k.toLowerCase()) && v.trim() !== '') found.push(v.trim());
  }
  return found.join(',');
}

export class AnthropicAdapter implements ProviderAdapter {
  readonly protocol = 'anthropic';
  /** Anthropic runs web search itself (request.ts writes it as its web_search tool). */
  readonly hostedTools: ReadonlySet<string> = new Set(['web_search']);

  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    const headers = this.headers(req, provider, stream, credential);
    const native = req.native?.protocol === this.protocol ? req.native : undefined;
    const body = native ? nativeMessagesBody(req, native, endpoint, stream) : buildMessagesBody(req, endpoint, stream, { betas: configuredBetas(provider.headers) });
    return { url: `${provider.baseUrl}/messages`, headers, body: JSON.stringify(body) };
  }

  /** `POST {base_url}/messages/count_tokens`, for requests that came in on Anthropic's wire. */
  readonly tokenCounter: TokenCounter = {
    buildRequest: (req, endpoint, provider, credential) => {
      const native = req.native?.protocol === this.protocol ? req.native : undefined;
      if (!native) return null;
      const body = countTokensBody(native, endpoint);
      return { url: `${provider.baseUrl}/messages/count_tokens`, headers: this.headers(req, provider, false, credential), body: JSON.stringify(body) };
    },
    parseCount: (body) => {
      const n = (body as { input_tokens?: unknown } | null)?.input_tokens;
      return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
    },
  };

  private headers(req: GenerationRequest, provider: ProviderRuntime, stream: boolean, credential?: Credential): Record<string, string> {
    const configured = configuredBetas(provider.headers);
    const native = req.native?.protocol === this.protocol ? req.native : undefined;
    const headers = baseHeaders(provider, stream);
    for (const k of BETA_HEADERS) delete headers[k];
    // The client's version on its own wire, else the operator's, else the one this adapter speaks.
    headers['anthropic-version'] = native?.headers['anthropic-version'] ?? headers['anthropic-version'] ?? ANTHROPIC_VERSION;
    // A native request keeps the client's betas (its body may use them), with the operator's added.
    const betas = native ? [...new Set([...betaNames(native.headers['anthropic-beta']), ...betaNames(configured)])].join(',') : configured;
    if (betas) headers['anthropic-beta'] = betas;
    const secret = secretFor(provider, credential);
    if (secret) headers['x-api-key'] = secret;
    return headers;
  }

  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest {
    const headers = probeHeaders(provider);
    headers['anthropic-version'] ??= ANTHROPIC_VERSION;
    const secret = secretFor(provider, credential);
    if (secret) headers['x-api-key'] = secret;
    return { url: `${provider.baseUrl}/models?limit=1`, headers };
  }

  createStreamDecoder(opts: DecoderOptions = {}): StreamDecoder {
    return new AnthropicStreamDecoder(opts.keepNative === true);
  }

  parseCompletion(body: unknown): Completion {
    return parseAnthropicCompletion(body);
  }

  parseError(status: number, body: string): UpstreamFailure {
    return parseAnthropicError(status, body);
  }
}
