import { ApiError } from '../core/errors.js';

/** Small checks for plugin options: a wrong option is a 400 that names the plugin and the option. */

export function optionalString(entry: Record<string, unknown>, plugin: string, key: string): string | undefined {
  const v = entry[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ApiError(400, `plugin ${plugin}: ${key} must be a string`);
  return v;
}

export function optionalStrings(entry: Record<string, unknown>, plugin: string, key: string): string[] | undefined {
  const v = entry[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) throw new ApiError(400, `plugin ${plugin}: ${key} must be an array of non-empty strings`);
  return v as string[];
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], plugin: string, key: string): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ApiError(400, `plugin ${plugin}: ${key} ${JSON.stringify(value)} is not supported (supported: ${allowed.join(', ')})`);
}
