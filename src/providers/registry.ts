import type { Endpoint } from '../catalog/types.js';
import type { ProviderAdapter } from './types.js';
import { OpenAICompatibleAdapter } from './openai/adapter.js';
import { AnthropicAdapter } from './anthropic/adapter.js';
import { GeminiAdapter } from './gemini/adapter.js';
import { AzureOpenAIAdapter } from './azure/adapter.js';
import { VertexAdapter } from './vertex/adapter.js';
import { BedrockAdapter } from './bedrock/adapter.js';

/** protocol id (catalog `protocol`) -> adapter. A new protocol is one folder plus one line here. */
const adapters = new Map<string, ProviderAdapter>([
  ['openai', new OpenAICompatibleAdapter()],
  ['anthropic', new AnthropicAdapter()],
  ['gemini', new GeminiAdapter()],
  ['azure', new AzureOpenAIAdapter()],
  ['vertex', new VertexAdapter()],
  ['bedrock', new BedrockAdapter()],
]);

export function adapterFor(protocol: string): ProviderAdapter | undefined {
  return adapters.get(protocol);
}

/** The wire an endpoint answers in: its adapter's answerProtocol, else its own protocol. */
export function answerProtocolOf(endpoint: Endpoint): string {
  const protocol = endpoint.provider.protocol;
  return adapters.get(protocol)?.answerProtocol?.(endpoint) ?? protocol;
}

export function knownProtocols(): string[] {
  return [...adapters.keys()];
}
