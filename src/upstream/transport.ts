import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, errors as UndiciErrors } from 'undici';
import type { ProviderRuntime } from '../config/load.js';
import type { CancelSignal } from '../core/cancel.js';
import { tickerFor, type Tickable } from '../core/ticker.js';
import type { UpstreamFailure } from '../model/response.js';
import type { UpstreamBody, UpstreamRequest, UpstreamResponse } from './types.js';
export { isRetryable } from '../model/response.js';

/**
 * HTTP to upstream providers over undici, one keep-alive connection pool per provider so each
 * gets its own connect timeout. First-byte and idle timeouts are checked by the shared ticker
 * (DispatchedResponse.tick), not by undici's timers.
 */
// Only the agent and its errors are loaded: undici's index also loads fetch, WebSocket, caches and
// mocks, which Switchyard never uses and which cost each process ~3 MiB of heap (measured after a
// full GC). test/undici-modules.test.ts checks that these are the very classes the index exports.
const require = createRequire(import.meta.url);
const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
type Agent = UndiciAgent;
const undiciErrors = require('undici/lib/core/errors.js') as typeof UndiciErrors;

const agents = new Map<string, Agent>();
/** The connect timeout each provider's agent was made with. */
const agentConnectMs = new Map<string, number>();

function agentFor(p: ProviderRuntime): Agent {
  let agent = agents.get(p.entry.slug);
  if (agent && agentConnectMs.get(p.entry.slug) !== p.timeouts.connectMs) {
    // A reload changed the connect timeout: a new agent; the old one closes once its requests are done.
    void agent.close().catch(() => undefined);
    agent = undefined;
  }
  if (!agent) {
    agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      // No cap: a cap silently queues streams beyond it with no status line or keep-alive (seen at 512).
      connections: null,
      pipelining: 1,
      connect: { timeout: p.timeouts.connectMs },
    });
    agents.set(p.entry.slug, agent);
    agentConnectMs.set(p.entry.slug, p.timeouts.connectMs);
  }
  return agent;
}

export async function closeAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.allSettled(all.map((a) => a.close()));
}

export type { UpstreamResponse } from './types.js';

/**
 * One upstream request through undici's dispatcher API rather than `request()`: the response body
 * is a queue of Buffers fed by the handler and read through a plain async iterator, so there is
 * no Readable stream, no stream events and no per-chunk stream bookkeeping between the socket and
 * the SSE decoder. Profiles put undici's Readable and request wrappers at about a tenth of the CPU
 * of a proxied request. Backpressure: above HIGH_WATER queued bytes the socket is paused until the
 * reader catches up.
 */
export function sendUpstream(p: ProviderRuntime, req: UpstreamRequest, signal: CancelSignal): Promise<UpstreamResponse> {
  return new DispatchedResponse(p, req, signal).started;
}

/**
 * undici keeps a request's body until the exchange ends: for a stream, as long as it is open, so
 * every open stream held its prompt once more. A body of this size or more is handed over as a
 * one-shot iterable, which lets go of the bytes once undici has written them; smaller ones stay a
 * string, undici's fastest path (one write together with the headers).
 */
const LARGE_BODY = 16 * 1024;

/** Headers and body as undici gets them: small bodies as they are, large ones as a one-shot iterable. */
function bodyFor(req: UpstreamRequest): { headers: Record<string, string>; body: string | Buffer } {
  if (req.body.length < LARGE_BODY) return { headers: req.headers, body: req.body };
  let held: Buffer | null = Buffer.from(req.body);
  const headers = { ...req.headers, 'content-length': String(held.length) };
  const oneShot: Iterable<Buffer> = {
    [Symbol.iterator]: () => ({
      next: (): IteratorResult<Buffer> => {
        if (held === null) return { done: true, value: undefined };
        const value = held;
        held = null;
        return { done: false, value };
      },
    }),
  };
  // undici's documentation lists Iterable among dispatch bodies; its type declarations do not.
  return { headers, body: oneShot as unknown as Buffer };
}

/**
 * Origin and path of an upstream URL. A deployment calls a handful of URLs (one per provider and
 * protocol), so they are parsed once, not on every request (`new URL` ~0.4 µs).
 */
const targets = new Map<string, { origin: string; path: string }>();
function targetOf(href: string): { origin: string; path: string } {
  let t = targets.get(href);
  if (!t) {
    const url = new URL(href);
    t = { origin: url.origin, path: url.pathname + url.search };
    if (targets.size >= 256) targets.clear();
    targets.set(href, t);
  }
  return t;
}

