import type { ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import type { App } from '../app.js';
import type { Endpoint } from '../catalog/types.js';
import type { CancelSignal } from '../core/cancel.js';
import { errorTypeOf, type ApiError } from '../core/errors.js';
import type { TokenUsage, UpstreamChunk, UpstreamFailure } from '../model/response.js';
import { wantedHostedTools, wireOf } from '../providers/registry.js';
import { MalformedStream, type SseEvent, type StreamDecoder, type StreamFraming } from '../providers/types.js';
import type { Candidate } from '../routing/select.js';
import { SseResponse } from '../streaming/sse-response.js';
import { networkFailure } from '../upstream/transport.js';
import type { UpstreamBody } from '../upstream/types.js';
import { noteFailure, recordSuccess, settle, type AcceptedAttempt } from './attempt.js';
import type { AttemptFailure, Generation } from './generation.js';
import type { IngressCodec, ResponseIdentity, StreamEncoder } from './ingress.js';
import { identityFor, type Delivery } from './delivery.js';
import { responseHeaders, routeHeader } from './record.js';
import { placeCitations } from '../plugins/web.js';

/*
 * A stream can stay open for minutes, and everything its suspended functions hold stays with it
 * (bench/README.md, memory per open stream): V8 keeps a suspended async function's whole register
 * file, and with it whatever the registers last pointed to, such as the last upstream read. So the
 * attempt loop, which waits while a stream is open, is kept small, and the stream itself is read
 * by StreamPump through callbacks: between reads it holds only its fields.
 */

/** The longest upstream SSE event held while it arrives (characters). */
export const MAX_SSE_EVENT_CHARS = 8 * 1024 * 1024;

/** Streamed delivery: SSE to the client in the ingress's wire, fallback invisible until content. */
export class StreamDelivery implements Delivery {
  private readonly sse: SseResponse;

  constructor(
    private readonly app: App,
    private readonly gen: Generation,
    private readonly codec: IngressCodec,
    res: ServerResponse,
    private readonly signal: CancelSignal,
    private readonly beforeEnd?: () => Promise<unknown>,
  ) {
    this.sse = new SseResponse(res, app.settings.keepaliveMs, codec.keepAlive, codec.openingKeepAlive);
  }

  /**
   * Commits the status line (content still uncommitted) and hands the attempt to a StreamPump.
   * Returns the pump's promise without waiting in this frame.
   */
  serve(attempt: AcceptedAttempt, candidate: Candidate, failures: AttemptFailure[]): Promise<boolean> {
    const { app, gen, codec } = this;
    const ep = candidate.endpoint;
    this.sse.open(gen.id, routeHeader(gen, ep), responseHeaders(gen));
    const wire = wireOf(attempt.adapter.protocol, ep);
    const native = gen.req.native !== undefined && gen.req.native.protocol === wire;
    const who = identityFor(gen, ep, candidate.requestedId, wire);
    // webSearch: the upstream may search, and a decoder may need the text to place its citations.
    const decoder = attempt.adapter.createStreamDecoder({ keepNative: native, webSearch: wantedHostedTools(gen.req).includes('web_search') });
    const pump = new StreamPump(app, gen, ep, decoder, app.observer.streamEncoder(gen, codec.streamEncoder(who)), this.sse, native, this.beforeEnd);
    return pump.run(attempt, this.signal, failures);
  }

  /** Every attempt failed or the client left, before any content went out. */
  noAnswer(err: ApiError | null): void {
    if (!err) return;
    if (!this.sse.opened) throw err;
    // Status 200 was already sent (an accepted attempt failed before content): report in-stream.
    const gen = this.gen;
    const ep = gen.lastTried!;
    const encoder = this.codec.streamEncoder(identityFor(gen, ep, ep.model.id));
    this.sse.end(encoder.start() + encoder.fail({ status: err.status, message: err.message, metadata: { ...err.metadata, error_type: errorTypeOf(err.status) } }));
  }

  stop(): void {
    this.sse.stopKeepAlive();
  }
}

/**
 * The state of one accepted upstream stream between reads. Events before the first content are
 * held back so that a provider failing early can be replaced invisibly (only keep-alives went
 * out); events decoded from one read go to the client in one write (one syscall), not one each.
 */
class StreamPump {
  private upstreamDone = false;
  private streamError: UpstreamFailure | null = null;
  /** Characters fed to the SSE parser since it last completed an event. */
  private sinceEvent = 0;
  /** The upstream's own error event, for a client of its wire (passed on instead of one of ours). */
  private streamErrorNative: string | undefined;
  /** Characters of content, reasoning and tool arguments: the usage estimate if none is reported. */
  private chars = 0;
  private readonly parser: EventSourceParser;
  // Created only when a read ends inside a UTF-8 sequence (see text()).
  private utf8: StringDecoder | null = null;
  // Set by run(): the attempt being read and where its outcome goes.
  private body: UpstreamBody | null = null;
  private pieces: AsyncIterator<Buffer | Uint8Array | string> | null = null;
  private started = 0;
  private signal: CancelSignal | null = null;
  private failures: AttemptFailure[] = [];
  private resolve: ((over: boolean) => void) | null = null;
  private reject: ((err: unknown) => void) | null = null;
  private readonly onRead = (read: IteratorResult<Buffer | Uint8Array | string>) => this.afterRead(read);
  private readonly onReadFailed = (err: unknown) => this.failed(err);
  private readonly readNext = () => this.read();
  private readonly excludeReasoning: boolean;
  private held: string;
  private batch = '';
  private usage: TokenUsage | null = null;
  /** Whether the plugins' annotations went out (once, before the finish chunk). */
  private annotated = false;
  /**
   * The answer's text so far, kept only while search results wait to be placed in it (the web
   * plugin's citations point at the first mention of their URL); null otherwise.
   */
  private answerText: string | null;
  /** The end of a finished stream that waits for beforeEnd (its last bytes follow the save). */
  private ending: Promise<void> | null = null;

  constructor(
    private readonly app: App,
    private readonly gen: Generation,
    private readonly ep: Endpoint,
    private readonly decoder: StreamDecoder,
    private readonly encoder: StreamEncoder,
    private readonly sse: SseResponse,
    private readonly nativeWire: boolean,
    private readonly beforeEnd?: () => Promise<unknown>,
  ) {
    // A stream passed through in the upstream's own wire is the client's to shape (its thinking
    // signatures must reach it whole); hiding reasoning applies to translated streams.
    this.excludeReasoning = !nativeWire && gen.req.reasoning?.hide === true;
    this.parser = createParser({ onEvent: (ev) => this.onEvent(ev) });
    this.held = encoder.start();
    this.answerText = gen.pluginRun.annotations.some((a) => a.type === 'url_citation' && a.startIndex < 0) ? '' : null;
  }

  /**
   * Copies the accepted upstream stream to the client. Resolves to true when the request is over
   * (answered, failed after content went out, or the client left), false when the attempt failed
   * before content (in `failures`) and the next candidate may serve instead.
   */
  run(attempt: AcceptedAttempt, signal: CancelSignal, failures: AttemptFailure[]): Promise<boolean> {
    this.failures = failures;
    return new Promise((resolve, reject) => {
      this.body = attempt.response.body;
      // A binary framing reads whole frames; SSE text is read as it arrives.
      const framing = this.decoder.framing;
      this.pieces = (framing ? framing.frames(this.body) : this.body)[Symbol.asyncIterator]();
      this.started = attempt.started;
      this.signal = signal;
      this.resolve = resolve;
      this.reject = reject;
      this.read();
    });
  }

  private read(): void {
    this.pieces!.next().then(this.onRead, this.onReadFailed);
  }

  private afterRead(read: IteratorResult<Buffer | Uint8Array | string>): void {
    let over: boolean;
    try {
      over = read.done === true || this.feed(read.value);
    } catch (err) {
      return this.failed(err);
    }
    if (over) return this.stop();
    // A slow client: wait until its socket drains before reading on (the upstream socket pauses).
    if (this.sse.backpressured) void this.sse.drained().then(this.readNext);
    else this.read();
  }

  private failed(err: unknown): void {
    if (this.signal!.aborted) this.streamError = { status: 499, raw: 'client closed the request' };
    else this.streamError = err instanceof MalformedStream ? { status: 502, raw: err.message } : networkFailure(err);
    this.stop();
  }

  /** Reading is over: release the upstream connection, then settle the attempt's outcome. */
  private stop(): void {
    const body = this.body!;
    this.gen.streamedChars += this.chars;
    if (this.upstreamDone && !this.streamError) drainInBackground(this.pieces!, body);
    else if (!body.destroyed) body.destroy();
    try {
      const outcome = this.finish(this.started, this.signal!);
      // Saved first (beforeEnd): the request is over once its last bytes are out, and the drain
      // at shutdown waits for it until then instead of cutting the stream short of its end.
      if (this.ending) this.ending.then(() => this.resolve!(true), this.reject!);
      else this.resolve!(this.over(outcome));
    } catch (err) {
      this.reject!(err);
    }
  }

  private over(outcome: 'done' | AttemptFailure): boolean {
    if (outcome === 'done') return true;
    this.failures.push(outcome);
    if (outcome.failure.status === 499) return true;
    if (!this.sse.contentCommitted) return false;
    // Content already reached the client: no silent fallback any more.
    this.endWithError(outcome.failure);
    return true;
  }

  /** One upstream read. True when the stream is over: its end marker came, or it failed. */
  private feed(piece: Buffer | Uint8Array | string): boolean {
    const framing = this.decoder.framing;
    if (framing) return this.feedFrame(framing, piece as Uint8Array);
    const text = typeof piece === 'string' ? piece : this.text(piece);
    // An event that never ends (no blank line, or one enormous line) would grow the parser's
    // buffer without bound: past the cap (checked per read; completed events reset the count) the
    // attempt fails, and falls back if nothing went out yet.
    this.sinceEvent += text.length;
    this.parser.feed(text);
    if (this.upstreamDone || this.streamError) return true;
    if (this.sinceEvent > MAX_SSE_EVENT_CHARS) {
      this.streamError = { status: 502, raw: `upstream sent an event larger than ${MAX_SSE_EVENT_CHARS} characters` };
      return true;
    }
    if (this.batch) {
      this.sse.write(this.batch);
      this.batch = '';
    }
    return false;
  }

  /** One whole binary frame: its events, decoded as SSE events are. */
  private feedFrame(framing: StreamFraming, frame: Uint8Array): boolean {
    let events: SseEvent[];
    try {
      events = framing.events(frame);
    } catch (err) {
      this.streamError = { status: 502, raw: `upstream sent a malformed stream frame (${(err as Error).message})` };
      return true;
    }
    for (const ev of events) this.onEvent(ev);
    if (this.upstreamDone || this.streamError) return true;
    if (this.batch) {
      this.sse.write(this.batch);
      this.batch = '';
    }
    return false;
  }

  /**
   * A read as text. Reads nearly always end with an event's blank line, on a character boundary,
   * and decode on their own; a StringDecoder, which keeps a split UTF-8 sequence for the next read
   * but also holds a native buffer for the rest of the stream, is made only once one does not.
   * (A streaming TextDecoder would hold an ICU converter.)
   */
  private text(piece: Buffer | Uint8Array): string {
    const buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    if (this.utf8 === null && buf.length > 0 && buf[buf.length - 1] < 0x80) return buf.toString('utf8');
    this.utf8 ??= new StringDecoder('utf8');
    return this.utf8.write(buf);
  }

  private onEvent(ev: EventSourceMessage | SseEvent): void {
    this.sinceEvent = 0;
    // Whatever follows the end marker or an error in the same read is ignored.
    if (this.upstreamDone || this.streamError) return;
    const chunks = this.decoder.decode({ event: ev.event, data: ev.data });
    if (chunks === null) {
      // The end marker itself, for a client of the upstream's own wire.
      const native = this.decoder.pendingNative;
      if (native !== undefined) this.handle({ native });
      this.upstreamDone = true;
      return;
    }
    for (const chunk of chunks) {
      this.handle(chunk);
      if (this.streamError) return;
    }
    if (this.decoder.ended === true) this.upstreamDone = true;
  }

  private handle(incoming: UpstreamChunk): void {
    let chunk = incoming;
    if (this.excludeReasoning && chunk.choice && (chunk.choice.reasoning !== undefined || chunk.choice.reasoningDetails)) {
      // reasoning.exclude: the model still reasons (and is billed) but none of it is sent.
      const { reasoning: _r, reasoningDetails: _d, ...rest } = chunk.choice;
      chunk = { ...chunk, choice: rest, native: undefined };
    }
    if (!this.annotated && chunk.choice && chunk.choice.finishReason !== null && this.gen.pluginRun.annotations.length > 0) {
      // Search results and parsed files the plugins added go out in a chunk of their own before
      // the finish, placed in the whole answer (the finish chunk's own text included); each door
      // writes the kinds its wire has.
      this.annotated = true;
      const text = this.answerText === null ? null : this.answerText + (chunk.choice.content ?? '');
      this.answerText = null;
      this.handle({ choice: { annotations: placeCitations(this.gen.pluginRun.annotations, text), finishReason: null } });
    }
    if (this.answerText !== null && chunk.choice?.content) this.answerText += chunk.choice.content;
    if (chunk.error) {
      this.streamError = chunk.error;
      if (this.nativeWire) this.streamErrorNative = chunk.native;
      return;
    }
    const gen = this.gen;
    if (chunk.usage) this.usage = chunk.usage;
    if (chunk.upstreamId && !gen.upstreamId) gen.upstreamId = chunk.upstreamId;
    if (chunk.serviceTier) gen.serviceTier = chunk.serviceTier;
    const out = this.encoder.encode(chunk);
    if (!out) return;
    const c = chunk.choice;
    let isContent = false;
    if (c) {
      this.chars += (c.content?.length ?? 0) + (c.reasoning?.length ?? 0) + (c.toolCalls?.reduce((n, t) => n + (t.arguments?.length ?? 0), 0) ?? 0);
      isContent = Boolean((c.content && c.content.length > 0) || c.toolCalls || c.reasoning || c.reasoningDetails || c.finishReason !== null || c.refusal);
    }
    const sse = this.sse;
    if (!sse.contentCommitted && !isContent) {
      this.held += out;
      return;
    }
    if (!sse.contentCommitted) {
      gen.firstTokenAt = Date.now();
      gen.served = this.ep;
      this.batch += this.held + out;
      this.held = '';
      sse.contentCommitted = true;
      gen.releasePrompt();
    } else {
      this.batch += out;
    }
  }

  /** The stream has stopped being read: end the client's stream, or report why it failed. */
  private finish(started: number, signal: CancelSignal): 'done' | AttemptFailure {
    const { app, gen, ep, sse, encoder } = this;
    if (!this.streamError && !this.upstreamDone && !encoder.finished && !signal.aborted) {
      // The connection closed without an end marker and without a finish reason: a truncated stream.
      this.streamError = { status: 502, raw: 'upstream closed the stream before it finished' };
    }
    // What the last read produced: written with the end of the stream, or before an error event.
    const tail = this.batch;
    this.batch = '';
    if (signal.aborted) {
      gen.served ??= ep;
      gen.usage = this.usage;
      settle(gen, ep);
      gen.status = 499;
      gen.error = { code: 499, message: 'client closed the request' };
      gen.finishReason = encoder.finishReason;
      app.observer.attemptFinished(gen, ep, 'cancelled', 200);
      return { failure: { status: 499, raw: 'client closed the request' }, endpoint: ep };
    }
    if (this.streamError) {
      if (tail) sse.write(tail);
      noteFailure(app, gen, ep, this.streamError, started, 200);
      if (sse.contentCommitted) gen.usage = this.usage;
      return { failure: this.streamError, endpoint: ep };
    }
    let last = tail;
    if (!sse.contentCommitted) {
      // An answer with no content at all (e.g. empty completion): still a valid generation.
      gen.served = ep;
      gen.firstTokenAt = Date.now();
      last += this.held;
      sse.contentCommitted = true;
    }
    if (!encoder.finished) last += encoder.syntheticFinish();
    gen.served = ep;
    gen.usage = this.usage;
    settle(gen, ep);
    gen.finishReason = encoder.finishReason;
    gen.nativeFinishReason = encoder.nativeFinish;
    const final = last + encoder.end(gen.usage!, gen.cost);
    if (this.beforeEnd) {
      const log = app.log;
      this.ending = this.beforeEnd()
        .catch((err: unknown) => log.error({ gen: gen.id, err: (err as Error).message }, 'saving the answer before its end failed'))
        .then(() => sse.end(final));
    } else {
      sse.end(final);
    }
    recordSuccess(app, gen, ep, started);
    return 'done';
  }

  /** The stream failed after content reached the client: the wire's error event, then its end. */
  private endWithError(err: UpstreamFailure): void {
    const { gen, ep, sse } = this;
    gen.status = err.status >= 500 || err.status === 408 ? 502 : err.status;
    gen.error = { code: gen.status, message: err.raw };
    settle(gen, ep);
    // A client of the upstream's own wire gets the upstream's error event as it was sent (its type,
    // e.g. overloaded_error, is what such clients act on); others get the door's own.
    if (err === this.streamError && this.streamErrorNative !== undefined) sse.end(this.streamErrorNative);
    else sse.end(this.encoder.fail({ status: gen.status, message: 'Provider returned error', metadata: { raw: err.raw, provider_name: ep.provider.name, error_type: errorTypeOf(gen.status) } }));
  }
}

/**
 * After the upstream's end-of-stream marker the client is answered at once; whatever bytes remain
 * (usually none) are read off the connection in the background so it returns to the keep-alive
 * pool instead of being torn down.
 */
function drainInBackground(pieces: AsyncIterator<unknown>, body: { destroy(): void }): void {
  const timer = setTimeout(() => body.destroy(), 5000);
  timer.unref();
  void (async () => {
    try {
      while (!(await pieces.next()).done) {
        /* discard */
      }
    } catch {
      /* the connection died after the answer was complete: nothing to do */
    } finally {
      clearTimeout(timer);
    }
  })();
}

export type { ResponseIdentity };
