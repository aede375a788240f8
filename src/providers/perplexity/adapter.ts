import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type { GenerationRequest, HostedTool } from '../../model/request.js';
import { chatCompletionsBody, OpenAICompatibleAdapter } from '../openai/adapter.js';
import { allowedDomainsOf } from '../openai-responses/request.js';
import { baseHeaders, secretFor } from '../shared.js';
import type { Completion, Credential, ProbeRequest, ProviderAdapter, StreamDecoder, UpstreamFailure, UpstreamRequest } from '../types.js';

/**
 * Perplexity's Sonar API (`POST https://api.perplexity.ai/chat/completions`, protocol
 * `perplexity`): chat completions whose models search the web on every request. Its answers
 * decode as any OpenAI-compatible host's; the sources come back as `search_results` (and the
 * older `citations`), which the OpenAI-compatible decoders turn into url_citation annotations.
 *
 * Web search is this protocol's hosted tool in the sense that matters to the web plugin: asked
 * for natively, it costs nothing extra (the request price covers it) and its domain filters
 * become Perplexity's `search_domain_filter` (an allow-list, or a block-list written `-domain`).
 * https://docs.perplexity.ai/api-reference/chat-completions-post
 */

/** Perplexity takes at most this many domains in one filter. */
const MAX_DOMAINS = 20;

type Json = Record<string, unknown>;

/** Perplexity's domain filter for a web_search tool's neutral config: allowed as given, blocked prefixed with `-`. */
export function searchDomainFilter(config: Json): string[] | undefined {
  const allowed = allowedDomainsOf(config);
  const blocked = Array.isArray(config.blocked_domains) ? (config.blocked_domains as string[]) : Array.isArray(config.excluded_domains) ? (config.excluded_domains as string[]) : undefined;
  const filter = allowed ?? blocked?.map((d) => `-${d}`);
  return filter && filter.length > 0 ? filter.slice(0, MAX_DOMAINS) : undefined;
}

export class PerplexityAdapter implements ProviderAdapter {
  readonly protocol = 'perplexity';
  /** Its models always search; the hosted tool only carries the web plugin's filters. */
  readonly hostedTools: ReadonlySet<string> = new Set(['web_search']);
  /** Answers, streams and errors are OpenAI-compatible. */
  private readonly chat = new OpenAICompatibleAdapter();

  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    const body = chatCompletionsBody(req, endpoint, stream, { openai: false, maxTokensField: 'max_tokens', model: endpoint.upstreamModel });
    const search = req.tools.find((t): t is HostedTool => t.type === 'hosted' && t.name === 'web_search');
    const filter = search ? searchDomainFilter(search.config) : undefined;
    if (filter) body.search_domain_filter = filter;
    const headers = baseHeaders(provider, stream);
    const secret = secretFor(provider, credential);
    if (secret) headers.authorization = `Bearer ${secret}`;
    return { url: `${provider.baseUrl}/chat/completions`, headers, body: JSON.stringify(body) };
  }

  /** Perplexity has no model list; its async-jobs list is the cheapest authenticated GET it documents. */
  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest {
    const probe = this.chat.probeRequest(provider, credential);
    return { ...probe, url: `${provider.baseUrl}/async/chat/completions` };
  }

  createStreamDecoder(): StreamDecoder {
    return this.chat.createStreamDecoder();
  }

  parseCompletion(body: unknown): Completion {
    return this.chat.parseCompletion(body);
  }

  parseError(status: number, body: string): UpstreamFailure {
    return this.chat.parseError(status, body);
  }
}
