import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { App } from '../app.js';
import { ApiError } from '../core/errors.js';
import { generationId } from '../core/ids.js';
import { chatCompletionsCodec } from '../ingress/chat-completions/codec.js';
import { messagesCodec } from '../ingress/messages/codec.js';
import { parseCountTokensRequest } from '../ingress/messages/count-tokens.js';
import { countInputTokens } from '../pipeline/count-tokens.js';
import { responsesCodec } from '../ingress/responses/codec.js';
import { embeddingsCodec } from '../ingress/embeddings/codec.js';
import type { FrontDoor, IngressCodec } from '../pipeline/ingress.js';
import { runEmbeddings, runGeneration, sendIngressError, type GenerationHooks } from '../pipeline/run.js';
import type { Caller } from '../auth/keys.js';
import type { GenerationRequest } from '../model/request.js';
import { generationResponse } from '../api/generation.js';
import { embeddingModelsResponse, endpointsHealthResponse, endpointsResponse, modelResponse, modelsResponse, providersResponse } from '../api/models.js';
import * as keysApi from '../keys/api.js';
import { usageAnalytics } from '../accounting/analytics.js';
import { listGenerations } from '../observability/generations-api.js';
import { serveMetrics } from '../observability/metrics-endpoint.js';
import { isConsolePath, serveConsole } from '../console/serve.js';
import { tickerFor, type Tickable } from '../core/ticker.js';
import { DatabaseUnavailable } from '../storage/sql.js';
import { Readiness } from './readiness.js';
import { ConfigError } from '../config/load.js';

type Handler = (app: App, req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const json = JSON.stringify(body);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.writeHead(status, headers);
  res.end(json);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  sendJson(res, err.status, err.toBody(), err.headers);
}

/**
 * Reads a request body of at most `limit` bytes, received within `timeoutMs` (the body only: the
 * response, a stream perhaps, has no such bound).
 *
 * - Too slow: 408, and the connection is closed after the answer.
 * - Too large: 413. The rest of the body is read and thrown away within the same time (all of an
 *   announced length; up to `limit` more bytes of a chunked one), so that a client still sending
 *   reads the answer instead of a reset; past that the connection is cut.
 */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // The listeners stay on the request as long as it lives (for a stream, until it ends). Once
    // the body is read they must reach neither the chunks nor this promise, which holds the body
    // as its result: otherwise every open stream keeps its prompt's bytes.
    let settle: { resolve: (b: Buffer) => void; reject: (e: unknown) => void } | null = { resolve, reject };
    let parts: Buffer[] = [];
    let size = 0;
    /** Bytes thrown away since the body was refused as too large; -1 while it is being read. */
    let discarded = -1;
    const declared = Number(req.headers['content-length'] ?? 0);
    // How much of a refused body is read and dropped: an announced length in full (within the
    // timeout), a chunked body up to as much again as the limit.
    const discardable = Math.max(declared, limit);
    const ticker = tickerFor(timeoutMs);
    const deadline = Date.now() + timeoutMs;
    const timer: Tickable = {
      tickSlot: -1,
      tick(now) {
        if (now < deadline) return;
        ticker.delete(timer);
        if (!settle) {
          req.socket.destroy();
          return;
        }
        req.off('data', onData);
        parts = [];
        settle.reject(new ApiError(408, `Request body not received within ${timeoutMs} ms`, undefined, { Connection: 'close' }));
        settle = null;
      },
    };
    const refuse = () => {
      parts = [];
      discarded = 0;
      settle?.reject(new ApiError(413, `Request body is larger than ${limit} bytes`));
      settle = null;
    };
    const onData = (chunk: Buffer) => {
      if (discarded >= 0) {
        discarded += chunk.length;
        if (discarded > discardable) req.socket.destroy();
        return;
      }
      size += chunk.length;
      if (size > limit) refuse();
      else parts.push(chunk);
    };
    ticker.add(timer);
    req.on('data', onData);
    req.on('end', () => {
      ticker.delete(timer);
      req.off('data', onData);
      const body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      parts = [];
      settle?.resolve(body);
      settle = null;
    });
    req.on('error', (err) => {
      ticker.delete(timer);
      settle?.reject(err);
      settle = null;
    });
    // Announced too large: refused at once, and read and dropped (with `Connection: close` Node
    // would close as soon as the answer is out, and a client still sending would see a reset).
    if (declared > limit) refuse();
  });
}

