import type { ProviderAdapter } from './types.js';
import { OpenAICompatibleAdapter } from './openai/adapter.js';

/** protocol id (catalog `protocol`) -> adapter. A new protocol is one folder plus one line here. */
const adapters = new Map<string, ProviderAdapter>([['openai', new OpenAICompatibleAdapter()]]);

export function adapterFor(protocol: string): ProviderAdapter | undefined {
  return adapters.get(protocol);
}

export function knownProtocols(): string[] {
  return [...adapters.keys()];
}
