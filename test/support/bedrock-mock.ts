/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from recordings and requests */
/**
 * A mock Amazon Bedrock runtime on loopback that checks what Bedrock checks before it answers: a
 * valid SigV4 signature (recomputed with AWS's own signer from the test's secret, over the request
 * exactly as received: path, signed headers, body), scoped to the region of the key's account, or a
 * known Bedrock API key; the route
 * (`/model/{id}/invoke|invoke-with-response-stream|converse|converse-stream`); and the body's shape
 * (InvokeModel: `anthropic_version`, no `model` or `stream`). Refusals come in Bedrock's shape
 * (`x-amzn-ErrorType` header, `{"message"}` body). Answers are replayed from recordings
 * (test/fixtures/cassettes/upstream/TestBedrock*), streamed bodies cut at arbitrary byte offsets
 * so that frames straddle reads.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec, getChunkedStream, type MessageHeaders } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { loadCassette, parseSse, type RecordedResponse } from './cassettes.js';
import { startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './mock-upstream.js';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** One event-stream frame, encoded by AWS's codec. */
export function encodeFrame(headers: Record<string, string>, payload: string): Buffer {
  const typed: MessageHeaders = {};
  for (const [k, v] of Object.entries(headers)) typed[k] = { type: 'string', value: v };
  return Buffer.from(codec.encode({ headers: typed, body: fromUtf8(payload) }));
}

/** An ordinary event frame (`chunk`, `contentBlockDelta`, …) with a JSON payload. */
export const eventFrame = (type: string, payload: unknown): Buffer =>
  encodeFrame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify(payload));

/** An in-stream exception frame (`modelStreamErrorException`, `throttlingException`, …). */
export const exceptionFrame = (type: string, message: string): Buffer =>
  encodeFrame({ ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }, JSON.stringify({ message }));

/** InvokeModel's framing of one Anthropic event: a `chunk` whose `bytes` are the event's JSON, base64. */
export const anthropicChunkFrame = (event: string): Buffer => eventFrame('chunk', { bytes: Buffer.from(event, 'utf8').toString('base64') });

/** The whole frames of a recorded event stream, split by AWS's own chunker. */
export async function framesOf(bytes: Buffer): Promise<Buffer[]> {
  const out: Buffer[] = [];
  async function* source() {
    yield new Uint8Array(bytes);
  }
  for await (const f of getChunkedStream(source())) out.push(Buffer.from(f));
  return out;
}

/** Bytes cut into pieces of `size`, whatever the frame boundaries (as a network delivers them). */
export function cut(bytes: Buffer, size = 97): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

export const BEDROCK_STREAM_TYPE = 'application/vnd.amazon.eventstream';

/** A recorded Bedrock answer as a reply: JSON as it is, an event stream as its bytes, cut. */
export function replyFromBedrockRecording(resp: RecordedResponse): MockReply {
  if (resp.bodyBytes) return { status: resp.code, headers: { 'content-type': BEDROCK_STREAM_TYPE }, sse: cut(resp.bodyBytes) };
  return { status: resp.code, headers: { 'content-type': 'application/json' }, raw: resp.body };
}

/** A recorded Anthropic SSE stream (its events' JSON) re-framed as InvokeModelWithResponseStream sends it. */
export function reframeAnthropicSse(resp: RecordedResponse): MockReply {
  const frames = parseSse(resp.body).events.map(anthropicChunkFrame);
  return { status: 200, headers: { 'content-type': BEDROCK_STREAM_TYPE }, sse: cut(Buffer.concat(frames)) };
}

