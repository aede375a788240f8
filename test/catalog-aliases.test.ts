/**
 * Model aliases (catalog `aliases`, Catalog.resolve): Anthropic's own API ids, dated and undated,
 * name the catalog's models, as do OpenRouter-style ids written with dashes, ids without their
 * vendor prefix and canonical slugs. Aliases are unique; a clash is a load error naming it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Catalog, loadEmbeddedSources, modelKey } from '../src/catalog/load.js';

const catalog = Catalog.from(loadEmbeddedSources());

const PROVIDER = { slug: 'p', name: 'P', protocol: 'openai', base_url: 'https://p.test/v1' };
const model = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  endpoints: [{ provider: 'p', upstream_model: id, pricing: { prompt: '0', completion: '0' } }],
  ...extra,
});
const build = (...models: unknown[]) => Catalog.from([{ source: { providers: [PROVIDER], models }, origin: 'test' }]);

describe('catalog aliases: Anthropic ids', () => {
  const cases: [string, string][] = [
    ['claude-sonnet-4-5-20250929', 'anthropic/claude-sonnet-4.5'],
    ['claude-sonnet-4-5', 'anthropic/claude-sonnet-4.5'],
    ['claude-sonnet-4-20250514', 'anthropic/claude-sonnet-4'],
    ['claude-sonnet-4-0', 'anthropic/claude-sonnet-4'],
    ['claude-sonnet-4-6', 'anthropic/claude-sonnet-4.6'],
    ['claude-haiku-4-5', 'anthropic/claude-haiku-4.5'],
    ['claude-haiku-4-5-20251001', 'anthropic/claude-haiku-4.5'],
    ['claude-opus-4-20250514', 'anthropic/claude-opus-4'],
    ['claude-opus-4-0', 'anthropic/claude-opus-4'],
    ['claude-opus-4-1', 'anthropic/claude-opus-4.1'],
    ['claude-opus-4-1-20250805', 'anthropic/claude-opus-4.1'],
    ['claude-opus-4-5', 'anthropic/claude-opus-4.5'],
    ['claude-opus-4-5-20251101', 'anthropic/claude-opus-4.5'],
    ['claude-opus-4-6', 'anthropic/claude-opus-4.6'],
  ];
  for (const [alias, id] of cases) {
    it(`${alias} → ${id}`, () => assert.equal(catalog.resolve(alias)?.id, id));
  }

  it('every Anthropic model lists its upstream id among its aliases', () => {
    const anthropic = [...catalog.models.values()].filter((m) => m.id.startsWith('anthropic/'));
    assert.ok(anthropic.length >= 8);
    for (const m of anthropic) {
      for (const ep of m.endpoints.filter((e) => e.provider === 'anthropic')) {
        assert.ok(m.aliases?.includes(ep.upstream_model), `${m.id}: ${ep.upstream_model} is not an alias`);
      }
    }
  });

  it('catalog ids still resolve to themselves; unknown ids resolve to nothing', () => {
    for (const id of catalog.models.keys()) assert.equal(catalog.resolve(id)?.id, id);
    assert.equal(catalog.resolve('claude-opus-5-5'), undefined);
    assert.equal(catalog.resolve('claude-3-7-sonnet-latest'), undefined, 'no Claude 3.7 in the catalog');
    assert.equal(catalog.resolve('anthropic/claude-sonnet-4.5-20990101'), undefined, 'a snapshot date is not ignored');
  });
});

describe('catalog aliases: general rules', () => {
  it('dashes and dots between version numbers, case, vendor prefix, canonical slugs', () => {
    assert.equal(catalog.resolve('anthropic/claude-sonnet-4-5')?.id, 'anthropic/claude-sonnet-4.5');
    assert.equal(catalog.resolve('claude-sonnet-4.5')?.id, 'anthropic/claude-sonnet-4.5');
    assert.equal(catalog.resolve('Anthropic/Claude-Sonnet-4.5')?.id, 'anthropic/claude-sonnet-4.5');
    assert.equal(catalog.resolve('anthropic/claude-sonnet-4-0')?.id, 'anthropic/claude-sonnet-4');
    assert.equal(catalog.resolve('anthropic/claude-sonnet-4-5-20250929')?.id, 'anthropic/claude-sonnet-4.5');
    assert.equal(catalog.resolve('anthropic/claude-4.5-sonnet-20250929')?.id, 'anthropic/claude-sonnet-4.5', 'canonical slug');
    assert.equal(catalog.resolve('kimi-k2-0905')?.id, 'moonshotai/kimi-k2-0905', 'without the vendor prefix');
    assert.equal(catalog.resolve('deepseek/deepseek-chat-v3-1')?.id, 'deepseek/deepseek-chat-v3.1');
    assert.equal(catalog.resolve('openai/gpt-4-1')?.id, 'openai/gpt-4.1');
  });

  it('modelKey reads a dash between small version numbers as a dot and leaves dates and sizes alone', () => {
    assert.equal(modelKey('claude-sonnet-4-5'), 'claude-sonnet-4.5');
    assert.equal(modelKey('claude-3-7-sonnet-latest'), 'claude-3.7-sonnet-latest');
    assert.equal(modelKey('claude-sonnet-4-20250514'), 'claude-sonnet-4-20250514');
    assert.equal(modelKey('claude-sonnet-4-5-20250929'), 'claude-sonnet-4.5-20250929');
    assert.equal(modelKey('meta-llama/llama-3-3-70b-instruct'), 'meta-llama/llama-3.3-70b-instruct');
    assert.equal(modelKey('moonshotai/kimi-k2-0905'), 'moonshotai/kimi-k2-0905');
    assert.equal(modelKey('qwen/qwen3-235b-a22b-2507'), 'qwen/qwen3-235b-a22b-2507');
    assert.equal(modelKey('deepseek-chat-v3-1'), 'deepseek-chat-v3.1');
  });

  it('a loose name two models share names neither (exact ids and aliases still do)', () => {
    const cat = build(model('a/foo-1.5'), model('b/foo-1.5'));
    assert.equal(cat.resolve('foo-1.5'), undefined);
    assert.equal(cat.resolve('foo-1-5'), undefined);
    assert.equal(cat.resolve('a/foo-1-5')?.id, 'a/foo-1.5');
  });

  it('an exact id wins over another model’s loose match', () => {
    const cat = build(model('x/m-2-5'), model('x/m-2.5'));
    assert.equal(cat.resolve('x/m-2-5')?.id, 'x/m-2-5');
    assert.equal(cat.resolve('x/m-2.5')?.id, 'x/m-2.5');
  });
});

describe('catalog aliases: loading', () => {
  it('rejects a duplicate alias, naming it and both models', () => {
    assert.throws(() => build(model('a/one', { aliases: ['same'] }), model('a/two', { aliases: ['same'] })), /duplicate alias "same" \(models a\/one and a\/two\)/);
  });

  it('rejects an alias that is another model’s id', () => {
    assert.throws(() => build(model('a/one', { aliases: ['a/two'] }), model('a/two')), /alias "a\/two" of a\/one is the id of another model/);
  });

  it('rejects a malformed alias list through the catalog schema', () => {
    assert.throws(() => build(model('a/one', { aliases: 'one' })), /aliases/);
    assert.throws(() => build(model('a/one', { aliases: ['has space'] })), /aliases\[0\]/);
  });

  it('a later source replacing a model replaces its aliases', () => {
    const cat = Catalog.from([
      { source: { providers: [PROVIDER], models: [model('a/one', { aliases: ['old-name'] })] }, origin: 'first' },
      { source: { models: [model('a/one', { aliases: ['new-name'] })] }, origin: 'second' },
    ]);
    assert.equal(cat.resolve('new-name')?.id, 'a/one');
    assert.equal(cat.resolve('old-name'), undefined);
  });
});
