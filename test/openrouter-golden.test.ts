/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Golden tests over the recorded OpenRouter traffic in
 * test/fixtures/cassettes/openrouter/TestOpenRouterCommon/: kimi-k2 on every recorded provider (all six case
 * types), kimi-k2 with default routing, glm-4.5 / glm-5-turbo, deepseek (v3.2 and v3.1:free), qwen3-235b-a22b-2507,
 * kimi-k2.5 and gpt-5 (OpenAI and Azure).
 *
 * For every interaction, in recorded order (tool loops send the tool result back in the next interaction):
 * - 200: the provider that served it (response `provider` display name -> catalog endpoint) is made the lottery's
 *   first pick, its mock upstream serves the provider-side reply derived from the recording, the recorded client
 *   request goes through a real Switchyard server, and the output must equal the recording byte for byte per SSE
 *   event / per JSON body except for the exceptions listed below. What the provider received is checked as well.
 * - 429: Switchyard must answer 429 with the recorded error body minus `user_id`.
 *
 * The wire era comes from the recording date (ids gen-175…–gen-176… => '2025', later => '2026').
 *
 * Accepted exceptions (everything else is compared byte for byte):
 * 1. `id` and `created` are per run.
 * 2. Cost figures (`cost`, `upstream_inference_cost`, `upstream_inference_prompt_cost`,
 *    `upstream_inference_completions_cost`) when the catalog price differs from the price the recording was billed
 *    at (the catalog carries the newest known prices). Then the test asserts instead that
 *    prompt cost = uncached x prompt price + cached x cache-read price, completion cost = completion tokens x
 *    completion price (catalog), and cost = prompt cost + completion cost (and, 2026, upstream_inference_cost = cost).
 * 3. Recordings of 2026-03-12 end with a usage chunk whose `choices` is `[]`; Switchyard emits the current
 *    (2026-04) shape, one choice (docs/COMPATIBILITY.md#wire-eras, #usage-chunk). That chunk's `choices` is not compared with the recording; it is
 *    checked against the shape Switchyard sends instead (see 9 for its finish reasons).
 * 4. gpt-5: OpenRouter talks to OpenAI/Azure through the Responses API, whose reasoning arrives as
 *    `reasoning.summary` + `reasoning.encrypted` items (format `openai-responses-v1`, with `rs_…` ids and encrypted
 *    blobs). A chat-completions upstream derived from the recording carries only the summary text
 *    (`reasoning_content`), so `reasoning_details` (and the `reasoning: null` that accompanies an encrypted-only
 *    chunk) are not compared for gpt-5; the plain `reasoning` text still is.
 * 5. Provider side: assistant messages lose `reasoning` / `reasoning_details` (OpenRouter-only fields; items of
 *    `format: unknown` or a foreign format may be dropped, docs/COMPATIBILITY.md#reasoning-round-trip), and an assistant tool-call turn sent
 *    without `content` is forwarded with `content: null`. Everything else in `messages` must equal the client's.
 * 6. 429s recorded without provider restrictions (GMICloud): Switchyard falls back to another endpoint on a 429
 *    when one is available (docs/COMPATIBILITY.md#provider-fallback), so to reproduce the recorded surfaced 429 only the rate-limited provider
 *    is enabled for that one interaction.
 * 7. 2025 streams of reasoning-capable chat-completions models (glm-4.5 on Z.AI/Chutes/Parasail, deepseek v3.1:free
 *    on DeepInfra): OpenRouter put `"reasoning_details":[]` with `"reasoning"` null, "" or (Parasail) text on the
 *    chunks, depending on which reasoning fields the upstream itself sent. A derived upstream only carries non-empty
 *    reasoning text (`reasoning_content`), so on chunks where the recording has `reasoning_details: []` that key (and
 *    an empty/null `reasoning`) is not compared; the rest of the chunk is.
 * 8. 2025 non-streaming tool calls: OpenRouter kept the upstream's own tool-call object (key order included) and
 *    appended `index` only when the upstream had none, so where `index` sits is the upstream's choice; a derived
 *    upstream has no `index`. Its position is not compared, its value is (gpt-5: not the value either, which is the
 *    Responses output position, e.g. 1 after a reasoning item).
 * 9. The usage chunk's `finish_reason` and `native_finish_reason` are null in every era, a deliberate difference
 *    from OpenRouter's 2026-03-19/04 streams, which repeat the finish chunk's reasons there: LangChain concatenates
 *    finish reasons across chunks ("stopstop", "tool_callstool_calls"; langchainjs#11054) and ChatOpenAI then
 *    doubles the usage (docs/COMPATIBILITY.md, "Deliberate differences"). Where the recording repeats them, those
 *    two values of the usage chunk's choice are read as null; everything else in that chunk is compared.
 *
 * Which endpoint served: the catalog endpoint with the recorded display name (and matching provider.only); for
 * Moonshot AI, whose plain and turbo endpoints share the name, the one whose catalog prices reproduce (or, after a
 * price change, come closest to) the recorded cost.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fixtureRoot, loadCassette, parseSse, type Interaction } from './support/cassettes.js';
import { replyFromRecording, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { blankIdentity, postChat, readSse, startGateway, type Gateway } from './support/gateway.js';
import { Catalog, loadEmbeddedSources } from '../src/catalog/load.js';
import type { Endpoint } from '../src/catalog/types.js';
import type { WireEra } from '../src/config/load.js';
import type { ChatRequest } from '../src/ingress/chat-completions/schema.js';
import { chatToModel } from '../src/ingress/chat-completions/to-model.js';
import { HealthTracker } from '../src/routing/health.js';
import { matchesProvider, planRoute, unitPrice } from '../src/routing/select.js';

// ---------------------------------------------------------------------------------------------
// The sample
// ---------------------------------------------------------------------------------------------

const ROOT = join(fixtureRoot(), 'openrouter', 'TestOpenRouterCommon');
const CASE_TYPES = ['simple', 'simple_streaming', 'tool', 'tool_streaming', 'multi_tool', 'multi_tool_streaming'] as const;
const CASE = `(?:${[...CASE_TYPES].reverse().join('|')})`;

/** Families under test, each a pattern over the file path relative to TestOpenRouterCommon/. */
const FAMILIES: { name: string; match: RegExp }[] = [
  { name: 'kimi-k2 on every recorded provider (provider.only)', match: new RegExp(`^${CASE}_kimi-k2_[a-z]+(?:/turbo)?\\.yaml$`) },
  { name: 'kimi-k2 with default routing', match: new RegExp(`^(?:${CASE}_kimi-k2\\.yaml|kimi-k2/${CASE}\\.yaml)$`) },
  { name: 'glm-4.5 and glm-5-turbo', match: new RegExp(`^(?:${CASE}_glm-4\\.5\\.yaml|glm-4\\.5/${CASE}\\.yaml|glm/${CASE}\\.yaml)$`) },
  {
    name: 'deepseek v3.2 and v3.1:free',
    match: new RegExp(`^(?:deepseek/deepseek-v3\\.2/${CASE}\\.yaml|${CASE}_deepseek-chat-v3\\.1-free(?:_deepinfra)?\\.yaml|deepseek-chat-v3\\.1-free/${CASE}\\.yaml)$`),
  },
  { name: 'qwen3-235b-a22b-2507', match: new RegExp(`^(?:${CASE}_qwen3-235b-a22b-2507\\.yaml|qwen3-235b-a22b-2507/${CASE}\\.yaml)$`) },
  { name: 'kimi-k2.5 (2026)', match: new RegExp(`^kimi/${CASE}\\.yaml$`) },
  { name: 'gpt-5 (OpenAI, Azure)', match: new RegExp(`^(?:${CASE}_gpt-5(?:_openai|_azure)?\\.yaml|gpt-5/${CASE}\\.yaml)$`) },
];

function walk(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.yaml') ? [p] : [];
    })
    .sort();
}

const ALL_FILES = walk(ROOT).map((p) => relative(ROOT, p).split('\\').join('/'));

/** Models whose OpenRouter upstream is OpenAI's Responses API (exception 4). */
const RESPONSES_UPSTREAM_MODELS = new Set(['openai/gpt-5']);

// ---------------------------------------------------------------------------------------------
// Recording helpers
// ---------------------------------------------------------------------------------------------

const isStream = (rec: Interaction) => rec.response.code === 200 && !rec.response.body.trimStart().startsWith('{');

function recordedEvents(rec: Interaction): string[] {
  return parseSse(rec.response.body).events;
}

/** The first JSON object of a 200 response (the body, or the first chunk). */
function recordedHead(rec: Interaction): any {
  return isStream(rec) ? JSON.parse(recordedEvents(rec)[0]) : JSON.parse(rec.response.body.trim());
}

function recordedUsage(rec: Interaction): any {
  if (!isStream(rec)) return JSON.parse(rec.response.body.trim()).usage;
  const withUsage = recordedEvents(rec).filter((e) => e !== '[DONE]' && JSON.parse(e).usage);
  return JSON.parse(withUsage[withUsage.length - 1]).usage;
}

/** '2025' for gen-175…/gen-176… ids, '2026' for gen-177… (docs/COMPATIBILITY.md#wire-eras). */
function eraOf(its: Interaction[]): WireEra {
  const ok = its.find((r) => r.response.code === 200);
  assert.ok(ok, 'cassette has a 200 interaction');
  const unix = Number(/^gen-(\d+)-/.exec(recordedHead(ok).id)![1]);
  return unix < 1_767_225_600 ? '2025' : '2026'; // 2026-01-01
}

/** The 2026-03-12 shape: usage chunk with `choices: []` (exception 3). */
function hasEmptyUsageChoices(rec: Interaction): boolean {
  if (!isStream(rec)) return false;
  return recordedEvents(rec).some((e) => e !== '[DONE]' && JSON.parse(e).usage && Array.isArray(JSON.parse(e).choices) && JSON.parse(e).choices.length === 0);
}

// ---------------------------------------------------------------------------------------------
// Catalog helpers
// ---------------------------------------------------------------------------------------------

const CATALOG = Catalog.from(loadEmbeddedSources());
const round12 = (x: number) => (x <= 0 ? 0 : Number(x.toPrecision(12)));

interface ExpectedCost {
  prompt: number;
  completion: number;
  total: number;
}

/** Cost of a usage object at an endpoint's catalog prices, computed independently of src/accounting. */
function catalogCost(ep: Endpoint, usage: any): ExpectedCost {
  const p = ep.pricing;
  const prompt = Number(p.prompt);
  const cacheRead = p.input_cache_read === undefined ? prompt : Number(p.input_cache_read);
  const cacheWrite = p.input_cache_write === undefined ? prompt : Number(p.input_cache_write);
  const keep = 1 - (p.discount ?? 0);
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  const written = usage.prompt_tokens_details?.cache_write_tokens ?? 0;
  const uncached = Math.max(0, usage.prompt_tokens - cached - written);
  const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0;
  const completionTokens = p.internal_reasoning === undefined ? usage.completion_tokens : usage.completion_tokens - reasoning;
  const reasoningCost = p.internal_reasoning === undefined ? 0 : reasoning * Number(p.internal_reasoning);
  const promptCost = round12((uncached * prompt + cached * cacheRead + written * cacheWrite + Number(p.request ?? 0)) * keep);
  const completionCost = round12((completionTokens * Number(p.completion) + reasoningCost) * keep);
  return { prompt: promptCost, completion: completionCost, total: round12(promptCost + completionCost) };
}

function priceMatchesRecording(ep: Endpoint, usage: any): boolean {
  const want = catalogCost(ep, usage);
  const cd = usage.cost_details ?? {};
  return cd.upstream_inference_prompt_cost === want.prompt && cd.upstream_inference_completions_cost === want.completion && usage.cost === want.total;
}

/**
 * The catalog endpoint that served a recorded response: the model's endpoints whose provider display name is the
 * recorded `provider`, narrowed by the request's provider.only and, when a provider has several endpoints
 * (moonshotai vs moonshotai/turbo), by which one's price reproduces the recorded cost.
 */
function servingEndpoint(body: any, providerName: string, usage: any): Endpoint {
  const model = CATALOG.models.get(body.model);
  assert.ok(model, `catalog has no model ${body.model}`);
  let eps = CATALOG.endpointsOf(model).filter((ep) => ep.provider.name === providerName);
  assert.ok(eps.length > 0, `catalog: no endpoint of ${body.model} is served by provider "${providerName}" (the recording was)`);
  const only: string[] | undefined = body.provider?.only;
  if (only?.length) eps = eps.filter((ep) => only.some((n) => matchesProvider(ep, n)));
  assert.ok(eps.length > 0, `catalog: ${providerName} endpoints of ${body.model} do not match provider.only ${JSON.stringify(only)}`);
  if (eps.length > 1 && usage) {
    const priced = eps.filter((ep) => priceMatchesRecording(ep, usage));
    if (priced.length === 1) return priced[0];
    // No exact match (prices changed since): the endpoint whose catalog prices are closest to what was billed.
    const cd = usage.cost_details ?? {};
    const distance = (ep: Endpoint) => {
      const c = catalogCost(ep, usage);
      const d = (a: number, b: number) => (a > 0 && b > 0 ? Math.abs(Math.log(a / b)) : a === b ? 0 : 10);
      return d(cd.upstream_inference_prompt_cost, c.prompt) + d(cd.upstream_inference_completions_cost, c.completion);
    };
    return [...eps].sort((a, b) => distance(a) - distance(b))[0];
  }
  return eps.find((ep) => ep.tag === ep.provider.slug) ?? eps[0];
}

/**
 * An RNG that makes the default price-weighted lottery (1/price², docs/COMPATIBILITY.md#default-load-balancing) pick `key` first among the endpoints
 * that survive this request's filters (provider.only, tools, max_tokens, …). Like test/support's rngPicking, but
 * over the filtered pool, so that e.g. provider.only ["moonshotai"] (which also matches moonshotai/turbo) is
 * deterministic too.
 */
function rngFor(gw: Gateway, body: any, key: string): () => number {
  const app = gw.app;
  const plan = planRoute({ catalog: app.settings.catalog, providers: app.settings.providers, health: app.health, rng: () => 0 }, chatToModel(body as ChatRequest, JSON.stringify((body as ChatRequest).messages ?? '').length));
  const keys = new Set(plan.candidates.map((c) => c.endpoint.key));
  const model = plan.candidates[0].endpoint.model;
  const pool = app.settings.catalog.endpointsOf(model).filter((ep) => keys.has(ep.key));
  const weights = pool.map((ep) => 1 / Math.max(unitPrice(ep), 1e-12) ** 2);
  const i = pool.findIndex((ep) => ep.key === key);
  if (i < 0) throw new Error(`${key} is not a candidate endpoint of ${body.model} for this request`);
  const total = weights.reduce((a, b) => a + b, 0);
  const before = weights.slice(0, i).reduce((a, b) => a + b, 0);
  const r = (before + weights[i] / 2) / total;
  return () => r;
}

// ---------------------------------------------------------------------------------------------
// Comparison helpers
// ---------------------------------------------------------------------------------------------

interface NormOptions {
  era: WireEra;
  maskCost: boolean;
  ignoreUsageChoices: boolean;
  responsesUpstream: boolean;
}

const COST_KEYS = /"(cost|upstream_inference_cost|upstream_inference_prompt_cost|upstream_inference_completions_cost)":-?[0-9.eE+-]+/g;

/** The delta (streams) or message (bodies) of a parsed chunk/body, if any. */
function partOf(o: any): any {
  const c = Array.isArray(o?.choices) ? o.choices[0] : undefined;
  return c?.delta ?? c?.message;
}

/**
 * Applies the upstream-decided exceptions to a pair (Switchyard's, the recording's) of parsed chunks/bodies.
 * Returns true when it changed anything; then both sides are re-serialised the same way.
 */
function applyUpstreamExceptions(got: any, want: any, opts: NormOptions): boolean {
  const g = partOf(got);
  const w = partOf(want);
  if (!g || !w) return false;
  let changed = false;
  if (opts.responsesUpstream) {
    // Exception 4: Responses-API reasoning items (summary + encrypted, openai-responses-v1) cannot come through a
    // chat-completions upstream; only the plain `reasoning` text is compared.
    const isDelta = 'delta' in want.choices[0];
    for (const part of [g, w]) {
      if (!('reasoning_details' in part)) continue;
      delete part.reasoning_details;
      // An encrypted-only chunk says `reasoning: null`; messages always carry `reasoning`.
      if (isDelta && part.reasoning === null) delete part.reasoning;
      changed = true;
    }
  }
  if (opts.era === '2025' && 'delta' in want.choices[0] && Array.isArray(w.reasoning_details) && w.reasoning_details.length === 0) {
    // Exception 7: 2025 chunks of reasoning-capable chat-completions upstreams carry `reasoning_details: []` with
    // `reasoning` null, "" or (Parasail) text, depending on which reasoning fields the upstream itself sent; a
    // derived upstream only carries non-empty reasoning text. Compare the rest of the chunk.
    delete w.reasoning_details;
    delete g.reasoning_details;
    if (w.reasoning === null || w.reasoning === '') {
      delete w.reasoning;
      if (g.reasoning === null || g.reasoning === '') delete g.reasoning;
    }
    changed = true;
  }
  if (opts.era === '2025' && 'message' in want.choices[0]) {
    // Exception 8: where `index` sits in a 2025 non-streaming tool call is the upstream's own key order (OpenRouter
    // kept the upstream object and appended `index` only when it was missing); a derived upstream has no `index`.
    for (const part of [g, w]) {
      if (!Array.isArray(part.tool_calls)) continue;
      part.tool_calls = part.tool_calls.map((tc: any) => {
        const { index, ...rest } = tc;
        // gpt-5: the value is the Responses output position (the reasoning item comes first), not the call's position.
        return { ...rest, index: opts.responsesUpstream ? '*' : index };
      });
      changed = true;
    }
  }
  return changed;
}

/** A (got, want) pair of SSE payloads or JSON bodies, normalised for comparison. */
function normalisePair(gotRaw: string, wantRaw: string, opts: NormOptions): [string, string] {
  if (gotRaw === '[DONE]' || wantRaw === '[DONE]') return [gotRaw, wantRaw];
  let [g, w] = [blankIdentity(gotRaw), blankIdentity(wantRaw)];
  let go: any, wo: any;
  try {
    go = JSON.parse(g);
    wo = JSON.parse(w);
  } catch {
    return [g, w];
  }
  let changed = applyUpstreamExceptions(go, wo, opts);
  const usageChoice = wo?.usage && Array.isArray(wo.choices) ? wo.choices[0] : undefined;
  if (usageChoice && 'delta' in usageChoice && (usageChoice.finish_reason !== null || usageChoice.native_finish_reason !== null)) {
    // Exception 9: the usage chunk's finish reasons are null in every era (not repeated as OpenRouter 2026 does).
    usageChoice.finish_reason = null;
    usageChoice.native_finish_reason = null;
    changed = true;
  }
  if (changed) [g, w] = [JSON.stringify(go), JSON.stringify(wo)];
  const rest = (s: string) => {
    if (opts.ignoreUsageChoices && s.includes('"usage":')) s = s.replace(/"choices":\[.*?\](?=,"usage")/, '"choices":"*"');
    if (opts.maskCost) s = s.replace(COST_KEYS, '"$1":"*"');
    return s;
  };
  return [rest(g), rest(w)];
}

function assertSameEvents(got: string[], want: string[], opts: NormOptions): void {
  const n = Math.min(got.length, want.length);
  for (let i = 0; i < n; i++) {
    const [g, w] = normalisePair(got[i], want[i], opts);
    assert.equal(g, w, `SSE event #${i} of ${want.length} differs`);
  }
  assert.equal(got.length, want.length, `got ${got.length} SSE events, the recording has ${want.length}`);
}

function assertCostFromCatalog(ep: Endpoint, usage: any, era: WireEra): void {
  const want = catalogCost(ep, usage);
  const cd = usage.cost_details;
  assert.equal(cd.upstream_inference_prompt_cost, want.prompt, `prompt cost = tokens x ${ep.key} catalog price`);
  assert.equal(cd.upstream_inference_completions_cost, want.completion, `completion cost = tokens x ${ep.key} catalog price`);
  assert.equal(usage.cost, round12(cd.upstream_inference_prompt_cost + cd.upstream_inference_completions_cost), 'cost = prompt cost + completion cost');
  if (era === '2026') assert.equal(cd.upstream_inference_cost, usage.cost, '2026: upstream_inference_cost = cost');
  else assert.equal(cd.upstream_inference_cost, null, '2025: upstream_inference_cost is null');
}

// ---------------------------------------------------------------------------------------------
// Provider-side expectations
// ---------------------------------------------------------------------------------------------

/** The client's messages as the provider should receive them (exception 5). */
function expectedUpstreamMessages(messages: any[]): any[] {
  return messages.map((m) => {
    const out = { ...m };
    delete out.reasoning;
    delete out.reasoning_details;
    if (out.role === 'assistant' && Array.isArray(out.tool_calls) && !('content' in out)) out.content = null;
    return out;
  });
}

function assertForwarded(sent: any, client: any, ep: Endpoint): void {
  assert.equal(sent.model, ep.upstreamModel, `upstream model id of ${ep.key} from the catalog`);
  assert.deepEqual(sent.messages, expectedUpstreamMessages(client.messages), 'messages forwarded as the client sent them');
  if (client.tools) assert.deepEqual(sent.tools, client.tools, 'tools forwarded');
  else assert.equal(sent.tools, undefined);
  assert.equal(sent.tool_choice, client.tool_choice, 'tool_choice forwarded');
  const isOpenAI = ep.provider.slug === 'openai' || ep.provider.slug === 'azure';
  const maxTokens = client.max_completion_tokens ?? client.max_tokens;
  assert.equal(sent[isOpenAI ? 'max_completion_tokens' : 'max_tokens'], maxTokens, 'output-token limit forwarded');
  if (client.stream === true) {
    assert.equal(sent.stream, true);
    assert.deepEqual(sent.stream_options, { include_usage: true }, 'streams ask the provider for usage');
  } else {
    assert.equal(sent.stream, undefined);
    assert.equal(sent.stream_options, undefined);
  }
  assert.equal(sent.usage, undefined, 'OpenRouter-only `usage` is not forwarded');
  assert.equal(sent.provider, undefined, 'OpenRouter-only `provider` is not forwarded');
}

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

const mocks = new Map<string, MockUpstream>();
const gateways = new Map<WireEra, Gateway>();

before(async () => {
  for (const slug of CATALOG.providers.keys()) mocks.set(slug, await startMockUpstream());
  const providers = Object.fromEntries([...mocks].map(([slug, m]) => [slug, m.baseUrl]));
  for (const era of ['2025', '2026'] as const) gateways.set(era, await startGateway({ era, providers }));
});

after(async () => {
  for (const gw of gateways.values()) await gw.close();
  for (const m of mocks.values()) await m.close();
});

function requestCounts(): Map<string, number> {
  return new Map([...mocks].map(([slug, m]) => [slug, m.requests.length]));
}

function assertOnlyCalled(before: Map<string, number>, slug: string): void {
  for (const [s, m] of mocks) {
    assert.equal(m.requests.length - before.get(s)!, s === slug ? 1 : 0, `requests received by mock ${s}`);
  }
}

async function runSuccess(t: TestContext, gw: Gateway, era: WireEra, rec: Interaction): Promise<void> {
  const client = JSON.parse(rec.request.body);
  const head = recordedHead(rec);
  const usage = recordedUsage(rec);
  const ep = servingEndpoint(client, head.provider, usage);
  const mock = mocks.get(ep.provider.slug)!;
  gw.app.rng = rngFor(gw, client, ep.key);

  const priceOk = priceMatchesRecording(ep, usage);
  if (!priceOk) {
    const want = catalogCost(ep, usage);
    t.diagnostic(
      `cost masked: recorded prompt/completion ${usage.cost_details.upstream_inference_prompt_cost}/${usage.cost_details.upstream_inference_completions_cost}, ` +
        `catalog (${ep.key}) gives ${want.prompt}/${want.completion}`,
    );
  }
  const opts: NormOptions = {
    era,
    maskCost: !priceOk,
    ignoreUsageChoices: hasEmptyUsageChoices(rec),
    responsesUpstream: RESPONSES_UPSTREAM_MODELS.has(client.model),
  };

  const counts = requestCounts();
  mock.enqueue(replyFromRecording(rec.response, { upstreamModel: ep.upstreamModel }));
  const res = await postChat(gw, rec.request.body);
  assert.equal(res.status, 200);
  const genId = res.headers.get('x-generation-id');
  assert.match(genId ?? '', /^gen-\d+-[A-Za-z0-9]{20}$/);

  let gotUsage: any;
  if (client.stream === true) {
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const got = await readSse(res);
    const want = recordedEvents(rec);
    assertSameEvents(got.events, want, opts);
    const chunks = got.events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
    assert.deepEqual([...new Set(chunks.map((c) => c.id))], [genId], 'one generation id across all chunks, = X-Generation-Id');
    const usageChunks = chunks.filter((c) => c.usage);
    assert.equal(usageChunks.length, 1, 'exactly one usage chunk');
    assert.equal(chunks.indexOf(usageChunks[0]), chunks.length - 1, 'the usage chunk is the last data event');
    gotUsage = usageChunks[0].usage;
    if (opts.ignoreUsageChoices) {
      // Exception 3: the 2026-04 shape, with the finish reasons null (exception 9).
      assert.deepEqual(usageChunks[0].choices, [{ index: 0, delta: { content: '', role: 'assistant' }, finish_reason: null, native_finish_reason: null }]);
    }
  } else {
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const text = (await res.text()).trim(); // both may carry leading whitespace keep-alive (docs/COMPATIBILITY.md#whitespace-keep-alive)
    const [g, w] = normalisePair(text, rec.response.body.trim(), opts);
    assert.equal(g, w, 'response body');
    const body = JSON.parse(text);
    assert.equal(body.id, genId, 'body id = X-Generation-Id');
    gotUsage = body.usage;
  }
  if (!priceOk) assertCostFromCatalog(ep, gotUsage, era);

  assertOnlyCalled(counts, ep.provider.slug);
  const sent = mock.requests.at(-1)!;
  assert.equal(sent.path, '/v1/chat/completions');
  // Azure takes its key in api-key (src/providers/azure/), every other host as a bearer token.
  if (ep.provider.slug === 'azure') assert.equal(sent.headers['api-key'], 'test-key-azure');
  else assert.equal(sent.headers.authorization, `Bearer test-key-${ep.provider.slug}`);
  assertForwarded(sent.json, client, ep);
}

async function runRateLimited(gw: Gateway, rec: Interaction): Promise<void> {
  const client = JSON.parse(rec.request.body);
  const recorded = JSON.parse(rec.response.body);
  const ep = servingEndpoint(client, recorded.error.metadata.provider_name, null);
  const mock = mocks.get(ep.provider.slug)!;
  // Exception 6: only the rate-limited provider is enabled, so nothing else can absorb the 429.
  const runtimes = gw.app.settings.providers;
  const saved = new Map([...runtimes].map(([slug, rt]) => [slug, rt.enabled]));
  for (const [slug, rt] of runtimes) rt.enabled = slug === ep.provider.slug;
  try {
    gw.app.rng = rngFor(gw, client, ep.key);
    const counts = requestCounts();
    mock.enqueue(replyFromRecording(rec.response));
    const res = await postChat(gw, rec.request.body);
    assert.equal(res.status, 429);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    delete recorded.user_id; // an OpenRouter account id; Switchyard has none to report
    assert.equal(await res.text(), JSON.stringify(recorded), 'error body = recording minus user_id, byte for byte');
    assertOnlyCalled(counts, ep.provider.slug);
    assertForwarded(mock.requests.at(-1)!.json, client, ep);
  } finally {
    for (const [slug, rt] of runtimes) rt.enabled = saved.get(slug)!;
  }
}

// ---------------------------------------------------------------------------------------------
// The tests, generated from the file list
// ---------------------------------------------------------------------------------------------

describe('OpenRouter golden recordings (TestOpenRouterCommon)', () => {
  it('the sample covers kimi-k2 on every recorded provider with all six case types', () => {
    const providers = new Map<string, Set<string>>();
    for (const f of ALL_FILES) {
      const m = new RegExp(`^(${CASE})_kimi-k2_([a-z]+(?:/turbo)?)\\.yaml$`).exec(f);
      if (!m) continue;
      if (!providers.has(m[2])) providers.set(m[2], new Set());
      providers.get(m[2])!.add(m[1]);
    }
    assert.ok(providers.size >= 10, `found kimi-k2 recordings for ${[...providers.keys()].join(', ')}`);
    for (const [p, cases] of providers) assert.deepEqual([...cases].sort(), [...CASE_TYPES].sort(), `case types recorded for ${p}`);
  });

  for (const family of FAMILIES) {
    const files = ALL_FILES.filter((f) => family.match.test(f));
    describe(family.name, () => {
      it('has recordings', () => assert.ok(files.length > 0));
      for (const file of files) {
        const its = loadCassette(join(ROOT, file));
        const era = eraOf(its);
        describe(`${file} (era ${era})`, () => {
          its.forEach((rec, i) => {
            const client = JSON.parse(rec.request.body);
            const label =
              rec.response.code === 200
                ? `#${i} ${client.stream ? 'stream' : 'json'} served by ${recordedHead(rec).provider}`
                : `#${i} ${rec.response.code} from ${JSON.parse(rec.response.body).error?.metadata?.provider_name}`;
            it(label, async (t) => {
              const gw = gateways.get(era)!;
              gw.app.health = new HealthTracker(gw.app.settings.failureWindowMs); // no carry-over between interactions
              if (rec.response.code === 200) await runSuccess(t, gw, era, rec);
              else if (rec.response.code === 429) await runRateLimited(gw, rec);
              else assert.fail(`unexpected recorded status ${rec.response.code}`);
            });
          });
        });
      }
    });
  }
});
