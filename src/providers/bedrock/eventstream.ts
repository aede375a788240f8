import type { MessageHeaders } from '@smithy/core/event-streams';
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

// AWS's codec is loaded with the first Bedrock stream, not at start: its modules hold ~15 MiB of
// resident memory, which a gateway without Bedrock would carry for nothing.
type Smithy = { codec: import('@smithy/core/event-streams').EventStreamCodec; toUtf8: (b: Uint8Array) => string; getChunkedStream: typeof import('@smithy/core/event-streams').getChunkedStream };
let smithy: Smithy | null = null;
let loading: Promise<Smithy> | null = null;
function loadSmithy(): Promise<Smithy> {
  loading ??= Promise.all([import('@smithy/core/event-streams'), import('@smithy/core/serde')]).then(([streams, serde]) => {
    smithy = { codec: new streams.EventStreamCodec(serde.toUtf8, serde.fromUtf8), toUtf8: serde.toUtf8, getChunkedStream: streams.getChunkedStream };
    return smithy;
  });
  return loading;
}

function header(headers: MessageHeaders, name: string): string | undefined {
  const h = headers[name];
  return h && typeof h.value === 'string' ? h.value : undefined;
}

/** One whole frame as an event (see above). Throws on a frame whose length or checksums do not hold. */
export function frameEvent(frame: Uint8Array): SseEvent {
  // frames() loaded the codec before it yielded this frame.
  if (!smithy) throw new Error('event-stream codec not loaded: frames come from eventStreamFraming.frames()');
  const { headers, body } = smithy.codec.decode(frame);
  const data = smithy.toUtf8(body);
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
  async *frames(body) {
    const { getChunkedStream } = smithy ?? (await loadSmithy());
    // The transport's reads are Buffers: a binary stream never arrives as text.
    yield* getChunkedStream(body as AsyncIterable<Uint8Array>);
  },
  events(frame) {
    return [frameEvent(frame)];
  },
};
