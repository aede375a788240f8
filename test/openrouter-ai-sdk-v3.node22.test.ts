/* eslint-disable @typescript-eslint/no-explicit-any -- the kit's modules are loaded by path, untyped */
/**
 * The current release of OpenRouter's provider for the Vercel AI SDK (`@openrouter/ai-sdk-provider`
 * 3 on `ai` 7, Node 22+), unchanged but for the base URL, against Switchyard's chat completions.
 * Its peer dependency on `ai` 7 cannot share the project's tree with the `ai` 6 of the Node 20
 * tests, so it comes from a client kit (test/clients/ai7, scripts/client-kit.mjs). Version 2 on
 * `ai` 6 is tested in test/openrouter-ai-sdk.test.ts; this file checks the same behaviours on 3.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { chatTurnOf, replay, responseJson, upstreamRecording } from './support/recorded-wire.js';
// @ts-expect-error -- a plain ESM script without type declarations
import { clientKit } from '../scripts/client-kit.mjs';

const KIMI = 'moonshotai/kimi-k2-0905';
const GROQ = 'TestGroqCommon/groq-kimi-k2-0905';
const SYSTEM = 'You are a helpful assistant';
const QUESTION = 'What is the current population of Tokyo? Cite your source.';

/** A module of the kit, by its package's entry file. */
async function fromKit(kit: string, pkg: string): Promise<any> {
  const manifest = (await import(pathToFileURL(join(kit, 'node_modules', pkg, 'package.json')).href, { with: { type: 'json' } })).default;
  const entry = manifest.exports?.['.']?.import ?? manifest.module ?? manifest.main;
  return import(pathToFileURL(join(kit, 'node_modules', pkg, typeof entry === 'string' ? entry : entry.default)).href);
}

describe('@openrouter/ai-sdk-provider 3 (ai 7) → Switchyard chat completions', () => {
  let ai: any;
  let provider: any;
  let groq: MockUpstream;
  let openai: MockUpstream;
  let anthropic: MockUpstream;
  let gw: Gateway;
  let openrouter: any;

  before(async () => {
    const kit: string = clientKit('ai7');
    ai = await fromKit(kit, 'ai');
    provider = await fromKit(kit, '@openrouter/ai-sdk-provider');
    [groq, openai, anthropic] = await Promise.all([startMockUpstream(), startMockUpstream(), startMockUpstream()]);
    gw = await startGateway({ providers: { groq: groq.baseUrl, openai: openai.baseUrl, anthropic: `${anthropic.url}/v1` } });
    openrouter = provider.createOpenRouter({ baseURL: gw.baseUrl, apiKey: 'sk-or-test' });
  });
  after(async () => {
    await gw?.close();
    await Promise.all([groq, openai, anthropic].map((m) => m?.close()));
  });

  it('generateText: the recorded text and usage, and the cost in providerMetadata.openrouter', async () => {
    const [rec] = upstreamRecording(`${GROQ}/simple`, 1);
    groq.enqueue(replay(rec!));
    const want = chatTurnOf(rec!);
    const r = await ai.generateText({ model: openrouter.chat(KIMI, { usage: { include: true } }), system: SYSTEM, prompt: 'Say hi in Portuguese', maxRetries: 0 });
    assert.equal(r.text, want.text);
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.usage.inputTokens, want.usage.prompt_tokens);
    assert.equal(r.usage.outputTokens, want.usage.completion_tokens);
    const cost = want.usage.prompt_tokens * 0.000001 + want.usage.completion_tokens * 0.000003;
    assert.ok(Math.abs(r.providerMetadata.openrouter.usage.cost - cost) < 1e-12, JSON.stringify(r.providerMetadata));
  });

  it('streamText tool loop: tool call, local execute, final text; one finish per step', async () => {
    const [turn1, turn2] = upstreamRecording(`${GROQ}/tool_streaming`, 2);
    groq.enqueue(replay(turn1!), replay(turn2!));
    const calls: unknown[] = [];
    const errors: unknown[] = [];
    const r = ai.streamText({
      model: openrouter.chat(KIMI),
      system: SYSTEM,
      prompt: "What's the weather in Florence,Italy?",
      tools: {
        weather: ai.tool({
          description: 'Get weather information for a location',
          inputSchema: ai.jsonSchema({ type: 'object', properties: { location: { type: 'string', description: 'the city' } }, required: ['location'] }),
          execute: async (input: unknown) => {
            calls.push(input);
            return '40 C';
          },
        }),
      },
      stopWhen: ai.stepCountIs(3),
      maxRetries: 0,
      onError: ({ error }: { error: unknown }) => void errors.push(error),
    });
    const text = await r.text;
    assert.deepEqual(errors, []);
    assert.deepEqual(calls, [JSON.parse(chatTurnOf(turn1!).toolCalls[0]!.arguments)]);
    assert.deepEqual(
      (await r.steps).map((s: any) => s.finishReason),
      ['tool-calls', 'stop'],
    );
    assert.equal(text, chatTurnOf(turn2!).text);
  });

  it(":online: OpenAI's native search (recorded, not streamed) and Anthropic's (recorded, streamed) come back as url sources", async () => {
    const [generated] = upstreamRecording('TestOpenAIWebSearch/generate', 1);
    openai.onRequest((req) => (req.path === '/v1/responses' ? replay(generated!) : { status: 404, json: { error: { message: `no route ${req.path}` } } }));
    const r = await ai.generateText({ model: openrouter.chat('openai/gpt-4.1:online'), system: SYSTEM, prompt: QUESTION, maxRetries: 0 });
    const recorded = responseJson(generated!).output.find((o: any) => o.type === 'message').content[0];
    assert.equal(r.text, recorded.text);
    assert.deepEqual(
      r.sources.filter((s: any) => s.sourceType === 'url').map((s: any) => s.url),
      recorded.annotations.map((a: any) => a.url),
    );

    const [streamedRec] = upstreamRecording('TestAnthropicWebSearch/stream');
    anthropic.onRequest(() => replay(streamedRec!));
    const s = ai.streamText({ model: openrouter.chat('anthropic/claude-sonnet-4:online'), system: SYSTEM, prompt: QUESTION, maxRetries: 0 });
    await s.text;
    const urls = (await s.sources).filter((x: any) => x.sourceType === 'url').map((x: any) => x.url);
    assert.ok(urls.includes('https://worldpopulationreview.com/cities/japan/tokyo'), JSON.stringify(urls));
  });
});