/**
 * Deeper JSON than any real request needs: without a bound, serialising a body nested a hundred
 * thousand levels deep (a tool's parameters, a schema) overflows the stack mid-request.
 */
const MAX_JSON_DEPTH = 128;

/** How deep a parsed JSON value nests, counted without recursion; stops once past `limit`. */
function nestingDepth(value: unknown, limit: number): number {
  if (value === null || typeof value !== 'object') return 0;
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) {
      max = depth;
      if (max > limit) return max;
    }
    const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    for (const c of children) if (c !== null && typeof c === 'object') stack.push([c, depth + 1]);
  }
  return max;
}

/** A path segment decoded, or a 400 when its percent-encoding is malformed. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, `Malformed percent-encoding in the path: ${segment.slice(0, 100)}`);
  }
}

async function readJson(app: App, req: IncomingMessage): Promise<unknown> {
  const raw = await readBody(req, app.settings.bodyLimitBytes, app.settings.bodyTimeoutMs);
  if (raw.length === 0) throw new ApiError(400, 'Request body is empty; send a JSON object');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new ApiError(400, `Request body is not valid JSON: ${(err as Error).message}`);
  }
  if (nestingDepth(parsed, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new ApiError(400, `Request body is nested more than ${MAX_JSON_DEPTH} levels deep`);
  }
  return parsed;
}

/**
 * A generation endpoint of one front door: authenticate, read and parse the body in the door's
 * wire, then the shared pipeline. Errors before anything was committed are answered in the door's
 * own envelope, with the generation id.
 */
/** What a front door does around the shared pipeline (stored responses load and save conversations). */
interface DoorHooks {
  /** After authentication, before the body is parsed. */
  prepare?(app: App, body: unknown, caller: Caller): Promise<unknown>;
  /** The answer is complete: runs before its last bytes go out. */
  beforeEnd?(app: App, model: GenerationRequest, caller: Caller): Promise<unknown>;
}

/** The front door answering a response, for errors raised outside its handler's own catch. */
const doorOf = new WeakMap<ServerResponse, FrontDoor>();

/** How a front door's parsed request runs through the pipeline. */
type Runner<C extends FrontDoor> = (app: App, codec: C, id: string, model: GenerationRequest, body: unknown, req: IncomingMessage, res: ServerResponse, caller: Caller, hooks: GenerationHooks) => Promise<void>;

function generationRoute(codecOf: (app: App) => IngressCodec, door: DoorHooks = {}): Handler {
  return doorRoute(codecOf, door, runGeneration);
}

function doorRoute<C extends FrontDoor>(codecOf: (app: App) => C, door: DoorHooks, run: Runner<C>): Handler {
  return (app, req, res) => {
    const codec = codecOf(app);
    doorOf.set(res, codec);
    const id = generationId();
    return serveGeneration(app, codec, door, run, id, req, res).catch((err: unknown) => {
      if (!(err instanceof ApiError)) throw err;
      sendIngressError(res, codec, err, id);
    });
  };
}

async function serveGeneration<C extends FrontDoor>(app: App, codec: C, door: DoorHooks, run: Runner<C>, id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let caller: Caller | null = null;
  let body: unknown;
  let model: GenerationRequest;
  try {
    caller = await app.keys.authenticateInference(req);
    body = await readJson(app, req);
    if (door.prepare) await door.prepare(app, body, caller);
    model = codec.parse(body, req.headers, { maxModels: app.settings.maxModels });
  } catch (err) {
    // Refused before the pipeline (auth, body, validation): still one request to count and log.
    app.observer.requestRefused(codec.api, id, req, err, caller, null);
    throw err;
  }
  const hooks: GenerationHooks = {};
  const beforeEnd = door.beforeEnd;
  if (beforeEnd) hooks.beforeEnd = () => beforeEnd(app, model, caller!);
  // Returned, not awaited: this frame ends instead of waiting as long as the stream is open.
  return run(app, codec, id, model, body, req, res, caller, hooks);
}

