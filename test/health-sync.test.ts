/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/**
 * Endpoint health shared between replicas (src/routing/health-sync.ts):
 *
 * - Unit: two trackers linked through an in-memory bus that, like Redis pub/sub, also hands each
 *   replica its own messages back: outcomes cross over batched, breaker changes and probes at once,
 *   own messages are ignored, late outcomes land in their own minute, malformed input changes
 *   nothing, and the in-process bus costs nothing.
 * - End to end: two `switchyard serve` processes sharing PostgreSQL and Redis. A provider fails on
 *   replica A until its breaker opens; replica B then routes to the healthy provider first and its
 *   endpoints API shows the other one down, with A's outcomes in the uptime figures.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HealthTracker, type HealthOptions } from '../src/routing/health.js';
import { HealthSync, HEALTH_CHANNEL, type HealthSyncOptions } from '../src/routing/health-sync.js';
import { LocalBus, type Bus } from '../src/state/bus.js';
import { chatCompletion, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { sharedStateEnv } from './support/services.js';
import { startServe, stopProc, type Proc } from './support/process.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lets queued deliveries (setImmediate) run. */
const delivered = () => new Promise((r) => setImmediate(() => setImmediate(r)));

/** An in-memory pub/sub: asynchronous delivery to every subscriber, the publisher included. */
class Hub {
  readonly published: { channel: string; message: string }[] = [];
  readonly handlers = new Map<string, Set<(m: string) => void>>();
  failing = false;
  bus(): Bus {
    return {
      kind: 'redis',
      publish: async (channel, message) => {
        if (this.failing) throw new Error('bus down');
        this.published.push({ channel, message });
        setImmediate(() => {
          for (const h of this.handlers.get(channel) ?? []) h(message);
        });
      },
      subscribe: async (channel, handler) => {
        let set = this.handlers.get(channel);
        if (!set) this.handlers.set(channel, (set = new Set()));
        set.add(handler);
      },
      close: async () => undefined,
    };
  }
}

interface Replica {
  health: HealthTracker;
  sync: HealthSync;
}

const K = 'moonshotai/kimi-k2-0905|novita';

async function pair(clock: { now: number }, opts: HealthSyncOptions = {}, health: HealthOptions = {}): Promise<{ hub: Hub; a: Replica; b: Replica }> {
  const hub = new Hub();
  const make = (origin: string): Replica => {
    const tracker = new HealthTracker({ now: () => clock.now, openMs: 10_000, windowMs: 30_000, ...health });
    return { health: tracker, sync: new HealthSync(tracker, hub.bus(), { intervalMs: 20, origin, now: () => clock.now, ...opts }) };
  };
  const a = make('replica-a');
  const b = make('replica-b');
  await a.sync.start();
  await b.sync.start();
  return { hub, a, b };
}

