import type { GenerationRequest } from '../model/request.js';

/**
 * The request with its conversation changed by a plugin: a copy (the same request goes to other
 * endpoints unchanged), without the client's own body (`native`), which no longer says what is
 * being sent, and with the prompt's size measured again.
 */
export function withMessages(req: GenerationRequest, messages: GenerationRequest['messages'], changes: Partial<GenerationRequest> = {}): GenerationRequest {
  return { ...req, ...changes, messages, native: undefined, promptChars: JSON.stringify(messages).length };
}
