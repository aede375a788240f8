import type { Endpoint } from '../../catalog/types.js';
import type { ProviderRuntime } from '../../config/load.js';
import type { GenerationRequest } from '../../model/request.js';
import { baseHeaders, probeHeaders, secretFor } from '../shared.js';
import type { Completion, Credential, DecoderOptions, ProbeRequest, ProviderAdapter, StreamDecoder, UpstreamFailure, UpstreamRequest } from '../types.js';
import { RESPONSES_HOSTED_TOOLS } from './hosted-tools.js';
import { nativeResponsesBody, openAIHostedTool, responsesBody, type HostedToolDialect } from './request.js';
import { parseResponsesCompletion, parseResponsesError, ResponsesStreamDecoder } from './response.js';

/**
 * OpenAI's Responses API as an upstream (`POST {base_url}/responses`): OpenAI itself, for the
 * models and tools only it has there (hosted web search, file search, code interpreter, image
 * generation, computer use, MCP; encrypted reasoning carried between turns), and any host that
 * speaks it. Request translation lives in request.ts, answers in response.ts.
 *
 * A request that came in on the Responses wire (`req.native`, protocol `openai-responses`) is sent
 * as the client wrote it and its events come back unchanged (the front door passes them on), so
 * every item type, hosted tool and encrypted reasoning item works as it does against OpenAI.
 * Requests from other front doors are translated (`store: false`; reasoning models asked for
 * their encrypted reasoning, which goes back on the next turn).
 */

export const RESPONSES_PROTOCOL = 'openai-responses';

/** Every hosted tool OpenAI's Responses API defines (RESPONSES_HOSTED_TOOLS less other hosts' own), by neutral name. */
const OPENAI_HOSTED: ReadonlySet<string> = new Set(Object.values(RESPONSES_HOSTED_TOOLS).filter((name) => name !== 'x_search'));

/** How a Responses host differs from OpenAI's own: its route and how the key is written. */
export interface ResponsesRoute {
  url: string;
  /** The header the secret goes in, and its value. */
  auth: (secret: string) => [string, string];
}

export class OpenAIResponsesAdapter implements ProviderAdapter {
  readonly protocol: string = RESPONSES_PROTOCOL;
  /** The wire its upstreams speak: a Responses client's body passes through natively. */
  readonly wire = RESPONSES_PROTOCOL;

  readonly hostedTools: ReadonlySet<string>;
  private readonly dialect: HostedToolDialect;

  constructor(hostedTools: ReadonlySet<string> = OPENAI_HOSTED, writeHosted: HostedToolDialect['write'] = openAIHostedTool) {
    this.hostedTools = hostedTools;
    this.dialect = { served: hostedTools, write: writeHosted };
  }

  /** The body for one endpoint: the client's own (Responses front door) or a translation. */
  body(req: GenerationRequest, endpoint: Endpoint, stream: boolean): Record<string, unknown> {
    const native = req.native?.protocol === RESPONSES_PROTOCOL ? req.native : undefined;
    return native ? nativeResponsesBody(req, native, endpoint, stream, this.hostedTools) : responsesBody(req, endpoint, stream, this.dialect);
  }

  /** The request on a given route (hosts with their own routes and key headers, such as Azure, compose this). */
  requestOn(route: ResponsesRoute, req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    const headers = baseHeaders(provider, stream);
    const secret = secretFor(provider, credential);
    if (secret) {
      const [name, value] = route.auth(secret);
      headers[name] = value;
    }
    return { url: route.url, headers, body: JSON.stringify(this.body(req, endpoint, stream)) };
  }

  /** OpenAI's model list (`GET {base_url}/models`), as for its chat route. */
  probeRequest(provider: ProviderRuntime, credential?: Credential): ProbeRequest {
    const headers = probeHeaders(provider);
    const secret = secretFor(provider, credential);
    if (secret) headers.authorization = `Bearer ${secret}`;
    return { url: `${provider.baseUrl}/models`, headers };
  }

  buildRequest(req: GenerationRequest, endpoint: Endpoint, provider: ProviderRuntime, stream: boolean, credential?: Credential): UpstreamRequest {
    return this.requestOn({ url: `${provider.baseUrl}/responses`, auth: (secret) => ['authorization', `Bearer ${secret}`] }, req, endpoint, provider, stream, credential);
  }

  createStreamDecoder(opts: DecoderOptions = {}): StreamDecoder {
    return new ResponsesStreamDecoder(opts.keepNative === true);
  }

  parseCompletion(body: unknown): Completion {
    return parseResponsesCompletion(body);
  }

  parseError(status: number, body: string): UpstreamFailure {
    return parseResponsesError(status, body);
  }
}
