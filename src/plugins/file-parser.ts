import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Endpoint } from '../catalog/types.js';
import { ApiError } from '../core/errors.js';
import type { PdfEngine } from '../model/plugins.js';
import type { ContentPart, FilePart, GenerationRequest, Message } from '../model/request.js';
import { oneOf } from './options.js';
import { withMessages } from './rewrite.js';
import type { PluginSettings } from './settings.js';

/**
 * `file-parser`: PDFs (`file` parts) reach every model. An endpoint whose model reads PDFs gets
 * the file as it is (`native`); for any other, the PDF becomes text — with Mistral's OCR API when
 * a Mistral key is configured, else with local text extraction (`pdf-text`, PDF.js through
 * unpdf: text only, no OCR of scanned pages). This is also what happens without the plugin, as on
 * OpenRouter; the plugin's `pdf.engine` picks the engine. The parsed text is returned to the
 * client as a `file` annotation. https://openrouter.ai/docs/guides/overview/multimodal/pdfs
 */

export function fileParserOptions(entry: Record<string, unknown>): { engine?: PdfEngine } {
  const pdf = entry.pdf;
  if (pdf === undefined || pdf === null) return {};
  if (typeof pdf !== 'object' || Array.isArray(pdf)) throw new ApiError(400, 'plugin file-parser: pdf must be an object');
  // OpenRouter's `cloudflare-ai` is its free text extraction, which is what `pdf-text` is here.
  const engine = oneOf((pdf as Record<string, unknown>).engine, ['pdf-text', 'cloudflare-ai', 'mistral-ocr', 'native'] as const, 'file-parser', 'pdf.engine');
  if (engine === undefined) return {};
  return { engine: engine === 'cloudflare-ai' ? 'pdf-text' : engine };
}

/** OpenRouter's OCR price: $2 per 1,000 pages. */
const OCR_PRICE_PER_PAGE = 0.002;
/** Parsed text kept in memory, at most (characters across entries). */
const CACHE_MAX_CHARS = 64 * 1024 * 1024;

type Reuse = 'cache' | 'client annotation' | null;

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
  parsed: { file: ParsedFile; reused: Reuse }[];
  costUsd: number;
}

const isPdf = (p: ContentPart): p is FilePart & { source: { kind: 'base64'; data: string } } =>
  p.type === 'file' && p.source.kind === 'base64' && p.source.mediaType === 'application/pdf';

/**
 * Parsed PDFs by content hash and engine, so the next turn of a conversation, which sends the
 * same file again, is not parsed again. In memory (an LRU bounded by entries and characters),
 * not in the database: parsing is a cache, not a record, and a document's text has no business
 * outliving the request in storage; a replica that misses it parses the file once more.
 */
export class FileParser {
  private readonly cache: LRUCache<string, Promise<ParsedFile>>;

  constructor(private readonly settings: PluginSettings) {
    this.cache = new LRUCache<string, Promise<ParsedFile>>({ max: Math.max(1, settings.parsedFileCacheEntries), maxSize: CACHE_MAX_CHARS });
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
        const { file, reused } = await this.parse(p.source.data, p.filename, engine, req.plugins?.parsedFiles);
        if (reused === null && engine === 'mistral-ocr') costUsd += file.pages * OCR_PRICE_PER_PAGE;
        if (!parsed.some((x) => x.file.hash === file.hash)) parsed.push({ file, reused });
        content.push({ type: 'text', text: `<file name="${p.filename ?? 'document.pdf'}">\n${file.text}\n</file>`, ...(p.cache ? { cache: p.cache } : {}) });
      }
      messages.push({ ...m, content });
    }
    return { request: withMessages(req, messages), parsed, costUsd };
  }

  private async parse(base64: string, name: string | undefined, engine: 'pdf-text' | 'mistral-ocr', known: { hash: string; text: string }[] | undefined): Promise<{ file: ParsedFile; reused: Reuse }> {
    const bytes = Buffer.from(base64, 'base64');
    const hash = createHash('sha256').update(bytes).digest('hex');
    const key = `${engine}:${hash}`;
    const hit = this.cache.get(key);
    if (hit) return { file: { ...(await hit), name }, reused: 'cache' };
    // The client sent this file's parsed text back (another replica may have parsed it).
    const sent = known?.find((f) => f.hash === hash);
    if (sent) return { file: { hash, text: sent.text, pages: 0, engine, name }, reused: 'client annotation' };
    const work = (engine === 'mistral-ocr' ? this.ocr(base64) : extractPdfText(bytes)).then(({ text, pages }) => ({ hash, text, pages, engine }) as ParsedFile);
    // In flight, the entry is small; done, it weighs its text (a request for the same file meanwhile waits for this parse).
    this.cache.set(key, work, { size: 1 });
    try {
      const file = await work;
      if (this.cache.get(key) === work) this.cache.set(key, work, { size: file.text.length + 1 });
      return { file: { ...file, name }, reused: null };
    } catch (err) {
      this.cache.delete(key);
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
