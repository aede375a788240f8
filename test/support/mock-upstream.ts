/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON payloads from recordings and HTTP bodies */
/**
 * A real HTTP server on 127.0.0.1 (ephemeral port) that plays an upstream provider for router tests.
 *
 * Replies are queued FIFO with enqueue(); when the queue is empty the default handler (onRequest) answers,
 * and without one the server answers 500 `{"error":{"message":"mock upstream: no reply queued"}}`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { deriveUpstream, isStreamBody, splitSseEvents, type RecordedResponse } from './cassettes.js';

export type MockReply =
  | { status?: number; headers?: Record<string, string>; json: unknown; delayMs?: number }
  | {
      status?: number;
      headers?: Record<string, string>;
      /**
       * Each string is one full SSE event, e.g. 'data: {...}\n\n'; written one at a time. A Buffer
       * is written as it is: any bytes, e.g. part of an event cut inside a UTF-8 sequence.
       */
      sse: (string | Buffer)[];
      /** Delay before anything (status line included) is written. */
      firstByteDelayMs?: number;
      /** Delay between consecutive events. */
      chunkDelayMs?: number;
    }
  | { status?: number; headers?: Record<string, string>; raw: string; delayMs?: number }
  | {
      /**
       * reset-before-headers: destroy the socket without answering.
       * reset-mid-stream: send 200 + the first `afterEvents` (default 1) events of `sse`, then destroy the socket.
       * hang: never answer (the connection stays open until the client gives up or the server closes).
       */
      fault: 'reset-before-headers' | 'reset-mid-stream' | 'hang';
      sse?: string[];
      afterEvents?: number;
    };

export interface ReceivedRequest {
  method: string;
  /** Request target as received, e.g. "/v1/chat/completions" (query string included). */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Parsed JSON body, or undefined if the body is empty or not JSON. */
  json: any;
}

export interface MockUpstream {
  /** e.g. http://127.0.0.1:PORT (no trailing slash) */
  url: string;
  /** url + '/v1' */
  baseUrl: string;
  requests: ReceivedRequest[];
  enqueue(...replies: MockReply[]): void;
  onRequest(handler: (req: ReceivedRequest) => MockReply | Promise<MockReply>): void;
  /** Requests whose client disconnected before the reply finished. */
  readonly aborted: number;
  close(): Promise<void>;
}

const NO_REPLY: MockReply = { status: 500, json: { error: { message: 'mock upstream: no reply queued' } } };

export async function startMockUpstream(): Promise<MockUpstream> {
  const queue: MockReply[] = [];
  const requests: ReceivedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let handler: ((req: ReceivedRequest) => MockReply | Promise<MockReply>) | undefined;
  let aborted = 0;
  let closing = false;

  /** Resolves after ms, or early (false) once the response is gone. */
  const sleep = (ms: number | undefined, res: ServerResponse): Promise<boolean> => {
    if (!ms || ms <= 0) return Promise.resolve(!res.destroyed);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        timers.delete(timer);
        res.off('close', onClose);
        resolve(ok);
      };
      const onClose = () => done(false);
      const timer = setTimeout(() => done(!res.destroyed), ms);
      timers.add(timer);
      res.once('close', onClose);
    });
  };

  const write = (res: ServerResponse, chunk: string | Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (res.destroyed) return resolve();
      res.write(chunk, () => resolve());
    });

  async function serve(req: IncomingMessage, res: ServerResponse, reply: MockReply, markKilled: () => void) {
    if ('fault' in reply) {
      if (reply.fault === 'hang') return; // never answer
      if (reply.fault === 'reset-before-headers') {
        markKilled();
        req.socket.destroy();
        return;
      }
      // reset-mid-stream
      const events = reply.sse ?? [];
      const n = Math.max(0, Math.min(reply.afterEvents ?? 1, events.length));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      for (let i = 0; i < n; i++) await write(res, events[i]);
      // give the client a moment to receive what was sent before the reset
      await sleep(25, res);
      markKilled();
      req.socket.destroy();
      return;
    }
    if ('sse' in reply) {
      if (!(await sleep(reply.firstByteDelayMs, res))) return;
      res.writeHead(reply.status ?? 200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        ...lower(reply.headers),
      });
      res.flushHeaders();
      for (let i = 0; i < reply.sse.length; i++) {
        if (i > 0 && !(await sleep(reply.chunkDelayMs, res))) return;
        if (res.destroyed) return;
        await write(res, reply.sse[i]);
      }
      res.end();
      return;
    }
    if (!(await sleep(reply.delayMs, res))) return;
    const isJson = 'json' in reply;
    const body = isJson ? JSON.stringify(reply.json) : reply.raw;
    res.writeHead(reply.status ?? 200, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...lower(reply.headers),
    });
    res.end(body);
  }

  const server = createServer((req, res) => {
    let killedByServer = false;
    res.on('close', () => {
      if (!res.writableFinished && !killedByServer && !closing) aborted++;
    });
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('error', () => {
      /* client went away while sending; counted by the close handler */
    });
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      let json: any;
      if (body.trim() !== '') {
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
      }
      const received: ReceivedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: { ...req.headers },
        body,
        json,
      };
      requests.push(received);
      void (async () => {
        let reply: MockReply;
        try {
          reply = queue.length > 0 ? queue.shift()! : handler ? await handler(received) : NO_REPLY;
        } catch (err) {
          reply = { status: 500, json: { error: { message: `mock upstream handler failed: ${String(err)}` } } };
        }
        try {
          await serve(req, res, reply, () => {
            killedByServer = true;
          });
        } catch {
          if (!res.destroyed) res.destroy();
        }
      })();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    enqueue(...replies: MockReply[]) {
      queue.push(...replies);
    },
    onRequest(h) {
      handler = h;
    },
    get aborted() {
      return aborted;
    },
    close() {
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
    },
  };
}

function lower(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/** A reply serving the upstream (OpenAI chat-completions) equivalent of an OpenRouter recorded response. */
export function replyFromRecording(
  orResponse: RecordedResponse,
  opts: { upstreamModel?: string; chunkDelayMs?: number } = {},
): MockReply {
  const d = deriveUpstream(orResponse, { upstreamModel: opts.upstreamModel });
  const headers = { 'content-type': d.contentType };
  if (d.chunks) return { status: d.status, headers, sse: d.chunks, chunkDelayMs: opts.chunkDelayMs };
  return { status: d.status, headers, raw: d.body };
}

/** A reply serving a recorded provider response (cassettes/upstream/...) as-is; SSE split into events. */
export function replyFromUpstreamRecording(resp: RecordedResponse): MockReply {
  const contentType =
    Object.entries(resp.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1]?.[0] ??
    (isStreamBody(resp.body) ? 'text/event-stream' : 'application/json');
  const headers = { 'content-type': contentType };
  if (resp.code < 400 && isStreamBody(resp.body)) {
    return { status: resp.code, headers, sse: splitSseEvents(resp.body) };
  }
  return { status: resp.code, headers, raw: resp.body };
}

/** A minimal OpenAI-style `chat.completion` body, as a provider's mock answers a non-streaming request. */
export function chatCompletion(text: string, usage = { prompt_tokens: 5, completion_tokens: 2 }): Record<string, unknown> {
  return {
    id: 'chatcmpl-mock',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}
