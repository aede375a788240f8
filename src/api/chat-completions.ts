import type { IncomingMessage, ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import type { App } from '../app.js';
import type { Caller } from '../auth/keys.js';
import { ApiError, errorTypeOf } from '../core/errors.js';
import { generationId } from '../core/ids.js';
import { ClientGone, type CancelSignal } from '../core/cancel.js';
import { firstError } from '../core/validation.js';
import { validateChatRequest } from '../validation/compiled.js';
import type { Endpoint } from '../catalog/types.js';
import { computeCost, usageJson, ZERO_USAGE, type Cost } from '../accounting/cost.js';
import type { AdmissionRequest } from '../accounting/gate.js';
import { adapterFor } from '../providers/registry.js';
import type { ProviderAdapter, StreamDecoder, TokenUsage, UpstreamChunk, UpstreamFailure } from '../providers/types.js';
import { healthKey, planRoute, type Candidate, type RoutePlan } from '../routing/select.js';
import { ChunkEncoder } from '../streaming/chunk-encoder.js';
import { SseResponse } from '../streaming/sse-response.js';
import type { GenerationRecord, ProviderAttempt } from '../storage/generations.js';
import { isRetryable, networkFailure, retryAfterSeconds, sendUpstream, type UpstreamResponse } from '../upstream/transport.js';
import type { UpstreamBody } from '../upstream/types.js';
import type { ChatRequest } from '../ingress/chat-completions/schema.js';
import { chatToModel } from '../ingress/chat-completions/to-model.js';
import type { GenerationRequest } from '../model/request.js';
import { completionBody } from './completion-body.js';
import { JsonKeepAlive } from './json-keepalive.js';

/** Rough token estimate, used only when an upstream reports no usage (e.g. the client hung up first). */
const estimateTokens = (chars: number) => Math.ceil(chars / 4);

export function parseChatRequest(body: unknown, maxModels: number): ChatRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'Request body must be a JSON object');
  }
  if (!validateChatRequest(body)) throw new ApiError(400, firstError(validateChatRequest));
  const req = body as ChatRequest;
  if (!req.messages) {
    if (typeof req.prompt !== 'string') throw new ApiError(400, 'messages is required (a non-empty array)');
    req.messages = [{ role: 'user', content: req.prompt }];
  }
  if (!req.model && !(req.models && req.models.length > 0)) throw new ApiError(400, 'model is required');
  if (req.models && req.models.length > maxModels) throw new ApiError(400, `models may list at most ${maxModels} models`);
  if (req.reasoning_effort && req.reasoning?.effort && req.reasoning_effort !== req.reasoning.effort) {
    throw new ApiError(400, 'reasoning_effort and reasoning.effort disagree; send one of them');
  }
  if (req.top_logprobs != null && req.logprobs !== true) throw new ApiError(400, 'top_logprobs requires logprobs: true');
  return req;
}

interface AttemptFailure {
  failure: UpstreamFailure;
  endpoint: Endpoint;
}

/** Per-request state shared by the attempt loop, the streaming pump and the final record. */
class Generation {
  readonly id = generationId();
  readonly startedAt = Date.now();
  created = Math.floor(this.startedAt / 1000);
  attempts: ProviderAttempt[] = [];
  served: Endpoint | null = null;
  lastTried: Endpoint | null = null;
  usage: TokenUsage | null = null;
  estimatedUsage = false;
  cost: Cost = { prompt: 0, completion: 0, total: 0 };
  finishReason: string | null = null;
  nativeFinishReason: string | null = null;
  upstreamId: string | null = null;
  serviceTier: string | null = null;
  firstTokenAt: number | null = null;
  acceptedAt: number | null = null;
  status = 200;
  error: { code: number; message: string } | null = null;
  cancelled = false;
  streamedChars = 0;

  readonly model: GenerationRequest;

  constructor(
    readonly req: ChatRequest,
    readonly promptChars: number,
    readonly cassette: string | null,
    readonly plan: RoutePlan,
  ) {
    this.model = chatToModel(req, promptChars);
  }

