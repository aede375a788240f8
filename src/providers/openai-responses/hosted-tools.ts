/**
 * The hosted (built-in) tool types of the Responses wire and the neutral name the pipeline knows
 * each by (model `HostedTool.name`): OpenAI's, and xAI's `x_search` (its Responses API also takes
 * OpenAI's web_search, code_interpreter and mcp). One table for both sides of the wire: the
 * Responses front door reads client tools with it, the Responses adapters write upstream tools with it.
 */
export const RESPONSES_HOSTED_TOOLS: Readonly<Record<string, string>> = {
  web_search: 'web_search',
  web_search_preview: 'web_search',
  web_search_2025_08_26: 'web_search',
  web_search_preview_2025_03_11: 'web_search',
  file_search: 'file_search',
  code_interpreter: 'code_interpreter',
  computer_use_preview: 'computer_use',
  computer_use: 'computer_use',
  computer: 'computer_use',
  image_generation: 'image_generation',
  local_shell: 'local_shell',
  shell: 'shell',
  apply_patch: 'apply_patch',
  mcp: 'mcp',
  tool_search: 'tool_search',
  x_search: 'x_search',
};

/** The neutral name of a Responses tool type, or undefined for function, custom and namespace tools. */
export function hostedToolOf(type: unknown): string | undefined {
  return typeof type === 'string' ? RESPONSES_HOSTED_TOOLS[type] : undefined;
}
