/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * The demo's lenient matching (issue 18): a newcomer's variation of a README request is answered
 * from the closest recording of the same conversation. A streamed recording answers a non-streamed
 * request as one completion (and a non-streamed recording a streamed one), fields that do not change
 * the conversation do not prevent a match, the same conversation sent through the Messages or
 * Responses door is answered too, and `X-Switchyard-Recording` names the recording that answered.
 * Strict replay (`providers.<slug>.replay`) keeps exact matching and its diagnostics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadSettings, DEMO_CASSETTES_DIR } from '../src/config/load.js';
import { createApp, type App } from '../src/app.js';
import { startServer } from '../src/http/server.js';
import { ReplayStore } from '../src/upstream/replay/store.js';
import { fixturePath, loadCassette, parseSse, type Interaction } from './support/cassettes.js';
import { readSse, rngPicking } from './support/gateway.js';

const MODEL = 'moonshotai/kimi-k2-0905';

/** The README's curl request (demo mode answers it from the Groq recording). */
const README = {
  model: MODEL,
  stream: true,
  max_tokens: 4000,
  messages: [
    { role: 'system', content: 'You are a helpful assistant' },
    { role: 'user', content: 'Say hi in Portuguese' },
  ],
  provider: { only: ['groq'] },
};

/** What a client reads from a recorded OpenRouter stream: text, tool calls, finish reason, usage. */
function recordedAnswer(rec: Interaction): { text: string; calls: { id: string; name: string; arguments: string }[]; finish: string | null; usage: any } {
  let text = '';
  let finish: string | null = null;
  let usage: any = null;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const e of parseSse(rec.response.body).events) {
    if (e === '[DONE]') continue;
    const j = JSON.parse(e);
    if (j.usage) usage = j.usage;
    const c = j.choices?.[0];
    if (!c) continue;
    if (typeof c.delta?.content === 'string') text += c.delta.content;
    for (const t of c.delta?.tool_calls ?? []) {
      const call = (calls[t.index] ??= { id: '', name: '', arguments: '' });
      if (!call.id && t.id) call.id = t.id;
      if (!call.name && t.function?.name) call.name = t.function.name;
      call.arguments += t.function?.arguments ?? '';
    }
    if (c.finish_reason && !j.usage) finish = c.finish_reason;
  }
  return { text, calls, finish, usage };
}

