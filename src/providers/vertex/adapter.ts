import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type { GenerationRequest } from '../../model/request.js';
import { AnthropicAdapter } from '../anthropic/adapter.js';
import { buildMessagesBody } from '../anthropic/request.js';
import { GeminiAdapter } from '../gemini/adapter.js';
import { toGenerateContentRequest } from '../gemini/request.js';
import { baseHeaders, probeHeaders, secretFor } from '../shared.js';
import { vertexEmbeddings } from './embeddings.js';
import { vertexBaseUrl, vertexModelUrl, vertexPublisher } from './routes.js';
import type { Completion, Credential, DecoderOptions, ProbeRequest, ProviderAdapter, SseEvent, StreamDecoder, UpstreamChunk, UpstreamFailure, UpstreamRequest } from '../types.js';

/**
 * Google Vertex AI: Gemini through `generateContent` / `streamGenerateContent?alt=sse` (the gemini
 * adapter's translation) and Claude through `rawPredict` / `streamRawPredict` (the anthropic
 * adapter's Messages body with `anthropic_version: "vertex-2023-10-16"` and no `model`), on
 * `{base}/v1/projects/{project}/locations/{location}/publishers/{google|anthropic}/models/{id}`.
 * The bearer token is the attempt's credential: an access token the pipeline obtained for the
 * service account (upstream/google-auth.ts). Nothing here is translated twice: the answers are
 * read by the two adapters' own decoders and parsers, chosen by the shape of the answer.
 */

export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

type Json = Record<string, unknown>;

/** Reads the first event to see which family answers, then hands every event to that family's decoder. */
class VertexStreamDecoder implements StreamDecoder {
  private inner: StreamDecoder | null = null;

  constructor(
    private readonly gemini: GeminiAdapter,
    private readonly anthropic: AnthropicAdapter,
    private readonly webSearch: boolean,
  ) {}

  decode(event: SseEvent): UpstreamChunk[] | null {
    this.inner ??= event.event !== undefined || event.data.startsWith('{"type"') ? this.anthropic.createStreamDecoder() : this.gemini.createStreamDecoder({ webSearch: this.webSearch });
    return this.inner.decode(event);
  }
}

/** Whether an answer (or error) body is Anthropic's. */
function isAnthropicBody(json: unknown): boolean {
  return json !== null && typeof json === 'object' && typeof (json as Json).type === 'string';
}

export class VertexAdapter implements ProviderAdapter {
  readonly protocol = 'vertex';
  /** Both families search on Vertex: Gemini with Google Search grounding, Claude with Anthropic's web search tool. */
  readonly hostedTools: ReadonlySet<string> = new Set(['web_search']);
  readonly embeddings = vertexEmbeddings;
  private readonly gemini = new GeminiAdapter();
  private readonly anthropic = new AnthropicAdapter();

  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    const model = vertexModelUrl(provider, endpoint.upstreamModel);
    const headers = baseHeaders(provider, stream);
    const token = secretFor(provider, credential);
    if (token) headers.authorization = `Bearer ${token}`;
    if (vertexPublisher(endpoint.upstreamModel) === 'anthropic') {
      const body = buildMessagesBody(req, endpoint, stream, { betas: '' });
      delete body.model;
      const out: Json = { anthropic_version: VERTEX_ANTHROPIC_VERSION, ...body };
      return { url: `${model}:${stream ? 'streamRawPredict' : 'rawPredict'}`, headers, body: JSON.stringify(out) };
    }
    const body = toGenerateContentRequest(req, endpoint);
    return { url: `${model}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`, headers, body: JSON.stringify(body) };
  }

  /** The project's endpoints in the location: needs the access token and the project, spends nothing. */
  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest {
    const headers = probeHeaders(provider);
    const token = secretFor(provider, credential);
    if (token) headers.authorization = `Bearer ${token}`;
    const location = provider.location ?? 'global';
    const base = provider.baseUrlOverridden ? provider.baseUrl : vertexBaseUrl(location);
    return { url: `${base}/v1/projects/${encodeURIComponent(provider.project ?? '')}/locations/${location}/endpoints?pageSize=1`, headers };
  }

  createStreamDecoder(opts?: DecoderOptions): StreamDecoder {
    return new VertexStreamDecoder(this.gemini, this.anthropic, opts?.webSearch === true);
  }

  parseCompletion(body: unknown): Completion {
    return isAnthropicBody(body) ? this.anthropic.parseCompletion(body) : this.gemini.parseCompletion(body);
  }

  parseError(status: number, body: string): UpstreamFailure {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      // not JSON: Google's parser keeps the text
    }
    return isAnthropicBody(json) ? this.anthropic.parseError(status, body) : this.gemini.parseError(status, body);
  }
}
