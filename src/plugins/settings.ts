/**
 * What the plugins need from the operator: the services behind them. Each is off until configured
 * (`plugins:` in switchyard.yaml, or the environment); a request for a plugin whose service is
 * missing gets a 400 that says what to configure.
 */

import type { PdfDownloadSettings } from './pdf-download.js';

export interface ServiceSettings {
  apiKey: string;
  baseUrl: string;
}

export interface PluginSettings {
  /** Exa's search API for the `web` plugin (EXA_API_KEY). */
  exa: (ServiceSettings & { pricePerResultUsd: number }) | null;
  /** Mistral's OCR API for `file-parser` (MISTRAL_API_KEY). */
  mistralOcr: (ServiceSettings & { model: string }) | null;
  /** A moderation API in OpenAI's `/moderations` shape for the `moderation` plugin. */
  moderation: (ServiceSettings & { model: string }) | null;
  /** Parsed PDFs kept in memory, by content hash (plugins.file_parser.cache_entries). */
  parsedFileCacheEntries: number;
  /** Fetching PDFs given by URL for `file-parser` (plugins.file_parser.url_max_bytes, url_timeout_ms, allow_private_urls). */
  pdfDownload: PdfDownloadSettings;
}

export interface PluginsFileSection {
  exa?: { api_key?: string; base_url?: string; price_per_result?: number };
  mistral_ocr?: { api_key?: string; base_url?: string; model?: string };
  moderation?: { provider?: 'openai'; api_key?: string; base_url?: string; model?: string };
  file_parser?: { cache_entries?: number; url_max_bytes?: number; url_timeout_ms?: number; allow_private_urls?: boolean };
}

/** OpenRouter's Exa price: $4 per 1,000 results (https://openrouter.ai/docs/guides/features/plugins/web-search#pricing). */
const EXA_PRICE_PER_RESULT = 0.004;

const trimSlash = (url: string) => url.replace(/\/+$/, '');

export function pluginSettings(env: NodeJS.ProcessEnv, file: PluginsFileSection | undefined): PluginSettings {
  const exaKey = file?.exa?.api_key ?? env.EXA_API_KEY;
  const mistralKey = file?.mistral_ocr?.api_key ?? env.MISTRAL_API_KEY;
  const mod = file?.moderation;
  const modKey = mod ? (mod.api_key ?? env.OPENAI_API_KEY) : undefined;
  return {
    exa: exaKey
      ? { apiKey: exaKey, baseUrl: trimSlash(file?.exa?.base_url ?? env.EXA_BASE_URL ?? 'https://api.exa.ai'), pricePerResultUsd: file?.exa?.price_per_result ?? EXA_PRICE_PER_RESULT }
      : null,
    mistralOcr: mistralKey
      ? { apiKey: mistralKey, baseUrl: trimSlash(file?.mistral_ocr?.base_url ?? env.MISTRAL_OCR_BASE_URL ?? 'https://api.mistral.ai/v1'), model: file?.mistral_ocr?.model ?? 'mistral-ocr-latest' }
      : null,
    moderation: modKey
      ? { apiKey: modKey, baseUrl: trimSlash(mod?.base_url ?? 'https://api.openai.com/v1'), model: mod?.model ?? 'omni-moderation-latest' }
      : null,
    parsedFileCacheEntries: file?.file_parser?.cache_entries ?? 256,
    pdfDownload: {
      maxBytes: file?.file_parser?.url_max_bytes ?? 20 * 1024 * 1024,
      timeoutMs: file?.file_parser?.url_timeout_ms ?? 30_000,
      allowPrivateAddresses: file?.file_parser?.allow_private_urls ?? false,
    },
  };
}
