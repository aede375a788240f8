/** Native finish reasons -> OpenRouter's five (docs/COMPATIBILITY.md#finish-reasons). Tool calls win over any native value. */
const MAP: Record<string, string> = {
  stop: 'stop',
  end_turn: 'stop',
  STOP: 'stop',
  completed: 'stop',
  stop_sequence: 'stop',
  eos: 'stop',
  FINISH_REASON_STOP: 'stop',
  length: 'length',
  max_tokens: 'length',
  MAX_TOKENS: 'length',
  max_output_tokens: 'length',
  model_length: 'length',
  model_context_window_exceeded: 'length',
  pause_turn: 'stop',
  incomplete: 'length',
  tool_calls: 'tool_calls',
  tool_use: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  refusal: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  BLOCKLIST: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
  IMAGE_RECITATION: 'content_filter',
  guardrail_intervened: 'content_filter', // Bedrock Converse
  content_filtered: 'content_filter', // Bedrock Converse
  OTHER: 'content_filter', // Gemini: blocked for an unlisted reason
  MALFORMED_FUNCTION_CALL: 'error',
  error: 'error',
};

export function normaliseFinishReason(native: string | null, sawToolCalls: boolean): string | null {
  if (sawToolCalls) return 'tool_calls';
  if (native === null) return null;
  return MAP[native] ?? MAP[native.toLowerCase()] ?? 'stop';
}