describe('health sync between replicas (unit)', () => {
  it('successes are batched into one message per interval and applied on the other replica, never twice on their own', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { hub, a, b } = await pair(clock);
    for (let i = 1; i <= 5; i++) a.health.recordSuccess(K, 100 * i, 10 * i);
    assert.equal(a.sync.queued, 5);
    assert.equal(hub.published.length, 0, 'nothing is sent before the interval');
    await sleep(60);
    await delivered();
    assert.equal(hub.published.length, 1, 'one message for the batch');
    assert.equal(hub.published[0].channel, HEALTH_CHANNEL);
    const msg = JSON.parse(hub.published[0].message);
    assert.equal(msg.v, 1);
    assert.equal(msg.o, 'replica-a');
    assert.deepEqual(msg.k, [K], 'the key once, events refer to it by index');
    assert.equal(msg.e.length, 5);
    assert.deepEqual(msg.e[0], ['s', 0, 0, 100, 10]);

    const sa = a.health.stats(K);
    const sb = b.health.stats(K);
    assert.equal(sa.requests30m, 5, 'its own message echoed back by the bus is ignored');
    assert.equal(sb.requests30m, 5);
    assert.equal(sb.uptime5m, 100);
    assert.deepEqual(sb.latency30m, sa.latency30m);
    assert.deepEqual(sb.throughput30m, sa.throughput30m);

    // Both replicas' traffic counts on both.
    b.health.recordFailure(K);
    await sleep(60);
    await delivered();
    assert.equal(a.health.stats(K).requests30m, 6);
    assert.equal(a.health.stats(K).uptime5m, 83.33);
    assert.equal(b.health.stats(K).uptime5m, 83.33);
    assert.equal(a.health.isDegraded(K), true, "B's failure is recent on A too");
    await a.sync.stop();
    await b.sync.stop();
  });

  it('a failure that opens the breaker is sent at once; the other replica opens too and routes around it', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { hub, a, b } = await pair(clock, { intervalMs: 60_000 });
    a.health.recordFailure(K);
    a.health.recordFailure(K);
    assert.equal(hub.published.length, 0, 'plain failures wait for the batch');
    a.health.recordFailure(K);
    assert.equal(a.health.state(K), 'open');
    await delivered();
    assert.equal(hub.published.length, 1, 'the tripping failure flushed the batch at once');
    assert.equal(JSON.parse(hub.published[0].message).e.length, 3, 'with the failures before it, in order');
    assert.equal(b.health.state(K), 'open');
    assert.equal(b.health.isDegraded(K), true);
    assert.equal(b.health.stats(K).uptime5m, 0);

    // The open period is measured from when the breaker opened on A, so both half-open together.
    clock.now += 10_001;
    assert.equal(a.health.state(K), 'half-open');
    assert.equal(b.health.state(K), 'half-open');
    assert.equal(b.health.isDegraded(K), false);

    // A starts the probe: B hears of it at once and keeps its traffic elsewhere meanwhile.
    a.health.beginAttempt(K);
    await delivered();
    assert.equal(JSON.parse(hub.published.at(-1)!.message).e[0][0], 'p');
    assert.equal(b.health.isDegraded(K), true, "A's probe is running: B does not send one of its own");
    assert.equal(b.health.state(K), 'half-open');

    // The probe fails: both re-open, for twice as long.
    a.health.recordFailure(K);
    await delivered();
    assert.equal(b.health.state(K), 'open');
    clock.now += 10_001;
    assert.equal(b.health.state(K), 'open', 'doubled on B as on A');
    assert.equal(a.health.state(K), 'open');
    clock.now += 10_000;
    assert.equal(b.health.state(K), 'half-open');
    assert.equal(b.health.isDegraded(K), false, 'the old probe claim went with the re-open');

    // This time B probes and succeeds: closed on both.
    b.health.beginAttempt(K);
    await delivered();
    assert.equal(a.health.isDegraded(K), true);
    b.health.recordSuccess(K, 200, 50);
    await delivered();
    assert.equal(b.health.state(K), 'closed');
    assert.equal(a.health.state(K), 'closed', 'a closing success is sent at once too');
    await a.sync.stop();
    await b.sync.stop();
  });

  it('a probe claim from a replica that never reports expires', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { a, b } = await pair(clock, { intervalMs: 60_000 }, { probeClaimMs: 5_000 });
    for (let i = 0; i < 3; i++) a.health.recordFailure(K);
    await delivered();
    clock.now += 10_001;
    a.health.beginAttempt(K);
    await delivered();
    assert.equal(b.health.isDegraded(K), true);
    clock.now += 5_001;
    assert.equal(b.health.isDegraded(K), false, 'after probeClaimMs B may probe itself');
    await a.sync.stop();
    await b.sync.stop();
  });

  it('late outcomes land in their own minute and do not undo newer ones', () => {
    const clock = { now: 1_700_000_000_000 };
    const h = new HealthTracker({ now: () => clock.now, openMs: 10_000 });
    const sync = new HealthSync(h, new Hub().bus(), { origin: 'me', now: () => clock.now });
    const msg = (t: number, k: string[], e: unknown[]) => JSON.stringify({ v: 1, o: 'other', t, k, e });
    h.recordSuccess('x', 100, 10);
    // Ten minutes ago: outside the 5-minute uptime, inside the 30-minute one.
    assert.equal(sync.receive(msg(clock.now - 10 * 60_000, ['x'], [['f', 0, 0, 0]])), 1);
    assert.equal(h.stats('x').uptime5m, 100);
    assert.equal(h.stats('x').uptime30m, 50);
    assert.equal(h.stats('x').requests30m, 2);
    // Over a day old: dropped.
    assert.equal(sync.receive(msg(clock.now - 25 * 3600_000, ['x'], [['f', 0, 0, 0]])), 0);
    // In the future (clock skew): counted as now.
    assert.equal(sync.receive(msg(clock.now + 60_000, ['x'], [['s', 0, 0, 120, null]])), 1);
    assert.equal(h.stats('x').uptime5m, 100);

    // Three failures open the breaker; a success from before the breaker opened does not close it.
    for (let i = 0; i < 3; i++) h.recordFailure('y');
    assert.equal(h.state('y'), 'open');
    assert.equal(sync.receive(msg(clock.now - 5_000, ['y'], [['s', 0, 0, null, null]])), 1);
    assert.equal(h.state('y'), 'open', 'a stale success does not close the breaker');
    assert.equal(sync.receive(msg(clock.now, ['y'], [['s', 0, 0, null, null]])), 1);
    assert.equal(h.state('y'), 'closed', 'a current one does');

    // A Retry-After seen elsewhere opens the breaker here for that long, from when it was seen.
    assert.equal(sync.receive(msg(clock.now - 1_000, ['z'], [['f', 0, 0, 1, 60_000]])), 1);
    assert.equal(h.state('z'), 'open');
    assert.equal(h.stats('z').uptime5m, null, 'rate limits are not downtime');
    clock.now += 58_999;
    assert.equal(h.state('z'), 'open');
    clock.now += 1;
    assert.equal(h.state('z'), 'half-open');
  });

  it('ignores its own origin, other versions and malformed messages; applies only the valid events of a message', () => {
    const clock = { now: 1_700_000_000_000 };
    const h = new HealthTracker({ now: () => clock.now });
    const sync = new HealthSync(h, new Hub().bus(), { origin: 'me', now: () => clock.now });
    const t = clock.now;
    const bad: unknown[] = [
      'not json',
      '',
      'null',
      '[]',
      '42',
      '{}',
      JSON.stringify({ v: 2, o: 'other', t, k: ['x'], e: [['s', 0, 0, 1, 1]] }),
      JSON.stringify({ v: 1, o: 'me', t, k: ['x'], e: [['s', 0, 0, 1, 1]] }),
      JSON.stringify({ v: 1, o: '', t, k: ['x'], e: [['s', 0, 0, 1, 1]] }),
      JSON.stringify({ v: 1, o: 'other', t: 'now', k: ['x'], e: [['s', 0, 0, 1, 1]] }),
      JSON.stringify({ v: 1, o: 'other', t, k: 'x', e: [['s', 0, 0, 1, 1]] }),
      JSON.stringify({ v: 1, o: 'other', t, k: [7], e: [['s', 0, 0, 1, 1]] }),
      JSON.stringify({ v: 1, o: 'other', t, k: ['x'], e: {} }),
      JSON.stringify({ v: 1, o: 'other', t, k: ['x'.repeat(600)], e: [['s', 0, 0, 1, 1]] }),
    ];
    for (const m of bad) assert.equal(sync.receive(m as string), 0, `ignored: ${String(m).slice(0, 80)}`);
    assert.equal(sync.receive(undefined as unknown as string), 0);
    assert.equal(h.stats('x').requests30m, 0);

    const mixed = JSON.stringify({
      v: 1,
      o: 'other',
      t,
      k: ['x'],
      e: [
        ['s', 0, 0, 100, 20], // valid
        ['s', 1, 0, 100, 20], // key index out of range
        ['s', 0, -5, 100, 20], // negative offset
        ['s', 0, 0, '100', 20], // ttft not a number
        ['f', 0, 0, 2], // bad flag
        ['f', 0, 0, 0, -1], // negative Retry-After
        ['x', 0, 0], // unknown kind
        'f',
        null,
        ['f', 0, 1, 0], // valid
      ],
    });
    assert.equal(sync.receive(mixed), 2);
    const s = h.stats('x');
    assert.equal(s.requests30m, 2);
    assert.equal(s.uptime5m, 50);
    assert.deepEqual(s.latency30m, { p50: 100, p75: 100, p90: 100, p99: 100 });
  });

  it('splits a large batch into messages that fit the bus, applied in order', async () => {
    const clock = { now: 1_700_000_000_000 };
    const { hub, a, b } = await pair(clock, { intervalMs: 10, maxMessageBytes: 300 });
    for (let i = 0; i < 40; i++) a.health.recordSuccess(`model-${i % 4}|provider`, i, 1);
    await sleep(40);
    await delivered();
    assert.ok(hub.published.length > 1, `several messages (${hub.published.length})`);
    for (const p of hub.published) assert.ok(Buffer.byteLength(p.message) <= 300, `${Buffer.byteLength(p.message)} bytes`);
    const total = [0, 1, 2, 3].reduce((n, i) => n + b.health.stats(`model-${i}|provider`).requests30m, 0);
    assert.equal(total, 40);
    await a.sync.stop();
    await b.sync.stop();
  });

  it('stop() sends what is still queued; publish errors are reported once and dropped', async () => {
    const clock = { now: 1_700_000_000_000 };
    const errors: unknown[] = [];
    const { hub, a, b } = await pair(clock, { intervalMs: 60_000, onError: (err) => errors.push(err) });
    a.health.recordSuccess(K, 10, 10);
    await a.sync.stop();
    await delivered();
    assert.equal(b.health.stats(K).requests30m, 1, 'flushed on stop');
    a.health.recordSuccess(K, 10, 10);
    assert.equal(a.sync.queued, 0, 'a stopped sync observes nothing');

    hub.failing = true;
    b.health.recordFailure(K);
    b.health.recordFailure(K);
    await b.sync.flush();
    b.health.recordFailure(K);
    b.health.recordFailure(K);
    await b.sync.flush();
    assert.equal(errors.length, 1, 'reported once, not per message');
    assert.equal(b.health.stats(K).requests30m, 5, 'the local tracker is unaffected');
    await b.sync.stop();
  });

  it('with the in-process bus nothing is observed, queued or published', async () => {
    const bus = new LocalBus();
    let published = 0;
    let subscribed = 0;
    const publish = bus.publish.bind(bus);
    const subscribe = bus.subscribe.bind(bus);
    bus.publish = async (c, m) => {
      published++;
      return publish(c, m);
    };
    bus.subscribe = async (c, h) => {
      subscribed++;
      return subscribe(c, h);
    };
    const h = new HealthTracker();
    const sync = new HealthSync(h, bus);
    assert.equal(sync.enabled, false);
    await sync.start();
    for (let i = 0; i < 3; i++) h.recordFailure(K);
    h.recordSuccess(K, 1, 1);
    assert.equal(sync.queued, 0);
    await sync.flush();
    await sync.stop();
    assert.equal(published, 0);
    assert.equal(subscribed, 0);
  });
});

