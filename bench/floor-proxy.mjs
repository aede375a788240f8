#!/usr/bin/env node
// The "Node floor" for the benchmark (bench/README.md): the least a reverse proxy written in Node
// does for an OpenAI-compatible call, so that the bench can show how much of a router's added
// latency any Node proxy pays on the machine (loopback syscalls, HTTP parsing and serialising).
//
//   node:http server in, undici `request` with a keep-alive Agent out to <upstream>/v1/chat/completions
//   non-streaming: JSON.parse the client body, set `model` to the upstream model id, drop
//                  `provider`, JSON.stringify, forward; JSON.parse the upstream answer, add
//                  "provider":"Groq", JSON.stringify, send with content-length
//   streaming:     the same request rewrite; the upstream SSE bytes are piped through unchanged
//
// No routing, accounting, records, logging or validation. Prints {"port":N} on stdout when listening.
//   node bench/floor-proxy.mjs --upstream http://127.0.0.1:PORT [--model ID] [--port N]
import { createServer } from 'node:http';
import { pipeline } from 'node:stream';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { values: flags } = parseArgs({
  options: {
    upstream: { type: 'string' },
    model: { type: 'string', default: 'moonshotai/kimi-k2-instruct-0905' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
if (!flags.upstream) {
  process.stderr.write('usage: node bench/floor-proxy.mjs --upstream http://127.0.0.1:PORT [--model ID] [--port N]\n');
  process.exit(2);
}

const UPSTREAM = `${flags.upstream.replace(/\/+$/, '')}/v1/chat/completions`;
const MODEL = flags.model;
const agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
const UP_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer bench' };
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

function fail(res, status, message) {
  if (res.headersSent) return void res.destroy();
  const body = JSON.stringify({ error: { message: `floor: ${message}` } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

async function forward(raw, res) {
  let body;
  try {
    body = JSON.parse(raw.toString());
  } catch {
    return fail(res, 400, 'invalid JSON');
  }
  body.model = MODEL;
  delete body.provider;
  const up = await request(UPSTREAM, { method: 'POST', headers: UP_HEADERS, body: JSON.stringify(body), dispatcher: agent });
  if (body.stream === true) {
    res.writeHead(up.statusCode, SSE_HEADERS);
    pipeline(up.body, res, () => {});
    return;
  }
  const answer = await up.body.json();
  answer.provider = 'Groq';
  const out = Buffer.from(JSON.stringify(answer));
  res.writeHead(up.statusCode, { 'content-type': 'application/json', 'content-length': out.length }).end(out);
}

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    req.resume();
    // GET / answers 200: the runner's readiness probe.
    return void (req.method === 'GET' ? res.writeHead(200).end() : fail(res, 404, 'not found'));
  }
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    forward(parts.length === 1 ? parts[0] : Buffer.concat(parts), res).catch((err) => fail(res, 502, err?.code ?? String(err)));
  });
});
server.listen(Number(flags.port), flags.host, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
const stop = () => {
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
