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
]);

export function adapterFor(protocol: string): ProviderAdapter | undefined {
  return adapters.get(protocol);
}

/**
 * The adapter one attempt at an endpoint uses, when the endpoint is reachable by several protocols
 * (its `protocols`: its own first, then its provider's `extra_protocols`):
 * 1. the protocol whose wire the client itself spoke (`req.native`): its body passes through;
 * 2. else, for a request with hosted tools, the protocol that runs the most of them (the first on a tie);
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
  const hosted = req.tools.filter((t) => t.type === 'hosted');
  if (hosted.length === 0) return own;
  let best = own;
  let most = own ? hosted.filter((t) => own.hostedTools?.has(t.name)).length : -1;
  for (const p of ep.protocols) {
    const a = adapters.get(p);
    const runs = a ? hosted.filter((t) => a.hostedTools?.has(t.name)).length : -1;
    if (runs > most) [best, most] = [a, runs];
  }
  return best;
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
