#!/usr/bin/env node
// A fast mock of an OpenAI-compatible provider for the benchmark (bench/README.md).
//
// POST /v1/chat/completions answers from pre-serialised buffers: a chat.completion JSON body, or
// (when the request body contains "stream":true) an SSE stream of chat.completion.chunk events
// ending with a usage chunk and [DONE]. The request body is read but only scanned for "stream":
// the mock does no JSON parsing per request.
//
// Behaviour is set at start (flags) and at run time by the bench runner:
//   POST /__bench/config {"chunks":20,"chunkDelayMs":0,"ttftMs":0,"slowIntervalMs":0}
//     chunks          content chunks per stream (plus a role chunk, a finish chunk and a usage chunk)
//     chunkDelayMs    delay between consecutive chunks (0: the whole stream in one write)
//     ttftMs          delay before the first content chunk (status line and headers go out at once)
//     slowIntervalMs  >0: "slow" streams for the memory test: role + first content chunk at once,
//                     then one content chunk every slowIntervalMs, forever (until the client goes)
//   GET /__bench/stats  {"requests":n,"openSlowStreams":n}
//
// Prints one JSON line {"port":N} on stdout when listening.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    chunks: { type: 'string', default: '20' },
    'chunk-delay': { type: 'string', default: '0' },
    ttft: { type: 'string', default: '0' },
  },
});

const MODEL = 'moonshotai/kimi-k2-instruct-0905';
const CREATED = 1757000000;
const WORDS = ['Olá', '!', ' Tudo', ' bem', '?', ' Como', ' posso', ' ajudar', ' você', ' hoje', '?', ' Estou', ' aqui', ' para', ' responder', ' às', ' suas', ' perguntas', ' com', ' prazer', '.'];

const config = {
  chunks: Number(flags.chunks),
  chunkDelayMs: Number(flags['chunk-delay']),
  ttftMs: Number(flags.ttft),
  slowIntervalMs: 0,
};

let payload; // pre-serialised buffers for the current config

function word(i) {
  return WORDS[i % WORDS.length];
}

function build() {
  const n = Math.max(1, config.chunks);
  const text = Array.from({ length: n }, (_, i) => word(i)).join('');
  const usage = { prompt_tokens: 12, completion_tokens: n, total_tokens: 12 + n };
  const completion = Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created: CREATED,
      model: MODEL,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'stop' }],
      usage,
      system_fingerprint: 'fp_bench',
    }),
  );
  const event = (choices, extra = {}) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: MODEL, system_fingerprint: 'fp_bench', choices, ...extra })}\n\n`;
  const role = event([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
  const content = Array.from({ length: n }, (_, i) => event([{ index: 0, delta: { content: word(i) }, logprobs: null, finish_reason: null }]));
  const finish = event([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
  const usageEv = event([], { usage });
  const done = 'data: [DONE]\n\n';
  const events = [role + content[0], ...content.slice(1), finish + usageEv + done].map((s) => Buffer.from(s));
  payload = {
    completion,
    completionHeaders: { 'content-type': 'application/json', 'content-length': String(completion.length) },
    streamAll: Buffer.concat(events),
    streamEvents: events,
    slowFirst: Buffer.from(role + content[0]),
    slowNext: Buffer.from(content[1 % n]),
  };
}
build();

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
let requests = 0;

// Slow streams share one timer: each tick writes to the streams that are due.
const slow = new Set(); // { res, due }
let slowTimer = null;
function ensureSlowTimer() {
  if (slowTimer) return;
  slowTimer = setInterval(() => {
    if (slow.size === 0) return;
    const now = Date.now();
    for (const s of slow) {
      if (s.due <= now) {
        s.res.write(payload.slowNext);
        s.due = now + config.slowIntervalMs;
      }
    }
  }, 50);
}

function serveStream(res) {
  if (config.slowIntervalMs > 0) {
    res.writeHead(200, SSE_HEADERS);
    res.write(payload.slowFirst);
    // Spread the ticks so that 10,000 streams do not all write in the same 50 ms.
    const s = { res, due: Date.now() + Math.floor(Math.random() * config.slowIntervalMs) };
    slow.add(s);
    res.on('close', () => slow.delete(s));
    ensureSlowTimer();
    return;
  }
  const { streamEvents, streamAll } = payload;
  const delay = config.chunkDelayMs;
  res.writeHead(200, SSE_HEADERS);
  if (config.ttftMs <= 0 && delay <= 0) {
    res.end(streamAll);
    return;
  }
  let i = 0;
  let timer = null;
  res.on('close', () => timer && clearTimeout(timer));
  const next = () => {
    timer = null;
    if (res.destroyed) return;
    if (delay <= 0) return void res.end(Buffer.concat(streamEvents.slice(i)));
    const ev = streamEvents[i++];
    if (i >= streamEvents.length) return void res.end(ev);
    res.write(ev);
    timer = setTimeout(next, delay);
  };
  if (config.ttftMs > 0) {
    res.flushHeaders();
    timer = setTimeout(next, config.ttftMs);
  } else next();
}

function readBody(req, cb) {
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => cb(parts.length === 1 ? parts[0] : Buffer.concat(parts)));
}

const STREAM_TRUE = /"stream"\s*:\s*true/;

const server = createServer({ keepAliveTimeout: 120_000, headersTimeout: 125_000, requestTimeout: 0 }, (req, res) => {
  if (req.method === 'POST' && (req.url === '/v1/chat/completions' || req.url === '/chat/completions')) {
    requests++;
    readBody(req, (body) => {
      // Only the first bytes are scanned: "stream" is near the top of every client's body.
      const head = body.length > 4096 ? body.subarray(0, 4096).toString('latin1') : body.toString('latin1');
      if (STREAM_TRUE.test(head) || (body.length > 4096 && STREAM_TRUE.test(body.toString('latin1')))) serveStream(res);
      else {
        const { completion, completionHeaders } = payload;
        if (config.ttftMs > 0) setTimeout(() => res.writeHead(200, completionHeaders).end(completion), config.ttftMs);
        else res.writeHead(200, completionHeaders).end(completion);
      }
    });
    return;
  }
  if (req.url === '/__bench/config' && req.method === 'POST') {
    readBody(req, (body) => {
      Object.assign(config, JSON.parse(body.toString() || '{}'));
      build();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(config));
    });
    return;
  }
  if (req.url === '/__bench/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ requests, openSlowStreams: slow.size, config }));
    return;
  }
  if (req.url === '/__bench/close-slow' && req.method === 'POST') {
    for (const s of slow) s.res.destroy();
    slow.clear();
    res.writeHead(200).end('{}');
    return;
  }
  req.resume();
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"mock: not found"}}');
});
server.maxHeadersCount = 200;
server.listen(Number(flags.port), flags.host, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
const stop = () => {
  for (const s of slow) s.res.destroy();
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Die with the runner: an IPC channel (when forked) or stdin closing means the parent is gone.
process.on('disconnect', stop);
