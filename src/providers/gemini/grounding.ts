import type { Annotation } from '../types.js';

/**
 * Google Search grounding (`candidate.groundingMetadata`) → `url_citation` annotations and the
 * number of searches run.
 *
 * Google's shape: `groundingChunks: [{web: {uri, title}}]` are the pages (`uri` is a
 * vertexaisearch.cloud.google.com redirect, kept as it is: the page's own address is not given),
 * `groundingSupports: [{segment: {partIndex?, startIndex?, endIndex, text}, groundingChunkIndices}]`
 * say which pages support which span of the answer, and `webSearchQueries` are the searches run.
 * A segment's indexes are UTF-8 byte offsets into the text of the part `partIndex` names (0 and
 * absent alike, as protobuf's JSON leaves out zeros). In practice a grounded answer is one text
 * part and the offsets also count from the start of the whole answer text (the last streamed event
 * carries metadata for everything before it); both readings are tried, the one whose span holds
 * the segment's own text wins, and when neither does the segment's text is looked for in the answer.
 *
 * Streamed, the metadata may come on several events: Google documents that each then lists only
 * the pages not listed before, with chunk indices counting across the whole stream; an event that
 * repeats the pages already seen (the same list, perhaps longer) replaces them instead. Citations
 * found twice (a support repeated) are kept once.
 */

type Json = Record<string, unknown>;
type UrlCitation = Extract<Annotation, { type: 'url_citation' }>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const int = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0);

interface Page {
  url: string;
  title?: string;
}

/** A support placed in the answer: its UTF-16 span (0–0 when it could not be placed) and the pages it cites. */
interface PlacedSupport {
  start: number;
  end: number;
  text?: string;
  chunks: number[];
}

/**
 * The UTF-16 index `bytes` UTF-8 bytes after `from` in `text`, or -1 when that falls inside a
 * character or past the end. A lone surrogate counts as U+FFFD (3 bytes), as UTF-8 encoders write it.
 */
export function utf16Index(text: string, from: number, bytes: number): number {
  let i = from;
  let n = 0;
  while (n < bytes) {
    if (i >= text.length) return -1;
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
    i++;
  }
  return n === bytes ? i : -1;
}

/** The occurrence of `needle` in `text` nearest to `near`, or -1. */
function nearestOccurrence(text: string, needle: string, near: number): number {
  let best = -1;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    if (best === -1 || Math.abs(at - near) < Math.abs(best - near)) best = at;
    if (at > near) break;
  }
  return best;
}

/**
 * Where a segment is in `text`: its byte offsets read from each of `bases` (string indexes the
 * offsets may count from) in turn, the first span that holds the segment's text winning; else the
 * segment's text found in the answer; else the first span that exists at all. Null: nowhere.
 */
function place(segment: Json, text: string, bases: readonly number[]): { start: number; end: number } | null {
  const startBytes = int(segment.startIndex);
  const endBytes = int(segment.endIndex);
  const cited = typeof segment.text === 'string' && segment.text !== '' ? segment.text : undefined;
  let fallback: { start: number; end: number } | null = null;
  if (endBytes > startBytes) {
    for (const base of bases) {
      const start = utf16Index(text, base, startBytes);
      if (start < 0) continue;
      const end = utf16Index(text, start, endBytes - startBytes);
      if (end < 0) continue;
      if (cited === undefined || text.slice(start, end) === cited) return { start, end };
      fallback ??= { start, end };
    }
  }
  if (cited !== undefined) {
    const at = nearestOccurrence(text, cited, fallback?.start ?? 0);
    if (at !== -1) return { start: at, end: at + cited.length };
  }
  return fallback;
}

function pageOf(chunk: unknown): Page | null {
  const web = isObject(chunk) ? chunk.web : undefined;
  if (!isObject(web) || typeof web.uri !== 'string' || web.uri === '') return null;
  // Vertex AI adds the page's domain; the title is usually the domain already (AI Studio).
  const title = typeof web.title === 'string' && web.title !== '' ? web.title : typeof web.domain === 'string' && web.domain !== '' ? web.domain : undefined;
  return title === undefined ? { url: web.uri } : { url: web.uri, title };
}

