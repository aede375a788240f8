/**
 * Unit tests of the routing engine over a synthetic catalog: every preference alone and in
 * combination, seeded randomness, the inverse-square distribution, health and the breaker.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Catalog } from '../src/catalog/load.js';
import type { ProviderRuntime } from '../src/config/load.js';
import { KeyPool } from '../src/upstream/key-pool.js';
import type { ChatRequest } from '../src/ingress/chat-completions/schema.js';
import { chatToModel } from '../src/ingress/chat-completions/to-model.js';
import type { GenerationRequest } from '../src/model/request.js';
import { HealthTracker } from '../src/routing/health.js';
import { planRoute, type RouteContext } from '../src/routing/select.js';
import { ApiError } from '../src/core/errors.js';

const provider = (slug: string, name: string, extra: Record<string, unknown> = {}) => ({ slug, name, protocol: 'openai', base_url: `https://${slug}.example/v1`, ...extra });
const endpoint = (prov: string, prompt: number, completion: number, extra: Record<string, unknown> = {}) => ({
  provider: prov,
  upstream_model: `${prov}-model`,
  pricing: { prompt: String(prompt / 1e6), completion: String(completion / 1e6) },
  context_length: 128_000,
  max_completion_tokens: 16_384,
  quantization: 'fp8',
  supported_parameters: ['tools', 'tool_choice', 'max_tokens', 'temperature', 'response_format'],
  ...extra,
});

const catalog = Catalog.from([
  {
    origin: 'test',
    source: {
      providers: [
        provider('alpha', 'Alpha', { data_collection: 'deny', zdr: true }),
        provider('beta', 'Beta AI'),
        provider('gamma', 'Gamma', { data_collection: 'deny' }),
        provider('delta', 'Delta'),
      ],
      models: [
        {
          id: 'acme/big',
          canonical_slug: 'acme/big-2026',
          endpoints: [
            endpoint('alpha', 0.5, 0.5), // unit price $1/M
            endpoint('beta', 1, 1, { quantization: 'mxfp8' }), // $2/M
            endpoint('beta', 2, 2, { tag: 'beta/turbo', quantization: 'fp16' }), // $4/M
            endpoint('gamma', 1.5, 1.5, { supported_parameters: ['max_tokens', 'temperature'], max_completion_tokens: 4096 }), // $3/M, no tools
            endpoint('delta', 3, 3, { context_length: 8000 }), // $6/M
          ],
        },
        { id: 'acme/small', endpoints: [endpoint('delta', 0.1, 0.1), endpoint('alpha', 0.2, 0.2)] },
        { id: 'acme/small:free', endpoints: [endpoint('alpha', 0, 0)] },
        // Small windows, which compress by default (at most 8k of context).
        {
          id: 'acme/tiny',
          endpoints: [
            endpoint('alpha', 0.5, 0.5, { context_length: 4000 }),
            endpoint('beta', 1, 1, { context_length: 6000 }),
            endpoint('gamma', 2, 2, { context_length: 6000, supported_parameters: ['max_tokens'] }),
          ],
        },
        { id: 'acme/mini', endpoints: [endpoint('delta', 1, 1, { context_length: 7000 })] },
      ],
    },
  },
]);

function seeded(seed: number): () => number {
  // mulberry32: small, fast, reproducible
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ctx(opts: { rng?: () => number; health?: HealthTracker; disabled?: string[] } = {}): RouteContext {
  const providers = new Map<string, ProviderRuntime>();
  for (const entry of catalog.providers.values()) {
    providers.set(entry.slug, {
      entry,
      enabled: !(opts.disabled ?? []).includes(entry.slug),
      apiKey: 'k',
      keys: new KeyPool([{ secret: 'k', label: 'key-1', weight: 1 }]),
      baseUrl: entry.base_url,
      headers: {},
      timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 1000 },
    });
  }
  return { catalog, providers, health: opts.health ?? new HealthTracker(), rng: opts.rng ?? seeded(1) };
}

const req = (extra: Record<string, unknown> = {}): GenerationRequest => {
  const chat = { model: 'acme/big', messages: [{ role: 'user', content: 'hi' }], ...extra } as ChatRequest;
  return chatToModel(chat, JSON.stringify(chat.messages ?? '').length);
};
const keys = (c: RouteContext, r: GenerationRequest) => planRoute(c, r).candidates.map((x) => x.endpoint.key);
const rejects = (c: RouteContext, r: GenerationRequest, status: number, message: RegExp) =>
  assert.throws(
    () => planRoute(c, r),
    (err: unknown) => err instanceof ApiError && err.status === status && message.test(err.message),
  );

describe('default load balancing', () => {
  it('draws the first endpoint with probability ∝ 1/price² (within 2% over 20,000 draws)', () => {
    const c = ctx({ rng: seeded(42) });
    const counts = new Map<string, number>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const first = keys(c, req())[0];
      counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    const prices: Record<string, number> = { alpha: 1, beta: 2, 'beta/turbo': 4, gamma: 3, delta: 6 };
    const total = Object.values(prices).reduce((s, p) => s + 1 / p ** 2, 0);
    for (const [key, price] of Object.entries(prices)) {
      const expected = 1 / price ** 2 / total;
      const got = (counts.get(key) ?? 0) / n;
      assert.ok(Math.abs(got - expected) < 0.02, `${key}: expected ${expected.toFixed(3)}, got ${got.toFixed(3)}`);
    }
  });

  it('is reproducible with the same seed, and every endpoint stays as a fallback', () => {
    assert.deepEqual(keys(ctx({ rng: seeded(7) }), req()), keys(ctx({ rng: seeded(7) }), req()));
    assert.equal(new Set(keys(ctx(), req())).size, 5);
  });

  it('puts endpoints that failed in the last 30 s last, cheapest first among them', () => {
    const health = new HealthTracker();
    health.recordFailure('acme/big|alpha');
    health.recordFailure('acme/big|beta');
    for (let seed = 0; seed < 50; seed++) {
      const order = keys(ctx({ health, rng: seeded(seed) }), req());
      assert.deepEqual(order.slice(-2), ['alpha', 'beta']);
    }
  });

  it('skips providers without credentials and says so when none is left', () => {
    assert.deepEqual(new Set(keys(ctx({ disabled: ['beta', 'delta'] }), req())), new Set(['alpha', 'gamma']));
    rejects(ctx({ disabled: ['alpha', 'beta', 'gamma', 'delta'] }), req(), 503, /No provider is configured for acme\/big: set one of ALPHA_API_KEY/);
  });
});

describe('provider preferences', () => {
  it('only / ignore match slugs, tags and display names case-insensitively; a base slug matches its variants', () => {
    assert.deepEqual(new Set(keys(ctx(), req({ provider: { only: ['beta'] } }))), new Set(['beta', 'beta/turbo']));
    assert.deepEqual(keys(ctx(), req({ provider: { only: ['BETA/TURBO'] } })), ['beta/turbo']);
    assert.deepEqual(new Set(keys(ctx(), req({ provider: { only: ['beta ai'] } }))), new Set(['beta', 'beta/turbo']));
    assert.deepEqual(new Set(keys(ctx(), req({ provider: { ignore: ['Beta AI', 'delta'] } }))), new Set(['alpha', 'gamma']));
    rejects(ctx(), req({ provider: { only: ['nobody'] } }), 404, /No endpoints found for acme\/big matching provider.only/);
  });

  it('order comes first, then the rest; allow_fallbacks:false keeps only the ordered ones', () => {
    assert.deepEqual(keys(ctx(), req({ provider: { order: ['delta', 'gamma'] } })).slice(0, 2), ['delta', 'gamma']);
    assert.deepEqual(keys(ctx(), req({ provider: { order: ['delta', 'gamma'], allow_fallbacks: false } })), ['delta', 'gamma']);
    assert.equal(keys(ctx(), req({ provider: { allow_fallbacks: false } })).length, 1);
    rejects(ctx(), req({ provider: { order: ['nobody'], allow_fallbacks: false } }), 404, /provider.order/);
  });

  it('sort: price is strict and deterministic; :floor does the same; explicit sort wins over a variant', () => {
    assert.deepEqual(keys(ctx(), req({ provider: { sort: 'price' } })), ['alpha', 'beta', 'gamma', 'beta/turbo', 'delta']);
    assert.deepEqual(keys(ctx(), req({ model: 'acme/big:floor' })), ['alpha', 'beta', 'gamma', 'beta/turbo', 'delta']);
    assert.deepEqual(keys(ctx(), req({ provider: { sort: { by: 'price' } } })), ['alpha', 'beta', 'gamma', 'beta/turbo', 'delta']);
    rejects(ctx(), req({ provider: { sort: 'fastest' } }), 400, /provider.sort/);
  });

  it('sort: latency and throughput follow measured stats; :nitro sorts by throughput', () => {
    const health = new HealthTracker();
    const ttft: Record<string, number> = { alpha: 900, beta: 100, 'beta/turbo': 300, gamma: 500, delta: 700 };
    const tps: Record<string, number> = { alpha: 10, beta: 50, 'beta/turbo': 200, gamma: 20, delta: 30 };
    for (const [k, v] of Object.entries(ttft)) health.recordSuccess(`acme/big|${k}`, v, tps[k]);
    assert.deepEqual(keys(ctx({ health }), req({ provider: { sort: 'latency' } })), ['beta', 'beta/turbo', 'gamma', 'delta', 'alpha']);
    assert.deepEqual(keys(ctx({ health }), req({ provider: { sort: 'throughput' } })), ['beta/turbo', 'beta', 'delta', 'gamma', 'alpha']);
    assert.deepEqual(keys(ctx({ health }), req({ model: 'acme/big:nitro' })), ['beta/turbo', 'beta', 'delta', 'gamma', 'alpha']);
  });

  it('preferred_max_latency (seconds) and preferred_min_throughput deprioritise without excluding', () => {
    const health = new HealthTracker();
    for (const [k, ms, t] of [['alpha', 3000, 5], ['beta', 200, 80], ['beta/turbo', 250, 90], ['gamma', 2500, 60], ['delta', 300, 70]] as const) {
      health.recordSuccess(`acme/big|${k}`, ms, t);
    }
    for (let seed = 0; seed < 20; seed++) {
      const order = keys(ctx({ health, rng: seeded(seed) }), req({ provider: { preferred_max_latency: 1 } }));
      assert.deepEqual(new Set(order.slice(-2)), new Set(['alpha', 'gamma']), order.join());
      const byTps = keys(ctx({ health, rng: seeded(seed) }), req({ provider: { preferred_min_throughput: { p50: 65 } } }));
      assert.deepEqual(new Set(byTps.slice(-2)), new Set(['alpha', 'gamma']));
    }
  });

  it('quantizations: fp8 admits mxfp8', () => {
    assert.deepEqual(new Set(keys(ctx(), req({ provider: { quantizations: ['fp8'] } }))), new Set(['alpha', 'beta', 'gamma', 'delta']));
    assert.deepEqual(keys(ctx(), req({ provider: { quantizations: ['fp16'] } })), ['beta/turbo']);
    rejects(ctx(), req({ provider: { quantizations: ['int4'] } }), 404, /quantization int4/);
  });

  it('data_collection: deny and zdr use the provider policies', () => {
    assert.deepEqual(new Set(keys(ctx(), req({ provider: { data_collection: 'deny' } }))), new Set(['alpha', 'gamma']));
    assert.deepEqual(keys(ctx(), req({ provider: { zdr: true } })), ['alpha']);
  });

  it('max_price is USD per million tokens (numbers or strings) and a hard filter', () => {
    assert.deepEqual(new Set(keys(ctx(), req({ provider: { max_price: { prompt: 1, completion: '1.5' } } }))), new Set(['alpha', 'beta']));
    rejects(ctx(), req({ provider: { max_price: { prompt: 0.1 } } }), 404, /max_price/);
  });

  it('tools only go to tool-capable endpoints; max_tokens respects max output; require_parameters is strict', () => {
    const tools = [{ type: 'function', function: { name: 'add', parameters: { type: 'object' } } }];
    assert.ok(!keys(ctx(), req({ tools })).includes('gamma'));
    assert.ok(!keys(ctx(), req({ max_tokens: 8000 })).includes('gamma'));
    assert.ok(keys(ctx(), req({ max_tokens: 4000 })).includes('gamma'));
    assert.deepEqual(keys(ctx(), req({ provider: { only: ['gamma'] }, temperature: 0.1 })), ['gamma']);
    rejects(ctx(), req({ provider: { only: ['gamma'], require_parameters: true }, response_format: { type: 'json_object' } }), 404, /support all requested parameters/);
    rejects(ctx(), req({ provider: { only: ['gamma'] }, tools }), 404, /No endpoints found that support tool use/);
  });

  it('a prompt longer than every context window is a 400 context-length error', () => {
    const long = 'x'.repeat(40_000); // ~10k tokens: over delta's 8k window only
    // transforms: [] turns off the compression small windows get by default.
    assert.ok(!keys(ctx(), req({ messages: [{ role: 'user', content: long }], transforms: [] })).includes('delta'));
    rejects(ctx(), req({ provider: { only: ['delta'] }, messages: [{ role: 'user', content: long }], transforms: [] }), 400, /exceeds the context length/);
  });

  it('a window of at most 8k compresses by default: it qualifies with half the context the prompt needs', () => {
    assert.ok(keys(ctx(), req({ messages: [{ role: 'user', content: 'x'.repeat(40_000) }] })).includes('delta'));
    // ~20k tokens: not even half fits delta's 8k, but as the largest window left it still serves, compressing.
    const plan = planRoute(ctx(), req({ provider: { only: ['delta'] }, messages: [{ role: 'user', content: 'x'.repeat(80_000) }] }));
    assert.deepEqual(plan.candidates.map((c) => c.endpoint.key), ['delta']);
  });

  it('explains every skipped endpoint', () => {
    const plan = planRoute(ctx({ disabled: ['delta'] }), req({ provider: { ignore: ['gamma'], quantizations: ['fp8'] } }));
    const skipped = Object.fromEntries(plan.considered.filter((c) => c.skipped).map((c) => [c.endpoint, c.skipped]));
    assert.deepEqual(skipped, {
      delta: 'provider not configured',
      gamma: 'in provider.ignore',
      'beta/turbo': 'quantization fp16 not in provider.quantizations',
    });
    assert.deepEqual(plan.considered.filter((c) => !c.skipped).map((c) => c.endpoint).sort(), ['alpha', 'beta']);
  });
});

describe('context-compression fallback: the largest context when none qualifies', () => {
  const long = [{ role: 'user', content: 'x'.repeat(80_000) }]; // ~20k tokens: more than twice every acme/tiny window
  const route = (r: GenerationRequest) => planRoute(ctx(), r);
  const served = (r: GenerationRequest) => route(r).candidates.map((c) => `${c.endpoint.model.id}:${c.endpoint.key}`);

  it('routes to every endpoint of the largest context, in the usual order, and says so', () => {
    const plan = route(req({ model: 'acme/tiny', messages: long, provider: { sort: 'price' } }));
    assert.deepEqual(plan.candidates.map((c) => c.endpoint.key), ['beta', 'gamma']);
    assert.equal(plan.notes.length, 1);
    assert.match(plan.notes[0]!, /^context-compression fallback: .*~20008 prompt tokens.*largest context, 6000 tokens, serves \(acme\/tiny:beta, acme\/tiny:gamma\)/);
    const skipped = Object.fromEntries(plan.considered.filter((c) => c.skipped).map((c) => [c.endpoint, c.skipped]));
    assert.deepEqual(skipped, { alpha: 'context length 4000 below the largest (6000), which the context-compression fallback takes' });
    // Provider preferences still order the chosen endpoints.
    assert.deepEqual(served(req({ model: 'acme/tiny', messages: long, provider: { order: ['gamma'] } })), ['acme/tiny:gamma', 'acme/tiny:beta']);
  });

  it('chooses only among endpoints that pass the other filters', () => {
    const tools = [{ type: 'function', function: { name: 'add', parameters: { type: 'object' } } }];
    assert.deepEqual(served(req({ model: 'acme/tiny', messages: long, tools })), ['acme/tiny:beta']);
    assert.deepEqual(served(req({ model: 'acme/tiny', messages: long, provider: { ignore: ['beta', 'gamma'] } })), ['acme/tiny:alpha']);
  });

  it('without compression the context-length 400 stands, with its advice to turn compression on', () => {
    for (const off of [{ transforms: [] }, { plugins: [{ id: 'context-compression', enabled: false }] }]) {
      rejects(ctx(), req({ model: 'acme/tiny', messages: long, ...off }), 400, /exceeds the context length of every endpoint of acme\/tiny\. .*turn on context compression/);
    }
    // Large windows compress only when asked: by default a prompt beyond them is a 400, not a fallback.
    const huge = [{ role: 'user', content: 'x'.repeat(1_100_000) }]; // ~275k tokens, more than twice 128k
    rejects(ctx(), req({ messages: huge, provider: { ignore: ['delta'] } }), 400, /exceeds the context length/);
    const plan = route(req({ messages: huge, plugins: [{ id: 'context-compression' }], provider: { sort: 'price' } }));
    assert.deepEqual(plan.candidates.map((c) => c.endpoint.key), ['alpha', 'beta', 'gamma', 'beta/turbo']);
    assert.match(plan.considered.find((c) => c.endpoint === 'delta')!.skipped!, /context length 8000 below the largest \(128000\)/);
  });

  it('with a models list: a model that qualifies is preferred; else the largest context across the list', () => {
    assert.deepEqual(served(req({ model: 'acme/tiny', models: ['acme/mini'], messages: long })), ['acme/mini:delta']);
    const plan = route(req({ model: 'acme/tiny', models: ['acme/big'], messages: long, provider: { sort: 'price' } }));
    assert.deepEqual(plan.notes, []);
    // acme/big's 8k window (delta) does not qualify either; its 128k windows do, without any fallback.
    assert.deepEqual(plan.candidates.map((c) => `${c.endpoint.model.id}:${c.endpoint.key}`), ['acme/big:alpha', 'acme/big:beta', 'acme/big:gamma', 'acme/big:beta/turbo']);
  });
});

describe('models fallback', () => {
  it('tries model then models in order (partition model), each with its own routing', () => {
    const plan = planRoute(ctx(), req({ model: 'acme/small', models: ['acme/big'], provider: { sort: 'price' } }));
    assert.deepEqual(
      plan.candidates.map((c) => `${c.endpoint.model.id}:${c.endpoint.key}`),
      ['acme/small:delta', 'acme/small:alpha', 'acme/big:alpha', 'acme/big:beta', 'acme/big:gamma', 'acme/big:beta/turbo', 'acme/big:delta'],
    );
  });

  it('partition none sorts the endpoints of all models together', () => {
    const plan = planRoute(ctx(), req({ model: 'acme/big', models: ['acme/small'], provider: { sort: { by: 'price', partition: 'none' } } }));
    assert.deepEqual(plan.candidates.slice(0, 3).map((c) => `${c.endpoint.model.id}:${c.endpoint.key}`), ['acme/small:delta', 'acme/small:alpha', 'acme/big:alpha']);
  });

  it('invalid ids fail up front; a model filtered empty is skipped when another can serve', () => {
    rejects(ctx(), req({ models: ['acme/nope'] }), 400, /acme\/nope is not a valid model ID/);
    const plan = planRoute(ctx(), req({ model: 'acme/small', models: ['acme/big'], provider: { only: ['beta'] } }));
    assert.deepEqual(new Set(plan.candidates.map((c) => c.endpoint.key)), new Set(['beta', 'beta/turbo']));
  });

  it(':free is a catalog variant of its own', () => {
    assert.deepEqual(keys(ctx(), req({ model: 'acme/small:free' })), ['alpha']);
  });
});

describe('health tracker', () => {
  it('opens after three consecutive failures, half-opens after the open period, lets one probe through, closes on success', () => {
    let now = 1_000_000;
    const h = new HealthTracker({ now: () => now, openMs: 10_000, windowMs: 5_000 });
    const k = 'm|e';
    h.recordFailure(k);
    h.recordFailure(k);
    assert.equal(h.state(k), 'closed');
    h.recordFailure(k);
    assert.equal(h.state(k), 'open');
    assert.equal(h.isDegraded(k), true);
    now += 10_001;
    assert.equal(h.state(k), 'half-open');
    assert.equal(h.isDegraded(k), false, 'a half-open endpoint may take one probe');
    h.beginAttempt(k);
    assert.equal(h.isDegraded(k), true, 'while the probe runs, others go elsewhere');
    h.recordFailure(k);
    assert.equal(h.state(k), 'open', 'a failed probe re-opens');
    now += 20_001; // reopened for twice as long
    assert.equal(h.state(k), 'half-open');
    h.beginAttempt(k);
    h.recordSuccess(k, 120, 40);
    assert.equal(h.state(k), 'closed');
  });

  it('honours Retry-After and keeps rate limits out of uptime', () => {
    let now = 5_000_000;
    const h = new HealthTracker({ now: () => now });
    h.recordSuccess('a', 100, 10);
    h.recordFailure('a', { rateLimited: true, retryAfterMs: 60_000 });
    assert.equal(h.state('a'), 'open');
    now += 59_000;
    assert.equal(h.isDegraded('a'), true);
    now += 2_000;
    assert.equal(h.state('a'), 'half-open');
    assert.equal(h.stats('a').uptime5m, 100);
    h.recordFailure('a');
    assert.equal(h.stats('a').uptime5m, 50);
  });

  it('reports latency and throughput percentiles over the last 30 minutes', () => {
    let now = 10_000_000;
    const h = new HealthTracker({ now: () => now });
    for (let i = 1; i <= 100; i++) h.recordSuccess('a', i * 10, i);
    const s = h.stats('a');
    assert.deepEqual(s.latency30m, { p50: 510, p75: 760, p90: 910, p99: 1000 });
    assert.equal(s.throughput30m?.p50, 51);
    now += 31 * 60_000;
    assert.equal(h.stats('a').latency30m, null);
  });
});
