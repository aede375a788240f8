/**
 * Streams the text of a custom tool's input while its call arrives as function-call arguments:
 * an upstream without custom tools gets them as a function of one string parameter (`input`,
 * providers/shared.ts), so the call comes back as `{"input":"…"}` in fragments. This decodes the
 * string value as far as the fragments so far allow (escapes split between fragments wait for the
 * rest; a surrogate pair is never cut in two, which strict JSON readers such as Codex's would
 * reject), so the client sees the input grow as OpenAI streams it. Anything not shaped like
 * `{"input":"` stops the streaming; the complete input is then taken from the whole arguments.
 */

const OPENING = '{"input":"';
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;

export class CustomInputDecoder {
  private buf = '';
  /** Where undecoded string content starts in buf; -1 before the opening is seen, -2 when not streaming (any more). */
  private pos = -1;

  /** The arguments fragment in, the newly decoded input text out ('' when none yet). */
  feed(fragment: string): string {
    this.buf += fragment;
    if (this.pos === -1) {
      const m = /^\s*\{\s*"input"\s*:\s*"/.exec(this.buf);
      if (!m) {
        if (!OPENING.startsWith(this.buf.replace(/\s+/g, ''))) this.pos = -2;
        return '';
      }
      this.pos = m[0].length;
    }
    if (this.pos < 0) return '';
    const buf = this.buf;
    let out = '';
    let i = this.pos;
    while (i < buf.length) {
      const ch = buf.charCodeAt(i);
      if (ch === 0x22) {
        // The closing quote: the input is complete.
        this.pos = -2;
        return out;
      }
      if (ch !== 0x5c) {
        if (isHigh(ch) && i + 1 >= buf.length) break;
        out += buf[i];
        i++;
        continue;
      }
      if (i + 1 >= buf.length) break;
      const e = buf[i + 1];
      if (e !== 'u') {
        const mapped = ESCAPES[e];
        if (mapped === undefined) {
          this.pos = -2;
          return out;
        }
        out += mapped;
        i += 2;
        continue;
      }
      if (i + 6 > buf.length) break;
      const code = parseInt(buf.slice(i + 2, i + 6), 16);
      if (Number.isNaN(code)) {
        this.pos = -2;
        return out;
      }
      if (isHigh(code)) {
        // Wait for the low half (`\uDCxx`), then emit the pair together.
        if (i + 12 > buf.length) break;
        if (buf[i + 6] === '\\' && buf[i + 7] === 'u') {
          const low = parseInt(buf.slice(i + 8, i + 12), 16);
          if (!Number.isNaN(low)) {
            out += String.fromCharCode(code, low);
            i += 12;
            continue;
          }
        }
      }
      out += String.fromCharCode(code);
      i += 6;
    }
    this.pos = i;
    return out;
  }
}

/** The input of a custom tool from the arguments of its function-shaped call (the text itself when not so wrapped). */
export function unwrapCustomInput(args: string): string {
  try {
    const parsed: unknown = JSON.parse(args);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const o = parsed as Record<string, unknown>;
      if (typeof o.input === 'string') return o.input;
      const values = Object.values(o);
      if (values.length === 1 && typeof values[0] === 'string') return values[0];
    }
  } catch {
    // not JSON: the model wrote the input itself
  }
  return args;
}