describe('demo mode: lenient matching', () => {
  let app: App;
  let shutdown: () => Promise<void>;
  let base: string;
  let dataDir: string;
  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
    const settings = loadSettings({ env: { SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_REPLAY_PACE: 'fast' }, port: 0, demo: true, cwd: dataDir });
    app = createApp(settings, { logger: pino({ level: 'silent' }) });
    const server = await startServer(app);
    base = `${server.url}/api/v1`;
    shutdown = () => server.shutdown();
  });
  after(async () => {
    await shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const [groq] = loadCassette('seeds/simple_streaming_only_groq.yaml');
  const [baseten] = loadCassette('seeds/simple_streaming.yaml');

  it('the README request: the Groq recording answers, and X-Switchyard-Recording names it', async () => {
    const res = await post('/chat/completions', README);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-recording'), 'simple_streaming_only_groq#0');
    const chunks = (await readSse(res)).events.slice(0, -1).map((e) => JSON.parse(e));
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), recordedAnswer(groq).text);
    assert.equal(chunks[0].provider, 'Groq');
  });

  it('"stream": false is answered from the streamed recording as one completion', async () => {
    const res = await post('/chat/completions', { ...README, stream: false });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('x-switchyard-recording'), 'simple_streaming_only_groq#0');
    const body = (await res.json()) as any;
    const want = recordedAnswer(groq);
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.provider, 'Groq');
    assert.equal(body.choices[0].message.content, want.text);
    assert.equal(body.choices[0].finish_reason, 'stop');
    assert.equal(body.usage.prompt_tokens, want.usage.prompt_tokens);
    assert.equal(body.usage.completion_tokens, want.usage.completion_tokens);
  });

  it('fields that do not change the conversation do not prevent a match', async () => {
    const variations: Record<string, unknown>[] = [
      { temperature: 0.2 },
      { max_tokens: 50 },
      { user: 'newcomer-1' },
      { top_p: 0.9, seed: 7, metadata: { try: '1' } },
      { max_tokens: undefined, stream_options: { include_usage: true }, usage: { include: true } },
      { stream: false, temperature: 1, frequency_penalty: 0.5, presence_penalty: 0.1, stop: ['\n\n'] },
    ];
    for (const v of variations) {
      const res = await post('/chat/completions', { ...README, ...v });
      assert.equal(res.status, 200, JSON.stringify(v));
      assert.equal(res.headers.get('x-switchyard-recording'), 'simple_streaming_only_groq#0', JSON.stringify(v));
      await res.arrayBuffer();
    }
  });

  it('without "provider", the closest recording (BaseTen, recorded without one) answers; the others decline', async () => {
    app.rng = rngPicking(app, MODEL, 'groq');
    try {
      const res = await post('/chat/completions', { ...README, provider: undefined, stream: false, temperature: 0.5 });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-switchyard-recording'), 'simple_streaming#0');
      assert.match(res.headers.get('x-switchyard-route') ?? '', /^groq=404, .*baseten=serving$/);
      const body = (await res.json()) as any;
      assert.equal(body.provider, 'BaseTen');
      assert.equal(body.choices[0].message.content, recordedAnswer(baseten).text);
    } finally {
      app.rng = Math.random;
    }
  });

  it('a streamed tool loop answers non-streamed turns: the tool call, then the answer to its result', async () => {
    const [turn1, turn2] = loadCassette('seeds/tool_streaming_weather.yaml');
    const res1 = await post('/chat/completions', { ...JSON.parse(turn1.request.body), stream: false, temperature: 0 });
    assert.equal(res1.status, 200);
    assert.equal(res1.headers.get('x-switchyard-recording'), 'tool_streaming_weather#0');
    const body1 = (await res1.json()) as any;
    const want1 = recordedAnswer(turn1);
    assert.equal(body1.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(
      body1.choices[0].message.tool_calls.map((t: any) => ({ id: t.id, name: t.function.name, arguments: t.function.arguments })),
      want1.calls,
    );

    // Turn two as a client writes it from that answer (its own key order, content as text parts).
    const recorded2 = JSON.parse(turn2.request.body);
    const messages = [
      ...recorded2.messages.slice(0, 2),
      { role: 'assistant', content: [{ type: 'text', text: body1.choices[0].message.content }], tool_calls: body1.choices[0].message.tool_calls },
      { role: 'tool', tool_call_id: body1.choices[0].message.tool_calls[0].id, content: '40 C' },
    ];
    const res2 = await post('/chat/completions', { model: MODEL, messages, tools: recorded2.tools });
    assert.equal(res2.status, 200);
    assert.equal(res2.headers.get('x-switchyard-recording'), 'tool_streaming_weather#1');
    assert.equal(((await res2.json()) as any).choices[0].message.content, recordedAnswer(turn2).text);
  });

  it('a recorded 429 and its retry still answer in order, for a variation too', async () => {
    const [, ok] = loadCassette('seeds/simple_streaming_only_wandb_429_then_ok.yaml');
    const body = { ...README, provider: { only: ['wandb'] }, stream: false, user: 'someone' };
    const first = await post('/chat/completions', body);
    assert.equal(first.status, 429);
    await first.arrayBuffer();
    const second = await post('/chat/completions', body);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-switchyard-recording'), 'simple_streaming_only_wandb_429_then_ok#1');
    assert.equal(((await second.json()) as any).choices[0].message.content, recordedAnswer(ok).text);
  });

  it('the same conversation through the Messages door', async () => {
    const messages = {
      model: MODEL,
      max_tokens: 1024,
      system: 'You are a helpful assistant',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hi in Portuguese' }] }],
      provider: { only: ['groq'] },
    };
    const res = await post('/messages', messages);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-recording'), 'simple_streaming_only_groq#0');
    const body = (await res.json()) as any;
    assert.equal(body.type, 'message');
    assert.equal(body.content[0].text, recordedAnswer(groq).text);

    const streamed = await post('/messages', { ...messages, stream: true });
    assert.equal(streamed.status, 200);
    assert.equal(streamed.headers.get('x-switchyard-recording'), 'simple_streaming_only_groq#0');
    const text = parseSse(await streamed.text())
      .events.map((e) => JSON.parse(e))
      .filter((e) => e.type === 'content_block_delta')
      .map((e) => e.delta.text)
      .join('');
    assert.equal(text, recordedAnswer(groq).text);
  });

  it('a tool loop through the Messages door', async () => {
    const [turn1] = loadCassette('seeds/tool_streaming_weather.yaml');
    const chat = JSON.parse(turn1.request.body);
    const res = await post('/messages', {
      model: MODEL,
      max_tokens: 4000,
      system: chat.messages[0].content,
      messages: [{ role: 'user', content: chat.messages[1].content }],
      tools: chat.tools.map((t: any) => ({ name: t.function.name, description: t.function.description, input_schema: t.function.parameters })),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-recording'), 'tool_streaming_weather#0');
    const body = (await res.json()) as any;
    const use = body.content.find((b: any) => b.type === 'tool_use');
    assert.equal(use.name, 'weather');
    assert.deepEqual(use.input, JSON.parse(recordedAnswer(turn1).calls[0].arguments));
    assert.equal(body.stop_reason, 'tool_use');
  });

  it('the same conversation through the Responses door', async () => {
    const res = await post('/responses', { model: MODEL, instructions: 'You are a helpful assistant', input: 'Say hi in Portuguese', provider: { only: ['groq'] } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-recording'), 'simple_streaming_only_groq#0');
    const body = (await res.json()) as any;
    const text = body.output
      .filter((o: any) => o.type === 'message')
      .flatMap((o: any) => o.content)
      .map((c: any) => c.text)
      .join('');
    assert.equal(text, recordedAnswer(groq).text);
  });

  it('another conversation is a miss naming the closest recording and the first difference', async () => {
    const res = await post('/chat/completions', { ...README, messages: [README.messages[0], { role: 'user', content: 'Say hi in French' }] });
    assert.equal(res.status, 502);
    const raw = ((await res.json()) as any).error.metadata.raw as string;
    assert.match(raw, /no recording of this conversation/);
    assert.match(raw, /closest is simple_streaming_only_groq#0, first difference at messages\[1\]\.content: recorded "Say hi in Portuguese", got "Say hi in French"/);
  });
});

describe('replay store: lenient (demo) and strict matching', () => {
  const upstreamRequest = (body: unknown) => ({ url: 'https://api.groq.com/openai/v1/chat/completions', headers: {}, body: JSON.stringify(body) });
  /** The provider-side request the OpenAI-compatible adapter builds for the README request on Groq. */
  const groqRequest = (over: Record<string, unknown> = {}) => ({
    model: 'moonshotai/kimi-k2-instruct-0905',
    messages: README.messages,
    max_tokens: 4000,
    stream: true,
    stream_options: { include_usage: true },
    ...over,
  });

  it('strict replay keeps exact matching: a non-streamed variation is a miss naming the field', async () => {
    const store = new ReplayStore(DEMO_CASSETTES_DIR, { pace: 'fast', providerName: 'Groq' });
    const res = store.answer(upstreamRequest(groqRequest({ stream: undefined })), { ...README, stream: false });
    assert.equal(res.statusCode, 404);
    assert.match(JSON.parse(await res.body.text()).error.message, /closest is simple_streaming_only_groq\.yaml#0, first difference at stream: recorded true, got false/);
    const [recorded] = loadCassette('seeds/simple_streaming_only_groq.yaml');
    const exact = store.answer(upstreamRequest(groqRequest()), JSON.parse(recorded.request.body));
    assert.equal(exact.statusCode, 200);
    assert.equal(exact.headers['x-switchyard-recording'], 'simple_streaming_only_groq#0');
  });

  it('lenient: a non-streamed recording answers a streamed request as a stream', async () => {
    // A folder with only the non-streamed recording (simple_streaming_kimi-k2_groq.yaml would be closer).
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-lenient-'));
    copyFileSync(fixturePath('openrouter/TestOpenRouterCommon/simple_kimi-k2_groq.yaml'), join(dir, 'simple_kimi-k2_groq.yaml'));
    const recorded = loadCassette(join(dir, 'simple_kimi-k2_groq.yaml'));
    const n = recorded.findIndex((r) => r.response.code === 200); // an identical request got 429 first
    const rec = recorded[n];
    const store = new ReplayStore(dir, {
      pace: 'fast',
      providerName: 'Groq',
      lenient: { upstreamModels: (m) => (m === MODEL ? ['moonshotai/kimi-k2-instruct-0905'] : []) },
    });
    const client = JSON.parse(rec.request.body);
    const ask = () => store.answer(upstreamRequest({ ...client, model: 'moonshotai/kimi-k2-instruct-0905', stream: true, stream_options: { include_usage: true } }), { ...client, stream: true });
    for (let i = 0; i < n; i++) assert.equal(ask().statusCode, recorded[i].response.code, 'recorded order');
    const res = ask();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    assert.equal(res.headers['x-switchyard-recording'], `simple_kimi-k2_groq#${n}`);
    const events = parseSse(await res.body.text()).events;
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const answer = JSON.parse(rec.response.body.trim());
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), answer.choices[0].message.content);
    assert.equal(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason, 'stop');
    assert.equal(chunks.at(-1).usage.completion_tokens, answer.usage.completion_tokens);
    rmSync(dir, { recursive: true, force: true });
  });
});
