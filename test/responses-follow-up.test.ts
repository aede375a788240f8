/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies over HTTP */
/**
 * Stored responses as clients such as Codex and the AI SDK use them: the next request names the
 * previous response the moment its answer ends (the `response.completed` event read, or the JSON
 * body). Saves are group-committed (src/ingress/responses/store.ts) and an answer's last bytes go
 * out only once its save is committed, so the follow-up finds it:
 *
 *  - on the same gateway, many conversations at once, streamed and non-streamed turns mixed;
 *  - on another replica sharing the PostgreSQL database, every turn on the other one;
 *  - a save that fails is logged, the answer still reaches the client whole, the gateway goes on
 *    serving (a follow-up naming it gets OpenAI's 404), and saving works again once the database does;
 *  - at shutdown the drain waits for an answer whose save is still being written (its client gets
 *    the end of its stream), and a save still queued is written before the database closes.
 *
 * The provider is the mock upstream replaying recorded Groq traffic.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { replay, upstreamRecording, chatTurnOf } from './support/recorded-wire.js';
import { startMockUpstream, type MockUpstream } from './support/mock-upstream.js';
import { startGateway, type Gateway } from './support/gateway.js';
import { createTestDatabase } from './support/services.js';
import { SqliteSql } from '../src/storage/sql.js';

const KIMI = 'moonshotai/kimi-k2-0905';
const GROQ = 'TestGroqCommon/groq-kimi-k2-0905';
const [STREAMED] = upstreamRecording(`${GROQ}/simple_streaming`, 1);
const [WHOLE] = upstreamRecording(`${GROQ}/simple`, 1);
const ANSWER = { stream: chatTurnOf(STREAMED).text, json: chatTurnOf(WHOLE).text };
const COMPLETED = 'event: response.completed\ndata: ';

/** A Groq mock answering every request from the recording of its mode. */
async function groq(): Promise<MockUpstream> {
  const mock = await startMockUpstream();
  mock.onRequest((req) => replay(req.json?.stream ? STREAMED : WHOLE));
  return mock;
}

interface Turn {
  status: number;
  /** The finished response (or the error body). */
  body: any;
}

/**
 * One `POST /responses`, resolved the moment its answer is complete: streamed, as soon as the
 * `response.completed` event has been read (the rest of the connection is read in the background);
 * otherwise once the body is in.
 */
async function turn(gw: Gateway, body: Record<string, unknown>, stream: boolean): Promise<Turn> {
  const res = await fetch(`${gw.baseUrl}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: KIMI, provider: { only: ['groq'] }, max_output_tokens: 4000, ...body, stream }),
  });
  if (!stream || res.status !== 200) return { status: res.status, body: await res.json() };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (value) text += decoder.decode(value, { stream: true });
    const at = text.lastIndexOf(COMPLETED);
    if (at >= 0 && text.endsWith('\n\n')) {
      void (async () => {
        try {
          while (!(await reader.read()).done) {
            /* the end of the connection */
          }
        } catch {
          /* nothing to do */
        }
      })();
      return { status: 200, body: JSON.parse(text.slice(at + COMPLETED.length)).response };
    }
    if (done) throw new Error(`the stream ended without response.completed: ${text.slice(-400)}`);
  }
}

const textOf = (content: unknown): string => (typeof content === 'string' ? content : (content as { text?: string }[]).map((p) => p.text ?? '').join(''));
const outputText = (response: any): string => textOf(response.output.find((i: any) => i.type === 'message').content);

/**
 * `turns` turns of one conversation, each naming the previous response the moment it ended, on
 * `gateways[t % n]`; streamed and non-streamed turns alternate. Checks every turn and what the
 * provider was sent: the whole conversation so far.
 */
async function conversation(gateways: Gateway[], mock: MockUpstream, name: string, turns: number): Promise<string> {
  let previous: string | null = null;
  let previousStream = false;
  for (let t = 0; t < turns; t++) {
    const stream = (t + name.length) % 2 === 0;
    const input = `${name}, turn ${t}`;
    const r = await turn(gateways[t % gateways.length], { input, ...(previous ? { previous_response_id: previous } : {}) }, stream);
    assert.equal(r.status, 200, `${input}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.status, 'completed');
    assert.equal(r.body.previous_response_id ?? null, previous);
    assert.equal(outputText(r.body), stream ? ANSWER.stream : ANSWER.json);
    const sent = mock.requests.find((q) => textOf(q.json.messages.at(-1).content) === input)!.json.messages;
    assert.equal(sent.length, 2 * t + 1, `${input}: the provider got the conversation`);
    if (t > 0) assert.equal(textOf(sent.at(-2).content), previousStream ? ANSWER.stream : ANSWER.json);
    previous = r.body.id;
    previousStream = stream;
  }
  return previous!;
}

/** GET /responses/{id} on `gw`, fired as soon as called. */
async function retrieve(gw: Gateway, id: string): Promise<Turn> {
  const res = await fetch(`${gw.baseUrl}/responses/${id}`);
  return { status: res.status, body: await res.json() };
}

