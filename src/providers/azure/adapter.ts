import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type { GenerationRequest } from '../../model/request.js';
import { chatCompletionsBody, OpenAICompatibleAdapter } from '../openai/adapter.js';
import { openAIEmbeddings } from '../openai/embeddings.js';
import { baseHeaders, extractErrorMessage, probeHeaders, secretFor } from '../shared.js';
import type { Completion, Credential, ProbeRequest, ProviderAdapter, StreamDecoder, UpstreamFailure, UpstreamRequest } from '../types.js';

/**
 * Azure OpenAI: the OpenAI chat-completions wire (translation and answers are the openai
 * adapter's) on Azure's routes, with its key header and its content filter.
 *
 * - Deployments API: with `providers.azure.api_version` set and the base URL at the resource root
 *   (`https://<resource>.openai.azure.com`), `POST /openai/deployments/{deployment}/chat/completions
 *   ?api-version=…`, no `model` field (the URL names the deployment).
 * - v1 API: with the base URL ending in `/openai/v1` (and no api_version), `POST …/chat/completions`
 *   with `model` = the deployment name (an api_version given with such a base URL is added as
 *   `?api-version=`, as the v1 preview routes take it).
 *
 * The endpoint's upstream model is the deployment name (`providers.azure.deployments` maps each
 * deployment to a catalog model, see Catalog.bindDeployments). The key goes in `api-key`; an
 * Entra ID access token (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) as a bearer token.
 */

type Json = Record<string, unknown>;

export const V1_SUFFIX = '/openai/v1';

/** Azure's key header, or the bearer token of an Entra ID credential (upstream/entra-auth.ts). */
export function azureAuthHeader(secret: string, credential: Credential | undefined): [string, string] {
  return credential?.scheme === 'bearer' ? ['authorization', `Bearer ${secret}`] : ['api-key', secret];
}

/** Where one request of this deployment goes (`operation`: `chat/completions` or `embeddings`). */
export function azureUrl(baseUrl: string, deployment: string, apiVersion: string | undefined, operation: string): string {
  if (apiVersion === undefined) return `${baseUrl}/${operation}`;
  if (baseUrl.endsWith(V1_SUFFIX)) return `${baseUrl}/${operation}?api-version=${encodeURIComponent(apiVersion)}`;
  return `${baseUrl}/openai/deployments/${encodeURIComponent(deployment)}/${operation}?api-version=${encodeURIComponent(apiVersion)}`;
}

/** Where one chat request of this deployment goes. */
export function azureChatUrl(baseUrl: string, deployment: string, apiVersion: string | undefined): string {
  return azureUrl(baseUrl, deployment, apiVersion, 'chat/completions');
}

/** The deployments API names the deployment in the URL; the v1 API in `model`. */
const usesDeploymentRoute = (provider: ProviderRuntime) => provider.apiVersion !== undefined && !provider.baseUrl.endsWith(V1_SUFFIX);

/** The categories Azure's content filter flagged, e.g. `hate (medium), jailbreak`. */
function flaggedCategories(results: unknown): string[] {
  if (!results || typeof results !== 'object') return [];
  const out: string[] = [];
  for (const [category, verdict] of Object.entries(results as Json)) {
    if (!verdict || typeof verdict !== 'object') continue;
    const v = verdict as Json;
    if (v.filtered === true || v.detected === true) out.push(typeof v.severity === 'string' && v.severity !== 'safe' ? `${category} (${v.severity})` : category);
  }
  return out;
}

/**
 * Azure's error body. A prompt its content filter blocked is a 400 with `code: content_filter`
 * and the filter's verdicts under `innererror.content_filter_result`: reported as a 400 whose
 * message names the flagged categories (another provider may still serve the model, so the
 * next model in `models` gets its turn as after any 400).
 */
export function parseAzureError(status: number, body: string): UpstreamFailure {
  let e: Json | undefined;
  try {
    const json = JSON.parse(body) as Json;
    e = json.error && typeof json.error === 'object' ? (json.error as Json) : undefined;
  } catch {
    // not JSON
  }
  const inner = (e?.innererror ?? {}) as Json;
  if (e?.code === 'content_filter' || inner.code === 'ResponsibleAIPolicyViolation') {
    const flagged = flaggedCategories(inner.content_filter_result);
    const what = flagged.length > 0 ? `: ${flagged.join(', ')}` : '';
    return { status: status >= 400 && status < 500 ? status : 400, raw: `Azure content filter blocked the request${what}. ${typeof e?.message === 'string' ? e.message : ''}`.trim() };
  }
  return { status, raw: extractErrorMessage(body) };
}

export class AzureOpenAIAdapter implements ProviderAdapter {
  readonly protocol = 'azure';
  /** Azure answers in OpenAI's wire: its decoder and completion parser serve as they are. */
  private readonly openai = new OpenAICompatibleAdapter();
  /** OpenAI's embeddings wire on Azure's routes, with its key header. */
  readonly embeddings = openAIEmbeddings({
    url: (provider, endpoint) => azureUrl(provider.baseUrl, endpoint.upstreamModel, provider.apiVersion, 'embeddings'),
    model: (provider, endpoint) => (usesDeploymentRoute(provider) ? null : endpoint.upstreamModel),
    authorize: (headers, secret) => {
      headers['api-key'] = secret;
    },
  });

  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    const apiVersion = provider.apiVersion;
    const deployments = usesDeploymentRoute(provider);
    const body = chatCompletionsBody(req, endpoint, stream, {
      openai: true,
      // Reasoning models (o-series, gpt-5) take only max_completion_tokens; older deployments only max_tokens.
      maxTokensField: endpoint.model.reasoning === true ? 'max_completion_tokens' : 'max_tokens',
      model: deployments ? null : endpoint.upstreamModel,
    });
    const headers = baseHeaders(provider, stream);
    const secret = secretFor(provider, credential);
    if (secret) {
      const [name, value] = azureAuthHeader(secret, credential);
      headers[name] = value;
    }
    return { url: azureChatUrl(provider.baseUrl, endpoint.upstreamModel, apiVersion), headers, body: JSON.stringify(body) };
  }

  /** The v1 API's model list, or the resource's (`/openai/models?api-version=…`) for the deployments API. */
  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest {
    const headers = probeHeaders(provider);
    const secret = secretFor(provider, credential);
    if (secret) {
      const [name, value] = azureAuthHeader(secret, credential);
      headers[name] = value;
    }
    const apiVersion = provider.apiVersion;
    if (apiVersion === undefined) return { url: `${provider.baseUrl}/models`, headers };
    const query = `api-version=${encodeURIComponent(apiVersion)}`;
    return { url: provider.baseUrl.endsWith(V1_SUFFIX) ? `${provider.baseUrl}/models?${query}` : `${provider.baseUrl}/openai/models?${query}`, headers };
  }

  createStreamDecoder(): StreamDecoder {
    return this.openai.createStreamDecoder();
  }

  parseCompletion(body: unknown): Completion {
    return this.openai.parseCompletion(body);
  }

  parseError(status: number, body: string): UpstreamFailure {
    return parseAzureError(status, body);
  }
}
