/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Key pools: several credentials per provider. A rate-limited or refused key rests on its own
 * while the others serve; the provider fails (and the request falls back) only when every key
 * did. The serving key is named by label in the generation record and the endpoint figures.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chatCompletion, startMockUpstream, type MockUpstream, type ReceivedRequest } from './support/mock-upstream.js';
import { postChat, rngPicking, startGateway, type Gateway } from './support/gateway.js';
import { fetchGeneration } from './support/requests.js';
import { HealthTracker } from '../src/routing/health.js';
import { KeyPool, parseKeys } from '../src/upstream/key-pool.js';
import { loadSettings } from '../src/config/load.js';

const KIMI = 'moonshotai/kimi-k2-0905';
const bearer = (r: ReceivedRequest) => String(r.headers.authorization ?? '').replace(/^Bearer /, '');

describe('key pool selection', () => {
  it('shares picks by weight, skips resting keys and excluded ones', () => {
    const pool = new KeyPool([
      { secret: 'a', label: 'a', weight: 2 },
      { secret: 'b', label: 'b', weight: 1 },
    ]);
    const picks = Array.from({ length: 6 }, () => pool.pick(new Set())!.label);
    assert.deepEqual(picks.filter((l) => l === 'a').length, 4);
    assert.equal(pool.outcome('a', 'ep', 429, 10, 1000), 10_000);
    assert.equal(pool.pick(new Set(), 5000)!.label, 'b');
    assert.equal(pool.pick(new Set(['b']), 5000), null);
    assert.equal(pool.nextWake(5000), 11_000);
    assert.equal(pool.pick(new Set(), 11_000)!.label !== undefined, true);
    assert.equal(pool.outcome('b', 'ep', 500), 0, 'a 500 is the provider, not the key');
    const lone = new KeyPool([{ secret: 'x', label: 'key-1', weight: 1 }]);
    assert.equal(lone.outcome('key-1', 'ep', 429), 0, 'a single key never rests: the breaker decides');
  });

  it('labels env keys key-N and configured ones by their label', () => {
    assert.deepEqual(parseKeys('k1, k2,,k3', undefined, undefined).map((k) => k.label), ['key-1', 'key-2', 'key-3']);
    assert.deepEqual(parseKeys(undefined, [{ key: 'x', label: 'team-a', weight: 3 }, { key: 'y' }], undefined), [
      { secret: 'x', label: 'team-a', weight: 3 },
      { secret: 'y', label: 'key-2', weight: 1 },
    ]);
    assert.deepEqual(parseKeys(undefined, undefined, 'single'), [{ secret: 'single', label: 'key-1', weight: 1 }]);
  });

  it('a key’s own region travels with it, and a reload that moves it is a new pool', () => {
    const keys = parseKeys(undefined, [{ key: 'id:secret', label: 'eu', region: 'eu-west-1' }, { key: 'id2:secret2', label: 'home' }], undefined);
    assert.deepEqual(keys[0], { secret: 'id:secret', label: 'eu', weight: 1, region: 'eu-west-1' });
    const pool = new KeyPool(keys);
    assert.deepEqual(pool.pick(new Set()), { label: 'eu', secret: 'id:secret', region: 'eu-west-1' });
    assert.deepEqual(pool.pick(new Set()), { label: 'home', secret: 'id2:secret2' }, 'no region: the provider’s');
    assert.equal(pool.sameKeys(new KeyPool(keys)), true);
    assert.equal(pool.sameKeys(new KeyPool([{ ...keys[0], region: 'eu-central-1' }, keys[1]])), false);
  });

  it('reads providers.<slug>.keys from the config file', () => {
    const dir = process.env.TMPDIR ?? '/tmp';
    const file = join(dir, `switchyard-keys-${process.pid}.yaml`);
    writeFileSync(file, 'providers:\n  groq:\n    keys:\n      - { key: sk-one-secret, label: one, weight: 2 }\n      - { key: sk-two-secret, label: two }\n');
    const settings = loadSettings({ env: {}, configFile: file });
    const groq = settings.providers.get('groq')!;
    assert.equal(groq.enabled, true);
    assert.deepEqual(groq.keys.labels(), ['one', 'two']);
  });
});

