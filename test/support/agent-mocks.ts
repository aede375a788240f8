/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies of two wire protocols */
/**
 * Upstream providers that play a tiny scripted model for the coding-agent acceptance tests
 * (test/agents.test.ts). They sit behind Switchyard, in the place of a real provider:
 *
 *  - startScriptedChatModel(): an OpenAI-compatible `POST {base}/chat/completions` (SSE with a usage
 *    chunk when `stream_options.include_usage` asks for one, else one `chat.completion` JSON body);
 *  - startScriptedMessagesModel(): an Anthropic `POST {base}/messages` (SSE message_start …
 *    message_stop, or one `message` JSON body) and `POST {base}/messages/count_tokens`.
 *
 * The script, the same for both:
 *  1. the conversation already holds a tool result → answer with text quoting it (so the agent's
 *     final answer can only contain the file's content if the tool really ran);
 *  2. else, the user named a file (an absolute path ending in `.txt`) and the request declares a
 *     tool that can read it → call that tool: `Read {file_path}` (Claude Code), `exec_command {cmd}`,
 *     `shell_command {command}` or `shell {command: [...]}` (Codex);
 *  3. else → a short plain answer (covers side requests such as title generation).
 *
 * Every model request is logged as a `Turn` so tests can check what the model was shown.
 */
import { startMockUpstream, type MockReply, type MockUpstream, type ReceivedRequest } from './mock-upstream.js';

export interface ToolCall {
  name: string;
  args: Record<string, unknown>;
}

export interface Turn {
  /** Path the gateway called, e.g. /v1/chat/completions */
  path: string;
  model: string | undefined;
  stream: boolean;
  /** Names of the function tools the request declared. */
  tools: string[];
  /** What the script answered. */
  reply: 'tool_call' | 'answer' | 'plain' | 'count_tokens' | 'unrouted';
  toolCall?: ToolCall;
  /** Text of the tool result(s) the request carried (set when reply is 'answer'). */
  toolResult?: string;
  /** The text the model answered with (answer / plain). */
  text?: string;
  request: ReceivedRequest;
}

export interface ScriptedModel {
  /** e.g. http://127.0.0.1:PORT/v1: the provider base URL to give the gateway. */
  baseUrl: string;
  upstream: MockUpstream;
  turns: Turn[];
  close(): Promise<void>;
}

/** The first absolute path to a .txt file in a text (the file the user asked about). */
export function fileNamedIn(text: string): string | undefined {
  return /(\/[^\s'"`<>()[\]]+\.txt)\b/.exec(text)?.[1];
}

const ANSWER_PREFIX = 'The file says: ';
const PLAIN_ANSWER = 'Hello from the scripted mock model.';

/** Picks the file-reading call among the declared tool names, or undefined. */
export function readCallFor(toolNames: string[], file: string): ToolCall | undefined {
  const has = (n: string) => toolNames.includes(n);
  if (has('Read')) return { name: 'Read', args: { file_path: file } };
  const cmd = `cat '${file}'`;
  if (has('exec_command')) return { name: 'exec_command', args: { cmd } };
  if (has('shell_command')) return { name: 'shell_command', args: { command: cmd } };
  if (has('shell')) return { name: 'shell', args: { command: ['cat', file] } };
  if (has('Bash')) return { name: 'Bash', args: { command: cmd, description: 'Read the file' } };
  return undefined;
}

/** What the model says once it has seen the tool result. */
export function answerFor(toolResult: string): string {
  return ANSWER_PREFIX + toolResult.trim().slice(0, 1000);
}

/** Rough token count (4 characters a token), at least 1. */
const tokens = (v: unknown): number => Math.max(1, Math.ceil(JSON.stringify(v ?? '').length / 4));

const textOfParts = (content: unknown): string => {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p: any) => {
      if (typeof p === 'string') return p;
      if (p?.type === 'text' || p?.type === 'input_text' || p?.type === 'output_text') return String(p.text ?? '');
      if (p?.type === 'tool_result') return textOfParts(p.content);
      return '';
    })
    .join('\n');
};

// ------------------------------------------------------------------------------------------------
// OpenAI-compatible chat completions
// ------------------------------------------------------------------------------------------------

type Plan = { kind: 'tool'; call: ToolCall } | { kind: 'answer'; text: string; toolResult: string } | { kind: 'plain'; text: string };

