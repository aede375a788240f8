import { ApiError } from '../core/errors.js';

/**
 * Small checks for plugin and server-tool options: a wrong option is a 400 that names where it
 * was (`where`: "plugin web", "tools[0] (openrouter:web_search)") and the option.
 */

export function optionalString(entry: Record<string, unknown>, where: string, key: string): string | undefined {
  const v = entry[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ApiError(400, `${where}: ${key} must be a string`);
  return v;
}

export function optionalStrings(entry: Record<string, unknown>, where: string, key: string): string[] | undefined {
  const v = entry[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) throw new ApiError(400, `${where}: ${key} must be an array of non-empty strings`);
  return v as string[];
}

export function optionalInteger(entry: Record<string, unknown>, where: string, key: string, min: number, max: number): number | undefined {
  const v = entry[key];
  if (v === undefined || v === null) return undefined;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw new ApiError(400, `${where}: ${key} must be an integer from ${min} to ${max}`);
  return v as number;
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], where: string, key: string): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ApiError(400, `${where}: ${key} ${JSON.stringify(value)} is not supported (supported: ${allowed.join(', ')})`);
}