const samePage = (a: Page | null, b: Page | null): boolean => a?.url === b?.url && a?.title === b?.title;

/** The grounding of one answer, from one body or gathered over a stream's events. */
export class Grounding {
  /** Pages in Google's order (null: a chunk that is not a web page, kept so indices still match). */
  private pages: (Page | null)[] = [];
  private supports: PlacedSupport[] = [];
  private readonly placed = new Set<string>();
  private readonly queries = new Set<string>();
  private grounded = false;

  /**
   * Takes one `groundingMetadata`. `text`: the answer's text so far (the whole answer, for a body);
   * `partStarts[i]`: where part i of the candidate that carried it starts in `text`, for its text parts.
   */
  add(metadata: unknown, text: string, partStarts: readonly (number | undefined)[]): void {
    if (!isObject(metadata)) return;
    const incoming = Array.isArray(metadata.groundingChunks) ? metadata.groundingChunks.map(pageOf) : [];
    const known = this.pages;
    const repeats = known.length > 0 && incoming.length >= known.length && known.every((p, i) => samePage(p, incoming[i]!));
    this.pages = repeats || known.length === 0 ? incoming : [...known, ...incoming];
    if (Array.isArray(metadata.webSearchQueries)) for (const q of metadata.webSearchQueries) if (typeof q === 'string' && q !== '') this.queries.add(q);
    if (this.pages.length > 0 || this.queries.size > 0) this.grounded = true;
    if (!Array.isArray(metadata.groundingSupports)) return;
    for (const support of metadata.groundingSupports) {
      if (!isObject(support) || !isObject(support.segment) || !Array.isArray(support.groundingChunkIndices)) continue;
      const segment = support.segment;
      const chunks = support.groundingChunkIndices.filter((i): i is number => Number.isInteger(i) && (i as number) >= 0);
      if (chunks.length === 0) continue;
      const partStart = partStarts[int(segment.partIndex)];
      const bases = partStart === undefined || partStart === 0 ? [0] : [partStart, 0];
      const span = place(segment, text, bases) ?? { start: 0, end: 0 };
      const cited = typeof segment.text === 'string' && segment.text !== '' ? segment.text : undefined;
      const key = `${span.start}:${span.end}:${chunks.join(',')}:${cited ?? ''}`;
      if (this.placed.has(key)) continue;
      this.placed.add(key);
      this.supports.push(cited === undefined ? { ...span, chunks } : { ...span, text: cited, chunks });
    }
  }

  /**
   * Searches run for the answer: its queries, or one when it was grounded without saying which
   * (the catalog decides whether each is billed or only the answer: catalog/google.yaml).
   */
  searches(): number {
    return this.queries.size > 0 ? this.queries.size : this.grounded ? 1 : 0;
  }

  /** Each support × page it cites as a citation of the support's span, then the pages nothing cites (0–0). */
  annotations(): Annotation[] {
    const out: Annotation[] = [];
    const cited = new Set<number>();
    for (const s of this.supports) {
      for (const i of s.chunks) {
        const page = this.pages[i];
        if (!page) continue;
        cited.add(i);
        const a: UrlCitation = { type: 'url_citation', url: page.url, startIndex: s.start, endIndex: s.end };
        if (page.title !== undefined) a.title = page.title;
        if (s.text !== undefined) a.content = s.text;
        out.push(a);
      }
    }
    this.pages.forEach((page, i) => {
      if (!page || cited.has(i)) return;
      const a: UrlCitation = { type: 'url_citation', url: page.url, startIndex: 0, endIndex: 0 };
      if (page.title !== undefined) a.title = page.title;
      out.push(a);
    });
    return out;
  }
}
