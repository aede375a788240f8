/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies from recordings and the mock upstreams */
/**
 * Acceptance: OpenRouter's own provider for the Vercel AI SDK (`@openrouter/ai-sdk-provider` with
 * `ai` 6), unchanged but for the base URL, against Switchyard's chat completions; providers mocked
 * with recorded traffic (test/fixtures/cassettes/upstream). This is the client most AI SDK users
 * point at OpenRouter, and it reads OpenRouter's own fields: `usage.cost` and the token details
 * (providerMetadata.openrouter.usage), `reasoning_details`, and `annotations` as sources.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createOpenRouter } from '@openrouter/ai-sdk-provider';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { chatTurnOf, freshHealth, replay, requestJson, responseJson, upstreamRecording } from './support/recorded-wire.js';

const KIMI = 'moonshotai/kimi-k2-0905';
const GROQ = 'TestGroqCommon/groq-kimi-k2-0905';
const SYSTEM = 'You are a helpful assistant';

describe('@openrouter/ai-sdk-provider → Switchyard chat completions', () => {
  let groq: MockUpstream;
  let openai: MockUpstream;
  let anthropic: MockUpstream;
  let gw: Gateway;
  let openrouter: ReturnType<typeof createOpenRouter>;

  before(async () => {
    [groq, openai, anthropic] = await Promise.all([startMockUpstream(), startMockUpstream(), startMockUpstream()]);
    gw = await startGateway({ providers: { groq: groq.baseUrl, openai: openai.baseUrl, anthropic: `${anthropic.url}/v1` } });
    openrouter = createOpenRouter({ baseURL: gw.baseUrl, apiKey: 'sk-or-test' });
  });
  after(async () => {
    await gw.close();
    await Promise.all([groq, openai, anthropic].map((m) => m.close()));
  });
  beforeEach(() => freshHealth(gw));

  it('generateText: the recorded text, finish reason, and OpenRouter usage accounting with the cost', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    groq.enqueue(replay(rec!));
    const want = chatTurnOf(rec!);
    const r = await generateText({ model: openrouter.chat(KIMI, { usage: { include: true } }), system: SYSTEM, prompt: 'Say hi in Portuguese', maxRetries: 0 });
    assert.equal(r.text, want.text);
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, want.usage.prompt_tokens);
    assert.equal(r.usage.outputTokens, want.usage.completion_tokens);
    const usage = (r.providerMetadata as any).openrouter.usage;
    // Kimi K2 on Groq: $1 / $3 per million tokens.
    const cost = want.usage.prompt_tokens * 0.000001 + want.usage.completion_tokens * 0.000003;
    assert.ok(Math.abs(usage.cost - cost) < 1e-12, JSON.stringify(usage));
    assert.equal(usage.promptTokens, want.usage.prompt_tokens);
    assert.equal(requestJson(rec!).messages[1].content, groq.requests.at(-1)!.json.messages[1].content);
  });

  it('streamText tool loop: tool call, local execute, final text; one finish per step', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool_streaming`, 2);
    groq.enqueue(replay(turn1!), replay(turn2!));
    const want1 = chatTurnOf(turn1!);
    const calls: unknown[] = [];
    const errors: unknown[] = [];
    const r = streamText({
      model: openrouter.chat(KIMI),
      system: SYSTEM,
      prompt: "What's the weather in Florence,Italy?",
      tools: {
        weather: tool({
          description: 'Get weather information for a location',
          inputSchema: jsonSchema<{ location: string }>({ type: 'object', properties: { location: { type: 'string', description: 'the city' } }, required: ['location'] }),
          execute: async (input) => {
            calls.push(input);
            return '40 C';
          },
        }),
      },
      stopWhen: stepCountIs(3),
      maxRetries: 0,
      onError: ({ error }) => void errors.push(error),
    });
    const text = await r.text;
    assert.deepEqual(errors, []);
    assert.deepEqual(calls, [JSON.parse(want1.toolCalls[0]!.arguments)]);
    const steps = await r.steps;
    assert.deepEqual(
      steps.map((s) => s.finishReason),
      ['tool-calls', 'stop'],
    );
    assert.equal(text, chatTurnOf(turn2!).text);
    const second = groq.requests.at(-1)!.json;
    assert.equal(second.messages.at(-1).role, 'tool');
    assert.equal(second.messages.at(-1).tool_call_id, second.messages.at(-2).tool_calls[0].id);
  });

  it(":online through OpenAI's native search (recorded Responses traffic): the answer's citations are url sources", async () => {
    const [rec] = upstreamRecording('TestOpenAIWebSearch/generate', 1);
    openai.onRequest((req) => (req.path === '/v1/responses' ? replay(rec!) : { status: 404, json: { error: { message: `no route ${req.path}` } } }));
    const r = await generateText({ model: openrouter.chat('openai/gpt-4.1:online'), system: SYSTEM, prompt: 'What is the current population of Tokyo? Cite your source.', maxRetries: 0 });
    const recorded = responseJson(rec!).output.find((o: any) => o.type === 'message').content[0];
    assert.equal(r.text, recorded.text);
    const urls = r.sources.filter((s) => s.sourceType === 'url').map((s) => (s as { url: string }).url);
    assert.deepEqual(urls, recorded.annotations.map((a: any) => a.url));
  });

  it("streamed :online through Anthropic's native search (recorded traffic): the citations arrive as url sources", async () => {
    const [rec] = upstreamRecording('TestAnthropicWebSearch/stream');
    anthropic.onRequest(() => replay(rec!));
    const r = streamText({ model: openrouter.chat('anthropic/claude-sonnet-4:online'), system: SYSTEM, prompt: 'What is the current population of Tokyo? Cite your source.', maxRetries: 0 });
    await r.text;
    const urls = (await r.sources).filter((s) => s.sourceType === 'url').map((s) => (s as { url: string }).url);
    assert.ok(urls.includes('https://worldpopulationreview.com/cities/japan/tokyo'), JSON.stringify(urls));
  });
});
