// The front doors ("wires") the bench drives, shared by the runner (request bodies, sanity checks)
// and the load driver (per-response checks, the first-content marker of a stream).
//
// Every door asks for the same model, routed to the same mock OpenAI-compatible upstream (groq).
// A response counts only when it is complete in its own wire (and has status 200, checked by the
// caller):
//   chat       non-streaming: a JSON object whose message has non-empty content;
//              streaming: non-empty content deltas, ends with `data: [DONE]`, no "finish_reason":"error"
//   messages   non-streaming: a JSON object of type "message" with a non-empty text block;
//              streaming: non-empty text_delta events, ends with a whole `message_stop` event, no
//              `event: error`
//   responses  non-streaming: a JSON object "response", status not incomplete/failed, a non-empty
//              output_text; streaming: non-empty response.output_text.delta events, ends with a
//              whole `response.completed` event (status "completed"), no `event: error` /
//              response.failed / response.incomplete
//   responses-stored  the same door and checks, the body with `store: true` (opt-in)
// Under load (driver.mjs: every response of the closed loop and of autocannon) the checks are
// string scans, about 1 µs per response on the load driver's core, run after the request's clock
// stopped. The sanity checks before the matrix parse non-streamed bodies with JSON.parse
// (`thorough`).

export const MODEL = 'moonshotai/kimi-k2-0905';
export const PROMPT = 'Say hi in Portuguese';
const PROVIDER = { only: ['groq'] };

const json = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
};
const nonEmpty = (s) => typeof s === 'string' && s.length > 0;
/** Framed as one JSON object (a cut body does not end with its closing brace). */
const objectText = (text) => text.charCodeAt(0) === 123 /* { */ && /\}\s*$/.test(text.slice(-8));
/** Errors end a stream: they are looked for in its last KiB only. */
const tail = (text) => (text.length > 1024 ? text.slice(-1024) : text);

function completedLast(text) {
  const i = text.lastIndexOf('event: response.completed\ndata: {');
  if (i < 0 || !text.endsWith('}\n\n')) return false;
  const end = text.indexOf('\n\n', i);
  return end === text.length - 2 && text.slice(i, end).includes('"status":"completed"');
}

export const WIRES = {
  chat: {
    label: 'chat completions',
    path: '/api/v1/chat/completions',
    // Byte for byte the bodies of every earlier run (results files compare across runs).
    body: (stream, prompt = PROMPT) =>
      JSON.stringify(stream ? { model: MODEL, messages: [{ role: 'user', content: prompt }], stream: true, provider: PROVIDER } : { model: MODEL, messages: [{ role: 'user', content: prompt }], provider: PROVIDER }),
    /** What marks the first content a client sees in a stream (the "first data" figure). */
    firstContent: 'data:',
    nonstreamOk: (text) => objectText(text) && /"message":\{[^}]*"content":"[^"]/.test(text),
    nonstreamParsedOk: (j) => nonEmpty(j?.choices?.[0]?.message?.content),
    streamOk: (text) => /data: \[DONE\]\s*$/.test(text.slice(-64)) && /"content":"[^"]/.test(text) && !tail(text).includes('"finish_reason":"error"'),
  },
  messages: {
    label: 'Anthropic Messages',
    path: '/api/v1/messages',
    body: (stream, prompt = PROMPT) => JSON.stringify({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: prompt }], stream, provider: PROVIDER }),
    firstContent: 'content_block_delta',
    nonstreamOk: (text) => objectText(text) && text.includes('"type":"message"') && /"type":"text","text":"[^"]/.test(text),
    nonstreamParsedOk: (j) => j?.type === 'message' && Array.isArray(j.content) && j.content.some((b) => b?.type === 'text' && nonEmpty(b.text)),
    // The last event is a whole message_stop.
    streamOk: (text) => /event: message_stop\ndata: \{[^\n]*\}\n\n$/.test(text.slice(-96)) && /"type":"text_delta","text":"[^"]/.test(text) && !tail(text).includes('event: error'),
  },
  responses: {
    label: 'OpenAI Responses',
    path: '/api/v1/responses',
    body: (stream, prompt = PROMPT) => JSON.stringify({ model: MODEL, input: prompt, max_output_tokens: 256, stream, store: false, provider: PROVIDER }),
    firstContent: 'response.output_text.delta',
    nonstreamOk: (text) =>
      objectText(text) &&
      text.includes('"object":"response"') &&
      !text.includes('"status":"incomplete"') &&
      !text.includes('"status":"failed"') &&
      /"type":"output_text"[^{}]*"text":"[^"]/.test(text),
    nonstreamParsedOk: (j) =>
      j?.object === 'response' &&
      j.status === 'completed' &&
      Array.isArray(j.output) &&
      j.output.some((item) => item?.type === 'message' && Array.isArray(item.content) && item.content.some((c) => c?.type === 'output_text' && nonEmpty(c.text))),
    // The last event is response.completed, whole (its data line ended by the blank line), with
    // the response's status "completed".
    streamOk: (text) => {
      if (!completedLast(text) || !/"type":"response\.output_text\.delta"[^\n]*"delta":"[^"]/.test(text)) return false;
      const t = tail(text);
      return !t.includes('event: error') && !t.includes('event: response.failed') && !t.includes('event: response.incomplete');
    },
  },
};

// The Responses door with `store: true` (its default): every answer is also saved for
// previous_response_id. Opt-in (`--ingress responses-stored`): earlier runs measured `store: false`.
WIRES['responses-stored'] = {
  ...WIRES.responses,
  label: 'OpenAI Responses, stored',
  body: (stream, prompt = PROMPT) => JSON.stringify({ model: MODEL, input: prompt, max_output_tokens: 256, stream, store: true, provider: PROVIDER }),
};

export const WIRE_NAMES = Object.keys(WIRES);
/** The doors measured when --ingress is not given. */
export const DEFAULT_WIRES = ['chat', 'messages', 'responses'];

/**
 * Whether a response body is a complete answer of `wire` (its status is checked by the caller).
 * `thorough`: a non-streamed body is parsed as JSON and its content checked on the object.
 */
export function answerOk(wire, stream, text, thorough = false) {
  const w = WIRES[wire];
  if (stream) return w.streamOk(text);
  return w.nonstreamOk(text) && (!thorough || w.nonstreamParsedOk(json(text)));
}
