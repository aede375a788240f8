import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type * as Api from '@opentelemetry/api';
import type * as Core from '@opentelemetry/core';
import type * as Resources from '@opentelemetry/resources';
import type * as Sdk from '@opentelemetry/sdk-trace';
import type * as ProtoExporter from '@opentelemetry/exporter-trace-otlp-proto';
import type * as JsonExporter from '@opentelemetry/exporter-trace-otlp-http';
import type { Logger } from 'pino';
import type { Endpoint } from '../catalog/types.js';
import type { IngressApi, Message, ContentPart, GenerationRequest } from '../model/request.js';
import type { Completion, UpstreamChunk } from '../model/response.js';
import type { Generation } from '../pipeline/generation.js';
import type { StreamEncoder } from '../pipeline/ingress.js';
import type { AttemptOutcome } from '../pipeline/observer.js';
import type { GenerationRecord } from '../storage/generations.js';
import type { TracingSettings } from './tracing-config.js';
import { OutputCapture, type Watch } from './watch.js';

/**
 * OpenTelemetry traces: one SERVER span per generation request and one CLIENT span per upstream
 * exchange, with the GenAI semantic conventions' attributes (gen_ai.*) and Switchyard's own
 * (switchyard.*), exported over OTLP (http/protobuf or http/json) by a batch processor.
 *
 * The SDK is loaded by `startTracing` only: a process without an OTLP endpoint never loads it.
 * No global tracer provider or context manager is installed; every span gets its parent
 * explicitly (the incoming `traceparent`, or the request's span), so nothing else in the process
 * is affected. Exporting happens off the request path; a collector that is down or slow costs one
 * warning (and one line when it answers again), and spans beyond the queue are dropped.
 */

const require = createRequire(import.meta.url);

/** GenAI semantic conventions' operation name of a front door. */
const operationOf = (api: IngressApi) => (api === 'embeddings' ? 'embeddings' : 'chat');
const TRACER = 'switchyard';

type ApiModule = typeof Api;

export class Tracing {
  private readonly api: ApiModule;
  private readonly provider: Sdk.TracerProvider;
  private readonly tracer: Api.Tracer;
  private readonly propagator: Core.W3CTraceContextPropagator;
  private readonly capture: boolean;
  /** server.address / server.port of each upstream base URL, parsed once. */
  private readonly servers = new Map<string, { address: string; port: number }>();

  constructor(
    settings: TracingSettings,
    private readonly log: Logger,
  ) {
    this.api = require('@opentelemetry/api') as ApiModule;
    const core = require('@opentelemetry/core') as typeof Core;
    const resources = require('@opentelemetry/resources') as typeof Resources;
    const sdk = require('@opentelemetry/sdk-trace') as typeof Sdk;
    const config = { url: settings.url, headers: settings.headers, timeoutMillis: settings.timeoutMs };
    const exporter =
      settings.protocol === 'http/json'
        ? new (require('@opentelemetry/exporter-trace-otlp-http') as typeof JsonExporter).OTLPTraceExporter(config)
        : new (require('@opentelemetry/exporter-trace-otlp-proto') as typeof ProtoExporter).OTLPTraceExporter(config);
    this.provider = new sdk.TracerProvider({
      resource: resources.resourceFromAttributes({ ...settings.resource, 'service.name': settings.serviceName }),
      sampler: samplerOf(sdk, settings),
      spanLimits: settings.attributeValueLengthLimit ? { attributeValueLengthLimit: settings.attributeValueLengthLimit } : undefined,
      spanProcessors: [
        new sdk.BatchSpanProcessor({
          exporter: new WarnOnFailure(exporter, core, log, settings),
          scheduledDelayMillis: settings.batch.scheduledDelayMs,
          maxQueueSize: settings.batch.maxQueueSize,
          maxExportBatchSize: settings.batch.maxExportBatchSize,
          exportTimeoutMillis: settings.batch.exportTimeoutMs,
        }),
      ],
    });
    this.tracer = this.provider.getTracer(TRACER);
    this.propagator = new core.W3CTraceContextPropagator();
    this.capture = settings.captureContent;
  }

