import { oneOf } from './options.js';

/** `context-compression` options: the only engine is `middle-out`. */
export function contextCompressionOptions(entry: Record<string, unknown>): void {
  oneOf(entry.engine, ['middle-out'] as const, 'context-compression', 'engine');
}
