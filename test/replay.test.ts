/**
 * Record and replay: cassettes written by `--record` replay to byte-identical client output;
 * every provider-level fixture cassette loads and replays; misses name the closest recording.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplayStore } from '../src/upstream/replay/store.js';
import { loadCassetteFile, splitSseEvents } from '../src/upstream/replay/cassette.js';
import { fixturePath, loadCassette } from './support/cassettes.js';
import { replyFromRecording, startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { blankIdentity, postChat, readSse, rngPicking, startGateway, type Gateway } from './support/gateway.js';

const MODEL = 'moonshotai/kimi-k2-0905';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? yamlFiles(p) : n.endsWith('.yaml') ? [p] : [];
  });
}

async function drain(it: AsyncIterable<unknown>): Promise<string> {
  let out = '';
  for await (const piece of it) out += typeof piece === 'string' ? piece : Buffer.from(piece as Uint8Array).toString('utf8');
  return out;
}

describe('record, then replay', () => {
  let groq: MockUpstream;
  let recorder: Gateway;
  const recordDir = mkdtempSync(join(tmpdir(), 'switchyard-rec-'));
  const outputs: { body: unknown; raw: string; status: number }[] = [];
  const [streamTurn1, streamTurn2] = loadCassette('seeds/tool_streaming_weather.yaml');
  const [jsonCase] = loadCassette('openrouter/TestOpenRouterCommon/simple_kimi-k2_groq.yaml');
  const requests = [JSON.parse(streamTurn1.request.body), JSON.parse(streamTurn2.request.body), JSON.parse(jsonCase.request.body)];

  before(async () => {
    groq = await startMockUpstream();
    recorder = await startGateway({ providers: { groq: groq.baseUrl }, env: { SWITCHYARD_RECORD_DIR: recordDir } });
    groq.enqueue(
      replyFromRecording(streamTurn1.response, { chunkDelayMs: 5 }),
      replyFromRecording(streamTurn2.response, { chunkDelayMs: 5 }),
      replyFromRecording(jsonCase.response),
    );
    for (const body of requests) {
      const res = await postChat(recorder, body, { 'X-Switchyard-Cassette': 'round trip/one' });
      outputs.push({ body, raw: await res.text(), status: res.status });
    }
  });
  after(async () => {
    await recorder.close();
    await groq.close();
  });

  it('writes one go-vcr v2 cassette per name, without credentials', () => {
    const files = readdirSync(recordDir);
    assert.deepEqual(files, ['round_trip_one.yaml']);
    const text = readFileSync(join(recordDir, files[0]), 'utf8');
    assert.ok(!text.includes('test-key-groq'), 'the provider key is not in the cassette');
    assert.ok(!/authorization/i.test(text));
    const interactions = loadCassetteFile(join(recordDir, files[0]));
    assert.equal(interactions.length, 3);
    assert.equal(interactions[0].request.method, 'POST');
    assert.match(interactions[0].request.url, /\/v1\/chat\/completions$/);
    assert.equal(JSON.parse(interactions[0].request.body).model, 'moonshotai/kimi-k2-instruct-0905');
    assert.equal(interactions[0].response.code, 200);
    assert.match(interactions[0].response.body, /data: \[DONE\]/);
    assert.equal(interactions[0].response.eventOffsetsMs?.length, splitSseEvents(interactions[0].response.body).length);
    assert.ok(interactions[0].response.durationMs > 0);
    assert.match(text, /^---\nversion: 2\ninteractions:\n {2}- id: 0\n {4}request:\n/);
  });

  it('replaying the folder gives byte-identical client output, except ids and timestamps', async () => {
    const cfgDir = mkdtempSync(join(tmpdir(), 'switchyard-cfg-'));
    const configFile = join(cfgDir, 'switchyard.yaml');
    writeFileSync(configFile, `replay:\n  pace: fast\nproviders:\n  groq:\n    replay: ${JSON.stringify(recordDir)}\n`);
    const player = await startGateway({ providers: {}, configFile });
    try {
      for (const [i, { body, raw, status }] of outputs.entries()) {
        const res = await postChat(player, body);
        assert.equal(res.status, status);
        const replayed = await res.text();
        const norm = (t: string) => t.split('\n\n').map(blankIdentity).join('\n\n');
        assert.equal(norm(replayed), norm(raw), `request ${i}`);
      }
    } finally {
      await player.close();
    }
  });

  it('a request with no recording gets a diagnostic naming the closest cassette and the first differing field', async () => {
    const store = new ReplayStore(recordDir);
    const req = { ...requests[2], model: 'moonshotai/kimi-k2-instruct-0905', max_tokens: 123 };
    const res = store.answer({ url: 'https://api.groq.com/openai/v1/chat/completions', headers: {}, body: JSON.stringify(req) }, {});
    assert.equal(res.statusCode, 404);
    const message = JSON.parse(await res.body.text()).error.message;
    assert.match(message, /no recorded interaction matches POST \/openai\/v1\/chat\/completions/);
    assert.match(message, /closest is round_trip_one\.yaml#2/);
    assert.match(message, /first difference at max_tokens: recorded 4000, got 123/);
  });
});

describe('replay of recorded provider traffic', () => {
  const root = fixturePath('upstream');
  const files = yamlFiles(root); // every protocol Switchyard speaks: OpenAI-compatible, Anthropic, Gemini

  it('every fixture cassette (OpenAI-compatible, Anthropic, Gemini) loads and each interaction replays byte for byte', async () => {
    assert.ok(files.length > 20, `found ${files.length} cassettes`);
    const store = new ReplayStore(root, { pace: 'fast' });
    let replayed = 0;
    for (const file of files) {
      for (const it of loadCassetteFile(file)) {
        const res = store.answer({ url: it.request.url, headers: {}, body: it.request.body }, {});
        const body = await drain(res.body);
        if (res.statusCode !== it.response.code || body !== it.response.body) {
          // Identical requests inside one folder replay in recorded order; accept a sibling's answer only if equal.
          assert.fail(`${file}: replay differs (status ${res.statusCode} vs ${it.response.code})`);
        }
        replayed++;
      }
    }
    assert.ok(replayed > 50, `replayed ${replayed} interactions`);
  });

  it('paces a stream with the recorded duration unless told to go fast', async () => {
    const file = fixturePath('upstream/TestGroqCommon/groq-kimi-k2-0905/simple_streaming.yaml');
    const [it0] = loadCassetteFile(file);
    const store = new ReplayStore(fixturePath('upstream/TestGroqCommon/groq-kimi-k2-0905'));
    const started = Date.now();
    await drain(store.answer({ url: it0.request.url, headers: {}, body: it0.request.body }, {}).body);
    const took = Date.now() - started;
    assert.ok(took >= it0.response.durationMs * 0.8, `took ${took} ms, recorded ${it0.response.durationMs} ms`);
  });
});

describe('demo mode', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway({ providers: {}, env: { SWITCHYARD_REPLAY_PACE: 'fast' } });
  });
  after(() => gw.close());

  it('is off when not asked for', () => {
    assert.equal(gw.app.settings.demo, false);
  });

  it('serves every seed conversation through routing, with fallback absorbing the recorded 429', async () => {
    const { loadSettings } = await import('../src/config/load.js');
    const { createApp } = await import('../src/app.js');
    const { startServer } = await import('../src/http/server.js');
    const pino = (await import('pino')).default;
    const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
    const settings = loadSettings({ env: { SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_REPLAY_PACE: 'fast' }, port: 0, demo: true, cwd: dataDir });
    const app = createApp(settings, { logger: pino({ level: 'silent' }) });
    const server = await startServer(app);
    const demo = { baseUrl: `${server.url}/api/v1` } as Gateway;
    try {
      assert.deepEqual(
        [...settings.providers.values()].filter((p) => p.enabled).map((p) => p.entry.slug).sort(),
        ['baseten', 'deepinfra', 'gmicloud', 'groq', 'moonshotai', 'novita', 'wandb'],
      );
      // Turn two of the add loop: GMICloud (rate-limited in the recording) is drawn first; Novita answers.
      const [, , turn2] = loadCassette('seeds/tool_streaming_add.yaml');
      app.rng = rngPicking(app, MODEL, 'gmicloud');
      const res = await postChat(demo, turn2.request.body);
      assert.equal(res.status, 200);
      const got = await readSse(res);
      assert.equal(JSON.parse(got.events[0]).provider, 'Novita');
      // The wandb seed replays its 429, then its success, as recorded.
      const [first] = loadCassette('seeds/simple_streaming_only_wandb_429_then_ok.yaml');
      assert.equal((await postChat(demo, first.request.body)).status, 429);
      const ok = await postChat(demo, first.request.body);
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /"content":"Oi"/);
    } finally {
      await server.shutdown();
    }
  });
});
