/* eslint-disable @typescript-eslint/no-explicit-any -- OTLP payloads under test */
/**
 * OpenTelemetry traces, received by a local OTLP/HTTP receiver (decoding http/json, and
 * http/protobuf with a small protobuf reader): one SERVER span per request and one CLIENT span per
 * upstream exchange with the GenAI attributes; an incoming traceparent is continued and the upstream
 * request carries the client span's; prompts and answers only when content capture is on; a dead
 * collector costs one warning and no time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import pino from 'pino';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, rngPicking, startGateway, type Gateway } from './support/gateway.js';
import { fetchGeneration } from './support/requests.js';
import { tracingSettings } from '../src/observability/tracing-config.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm' };
const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const okStream = (words: string[]) => [
  chunk({ role: 'assistant', content: '' }),
  ...words.map((w) => chunk({ content: w })),
  chunk({}, 'stop'),
  `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 } })}\n\n`,
  'data: [DONE]\n\n',
];

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number; // 2 SERVER, 3 CLIENT
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  resource: Record<string, unknown>;
}

// --- a minimal protobuf reader for ExportTraceServiceRequest --------------------------------

type Field = { n: number; wire: number; v: bigint | Buffer };

function readFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let shift = 0n;
    let r = 0n;
    for (;;) {
      const b = buf[i++];
      r |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return r;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const n = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ n, wire, v: varint() });
    else if (wire === 1) out.push({ n, wire, v: buf.subarray(i, (i += 8)) });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ n, wire, v: buf.subarray(i, (i += len)) });
    } else if (wire === 5) out.push({ n, wire, v: buf.subarray(i, (i += 4)) });
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}
const all = (f: Field[], n: number) => f.filter((x) => x.n === n).map((x) => x.v);
const one = (f: Field[], n: number) => f.find((x) => x.n === n)?.v;
const str = (v: unknown) => (v instanceof Buffer ? v.toString('utf8') : '');

function anyValue(buf: Buffer): unknown {
  const f = readFields(buf)[0];
  if (!f) return undefined;
  switch (f.n) {
    case 1:
      return str(f.v);
    case 2:
      return f.v === 1n;
    case 3:
      return Number(BigInt.asIntN(64, f.v as bigint));
    case 4:
      return (f.v as Buffer).readDoubleLE(0);
    case 5:
      return all(readFields(f.v as Buffer), 1).map((v) => anyValue(v as Buffer));
    default:
      return undefined;
  }
}
function keyValues(list: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    const f = readFields(kv as Buffer);
    out[str(one(f, 1))] = anyValue((one(f, 2) as Buffer) ?? Buffer.alloc(0));
  }
  return out;
}
function fromProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of all(readFields(body), 1)) {
    const rsf = readFields(rs as Buffer);
    const resource = keyValues(all(readFields((one(rsf, 1) as Buffer) ?? Buffer.alloc(0)), 1));
    for (const ss of all(rsf, 2)) {
      for (const sp of all(readFields(ss as Buffer), 2)) {
        const f = readFields(sp as Buffer);
        const status = readFields((one(f, 15) as Buffer) ?? Buffer.alloc(0));
        spans.push({
          traceId: (one(f, 1) as Buffer).toString('hex'),
          spanId: (one(f, 2) as Buffer).toString('hex'),
          parentSpanId: ((one(f, 4) as Buffer) ?? Buffer.alloc(0)).toString('hex'),
          name: str(one(f, 5)),
          kind: Number(one(f, 6) ?? 0n),
          attributes: keyValues(all(f, 9)),
          status: { code: Number(one(status, 3) ?? 0n), message: str(one(status, 2)) || undefined },
          resource,
        });
      }
    }
  }
  return spans;
}

// --- OTLP/JSON ---------------------------------------------------------------------------------

function jsonValue(v: any): unknown {
  if (v === undefined || v === null) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(jsonValue);
  return undefined;
}
const jsonAttributes = (list: any[] | undefined) => Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));
function fromJson(body: any): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          attributes: jsonAttributes(s.attributes),
          status: { code: s.status?.code ?? 0, message: s.status?.message },
          resource,
        });
      }
    }
  }
  return spans;
}

interface Receiver {
  url: string;
  spans: ReceivedSpan[];
  contentTypes: Set<string>;
  headers: Record<string, string | string[] | undefined>[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const headers: Receiver['headers'] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const type = String(req.headers['content-type'] ?? '');
      contentTypes.add(type);
      headers.push(req.headers);
      assert.equal(req.url, '/v1/traces');
      spans.push(...(type.includes('json') ? fromJson(JSON.parse(body.toString('utf8'))) : fromProtobuf(body)));
      res.writeHead(200, { 'content-type': type.includes('json') ? 'application/json' : 'application/x-protobuf' });
      res.end(type.includes('json') ? '{}' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    spans,
    contentTypes,
    headers,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Waits until the receiver holds `n` spans of the trace (the gateway's batch processor exports every 50 ms here). */
