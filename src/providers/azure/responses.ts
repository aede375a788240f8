import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type { GenerationRequest } from '../../model/request.js';
import { OpenAIResponsesAdapter } from '../openai-responses/adapter.js';
import type { Completion, Credential, DecoderOptions, ProbeRequest, ProviderAdapter, StreamDecoder, UpstreamFailure, UpstreamRequest } from '../types.js';
import { AzureOpenAIAdapter, azureAuthHeader, parseAzureError, V1_SUFFIX } from './adapter.js';

/**
 * Azure OpenAI's Responses API (protocol `azure-responses`, chosen with `providers.azure.protocol`):
 * the openai-responses adapter's bodies, decoder and parser (a Responses client's body passes
 * through natively here too) on Azure's routes, with its `api-key` header and content-filter errors.
 *
 * - v1 API: base URL ending in `/openai/v1`, `POST …/responses` (`?api-version=` added when one is
 *   configured, as the v1 preview routes take it).
 * - Older resources: base URL at the resource root with `providers.azure.api_version` (a preview
 *   version, e.g. 2025-04-01-preview), `POST /openai/responses?api-version=…`.
 *
 * The `model` field is the deployment name on both routes. Azure runs fewer hosted tools than
 * OpenAI (no web search): those below; the others are left out of the request and recorded.
 */

const AZURE_HOSTED: ReadonlySet<string> = new Set(['file_search', 'code_interpreter', 'image_generation', 'computer_use', 'mcp']);

/** Where one Responses request of this resource goes. */
export function azureResponsesUrl(baseUrl: string, apiVersion: string | undefined): string {
  if (apiVersion === undefined) return `${baseUrl}/responses`;
  if (baseUrl.endsWith(V1_SUFFIX)) return `${baseUrl}/responses?api-version=${encodeURIComponent(apiVersion)}`;
  return `${baseUrl}/openai/responses?api-version=${encodeURIComponent(apiVersion)}`;
}

export class AzureResponsesAdapter implements ProviderAdapter {
  readonly protocol = 'azure-responses';
  private readonly responses = new OpenAIResponsesAdapter(AZURE_HOSTED);
  readonly wire = this.responses.wire;
  readonly hostedTools = AZURE_HOSTED;

  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    const route = { url: azureResponsesUrl(provider.baseUrl, provider.apiVersion), auth: (secret: string) => azureAuthHeader(secret, credential) };
    return this.responses.requestOn(route, req, endpoint, provider, stream, credential);
  }

  /** The resource's model list, as for its chat route. */
  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest {
    return new AzureOpenAIAdapter().probeRequest(provider, credential);
  }

  createStreamDecoder(opts?: DecoderOptions): StreamDecoder {
    return this.responses.createStreamDecoder(opts);
  }

  parseCompletion(body: unknown): Completion {
    return this.responses.parseCompletion(body);
  }

  parseError(status: number, body: string): UpstreamFailure {
    return parseAzureError(status, body);
  }
}
