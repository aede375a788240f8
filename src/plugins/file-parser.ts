import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Endpoint } from '../catalog/types.js';
import { ApiError } from '../core/errors.js';
import type { PdfEngine } from '../model/plugins.js';
import type { ContentPart, FilePart, GenerationRequest, Message } from '../model/request.js';
import { oneOf } from './options.js';
import { withMessages } from './rewrite.js';
import { PdfDownloader, urlForDisplay } from './pdf-download.js';
import type { PluginSettings } from './settings.js';

/**
 * `file-parser`: PDFs (`file` parts) reach every model. An endpoint whose model reads PDFs gets
 * the file as it is (`native`); for any other, the PDF becomes text — with Mistral's OCR API when
 * a Mistral key is configured, else with local text extraction (`pdf-text`, PDF.js through
 * unpdf: text only, no OCR of scanned pages). This is also what happens without the plugin, as on
 * OpenRouter; the plugin's `pdf.engine` picks the engine. The parsed text is returned to the
 * client as a `file` annotation. https://openrouter.ai/docs/guides/overview/multimodal/pdfs
 *
 * A PDF given by URL is fetched (pdf-download.ts) only when it is to be parsed; a model that
 * reads PDFs gets the URL, as OpenRouter passes it.
 */

export function fileParserOptions(entry: Record<string, unknown>): { engine?: PdfEngine } {
  const pdf = entry.pdf;
  if (pdf === undefined || pdf === null) return {};
  if (typeof pdf !== 'object' || Array.isArray(pdf)) throw new ApiError(400, 'plugin file-parser: pdf must be an object');
  // OpenRouter's `cloudflare-ai` is its free text extraction, which is what `pdf-text` is here.
  const engine = oneOf((pdf as Record<string, unknown>).engine, ['pdf-text', 'cloudflare-ai', 'mistral-ocr', 'native'] as const, 'plugin file-parser', 'pdf.engine');
  if (engine === undefined) return {};
  return { engine: engine === 'cloudflare-ai' ? 'pdf-text' : engine };
}

/** OpenRouter's OCR price: $2 per 1,000 pages. */
const OCR_PRICE_PER_PAGE = 0.002;
/** Parsed text kept in memory, at most (characters across entries). */
const CACHE_MAX_CHARS = 64 * 1024 * 1024;
/**
 * How long a fetched URL's content hash is trusted: the next turn of a conversation, which sends
 * the same URL, finds its parsed text without fetching it again; a document replaced at its URL
 * is fetched anew after this.
 */
const URL_HASH_TTL_MS = 10 * 60_000;
const URL_HASH_ENTRIES = 1024;

type Reuse = 'cache' | 'client annotation' | null;
type ParseEngine = 'pdf-text' | 'mistral-ocr';
/** One file's outcome: `fetched` names the URL it was downloaded from for this request. */
type FileOutcome = { file: ParsedFile; reused: Reuse; fetched?: string };
/** Parsed texts the client sent back as `file` annotations. */
type KnownFiles = { hash: string; text: string }[] | undefined;

export interface ParsedFile {
  hash: string;
  name?: string;
  text: string;
  pages: number;
  engine: 'pdf-text' | 'mistral-ocr';
}

/** What parsing one request's PDFs did, for the record, the bill and the answer's annotations. */
export interface FileParsing {
  request: GenerationRequest;
  /** `reused`: where an already parsed text came from (null: parsed for this request). */
  parsed: FileOutcome[];
  costUsd: number;
}

type PdfPart = FilePart & { source: { kind: 'base64'; mediaType: string; data: string } | { kind: 'url'; url: string } };

/** A PDF given inline, or any document given by URL (what it is shows once it is fetched). */
const isPdf = (p: ContentPart): p is PdfPart =>
  p.type === 'file' && ((p.source.kind === 'base64' && p.source.mediaType === 'application/pdf') || p.source.kind === 'url');

