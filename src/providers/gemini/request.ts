import type { Endpoint } from '../../catalog/types.js';
import { guessMediaType, sourceFromUrl } from '../../model/media.js';
import type { ContentPart, GenerationRequest, MediaSource, Message, Tool, ToolChoice, ToolResultPart } from '../../model/request.js';
import { argumentsObject, CUSTOM_TOOL_INPUT, effortBudget, maxTokensFor, toolParameters } from '../shared.js';
import { toGeminiParameters, toResponseJsonSchema } from './schema.js';

/**
 * The wire-neutral request → Gemini `GenerateContentRequest` (Generative Language API, v1beta).
 * Field names follow Google's REST JSON (camelCase); enum values use their canonical upper-case
 * names (`STRING`, `AUTO`, `HIGH`), as Google's own SDKs send them.
 */

type Json = Record<string, unknown>;
export type Part = Json;
export interface Content {
  role: 'user' | 'model';
  parts: Part[];
}

/** The reasoning format OpenRouter gives Gemini's thought text and thought signatures. */
export const GEMINI_FORMAT = 'google-gemini-v1';

/**
 * Google's documented placeholder for a function call that has no thought signature (history
 * written by another model, or a client that dropped the reasoning details). Gemini 3 rejects the
 * first function call of a model turn without one.
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// Model families
// ---------------------------------------------------------------------------------------------

type Level = 'MINIMAL' | 'LOW' | 'MEDIUM' | 'HIGH';
const LEVELS: Level[] = ['MINIMAL', 'LOW', 'MEDIUM', 'HIGH'];

interface ThinkingTraits {
  style: 'budget' | 'level' | 'none';
  /** Budget-style: the accepted thinkingBudget range; `canDisable` when 0 is allowed. */
  min: number;
  max: number;
  canDisable: boolean;
  /** Level-style: the levels the model accepts. */
  levels: Level[];
}