async function spansOf(gw: Gateway, rx: Receiver, traceId: string, n: number): Promise<ReceivedSpan[]> {
  for (let i = 0; i < 100; i++) {
    await gw.app.observer.flush();
    const got = rx.spans.filter((s) => s.traceId === traceId);
    if (got.length >= n) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`trace ${traceId}: ${rx.spans.filter((s) => s.traceId === traceId).length} spans, expected ${n}`);
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

for (const protocol of ['http/json', 'http/protobuf'] as const) {
  describe(`traces over OTLP ${protocol}`, () => {
    let rx: Receiver;
    let groq: MockUpstream;
    let novita: MockUpstream;
    let gw: Gateway;
    const capture = protocol === 'http/protobuf';

    before(async () => {
      rx = await startReceiver();
      groq = await startMockUpstream();
      novita = await startMockUpstream();
      gw = await startGateway({
        providers: { groq: groq.baseUrl, novita: novita.baseUrl },
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-token=s3cret%21',
          OTEL_SERVICE_NAME: 'switchyard-under-test',
          OTEL_BSP_SCHEDULE_DELAY: '50',
          ...(capture ? { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' } : {}),
        },
      });
    });
    after(async () => {
      await gw.close();
      await groq.close();
      await novita.close();
      await rx.close();
    });

    it('continues an incoming traceparent: a SERVER span, a CLIENT span, and the upstream gets the client span as parent', async () => {
      gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
      groq.enqueue({ sse: okStream(['Hello', ' world']) });
      const res = await postChat(
        gw,
        { model: MODEL, stream: true, max_tokens: 64, temperature: 0.3, messages: [{ role: 'system', content: 'Be brief' }, { role: 'user', content: 'Say hello' }] },
        { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=x' },
      );
      assert.equal(res.status, 200);
      await readSse(res);
      const id = res.headers.get('x-generation-id')!;
      const rec = await fetchGeneration(gw, id);
      const spans = await spansOf(gw, rx, TRACE, 2);
      const server = spans.find((s) => s.kind === 2)!;
      const client = spans.find((s) => s.kind === 3)!;
      assert.ok(server && client, JSON.stringify(spans));
      assert.equal(server.parentSpanId, PARENT, 'the incoming trace is continued');
      assert.equal(client.parentSpanId, server.spanId);
      assert.equal(server.name, `chat ${MODEL}`);
      assert.equal(server.resource['service.name'], 'switchyard-under-test');
      assert.equal(rx.headers.at(-1)!['x-collector-token'], 's3cret!', 'OTEL_EXPORTER_OTLP_HEADERS');
      assert.ok([...rx.contentTypes].some((t) => t.includes(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf')));

      const a = server.attributes;
      assert.equal(a['gen_ai.operation.name'], 'chat');
      assert.equal(a['gen_ai.request.model'], MODEL);
      assert.equal(a['gen_ai.request.max_tokens'], 64);
      assert.equal(a['gen_ai.request.temperature'], 0.3);
      assert.equal(a['gen_ai.response.model'], MODEL);
      assert.equal(a['gen_ai.provider.name'], 'groq');
      assert.equal(a['gen_ai.response.id'], id);
      assert.equal(a['gen_ai.usage.input_tokens'], 12);
      assert.equal(a['gen_ai.usage.output_tokens'], 5);
      assert.deepEqual(a['gen_ai.response.finish_reasons'], ['stop']);
      assert.equal(a['switchyard.cost_usd'], rec.total_cost);
      assert.equal(a['switchyard.routing.reason'], 'first_choice');
      assert.equal(a['switchyard.api'], 'chat_completions');
      assert.equal(a['http.response.status_code'], 200);
      assert.equal(server.status.code, 0);

      const c = client.attributes;
      assert.equal(c['gen_ai.operation.name'], 'chat');
      assert.equal(c['gen_ai.request.model'], 'moonshotai/kimi-k2-instruct-0905', "the provider's model id");
      assert.equal(c['gen_ai.provider.name'], 'groq');
      assert.equal(c['gen_ai.response.id'], id);
      assert.equal(c['gen_ai.usage.output_tokens'], 5);
      assert.equal(c['switchyard.attempt.outcome'], 'ok');
      assert.equal(c['switchyard.routing.reason'], 'first_choice');
      assert.equal(c['server.address'], '127.0.0.1');

      const sent = groq.requests.at(-1)!.headers;
      assert.equal(sent.traceparent, `00-${TRACE}-${client.spanId}-01`, 'the upstream request carries the client span');
      assert.equal(sent.tracestate, 'vendor=x');

      if (capture) {
        assert.deepEqual(JSON.parse(String(a['gen_ai.system_instructions'])), [{ type: 'text', content: 'Be brief' }]);
        assert.deepEqual(JSON.parse(String(a['gen_ai.input.messages'])), [{ role: 'user', parts: [{ type: 'text', content: 'Say hello' }] }]);
        assert.deepEqual(JSON.parse(String(a['gen_ai.output.messages'])), [{ role: 'assistant', parts: [{ type: 'text', content: 'Hello world' }], finish_reason: 'stop' }]);
      } else {
        for (const k of ['gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.system_instructions']) assert.equal(k in a, false, `${k} is not exported without content capture`);
      }
    });

    it('a fallback: one CLIENT span per upstream exchange, the failed one marked as an error', async () => {
      gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
      (gw.app as any).health = new (gw.app.health.constructor as any)(30_000);
      groq.enqueue({ status: 503, json: { error: { message: 'overloaded' } } });
      novita.enqueue({ json: chatCompletion('From Novita', { prompt_tokens: 7, completion_tokens: 3 }) });
      const trace = 'a'.repeat(32);
      const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }, { traceparent: `00-${trace}-${'b'.repeat(16)}-01` });
      assert.equal(res.status, 200);
      await res.json();
      const spans = await spansOf(gw, rx, trace, 3);
      const server = spans.find((s) => s.kind === 2)!;
      const clients = spans.filter((s) => s.kind === 3).sort((x, y) => Number(x.attributes['switchyard.attempt.index']) - Number(y.attributes['switchyard.attempt.index']));
      assert.equal(clients.length, 2);
      assert.equal(clients[0].attributes['gen_ai.provider.name'], 'groq');
      assert.equal(clients[0].attributes['switchyard.attempt.outcome'], 'server_error');
      assert.equal(clients[0].attributes['http.response.status_code'], 503);
      assert.equal(clients[0].status.code, 2, 'ERROR');
      assert.equal(clients[1].attributes['gen_ai.provider.name'], 'novita');
      assert.equal(clients[1].attributes['switchyard.attempt.outcome'], 'ok');
      assert.equal(clients[1].attributes['switchyard.routing.reason'], 'fallback');
      assert.equal(server.attributes['switchyard.routing.reason'], 'fallback');
      assert.equal(server.attributes['gen_ai.provider.name'], 'novita');
      assert.equal(server.attributes['switchyard.attempts'], 2);
      assert.equal(server.attributes['switchyard.route'], 'groq=503, novita=served');
      if (capture) assert.deepEqual(JSON.parse(String(server.attributes['gen_ai.output.messages']))[0].parts, [{ type: 'text', content: 'From Novita' }]);
    });

    it('a request without a traceparent starts a trace; a refused one gets a span of its own', async () => {
      gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
      groq.enqueue({ json: chatCompletion('ok') });
      const before = rx.spans.length;
      const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(res.status, 200);
      await res.text();
      const bad = await postChat(gw, { model: 'acme/unknown', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(bad.status, 400);
      const badId = bad.headers.get('x-generation-id');
      await bad.text();
      const okId = res.headers.get('x-generation-id');
      const arrived = () => rx.spans.slice(before).filter((s) => s.attributes['gen_ai.response.id'] === okId || s.attributes['gen_ai.response.id'] === badId);
      for (let i = 0; i < 100 && arrived().length < 3; i++) {
        await gw.app.observer.flush();
        await new Promise((r) => setTimeout(r, 20));
      }
      const fresh = arrived();
      const server = fresh.find((s) => s.kind === 2 && s.attributes['gen_ai.response.id'] === okId)!;
      assert.ok(server, JSON.stringify(fresh));
      assert.equal(server.parentSpanId, '');
      const sent = groq.requests.at(-1)!.headers.traceparent as string;
      assert.match(sent, new RegExp(`^00-${server.traceId}-[0-9a-f]{16}-01$`));
      const refused = fresh.find((s) => s.attributes['gen_ai.response.id'] === badId)!;
      assert.ok(refused, 'the refused request has a span');
      assert.equal(refused.attributes['http.response.status_code'], 400);
      assert.equal(refused.attributes['error.type'], '400');
    });
  });
}

describe('a dead collector', () => {
  it('costs one warning, and requests are as fast as without tracing', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createTcpServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const lines: string[] = [];
    const groq = await startMockUpstream();
    groq.onRequest(() => ({ json: chatCompletion('ok') }));
    const gw = await startGateway({
      providers: { groq: groq.baseUrl },
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '20', OTEL_EXPORTER_OTLP_TIMEOUT: '500' },
      logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }),
    });
    try {
      for (let round = 0; round < 3; round++) {
        const started = Date.now();
        const res = await postChat(gw, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
        assert.equal(res.status, 200);
        await res.text();
        assert.ok(Date.now() - started < 1000, 'the request does not wait for the exporter');
        await gw.app.observer.flush();
      }
      const warnings = lines.filter((l) => l.includes('exporting traces failed'));
      assert.equal(warnings.length, 1, lines.join(''));
      assert.equal(JSON.parse(warnings[0]).level, 40);
    } finally {
      const closing = Date.now();
      await gw.close();
      assert.ok(Date.now() - closing < 5000, 'shutdown is not held by the dead collector');
      await groq.close();
    }
  });
});

describe('tracing configuration from the standard variables', () => {
  it('is off without an endpoint, and reads protocol, headers, sampler and service name', () => {
    assert.equal(tracingSettings({}), null);
    assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }), null);
    assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }), null);
    const s = tracingSettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=two%20words',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'b=3',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod',
    })!;
    assert.equal(s.url, 'http://collector:4318/v1/traces');
    assert.equal(s.protocol, 'http/protobuf');
    assert.deepEqual(s.headers, { a: '1', b: '3' });
    assert.equal(s.sampler, 'parentbased_traceidratio');
    assert.equal(s.ratio, 0.25);
    assert.equal(s.serviceName, 'switchyard');
    assert.deepEqual(s.resource, { 'deployment.environment': 'prod' });
    assert.equal(s.captureContent, false);
    assert.deepEqual(s.warnings, []);
    assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' })!.url, 'http://c:4318/custom');
    const grpc = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })!;
    assert.equal(grpc.url, '', 'grpc is not supported: tracing stays off');
    assert.match(grpc.warnings[0], /grpc/);
    assert.match(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_SAMPLER: 'sometimes' })!.warnings[0], /sometimes/);
  });
});
