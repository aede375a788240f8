import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type { GenerationRequest } from '../../model/request.js';
import { accessKeyOf, signRequest } from '../../upstream/aws-auth.js';
import { AnthropicStreamDecoder, parseAnthropicCompletion } from '../anthropic/response.js';
import { buildMessagesBody, nativeMessagesBody } from '../anthropic/request.js';
import { baseHeaders, probeHeaders, secretFor } from '../shared.js';
import type { Completion, Credential, DecoderOptions, ProbeRequest, ProviderAdapter, SseEvent, StreamDecoder, UpstreamChunk, UpstreamFailure, UpstreamRequest } from '../types.js';
import { buildConverseBody, ConverseStreamDecoder, isConverseAnswer, parseConverseCompletion } from './converse.js';
import { parseBedrockError, streamException } from './errors.js';
import { bedrockEmbeddings } from './embeddings.js';
import { bedrockRegion, bedrockRuntimeBase } from './routes.js';
import { eventStreamFraming, EXCEPTION_PREFIX } from './eventstream.js';

/**
 * Amazon Bedrock's runtime (`https://bedrock-runtime.{region}.amazonaws.com`, or
 * AMAZON_BEDROCK_BASE_URL). Claude models (`anthropic.…`, and cross-region inference profiles such
 * as `us.anthropic.…`) go through InvokeModel (`/model/{id}/invoke`,
 * `/invoke-with-response-stream`) with the Anthropic Messages body (the anthropic adapter's, with
 * `anthropic_version: "bedrock-2023-05-31"` and no `model` or `stream`); every other family
 * through Converse (`/converse`, `/converse-stream`, converse.ts). Streams arrive in AWS's binary
 * event-stream framing (eventstream.ts); InvokeModel's `chunk` events carry Anthropic's own events
 * base64-encoded, read by the anthropic adapter's decoder. Requests are signed with SigV4 for the
 * region and the service `bedrock` (upstream/aws-auth.ts), or carry a Bedrock API key as a bearer
 * token. The region is the pool key's own when it names one (accounts in several regions), else
 * the provider's.
 */

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

type Json = Record<string, unknown>;

/** Claude ids, bare or behind an inference profile's geography (`us.`, `eu.`, `apac.`, `global.`, …). */
export function isAnthropicModel(upstreamModel: string): boolean {
  return /^(?:[a-z-]+\.)?anthropic\./.test(upstreamModel);
}


/** Where one request goes (the key's region): the model id is one path segment, so its colons are escaped. */
export function bedrockUrl(provider: ProviderRuntime, upstreamModel: string, stream: boolean, credential?: Credential): string {
  const base = bedrockRuntimeBase(provider, credential);
  const action = isAnthropicModel(upstreamModel) ? (stream ? 'invoke-with-response-stream' : 'invoke') : stream ? 'converse-stream' : 'converse';
  return `${base}/model/${encodeURIComponent(upstreamModel)}/${action}`;
}

/**
 * The Messages body InvokeModel takes: the client's own body when it came in on Anthropic's wire
 * (its betas move into `anthropic_beta`, Bedrock's place for them), else the translation; the
 * model is in the URL and streaming is the action's choice, so neither is in the body.
 */