  /** The request's SERVER span, continuing an incoming W3C trace context. */
  requestStarted(watch: Watch, gen: Generation, req: IncomingMessage): void {
    const span = this.serverSpan(gen.req.api, req, gen.startedAt, modelOf(gen));
    watch.span = span;
    if (!span.isRecording()) return;
    span.setAttributes(requestAttributes(gen.req, gen.requestedModel));
    if (gen.sessionId) span.setAttribute('gen_ai.conversation.id', gen.sessionId);
    if (this.capture) {
      const { system, input } = inputMessages(gen.req.messages);
      if (system.length > 0) span.setAttribute('gen_ai.system_instructions', JSON.stringify(system));
      span.setAttribute('gen_ai.input.messages', JSON.stringify(input));
      watch.output = new OutputCapture();
    }
  }

  /** A request answered with an error before any upstream call: a span of its own, ended at once. */
  requestRefused(api: IngressApi, id: string, req: IncomingMessage, status: number, message: string, model: string | null, requested: string | null): void {
    const span = this.serverSpan(api, req, Date.now(), model);
    if (span.isRecording()) {
      span.setAttributes({ 'gen_ai.response.id': id, 'http.response.status_code': status, 'error.type': String(status), 'switchyard.routing.reason': 'refused' });
      if (requested) span.setAttribute('gen_ai.request.model', requested);
      if (status >= 500) span.setStatus({ code: this.api.SpanStatusCode.ERROR, message });
    }
    span.end();
  }

