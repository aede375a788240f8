import { jsonrepair } from 'jsonrepair';
import type { GenerationRequest } from '../model/request.js';
import type { Completion } from '../model/response.js';

/**
 * `response-healing`: a non-streamed answer to a structured-output request (`json_schema` or
 * `json_object`) that does not parse is repaired where possible — missing brackets, trailing
 * commas, single or missing quotes (jsonrepair does the repair), a markdown fence or prose around
 * the JSON (taken away here first). An answer that cannot be made into a JSON object or array is
 * returned as the model wrote it, as OpenRouter does (healing is best effort, never an error).
 * https://openrouter.ai/docs/guides/features/plugins/response-healing
 */

/** Whether the plugin applies to this request at all. */
export function healsResponses(req: GenerationRequest): boolean {
  const type = req.responseFormat?.type;
  return req.plugins?.responseHealing === true && !req.stream && (type === 'json_schema' || type === 'json_object');
}

/** Heals the completion's text in place; returns a note for the record when it changed it. */
export function healCompletion(completion: Completion): string | null {
  const text = completion.content;
  if (text === null || text.trim() === '' || parses(text)) return null;
  const healed = healJson(text);
  if (healed === null) return 'response-healing: the answer is not valid JSON and could not be repaired; returned as is';
  completion.content = healed;
  return 'response-healing: the answer was not valid JSON and was repaired';
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The repaired JSON text (an object or an array), or null when there is none to be had. */
export function healJson(text: string): string | null {
  const candidate = jsonRegion(unfenced(text));
  if (candidate === null) return null;
  try {
    const repaired = jsonrepair(candidate);
    const value: unknown = JSON.parse(repaired);
    // A structured-output answer is an object (or an array); prose repaired into a string is not one.
    if (value === null || typeof value !== 'object') return null;
    return JSON.stringify(value);
  } catch {
    return null;
  }
}

/** The body of the first markdown code fence, or the text itself when it has none. */
function unfenced(text: string): string {
  const open = text.indexOf('```');
  if (open < 0) return text;
  const bodyStart = text.indexOf('\n', open);
  if (bodyStart < 0) return text;
  const close = text.indexOf('```', bodyStart);
  return close < 0 ? text.slice(bodyStart + 1) : text.slice(bodyStart + 1, close);
}

/**
 * From the first `{` or `[` to where that value closes (strings and escapes respected), or to the
 * end when it never closes (a truncated answer): what is around it is prose.
 */
function jsonRegion(text: string): string | null {
  const start = text.search(/[{[]/);
  if (start < 0) return null;
  let depth = 0;
  let inString = false;
  let quote = '';
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === quote) inString = false;
      continue;
    }
    if (c === '"' || c === "'") {
      inString = true;
      quote = c;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return text.slice(start, i + 1);
    }
  }
  return text.slice(start);
}
