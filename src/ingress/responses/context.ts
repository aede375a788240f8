import type { GenerationRequest } from '../../model/request.js';
import type { Json } from './schema.js';

/**
 * What the Responses front door keeps about one request beyond the wire-neutral model: the fields
 * the response object echoes, how tool names were flattened, what the client asked to be included,
 * and (when the response is to be stored) the request's own input items. Kept in a WeakMap keyed by
 * the GenerationRequest the parser returned: the pipeline keeps that object (it empties its
 * messages and tools once content flows, which is why the echo cannot be read from it), and the
 * entry goes away with it.
 */

/** How the client names a tool the upstream knows by its flat name. */
export interface ClientToolName {
  name: string;
  namespace?: string;
  /** Declared as a custom (free-form) tool: its calls come back as custom_tool_call items. */
  custom: boolean;
}

export interface ResponsesContext {
  /**
   * Response-object fields echoed from the request (instructions, tools, reasoning, text, …), as
   * the text of one JSON object: held for as long as the stream is open, text is a fraction of the
   * size of the parsed objects (a Codex request's tools alone are ~30 KB of JSON).
   */
  echo: string;
  /** The service tier asked for (the echo's `service_tier` unless the upstream names its own). */
  serviceTier: string | null;
  include: ReadonlySet<string>;
  /** store (default true): the finished response is saved for previous_response_id and item_reference. */
  store: boolean;
  previousResponseId: string | null;
  /** Flat (upstream) tool name → the client's name and namespace. */
  tools: ReadonlyMap<string, ClientToolName>;
  /** This request's input items, item references resolved, as a JSON array's text: kept only when the response is stored. */
  input: string | null;
  /** The finished response as the client received it (set by the encoder when `store`). */
  response: Json | null;
  /** The same with every item complete (encrypted reasoning included whatever `include` said): what is stored (set when `store`). */
  stored: Json | null;
}

const CONTEXTS = new WeakMap<GenerationRequest, ResponsesContext>();

export function attachContext(req: GenerationRequest, ctx: ResponsesContext): void {
  CONTEXTS.set(req, ctx);
}

/** The Responses context of a request parsed by this front door (undefined for other front doors). */
export function responsesContextOf(req: GenerationRequest): ResponsesContext | undefined {
  return CONTEXTS.get(req);
}

/**
 * A namespace's tools are flattened for upstreams (which know only flat function names) as
 * `<namespace>__<name>`, the delimiter Codex itself uses when it has to flatten (stray underscores
 * around it trimmed, as Codex does). The namespace `functions` (Codex's "responses-lite" default
 * namespace; also the implicit namespace of plain function tools) is not prefixed: its tools are
 * called, and come back, by their bare names.
 */
export const DEFAULT_NAMESPACE = 'functions';

export function flatToolName(namespace: string | null | undefined, name: string): string {
  if (!namespace || namespace === DEFAULT_NAMESPACE) return name;
  return `${namespace.replace(/_+$/, '')}__${name.replace(/^_+/, '')}`;
}

/**
 * Reasoning that is not OpenAI's own round-trips through the client inside `encrypted_content`:
 * `swy1:` + base64url(JSON) of the fields that let the request parser rebuild the ReasoningPart
 * the upstream produced — the provider family (`f`, e.g. `anthropic-claude-v1`), its signature
 * (`s`), encrypted or redacted data (`d`), the upstream's own id (`i`, an OpenAI `rs_…` or the tool
 * call a Gemini thought signature belongs to), `k: "text"` when the readable text was reasoning
 * text rather than a summary, and the text itself (`t`) when a signature covers it, so it comes
 * back byte for byte whatever the client does to the summary. Clients treat encrypted_content as
 * opaque and send it back unchanged (Codex does, with `include: ["reasoning.encrypted_content"]`).
 */
export interface ReasoningEnvelope {
  f: string;
  k?: 'text';
  t?: string;
  s?: string;
  d?: string;
  i?: string;
}

const ENVELOPE_PREFIX = 'swy1:';

export function encodeReasoningEnvelope(e: ReasoningEnvelope): string {
  return ENVELOPE_PREFIX + Buffer.from(JSON.stringify(e), 'utf8').toString('base64url');
}

/** The envelope in an encrypted_content string, or null when it is someone else's (OpenAI's) blob. */
export function decodeReasoningEnvelope(encrypted: string): ReasoningEnvelope | null {
  if (!encrypted.startsWith(ENVELOPE_PREFIX)) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(encrypted.slice(ENVELOPE_PREFIX.length), 'base64url').toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || typeof (parsed as Json).f !== 'string') return null;
    return parsed as ReasoningEnvelope;
  } catch {
    return null;
  }
}