/** One codec per app and front door (a codec holds settings such as the wire era). */
function perApp<C extends FrontDoor>(make: (app: App) => C): (app: App) => C {
  const made = new WeakMap<App, C>();
  return (app) => {
    let codec = made.get(app);
    if (!codec) made.set(app, (codec = make(app)));
    return codec;
  };
}

const chatCompletions = generationRoute(perApp((app) => chatCompletionsCodec(app.settings.wireEra)));
const messagesCodecOf = perApp(() => messagesCodec());
const responsesCodecOf = perApp(() => responsesCodec());
// Stored responses: a follow-up (previous_response_id, item_reference) resolves against the
// caller's own earlier responses, and an answer is saved before its last bytes go out.
const responses = generationRoute(responsesCodecOf, {
  prepare: (app, body, caller) => app.responses.prepare(body, caller.hash),
  beforeEnd: (app, model, caller) => app.responses.saveRequest(model, caller.hash),
});
/** `/responses/{id}` and `/responses/{id}/input_items`, the caller's own only, in OpenAI's error shape. */
function storedResponse(action: (app: App, id: string, owner: string | null, url: URL) => Promise<{ status: number; body: unknown }>): Handler {
  return (app, req, res, url) => {
    const codec = responsesCodecOf(app);
    return (async () => {
      const caller = await app.keys.authenticateInference(req);
      const id = decodeSegment(url.pathname.replace(/\/+$/, '').replace(/\/input_items$/, '').split('/').pop() ?? '');
      const r = await action(app, id, caller.hash, url);
      sendJson(res, r.status, r.body);
    })().catch((err: unknown) => {
      if (!(err instanceof ApiError)) throw err;
      sendIngressError(res, codec, err);
    });
  };
}
const getResponse = storedResponse((app, id, owner, url) => app.responses.getBody(id, owner, url.searchParams.getAll('include[]').concat(url.searchParams.getAll('include'))));
const deleteResponse = storedResponse((app, id, owner) => app.responses.deleteBody(id, owner));
const responseInputItems = storedResponse((app, id, owner, url) => app.responses.inputItemsBody(id, owner, url.searchParams.get('order') === 'asc' ? 'asc' : 'desc'));
const messages = generationRoute(messagesCodecOf);
const embeddingsDoor = embeddingsCodec();
const embeddings = doorRoute(
  () => embeddingsDoor,
  {},
  (app, codec, id, model, body, req, res, caller) => runEmbeddings(app, codec, id, model, body, req, res, caller),
);

/**
 * `POST /messages/count_tokens`, in the Messages wire (errors too): the count of the Anthropic
 * upstream that would serve the model, else an estimate from the prompt's size.
 */
const messagesCountTokens: Handler = (app, req, res) => {
  const codec = messagesCodecOf(app);
  return (async () => {
    await app.keys.authenticateInference(req);
    const parsed = parseCountTokensRequest(await readJson(app, req), req.headers);
    const counted = await countInputTokens(app, parsed.generation);
    res.setHeader('X-Switchyard-Token-Count', counted ? `upstream; provider=${counted.provider}` : 'estimate');
    sendJson(res, 200, { input_tokens: counted?.inputTokens ?? parsed.inputTokens });
  })().catch((err: unknown) => {
    if (!(err instanceof ApiError)) throw err;
    sendIngressError(res, codec, err);
  });
};

const generation: Handler = async (app, req, res, url) => {
  const caller = await app.keys.authenticate(req);
  sendJson(res, 200, await generationResponse(app, url.searchParams.get('id'), caller));
};

const models: Handler = (app, _req, res, url) => sendJson(res, 200, modelsResponse(app, url));
const embeddingModels: Handler = (app, _req, res, url) => sendJson(res, 200, embeddingModelsResponse(app, url));
const providers: Handler = (app, _req, res) => sendJson(res, 200, providersResponse(app));
const endpointsHealth: Handler = (app, _req, res, url) => sendJson(res, 200, endpointsHealthResponse(app, url));

