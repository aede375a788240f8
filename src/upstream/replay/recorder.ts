import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { yaml } from '../../core/yaml.js';
import { cassetteDocument, loadCassetteFile, type Interaction } from './cassette.js';
import type { Redactor } from '../../core/redact.js';
import type { UpstreamRequest } from '../types.js';
import type { UpstreamBody, UpstreamResponse } from '../types.js';

/** Headers that carry credentials never reach a cassette. */
const SECRET_HEADERS = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key', 'cookie', 'proxy-authorization'];
const SECRET_QUERY = ['key', 'api_key', 'apikey', 'token'];

function headerMap(h: Record<string, string | string[] | undefined>, secrets: Set<string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || secrets.has(k.toLowerCase())) continue;
    // go-vcr writes canonical header names (Content-Type); keep that so files diff cleanly.
    const name = k.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
    out[name] = Array.isArray(v) ? v : [v];
  }
  return out;
}

function scrubUrl(url: string): string {
  try {
    const u = new URL(url);
    for (const q of SECRET_QUERY) if (u.searchParams.has(q)) u.searchParams.delete(q);
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Writes every upstream exchange to go-vcr v2 cassettes: one file per cassette name (the client's
 * `X-Switchyard-Cassette` header, or one per server session), rewritten after each interaction.
 * Bodies are teed as they stream, with each piece's arrival time kept for faithful replay.
 */
export class Recorder {
  private readonly cassettes = new Map<string, Interaction[]>();
  /** Cassette name → file name, where a name's file could not be appended to. */
  private readonly files = new Map<string, string>();
  private readonly secrets: Set<string>;

  constructor(
    private readonly dir: string,
    private readonly sessionName = `session-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    extraSecretHeaders: string[] = [],
    /** Masks credentials an upstream echoes in a body (the provider keys, token shapes). */
    /** Replaced by a reload, whose provider keys it must mask from then on. */
    public redactor?: Redactor,
  ) {
    mkdirSync(dir, { recursive: true });
    this.secrets = new Set([...SECRET_HEADERS, ...extraSecretHeaders.map((h) => h.toLowerCase())]);
  }

  wrap(cassette: string | null, req: UpstreamRequest, res: UpstreamResponse, startedAt: number): UpstreamResponse {
    const name = (cassette ?? this.sessionName).replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120) || this.sessionName;
    const scrub = (text: string) => (this.redactor ? this.redactor.redact(text) : text);
    const finish = (body: string, offsets: number[], bytes: Buffer | null) => {
      const interaction: Interaction = {
        request: { method: 'POST', url: scrubUrl(req.url), headers: headerMap(req.headers, this.secrets), body: scrub(req.body) },
        response: {
          code: res.statusCode,
          headers: headerMap(res.headers, this.secrets),
          body: scrub(body),
          durationMs: Date.now() - startedAt,
          eventOffsetsMs: offsets.length > 1 ? offsets : undefined,
          ...(bytes ? { bodyBytes: bytes } : {}),
        },
      };
      const list = this.cassettes.get(name) ?? this.earlier(name);
      list.push(interaction);
      this.cassettes.set(name, list);
      writeFileSync(join(this.dir, `${this.files.get(name) ?? name}.yaml`), `---\n${yaml().stringify(cassetteDocument(list), { lineWidth: 0, customTags: ['binary'] })}`);
    };
    const type = res.headers['content-type'];
    const binary = BINARY_TYPES.has(String(Array.isArray(type) ? type[0] : (type ?? '')).split(';')[0].trim().toLowerCase());
    return { ...res, body: new TeeBody(res.body, startedAt, finish, binary) };
  }

  /**
   * A cassette of that name written before (another session, or another client naming the same
   * one): recording appends to it rather than silently replacing what it holds.
   */
  private earlier(name: string): Interaction[] {
    const file = join(this.dir, `${name}.yaml`);
    if (!existsSync(file)) return [];
    try {
      return loadCassetteFile(file);
    } catch {
      // Not a cassette we can read: it is kept as it is, and this name records into a fresh file.
      this.files.set(name, `${name}-${Date.now()}`);
      return [];
    }
  }
}

/** Bodies recorded as their bytes (YAML `!!binary`), not as text: AWS event streams. */
const BINARY_TYPES = new Set(['application/vnd.amazon.eventstream']);

/** Passes an upstream body through unchanged while keeping a copy; reports it once complete. */
class TeeBody implements UpstreamBody {
  private text_ = '';
  /** A binary body's pieces (null for text bodies). */
  private readonly bytes: Buffer[] | null;
  private readonly offsets: number[] = [];
  private reported = false;

  constructor(
    private readonly inner: UpstreamBody,
    private readonly startedAt: number,
    private readonly onComplete: (body: string, offsets: number[], bytes: Buffer | null) => void,
    binary = false,
  ) {
    this.bytes = binary ? [] : null;
  }

  get destroyed(): boolean {
    return this.inner.destroyed;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer | Uint8Array | string> {
    const decoder = new TextDecoder();
    for await (const piece of this.inner) {
      if (this.bytes) {
        this.bytes.push(Buffer.from(typeof piece === 'string' ? Buffer.from(piece) : piece));
        yield piece;
        continue;
      }
      const text = typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
      this.keep(text);
      yield piece;
    }
    this.report();
  }

  async text(): Promise<string> {
    const body = await this.inner.text();
    // Read as text (an error body): recorded as text whatever the content type said.
    this.bytes?.splice(0);
    this.keep(body);
    this.report();
    return body;
  }

  destroy(): void {
    // A body abandoned half-way (fallback, client gone) is not a faithful recording: drop it.
    this.reported = true;
    this.inner.destroy();
  }

  private keep(text: string): void {
    // Offsets are kept per SSE event, so a replay can release events at their recorded times.
    const events = (this.text_ + text).split('\n\n').length - this.text_.split('\n\n').length;
    for (let i = 0; i < events; i++) this.offsets.push(Date.now() - this.startedAt);
    this.text_ += text;
  }

  private report(): void {
    if (this.reported) return;
    this.reported = true;
    if (this.bytes && this.bytes.length > 0) {
      const all = Buffer.concat(this.bytes);
      this.onComplete(all.toString('utf8'), [], all);
      return;
    }
    const eventCount = this.text_.split('\n\n').filter((b) => b.trim() !== '').length;
    this.onComplete(this.text_, this.offsets.slice(0, eventCount), null);
  }
}