function bareModel(upstreamModel: string): string {
  return upstreamModel.replace(/^(models|tunedModels)\//, '');
}

/** Thinking controls per model family (Gemini API docs, "Thinking"). */
export function thinkingTraits(upstreamModel: string): ThinkingTraits {
  const m = bareModel(upstreamModel);
  if (/^gemini-3(\.\d+)?-pro/.test(m)) {
    // Gemini 3 Pro: low/high; 3.1 Pro added medium. Thinking cannot be turned off.
    const levels: Level[] = /^gemini-3\.\d+-pro/.test(m) ? ['LOW', 'MEDIUM', 'HIGH'] : ['LOW', 'HIGH'];
    return { style: 'level', min: 128, max: 32768, canDisable: false, levels };
  }
  if (/^gemini-3/.test(m)) return { style: 'level', min: 0, max: 24576, canDisable: false, levels: LEVELS };
  if (/^gemini-2\.5-pro/.test(m)) return { style: 'budget', min: 128, max: 32768, canDisable: false, levels: [] };
  if (/^gemini-2\.5-flash-lite/.test(m)) return { style: 'budget', min: 512, max: 24576, canDisable: true, levels: [] };
  if (/^gemini-2\.5-flash/.test(m)) return { style: 'budget', min: 1, max: 24576, canDisable: true, levels: [] };
  if (/^gemini-(flash|pro|flash-lite)-latest$/.test(m)) return { style: 'budget', min: 1, max: 24576, canDisable: false, levels: [] };
  return { style: 'none', min: 0, max: 0, canDisable: false, levels: [] };
}

export function isGemini3(upstreamModel: string): boolean {
  return /^gemini-3/.test(bareModel(upstreamModel));
}

// ---------------------------------------------------------------------------------------------
// reasoning → thinkingConfig (docs/COMPATIBILITY.md#reasoning-request)
// ---------------------------------------------------------------------------------------------

const EFFORT_LEVEL: Record<string, Level> = { max: 'HIGH', xhigh: 'HIGH', high: 'HIGH', medium: 'MEDIUM', low: 'LOW', minimal: 'MINIMAL' };

/** The supported level nearest to `want` (ties go to the higher level). */
function snapLevel(want: Level, supported: Level[]): Level {
  if (supported.includes(want)) return want;
  const i = LEVELS.indexOf(want);
  let best = supported[supported.length - 1];
  let bestDist = Number.POSITIVE_INFINITY;
  for (const l of supported) {
    const d = Math.abs(LEVELS.indexOf(l) - i);
    if (d < bestDist || (d === bestDist && LEVELS.indexOf(l) > LEVELS.indexOf(best))) {
      best = l;
      bestDist = d;
    }
  }
  return best;
}

const clamp = (n: number, lo: number, hi: number) => Math.min(Math.max(n, lo), hi);

/**
 * The request's reasoning → `generationConfig.thinkingConfig`, or undefined when the client asked
 * for nothing (the model's own default applies: no injected defaults, docs/COMPATIBILITY.md#sampling-parameters). A request that
 * only hides the reasoning (`exclude` or `hide` alone) asks for nothing: Gemini's default already
 * thinks without sending thoughts.
 */
export function thinkingConfig(req: GenerationRequest, endpoint: Endpoint): Json | undefined {
  const traits = thinkingTraits(endpoint.upstreamModel);
  if (traits.style === 'none') return undefined;
  const r = req.reasoning;
  if (!r) return undefined;
  const effort = r.effort ?? null;
  const budget = r.maxTokens ?? null;
  const enabled = r.enabled ?? null;
  const exclude = r.exclude === true || r.hide === true;
  // A reasoning object with nothing in it (include_reasoning: true) asks for the thoughts.
  const asked = effort !== null || budget !== null || enabled !== null || !exclude;
  if (!asked) return undefined;

  const disabled = effort === 'none' || enabled === false || budget === 0;
  if (disabled) {
    if (traits.style === 'level') return { thinkingLevel: traits.levels[0] };
    return { thinkingBudget: traits.canDisable ? 0 : traits.min };
  }
  const includeThoughts = !exclude;

  if (traits.style === 'level') {
    // Gemini 3: an explicit budget is passed through (Google maps it to a level).
    if (budget !== null) return { includeThoughts, thinkingBudget: budget };
    if (effort === null && enabled !== true) return { includeThoughts }; // include_reasoning alone
    return { includeThoughts, thinkingLevel: snapLevel(EFFORT_LEVEL[effort ?? 'medium'] ?? 'MEDIUM', traits.levels) };
  }

  // Gemini 2.5: thinkingBudget.
  if (budget !== null) return { includeThoughts, thinkingBudget: clamp(budget, traits.min, traits.max) };
  if (effort === null && enabled !== true) return { includeThoughts };
  const maxTokens = maxTokensFor(req, endpoint) ?? null;
  let computed = effortBudget(effort, maxTokens ?? endpoint.maxCompletionTokens ?? 65536);
  // Thinking tokens count against maxOutputTokens: keep room for the answer.
  if (maxTokens !== null && computed >= maxTokens) computed = Math.max(1, maxTokens - 1);
  return { includeThoughts, thinkingBudget: clamp(computed, traits.min, traits.max) };
}

// ---------------------------------------------------------------------------------------------
// Content parts
// ---------------------------------------------------------------------------------------------

/** Gemini's names for the media types it takes, by file extension (Gemini API docs, "File input"). */
const MIME_BY_EXT: Record<string, string> = {
  heic: 'image/heic',
  heif: 'image/heif',
  md: 'text/md',
  mp3: 'audio/mp3',
  ogg: 'audio/ogg',
  flac: 'audio/flac',
  aac: 'audio/aac',
  m4a: 'audio/m4a',
  mpeg: 'video/mpeg',
  mov: 'video/mov',
};

const AUDIO_MIME: Record<string, string> = {
  wav: 'audio/wav',
  mp3: 'audio/mp3',
  aiff: 'audio/aiff',
  aac: 'audio/aac',
  ogg: 'audio/ogg',
  flac: 'audio/flac',
  m4a: 'audio/m4a',
  pcm16: 'audio/pcm',
  pcm24: 'audio/pcm',
};

/** The media type a file name or URL suggests, in Gemini's vocabulary. */
function guessMime(nameOrUrl: string | undefined): string | undefined {
  if (!nameOrUrl) return undefined;
  const ext = /\.([A-Za-z0-9]+)$/.exec(nameOrUrl.split(/[?#]/)[0])?.[1]?.toLowerCase();
  return (ext ? MIME_BY_EXT[ext] : undefined) ?? guessMediaType(nameOrUrl);
}

const OCTET_STREAM = 'application/octet-stream';

/**
 * A media source as a Gemini part: inline bytes become inlineData, anything else (https, gs://,
 * Files API URIs, provider file ids) fileData. `mimeType` is what the part's kind suggests when the
 * source does not say (a data URL without a media type, a URL without an extension).
 */
export function mediaPart(source: MediaSource, hint?: { mimeType?: string; filename?: string }): Part {
  switch (source.kind) {
    case 'base64': {
      const mimeType = source.mediaType !== OCTET_STREAM ? source.mediaType : (hint?.mimeType ?? guessMime(hint?.filename) ?? OCTET_STREAM);
      return { inlineData: { mimeType, data: source.data } };
    }
    case 'text':
      return { inlineData: { mimeType: source.mediaType, data: Buffer.from(source.text, 'utf8').toString('base64') } };
    case 'url':
    case 'file-id': {
      const uri = source.kind === 'url' ? source.url : source.fileId;
      const mimeType = hint?.mimeType ?? guessMime(hint?.filename) ?? guessMime(uri);
      const fileData: Json = { fileUri: uri };
      if (mimeType) fileData.mimeType = mimeType;
      return { fileData };
    }
  }
}

/** One content part as a Gemini part (text and media; tool calls, results and reasoning are handled by the caller). */
function contentPart(p: ContentPart): Part | null {
  switch (p.type) {
    case 'text':
      return { text: p.text };
    case 'image':
      return mediaPart(p.source);
    case 'file': {
      // A document without a media type of its own is taken for a PDF (OpenRouter's documented file input).
      const inline = p.source.kind === 'base64' || p.source.kind === 'text';
      return mediaPart(p.source, { filename: p.filename, mimeType: guessMime(p.filename) ?? (inline ? undefined : 'application/pdf') });
    }
    case 'audio': {
      const format = p.format.toLowerCase();
      return { inlineData: { mimeType: AUDIO_MIME[format] ?? `audio/${format}`, data: p.data } };
    }
    case 'video':
      return mediaPart(sourceFromUrl(p.url), { mimeType: /youtu\.?be/.test(p.url) ? undefined : guessMime(p.url) });
    default:
      return null;
  }
}

function contentParts(content: readonly ContentPart[]): Part[] {
  const parts: Part[] = [];
  for (const p of content) {
    const part = contentPart(p);
    if (part) parts.push(part);
  }
  return parts;
}

function textOf(content: readonly ContentPart[]): string {
  let out = '';
  for (const p of content) if (p.type === 'text') out += p.text;
  return out;
}

/** A tool result as Gemini's `functionResponse.response` (a JSON object). */
function toolResponse(result: ToolResultPart): Json {
  const text = textOf(result.content);
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed)) return parsed;
  } catch {
    // plain text result
  }
  return result.isError === true ? { error: text } : { result: text };
}

/** Thought signatures the client sent back: keyed by tool-call id, plus those without an id. */
function signaturesOf(msg: Message): { byId: Map<string, string>; loose: string[] } {
  const byId = new Map<string, string>();
  const loose: string[] = [];
  for (const p of msg.content) {
    if (p.type !== 'reasoning' || p.encrypted === undefined) continue;
    // Other providers' blobs (OpenAI rs_…, Anthropic redacted thinking) mean nothing to Gemini.
    if (p.format === undefined || !p.format.startsWith('google-gemini')) continue;
    if (p.id !== undefined && p.id !== '') byId.set(p.id, p.encrypted);
    else loose.push(p.encrypted);
  }
  return { byId, loose };
}

/** Model messages → `systemInstruction` + `contents`. */
export function toContents(messages: readonly Message[], upstreamModel: string): { systemInstruction?: Content; contents: Content[] } {
  const system: Part[] = [];
  const contents: Content[] = [];
  const toolNames = new Map<string, string>();
  let lastWasTool = false;
  const gemini3 = isGemini3(upstreamModel);

  for (const msg of messages) {
    const role = msg.role;
    if (role === 'system') {
      for (const p of msg.content) if (p.type === 'text') system.push({ text: p.text });
      continue;
    }
    if (role === 'user') {
      const parts = contentParts(msg.content);
      if (parts.length > 0) contents.push({ role: 'user', parts });
      lastWasTool = false;
      continue;
    }
    if (role === 'assistant') {
      const parts: Part[] = [];
      const { byId, loose } = signaturesOf(msg);
      let firstCall = true;
      for (const p of msg.content) {
        if (p.type === 'text') {
          if (p.text !== '') parts.push({ text: p.text });
          continue;
        }
        if (p.type !== 'tool-call') continue;
        const id = p.id !== '' ? p.id : undefined;
        if (id) toolNames.set(id, p.name);
        const args = p.kind === 'custom' ? { [CUSTOM_TOOL_INPUT]: p.arguments } : argumentsObject(p.arguments);
        const functionCall: Json = { name: p.name, args };
        if (id) functionCall.id = id;
        const part: Part = { functionCall };
        const sig = id ? byId.get(id) : undefined;
        if (sig !== undefined) part.thoughtSignature = sig;
        else if (firstCall && gemini3 && loose.length === 0) part.thoughtSignature = SKIP_SIGNATURE;
        firstCall = false;
        parts.push(part);
      }
      if (loose.length > 0) {
        // A signature without an id belongs to the text it followed (docs/COMPATIBILITY.md#reasoning-round-trip).
        const target = parts.find((p) => typeof p.text === 'string') ?? parts.find((p) => p.functionCall && p.thoughtSignature === undefined);
        if (target) target.thoughtSignature = loose[0];
        else parts.push({ text: '', thoughtSignature: loose[0] });
      }
      if (parts.length > 0) contents.push({ role: 'model', parts });
      lastWasTool = false;
      continue;
    }
    // role === 'tool': each result is a functionResponse in the user turn that follows the calls.
    for (const result of msg.content) {
      if (result.type !== 'tool-result') continue;
      const id = result.callId;
      const name = toolNames.get(id) ?? msg.name ?? '';
      const functionResponse: Json = { name, response: toolResponse(result) };
      if (id) functionResponse.id = id;
      // Images and documents in a tool result travel next to the functionResponse in the same user turn.
      const media = contentParts(result.content.filter((p) => p.type !== 'text'));
      const last = contents[contents.length - 1];
      if (lastWasTool && last?.role === 'user') {
        const firstMedia = last.parts.findIndex((p) => !p.functionResponse);
        if (firstMedia === -1) last.parts.push({ functionResponse });
        else last.parts.splice(firstMedia, 0, { functionResponse });
        last.parts.push(...media);
      } else {
        contents.push({ role: 'user', parts: [{ functionResponse }, ...media] });
      }
      lastWasTool = true;
    }
  }
  const out: { systemInstruction?: Content; contents: Content[] } = { contents };
  if (system.length > 0) out.systemInstruction = { parts: system, role: 'user' };
  return out;
}

// ---------------------------------------------------------------------------------------------
// tools, tool_choice, generationConfig
// ---------------------------------------------------------------------------------------------

/**
 * Function tools as `functionDeclarations` (a custom tool as a function of one string), hosted web
 * search as Google Search grounding; other hosted tools have no Gemini form and are left out.
 */
export function toTools(tools: readonly Tool[]): Json[] | undefined {
  const functionDeclarations: Json[] = [];
  let webSearch = false;
  for (const t of tools) {
    if (t.type === 'hosted') {
      if (t.name === 'web_search') webSearch = true;
      continue;
    }
    const decl: Json = {};
    if (t.description !== undefined) decl.description = t.description;
    decl.name = t.name;
    const parameters = toGeminiParameters(t.kind === 'custom' ? toolParameters(t) : t.parameters);
    if (parameters) decl.parameters = parameters;
    functionDeclarations.push(decl);
  }
  const out: Json[] = [];
  if (functionDeclarations.length > 0) out.push({ functionDeclarations });
  if (webSearch) out.push({ google_search: {} });
  return out.length > 0 ? out : undefined;
}

export function toToolConfig(choice: ToolChoice | undefined): Json | undefined {
  if (choice === undefined) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.name] } };
}

