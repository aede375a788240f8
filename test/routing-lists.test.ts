/**
 * The shared tails of routing explanations (src/storage/routing-lists.ts): a tail met again is
 * recognised by its entries without building its text, any difference in an entry is a different
 * tail, and a batch writes a tail only until a committed transaction has stored it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRouting, encodeRouting } from '../src/storage/routing-codec.js';
import { RoutingLists } from '../src/storage/routing-lists.js';
import type { ProviderAttempt } from '../src/storage/generations.js';

const M = 'moonshotai/kimi-k2-0905';
const served: ProviderAttempt = { provider: 'Groq', endpoint: 'groq', model: M, status: 200, latencyMs: 9, outcome: 'served' };
const skip = (endpoint: string, reason = 'provider not configured', model = M): ProviderAttempt => ({ provider: endpoint.toUpperCase(), endpoint, model, status: null, latencyMs: 0, outcome: 'skipped', reason });
const list = (...tail: ProviderAttempt[]): ProviderAttempt[] => [served, ...tail];

describe('routing lists', () => {
  it('recognises a tail met before, tells apart any entry that differs, and writes each tail until stored', () => {
    const lists = new RoutingLists();
    const base = [skip('a'), skip('b'), skip('c'), skip('d')];
    const variants: ProviderAttempt[][] = [
      list(...base),
      list(skip('a'), skip('b'), skip('c'), skip('d', 'not in provider.only')),
      list(skip('a'), skip('b'), skip('c'), skip('d', 'provider not configured', 'other/model')),
      list(skip('a'), skip('b'), skip('c'), { ...skip('d'), provider: 'Dee' }),
      list(skip('a'), skip('b'), skip('c'), { provider: 'D', endpoint: 'd', model: M, status: null, latencyMs: 0, outcome: 'not tried' }),
      list(skip('a'), skip('b'), skip('c')),
      list(skip('x'), ...base),
    ];
    const rows = new Map<string, string>();
    const store = lists.batch(rows);
    const ids = variants.map((v) => JSON.parse(encodeRouting(v, store)).t as string);
    assert.equal(new Set(ids).size, variants.length, 'every variant is its own tail');
    assert.equal(rows.size, variants.length, 'none is stored yet, so the batch writes each');
    // Met again, in a fresh copy of the entries (new objects, equal strings): the same ids, decoded exactly.
    const again = new Map<string, string>();
    const store2 = lists.batch(again);
    for (const [i, v] of variants.entries()) {
      const copy = structuredClone(v);
      const text = encodeRouting(copy, store2);
      assert.equal(JSON.parse(text).t, ids[i]);
      assert.deepEqual(decodeRouting(text, (id) => rows.get(id)), v);
    }
    assert.equal(again.size, variants.length, 'still not stored: written again');
    lists.stored(again.keys());
    const third = new Map<string, string>();
    const store3 = lists.batch(third);
    for (const v of variants) encodeRouting(v, store3);
    assert.equal(third.size, 0, 'stored tails are not written again');
  });
});