/** Bedrock's error answer. */
export function bedrockError(status: number, type: string, message: string): MockReply {
  return { status, headers: { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` }, json: { message } };
}

export const THROTTLED = bedrockError(429, 'ThrottlingException', 'Too many requests, please wait before trying again.');

/** A recorded interaction's answer, by cassette path under upstream/ and index. */
export function recordedBedrock(path: string, index = 0): { url: string; body: any; response: RecordedResponse } {
  const it = loadCassette(`upstream/${path}.yaml`)[index];
  return { url: it.request.url, body: JSON.parse(it.request.body), response: it.response };
}

export interface BedrockRequest extends ReceivedRequest {
  modelId: string;
  action: 'invoke' | 'invoke-with-response-stream' | 'converse' | 'converse-stream';
  /** How the request was authorised: the access key id that signed it, or `bearer`. */
  principal: string;
  /** The region the signature was scoped to (checked against the key's account); absent for an API key. */
  region?: string;
}

export interface MockBedrock {
  url: string;
  mock: MockUpstream;
  /** Requests that passed the checks, in order. */
  accepted: BedrockRequest[];
  /** The answer to the next accepted request(s); a function sees the request. */
  answer(handler: (r: BedrockRequest) => MockReply): void;
  close(): Promise<void>;
}

const INVALID_SIGNATURE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
/** The keys Bedrock's schema for Claude's InvokeModel body allows (it refuses any other). */
const INVOKE_FIELDS = new Set(['anthropic_version', 'anthropic_beta', 'max_tokens', 'system', 'messages', 'temperature', 'top_p', 'top_k', 'stop_sequences', 'tools', 'tool_choice', 'thinking', 'output_config']);
const CONVERSE_FIELDS = new Set(['messages', 'system', 'inferenceConfig', 'toolConfig', 'guardrailConfig', 'additionalModelRequestFields', 'additionalModelResponseFieldPaths', 'promptVariables', 'requestMetadata', 'performanceConfig']);

function header(r: ReceivedRequest, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `20261207T043000Z` -> Date. */
function amzDate(v: string): Date {
  return new Date(`${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}T${v.slice(9, 11)}:${v.slice(11, 13)}:${v.slice(13, 15)}Z`);
}

/** Recomputes the request's signature with the holder's secret; null when it holds, else Bedrock's refusal. */
async function checkSignature(r: ReceivedRequest, secrets: Record<string, string>, regionOf: (keyId: string) => string): Promise<{ refusal: MockReply } | { principal: string; region: string }> {
  const auth = header(r, 'authorization') ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { refusal: bedrockError(403, 'IncompleteSignatureException', 'Authorization header requires Credential, SignedHeaders and Signature.') };
  const [, keyId, , scopeRegion, service, signedHeaders] = m;
  const secret = secrets[keyId];
  if (secret === undefined) return { refusal: bedrockError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.') };
  const region = regionOf(keyId);
  if (scopeRegion !== region || service !== 'bedrock') {
    return { refusal: bedrockError(403, 'InvalidSignatureException', `Credential should be scoped to a valid region and to the service bedrock, not '${scopeRegion}/${service}'.`) };
  }
  const date = header(r, 'x-amz-date') ?? '';
  if (Math.abs(amzDate(date).getTime() - Date.now()) > 5 * 60_000) return { refusal: bedrockError(403, 'InvalidSignatureException', 'Signature expired.') };
  const headers: Record<string, string> = {};
  // The payload hash is recomputed from the body received, never taken from the client's header.
  for (const name of signedHeaders.split(';')) if (name !== 'x-amz-content-sha256') headers[name] = header(r, name) ?? '';
  const host = headers.host ?? '';
  const signer = new SignatureV4({ credentials: { accessKeyId: keyId, secretAccessKey: secret, sessionToken: header(r, 'x-amz-security-token') }, region, service: 'bedrock', sha256: Sha256 });
  const expected = await signer.sign({ method: r.method, protocol: 'http:', hostname: host.split(':')[0], path: r.path.split('?')[0], query: {}, headers, body: r.body }, { signingDate: amzDate(date) });
  if (expected.headers.authorization !== auth) return { refusal: bedrockError(403, 'InvalidSignatureException', INVALID_SIGNATURE) };
  return { principal: keyId, region };
}

/** The body checks Bedrock makes before a model sees the request. */
function checkBody(r: BedrockRequest): MockReply | null {
  const body = r.json;
  if (!body || typeof body !== 'object') return bedrockError(400, 'ValidationException', 'Malformed input request, please reformat your input and try again.');
  if (r.action === 'invoke' && /(^|\.)amazon\.titan-embed/.test(r.modelId)) {
    // Titan Text Embeddings: one inputText; Bedrock refuses any other key.
    for (const k of Object.keys(body)) {
      if (!['inputText', 'dimensions', 'normalize', 'embeddingTypes'].includes(k)) return bedrockError(400, 'ValidationException', `Malformed input request: #: extraneous key [${k}] is not permitted, please reformat your input and try again.`);
    }
    return typeof body.inputText === 'string' ? null : bedrockError(400, 'ValidationException', 'Malformed input request: #: required key [inputText] not found, please reformat your input and try again.');
  }
  if (r.action === 'invoke' && /(^|\.)cohere\.embed/.test(r.modelId)) {
    if (!Array.isArray(body.texts) || body.texts.length > 96) return bedrockError(400, 'ValidationException', 'Malformed input request: #/texts: expected maximum item count: 96, please reformat your input and try again.');
    return typeof body.input_type === 'string' ? null : bedrockError(400, 'ValidationException', 'Malformed input request: #: required key [input_type] not found, please reformat your input and try again.');
  }
  if (r.action.startsWith('invoke')) {
    if (body.anthropic_version !== 'bedrock-2023-05-31') return bedrockError(400, 'ValidationException', 'Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.');
    for (const k of Object.keys(body)) {
      if (!INVOKE_FIELDS.has(k)) return bedrockError(400, 'ValidationException', `Malformed input request: #: extraneous key [${k}] is not permitted, please reformat your input and try again.`);
    }
    if (!Array.isArray(body.messages) || typeof body.max_tokens !== 'number') return bedrockError(400, 'ValidationException', 'Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again.');
    return null;
  }
  for (const k of Object.keys(body)) if (!CONVERSE_FIELDS.has(k)) return bedrockError(400, 'ValidationException', `1 validation error detected: unknown field ${k}`);
  if (!Array.isArray(body.messages) || body.messages.length === 0 || body.messages[0].role !== 'user') return bedrockError(400, 'ValidationException', 'A conversation must start with a user message.');
  return null;
}