function generationConfig(req: GenerationRequest, endpoint: Endpoint): Json | undefined {
  const g: Json = {};
  const maxTokens = maxTokensFor(req, endpoint);
  if (maxTokens !== undefined) g.maxOutputTokens = maxTokens;
  if (req.temperature !== undefined) g.temperature = req.temperature;
  if (req.topP !== undefined) g.topP = req.topP;
  if (req.topK !== undefined) g.topK = req.topK;
  if (req.seed !== undefined) g.seed = req.seed;
  if (req.stop !== undefined) {
    const stops = req.stop.filter((s) => s !== '');
    if (stops.length > 0) g.stopSequences = stops.slice(0, 5);
  }
  const rf = req.responseFormat;
  if (rf?.type === 'json_object') g.responseMimeType = 'application/json';
  if (rf?.type === 'json_schema') {
    g.responseMimeType = 'application/json';
    // An empty schema constrains nothing: JSON output alone.
    if (Object.keys(rf.schema).length > 0) g.responseJsonSchema = toResponseJsonSchema(rf.schema);
  }
  const thinking = thinkingConfig(req, endpoint);
  if (thinking) g.thinkingConfig = thinking;
  return Object.keys(g).length > 0 ? g : undefined;
}

/** The whole request body. */
export function toGenerateContentRequest(req: GenerationRequest, endpoint: Endpoint): Json {
  const { systemInstruction, contents } = toContents(req.messages, endpoint.upstreamModel);
  const body: Json = { contents };
  const config = generationConfig(req, endpoint);
  if (config) body.generationConfig = config;
  if (systemInstruction) body.systemInstruction = systemInstruction;
  const tools = toTools(req.tools);
  if (tools) {
    const toolConfig = toToolConfig(req.toolChoice);
    if (toolConfig) body.toolConfig = toolConfig;
    body.tools = tools;
  }
  return body;
}