const reply = (res: ServerResponse, r: keysApi.Reply) => sendJson(res, r.status, r.body);
/** `/keys/{hash}` */
const hashOf = (url: URL) => decodeSegment(url.pathname.replace(/\/+$/, '').split('/').pop() ?? '');

const currentKey: Handler = async (app, req, res) => reply(res, await keysApi.currentKey(app, await app.keys.authenticate(req)));
const credits: Handler = async (app, req, res) => {
  // Management keys only; while auth is off (loopback, no key anywhere) the balance is readable by anyone.
  if (await app.keys.isEnabled()) await app.keys.authenticateManagement(req);
  reply(res, await keysApi.credits(app));
};
/** Management keys only, auth off or not: changing the balance is never anonymous. */
const changeCredits: Handler = async (app, req, res) => {
  const caller = await app.keys.authenticateManagement(req);
  reply(res, await keysApi.changeCredits(app, caller, await readJson(app, req)));
};
const listKeys: Handler = async (app, req, res, url) => {
  await app.keys.authenticateManagement(req);
  reply(res, await keysApi.listKeys(app, url));
};
const createKey: Handler = async (app, req, res) => {
  const caller = await app.keys.authenticateManagement(req);
  reply(res, await keysApi.createKey(app, caller, await readJson(app, req)));
};
const getKey: Handler = async (app, req, res, url) => {
  await app.keys.authenticateManagement(req);
  reply(res, await keysApi.getKey(app, hashOf(url)));
};
const patchKey: Handler = async (app, req, res, url) => {
  const caller = await app.keys.authenticateManagement(req);
  reply(res, await keysApi.updateKey(app, caller, hashOf(url), await readJson(app, req)));
};
const deleteKey: Handler = async (app, req, res, url) => {
  const caller = await app.keys.authenticateManagement(req);
  reply(res, await keysApi.deleteKey(app, caller, hashOf(url)));
};
/** `POST /admin/reload`: the configuration read again and swapped in (config/reload.ts); management keys only. */
const reload: Handler = async (app, req, res) => {
  await app.keys.authenticateManagement(req);
  let report;
  try {
    report = await app.reload();
  } catch (err) {
    if (err instanceof ConfigError) throw new ApiError(422, `Configuration refused; the settings in use stay: ${err.message}`);
    throw err;
  }
  sendJson(res, 200, report);
};
const analytics: Handler = async (app, req, res, url) => reply(res, await usageAnalytics(app, await app.keys.authenticate(req), url));
const generations: Handler = async (app, req, res, url) => reply(res, await listGenerations(app, await app.keys.authenticate(req), url));
/** The web console's files; its scripts call the first API prefix. */
const consoleFiles: Handler = (app, req, res, url) => serveConsole(req, res, url, app.settings.apiPrefixes[0] ?? '/api/v1');

/** Route table: `METHOD path-below-prefix`; `:hash` matches one path segment. Small enough that a map beats a router library. */
const ROUTES = new Map<string, Handler>([
  ['POST /chat/completions', chatCompletions],
  ['POST /messages', messages],
  ['POST /messages/count_tokens', messagesCountTokens],
  ['POST /responses', responses],
  ['POST /embeddings', embeddings],
  ['GET /embeddings/models', embeddingModels],
  ['GET /responses/:id', getResponse],
  ['DELETE /responses/:id', deleteResponse],
  ['GET /responses/:id/input_items', responseInputItems],
  ['GET /generation', generation],
  ['GET /models', models],
  ['GET /providers', providers],
  ['GET /endpoints/health', endpointsHealth],
  ['GET /key', currentKey],
  ['GET /auth/key', currentKey],
  ['GET /credits', credits],
  ['POST /credits', changeCredits],
  ['GET /keys', listKeys],
  ['POST /keys', createKey],
  ['GET /keys/:hash', getKey],
  ['PATCH /keys/:hash', patchKey],
  ['DELETE /keys/:hash', deleteKey],
  ['GET /analytics/usage', analytics],
  ['GET /generations', generations],
  ['POST /admin/reload', reload],
]);

