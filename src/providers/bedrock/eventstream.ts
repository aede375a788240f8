import type { MessageHeaders } from '@smithy/core/event-streams';
import { MalformedStream, type SseEvent, type StreamFraming } from '../types.js';

/**
 * AWS's binary event-stream framing (`application/vnd.amazon.eventstream`), in which Bedrock
 * streams: each frame a length-prefixed message with typed headers (`:message-type`,
 * `:event-type`, `:exception-type`, …), a payload and CRC32 checksums. AWS's own codec does the
 * work: `getChunkedStream` regroups the socket's reads into whole frames and `EventStreamCodec`
 * checks and decodes each one. A frame becomes one event: an ordinary event keeps its
 * `:event-type` as the event name (`chunk`, `contentBlockDelta`, …) and its payload as the data;
 * an exception or error frame is named `exception/<type>`.
 *
 * AWS's chunker trusts each frame's announced length: it allocates that much at once and waits for
 * it to fill. The lengths are checked first (withinLimits), so a broken or hostile upstream cannot
 * make the gateway hold more than the largest message the format allows.
 */

export const EXCEPTION_PREFIX = 'exception/';

/**
 * The format's own bounds (Smithy's Amazon Event Stream Specification,
 * https://smithy.io/2.0/aws/amazon-eventstream.html): at most 128 KiB of encoded headers and
 * 24 MiB of payload in one message, which also carries a 12-byte prelude (two lengths and their
 * checksum) and a 4-byte message checksum.
 */
export const MAX_HEADERS_BYTES = 131_072;
export const MAX_PAYLOAD_BYTES = 25_165_824;
const PRELUDE_AND_CHECKSUMS = 16;
export const MAX_MESSAGE_BYTES = PRELUDE_AND_CHECKSUMS + MAX_HEADERS_BYTES + MAX_PAYLOAD_BYTES;

/** Why a message's announced lengths are refused, or null when the format allows them. */
function lengthsRefused(total: number, headers: number | null): string | null {
  if (total > MAX_MESSAGE_BYTES) return `upstream announced an event-stream message of ${total} bytes; the format allows at most ${MAX_MESSAGE_BYTES}`;
  if (total < PRELUDE_AND_CHECKSUMS) return `upstream announced an event-stream message of ${total} bytes, shorter than its own prelude and checksums`;
  if (headers === null) return null;
  if (headers > MAX_HEADERS_BYTES) return `upstream announced ${headers} bytes of event-stream headers; the format allows at most ${MAX_HEADERS_BYTES}`;
  if (headers > total - PRELUDE_AND_CHECKSUMS) return `upstream announced ${headers} bytes of event-stream headers in a message of ${total} bytes`;
  return null;
}

/**
 * The reads as they come, each passed on only once the lengths of every message it starts are
 * known to be within the format's bounds (the total as soon as its 4 bytes are in, before the
 * chunker sees them). At a refused message, the messages before it in the same read still go
 * through, then the stream fails. A body that ends inside a message is refused too.
 */
async function* withinLimits(reads: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const prelude = new Uint8Array(8);
  const lengths = new DataView(prelude.buffer);
  // Bytes of the next message's two lengths read so far, and of the current message still to come after them.
  let preludeRead = 0;
  let remaining = 0;
  for await (const read of reads) {
    let at = 0;
    while (at < read.length) {
      if (remaining > 0) {
        const n = Math.min(remaining, read.length - at);
        remaining -= n;
        at += n;
        continue;
      }
      // Where this message starts in this read (0 when it started in an earlier one).
      const start = Math.max(0, at - preludeRead);
      const n = Math.min(8 - preludeRead, read.length - at);
      prelude.set(read.subarray(at, at + n), preludeRead);
      preludeRead += n;
      at += n;
      if (preludeRead < 4) continue;
      const total = lengths.getUint32(0);
      const refused = lengthsRefused(total, preludeRead === 8 ? lengths.getUint32(4) : null);
      if (refused !== null) {
        if (start > 0) yield read.subarray(0, start);
        throw new MalformedStream(refused);
      }
      if (preludeRead === 8) {
        remaining = total - 8;
        preludeRead = 0;
      }
    }
    yield read;
  }
  if (preludeRead > 0 || remaining > 0) throw new MalformedStream('upstream ended the event stream inside a message');
}

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
    yield* getChunkedStream(withinLimits(body as AsyncIterable<Uint8Array>));
  },
  events(frame) {
    return [frameEvent(frame)];
  },
};