/**
 * `region`: the region every account is in, unless `keyRegions` names another for an access key
 * id (a pool of accounts in several regions); a signature scoped to any other region is refused.
 */
export async function startMockBedrock(opts: { region: string; accessKeys?: Record<string, string>; keyRegions?: Record<string, string>; bearerTokens?: string[] }): Promise<MockBedrock> {
  const mock = await startMockUpstream();
  const accepted: BedrockRequest[] = [];
  let handler: ((r: BedrockRequest) => MockReply) | null = null;
  mock.onRequest(async (r) => {
    const route = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|converse|converse-stream)$/.exec(r.path);
    let principal: string;
    let region: string | undefined;
    const auth = header(r, 'authorization') ?? '';
    if (auth.startsWith('Bearer ')) {
      if (!(opts.bearerTokens ?? []).includes(auth.slice(7))) return bedrockError(403, 'UnrecognizedClientException', 'Authentication failed: Please make sure your API Key is valid.');
      principal = 'bearer';
    } else {
      const checked = await checkSignature(r, opts.accessKeys ?? {}, (keyId) => opts.keyRegions?.[keyId] ?? opts.region);
      if ('refusal' in checked) return checked.refusal;
      ({ principal, region } = checked);
    }
    if (!route) return bedrockError(404, 'UnknownOperationException', `no such operation: ${r.path}`);
    const req: BedrockRequest = { ...r, modelId: decodeURIComponent(route[1]), action: route[2] as BedrockRequest['action'], principal, ...(region ? { region } : {}) };
    const invalid = checkBody(req);
    if (invalid) return invalid;
    accepted.push(req);
    return handler ? handler(req) : bedrockError(500, 'InternalServerException', 'mock Bedrock: no answer set');
  });
  return {
    url: mock.url,
    mock,
    accepted,
    answer(h) {
      handler = h;
    },
    close: () => mock.close(),
  };
}