/** Routes with a model id inside the path (ids contain a slash: author/slug). */
function patternRoute(method: string, rest: string): Handler | undefined {
  if (method !== 'GET') return undefined;
  const endpoints = /^\/models\/(.+)\/endpoints$/.exec(rest);
  if (endpoints) return (app, _req, res) => sendJson(res, 200, endpointsResponse(app, decodeSegment(endpoints[1])));
  const one = /^\/models?\/([^/]+\/[^/]+)$/.exec(rest);
  if (one) return (app, _req, res) => sendJson(res, 200, modelResponse(app, decodeSegment(one[1])));
  return undefined;
}

/** `/keys/abc…` → `/keys/:hash`, `/responses/resp_…` → `/responses/:id`; anything else unchanged. */
function routePath(rest: string): string {
  if (/^\/keys\/[^/]+$/.test(rest)) return '/keys/:hash';
  if (/^\/responses\/[^/]+\/input_items$/.test(rest)) return '/responses/:id/input_items';
  if (/^\/responses\/[^/]+$/.test(rest)) return '/responses/:id';
  return rest;
}

export interface RunningServer {
  server: Server;
  url: string;
  /** Stop accepting, let open requests finish (up to the drain timeout), flush records. */
  shutdown(): Promise<void>;
}

/**
 * Requests whose handler has not finished (its response sent and its generation recorded), counted
 * for the drain. Not a Set of them: with every request entering and leaving one, V8's
 * young-generation collector kept finished requests, whole, alive until the next full collection
 * (by hand at c=16, `--trace-gc-nvp`: 1.6 MB surviving each scavenge and 95 % of it promoted,
 * against 0.6 MB with a count), so every scavenge copied them and a full collection followed about
 * once a second.
 */
export interface OpenRequests {
  count: number;
  /** Those of them that arrived while the server drains. */
  sinceDrain: number;
}

/** After the drain deadline cut the connections: how long the cut requests get to record themselves. */
const CUT_GRACE_MS = 5000;

/** A request that needed the database while it is unreachable (the reason is logged, at most every 10 s). */
const DATABASE_UNAVAILABLE = () => new ApiError(503, 'The database is unavailable; try again later', undefined, { 'Retry-After': '1' });

