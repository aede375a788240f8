import type { Endpoint } from '../catalog/types.js';
import type { GenerationRequest } from '../model/request.js';
import type { Annotation, Completion } from '../model/response.js';
import { healCompletion, healsResponses } from './response-healing.js';
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
  constructor(readonly settings: PluginSettings) {}

  /**
   * The request as this endpoint gets it. Returns `req` itself when no plugin changes anything, so
   * a request without plugins costs nothing here.
   */
  async requestFor(req: GenerationRequest, _target: EndpointView, _run: PluginRun): Promise<GenerationRequest> {
    return req;
  }

  /** Answer-side plugins on a complete (non-streamed) answer, in place. */
  afterCompletion(req: GenerationRequest, completion: Completion, run: PluginRun): void {
    if (healsResponses(req)) {
      const note = healCompletion(completion);
      if (note) run.note(note);
    }
    if (run.annotations.length > 0) completion.annotations = [...(completion.annotations ?? []), ...run.annotations];
  }
}
