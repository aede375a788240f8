/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Fault tests: every failure an upstream can produce, on real loopback HTTP. Fallback must be
 * invisible before the first content byte; after it, the stream ends with OpenRouter's error chunk.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { postChat, readSse, rngPicking, startGateway, type Gateway } from './support/gateway.js';
import { fetchGeneration as generation } from './support/requests.js';

const MODEL = 'moonshotai/kimi-k2-0905';
const REQUEST = { model: MODEL, stream: true, messages: [{ role: 'user', content: 'Say hi' }] };

function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}
const usageChunk = (p: number, c: number) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c } })}\n\n`;
const okStream = (text: string) => [
  chunk({ role: 'assistant', content: '' }),
  ...text.split(' ').map((w, i) => chunk({ content: i ? ` ${w}` : w })),
  chunk({}, 'stop'),
  usageChunk(10, 3),
  'data: [DONE]\n\n',
];
const completion = (text: string) => chatCompletion(text, { prompt_tokens: 10, completion_tokens: 2 });

async function closedPortUrl(): Promise<string> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}

function contentOf(events: string[]): string {
  return events
    .filter((e) => e !== '[DONE]')
    .map((e) => JSON.parse(e).choices?.[0]?.delta?.content ?? '')
    .join('');
}


describe('upstream faults', () => {
  let groq: MockUpstream;
  let novita: MockUpstream;
  let gw: Gateway;
  let configDir: string;

  before(async () => {
    groq = await startMockUpstream();
    novita = await startMockUpstream();
    configDir = mkdtempSync(join(tmpdir(), 'switchyard-cfg-'));
    const configFile = join(configDir, 'switchyard.yaml');
    writeFileSync(configFile, 'routing:\n  timeouts:\n    first_byte_ms: 400\n    idle_ms: 600\n');
    gw = await startGateway({ providers: { groq: groq.baseUrl, novita: novita.baseUrl }, configFile, keepaliveMs: 100 });
  });
  after(async () => {
    await gw.close();
    await groq.close();
    await novita.close();
  });

  const groqFirst = () => {
    gw.app.rng = rngPicking(gw.app, MODEL, 'groq');
    // A fresh health view per test: earlier failures would otherwise reorder providers.
    (gw.app as any).health = new (gw.app.health.constructor as any)(30_000);
  };

  it('connection refused: falls back to the next provider', async () => {
    const refused = await closedPortUrl();
    gw.app.settings.providers.get('groq')!.baseUrl = refused.replace(/\/v1$/, '/v1');
    try {
      groqFirst();
      novita.enqueue({ sse: okStream('Hello there') });
      const res = await postChat(gw, REQUEST);
      const got = await readSse(res);
      assert.equal(res.status, 200);
      assert.equal(contentOf(got.events), 'Hello there');
      assert.equal(JSON.parse(got.events[0]).provider, 'Novita');
      const rec = await generation(gw, res.headers.get('x-generation-id')!);
      assert.deepEqual(rec.provider_responses.map((p: any) => [p.provider_name, p.status]), [['Groq', null], ['Novita', 200]]);
    } finally {
      gw.app.settings.providers.get('groq')!.baseUrl = groq.baseUrl;
    }
  });

  it('500 from the first provider: falls back; the client sees only the second answer', async () => {
    groqFirst();
    groq.enqueue({ status: 500, json: { error: { message: 'boom' } } });
    novita.enqueue({ sse: okStream('From Novita') });
    const res = await postChat(gw, REQUEST);
    const got = await readSse(res);
    assert.equal(contentOf(got.events), 'From Novita');
    const rec = await generation(gw, res.headers.get('x-generation-id')!);
    assert.deepEqual(rec.provider_responses.map((p: any) => [p.provider_name, p.status]), [['Groq', 500], ['Novita', 200]]);
  });

  it('reset before any content: invisible fallback', async () => {
    groqFirst();
    groq.enqueue({ fault: 'reset-mid-stream', sse: [chunk({ role: 'assistant', content: '' })], afterEvents: 1 });
    novita.enqueue({ sse: okStream('Recovered fine') });
    const groqBefore = groq.requests.length;
    const res = await postChat(gw, REQUEST);
    const got = await readSse(res);
    assert.equal(res.status, 200);
    assert.equal(contentOf(got.events), 'Recovered fine');
    assert.ok(got.events.every((e) => e === '[DONE]' || JSON.parse(e).provider === 'Novita'), 'nothing from the failed attempt leaked');
    assert.ok(!got.raw.includes('"error"'));
    assert.equal(groq.requests.length, groqBefore + 1, 'Groq was tried first');
  });

  it('reset after content: mid-stream error chunk with finish_reason error, then [DONE]', async () => {
    groqFirst();
    groq.enqueue({ fault: 'reset-mid-stream', sse: [chunk({ role: 'assistant', content: 'Partial' }), chunk({ content: ' answer' })], afterEvents: 2 });
    const novitaBefore = novita.requests.length;
    const res = await postChat(gw, REQUEST);
    const got = await readSse(res);
    assert.equal(res.status, 200);
    assert.equal(got.events.at(-1), '[DONE]');
    const last = JSON.parse(got.events.at(-2)!);
    assert.equal(last.error.code, 502);
    assert.equal(last.choices[0].finish_reason, 'error');
    assert.equal(last.provider, 'Groq');
    assert.equal(contentOf(got.events.slice(0, -2)), 'Partial answer');
    assert.equal(novita.requests.length, novitaBefore, 'no fallback after content');
    const rec = await generation(gw, res.headers.get('x-generation-id')!);
    assert.equal(rec.status, 502);
    assert.equal(rec.provider_name, 'Groq');
    assert.ok(rec.tokens_completion > 0, 'partial usage recorded');
  });

  it('a UTF-8 character cut between upstream reads arrives whole', async () => {
    groqFirst();
    const text = 'Olá 👋 — pão de açúcar';
    const bytes = Buffer.from(okStream(text).join(''));
    // Cut inside the emoji (4 bytes), then inside 'ç' (2 bytes), then on a boundary: three reads.
    const emoji = bytes.indexOf(Buffer.from('👋'));
    const cedilla = bytes.indexOf(Buffer.from('ç'));
    const cuts = [emoji + 1, cedilla + 1, bytes.indexOf(Buffer.from('data: [DONE]'))];
    const pieces = [0, ...cuts].map((from, i) => bytes.subarray(from, [...cuts, bytes.length][i]));
    assert.equal(Buffer.concat(pieces).toString(), bytes.toString());
    groq.enqueue({ sse: pieces, chunkDelayMs: 40 });
    const res = await postChat(gw, REQUEST);
    const got = await readSse(res);
    assert.equal(contentOf(got.events), text);
    assert.doesNotMatch(got.events.join(''), /\uFFFD/);
  });

  it('slow first byte beyond the timeout: falls back', async () => {
    groqFirst();
    groq.enqueue({ sse: okStream('too late'), firstByteDelayMs: 1500 });
    novita.enqueue({ sse: okStream('On time') });
    const groqBefore = groq.requests.length;
    const started = Date.now();
    const res = await postChat(gw, REQUEST);
    const got = await readSse(res);
    assert.equal(contentOf(got.events), 'On time');
    const waited = Date.now() - started;
    assert.ok(waited >= 400 && waited < 1400, `gave up on the slow provider after its 400 ms first-byte timeout (${waited} ms)`);
    assert.equal(groq.requests.length, groqBefore + 1, 'Groq was tried first');
    await generation(gw, res.headers.get('x-generation-id')!);
    const groqAttempt = (await gw.app.store.get(res.headers.get('x-generation-id')!))!.attempts.find((a) => a.endpoint === 'groq')!;
    assert.deepEqual([groqAttempt.status, groqAttempt.error], [null, 'upstream did not respond in time (first-byte timeout)']);
  });

  it('stall between chunks before content: falls back within the idle timeout', async () => {
    groqFirst();
    groq.enqueue({ sse: [chunk({ role: 'assistant', content: '' }), chunk({ content: 'late' })], chunkDelayMs: 2000 });
    novita.enqueue({ sse: okStream('Not stalled') });
    const res = await postChat(gw, REQUEST);
    const got = await readSse(res);
    assert.equal(contentOf(got.events), 'Not stalled');
    assert.ok(got.comments >= 1, 'keep-alive comments were sent while waiting');
    await generation(gw, res.headers.get('x-generation-id')!);
    const groqAttempt = (await gw.app.store.get(res.headers.get('x-generation-id')!))!.attempts.find((a) => a.endpoint === 'groq')!;
    assert.deepEqual([groqAttempt.status, groqAttempt.error], [200, 'upstream stalled between chunks (idle timeout)']);
  });

  it('every provider fails with 429: the client gets 429, OpenRouter body and Retry-After', async () => {
    groqFirst();
    groq.enqueue({ status: 429, headers: { 'retry-after': '7' }, json: { error: { message: 'slow down (groq)' } } });
    novita.enqueue({ status: 429, headers: { 'retry-after': '3' }, json: { error: { message: 'slow down (novita)' } } });
    const res = await postChat(gw, REQUEST);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '3');
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 429);
    assert.equal(body.error.message, 'Provider returned error');
    assert.equal(body.error.metadata.raw, 'slow down (novita)');
    assert.equal(body.error.metadata.provider_name, 'Novita');
    assert.equal(body.error.metadata.previous_errors[0].provider, 'Groq');
  });

  it('every provider fails with 5xx: 502 with the upstream message in metadata.raw', async () => {
    groqFirst();
    groq.enqueue({ status: 503, json: { error: { message: 'overloaded' } } });
    novita.enqueue({ status: 500, raw: 'internal error' });
    const res = await postChat(gw, { ...REQUEST, stream: false });
    assert.equal(res.status, 502);
    // An error answer still names its generation and explains the attempts that failed.
    assert.equal(res.headers.get('x-switchyard-route'), 'groq=503, novita=500');
    const body = (await res.json()) as any;
    assert.equal((await generation(gw, res.headers.get('x-generation-id')!)).status, 502);
    assert.equal(body.error.metadata.raw, 'internal error');
    assert.equal(body.error.metadata.provider_name, 'Novita');
  });

  it('an upstream 400 is not retried elsewhere and keeps its status', async () => {
    groqFirst();
    const novitaBefore = novita.requests.length;
    groq.enqueue({ status: 400, json: { error: { message: 'messages[0].content is too long' } } });
    const res = await postChat(gw, REQUEST);
    assert.equal(res.status, 400);
    const body = (await res.json()) as any;
    assert.equal(body.error.metadata.raw, 'messages[0].content is too long');
    assert.equal(novita.requests.length, novitaBefore);
  });

  it('recently failing providers are tried last', async () => {
    groqFirst();
    groq.enqueue({ status: 500, json: { error: { message: 'down' } } });
    novita.enqueue({ sse: okStream('one') }, { sse: okStream('two') });
    await readSse(await postChat(gw, REQUEST));
    const groqBefore = groq.requests.length;
    const got = await readSse(await postChat(gw, REQUEST)); // rng still prefers Groq, health does not
    assert.equal(contentOf(got.events), 'two');
    assert.equal(groq.requests.length, groqBefore, 'Groq skipped while degraded');
  });

  it('client disconnect mid-stream: upstream aborted, record written as cancelled with partial usage', async () => {
    groqFirst();
    const events = [chunk({ role: 'assistant', content: 'First' }), ...Array.from({ length: 20 }, (_, i) => chunk({ content: ` w${i}` })), chunk({}, 'stop'), 'data: [DONE]\n\n'];
    groq.enqueue({ sse: events, chunkDelayMs: 100 });
    const abortedBefore = groq.aborted;
    const res = await postChat(gw, REQUEST);
    const id = res.headers.get('x-generation-id')!;
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('First')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    for (let i = 0; i < 50 && groq.aborted === abortedBefore; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(groq.aborted, abortedBefore + 1, 'the upstream request was aborted');
    const rec = await generation(gw, id);
    assert.equal(rec.cancelled, true);
    assert.equal(rec.provider_name, 'Groq');
    assert.ok(rec.tokens_prompt > 0 && rec.tokens_completion > 0, 'partial usage estimated');
    assert.ok(rec.total_cost > 0);
  });

  it('non-streaming: slow upstream body gets whitespace keep-alive, then valid JSON', async () => {
    groqFirst();
    const json = JSON.stringify(completion('Slow but fine'));
    groq.enqueue({ headers: { 'content-type': 'application/json' }, sse: [json.slice(0, 20), json.slice(20)], chunkDelayMs: 450 });
    const res = await postChat(gw, { ...REQUEST, stream: false });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-route'), 'groq=serving');
    const raw = await res.text();
    assert.match(raw, /^(\n {9}\n)+\{/, 'leading whitespace units');
    const body = JSON.parse(raw);
    assert.equal(res.headers.get('x-generation-id'), body.id);
    assert.equal(body.choices[0].message.content, 'Slow but fine');
    assert.equal(body.provider, 'Groq');
  });

  it('non-streaming: after whitespace went out, a broken answer is replaced by the next provider', async () => {
    groqFirst();
    groq.enqueue({ headers: { 'content-type': 'application/json' }, sse: ['{"id":', 'not json at all'], chunkDelayMs: 450 });
    novita.enqueue({ json: completion('Second provider') });
    const res = await postChat(gw, { ...REQUEST, stream: false });
    assert.equal(res.status, 200);
    const raw = await res.text();
    assert.match(raw, /^(\n {9}\n)+\{/);
    const body = JSON.parse(raw);
    assert.equal(body.choices[0].message.content, 'Second provider');
    assert.equal(body.provider, 'Novita');
  });

  it('non-streaming: a failure after whitespace was committed is a 200 body with a top-level error', async () => {
    groqFirst();
    groq.enqueue({ headers: { 'content-type': 'application/json' }, sse: ['{"id":', 'not json at all'], chunkDelayMs: 450 });
    novita.enqueue({ status: 503, json: { error: { message: 'also down' } } });
    const res = await postChat(gw, { ...REQUEST, stream: false });
    assert.equal(res.status, 200);
    const body = JSON.parse(await res.text());
    assert.equal(body.error.code, 502);
    assert.equal(body.error.metadata.provider_name, 'Novita');
  });
});