const HIGH_WATER = 256 * 1024;

/**
 * The most of one non-streamed upstream body (or one error body) held in memory. Past it the
 * attempt fails (and falls back) instead of growing the process without bound.
 */
export const MAX_UPSTREAM_BODY = 32 * 1024 * 1024;

/** An upstream answer larger than Switchyard holds: a failed attempt (502), never a crash. */
export class UpstreamTooLarge extends Error {
  readonly code = 'UPSTREAM_TOO_LARGE';
}
const LOW_WATER = 64 * 1024;

type Waiter = { resolve: (r: IteratorResult<Buffer>) => void; reject: (err: unknown) => void };

/**
 * The exchange with the upstream: undici's dispatch handler on one side, the body's async iterator
 * on the other, and the first-byte and idle timeouts. undici's own headers and body timeouts are
 * off: each put two timer objects per request into undici's timer list, which keeps them until
 * its next half-second sweep, long enough for scavenges to promote them (23 % of what survived
 * scavenges at c=16, by a sampling heap profile, once the ticker's churn was gone). The shared
 * ticker checks the deadlines instead, four times per timeout: a timeout fires up to a quarter
 * late (undici's fire up to half a second late).
 */
class DispatchedResponse implements UpstreamResponse, UpstreamBody, AsyncIterator<Buffer>, Tickable {
  statusCode = 0;
  tickSlot = -1;
  headers: Record<string, string | string[] | undefined> = {};
  readonly started: Promise<UpstreamResponse>;
  destroyed = false;
  private headersSeen = false;
  // Dropped once the status line is in (or the request failed): an open stream need not hold them.
  private resolveStart: ((r: UpstreamResponse) => void) | null = null;
  private rejectStart: ((err: unknown) => void) | null = null;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: unknown = null;
  private waiter: Waiter | null = null;
  private abortRequest: ((err?: Error) => void) | null = null;
  private resumeSocket: (() => void) | null = null;
  private paused = false;
  /** When the request was dispatched, then when the last body bytes (or the headers) arrived. */
  private lastProgress = Date.now();
  private readonly firstByteMs: number;
  private readonly idleMs: number;
  private readonly onAbort = () => this.fail(new undiciErrors.RequestAbortedError());

  constructor(
    p: ProviderRuntime,
    req: UpstreamRequest,
    private readonly signal: CancelSignal,
  ) {
    this.firstByteMs = p.timeouts.firstByteMs;
    this.idleMs = p.timeouts.idleMs;
    this.started = new Promise((resolve, reject) => {
      this.resolveStart = resolve;
      this.rejectStart = reject;
    });
    if (signal.aborted) {
      this.settleStart(new undiciErrors.RequestAbortedError());
      return;
    }
    signal.addEventListener('abort', this.onAbort, { once: true });
    const target = targetOf(req.url);
    const { headers, body } = bodyFor(req);
    agentFor(p).dispatch(
      {
        origin: target.origin,
        path: target.path,
        method: 'POST',
        headers,
        body,
        headersTimeout: 0,
        bodyTimeout: 0,
      },
      this,
    );
    if (!this.ended && !this.failure) tickerFor(Math.min(this.firstByteMs, this.idleMs)).add(this);
  }

  /** The ticker's check: first byte (headers) in time, then no gap between body reads beyond the idle timeout. */
  tick(now: number): void {
    if (!this.headersSeen) {
      if (now - this.lastProgress >= this.firstByteMs) this.fail(new undiciErrors.HeadersTimeoutError());
    } else if (!this.paused && now - this.lastProgress >= this.idleMs) {
      // While paused for backpressure the silence is ours, not the upstream's.
      this.fail(new undiciErrors.BodyTimeoutError());
    }
  }

  private stopTimeouts(): void {
    if (this.tickSlot >= 0) tickerFor(Math.min(this.firstByteMs, this.idleMs)).delete(this);
  }

  get body(): UpstreamBody {
    return this;
  }

  // ---- undici's dispatch handler