describe('health sync end to end: two replicas on PostgreSQL + Redis', () => {
  const MODEL = 'moonshotai/kimi-k2-0905';
  type Replica = Proc & { url: string };
  let groq: MockUpstream;
  let novita: MockUpstream;
  let replicas: Replica[] = [];
  let cleanup: (() => Promise<void>) | undefined;
  const cwd = mkdtempSync(join(tmpdir(), 'switchyard-health-sync-'));

  const completion = (text: string) => chatCompletion(text);
  const chat = (url: string, provider: Record<string, unknown>) =>
    fetch(`${url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], provider }),
    });
  const endpoints = async (url: string) => {
    const body = (await (await fetch(`${url}/api/v1/models/${MODEL}/endpoints`)).json()) as any;
    return Object.fromEntries(body.data.endpoints.map((e: any) => [e.tag, e]));
  };

  before(async () => {
    const shared = await sharedStateEnv();
    cleanup = shared.cleanup;
    groq = await startMockUpstream();
    novita = await startMockUpstream();
    groq.onRequest(() => ({ json: completion('from groq') }));
    novita.onRequest(() => ({ status: 500, json: { error: { message: 'novita is down' } } }));
    const env = { ...shared.env, GROQ_API_KEY: 'k', GROQ_BASE_URL: groq.baseUrl, NOVITA_API_KEY: 'k', NOVITA_BASE_URL: novita.baseUrl };
    replicas = await Promise.all([startServe(env, cwd), startServe(env, cwd)]);
  });
  after(async () => {
    await Promise.all(
      replicas.map((r) => stopProc(r)),
    );
    await groq?.close();
    await novita?.close();
    await cleanup?.();
    rmSync(cwd, { recursive: true, force: true });
  });

  it("a provider failing on replica A is routed around on replica B, and B's endpoints API shows it down", async () => {
    const [a, b] = replicas;
    // By price Novita ($0.60/$2.50) comes before Groq ($1/$3): what B would do with no news from A.
    const both = { only: ['groq', 'novita'], sort: 'price' };
    const fresh = await endpoints(b.url);
    assert.equal(fresh.novita.status, 0);
    assert.equal(fresh.novita.uptime_last_5m, null);

    // A: one success on Groq, then Novita fails until A's breaker opens.
    const ok = await chat(a.url, { only: ['groq'] });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    let failures = 0;
    while ((await endpoints(a.url)).novita.status !== -2) {
      const r = await chat(a.url, { only: ['novita'] });
      assert.equal(r.status, 502);
      await r.arrayBuffer();
      assert.ok(++failures <= 5, 'the breaker opens after a few failures');
    }
    const openedAt = Date.now();
    assert.equal(failures, 3, 'three consecutive failures open it');

    // B hears of it within about a batch interval plus Redis latency.
    let eps = await endpoints(b.url);
    while (eps.novita.status !== -2 && Date.now() - openedAt < 3000) {
      await sleep(20);
      eps = await endpoints(b.url);
    }
    const propagationMs = Date.now() - openedAt;
    assert.equal(eps.novita.status, -2, "B shows Novita's breaker open");
    assert.equal(eps.novita.uptime_last_5m, 0, "A's failures are in B's uptime");
    assert.equal(eps.novita.uptime_last_30m, 0);
    assert.equal(eps.groq.uptime_last_5m, 100, "and A's success too");
    assert.equal(eps.groq.status, 0);

    // B routes to Groq first; Novita is left for last and never reached.
    const novitaBefore = novita.requests.length;
    const res = await chat(b.url, both);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-route'), 'groq=serving');
    const id = res.headers.get('x-generation-id')!;
    assert.equal(((await res.json()) as any).choices[0].message.content, 'from groq');
    assert.equal(novita.requests.length, novitaBefore, 'B sent nothing to Novita');
    const gen = ((await (await fetch(`${b.url}/api/v1/generation?id=${id}`)).json()) as any).data;
    const routing = gen.routing.filter((r: any) => r.outcome !== 'skipped').map((r: any) => `${r.endpoint}:${r.outcome}`);
    assert.deepEqual(routing, ['groq:served', 'novita:not tried']);

    process.stdout.write(`# health sync: breaker opened on A after ${failures} failures, visible on B after ${propagationMs} ms\n`);
  });
});