export function invokeModelBody(req: GenerationRequest, endpoint: Endpoint): Json {
  const native = req.native?.protocol === 'anthropic' ? req.native : undefined;
  const body = native ? nativeMessagesBody(req, native, endpoint, false) : buildMessagesBody(req, endpoint, false, { betas: '' });
  delete body.model;
  delete body.stream;
  // Bedrock validates Claude's body against a schema without `metadata` and refuses unknown keys.
  delete body.metadata;
  const out: Json = { anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...body };
  const betas = (native?.headers['anthropic-beta'] ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (betas.length > 0 && out.anthropic_beta === undefined) out.anthropic_beta = betas;
  return out;
}

/**
 * InvokeModel's `chunk` payload, `{"bytes": base64 of one Anthropic event}`, as that event (named
 * by its type, as Anthropic's SSE names it, for a client of Anthropic's wire).
 */
function chunkEvent(data: string): SseEvent | null {
  try {
    const json = JSON.parse(data) as Json;
    if (typeof json.bytes !== 'string') return null;
    const event = Buffer.from(json.bytes, 'base64').toString('utf8');
    const type = /^\s*\{\s*"type"\s*:\s*"([a-z_]+)"/.exec(event)?.[1];
    return type ? { event: type, data: event } : { data: event };
  } catch {
    return null;
  }
}

/** Reads both of Bedrock's streams: InvokeModel's chunks (Anthropic events) and ConverseStream's events. */
class BedrockStreamDecoder implements StreamDecoder {
  readonly framing = eventStreamFraming;
  private anthropic: AnthropicStreamDecoder | null = null;
  private converse: ConverseStreamDecoder | null = null;

  constructor(private readonly keepNative: boolean) {}

  get pendingNative(): string | undefined {
    return this.anthropic?.pendingNative;
  }

  decode(event: SseEvent): UpstreamChunk[] | null {
    const name = event.event ?? '';
    if (name.startsWith(EXCEPTION_PREFIX)) return [{ error: streamException(name.slice(EXCEPTION_PREFIX.length), event.data) }];
    if (name === 'chunk') {
      const inner = chunkEvent(event.data);
      if (!inner) return [{ error: { status: 502, raw: `upstream sent a chunk without bytes: ${event.data.slice(0, 200)}` } }];
      return (this.anthropic ??= new AnthropicStreamDecoder(this.keepNative)).decode(inner);
    }
    return (this.converse ??= new ConverseStreamDecoder()).decode(event);
  }
}

export class BedrockAdapter implements ProviderAdapter {
  readonly protocol = 'bedrock';
  /** Titan and Cohere embedding models through InvokeModel (embeddings.ts). */
  readonly embeddings = bedrockEmbeddings;

  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    const id = endpoint.upstreamModel;
    const body = isAnthropicModel(id) ? invokeModelBody(req, endpoint) : buildConverseBody(req, endpoint);
    const headers = baseHeaders(provider, stream);
    if (stream) headers.accept = 'application/vnd.amazon.eventstream';
    const secret = secretFor(provider, credential);
    // An access key pair signs the finished request (authorize); anything else is a Bedrock API key.
    if (secret && !accessKeyOf(secret)) headers.authorization = `Bearer ${secret}`;
    return { url: bedrockUrl(provider, id, stream, credential), headers, body: JSON.stringify(body) };
  }

  /**
   * ListFoundationModels on Bedrock's control plane (`bedrock.{region}`, or under the overriding
   * base URL), signed like any request (authorize) or with the API key.
   */
  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest {
    const headers = probeHeaders(provider);
    const secret = secretFor(provider, credential);
    if (secret && !accessKeyOf(secret)) headers.authorization = `Bearer ${secret}`;
    const base = provider.baseUrlOverridden ? provider.baseUrl : `https://bedrock.${bedrockRegion(provider, credential)}.amazonaws.com`;
    return { url: `${base}/foundation-models?byOutputModality=TEXT`, headers };
  }

  authorize(request: UpstreamRequest, provider: ProviderRuntime, credential: Credential | undefined): Promise<UpstreamRequest> {
    const secret = secretFor(provider, credential);
    const key = secret ? accessKeyOf(secret) : null;
    return key ? signRequest(request, key, bedrockRegion(provider, credential)) : Promise.resolve(request);
  }

  /** Claude's answers are Anthropic's events and bodies: a Messages client gets them as they are. */
  answerProtocol(endpoint: Endpoint): string {
    return isAnthropicModel(endpoint.upstreamModel) ? 'anthropic' : this.protocol;
  }

  createStreamDecoder(opts: DecoderOptions = {}): StreamDecoder {
    return new BedrockStreamDecoder(opts.keepNative === true);
  }

  parseCompletion(body: unknown): Completion {
    return isConverseAnswer(body) ? parseConverseCompletion(body) : parseAnthropicCompletion(body);
  }

  parseError(status: number, body: string, headers?: Record<string, string | string[] | undefined>): UpstreamFailure {
    return parseBedrockError(status, body, headers);
  }
}