  /**
   * Once content has reached the client no other provider can be tried, so the conversation is
   * not needed any more; for a long prompt it is most of what an open stream holds. The record
   * needs only the model, user and session fields, and the prompt's size, already counted.
   */
  releasePrompt(): void {
    // Assigned, not deleted: `delete` would turn the request object into a slow dictionary.
    this.req.messages = undefined;
    this.req.prompt = undefined;
    this.req.tools = undefined;
    this.model.messages = [];
    this.model.tools = [];
  }
}

export async function handleChatCompletions(app: App, req: IncomingMessage, res: ServerResponse, body: unknown, caller: Caller): Promise<void> {
  const chat = parseChatRequest(body, app.settings.maxModels);
  const promptChars = JSON.stringify(chat.messages).length;
  const plan = planRoute({ catalog: app.settings.catalog, providers: app.settings.providers, health: app.health, rng: app.rng }, chat, promptChars);
  const gen = new Generation(chat, promptChars, header(req, 'x-switchyard-cassette'), plan);
  const gone = new ClientGone();
  res.on('close', () => {
    if (!res.writableFinished) {
      gen.cancelled = true;
      gone.abort();
    }
  });
  const admission = await app.gate.admit(caller, admissionRequest(gen, plan));
  const run = chat.stream === true ? runStreaming(app, res, gen, plan.candidates, gone) : runNonStreaming(app, res, gen, plan.candidates, gone);
  // Chained rather than awaited in a try/finally: a suspended frame of this function, held for
  // as long as a stream is open, costs more memory than the closure (bench/README.md).
  const end = () => {
    app.store.save(toRecord(gen, req, caller, chat));
    return admission.settle(gen.cost.total, gen.usage);
  };
  return run.then(end, async (err: unknown) => {
    // The success paths name the generation in the headers they write; an error answer gets it
    // here. Set only now: a header set early is copied into a second header object that an open
    // stream would hold for its whole life.
    if (!res.headersSent) {
      res.setHeader('X-Generation-Id', gen.id);
      if (gen.attempts.length > 0) res.setHeader('X-Switchyard-Route', routeHeader(gen));
    }
    await end();
    throw err;
  });
}

/** Worst case over every endpoint that may serve: the prompt estimate plus the most output it may produce. */
function admissionRequest(gen: Generation, plan: RoutePlan): AdmissionRequest {
  const promptTokens = estimateTokens(gen.promptChars);
  const requested = gen.req.max_completion_tokens ?? gen.req.max_tokens ?? null;
  let worst = 0;
  let maxOut = 0;
  for (const { endpoint: ep } of plan.candidates) {
    const out = requested ?? ep.maxCompletionTokens ?? ep.contextLength ?? 0;
    maxOut = Math.max(maxOut, out);
    const cost = computeCost({ ...ZERO_USAGE, promptTokens, completionTokens: out }, ep.price).total;
    worst = Math.max(worst, cost);
  }
  return { generationId: gen.id, model: plan.candidates[0]?.endpoint.model.id ?? '', worstCaseUsd: worst, estimatedPromptTokens: promptTokens, maxOutputTokens: maxOut };
}

/**
 * Whether a candidate is still worth an attempt. After a failure that another provider would only
 * repeat (a 400: the request itself is the problem) the rest of that model's endpoints are skipped,
 * but the next model in `models` still gets its turn: any error of a model may trigger the next
 * (spec §12).
 */
function worthTrying(c: Candidate, failures: AttemptFailure[]): boolean {
  for (const f of failures) {
    if (!isRetryable(f.failure.status) && f.endpoint.model.id === c.endpoint.model.id) return false;
  }
  return true;
}

function responseModel(app: App, ep: Endpoint, requested: string): string {
  if (app.settings.wireEra === '2025') return requested;
  return ep.model.canonical_slug ?? ep.model.id;
}

