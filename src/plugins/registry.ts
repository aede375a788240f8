import { ApiError } from '../core/errors.js';
import type { PluginRequest } from '../model/plugins.js';
import { contextCompressionOptions } from './context-compression.js';
import { fileParserOptions } from './file-parser.js';
import { webOptions } from './web.js';

/**
 * The plugins Switchyard runs, by OpenRouter id, and the parsing of a request's `plugins`,
 * `transforms` and `:online` suffix into the wire-neutral PluginRequest. Every front door that
 * takes `plugins` calls parsePlugins; anything not listed here is a 400 naming it, so a client
 * never believes a plugin ran when it did not.
 */

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** One entry's options into the request (`on`: the entry's `enabled`, default true). */
type OptionsParser = (entry: Json, into: PluginRequest, on: boolean) => void;

const PLUGINS: Record<string, OptionsParser> = {
  web: (entry, into, on) => {
    if (on) into.web = webOptions(entry);
    else delete into.web;
  },
  'file-parser': (entry, into, on) => {
    if (on) into.fileParser = fileParserOptions(entry);
    else delete into.fileParser;
  },
  'response-healing': (_entry, into, on) => {
    into.responseHealing = on;
  },
  'context-compression': (entry, into, on) => {
    contextCompressionOptions(entry);
    into.contextCompression = on;
  },
  moderation: (_entry, into, on) => {
    into.moderation = on;
  },
};

export const PLUGIN_IDS: readonly string[] = Object.keys(PLUGINS);

/** The only transform OpenRouter has; it is the context-compression plugin. */
const TRANSFORMS = ['middle-out'];

export interface PluginFields {
  plugins?: unknown;
  transforms?: unknown;
  /** The requested model ids (`model`, then `models`): a `:online` suffix turns the web plugin on. */
  modelIds: readonly (string | null | undefined)[];
}

/** The request's plugins, or undefined when it asks for none. Throws ApiError(400) naming what is unknown or malformed. */
export function parsePlugins(fields: PluginFields): PluginRequest | undefined {
  const out: PluginRequest = {};
  let any = false;
  if (fields.modelIds.some((id) => typeof id === 'string' && id.endsWith(':online'))) {
    // `:online` is the web plugin with its defaults; an explicit web entry below refines or disables it.
    out.web = webOptions({});
    any = true;
  }
  if (fields.transforms !== undefined && fields.transforms !== null) {
    if (!Array.isArray(fields.transforms)) throw new ApiError(400, 'transforms must be an array of strings');
    for (const t of fields.transforms as unknown[]) {
      if (typeof t !== 'string' || !TRANSFORMS.includes(t)) throw new ApiError(400, `Unknown transform ${JSON.stringify(t)}: the only transform is "middle-out"`);
    }
    // ["middle-out"] turns compression on; [] turns it off, even for small-context endpoints.
    out.contextCompression = fields.transforms.length > 0;
    any = true;
  }
  if (fields.plugins !== undefined && fields.plugins !== null) {
    if (!Array.isArray(fields.plugins)) throw new ApiError(400, 'plugins must be an array of objects with an id');
    for (const [i, entry] of (fields.plugins as unknown[]).entries()) {
      if (!isObj(entry) || typeof entry.id !== 'string') throw new ApiError(400, `plugins[${i}] must be an object with a string id`);
      const parse = PLUGINS[entry.id];
      if (!parse) throw new ApiError(400, `Unknown plugin "${entry.id}": Switchyard supports ${PLUGIN_IDS.join(', ')}`);
      if (entry.enabled !== undefined && typeof entry.enabled !== 'boolean') throw new ApiError(400, `plugins[${i}].enabled must be a boolean`);
      parse(entry, out, entry.enabled !== false);
      any = true;
    }
  }
  return any ? out : undefined;
}
