import type { App } from '../app.js';
import type { ProviderRuntime } from '../config/load.js';
import type { CancelSignal } from '../core/cancel.js';
import { replayStoreFor } from './replay/store.js';
import { sendUpstream } from './transport.js';
import type { UpstreamRequest, UpstreamResponse } from './types.js';

/**
 * One upstream exchange as the pipeline sees it: from the provider's recordings when it replays,
 * otherwise over the network; teed into a cassette when recording is on. `clientBody` is the
 * client's request, which OpenRouter-level recordings match on. `trace`: headers that carry the
 * trace context to a real upstream (`traceparent`, with tracing on; src/observability/tracing.ts).
 */
export async function exchange(
  app: App,
  provider: ProviderRuntime,
  request: UpstreamRequest,
  clientBody: unknown,
  cassette: string | null,
  signal: CancelSignal,
  started: number,
  trace?: Record<string, string>,
): Promise<UpstreamResponse> {
  if (trace && !provider.replay) request = { ...request, headers: { ...request.headers, ...trace } };
  let response = provider.replay ? replayStoreFor(provider.replay).answer(request, clientBody, signal) : await sendUpstream(provider, request, signal);
  if (app.recorder) response = app.recorder.wrap(cassette, request, response, started);
  return response;
}
