import type { Endpoint } from '../catalog/types.js';
import type { GenerationRequest } from '../model/request.js';
import type { ProviderAdapter } from './types.js';
import { OpenAICompatibleAdapter } from './openai/adapter.js';
import { AnthropicAdapter } from './anthropic/adapter.js';
import { GeminiAdapter } from './gemini/adapter.js';
import { AzureOpenAIAdapter } from './azure/adapter.js';
import { VertexAdapter } from './vertex/adapter.js';
import { BedrockAdapter } from './bedrock/adapter.js';
import { OpenAIResponsesAdapter } from './openai-responses/adapter.js';
import { AzureResponsesAdapter } from './azure/responses.js';
import { XaiResponsesAdapter } from './xai/adapter.js';
import { PerplexityAdapter } from './perplexity/adapter.js';

/** protocol id (catalog `protocol`) -> adapter. A new protocol is one folder plus one line here. */
const adapters = new Map<string, ProviderAdapter>([
  ['openai', new OpenAICompatibleAdapter()],
  ['anthropic', new AnthropicAdapter()],
  ['gemini', new GeminiAdapter()],
  ['azure', new AzureOpenAIAdapter()],
  ['vertex', new VertexAdapter()],
  ['bedrock', new BedrockAdapter()],
  ['openai-responses', new OpenAIResponsesAdapter()],
  ['azure-responses', new AzureResponsesAdapter()],
  ['xai-responses', new XaiResponsesAdapter()],
  ['perplexity', new PerplexityAdapter()],
]);

export function adapterFor(protocol: string): ProviderAdapter | undefined {
  return adapters.get(protocol);
}

/**
 * The adapter one attempt at an endpoint uses, when the endpoint is reachable by several protocols
 * (its `protocols`: its own first, then its provider's `extra_protocols`):
 * 1. the protocol whose wire the client itself spoke (`req.native`): its body passes through;
 * 2. else, for a request with hosted tools, the protocol that runs the most of them (the first on a tie);
 *    the web plugin's native search counts as a hosted `web_search` (OpenAI searches only through
 *    its Responses API, xAI likewise);
 * 3. else the endpoint's own protocol.
 */
export function adapterForAttempt(ep: Endpoint, req: GenerationRequest): ProviderAdapter | undefined {
  const own = adapters.get(ep.protocol);
  if (ep.protocols.length < 2) return own;
  const native = req.native?.protocol;
  if (native !== undefined) {
    for (const p of ep.protocols) {
      const a = adapters.get(p);
      if (a && (a.wire ?? a.protocol) === native) return a;
    }
  }
  const hosted = wantedHostedTools(req);
  if (hosted.length === 0) return own;
  let best = own;
  let most = own ? hosted.filter((name) => own.hostedTools?.has(name)).length : -1;
  for (const p of ep.protocols) {
    const a = adapters.get(p);
    const runs = a ? hosted.filter((name) => a.hostedTools?.has(name)).length : -1;
    if (runs > most) [best, most] = [a, runs];
  }
  return best;
}

/** Hosted tools the request wants run upstream: its own, and web search when the web plugin may search natively. */
export function wantedHostedTools(req: GenerationRequest): string[] {
  const names: string[] = [];
  // A search tool that asks for Exa is run by Switchyard, not upstream.
  for (const t of req.tools) if (t.type === 'hosted' && t.config.engine !== 'exa') names.push(t.name);
  const web = req.plugins?.web;
  if (web && web.engine !== 'exa' && !names.includes('web_search')) names.push('web_search');
  return names;
}

/**
 * The wire an attempt of this protocol answers in: what a native request must be written in to
 * pass through, and what a same-wire client gets unchanged. The adapter's answerProtocol for the
 * endpoint (Claude on Bedrock answers in Anthropic's wire), else its wire (ProviderAdapter.wire),
 * else the protocol itself.
 */
export function wireOf(protocol: string, endpoint?: Endpoint): string {
  const adapter = adapters.get(protocol);
  return (endpoint && adapter?.answerProtocol?.(endpoint)) ?? adapter?.wire ?? protocol;
}

export function knownProtocols(): string[] {
  return [...adapters.keys()];
}
