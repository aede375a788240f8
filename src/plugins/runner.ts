import type { Endpoint } from '../catalog/types.js';
import type { GenerationRequest } from '../model/request.js';
import type { Annotation, Completion } from '../model/response.js';
import { compressesFor } from '../model/plugins.js';
import { compressMessages, messageLimitOf, outputReserve } from './context-compression.js';
import { FileParser } from './file-parser.js';
import { moderate } from './moderation.js';
import { healCompletion, healsResponses } from './response-healing.js';
import { applyWebSearch, ExaClient, placeCitations, webToolOptions, type WebRun } from './web.js';
import { withMessages } from './rewrite.js';
import { UntranslatableRequest } from '../providers/types.js';
import type { PluginSettings } from './settings.js';

/**
 * Where OpenRouter's plugins meet the pipeline. Request-side plugins run per endpoint, before its
 * adapter builds the upstream request (what a plugin does can depend on the endpoint: its context
 * length, whether it reads PDFs or searches the web itself); answer-side plugins run on the
 * complete answer. Everything here is wire-neutral: the model's request in, the model's request
 * (or completion) out.
 */

/** One generation's plugin outcomes: notes for its record, extra cost, annotations for its answer. */
export class PluginRun {
  readonly notes: string[] = [];
  /** USD on top of the tokens (web search results). */
  costUsd = 0;
  readonly annotations: Annotation[] = [];
  /** The web plugin's search results, fetched once for all the endpoints tried. */
  readonly web: WebRun = { results: null };

  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }
}

/** What a request-side plugin may ask of the endpoint about to be tried. */
export interface EndpointView {
  endpoint: Endpoint;
  /** Hosted tools the endpoint's protocol runs itself (`web_search`, …). */
  hostedTools: ReadonlySet<string> | undefined;
}

export class Plugins {
  readonly files: FileParser;
  private readonly exa: ExaClient | null;

  constructor(readonly settings: PluginSettings) {
    this.files = new FileParser(settings);
    this.exa = settings.exa ? new ExaClient(settings.exa.baseUrl, settings.exa.apiKey, settings.exa.pricePerResultUsd) : null;
  }

  /** The most the request's plugins may add to its cost (Exa results), for admission against budgets. */
  worstCaseUsd(req: GenerationRequest): number {
    const web = req.plugins?.web;
    return web && this.exa && web.engine !== 'native' ? web.maxResults * this.exa.pricePerResultUsd : 0;
  }

  /** Plugins that may refuse the request before any routing: moderation. */
  async beforeRouting(req: GenerationRequest): Promise<void> {
    if (req.plugins?.moderation) await moderate(req, this.settings.moderation);
  }

  /**
   * The request as this endpoint gets it. Returns `req` itself when no plugin changes anything
   * (without plugins, only PDFs and windows of at most 8k context can change it).
   */
  async requestFor(req: GenerationRequest, target: EndpointView, run: PluginRun): Promise<GenerationRequest> {
    let out = req;
    // PDFs become text first: what compression measures is what the endpoint will read.
    const parsing = await this.files.apply(out, target.endpoint);
    if (parsing) {
      out = parsing.request;
      for (const { file, reused, fetched } of parsing.parsed) {
        const name = file.name ?? file.hash.slice(0, 12);
        if (fetched) run.note(`file-parser: ${name} fetched from ${fetched}`);
        run.note(reused === 'client annotation' ? `file-parser: ${name} not parsed again: its text came with the client's file annotation` : `file-parser: ${name} parsed with ${file.engine} (${file.pages} page(s)${reused ? ', from the cache' : ''})`);
        if (!run.annotations.some((a) => a.type === 'file' && a.hash === file.hash)) {
          run.annotations.push({ type: 'file', hash: file.hash, ...(file.name !== undefined ? { name: file.name } : {}), content: [{ type: 'text', text: file.text }] });
        }
      }
      run.costUsd += parsing.costUsd;
    }
    // Search results are part of the prompt that compression has to fit.
    if (out.plugins?.web) out = await applyWebSearch(out, out.plugins.web, target, this.exa, run.web, run);
    else out = await this.searchTool(out, target, run);
    out = compressFor(out, target.endpoint, run);
    return out;
  }

  /**
   * OpenRouter's web search server tool where this endpoint cannot run it, or where it asks for
   * Exa: Switchyard searches once with Exa, as the web plugin does, and the tool is taken out.
   * A provider's own hosted search tool (from the Messages or Responses wire) is not searched for
   * here: coding agents offer one on every request (Codex's `web_search`), and a search before every
   * turn would cost on every turn; where the endpoint lacks it, the attempt leaves it out and says so.
   */
  private async searchTool(req: GenerationRequest, target: EndpointView, run: PluginRun): Promise<GenerationRequest> {
    const tool = req.tools.find((t) => t.type === 'hosted' && t.name === 'web_search');
    if (!tool || tool.type !== 'hosted' || !tool.server) return req;
    const opts = webToolOptions(tool.config);
    const native = target.hostedTools?.has('web_search') === true;
    if (opts.engine === 'native' && !native) throw new UntranslatableRequest(`web_search (engine "native"): ${target.endpoint.provider.name} has no web search of its own`);
    if (native && opts.engine !== 'exa') return req;
    if (!this.exa && opts.engine !== 'exa') throw new UntranslatableRequest(`web_search: ${target.endpoint.provider.name} has no web search of its own and EXA_API_KEY is not set on this server`);
    const tools = req.tools.filter((t) => t !== tool);
    // A choice of the search tool, or of any tool when none is left, no longer means anything upstream.
    const choice = req.toolChoice;
    const toolChoice = (typeof choice === 'object' && choice.name === 'web_search') || (tools.length === 0 && choice !== 'none') ? undefined : choice;
    const without = withMessages(req, req.messages, { tools, toolChoice });
    return applyWebSearch(without, { ...opts, engine: 'exa' }, target, this.exa, run.web, run);
  }

  /** Answer-side plugins on a complete (non-streamed) answer, in place. */
  afterCompletion(req: GenerationRequest, completion: Completion, run: PluginRun): void {
    if (healsResponses(req)) {
      const note = healCompletion(completion);
      if (note) run.note(note);
    }
    if (run.annotations.length > 0) completion.annotations = [...(completion.annotations ?? []), ...placeCitations(run.annotations, completion.content)];
  }
}

/**
 * Middle-out compression for this endpoint, when it is on for it and the prompt does not fit. A
 * prompt that still exceeds the context once everything the algorithm may remove or shorten is
 * gone is not sent: the endpoint is skipped with a context-length error (the client's 400 when no
 * other endpoint serves).
 */
function compressFor(req: GenerationRequest, ep: Endpoint, run: PluginRun): GenerationRequest {
  const context = ep.contextLength;
  if (context === null || req.embedding || !compressesFor(req.plugins, context)) return req;
  const result = compressMessages(req.messages, context - outputReserve(req, context), messageLimitOf(ep.provider.protocol));
  if (!result) return req;
  if (result.tokens > context) {
    throw new UntranslatableRequest(
      `This prompt does not fit the context length ${context} of ${ep.model.id} (${ep.key}) even compressed: what context compression keeps (the leading system messages, the last message, the first and last 64 characters of each text, images, files and tool calls) is still ~${result.tokens} tokens. Please shorten the last message or the system prompt.`,
      'context_length_exceeded',
    );
  }
  run.note(`context-compression: for ${ep.key} (context ${context}) ${result.dropped} message(s) removed from the middle${result.truncated > 0 ? `, ${result.truncated} shortened` : ''}`);
  return withMessages(req, result.messages);
}