/** Start one upstream attempt and wait for its status line. */
async function startAttempt(
  app: App,
  gen: Generation,
  ep: Endpoint,
  stream: boolean,
  signal: CancelSignal,
): Promise<{ adapter: ProviderAdapter; response: UpstreamResponse; started: number } | AttemptFailure> {
  const provider = app.settings.providers.get(ep.provider.slug)!;
  const adapter = adapterFor(ep.provider.protocol)!;
  gen.lastTried = ep;
  app.health.beginAttempt(healthKey(ep));
  const started = Date.now();
  let response: UpstreamResponse;
  const upstreamRequest = adapter.buildRequest(gen.model, ep, provider, stream);
  try {
    response = provider.replay ? provider.replay.answer(upstreamRequest, gen.req, signal) : await sendUpstream(provider, upstreamRequest, signal);
    if (app.recorder) response = app.recorder.wrap(gen.cassette, upstreamRequest, response, started);
  } catch (err) {
    const failure = signal.aborted ? { status: 499, raw: 'client closed the request' } : networkFailure(err);
    noteFailure(app, gen, ep, failure, started, null);
    return { failure, endpoint: ep };
  }
  if (response.statusCode >= 300) {
    const text = await response.body.text().catch(() => '');
    const failure = adapter.parseError(response.statusCode, text);
    // A Retry-After header wins; some providers (Gemini) say it in the body, which the adapter parsed.
    failure.retryAfterSeconds = retryAfterSeconds(response.headers) ?? failure.retryAfterSeconds;
    noteFailure(app, gen, ep, failure, started, response.statusCode);
    return { failure, endpoint: ep };
  }
  return { adapter, response, started };
}

function noteFailure(app: App, gen: Generation, ep: Endpoint, failure: UpstreamFailure, started: number, status: number | null): void {
  gen.attempts.push({
    provider: ep.provider.name,
    endpoint: ep.key,
    model: ep.model.id,
    status,
    latencyMs: Date.now() - started,
    error: failure.raw.slice(0, 500),
    outcome: 'failed',
    reason: status === null ? failure.raw.slice(0, 200) : `HTTP ${status}`,
  });
  if (failure.status !== 499) {
    app.health.recordFailure(healthKey(ep), {
      rateLimited: failure.status === 429,
      retryAfterMs: failure.retryAfterSeconds ? failure.retryAfterSeconds * 1000 : undefined,
    });
    app.log.warn({ gen: gen.id, provider: ep.provider.slug, status: failure.status, raw: failure.raw.slice(0, 200) }, 'upstream attempt failed');
  }
}

/** OpenRouter's error for a request whose every attempt failed (spec §13.3, §11.4). */
function finalError(last: AttemptFailure | null, all: AttemptFailure[]): ApiError {
  if (!last) return new ApiError(503, 'No provider was available to serve this request');
  const { failure, endpoint } = last;
  const status = failure.status === 429 ? 429 : isRetryable(failure.status) ? 502 : failure.status;
  const metadata: Record<string, unknown> = { raw: failure.raw, provider_name: endpoint.provider.name };
  if (all.length > 1) {
    metadata.previous_errors = all.slice(0, -1).map((a) => ({ provider: a.endpoint.provider.name, code: a.failure.status, message: a.failure.raw.slice(0, 300) }));
  }
  const headers = failure.status === 429 && failure.retryAfterSeconds !== undefined ? { 'Retry-After': String(failure.retryAfterSeconds) } : undefined;
  return new ApiError(status, 'Provider returned error', metadata, headers);
}

function settle(app: App, gen: Generation, ep: Endpoint): void {
  if (!gen.usage) {
    gen.estimatedUsage = true;
    gen.usage = { ...ZERO_USAGE, promptTokens: estimateTokens(gen.promptChars), completionTokens: estimateTokens(gen.streamedChars) };
  }
  gen.cost = computeCost(gen.usage, ep.price);
}

/*
 * A stream can stay open for minutes, and everything its suspended functions hold stays with it
 * (bench/README.md, memory per open stream): V8 keeps a suspended async function's whole register
 * file, ~100 slots for a large function, and with it whatever the registers last pointed to, such
 * as the last upstream read. So runStreaming, which waits while a stream is open, is kept small,
 * and the stream itself is read by StreamPump through callbacks: between reads it holds only its
 * fields.
 */