/** A name for a file the client did not name: the last segment of its URL's path. */
function nameOf(p: PdfPart): string | undefined {
  if (p.filename !== undefined || p.source.kind !== 'url') return p.filename;
  try {
    const last = new URL(p.source.url).pathname.split('/').pop();
    return last ? decodeURIComponent(last) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parsed PDFs by content hash and engine, so the next turn of a conversation, which sends the
 * same file again, is not parsed again. In memory (an LRU bounded by entries and characters),
 * not in the database: parsing is a cache, not a record, and a document's text has no business
 * outliving the request in storage; a replica that misses it parses the file once more.
 */
export class FileParser {
  private readonly cache: LRUCache<string, Promise<ParsedFile>>;
  /** URL → content hash of what it gave, so a URL sent again is not fetched again while its text is cached. */
  private readonly urlHashes = new LRUCache<string, string>({ max: URL_HASH_ENTRIES, ttl: URL_HASH_TTL_MS });
  private readonly downloader: PdfDownloader;

  constructor(private readonly settings: PluginSettings) {
    this.cache = new LRUCache<string, Promise<ParsedFile>>({ max: Math.max(1, settings.parsedFileCacheEntries), maxSize: CACHE_MAX_CHARS });
    this.downloader = new PdfDownloader(settings.pdfDownload);
  }

  /** The engine for this endpoint, or null when the PDF goes to it as it is. */
  engineFor(req: GenerationRequest, ep: Endpoint): Exclude<PdfEngine, 'native'> | null {
    const wanted = req.plugins?.fileParser?.engine;
    if (wanted === 'native') return null;
    if (wanted) return wanted;
    if ((ep.model.input_modalities ?? []).includes('file')) return null;
    return this.settings.mistralOcr ? 'mistral-ocr' : 'pdf-text';
  }

  /** The request with its PDFs as text for this endpoint, or null when there is nothing to parse. */
  async apply(req: GenerationRequest, ep: Endpoint): Promise<FileParsing | null> {
    if (!req.messages.some((m) => m.content.some(isPdf))) return null;
    const engine = this.engineFor(req, ep);
    if (engine === null) return null;
    if (engine === 'mistral-ocr' && !this.settings.mistralOcr) throw new ApiError(400, 'plugin file-parser: the mistral-ocr engine needs MISTRAL_API_KEY (or plugins.mistral_ocr.api_key) on this server');
    const parsed: FileParsing['parsed'] = [];
    let costUsd = 0;
    const messages: Message[] = [];
    for (const m of req.messages) {
      if (!m.content.some(isPdf)) {
        messages.push(m);
        continue;
      }
      const content: ContentPart[] = [];
      for (const p of m.content) {
        if (!isPdf(p)) {
          content.push(p);
          continue;
        }
        const name = nameOf(p);
        const known = req.plugins?.parsedFiles;
        const { file, reused, fetched } =
          p.source.kind === 'url' ? await this.parseUrl(p.source.url, name, engine, known) : await this.parse(Buffer.from(p.source.data, 'base64'), name, engine, known);
        if (reused === null && engine === 'mistral-ocr') costUsd += file.pages * OCR_PRICE_PER_PAGE;
        if (!parsed.some((x) => x.file.hash === file.hash)) parsed.push({ file, reused, ...(fetched ? { fetched } : {}) });
        content.push({ type: 'text', text: `<file name="${name ?? 'document.pdf'}">\n${file.text}\n</file>`, ...(p.cache ? { cache: p.cache } : {}) });
      }
      messages.push({ ...m, content });
    }
    return { request: withMessages(req, messages), parsed, costUsd };
  }

  /** A PDF by URL: fetched, unless the URL's content was seen lately and its text is at hand. */
  private async parseUrl(url: string, name: string | undefined, engine: ParseEngine, known: KnownFiles): Promise<FileOutcome> {
    const seen = this.urlHashes.get(url);
    const reuse = seen === undefined ? null : await this.reuse(seen, name, engine, known);
    if (reuse) return reuse;
    const bytes = await this.downloader.download(url);
    const result = await this.parse(bytes, name, engine, known);
    this.urlHashes.set(url, result.file.hash);
    return { ...result, fetched: urlForDisplay(url) };
  }

  /** The text of the file with this hash when it is already parsed: in the cache, or sent back by the client. */
  private async reuse(hash: string, name: string | undefined, engine: ParseEngine, known: KnownFiles): Promise<FileOutcome | null> {
    const hit = this.cache.get(`${engine}:${hash}`);
    if (hit) {
      // A parse of it that failed (for another request) leaves nothing to reuse.
      const file = await hit.catch(() => null);
      if (file) return { file: { ...file, name }, reused: 'cache' };
    }
    // The client sent this file's parsed text back (another replica may have parsed it).
    const sent = known?.find((f) => f.hash === hash);
    if (sent) return { file: { hash, text: sent.text, pages: 0, engine, name }, reused: 'client annotation' };
    return null;
  }

  private async parse(bytes: Buffer, name: string | undefined, engine: ParseEngine, known: KnownFiles): Promise<FileOutcome> {
    const hash = createHash('sha256').update(bytes).digest('hex');
    const reuse = await this.reuse(hash, name, engine, known);
    if (reuse) return reuse;
    const key = `${engine}:${hash}`;
    const work = (engine === 'mistral-ocr' ? this.ocr(bytes.toString('base64')) : extractPdfText(bytes)).then(({ text, pages }) => ({ hash, text, pages, engine }) as ParsedFile);
    // In flight, the entry is small; done, it weighs its text (a request for the same file meanwhile waits for this parse).
    this.cache.set(key, work, { size: 1 });
    try {
      const file = await work;
      if (this.cache.get(key) === work) this.cache.set(key, work, { size: file.text.length + 1 });
      return { file: { ...file, name }, reused: null };
    } catch (err) {
      if (this.cache.peek(key) === work) this.cache.delete(key);
      throw err;
    }
  }

  /** Mistral's OCR API (https://docs.mistral.ai/capabilities/document_ai/basic_ocr/): one markdown text per page. */
  private async ocr(base64: string): Promise<{ text: string; pages: number }> {
    const svc = this.settings.mistralOcr!;
    let res: Response;
    try {
      res = await fetch(`${svc.baseUrl}/ocr`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.apiKey}` },
        body: JSON.stringify({ model: svc.model, document: { type: 'document_url', document_url: `data:application/pdf;base64,${base64}` } }),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (err) {
      throw new ApiError(502, `plugin file-parser: Mistral OCR could not be reached: ${(err as Error).message}`);
    }
    const body = (await res.json().catch(() => null)) as { pages?: { markdown?: string }[] } | null;
    if (!res.ok || !body || !Array.isArray(body.pages)) throw new ApiError(502, `plugin file-parser: Mistral OCR answered ${res.status}`, { provider_name: 'Mistral OCR' });
    return { text: body.pages.map((p) => p.markdown ?? '').join('\n\n'), pages: body.pages.length };
  }
}

/** Local text extraction with PDF.js (unpdf's build for servers), loaded on first use. */
async function extractPdfText(bytes: Buffer): Promise<{ text: string; pages: number }> {
  const { extractText } = await import('unpdf');
  try {
    const { text, totalPages } = await extractText(new Uint8Array(bytes), { mergePages: true });
    return { text, pages: totalPages };
  } catch (err) {
    throw new ApiError(400, `plugin file-parser: the PDF could not be read: ${(err as Error).message}`);
  }
}
