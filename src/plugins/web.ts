import type { Endpoint } from '../catalog/types.js';
import { ApiError } from '../core/errors.js';
import type { WebPluginOptions } from '../model/plugins.js';
import { textOf, type GenerationRequest, type HostedTool, type Message } from '../model/request.js';
import type { Annotation } from '../model/response.js';
import { UntranslatableRequest } from '../providers/types.js';
import { withMessages } from './rewrite.js';
import { oneOf, optionalInteger, optionalString, optionalStrings } from './options.js';

/** OpenRouter's default number of search results per request. */
const DEFAULT_MAX_RESULTS = 5;
const MAX_RESULTS_LIMIT = 25;

/** The `web` plugin's options (also what `:online` means, with every default). */
export function webOptions(entry: Record<string, unknown>): WebPluginOptions {
  const where = 'plugin web';
  const engine = oneOf(entry.engine, ['native', 'exa'] as const, where, 'engine');
  const out: WebPluginOptions = { maxResults: optionalInteger(entry, where, 'max_results', 1, MAX_RESULTS_LIMIT) ?? DEFAULT_MAX_RESULTS };
  if (engine) out.engine = engine;
  const prompt = optionalString(entry, where, 'search_prompt');
  if (prompt !== undefined) out.searchPrompt = prompt;
  const include = optionalStrings(entry, where, 'include_domains');
  if (include) out.includeDomains = include;
  const exclude = optionalStrings(entry, where, 'exclude_domains');
  if (exclude) out.excludeDomains = exclude;
  return out;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Tool types that are OpenRouter's web search server tool in a chat request: its own, and the Responses-style shorthand it converts. */
export function isWebSearchToolType(type: string): boolean {
  return type === 'openrouter:web_search' || /^web_search(_preview)?(_\d{4}_\d{2}_\d{2})?$/.test(type);
}

/**
 * OpenRouter's web search server tool (`{type: "openrouter:web_search", parameters: {…}}`, or the
 * shorthand `{type: "web_search", …}` with the options at the top level) as the neutral hosted
 * tool: where the endpoint searches itself the model decides when to search (the adapter writes
 * its provider's tool from this config); elsewhere Switchyard searches with Exa (plugins/runner.ts).
 * `where` names the tool in errors (`tools[0]`).
 * https://openrouter.ai/docs/guides/features/server-tools/web-search
 */
export function webSearchTool(entry: Json, where: string): HostedTool {
  const params = isObj(entry.parameters) ? entry.parameters : entry;
  const label = `${where} (${String(entry.type)})`;
  const config: Json = {};
  const engine = oneOf(params.engine, ['auto', 'native', 'exa'] as const, label, 'engine');
  if (engine && engine !== 'auto') config.engine = engine;
  const max = optionalInteger(params, label, 'max_results', 1, MAX_RESULTS_LIMIT);
  if (max !== undefined) config.max_results = max;
  const allowed = nonEmpty(optionalStrings(params, label, 'allowed_domains'));
  const excluded = nonEmpty(optionalStrings(params, label, 'excluded_domains') ?? optionalStrings(params, label, 'blocked_domains'));
  if (allowed && excluded) throw new ApiError(400, `${label}: allowed_domains and excluded_domains cannot be used together`);
  // The neutral names the adapters read (Anthropic's spelling).
  if (allowed) config.allowed_domains = allowed;
  if (excluded) config.blocked_domains = excluded;
  if (isObj(params.user_location)) config.user_location = params.user_location;
  if (typeof params.max_uses === 'number') config.max_uses = params.max_uses;
  return { type: 'hosted', name: 'web_search', config, server: true };
}

const nonEmpty = (list: string[] | undefined): string[] | undefined => (list && list.length > 0 ? list : undefined);

/**
 * What Switchyard's own search does for a request's hosted web_search tool (from any wire: the
 * server tool, Anthropic's web_search_2025…, a Responses web_search with `filters`) at an
 * endpoint that does not run it.
 */
export function webToolOptions(config: Json): WebPluginOptions {
  const out: WebPluginOptions = { maxResults: typeof config.max_results === 'number' ? config.max_results : DEFAULT_MAX_RESULTS };
  if (config.engine === 'native' || config.engine === 'exa') out.engine = config.engine;
  const filters = isObj(config.filters) ? config.filters : {};
  const allowed = Array.isArray(config.allowed_domains) ? config.allowed_domains : Array.isArray(filters.allowed_domains) ? filters.allowed_domains : undefined;
  const blocked = Array.isArray(config.blocked_domains) ? config.blocked_domains : undefined;
  if (allowed && allowed.length > 0) out.includeDomains = allowed as string[];
  else if (blocked && blocked.length > 0) out.excludeDomains = blocked as string[];
  return out;
}

/** One search result as the web plugin uses it. */
export interface SearchResult {
  url: string;
  title: string;
  /** Excerpts of the page relevant to the query. */
  content: string;
}

/** What the web plugin did for one request: its results (fetched once, reused on fallbacks). */
export interface WebRun {
  results: SearchResult[] | null;
}

/** The text a search is made with: the last user message's text. */
export function searchQuery(req: GenerationRequest): string {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i]!;
    if (m.role !== 'user') continue;
    const text = textOf(m.content, '\n').trim();
    if (text !== '') return text.slice(0, 2000);
  }
  return '';
}