async function runStreaming(app: App, res: ServerResponse, gen: Generation, candidates: Candidate[], signal: CancelSignal): Promise<void> {
  const sse = new SseResponse(res, app.settings.keepaliveMs);
  const failures: AttemptFailure[] = [];
  try {
    for (const candidate of candidates) {
      if (signal.aborted) break;
      if (await streamFrom(app, gen, candidate, sse, failures, signal)) return;
    }
    endWithoutAnswer(app, gen, sse, failures, signal);
  } finally {
    sse.stopKeepAlive();
  }
}

/**
 * One candidate: start the attempt and, once accepted, hand it to a StreamPump. Returns (without
 * waiting for the stream, so that this frame is not held while it is open) a promise of true when
 * the request is over, false when the next candidate should be tried.
 */
async function streamFrom(app: App, gen: Generation, candidate: Candidate, sse: SseResponse, failures: AttemptFailure[], signal: CancelSignal): Promise<boolean> {
  if (!worthTrying(candidate, failures)) return false;
  const ep = candidate.endpoint;
  const attempt = await startAttempt(app, gen, ep, true, signal);
  if ('failure' in attempt) {
    failures.push(attempt);
    return false;
  }
  // Accepted: commit the status line and keep the connection warm; content is still uncommitted.
  gen.acceptedAt ??= Date.now();
  gen.created = Math.floor(Date.now() / 1000);
  sse.open(gen.id, routeHeader(gen, ep));
  const pump = new StreamPump(app, gen, ep, attempt.adapter, responseModel(app, ep, candidate.requestedId), sse);
  return pump.run(attempt, signal, failures);
}

/**
 * No attempt answered: the generation records why. Returns the error for the client, or null
 * when the client left (nobody to answer).
 */
function recordNoAnswer(gen: Generation, failures: AttemptFailure[], signal: CancelSignal): ApiError | null {
  if (signal.aborted) {
    gen.status = 499;
    gen.error = { code: 499, message: 'client closed the request' };
    return null;
  }
  const err = finalError(failures[failures.length - 1] ?? null, failures);
  gen.status = err.status;
  gen.error = { code: err.status, message: String(err.metadata?.raw ?? err.message) };
  return err;
}

/** Every attempt failed or the client left, before any content went out. */
function endWithoutAnswer(app: App, gen: Generation, sse: SseResponse, failures: AttemptFailure[], signal: CancelSignal): void {
  const err = recordNoAnswer(gen, failures, signal);
  if (!err) return;
  if (!sse.opened) throw err;
  // Status 200 was already sent (an accepted attempt failed before content): report in-stream.
  const ep = gen.lastTried!;
  const encoder = new ChunkEncoder(app.settings.wireEra, gen.id, gen.created, ep.model.canonical_slug ?? ep.model.id, ep.provider.name);
  sse.end(encoder.errorEvent(err.status, err.message, { ...err.metadata, error_type: errorTypeOf(err.status) }) + 'data: [DONE]\n\n');
}

/**
 * The state of one accepted upstream stream between reads. Events before the first content are
 * held back so that a provider failing early can be replaced invisibly (only keep-alive comments
 * went out); events decoded from one read go to the client in one write (one syscall), not one each.
 */
class StreamPump {
  private upstreamDone = false;
  private streamError: UpstreamFailure | null = null;
  /** Characters of content, reasoning and tool arguments: the usage estimate if none is reported. */
  private chars = 0;
  private readonly decoder: StreamDecoder;
  private readonly parser: EventSourceParser;
  // Created only when a read ends inside a UTF-8 sequence (see text()).
  private utf8: StringDecoder | null = null;
  private readonly encoder: ChunkEncoder;
  // Set by start(): the attempt being read and where its outcome goes.
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
  private held = '';
  private batch = '';
  private usage: TokenUsage | null = null;

