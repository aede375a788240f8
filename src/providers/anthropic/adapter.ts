import type { ChatRequest } from '../../ingress/chat-completions/schema.js';
import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type { Completion, ProviderAdapter, StreamDecoder, UpstreamFailure, UpstreamRequest } from '../types.js';
import { buildMessagesBody } from './request.js';
import { AnthropicStreamDecoder, parseAnthropicCompletion, parseAnthropicError } from './response.js';

/**
 * Anthropic Messages protocol (`POST {base_url}/messages`): Anthropic itself and any host that
 * speaks it. Request translation lives in request.ts, response translation in response.ts.
 */

export const ANTHROPIC_VERSION = '2023-06-01';

/**
 * Betas are sent only when the operator configured them for the provider, as an `anthropic-beta`
 * header (or OpenRouter's spelling `x-anthropic-beta`) under `providers.<slug>.headers`.
 */
function configuredBetas(headers: Record<string, string>): string {
  const found: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if ((key === 'anthropic-beta' || key === 'x-anthropic-beta') && v.trim() !== '') found.push(v.trim());
  }
  return found.join(',');
}

export class AnthropicAdapter implements ProviderAdapter {
  readonly protocol = 'anthropic';

  buildRequest(req: ChatRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean): UpstreamRequest {
    const betas = configuredBetas(provider.headers);
    const body = buildMessagesBody(req, endpoint, stream, { betas });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
      'user-agent': 'Switchyard',
      'anthropic-version': ANTHROPIC_VERSION,
    };
    for (const [k, v] of Object.entries(provider.headers)) {
      const key = k.toLowerCase();
      if (key === 'anthropic-beta' || key === 'x-anthropic-beta') continue;
      headers[key] = v;
    }
    if (betas) headers['anthropic-beta'] = betas;
    if (provider.apiKey) headers['x-api-key'] = provider.apiKey;
    return { url: `${provider.baseUrl}/messages`, headers, body: JSON.stringify(body) };
  }

  createStreamDecoder(): StreamDecoder {
    return new AnthropicStreamDecoder();
  }

  parseCompletion(body: unknown): Completion {
    return parseAnthropicCompletion(body);
  }

  parseError(status: number, body: string): UpstreamFailure {
    return parseAnthropicError(status, body);
  }
}