/**
 * The request with search results for this endpoint: the provider's own search (a hosted
 * `web_search` tool, for protocols that run it: Anthropic, Gemini, OpenAI's and xAI's Responses
 * APIs, Perplexity) or Exa's results injected as a
 * system message before the last user message, as OpenRouter does. Throws UntranslatableRequest
 * when this endpoint cannot have the engine asked for (another endpoint may), ApiError when the
 * server lacks what the request needs.
 * https://openrouter.ai/docs/guides/features/plugins/web-search
 */
export async function applyWebSearch(
  req: GenerationRequest,
  opts: WebPluginOptions,
  target: { endpoint: Endpoint; hostedTools: ReadonlySet<string> | undefined },
  exa: ExaClient | null,
  run: WebRun,
  notes: { note(text: string): void; costUsd: number; annotations: Annotation[] },
): Promise<GenerationRequest> {
  const ep = target.endpoint;
  const native = target.hostedTools?.has('web_search') === true;
  const engine = opts.engine ?? (native ? 'native' : 'exa');
  if (engine === 'native') {
    if (!native) throw new UntranslatableRequest(`plugin web: ${ep.provider.name} has no web search of its own (engine "native"); use engine "exa"`);
    notes.note(`web: native search of ${ep.provider.name}`);
    const added: GenerationRequest['tools'] = [];
    if (!req.tools.some((t) => t.type === 'hosted' && t.name === 'web_search')) {
      // The neutral form each adapter writes in its provider's terms. Most providers take an
      // allow-list or a block-list, not both: the allow-list is the narrower promise.
      const config: Record<string, unknown> = {};
      if (opts.includeDomains) config.allowed_domains = opts.includeDomains;
      else if (opts.excludeDomains) config.blocked_domains = opts.excludeDomains;
      added.push({ type: 'hosted', name: 'web_search', config });
    }
    // OpenRouter's web plugin searches X as well as the web on xAI.
    if (target.hostedTools?.has('x_search') && !req.tools.some((t) => t.type === 'hosted' && t.name === 'x_search')) {
      // OpenRouter's top-level `x_search_filter` (handles, dates) narrows the X search.
      const filter = req.extra.x_search_filter;
      added.push({ type: 'hosted', name: 'x_search', config: filter !== null && typeof filter === 'object' && !Array.isArray(filter) ? { ...(filter as Record<string, unknown>) } : {} });
    }
    return added.length === 0 ? req : withMessages(req, req.messages, { tools: [...req.tools, ...added] });
  }
  if (!exa) {
    const why = opts.engine === 'exa' ? 'engine "exa" needs EXA_API_KEY on this server' : `${ep.provider.name} has no web search of its own and EXA_API_KEY is not set on this server`;
    if (opts.engine === 'exa') throw new ApiError(400, `plugin web: ${why}`);
    throw new UntranslatableRequest(`plugin web: no search engine for this endpoint: ${why}`);
  }
  if (run.results === null) {
    run.results = await exa.search(searchQuery(req), opts);
    notes.costUsd += run.results.length * exa.pricePerResultUsd;
    notes.note(`web: ${run.results.length} Exa result(s), $${(run.results.length * exa.pricePerResultUsd).toFixed(4)}`);
    for (const r of run.results) notes.annotations.push({ type: 'url_citation', url: r.url, title: r.title, content: r.content, startIndex: -1, endIndex: -1 });
  }
  if (run.results.length === 0) return req;
  const injected: Message = { role: 'system', content: [{ type: 'text', text: searchMessage(run.results, opts.searchPrompt) }] };
  let lastUser = -1;
  req.messages.forEach((m, i) => {
    if (m.role === 'user') lastUser = i;
  });
  const messages = [...req.messages];
  messages.splice(lastUser < 0 ? messages.length : lastUser, 0, injected);
  return withMessages(req, messages);
}