  onConnect(abort: (err?: Error) => void): void {
    this.abortRequest = abort;
    if (this.destroyed) abort(new undiciErrors.RequestAbortedError());
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // informational (100 Continue, 103 Early Hints)
    this.statusCode = statusCode;
    this.lastProgress = Date.now();
    this.headers = parseRawHeaders(rawHeaders);
    this.resumeSocket = resume;
    this.headersSeen = true;
    this.settleStart(null);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.destroyed) return true;
    this.lastProgress = Date.now();
    const w = this.waiter;
    if (w && this.queue.length === 0) {
      this.waiter = null;
      w.resolve({ value: chunk, done: false });
      return true;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER) this.paused = true;
    return !this.paused;
  }

  onComplete(): void {
    this.ended = true;
    this.stopTimeouts();
    this.signal.removeEventListener('abort', this.onAbort);
    this.wakeWaiter();
  }

  onError(err: Error): void {
    this.fail(err, false);
  }

  /** Ends the exchange with an error; `cancel` also tells undici to drop the request (our side gave up). */
  private fail(err: unknown, cancel = true): void {
    this.signal.removeEventListener('abort', this.onAbort);
    this.stopTimeouts();
    if (this.ended || this.failure) return;
    this.failure = err;
    if (!this.headersSeen) this.settleStart(err);
    if (cancel && this.abortRequest) this.abortRequest(err instanceof Error ? err : undefined);
    this.wakeWaiter();
  }

  /** Resolves `started` with this response, or rejects it with `err`; only the first call counts. */
  private settleStart(err: unknown): void {
    const resolve = this.resolveStart;
    const reject = this.rejectStart;
    this.resolveStart = this.rejectStart = null;
    if (err === null) resolve?.(this);
    else reject?.(err);
  }

  private wakeWaiter(): void {
    const w = this.waiter;
    if (!w || this.queue.length > 0) return;
    this.waiter = null;
    if (this.failure && !this.destroyed) w.reject(this.failure);
    else w.resolve({ value: undefined, done: true });
  }

  // ---- the body, as the pipeline reads it

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.queued -= chunk.length;
      if (this.paused && this.queued < LOW_WATER) {
        this.paused = false;
        this.lastProgress = Date.now();
        this.resumeSocket?.();
      }
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.destroyed || this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Leaving a for-await loop early abandons the body, as it does with a Node stream. */
  return(): Promise<IteratorResult<Buffer>> {
    this.destroy();
    return Promise.resolve({ value: undefined, done: true });
  }

  async text(): Promise<string> {
    const parts: Buffer[] = [];
    let size = 0;
    for (;;) {
      const r = await this.next();
      if (r.done) break;
      size += r.value.length;
      if (size > MAX_UPSTREAM_BODY) {
        this.destroy();
        throw new UpstreamTooLarge(`upstream body exceeded ${MAX_UPSTREAM_BODY} bytes`);
      }
      parts.push(r.value);
    }
    if (this.failure && !this.ended) throw this.failure;
    return parts.length === 1 ? parts[0].toString('utf8') : Buffer.concat(parts).toString('utf8');
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queue.length = 0;
    this.queued = 0;
    if (!this.ended && !this.failure) this.fail(new undiciErrors.RequestAbortedError());
    this.wakeWaiter();
  }
}

/** undici's raw header list ([name, value, …] as Buffers) → lower-case names, repeats as arrays. */
function parseRawHeaders(raw: Buffer[]): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toString('latin1').toLowerCase();
    const value = raw[i + 1].toString('latin1');
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [had, value];
  }
  return out;
}

/** A transport-level failure (no usable HTTP response) in the upstream-failure vocabulary. */
export function networkFailure(err: unknown): UpstreamFailure {
  const e = err as { code?: string; message?: string; name?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? e.name ?? 'ERROR';
  if (err instanceof undiciErrors.HeadersTimeoutError) return { status: 408, raw: 'upstream did not respond in time (first-byte timeout)' };
  if (err instanceof undiciErrors.BodyTimeoutError) return { status: 408, raw: 'upstream stalled between chunks (idle timeout)' };
  if (err instanceof undiciErrors.ConnectTimeoutError) return { status: 408, raw: 'could not connect to upstream in time (connect timeout)' };
  if (err instanceof UpstreamTooLarge) return { status: 502, raw: err.message };
  // The code only: the errors' messages name the upstream's address, which is not the client's business.
  return { status: 502, raw: `upstream connection failed (${code})` };
}

export function retryAfterSeconds(headers: UpstreamResponse['headers']): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, Math.ceil((date - Date.now()) / 1000)) : undefined;
}