  constructor(
    private readonly app: App,
    private readonly gen: Generation,
    private readonly ep: Endpoint,
    adapter: ProviderAdapter,
    model: string,
    private readonly sse: SseResponse,
  ) {
    this.decoder = adapter.createStreamDecoder();
    this.parser = createParser({ onEvent: (ev) => this.onEvent(ev) });
    this.encoder = new ChunkEncoder(app.settings.wireEra, gen.id, gen.created, model, ep.provider.name);
    this.excludeReasoning = gen.req.reasoning?.exclude === true || gen.req.include_reasoning === false;
  }

  /**
   * Copies the accepted upstream stream to the client. Resolves to true when the request is over
   * (answered, failed after content went out, or the client left), false when the attempt failed
   * before content (in `failures`) and the next candidate may serve instead.
   */
  run(attempt: { response: UpstreamResponse; started: number }, signal: CancelSignal, failures: AttemptFailure[]): Promise<boolean> {
    this.failures = failures;
    return new Promise((resolve, reject) => {
      this.body = attempt.response.body;
      this.pieces = this.body[Symbol.asyncIterator]();
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
    this.streamError = this.signal!.aborted ? { status: 499, raw: 'client closed the request' } : networkFailure(err);
    this.stop();
  }

  /** Reading is over: release the upstream connection, then settle the attempt's outcome. */
  private stop(): void {
    const body = this.body!;
    this.gen.streamedChars += this.chars;
    if (this.upstreamDone && !this.streamError) drainInBackground(this.pieces!, body);
    else if (!body.destroyed) body.destroy();
    try {
      this.resolve!(this.over(this.finish(this.started, this.signal!)));
    } catch (err) {
      this.reject!(err);
    }
  }

  private over(outcome: 'done' | AttemptFailure): boolean {
    if (outcome === 'done') return true;
    this.failures.push(outcome);
    if (outcome.failure.status === 499) return true;
    if (!this.sse.contentCommitted) return false;
    // Content already reached the client: no silent fallback any more (spec §4.7).
    this.endWithError(outcome.failure);
    return true;
  }

  /** One upstream read. True when the stream is over: its end marker came, or it failed. */
  private feed(piece: Buffer | Uint8Array | string): boolean {
    this.parser.feed(typeof piece === 'string' ? piece : this.text(piece));
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

  private onEvent(ev: EventSourceMessage): void {
    // Whatever follows the end marker or an error in the same read is ignored.
    if (this.upstreamDone || this.streamError) return;
    const chunks = this.decoder.decode({ event: ev.event, data: ev.data });
    if (chunks === null) {
      this.upstreamDone = true;
      return;
    }
    for (const chunk of chunks) {
      this.handle(chunk);
      if (this.streamError) return;
    }
  }

  private handle(incoming: UpstreamChunk): void {
    let chunk = incoming;
    if (this.excludeReasoning && chunk.choice && (chunk.choice.reasoning !== undefined || chunk.choice.reasoningDetails)) {
      // reasoning.exclude: the model still reasons (and is billed) but none of it is sent (spec §5.1).
      const { reasoning: _r, reasoningDetails: _d, ...rest } = chunk.choice;
      chunk = { ...chunk, choice: rest };
    }
    if (chunk.error) {
      this.streamError = chunk.error;
      return;
    }
    const gen = this.gen;
    if (chunk.usage) this.usage = chunk.usage;
    if (chunk.upstreamId && !gen.upstreamId) gen.upstreamId = chunk.upstreamId;
    if (chunk.serviceTier) gen.serviceTier = chunk.serviceTier;
    const out = this.encoder.encode(chunk);
    if (!out) return;
    const c = chunk.choice!;
    this.chars += (c.content?.length ?? 0) + (c.reasoning?.length ?? 0) + (c.toolCalls?.reduce((n, t) => n + (t.arguments?.length ?? 0), 0) ?? 0);
    const isContent = Boolean((c.content && c.content.length > 0) || c.toolCalls || c.reasoning || c.reasoningDetails || c.finishReason !== null || c.refusal);
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
      // The connection closed without [DONE] and without a finish reason: a truncated stream.
      this.streamError = { status: 502, raw: 'upstream closed the stream before it finished' };
    }
    // What the last read produced: written with the end of the stream, or before an error event.
    const tail = this.batch;
    this.batch = '';
    if (signal.aborted) {
      gen.served ??= ep;
      gen.usage = this.usage;
      settle(app, gen, ep);
      gen.status = 499;
      gen.error = { code: 499, message: 'client closed the request' };
      gen.finishReason = encoder.finishReason;
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
    settle(app, gen, ep);
    gen.finishReason = encoder.finishReason;
    gen.nativeFinishReason = encoder.nativeFinish;
    sse.end(last + encoder.usageEvent(usageJson(gen.usage!, gen.cost, app.settings.wireEra)) + 'data: [DONE]\n\n');
    recordSuccess(app, gen, ep, started);
    return 'done';
  }

  /** The stream failed after content reached the client: an error event, then [DONE]. */
  private endWithError(err: UpstreamFailure): void {
    const { app, gen, ep, sse } = this;
    gen.status = err.status >= 500 || err.status === 408 ? 502 : err.status;
    gen.error = { code: gen.status, message: err.raw };
    settle(app, gen, ep);
    sse.write(this.encoder.errorEvent(gen.status, 'Provider returned error', { raw: err.raw, provider_name: ep.provider.name, error_type: errorTypeOf(gen.status) }));
    sse.end('data: [DONE]\n\n');
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

/**
 * Explainability (a Switchyard extension): the attempts so far and the endpoint now serving,
 * e.g. `groq=429, novita=serving`, or only the failed attempts on an error answer. The full
 * explanation, skipped endpoints included, is in the generation record.
 */
function routeHeader(gen: Generation, serving?: Endpoint): string {
  const parts = gen.attempts.filter((a) => a.outcome === 'failed').map((a) => `${a.endpoint}=${a.status ?? 'error'}`);
  if (serving) parts.push(`${serving.key}=serving`);
  return parts.join(', ');
}

/** Every endpoint the router looked at, in order: attempts, then the untried rest, then the skipped. */
function explanation(gen: Generation): ProviderAttempt[] {
  const tried = new Set(gen.attempts.map((a) => `${a.model}|${a.endpoint}`));
  const notTried: ProviderAttempt[] = gen.plan.candidates
    .filter((c) => !tried.has(`${c.endpoint.model.id}|${c.endpoint.key}`))
    .map((c) => ({ provider: c.endpoint.provider.name, endpoint: c.endpoint.key, model: c.endpoint.model.id, status: null, latencyMs: 0, outcome: 'not tried' }));
  const skipped: ProviderAttempt[] = gen.plan.considered
    .filter((c) => c.skipped)
    .map((c) => ({ provider: c.provider, endpoint: c.endpoint, model: c.model, status: null, latencyMs: 0, outcome: 'skipped', reason: c.skipped }));
  return [...gen.attempts, ...notTried, ...skipped];
}

function recordSuccess(app: App, gen: Generation, ep: Endpoint, started: number): void {
  const now = Date.now();
  const ttft = gen.firstTokenAt !== null ? gen.firstTokenAt - started : null;
  const genSeconds = gen.firstTokenAt !== null ? (now - gen.firstTokenAt) / 1000 : 0;
  const tps = gen.usage && genSeconds > 0 ? gen.usage.completionTokens / genSeconds : null;
  app.health.recordSuccess(healthKey(ep), ttft, tps);
  gen.attempts.push({ provider: ep.provider.name, endpoint: ep.key, model: ep.model.id, status: 200, latencyMs: now - started, outcome: 'served' });
}

async function runNonStreaming(app: App, res: ServerResponse, gen: Generation, candidates: Candidate[], signal: CancelSignal): Promise<void> {
  const keepAlive = new JsonKeepAlive(res, app.settings.keepaliveMs);
  const failures: AttemptFailure[] = [];
  try {
    for (const candidate of candidates) {
      if (signal.aborted) break;
      if (!worthTrying(candidate, failures)) continue;
      const ep = candidate.endpoint;
      const attempt = await startAttempt(app, gen, ep, false, signal);
      if ('failure' in attempt) {
        failures.push(attempt);
        continue;
      }
      gen.acceptedAt ??= Date.now();
      gen.created = Math.floor(Date.now() / 1000);
      keepAlive.start(gen.id, routeHeader(gen, ep));
      let parsed: unknown;
      try {
        parsed = JSON.parse(await attempt.response.body.text());
      } catch (err) {
        const failure = signal.aborted ? { status: 499, raw: 'client closed the request' } : err instanceof SyntaxError ? { status: 502, raw: 'upstream returned invalid JSON' } : networkFailure(err);
        noteFailure(app, gen, ep, failure, attempt.started, 200);
        failures.push({ failure, endpoint: ep });
        if (failure.status === 499) break;
        continue;
      }
      const completion = attempt.adapter.parseCompletion(parsed);
      gen.served = ep;
      gen.firstTokenAt = Date.now();
      gen.usage = completion.usage;
      gen.streamedChars = (completion.content?.length ?? 0) + completion.toolCalls.reduce((n, t) => n + t.arguments.length, 0);
      settle(app, gen, ep);
      gen.upstreamId = completion.upstreamId ?? null;
      gen.serviceTier = completion.serviceTier ?? null;
      gen.nativeFinishReason = completion.finishReason;
      const body = completionBody(
        { id: gen.id, created: gen.created, model: responseModel(app, ep, candidate.requestedId), provider: ep.provider.name },
        completion,
        usageJson(gen.usage!, gen.cost, app.settings.wireEra),
        app.settings.wireEra,
        gen.req.reasoning?.exclude === true || gen.req.include_reasoning === false,
      );
      gen.finishReason = ((body.choices as Record<string, unknown>[])[0].finish_reason as string | null) ?? null;
      keepAlive.finish(200, JSON.stringify(body));
      recordSuccess(app, gen, ep, attempt.started);
      return;
    }
    const err = recordNoAnswer(gen, failures, signal);
    if (!err) return;
    if (!keepAlive.committed) throw err;
    // Whitespace already went out with status 200: the error travels in the body (spec §3.5).
    keepAlive.finish(200, JSON.stringify(err.toBody()));
  } finally {
    keepAlive.stop();
  }
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

function toRecord(gen: Generation, req: IncomingMessage, caller: Caller, chat: ChatRequest): GenerationRecord {
  const ep = gen.served ?? gen.lastTried;
  const end = Date.now();
  return {
    id: gen.id,
    createdAt: gen.startedAt,
    model: ep ? ep.model.id : (chat.model ?? chat.models?.[0] ?? ''),
    requestedModel: chat.model ?? chat.models?.[0] ?? '',
    providerName: ep?.provider.name ?? null,
    providerSlug: ep?.provider.slug ?? null,
    upstreamId: gen.upstreamId,
    streamed: chat.stream === true,
    cancelled: gen.cancelled,
    status: gen.status,
    finishReason: gen.finishReason,
    nativeFinishReason: gen.nativeFinishReason,
    tokensPrompt: gen.usage?.promptTokens ?? null,
    tokensCompletion: gen.usage?.completionTokens ?? null,
    tokensCached: gen.usage?.cachedTokens ?? null,
    tokensReasoning: gen.usage?.reasoningTokens ?? null,
    cost: gen.cost.total,
    promptCost: gen.cost.prompt,
    completionCost: gen.cost.completion,
    latencyMs: end - gen.startedAt,
    generationTimeMs: gen.acceptedAt !== null ? end - gen.acceptedAt : null,
    ttftMs: gen.firstTokenAt !== null ? gen.firstTokenAt - gen.startedAt : null,
    errorCode: gen.error?.code ?? null,
    errorMessage: gen.error?.message ?? null,
    attempts: explanation(gen),
    apiKey: caller.label,
    apiKeyHash: caller.hash,
    externalUser: chat.user ?? null,
    userAgent: header(req, 'user-agent'),
    httpReferer: header(req, 'http-referer'),
    serviceTier: gen.serviceTier,
    sessionId: chat.session_id ?? header(req, 'x-session-id'),
  };
}