describe('stored responses: a follow-up sent the moment an answer ends', () => {
  it('finds it on the same gateway: 8 conversations at once, 8 turns each, streamed and not', async () => {
    const mock = await groq();
    const gw = await startGateway({ providers: { groq: mock.baseUrl } });
    try {
      const last = await Promise.all(Array.from({ length: 8 }, (_, c) => conversation([gw], mock, `conversation ${c}`, 8)));
      for (const id of last) {
        const got = await retrieve(gw, id);
        assert.equal(got.status, 200);
        assert.equal(got.body.id, id);
      }
      assert.equal(mock.requests.length, 64);
    } finally {
      await gw.close();
      await mock.close();
    }
  });

  it('finds it on another replica sharing the PostgreSQL database: every turn on the other one', async () => {
    const mock = await groq();
    const db = await createTestDatabase();
    const env = { DATABASE_URL: db.url };
    const a = await startGateway({ providers: { groq: mock.baseUrl }, env });
    const b = await startGateway({ providers: { groq: mock.baseUrl }, env });
    try {
      const last = await Promise.all(Array.from({ length: 6 }, (_, c) => conversation(c % 2 ? [a, b] : [b, a], mock, `replicated ${c}`, 6)));
      // The last turn of each was on the other gateway of the pair: retrieved right away where it was not made.
      for (const [c, id] of last.entries()) assert.equal((await retrieve(c % 2 ? a : b, id)).status, 200);
    } finally {
      await a.close();
      await b.close();
      await mock.close();
      await db.drop();
    }
  });

  it('a failed save is logged; the answer still arrives whole, the gateway goes on, and saving works once the database does', async () => {
    const mock = await groq();
    const lines: any[] = [];
    const gw = await startGateway({ providers: { groq: mock.baseUrl }, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) });
    try {
      await gw.app.sql.query("CREATE TRIGGER refuse_responses BEFORE INSERT ON stored_responses BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END");
      // Two at once: they may share the failing batch.
      const [streamed, whole] = await Promise.all([turn(gw, { input: 'first' }, true), turn(gw, { input: 'second' }, false)]);
      for (const [r, stream] of [
        [streamed, true],
        [whole, false],
      ] as const) {
        assert.equal(r.status, 200);
        assert.equal(r.body.status, 'completed');
        assert.equal(outputText(r.body), stream ? ANSWER.stream : ANSWER.json);
      }
      const failures = lines.filter((l) => l.msg === 'saving the answer before its end failed');
      assert.equal(failures.length, 2);
      for (const f of failures) {
        assert.equal(f.err, 'disk full (test)');
        assert.equal(f.level, 50);
      }
      // Each names its generation (resp_<K>: K is the generation id's letters and digits).
      const keyOf = (gen: string) => `resp_${gen.replace(/^gen-/, '').replace(/[^A-Za-z0-9]/g, '')}`;
      assert.deepEqual(failures.map((f) => keyOf(f.gen)).sort(), [streamed.body.id, whole.body.id].sort());
      // Not stored: a follow-up is told so, in OpenAI's shape.
      const orphan = await turn(gw, { input: 'and?', previous_response_id: streamed.body.id }, true);
      assert.equal(orphan.status, 404);
      assert.equal(orphan.body.error.message, `Previous response with id '${streamed.body.id}' not found.`);
      // The rest of the gateway is untouched, and stored responses work again once writes do.
      await gw.app.sql.query('DROP TRIGGER refuse_responses');
      const again = await conversation([gw], mock, 'after the failure', 3);
      assert.equal((await retrieve(gw, again)).status, 200);
    } finally {
      await gw.close();
      await mock.close();
    }
  });
});

describe('stored responses at shutdown', () => {
  it('the drain waits for an answer whose save is being written: its stream ends whole, and the response is stored', async () => {
    const mock = await groq();
    const gw = await startGateway({ providers: { groq: mock.baseUrl } });
    gw.app.settings.drainTimeoutMs = 10_000;
    // Another process's write lock on the database file keeps the save waiting (it retries on timers).
    const other = new SqliteSql(gw.dataDir, { checkpoints: false });
    let release!: () => void;
    const holding = other.tx(() => new Promise<void>((r) => (release = r)));
    try {
      await new Promise((r) => setImmediate(r));
      const answer = turn(gw, { input: 'saved at shutdown' }, true);
      while (gw.app.responses.pending === 0) await new Promise((r) => setTimeout(r, 5));
      const down = gw.shutdown();
      let ended = false;
      void answer.finally(() => (ended = true));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(ended, false, 'the last bytes wait for the save');
      release();
      await holding;
      const r = await answer;
      await down;
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'completed');
      assert.deepEqual((await other.query('SELECT id FROM stored_responses')).map((row: any) => row.id), [r.body.id]);
    } finally {
      release?.();
      await other.close();
      await gw.close();
      await mock.close();
    }
  });

  it('a save still queued when the app closes is written before the database closes', async () => {
    const mock = await groq();
    const gw = await startGateway({ providers: { groq: mock.baseUrl } });
    const other = new SqliteSql(gw.dataDir, { checkpoints: false });
    try {
      const saved = gw.app.responses.save({ previousResponseId: null, input: [], response: { id: 'resp_queued', object: 'response', status: 'completed', output: [] } }, null);
      assert.equal(gw.app.responses.pending, 1);
      await gw.shutdown();
      await saved;
      assert.deepEqual((await other.query('SELECT id FROM stored_responses')).map((row: any) => row.id), ['resp_queued']);
    } finally {
      await other.close();
      await gw.close();
      await mock.close();
    }
  });
});
