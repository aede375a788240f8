import type { Span } from '@opentelemetry/api';
import type { Endpoint } from '../catalog/types.js';

/**
 * What the observer keeps of one request between the pipeline's calls (`Generation.watch`): made
 * at `requestStarted`, dropped with the generation. Spans only while tracing is on.
 */
export class Watch {
  /** An upstream exchange started and has not been reported finished yet. */
  attemptOpen = false;
  /** Upstream exchanges started so far. */
  attempts = 0;
  /** The endpoint of the previous exchange (a key retry stays on the same endpoint). */
  lastEndpoint: Endpoint | null = null;
  /** The request's server span and the open exchange's client span. */
  span: Span | null = null;
  attemptSpan: Span | null = null;
  /** The answer's content, collected for the span when content capture is on. */
  output: OutputCapture | null = null;
}

/** The answer as the GenAI conventions' `gen_ai.output.messages` describe it, built up as it streams. */
export class OutputCapture {
  text = '';
  reasoning = '';
  refusal = '';
  readonly toolCalls: { id: string; name: string; arguments: string }[] = [];
}