export function createHttpServer(app: App): { server: Server; open: OpenRequests; readiness: Readiness } {
  const open: OpenRequests = { count: 0, sinceDrain: 0 };
  const readiness = new Readiness(app, open);
  let databaseWarnedAt = -Infinity;
  const s = app.settings;
  const prefixes = app.settings.apiPrefixes;
  // Request lines seen before, without a query string: their handler and parsed URL, so a
  // repeated `POST /api/v1/chat/completions` skips URL parsing and prefix matching (~1 µs). The
  // URL object is shared between requests: handlers only read it.
  const resolved = new Map<string, { handler: Handler; url: URL }>();
  const options = {
    keepAliveTimeout: s.idleTimeoutMs,
    headersTimeout: s.headersTimeoutMs,
    // No bound on a whole request: a response (a stream) takes as long as it takes; the request
    // body has its own timeout (readBody).
    requestTimeout: 0,
    // How often Node looks for connections past the headers timeout (its default, 30 s, would let
    // a slow client keep a connection for up to twice the timeout).
    connectionsCheckingInterval: Math.max(25, Math.min(5000, Math.floor(s.headersTimeoutMs / 4))),
  };
  const server = createServer(options, (req, res) => {
    // Draining: the listener stays open (readiness answers 503 until the balancer stops sending),
    // but no connection is kept for another request.
    if (readiness.draining) res.setHeader('Connection', 'close');
    const line = `${req.method} ${req.url}`;
    let hit = resolved.get(line);
    if (!hit) {
      const url = new URL(req.url ?? '/', 'http://switchyard.local');
      if (url.pathname.startsWith('/health') && (req.method === 'GET' || req.method === 'HEAD')) {
        if (url.pathname === '/health' || url.pathname === '/health/live') {
          sendJson(res, 200, { status: 'ok' });
          return;
        }
        if (url.pathname === '/health/ready') {
          void readiness.check().then(
            ({ ready, body }) => sendJson(res, ready ? 200 : 503, body),
            (err: unknown) => sendJson(res, 503, { status: 'unavailable', checks: { server: `down: ${(err as Error).message}` } }),
          );
          return;
        }
      }
      // GET /metrics: on the main port, outside the API prefixes (where Prometheus looks by default).
      let handler: Handler | undefined = url.pathname === '/metrics' && (req.method === 'GET' || req.method === 'HEAD') ? serveMetrics : undefined;
      // The web console at /console (and / redirecting there).
      if (!handler && isConsolePath(url.pathname)) handler = consoleFiles;
      for (const prefix of handler ? [] : prefixes) {
        if (url.pathname.startsWith(`${prefix}/`)) {
          const rest = routePath(url.pathname.slice(prefix.length).replace(/\/+$/, ''));
          handler = ROUTES.get(`${req.method} ${rest}`) ?? patternRoute(req.method ?? '', rest);
          if (!handler && [...ROUTES.keys()].some((k) => k.endsWith(` ${rest}`))) {
            sendError(res, new ApiError(405, `Method ${req.method} not allowed on ${url.pathname}`));
            return;
          }
          break;
        }
      }
      if (!handler) {
        sendError(res, new ApiError(404, `Not found: ${req.method} ${url.pathname}`));
        return;
      }
      hit = { handler, url };
      if (url.search === '' && line.length <= 256) {
        if (resolved.size >= 64) resolved.clear();
        resolved.set(line, hit);
      }
    }
    const { handler, url } = hit;
    open.count++;
    const late = readiness.draining;
    if (late) open.sinceDrain++;
    // The settings snapshot this request uses to its end, whatever reload happens meanwhile.
    const current = app.latest();
    Promise.resolve()
      .then(() => handler(current, req, res, url))
      .catch((err: unknown) => {
        if (err instanceof ApiError) {
          sendError(res, err);
          return;
        }
        if (err instanceof DatabaseUnavailable) {
          readiness.databaseFailed(err.message);
          const now = Date.now();
          if (now - databaseWarnedAt >= 10_000) {
            databaseWarnedAt = now;
            app.log.warn({ err: err.message }, 'database unavailable; requests that need it are answered 503');
          }
          const door = doorOf.get(res);
          if (door) sendIngressError(res, door, DATABASE_UNAVAILABLE());
          else sendError(res, DATABASE_UNAVAILABLE());
          return;
        }
        app.log.error({ err }, 'unhandled error');
        sendError(res, new ApiError(500, 'Internal server error'));
      })
      .finally(() => {
        open.count--;
        if (late) open.sinceDrain--;
      });
  });
  // Past the cap Node closes new connections as they arrive.
  server.maxConnections = s.maxConnections;
  return { server, open, readiness };
}

export async function startServer(app: App): Promise<RunningServer> {
  await app.init();
  app.observer.start();
  const { server, open, readiness } = createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(app.settings.port, app.settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : app.settings.port;
  const host = app.settings.host.includes(':') ? `[${app.settings.host}]` : app.settings.host;
  let closing: Promise<void> | null = null;
  const shutdown = () => {
    closing ??= (async () => {
      // Readiness turns 503 first; the listener stays open while requests are being served (a
      // probe sees "draining", not a refused connection), then closes.
      readiness.draining = true;
      const settled = async (ms: number, counted = () => open.count) => {
        const deadline = Date.now() + ms;
        while (counted() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      };
      const drainDeadline = Date.now() + app.settings.drainTimeoutMs;
      // Open as long as the requests open at the start of the drain are served: requests that
      // arrive meanwhile are served too, but a steady client does not hold the listener open.
      await settled(app.settings.drainTimeoutMs, () => open.count - open.sinceDrain);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Requests that arrived just before the listener closed, within the same deadline.
      await settled(drainDeadline - Date.now());
      // Whatever is still open at the deadline is cut with its connection. A cut request aborts
      // its upstream call and queues its record (marked cancelled): wait for that before the
      // store's last flush.
      server.closeAllConnections();
      await settled(CUT_GRACE_MS);
      await closed;
      await app.close();
    })();
    return closing;
  };
  return { server, url: `http://${host}:${port}`, shutdown };
}
