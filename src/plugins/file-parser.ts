import { ApiError } from '../core/errors.js';
import type { PdfEngine } from '../model/plugins.js';
import { oneOf } from './options.js';

/**
 * `file-parser` options: `pdf.engine` is `pdf-text` (local text extraction; OpenRouter's
 * `cloudflare-ai` is taken as the same), `mistral-ocr` or `native`.
 */
export function fileParserOptions(entry: Record<string, unknown>): { engine?: PdfEngine } {
  const pdf = entry.pdf;
  if (pdf === undefined || pdf === null) return {};
  if (typeof pdf !== 'object' || Array.isArray(pdf)) throw new ApiError(400, 'plugin file-parser: pdf must be an object');
  const engine = oneOf((pdf as Record<string, unknown>).engine, ['pdf-text', 'cloudflare-ai', 'mistral-ocr', 'native'] as const, 'file-parser', 'pdf.engine');
  if (engine === undefined) return {};
  return { engine: engine === 'cloudflare-ai' ? 'pdf-text' : engine };
}
