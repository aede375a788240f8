/**
 * The stored routing explanation (src/storage/routing-codec.ts) must read back exactly as it was
 * written, whatever mix of attempts, skipped and untried endpoints it holds, and rows written as
 * a plain JSON array before the compact form must still read.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRouting, encodeRouting, MIN_TAIL, routingTailId, type TailStore } from '../src/storage/routing-codec.js';
import type { ProviderAttempt } from '../src/storage/generations.js';

const M = 'moonshotai/kimi-k2-0905';
const skipped = (endpoint: string, reason: string, model = M): ProviderAttempt => ({ provider: endpoint.toUpperCase(), endpoint, model, status: null, latencyMs: 0, outcome: 'skipped', reason });
const notTried = (endpoint: string, model = M): ProviderAttempt => ({ provider: endpoint.toUpperCase(), endpoint, model, status: null, latencyMs: 0, outcome: 'not tried' });

describe('routing explanation codec', () => {
  it('round-trips attempts, untried and skipped endpoints in their order', () => {
    const list: ProviderAttempt[] = [
      { provider: 'Groq', endpoint: 'groq', model: M, status: 429, latencyMs: 31, outcome: 'failed', error: 'rate limited' },
      { provider: 'Novita', endpoint: 'novita', model: M, status: 200, latencyMs: 412, outcome: 'served' },
      notTried('together'),
      skipped('baseten', 'provider not configured'),
      skipped('chutes', 'excluded by provider.ignore'),
      skipped('deepinfra', 'provider not configured'),
      notTried('fireworks', 'moonshotai/kimi-k2'),
      skipped('parasail', 'provider not configured', 'moonshotai/kimi-k2'),
    ];
    const text = encodeRouting(list);
    assert.deepEqual(decodeRouting(text), list);
    assert.ok(text.length < JSON.stringify(list).length * 0.7, `compact form is shorter (${text.length} vs ${JSON.stringify(list).length})`);
    const stored = JSON.parse(text);
    assert.deepEqual(stored.r, ['provider not configured', 'excluded by provider.ignore'], 'each reason is stored once');
  });

  it('keeps as objects the entries the compact form could not restore exactly', () => {
    const odd: ProviderAttempt[] = [
      { provider: 'A', endpoint: 'a', model: M, status: null, latencyMs: 0, outcome: 'skipped' }, // no reason
      { provider: 'B', endpoint: 'b', model: M, status: null, latencyMs: 3, outcome: 'not tried' }, // a latency
      { provider: 'C', endpoint: 'c', model: M, status: null, latencyMs: 0, outcome: 'not tried', error: 'x' },
      { provider: 'D', endpoint: 'd', model: M, status: null, latencyMs: 0, outcome: 'not tried', reason: 'why' },
      { provider: 'E', endpoint: 'e', model: M, status: null, latencyMs: 0 }, // an old-style attempt
      { ...notTried('f'), extra: 1 } as ProviderAttempt,
      notTried('g'),
    ];
    assert.deepEqual(decodeRouting(encodeRouting(odd)), odd);
  });

  it('stores lists without compactable entries as a plain array, and reads plain arrays', () => {
    const served: ProviderAttempt[] = [{ provider: 'Groq', endpoint: 'groq', model: M, status: 200, latencyMs: 9, outcome: 'served' }];
    assert.equal(encodeRouting(served), JSON.stringify(served));
    assert.deepEqual(decodeRouting(JSON.stringify(served)), served);
    assert.deepEqual(decodeRouting('[]'), []);
    const legacy = [served[0], skipped('baseten', 'provider not configured')];
    assert.deepEqual(decodeRouting(JSON.stringify(legacy)), legacy);
  });

  it('stores the compactable tail by reference when given a tail store, and reads it back through it', () => {
    const tails = new Map<string, string>();
    const store: TailStore = {
      known: () => undefined,
      ref: (text) => {
        const id = `t${tails.size}`;
        for (const [k, v] of tails) if (v === text) return k;
        tails.set(id, text);
        return id;
      },
    };
    const endpoints = ['baseten', 'chutes', 'deepinfra', 'fireworks', 'siliconflow', 'wandb'];
    const served = (n: number): ProviderAttempt[] => [
      { provider: 'Groq', endpoint: 'groq', model: M, status: 429, latencyMs: 31, outcome: 'failed', error: 'rate limited' },
      skipped('odd-one', 'before an attempt, so not part of the tail'),
      { provider: 'Novita', endpoint: 'novita', model: M, status: 200, latencyMs: n, outcome: 'served' },
      notTried('together'),
      ...endpoints.map((e) => skipped(e, 'provider not configured')),
    ];
    const a = encodeRouting(served(412), store);
    const b = encodeRouting(served(97), store);
    assert.equal(tails.size, 1, 'one tail for both');
    assert.equal(routingTailId(a), 't0');
    for (const e of endpoints) assert.ok(!a.includes(`"${e}"`), `the row holds the head only: ${a}`);
    assert.ok(a.includes('"odd-one"'));
    assert.deepEqual(decodeRouting(a, (id) => tails.get(id)), served(412));
    assert.deepEqual(decodeRouting(b, (id) => tails.get(id)), served(97));
    assert.deepEqual(decodeRouting(a, () => undefined), served(412).slice(0, 3), 'a missing tail leaves those entries out');

    const short = [{ provider: 'Groq', endpoint: 'groq', model: M, status: 200, latencyMs: 9, outcome: 'served' as const }, ...endpoints.slice(0, MIN_TAIL - 1).map((e) => notTried(e))];
    const inline = encodeRouting(short, store);
    assert.equal(routingTailId(inline), null, `fewer than ${MIN_TAIL} entries stay inline`);
    assert.equal(inline, encodeRouting(short));
    assert.equal(routingTailId(encodeRouting(served(1))), null);
    assert.equal(routingTailId('[]'), null);
  });
});
