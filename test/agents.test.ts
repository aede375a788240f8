/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from recordings, mocks and the gateway */
/**
 * Acceptance: the two real coding agents from npm, unchanged, work through Switchyard.
 *
 * Claude Code 2.1.332 (`POST /v1/messages?beta=true`) and Codex CLI 0.171.0 (`POST /api/v1/responses`)
 * each get a task that needs a tool call: read a file in its working folder that holds a random
 * secret, and say what it holds. Switchyard routes the agent's model to a mock provider that plays a
 * scripted model (test/support/agent-mocks.ts): an OpenAI-compatible provider (groq) for
 * `moonshotai/kimi-k2-0905`, and an Anthropic provider for `anthropic/claude-sonnet-4.5`. The
 * script calls the agent's file-reading tool first, and answers with the tool's output once it
 * sees it, so the secret can only reach the agent's final answer through a real tool round trip.
 *
 * Each run checks: exit code 0; the final answer holds the secret; the provider saw the tool
 * result in the follow-up request; the agent's requests each got a generation record with the
 * right front door (`api`); and no agent tried to reach anything off this machine.
 *
 * The agents are devDependencies (`npm ci` installs them); if one cannot be run, every test of it
 * fails with a message saying why (never a skip). Each run is bounded by AGENT_TIMEOUT_MS.
 * SWITCHYARD_AGENT_TRACE=1 prints every run's traffic (agent → gateway → provider) as diagnostics;
 * SWITCHYARD_AGENT_DUMP=<dir> writes each run's whole traffic, bodies included, to <dir>/<test>.json.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startGateway, type Gateway } from './support/gateway.js';
import {
  answerFor,
  messagesEvents,
  messagesMessage,
  planMessages,
  startScriptedChatModel,
  startScriptedMessagesModel,
  type ScriptedModel,
  type Turn,
} from './support/agent-mocks.js';
import {
  claudeCode,
  codex,
  runClaudeCode,
  runCodex,
  startDenyProxy,
  startRecordingProxy,
  TempDirs,
  type AgentInstall,
  type AgentRun,
  type DenyProxy,
  type Exchange,
  type RecordingProxy,
} from './support/agents.js';

const AGENT_TIMEOUT_MS = 90_000;
const TEST_TIMEOUT_MS = AGENT_TIMEOUT_MS + 20_000;
const API_KEY = 'sk-sy-agents-acceptance';
const KIMI = 'moonshotai/kimi-k2-0905'; // served by groq (OpenAI chat completions) in the catalog
const SONNET = 'anthropic/claude-sonnet-4.5'; // served by anthropic (Messages) in the catalog
const SONNET_ALIAS = 'claude-sonnet-4-5'; // Anthropic's own id, as a Claude Code user names it (a catalog alias)
const FIXTURES = join(import.meta.dirname, 'fixtures', 'agent-traffic', 'acceptance');

const fixture = (name: string): any => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));

/** Parses an SSE body into its events (event name, parsed data). */
function sseEvents(raw: string): { event: string | undefined; data: any }[] {
  const out: { event: string | undefined; data: any }[] = [];
  for (const block of raw.split(/\r?\n\r?\n/)) {
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (data.length === 0) continue;
    const text = data.join('\n');
    let parsed: any = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* [DONE] and the like */
    }
    out.push({ event, data: parsed });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// the scripted providers on their own, against what the agents really send and accept
// ------------------------------------------------------------------------------------------------

describe('scripted mock providers (checked against recorded agent traffic)', () => {
  let chat: ScriptedModel;
  let messages: ScriptedModel;
  before(async () => {
    chat = await startScriptedChatModel();
    messages = await startScriptedMessagesModel();
  });
  after(async () => {
    await chat?.close();
    await messages?.close();
  });

  it('Messages: answers Claude Code’s recorded first request with a Read tool_use, streamed as Claude Code accepts it', async () => {
    const rec = fixture('cc-tool__001.json');
    const body = structuredClone(rec.request.body);
    const prompt = body.messages[0].content.at(-1);
    prompt.text = 'Read the file /tmp/agent-work/answer.txt and tell me the secret it holds.';
    const res = await fetch(`${messages.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = sseEvents(await res.text());
    // Same event sequence as the recorded tool_use answer that Claude Code accepted.
    assert.deepEqual(
      events.map((e) => e.event),
      rec.response.events.map((e: any) => e.event),
    );
    for (const e of events) assert.equal(e.data.type, e.event, 'each event names its type in data too');
    const start = events[0]!.data.message;
    assert.equal(start.role, 'assistant');
    assert.equal(typeof start.usage.input_tokens, 'number');
    const block = events.find((e) => e.event === 'content_block_start')!.data.content_block;
    assert.equal(block.type, 'tool_use');
    assert.equal(block.name, 'Read');
    const json = events
      .filter((e) => e.data.delta?.type === 'input_json_delta')
      .map((e) => e.data.delta.partial_json)
      .join('');
    assert.deepEqual(JSON.parse(json), { file_path: '/tmp/agent-work/answer.txt' });
    const delta = events.find((e) => e.event === 'message_delta')!.data;
    assert.equal(delta.delta.stop_reason, 'tool_use');
    assert.equal(typeof delta.usage.output_tokens, 'number');
    assert.equal(messages.turns.at(-1)!.reply, 'tool_call');
  });

  it('Messages: answers Claude Code’s recorded follow-up (tool_result) with text quoting it; JSON when not streamed', async () => {
    const rec = fixture('cc-tool__002.json');
    const res = await fetch(`${messages.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(rec.request.body),
    });
    const events = sseEvents(await res.text());
    assert.deepEqual(
      events.map((e) => e.event),
      rec.response.events.map((e: any) => e.event),
    );
    const text = events
      .filter((e) => e.data.delta?.type === 'text_delta')
      .map((e) => e.data.delta.text)
      .join('');
    assert.equal(text, answerFor('hello-from-tool'));
    const turn = messages.turns.at(-1)!;
    assert.equal(turn.reply, 'answer');
    assert.equal(turn.toolResult, 'hello-from-tool');

    const plain = await fetch(`${messages.baseUrl}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...rec.request.body, stream: false }),
    });
    const msg: any = await plain.json();
    assert.equal(msg.type, 'message');
    assert.equal(msg.stop_reason, 'end_turn');
    assert.deepEqual(msg.content, [{ type: 'text', text: answerFor('hello-from-tool') }]);
  });

  it('Messages: the stream and the JSON body of one message agree', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'Read /w/answer.txt' }], tools: [{ name: 'Read', input_schema: {} }] };
    const msg = messagesMessage(body, planMessages(body), 1);
    const events = messagesEvents(msg);
    assert.equal(events[0]!.event, 'message_start');
    assert.equal(events.at(-1)!.event, 'message_stop');
    assert.deepEqual(msg.content, [{ type: 'tool_use', id: 'toolu_scripted_1', name: 'Read', input: { file_path: '/w/answer.txt' } }]);
  });

  it('chat completions: Codex’s recorded exec_command tool is called, then the tool output quoted (OpenAI SDK reads both streams)', async () => {
    const rec = fixture('cx-tool__001.json');
    // Codex's function tools as an OpenAI-compatible provider receives them.
    const tools = rec.request.body.tools
      .filter((t: any) => t.type === 'function' && typeof t.parameters === 'object')
      .map((t: any) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
    assert.ok(tools.some((t: any) => t.function.name === 'exec_command'));
    const client = new OpenAI({ apiKey: 'k', baseURL: chat.baseUrl });
    const user = { role: 'user' as const, content: 'Read the file /tmp/agent-work/answer.txt and tell me the secret.' };
    const stream = client.chat.completions.stream({ model: 'up', messages: [user], tools, stream_options: { include_usage: true } });
    const first = await stream.finalChatCompletion();
    const call = first.choices[0]!.message.tool_calls![0]! as any;
    assert.equal(first.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'exec_command');
    assert.deepEqual(JSON.parse(call.function.arguments), { cmd: "cat '/tmp/agent-work/answer.txt'" });
    assert.ok(first.usage && first.usage.prompt_tokens > 0 && first.usage.completion_tokens > 0, 'usage chunk');

    const output = 'Process exited with code 0\nOutput:\nsecret-42\n';
    const second = await client.chat.completions
      .stream({
        model: 'up',
        messages: [user, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: output }],
        tools,
        stream_options: { include_usage: true },
      })
      .finalChatCompletion();
    assert.equal(second.choices[0]!.finish_reason, 'stop');
    assert.equal(second.choices[0]!.message.content, answerFor(output));

    const plain = await client.chat.completions.create({ model: 'up', messages: [user], tools });
    assert.equal(plain.choices[0]!.message.tool_calls![0]!.type, 'function');
    assert.equal(chat.turns.map((t) => t.reply).join(','), 'tool_call,answer,tool_call');
  });
});

// ------------------------------------------------------------------------------------------------
// the agents through Switchyard
// ------------------------------------------------------------------------------------------------

interface Env {
  gw: Gateway;
  proxy: RecordingProxy;
  deny: DenyProxy;
  chat: ScriptedModel;
  messages: ScriptedModel;
  tmp: TempDirs;
}

/** A working folder holding answer.txt with a fresh secret, and an empty HOME. */
function workspace(env: Env): { cwd: string; home: string; file: string; secret: string } {
  const cwd = env.tmp.make('switchyard-agent-work-');
  const home = env.tmp.make('switchyard-agent-home-');
  const secret = `swordfish-${randomBytes(6).toString('hex')}`;
  const file = join(cwd, 'answer.txt');
  writeFileSync(file, `The secret is ${secret}\n`);
  return { cwd, home, file, secret };
}

const tail = (s: string, n = 3000) => (s.length > n ? `…${s.slice(-n)}` : s);

/** Everything worth seeing when a run goes wrong: the agent's output, the traffic, the model turns. */
function report(run: AgentRun | undefined, exchanges: Exchange[], turns: Turn[], deny: DenyProxy): string {
  const lines: string[] = [];
  if (run) {
    lines.push(
      `command: ${run.argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`,
      `exit: ${run.code} signal: ${run.signal} timedOut: ${run.timedOut} after ${run.ms} ms`,
      `stdout: ${tail(run.stdout)}`,
      `stderr: ${tail(run.stderr)}`,
    );
  }
  lines.push(`agent → gateway (${exchanges.length}):`);
  for (const ex of exchanges) {
    lines.push(
      `  ${ex.method} ${ex.path} → ${ex.status} gen=${ex.generationId ?? '-'}`,
      `    request: ${tail(ex.requestBody, 600)}`,
      `    response: ${tail(ex.responseBody, 1500)}`,
    );
  }
  lines.push(`gateway → provider (${turns.length}):`);
  for (const t of turns) {
    lines.push(
      `  ${t.request.method} ${t.path} model=${t.model} stream=${t.stream} reply=${t.reply}` +
        `${t.toolCall ? ` ${t.toolCall.name}(${JSON.stringify(t.toolCall.args)})` : ''} tools=[${t.tools.join(',')}]`,
    );
    if (t.reply === 'unrouted' || t.reply === 'plain') lines.push(`    body: ${tail(t.request.body, 1500)}`);
  }
  if (deny.attempts.length > 0) lines.push(`blocked attempts to leave the machine: ${deny.attempts.join(', ')}`);
  return lines.join('\n');
}

/** GET /api/v1/generation?id= for each id (waits briefly for records still being written). */
async function generations(gw: Gateway, ids: string[]): Promise<any[]> {
  const out: any[] = [];
  for (const id of ids) {
    let rec: any;
    for (let i = 0; i < 100 && !rec; i++) {
      const res = await fetch(`${gw.baseUrl}/generation?id=${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${API_KEY}` } });
      if (res.status === 200) rec = ((await res.json()) as any).data;
      else await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(rec, `generation ${id} has no record`);
    out.push(rec);
  }
  return out;
}

/** Names of every tool in a provider request, whatever its kind (chat `function.name`, Messages `name`). */
function providerToolNames(body: any): string[] {
  const tools: any[] = Array.isArray(body?.tools) ? body.tools : [];
  return tools.map((t) => String(t?.function?.name ?? t?.name ?? t?.type ?? ''));
}

interface Expectation {
  model: string;
  /** provider_name of the generation record: the provider the gateway routed to. */
  provider: string;
  /** The front door the agent uses, as the generation record names it. */
  api: 'messages' | 'responses';
  /** Path prefix of the agent's model requests, e.g. /v1/messages */
  path: RegExp;
  /** Tool the scripted model is expected to call. */
  tool: string;
}

/**
 * The checks every agent run shares. `answer` is the agent's final answer. Traffic and turns are
 * those of this run only.
 */
async function checkRun(
  t: TestContext,
  env: Env,
  run: AgentRun,
  answer: string,
  secret: string,
  exchanges: Exchange[],
  turns: Turn[],
  want: Expectation,
): Promise<void> {
  const why = () => report(run, exchanges, turns, env.deny);
  t.diagnostic(
    `${run.ms} ms; agent → gateway: ${exchanges.map((ex) => `${ex.method} ${ex.path} ${ex.status}`).join(', ')}; ` +
      `gateway → provider: ${turns.map((x) => x.reply).join(', ')}`,
  );
  if (process.env.SWITCHYARD_AGENT_TRACE === '1') for (const line of why().split('\n')) t.diagnostic(line);
  const dump = process.env.SWITCHYARD_AGENT_DUMP;
  if (dump) {
    mkdirSync(dump, { recursive: true });
    const name = t.name.replace(/[^A-Za-z0-9.-]+/g, '_').slice(0, 120);
    const turnsOut = turns.map(({ request, ...rest }) => ({ ...rest, request: { path: request.path, headers: request.headers, body: request.json ?? request.body } }));
    const ids = exchanges.map((ex) => ex.generationId).filter((id): id is string => Boolean(id));
    const records = await generations(env.gw, ids).catch((err: Error) => err.message);
    writeFileSync(join(dump, `${name}.json`), JSON.stringify({ run, exchanges, turns: turnsOut, records }, null, 2));
  }
  assert.equal(run.timedOut, false, `the agent did not finish within ${AGENT_TIMEOUT_MS} ms\n${why()}`);
  assert.equal(run.code, 0, `the agent exited with ${run.code}\n${why()}`);

  const call = turns.find((t) => t.reply === 'tool_call');
  assert.ok(call, `the provider was never asked in a way that led to a tool call\n${why()}`);
  assert.equal(call.toolCall!.name, want.tool, why());
  const followUp = turns.find((t) => t.reply === 'answer');
  assert.ok(followUp, `no request to the provider carried a tool result\n${why()}`);
  assert.ok(followUp.toolResult!.includes(secret), `the tool result the provider saw lacks the secret\n${why()}`);
  for (const t of turns) assert.notEqual(t.reply, 'unrouted', `the gateway called an unknown provider path ${t.path}\n${why()}`);

  // A hosted tool the gateway says it left out (X-Switchyard-Dropped-Tools) must not reach the provider.
  const modelTurns = turns.filter((t) => t.reply === 'tool_call' || t.reply === 'answer' || t.reply === 'plain');
  const answered = exchanges.filter((ex) => want.path.test(ex.path) && ex.status === 200);
  answered.forEach((ex, i) => {
    const header = ex.responseHeaders['x-switchyard-dropped-tools'];
    const dropped = typeof header === 'string' ? header.split(',').map((s) => s.trim()).filter(Boolean) : [];
    const sent = modelTurns[i] ? providerToolNames(modelTurns[i]!.request.json) : [];
    const leaked = dropped.filter((name) => sent.includes(name));
    assert.deepEqual(
      leaked,
      [],
      `${ex.method} ${ex.path} answered X-Switchyard-Dropped-Tools: ${header}, yet the provider request carried ` +
        `${JSON.stringify((modelTurns[i]!.request.json?.tools ?? []).filter((t: any) => leaked.includes(t?.name ?? t?.function?.name)))}`,
    );
  });

  assert.ok(answer.includes(secret), `the final answer does not hold the secret ${secret}: ${JSON.stringify(answer)}\n${why()}`);

  const modelCalls = exchanges.filter((ex) => want.path.test(ex.path));
  assert.ok(modelCalls.length >= 2, `expected ≥ 2 model requests through the gateway, saw ${modelCalls.length}\n${why()}`);
  for (const ex of modelCalls) assert.equal(ex.status, 200, `${ex.method} ${ex.path} → ${ex.status}\n${why()}`);
  const ids = modelCalls.map((ex) => ex.generationId);
  assert.ok(
    ids.every((id) => typeof id === 'string' && id.length > 0),
    `every answer carries X-Generation-Id\n${why()}`,
  );
  const recs = await generations(env.gw, ids as string[]);
  for (const rec of recs) {
    assert.equal(rec.api, want.api, `generation ${rec.id} api\n${JSON.stringify(rec)}`);
    assert.equal(rec.provider_name, want.provider, `generation ${rec.id} provider\n${JSON.stringify(rec)}`);
    assert.equal(rec.status, 200, `generation ${rec.id} status\n${JSON.stringify(rec)}`);
    assert.ok(rec.tokens_prompt > 0 && rec.tokens_completion > 0, `generation ${rec.id} counts tokens: ${JSON.stringify(rec)}`);
  }
  assert.deepEqual(env.deny.attempts, [], 'the agents tried to reach hosts off this machine');
}

describe('coding agents through Switchyard, every provider mocked', () => {
  const env = {} as Env;
  let claude: AgentInstall | Error;
  let cx: AgentInstall | Error;

  before(async () => {
    // Installation problems are reported by each test of that agent, not skipped.
    try {
      claude = claudeCode();
    } catch (err) {
      claude = err as Error;
    }
    try {
      cx = codex();
    } catch (err) {
      cx = err as Error;
    }
    env.tmp = new TempDirs();
    env.chat = await startScriptedChatModel();
    env.messages = await startScriptedMessagesModel();
    env.gw = await startGateway({ providers: { groq: env.chat.baseUrl, anthropic: env.messages.baseUrl }, apiKeys: [API_KEY] });
    env.proxy = await startRecordingProxy(env.gw.url);
    env.deny = await startDenyProxy();
  });

  after(async () => {
    await env.proxy?.close();
    await env.gw?.close();
    await env.chat?.close();
    await env.messages?.close();
    await env.deny?.close();
    env.tmp?.removeAll();
  });

  const installed = (a: AgentInstall | Error): AgentInstall => {
    if (a instanceof Error) throw a;
    return a;
  };

  /** Runs `body` and hands `checkRun` only this run's traffic and model turns. */
  async function scoped<T>(mock: ScriptedModel, body: () => Promise<T>): Promise<{ result: T; exchanges: Exchange[]; turns: Turn[] }> {
    const ex0 = env.proxy.exchanges.length;
    const t0 = mock.turns.length;
    const result = await body();
    return { result, exchanges: env.proxy.exchanges.slice(ex0), turns: mock.turns.slice(t0) };
  }

  const prompt = (file: string) => `Read the file ${file} and tell me the secret it holds.`;

  it('baseline: Claude Code reads the file talking to the scripted Anthropic provider directly (no gateway)', { timeout: TEST_TIMEOUT_MS }, async () => {
    // Tells a mock or harness problem apart from a gateway one: this run has no Switchyard in it.
    const agent = installed(claude);
    const w = workspace(env);
    const t0 = env.messages.turns.length;
    const run = await runClaudeCode(agent, {
      baseUrl: env.messages.upstream.url,
      apiKey: API_KEY,
      model: 'claude-sonnet-4-5',
      prompt: prompt(w.file),
      cwd: w.cwd,
      home: w.home,
      denyProxyUrl: env.deny.url,
      allowedTools: 'Read',
      timeoutMs: AGENT_TIMEOUT_MS,
    });
    const turns = env.messages.turns.slice(t0);
    const why = () => report(run, [], turns, env.deny);
    assert.equal(run.code, 0, why());
    assert.equal(run.json?.is_error, false, why());
    assert.ok(String(run.json?.result).includes(w.secret), why());
    assert.deepEqual(
      turns.map((t) => `${t.reply}${t.toolCall ? `:${t.toolCall.name}` : ''}`),
      ['tool_call:Read', 'answer'],
      why(),
    );
    assert.deepEqual(env.deny.attempts, [], why());
  });

  for (const [model, mockOf, provider, via] of [
    [KIMI, () => env.chat, 'Groq', 'groq, chat completions'],
    [SONNET, () => env.messages, 'Anthropic', 'anthropic, Messages'],
    [SONNET_ALIAS, () => env.messages, 'Anthropic', 'Anthropic’s own id for anthropic/claude-sonnet-4.5, anthropic, Messages'],
  ] as const) {
    it(`Claude Code reads a file with its Read tool: POST /v1/messages, ${model} (${via})`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const agent = installed(claude);
      const w = workspace(env);
      const mock = mockOf();
      const { result: run, exchanges, turns } = await scoped(mock, () =>
        runClaudeCode(agent, {
          baseUrl: env.proxy.url,
          apiKey: API_KEY,
          model,
          prompt: prompt(w.file),
          cwd: w.cwd,
          home: w.home,
          denyProxyUrl: env.deny.url,
          allowedTools: 'Read',
          timeoutMs: AGENT_TIMEOUT_MS,
        }),
      );
      const why = () => report(run, exchanges, turns, env.deny);
      assert.ok(run.json, `Claude Code printed no JSON result\n${why()}`);
      assert.equal(run.json.is_error, false, `Claude Code reports an error\n${why()}`);
      await checkRun(t, env, run, String(run.json.result ?? ''), w.secret, exchanges, turns, {
        model,
        provider,
        api: 'messages',
        path: /^\/v1\/messages(\?|$)/,
        tool: 'Read',
      });
    });
  }

  for (const [model, mockOf, provider, via] of [
    [KIMI, () => env.chat, 'Groq', 'groq, chat completions'],
    [SONNET, () => env.messages, 'Anthropic', 'anthropic, Messages'],
  ] as const) {
    it(`Codex reads a file with a shell tool: POST /api/v1/responses, ${model} (${via})`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const agent = installed(cx);
      const w = workspace(env);
      const mock = mockOf();
      const { result: run, exchanges, turns } = await scoped(mock, () =>
        runCodex(agent, {
          baseUrl: `${env.proxy.url}/api/v1`,
          apiKey: API_KEY,
          model,
          prompt: prompt(w.file),
          cwd: w.cwd,
          home: w.home,
          denyProxyUrl: env.deny.url,
          timeoutMs: AGENT_TIMEOUT_MS,
        }),
      );
      await checkRun(t, env, run, run.lastMessage || run.stdout, w.secret, exchanges, turns, {
        model,
        provider,
        api: 'responses',
        path: /^\/api\/v1\/responses(\?|$)/,
        tool: 'exec_command',
      });
    });
  }
});