describe('key pools over real upstreams', () => {
  let groq: MockUpstream, novita: MockUpstream, gw: Gateway;
  before(async () => {
    [groq, novita] = await Promise.all([startMockUpstream(), startMockUpstream()]);
    gw = await startGateway({
      providers: { novita: novita.baseUrl },
      env: { GROQ_API_KEY: 'gsk-one,gsk-two,gsk-three', GROQ_BASE_URL: groq.baseUrl },
    });
    novita.onRequest(() => ({ json: chatCompletion('from novita') }));
  });
  after(async () => {
    await gw.close();
    await Promise.all([groq.close(), novita.close()]);
  });

  it('with one key of three rate-limited, no request fails and the other two share the load', async () => {
    gw.app.health = new HealthTracker();
    gw.app.rng = rngPicking(gw.app, KIMI, 'groq');
    groq.onRequest((r) => (bearer(r) === 'gsk-one' ? { status: 429, headers: { 'retry-after': '60' }, json: { error: { message: 'rate limited' } } } : { json: chatCompletion(`from ${bearer(r)}`) }));
    const served: string[] = [];
    let firstId = '';
    for (let i = 0; i < 8; i++) {
      const res = await postChat(gw, { model: KIMI, messages: [{ role: 'user', content: `hi ${i}` }] });
      assert.equal(res.status, 200);
      const body = (await res.json()) as any;
      assert.match(body.choices[0].message.content, /^from gsk-(two|three)$/);
      served.push(body.choices[0].message.content);
      firstId ||= res.headers.get('x-generation-id')!;
    }
    assert.equal(novita.requests.length, 0, 'the provider never counted as down');
    assert.equal(groq.requests.filter((r) => bearer(r) === 'gsk-one').length, 1, 'the limited key rests after its 429');
    assert.equal(served.filter((s) => s === 'from gsk-two').length, 4);
    assert.equal(served.filter((s) => s === 'from gsk-three').length, 4);

    const gen = await fetchGeneration(gw, firstId);
    assert.ok(gen.provider_key === 'key-2' || gen.provider_key === 'key-3');
    const served0 = gen.routing.find((r: any) => r.outcome === 'served');
    assert.equal(served0.key, gen.provider_key);
    assert.ok(!JSON.stringify(gen).includes('gsk-'), 'no secret in the record');

    const eps = ((await (await fetch(`${gw.baseUrl}/models/${KIMI}/endpoints`)).json()) as any).data.endpoints;
    const figures = eps.find((e: any) => e.tag === 'groq');
    assert.equal(figures.status, 0, 'the endpoint stays healthy');
    const byLabel = Object.fromEntries(figures.keys.map((k: any) => [k.label, k]));
    assert.equal(byLabel['key-1'].state, 'resting');
    assert.ok(byLabel['key-1'].resting_until);
    assert.equal(byLabel['key-1'].failed, 1);
    assert.equal(byLabel['key-2'].served + byLabel['key-3'].served, 8);
    assert.ok(!JSON.stringify(eps).includes('gsk-'));
  });

  it('with every key refused or limited, the provider is skipped and the request falls back', async () => {
    gw.app.health = new HealthTracker();
    gw.app.rng = rngPicking(gw.app, KIMI, 'groq');
    const before = groq.requests.length;
    groq.onRequest((r) => (bearer(r) === 'gsk-two' ? { status: 401, json: { error: { message: 'invalid key' } } } : { status: 429, json: { error: { message: 'rate limited' } } }));
    const res = await postChat(gw, { model: KIMI, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as any).choices[0].message.content, 'from novita');
    // key-1 still rests from the test before: only the other two were tried.
    assert.equal(groq.requests.length - before, 2);
    assert.match(res.headers.get('x-switchyard-route')!, /^groq=(401|429), groq=(401|429), novita=serving$/);
    const gen = await fetchGeneration(gw, res.headers.get('x-generation-id')!);
    assert.equal(gen.provider_key, 'key-1', "novita's one key served");
    assert.deepEqual(
      gen.routing.filter((r: any) => r.outcome === 'failed').map((r: any) => r.key).sort(),
      ['key-2', 'key-3'],
    );

    // Now every key rests: the next request does not reach groq at all.
    const again = await postChat(gw, { model: KIMI, messages: [{ role: 'user', content: 'again' }] });
    assert.equal(again.status, 200);
    await again.arrayBuffer();
    assert.equal(groq.requests.length - before, 2);
  });
});

describe('key pools and the redactor', () => {
  it('an upstream error that echoes any key of the pool reaches the client masked', async () => {
    const groq = await startMockUpstream();
    const gw = await startGateway({ providers: {}, env: { GROQ_API_KEY: 'pool-secret-aaaa1111,pool-secret-bbbb2222', GROQ_BASE_URL: groq.baseUrl } });
    try {
      groq.onRequest((r) => ({ status: 401, json: { error: { message: `Invalid API key: ${bearer(r)}` } } }));
      const res = await postChat(gw, { model: KIMI, messages: [{ role: 'user', content: 'hi' }], provider: { only: ['groq'] } });
      const text = await res.text();
      assert.equal(groq.requests.length, 2, 'both keys were tried');
      assert.ok(!text.includes('pool-secret-'), text);
      const rec = await fetchGeneration(gw, res.headers.get('x-generation-id')!);
      assert.ok(!JSON.stringify(rec).includes('pool-secret-'), JSON.stringify(rec));
    } finally {
      await gw.close();
      await groq.close();
    }
  });
});
