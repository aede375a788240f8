import type { IncomingHttpHeaders } from 'node:http';
import type { GenerationRequest } from '../../model/request.js';
import type { ClientError, IngressCodec } from '../../pipeline/ingress.js';
import { completionBody, ResponsesStreamEncoder } from './encode.js';
import { parseResponsesRequest, type InputResolver } from './to-model.js';

/**
 * OpenAI's Responses wire (`POST /responses`): request parsing, the event stream, the complete
 * response object and OpenAI's error envelope.
 */

/**
 * An SSE comment while the upstream is quiet: event-stream parsers skip lines starting with `:`
 * (the openai SDK's decoder, Codex's eventsource reader).
 */
export const RESPONSES_KEEPALIVE = ': keep-alive\n\n';

/**
 * Resolvers prepared for a body before it is parsed (ResponseStore.prepare): the codec's parse()
 * has no parameter for one, so the store leaves it here, keyed by the body object.
 */
const RESOLVERS = new WeakMap<object, InputResolver>();

export function setInputResolver(body: object, resolver: InputResolver): void {
  RESOLVERS.set(body, resolver);
}

/** OpenAI's error `type` (and `code`) for a status. */
export function openAiErrorKind(status: number): { type: string; code: string | null } {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return { type: 'invalid_request_error', code: null };
    case 401:
      return { type: 'authentication_error', code: 'invalid_api_key' };
    case 402:
      return { type: 'insufficient_quota', code: 'insufficient_quota' };
    case 403:
      return { type: 'permission_error', code: null };
    case 404:
      return { type: 'invalid_request_error', code: 'not_found' };
    case 408:
    case 504:
    case 524:
      return { type: 'server_error', code: 'timeout' };
    case 429:
      return { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' };
    case 529:
      return { type: 'server_error', code: 'server_is_overloaded' };
    default:
      return status >= 500 ? { type: 'server_error', code: 'server_error' } : { type: 'invalid_request_error', code: null };
  }
}

/** `{"error":{"message","type","param","code"}}`; `param` from the error's metadata when it names a field. */
export function responsesErrorBody(err: ClientError): { status: number; body: unknown } {
  const kind = openAiErrorKind(err.status);
  const param = err.metadata && typeof err.metadata.param === 'string' ? err.metadata.param : null;
  const raw = err.metadata && typeof err.metadata.raw === 'string' && err.metadata.raw !== '' && err.metadata.raw !== err.message ? err.metadata.raw : null;
  const message = raw ? `${err.message}: ${raw}` : err.message;
  return { status: err.status, body: { error: { message, type: kind.type, param, code: kind.code } } };
}

export function responsesCodec(): IngressCodec {
  return {
    api: 'responses',
    keepAlive: RESPONSES_KEEPALIVE,
    // OpenAI answers a non-streamed response in one piece; clients parse the body as JSON at once.
    jsonKeepAlive: false,
    parse(body: unknown, headers: IncomingHttpHeaders, ctx: { maxModels: number }): GenerationRequest {
      const resolver = body !== null && typeof body === 'object' ? (RESOLVERS.get(body) ?? null) : null;
      return parseResponsesRequest(body, headers, ctx, resolver);
    },
    errorBody: responsesErrorBody,
    streamEncoder: (who) => new ResponsesStreamEncoder(who),
    completionBody,
  };
}
