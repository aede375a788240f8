import { EventStreamCodec, getChunkedStream, type MessageHeaders } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';
import type { SseEvent, StreamFraming } from '../types.js';

/**
 * AWS's binary event-stream framing (`application/vnd.amazon.eventstream`), in which Bedrock
 * streams: each frame a length-prefixed message with typed headers (`:message-type`,
 * `:event-type`, `:exception-type`, …), a payload and CRC32 checksums. AWS's own codec does the
 * work: `getChunkedStream` regroups the socket's reads into whole frames and `EventStreamCodec`
 * checks and decodes each one. A frame becomes one event: an ordinary event keeps its
 * `:event-type` as the event name (`chunk`, `contentBlockDelta`, …) and its payload as the data;
 * an exception or error frame is named `exception/<type>`.
 */

export const EXCEPTION_PREFIX = 'exception/';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

function header(headers: MessageHeaders, name: string): string | undefined {
  const h = headers[name];
  return h && typeof h.value === 'string' ? h.value : undefined;
}

/** One whole frame as an event (see above). Throws on a frame whose length or checksums do not hold. */
export function frameEvent(frame: Uint8Array): SseEvent {
  const { headers, body } = codec.decode(frame);
  const data = toUtf8(body);
  switch (header(headers, ':message-type') ?? 'event') {
    case 'event':
      return { event: header(headers, ':event-type') ?? '', data };
    case 'exception':
      return { event: `${EXCEPTION_PREFIX}${header(headers, ':exception-type') ?? 'unknownException'}`, data };
    default:
      // `error` frames carry their code and message in headers, not in the payload.
      return { event: `${EXCEPTION_PREFIX}${header(headers, ':error-code') ?? 'unknownError'}`, data: JSON.stringify({ message: header(headers, ':error-message') ?? data }) };
  }
}

export const eventStreamFraming: StreamFraming = {
  frames(body) {
    // The transport's reads are Buffers: a binary stream never arrives as text.
    return getChunkedStream(body as AsyncIterable<Uint8Array>);
  },
  events(frame) {
    return [frameEvent(frame)];
  },
};