/** OpenRouter's default introduction of the results (its documented search prompt), then the results. */
function searchMessage(results: SearchResult[], prompt: string | undefined): string {
  const today = new Date().toISOString().slice(0, 10);
  const intro =
    prompt ??
    `A web search was conducted on ${today}. Incorporate the following web search results into your response.\n\n` +
      'IMPORTANT: Cite them using markdown links named using the domain of the source.\nExample: [nytimes.com](https://nytimes.com/some-page).';
  const listed = results.map((r, i) => `[${i + 1}] ${r.title}\n${r.url}\n${r.content}`).join('\n\n');
  return `${intro}\n\n${listed}`;
}

/**
 * Exa's search API (https://docs.exa.ai/reference/search): `auto` search, the page excerpts Exa
 * finds most relevant (highlights), domain filters as given.
 */
export class ExaClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    readonly pricePerResultUsd: number,
  ) {}

  async search(query: string, opts: WebPluginOptions): Promise<SearchResult[]> {
    if (query === '') return [];
    const body: Record<string, unknown> = { query, type: 'auto', numResults: opts.maxResults, contents: { highlights: { numSentences: 5, highlightsPerUrl: 3 } } };
    if (opts.includeDomains) body.includeDomains = opts.includeDomains;
    if (opts.excludeDomains) body.excludeDomains = opts.excludeDomains;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': this.apiKey },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new ApiError(502, `plugin web: Exa could not be reached: ${(err as Error).message}`, { provider_name: 'Exa' });
    }
    const json = (await res.json().catch(() => null)) as { results?: unknown } | null;
    if (!res.ok || !json || !Array.isArray(json.results)) throw new ApiError(502, `plugin web: Exa answered ${res.status}`, { provider_name: 'Exa' });
    const out: SearchResult[] = [];
    for (const r of json.results as Record<string, unknown>[]) {
      if (typeof r?.url !== 'string') continue;
      const highlights = Array.isArray(r.highlights) ? (r.highlights as unknown[]).filter((h): h is string => typeof h === 'string') : [];
      const content = highlights.length > 0 ? highlights.join(' [...] ') : typeof r.text === 'string' ? r.text : typeof r.summary === 'string' ? r.summary : '';
      out.push({ url: r.url, title: typeof r.title === 'string' ? r.title : r.url, content });
    }
    return out.slice(0, opts.maxResults);
  }
}

/** Where each cited page appears in the answer: the first mention of its URL, or 0–0 when the answer does not name it. */
export function placeCitations(annotations: Annotation[], content: string | null): Annotation[] {
  return annotations.map((a) => {
    if (a.type !== 'url_citation' || a.startIndex >= 0) return a;
    const at = content ? content.indexOf(a.url) : -1;
    return { ...a, startIndex: Math.max(at, 0), endIndex: at >= 0 ? at + a.url.length : 0 };
  });
}
