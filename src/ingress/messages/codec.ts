import type { ClientError, IngressCodec } from '../../pipeline/ingress.js';
import { anthropicError, errorMessage, messagesCompletionBody, MessagesStreamEncoder, PING_EVENT } from './encode.js';
import { parseMessagesRequest } from './to-model.js';

/**
 * Anthropic's Messages wire (`POST /v1/messages`, also under `/api/v1/messages`): Claude Code and
 * the Anthropic SDKs. Requests are parsed into the model with the client's body kept for Anthropic
 * upstreams (native passthrough); answers are written as Anthropic writes them.
 */
export function messagesCodec(): IngressCodec {
  return {
    api: 'messages',
    keepAlive: PING_EVENT,
    // An SSE comment, which Anthropic's clients skip, commits the stream ahead of message_start.
    openingKeepAlive: ': ping\n\n',
    // Anthropic's SDKs parse the body of a 200 as one JSON message; leading whitespace would do,
    // but an error found after committing 200 could not carry its status (the SDKs retry on status).
    jsonKeepAlive: false,
    parse(body, headers, ctx) {
      return parseMessagesRequest(body, headers, ctx);
    },
    errorBody(err: ClientError) {
      return { status: err.status, body: anthropicError(err.status, errorMessage(err)) };
    },
    streamEncoder(who) {
      return new MessagesStreamEncoder(who);
    },
    completionBody(who, completion, usage) {
      return messagesCompletionBody(who, completion, usage);
    },
  };
}