  private serverSpan(api: IngressApi, req: IncomingMessage, start: number, model: string | null): Api.Span {
    const { ROOT_CONTEXT, SpanKind, defaultTextMapGetter } = this.api;
    const parent = req.headers.traceparent ? this.propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter) : ROOT_CONTEXT;
    const path = req.url ? req.url.split('?')[0] : undefined;
    const operation = operationOf(api);
    return this.tracer.startSpan(
      model ? `${operation} ${model}` : operation,
      {
        kind: SpanKind.SERVER,
        startTime: start,
        attributes: { 'gen_ai.operation.name': operation, 'switchyard.api': api, 'http.request.method': req.method ?? 'POST', ...(path ? { 'url.path': path } : {}) },
      },
      parent,
    );
  }

  /** A CLIENT span for the exchange; returns the headers that carry its context upstream. */
  attemptStarted(watch: Watch, gen: Generation, ep: Endpoint, baseUrl: string): Record<string, string> | undefined {
    const parent = watch.span;
    if (!parent) return undefined;
    const { SpanKind, defaultTextMapSetter } = this.api;
    const ctx = this.api.trace.setSpan(this.api.ROOT_CONTEXT, parent);
    const retry = watch.lastEndpoint === ep;
    const operation = operationOf(gen.req.api);
    const span = this.tracer.startSpan(`${operation} ${ep.upstreamModel}`, { kind: SpanKind.CLIENT }, ctx);
    watch.attemptSpan = span;
    if (span.isRecording()) {
      const server = this.server(baseUrl);
      span.setAttributes({
        'gen_ai.operation.name': operation,
        'gen_ai.request.model': ep.upstreamModel,
        'gen_ai.provider.name': ep.provider.slug,
        'http.request.method': 'POST',
        'server.address': server.address,
        'server.port': server.port,
        'switchyard.model': ep.model.id,
        'switchyard.endpoint': ep.key,
        'switchyard.attempt.index': watch.attempts,
        'switchyard.routing.reason': retry ? 'another_key' : watch.attempts === 0 ? 'first_choice' : 'fallback',
      });
      if (gen.keyLabel) span.setAttribute('switchyard.provider_key', gen.keyLabel);
    }
    const carrier: Record<string, string> = {};
    this.propagator.inject(this.api.trace.setSpan(this.api.ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
    return carrier;
  }

  attemptFinished(watch: Watch, gen: Generation, ep: Endpoint, outcome: AttemptOutcome, status: number | null): void {
    const span = watch.attemptSpan;
    if (!span) return;
    watch.attemptSpan = null;
    if (span.isRecording()) {
      span.setAttribute('switchyard.attempt.outcome', outcome);
      if (status !== null) span.setAttribute('http.response.status_code', status);
      if (outcome === 'ok') {
        span.setAttributes(responseAttributes(gen, ep));
      } else if (outcome !== 'cancelled') {
        const last = gen.attempts[gen.attempts.length - 1];
        span.setAttribute('error.type', outcome);
        span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: last?.error ?? last?.reason ?? outcome });
      }
    }
    span.end();
  }

  requestFinished(watch: Watch, gen: Generation, record: GenerationRecord): void {
    const span = watch.span;
    if (!span) return;
    watch.span = null;
    if (watch.attemptSpan) {
      // An exchange the pipeline never reported finished (an exception): closed with the request.
      watch.attemptSpan.end();
      watch.attemptSpan = null;
    }
    if (span.isRecording()) {
      const served = gen.served;
      span.setAttributes({
        'gen_ai.response.id': gen.id,
        'http.response.status_code': record.status,
        'switchyard.cost_usd': record.cost,
        'switchyard.attempts': watch.attempts,
        'switchyard.stream': gen.req.stream,
        'switchyard.routing.reason': !served ? 'no_endpoint_answered' : served === gen.plan.candidates[0]?.endpoint ? 'first_choice' : 'fallback',
      });
      const route = routeOf(record);
      if (route) span.setAttribute('switchyard.route', route);
      if (record.apiKey) span.setAttribute('switchyard.key', record.apiKey);
      if (served) span.setAttributes(responseAttributes(gen, served));
      if (gen.cancelled) span.setAttribute('switchyard.cancelled', true);
      if (record.errorCode !== null && record.status !== 499) {
        span.setAttribute('error.type', String(record.errorCode));
        if (record.status >= 500) span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: record.errorMessage ?? undefined });
      }
      if (watch.output) span.setAttribute('gen_ai.output.messages', JSON.stringify(outputMessages(watch.output, gen.finishReason ?? gen.nativeFinishReason)));
    }
    span.end();
  }

  /** Wraps a stream encoder so that the answer's content is collected (content capture only). */
  streamEncoder(watch: Watch, encoder: StreamEncoder): StreamEncoder {
    return watch.output ? new CapturingEncoder(encoder, watch.output) : encoder;
  }

  completion(watch: Watch, completion: Completion): void {
    const out = watch.output;
    if (!out) return;
    out.text = completion.content ?? '';
    out.reasoning = completion.reasoning ?? '';
    out.refusal = completion.refusal ?? '';
    out.toolCalls.length = 0;
    for (const t of completion.toolCalls) out.toolCalls.push({ id: t.id, name: t.name, arguments: t.arguments });
  }

  private server(baseUrl: string): { address: string; port: number } {
    let s = this.servers.get(baseUrl);
    if (!s) {
      try {
        const u = new URL(baseUrl);
        s = { address: u.hostname, port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 };
      } catch {
        s = { address: baseUrl, port: 0 };
      }
      this.servers.set(baseUrl, s);
    }
    return s;
  }

  /** Exports what has ended so far (bounded: a dead collector does not hold the caller). */
  flush(timeoutMs = 5000): Promise<void> {
    return bounded(this.provider.forceFlush({ timeoutMillis: timeoutMs }), timeoutMs);
  }

  close(timeoutMs = 3000): Promise<void> {
    return bounded(this.provider.shutdown(), timeoutMs);
  }
}

function bounded(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([p.catch(() => undefined), deadline]).finally(() => clearTimeout(timer));
}

function samplerOf(sdk: typeof Sdk, s: TracingSettings): Sdk.Sampler {
  switch (s.sampler) {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return new sdk.TraceIdRatioBasedSampler(s.ratio);
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(s.ratio) });
    default:
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
  }
}

