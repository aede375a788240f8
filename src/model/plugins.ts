/**
 * OpenRouter's plugins (`plugins: [{id, …}]`, the legacy `transforms`, the `:online` suffix) as the
 * pipeline sees them once a front door has parsed them: which plugins are on, with their options.
 * src/plugins/ implements them; nothing here knows a wire format.
 */

/** The `web` plugin: search results for the prompt, from the provider's own search or from Exa. */
export interface WebPluginOptions {
  /** `native`: the provider's search; `exa`: Exa's search API; absent: native where the provider has it, else Exa. */
  engine?: 'native' | 'exa';
  maxResults: number;
  /** The text that introduces the injected results (Exa only). */
  searchPrompt?: string;
  includeDomains?: string[];
  excludeDomains?: string[];
}

/** How PDFs are turned into something the model can read. */
export type PdfEngine = 'pdf-text' | 'mistral-ocr' | 'native';

export interface PluginRequest {
  web?: WebPluginOptions;
  /** `file-parser`: absent engine = the endpoint reads PDFs itself when it can, else the configured parser. */
  fileParser?: { engine?: PdfEngine };
  responseHealing?: boolean;
  /**
   * `context-compression` / `transforms: ["middle-out"]`: true on, false off (`transforms: []`,
   * `enabled: false`); absent: OpenRouter's default, on for endpoints of at most 8,192 tokens of context.
   */
  contextCompression?: boolean;
  moderation?: boolean;
  /**
   * Files parsed on an earlier turn, as the client sent their `file` annotations back (by content
   * hash): such a file is not parsed again.
   */
  parsedFiles?: { hash: string; text: string }[];
}

/** Endpoints with at most this much context compress an oversized prompt unless the client turned compression off. */
export const DEFAULT_COMPRESSION_MAX_CONTEXT = 8192;

/** Whether an endpoint of this context length compresses an oversized prompt for this request. */
export function compressesFor(plugins: PluginRequest | undefined, contextLength: number | null): boolean {
  const setting = plugins?.contextCompression;
  if (setting !== undefined) return setting;
  return contextLength !== null && contextLength <= DEFAULT_COMPRESSION_MAX_CONTEXT;
}