export function planChat(body: any): Plan {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const results = messages.filter((m) => m?.role === 'tool');
  if (results.length > 0) {
    const toolResult = results.map((m) => textOfParts(m.content)).join('\n');
    return { kind: 'answer', text: answerFor(toolResult), toolResult };
  }
  const userText = messages
    .filter((m) => m?.role === 'user')
    .map((m) => textOfParts(m.content))
    .join('\n');
  const file = fileNamedIn(userText);
  const names = chatToolNames(body);
  const call = file ? readCallFor(names, file) : undefined;
  if (call) return { kind: 'tool', call };
  return { kind: 'plain', text: file ? `${PLAIN_ANSWER} No tool to read ${file} among: ${names.join(', ')}` : PLAIN_ANSWER };
}

function chatToolNames(body: any): string[] {
  const tools: any[] = Array.isArray(body?.tools) ? body.tools : [];
  return tools.filter((t) => t?.type === 'function' && t.function?.name).map((t) => String(t.function.name));
}

/** The reply to a chat-completions request under the script: SSE chunks or one JSON body. */
export function chatReply(body: any, plan: Plan, n: number): MockReply {
  const id = `chatcmpl-scripted-${n}`;
  const created = Math.floor(Date.now() / 1000);
  const model = String(body?.model ?? 'scripted');
  const callId = `call_scripted_${n}`;
  const args = plan.kind === 'tool' ? JSON.stringify(plan.call.args) : '';
  const text = plan.kind === 'tool' ? '' : plan.text;
  const finish = plan.kind === 'tool' ? 'tool_calls' : 'stop';
  const promptTokens = tokens(body?.messages) + tokens(body?.tools);
  const completionTokens = tokens(plan.kind === 'tool' ? args : text);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };

  if (!body?.stream) {
    const message: Record<string, unknown> = { role: 'assistant', content: plan.kind === 'tool' ? null : text };
    if (plan.kind === 'tool') {
      message.tool_calls = [{ id: callId, type: 'function', function: { name: plan.call.name, arguments: args } }];
    }
    return {
      json: {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
        usage,
      },
    };
  }

  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
  const delta = (d: Record<string, unknown>, finishReason: string | null = null) => [
    { index: 0, delta: d, logprobs: null, finish_reason: finishReason },
  ];
  const sse: string[] = [chunk(delta({ role: 'assistant', content: '' }))];
  if (plan.kind === 'tool') {
    const cut = Math.ceil(args.length / 2);
    sse.push(
      chunk(delta({ tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: plan.call.name, arguments: '' } }] })),
      chunk(delta({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, cut) } }] })),
      chunk(delta({ tool_calls: [{ index: 0, function: { arguments: args.slice(cut) } }] })),
    );
  } else {
    const half = Math.ceil(text.length / 2);
    for (const part of [text.slice(0, half), text.slice(half)]) if (part) sse.push(chunk(delta({ content: part })));
  }
  sse.push(chunk(delta({}, finish)));
  if (body?.stream_options?.include_usage) sse.push(chunk([], { usage }));
  sse.push('data: [DONE]\n\n');
  return { headers: { 'content-type': 'text/event-stream' }, sse };
}

/** An OpenAI-compatible provider (chat completions) that plays the scripted model. */
export async function startScriptedChatModel(): Promise<ScriptedModel> {
  const upstream = await startMockUpstream();
  const turns: Turn[] = [];
  upstream.onRequest((req) => {
    const body = req.json;
    const base = { path: req.path, model: body?.model, stream: Boolean(body?.stream), tools: chatToolNames(body), request: req };
    if (req.method !== 'POST' || !/\/chat\/completions(\?|$)/.test(req.path)) {
      turns.push({ ...base, reply: 'unrouted' });
      return { status: 404, json: { error: { message: `scripted mock: no route for ${req.method} ${req.path}` } } };
    }
    const plan = planChat(body);
    turns.push(turnOf(base, plan));
    return chatReply(body, plan, turns.length);
  });
  return { baseUrl: upstream.baseUrl, upstream, turns, close: () => upstream.close() };
}

function turnOf(base: Omit<Turn, 'reply'>, plan: Plan): Turn {
  if (plan.kind === 'tool') return { ...base, reply: 'tool_call', toolCall: plan.call };
  if (plan.kind === 'answer') return { ...base, reply: 'answer', toolResult: plan.toolResult, text: plan.text };
  return { ...base, reply: 'plain', text: plan.text };
}

// ------------------------------------------------------------------------------------------------
// Anthropic Messages
// ------------------------------------------------------------------------------------------------