/**
 * The exporter, reporting a failed export once (a warning) until an export succeeds again, instead
 * of once per batch; the SDK itself reports nothing unless a diagnostic logger is installed.
 */
class WarnOnFailure implements Sdk.SpanExporter {
  private failing = false;

  constructor(
    private readonly inner: Sdk.SpanExporter,
    private readonly core: typeof Core,
    private readonly log: Logger,
    private readonly settings: TracingSettings,
  ) {}

  export(spans: Sdk.ReadableSpan[], done: (result: Core.ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== this.core.ExportResultCode.SUCCESS) {
        if (!this.failing) {
          this.failing = true;
          this.log.warn({ url: this.settings.url, err: result.error?.message }, 'exporting traces failed; spans are dropped until the collector answers');
        }
      } else if (this.failing) {
        this.failing = false;
        this.log.info({ url: this.settings.url }, 'exporting traces works again');
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** The model a request's span is named after: the catalog's, once routed. */
function modelOf(gen: Generation): string | null {
  return gen.plan.candidates[0]?.endpoint.model.id ?? null;
}

function requestAttributes(r: GenerationRequest, requested: string): Api.Attributes {
  const a: Api.Attributes = { 'gen_ai.request.model': requested };
  if (r.maxTokens !== undefined) a['gen_ai.request.max_tokens'] = r.maxTokens;
  if (r.temperature !== undefined) a['gen_ai.request.temperature'] = r.temperature;
  if (r.topP !== undefined) a['gen_ai.request.top_p'] = r.topP;
  if (r.topK !== undefined) a['gen_ai.request.top_k'] = r.topK;
  if (r.frequencyPenalty !== undefined) a['gen_ai.request.frequency_penalty'] = r.frequencyPenalty;
  if (r.presencePenalty !== undefined) a['gen_ai.request.presence_penalty'] = r.presencePenalty;
  if (r.seed !== undefined) a['gen_ai.request.seed'] = r.seed;
  if (r.stop && r.stop.length > 0) a['gen_ai.request.stop_sequences'] = r.stop;
  return a;
}

/** What the served endpoint answered: model, usage, finish reason, cost. */
function responseAttributes(gen: Generation, ep: Endpoint): Api.Attributes {
  const a: Api.Attributes = {
    'gen_ai.response.id': gen.id,
    'gen_ai.response.model': ep.model.id,
    'gen_ai.provider.name': ep.provider.slug,
    'switchyard.cost_usd': gen.cost.total,
  };
  const u = gen.usage;
  if (u) {
    a['gen_ai.usage.input_tokens'] = u.promptTokens;
    a['gen_ai.usage.output_tokens'] = u.completionTokens;
    if (u.cachedTokens > 0) a['gen_ai.usage.cache_read.input_tokens'] = u.cachedTokens;
    if (u.cacheWriteTokens > 0) a['gen_ai.usage.cache_creation.input_tokens'] = u.cacheWriteTokens;
    if (u.reasoningTokens > 0) a['switchyard.usage.reasoning_tokens'] = u.reasoningTokens;
    if (gen.estimatedUsage) a['switchyard.usage.estimated'] = true;
  }
  const finish = gen.finishReason ?? gen.nativeFinishReason;
  if (finish) a['gen_ai.response.finish_reasons'] = [finish];
  if (gen.upstreamId) a['switchyard.upstream.id'] = gen.upstreamId;
  return a;
}

/** `groq=429, novita=served`: the endpoints tried, in order, from the record. */
function routeOf(record: GenerationRecord): string {
  const parts: string[] = [];
  for (const a of record.attempts) {
    if (a.outcome === 'served') parts.push(`${a.endpoint}=served`);
    else if (a.outcome === 'failed' || a.outcome === undefined) parts.push(`${a.endpoint}=${a.status ?? 'error'}`);
  }
  return parts.join(', ');
}

type Part = Record<string, unknown>;

/** The conversation as `gen_ai.system_instructions` and `gen_ai.input.messages` (GenAI conventions' JSON). */
function inputMessages(messages: readonly Message[]): { system: Part[]; input: { role: string; parts: Part[]; name?: string }[] } {
  const system: Part[] = [];
  const input: { role: string; parts: Part[]; name?: string }[] = [];
  for (const m of messages) {
    const parts = m.content.map(partOf);
    if (m.role === 'system' && input.length === 0) system.push(...parts);
    else input.push(m.name ? { role: m.role, parts, name: m.name } : { role: m.role, parts });
  }
  return { system, input };
}

function partOf(p: ContentPart): Part {
  switch (p.type) {
    case 'text':
      return { type: 'text', content: p.text };
    case 'tool-call':
      return { type: 'tool_call', id: p.id, name: p.name, arguments: jsonOrText(p.arguments) };
    case 'tool-result':
      return { type: 'tool_call_response', id: p.callId, response: p.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('') };
    case 'reasoning':
      return { type: 'reasoning', content: p.text ?? p.summary ?? '' };
    case 'image':
      // Media by reference only: inline bytes are not exported.
      return p.source.kind === 'url' ? { type: 'uri', modality: 'image', uri: p.source.url } : { type: 'blob', modality: 'image', ...(p.source.kind === 'base64' ? { mime_type: p.source.mediaType } : {}) };
    case 'file':
      return p.source.kind === 'text' ? { type: 'text', content: p.source.text } : { type: 'file', modality: 'document', ...(p.filename ? { name: p.filename } : {}) };
    case 'audio':
      return { type: 'blob', modality: 'audio', mime_type: `audio/${p.format}` };
    case 'video':
      return { type: 'uri', modality: 'video', uri: p.url };
  }
}

function jsonOrText(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function outputMessages(out: OutputCapture, finish: string | null): { role: string; parts: Part[]; finish_reason: string }[] {
  const parts: Part[] = [];
  if (out.reasoning) parts.push({ type: 'reasoning', content: out.reasoning });
  if (out.text) parts.push({ type: 'text', content: out.text });
  if (out.refusal) parts.push({ type: 'refusal', content: out.refusal });
  for (const t of out.toolCalls) if (t) parts.push({ type: 'tool_call', id: t.id, name: t.name, arguments: jsonOrText(t.arguments) });
  return [{ role: 'assistant', parts, finish_reason: finish ?? 'unknown' }];
}

/** A stream encoder that also collects the answer's content (only when content capture is on). */
class CapturingEncoder implements StreamEncoder {
  constructor(
    private readonly inner: StreamEncoder,
    private readonly out: OutputCapture,
  ) {
    // A new attempt's stream replaces whatever an earlier one had held back.
    out.text = out.reasoning = out.refusal = '';
    out.toolCalls.length = 0;
  }

  start(): string {
    return this.inner.start();
  }

  encode(chunk: UpstreamChunk): string {
    const c = chunk.choice;
    if (c) {
      const out = this.out;
      if (c.content) out.text += c.content;
      if (c.reasoning) out.reasoning += c.reasoning;
      if (c.refusal) out.refusal += c.refusal;
      if (c.toolCalls) {
        for (const t of c.toolCalls) {
          const call = (out.toolCalls[t.index] ??= { id: '', name: '', arguments: '' });
          if (t.id) call.id = t.id;
          if (t.name) call.name = t.name;
          if (t.arguments) call.arguments += t.arguments;
        }
      }
    }
    return this.inner.encode(chunk);
  }

  get finished(): boolean {
    return this.inner.finished;
  }

  get finishReason(): string | null {
    return this.inner.finishReason;
  }

  get nativeFinish(): string | null {
    return this.inner.nativeFinish;
  }

  syntheticFinish(): string {
    return this.inner.syntheticFinish();
  }

  end(...args: Parameters<StreamEncoder['end']>): string {
    return this.inner.end(...args);
  }

  fail(...args: Parameters<StreamEncoder['fail']>): string {
    return this.inner.fail(...args);
  }
}