export function planMessages(body: any): Plan {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const results = messages.flatMap((m) =>
    m?.role === 'user' && Array.isArray(m.content) ? m.content.filter((b: any) => b?.type === 'tool_result') : [],
  );
  if (results.length > 0) {
    const toolResult = results.map((b: any) => textOfParts(b.content)).join('\n');
    return { kind: 'answer', text: answerFor(toolResult), toolResult };
  }
  const userText = messages
    .filter((m) => m?.role === 'user')
    .map((m) => textOfParts(m.content))
    .join('\n');
  const file = fileNamedIn(userText);
  const names = messagesToolNames(body);
  const call = file ? readCallFor(names, file) : undefined;
  if (call) return { kind: 'tool', call };
  return { kind: 'plain', text: file ? `${PLAIN_ANSWER} No tool to read ${file} among: ${names.join(', ')}` : PLAIN_ANSWER };
}

function messagesToolNames(body: any): string[] {
  const tools: any[] = Array.isArray(body?.tools) ? body.tools : [];
  // Client tools have an input_schema; server tools (web_search_…) have a versioned type instead.
  return tools.filter((t) => t?.name && (t.type === undefined || t.type === 'custom')).map((t) => String(t.name));
}

/** The `message` object the script answers with. */
export function messagesMessage(body: any, plan: Plan, n: number): any {
  const content =
    plan.kind === 'tool'
      ? [{ type: 'tool_use', id: `toolu_scripted_${n}`, name: plan.call.name, input: plan.call.args }]
      : [{ type: 'text', text: plan.text }];
  return {
    id: `msg_scripted_${n}`,
    type: 'message',
    role: 'assistant',
    model: String(body?.model ?? 'scripted'),
    content,
    stop_reason: plan.kind === 'tool' ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: {
      input_tokens: tokens(body?.messages) + tokens(body?.system) + tokens(body?.tools),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: tokens(content),
    },
  };
}

/** The Messages stream of a message: message_start, one block at a time, message_delta, message_stop. */
export function messagesEvents(msg: any): { event: string; data: any }[] {
  const out: { event: string; data: any }[] = [];
  const push = (type: string, data: Record<string, unknown> = {}) => out.push({ event: type, data: { type, ...data } });
  push('message_start', {
    message: { ...msg, content: [], stop_reason: null, stop_sequence: null, usage: { ...msg.usage, output_tokens: 1 } },
  });
  (msg.content as any[]).forEach((block, index) => {
    if (block.type === 'text') {
      push('content_block_start', { index, content_block: { type: 'text', text: '' } });
      if (index === 0) push('ping');
      const half = Math.ceil(block.text.length / 2);
      for (const part of [block.text.slice(0, half), block.text.slice(half)]) {
        if (part) push('content_block_delta', { index, delta: { type: 'text_delta', text: part } });
      }
    } else {
      push('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      const json = JSON.stringify(block.input);
      const cut = Math.ceil(json.length / 2);
      push('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
      push('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, cut) } });
      push('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(cut) } });
    }
    push('content_block_stop', { index });
  });
  push('message_delta', {
    delta: { stop_reason: msg.stop_reason, stop_sequence: null },
    usage: { output_tokens: msg.usage.output_tokens },
  });
  push('message_stop');
  return out;
}

/** An Anthropic Messages provider that plays the scripted model. */
export async function startScriptedMessagesModel(): Promise<ScriptedModel> {
  const upstream = await startMockUpstream();
  const turns: Turn[] = [];
  upstream.onRequest((req) => {
    const body = req.json;
    const base = { path: req.path, model: body?.model, stream: Boolean(body?.stream), tools: messagesToolNames(body), request: req };
    const path = req.path.replace(/\?.*$/, '');
    const headers = { 'request-id': `req_scripted_${turns.length + 1}` };
    if (req.method === 'POST' && path.endsWith('/messages/count_tokens')) {
      turns.push({ ...base, reply: 'count_tokens' });
      return { headers, json: { input_tokens: tokens(body?.messages) + tokens(body?.system) + tokens(body?.tools) } };
    }
    if (req.method !== 'POST' || !path.endsWith('/messages')) {
      turns.push({ ...base, reply: 'unrouted' });
      return {
        status: 404,
        headers,
        json: { type: 'error', error: { type: 'not_found_error', message: `scripted mock: no route for ${req.method} ${req.path}` } },
      };
    }
    const plan = planMessages(body);
    turns.push(turnOf(base, plan));
    const msg = messagesMessage(body, plan, turns.length);
    if (!body?.stream) return { headers, json: msg };
    const sse = messagesEvents(msg).map((e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
    return { headers: { ...headers, 'content-type': 'text/event-stream; charset=utf-8' }, sse };
  });
  return { baseUrl: upstream.baseUrl, upstream, turns, close: () => upstream.close() };
}
