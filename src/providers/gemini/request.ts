import type { ChatRequest } from '../../ingress/chat-completions/schema.js';
import type { Endpoint } from '../../catalog/types.js';
import { toGeminiParameters, toResponseJsonSchema } from './schema.js';

/**
 * OpenRouter chat request → Gemini `GenerateContentRequest` (Generative Language API, v1beta).
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
// reasoning → thinkingConfig (spec §5.1)
// ---------------------------------------------------------------------------------------------

const EFFORT_RATIO: Record<string, number> = { max: 0.95, xhigh: 0.95, high: 0.8, medium: 0.5, low: 0.2, minimal: 0.1 };
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
 * `reasoning` / `reasoning_effort` / `include_reasoning` → `generationConfig.thinkingConfig`, or
 * undefined when the client asked for nothing (the model's own default applies: no injected
 * defaults, spec Q30).
 */
export function thinkingConfig(req: ChatRequest, endpoint: Endpoint): Json | undefined {
  const traits = thinkingTraits(endpoint.upstreamModel);
  if (traits.style === 'none') return undefined;
  const r = req.reasoning ?? null;
  const effort = r?.effort ?? req.reasoning_effort ?? null;
  const budget = r?.max_tokens ?? null;
  const exclude = r?.exclude === true || req.include_reasoning === false;
  const asked = effort !== null || budget !== null || (r?.enabled ?? null) !== null || req.include_reasoning === true;
  if (!asked) return undefined;

  const disabled = effort === 'none' || r?.enabled === false || budget === 0;
  if (disabled) {
    if (traits.style === 'level') return { thinkingLevel: traits.levels[0] };
    return { thinkingBudget: traits.canDisable ? 0 : traits.min };
  }
  const includeThoughts = !exclude;

  if (traits.style === 'level') {
    // Gemini 3: an explicit budget is passed through (Google maps it to a level).
    if (budget !== null) return { includeThoughts, thinkingBudget: budget };
    if (effort === null && r?.enabled !== true) return { includeThoughts }; // include_reasoning alone
    return { includeThoughts, thinkingLevel: snapLevel(EFFORT_LEVEL[effort ?? 'medium'] ?? 'MEDIUM', traits.levels) };
  }

  // Gemini 2.5: thinkingBudget.
  if (budget !== null) return { includeThoughts, thinkingBudget: clamp(budget, traits.min, traits.max) };
  if (effort === null && r?.enabled !== true) return { includeThoughts };
  const maxTokens = req.max_completion_tokens ?? req.max_tokens ?? null;
  const base = maxTokens ?? endpoint.maxCompletionTokens ?? 65536;
  let computed = Math.max(Math.min(Math.floor(base * (EFFORT_RATIO[effort ?? 'medium'] ?? 0.5)), 128000), 1024);
  // Thinking tokens count against maxOutputTokens: keep room for the answer.
  if (maxTokens !== null && computed >= maxTokens) computed = Math.max(1, maxTokens - 1);
  return { includeThoughts, thinkingBudget: clamp(computed, traits.min, traits.max) };
}

// ---------------------------------------------------------------------------------------------
// Content parts
// ---------------------------------------------------------------------------------------------

const MIME_BY_EXT: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
  txt: 'text/plain',
  md: 'text/md',
  html: 'text/html',
  csv: 'text/csv',
  mp3: 'audio/mp3',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  flac: 'audio/flac',
  aac: 'audio/aac',
  m4a: 'audio/m4a',
  mp4: 'video/mp4',
  mpeg: 'video/mpeg',
  mov: 'video/mov',
  webm: 'video/webm',
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

function guessMime(nameOrUrl: string | undefined): string | undefined {
  if (!nameOrUrl) return undefined;
  const path = nameOrUrl.split(/[?#]/)[0];
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return ext ? MIME_BY_EXT[ext] : undefined;
}

/** A data: URL becomes inlineData, anything else (https, gs://, Files API URIs) fileData. */
export function mediaPart(url: string, hint?: { mimeType?: string; filename?: string }): Part {
  const data = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (data) {
    const mimeType = data[1] || hint?.mimeType || guessMime(hint?.filename) || 'application/octet-stream';
    const isBase64 = /;base64/i.test(data[2]);
    const payload = isBase64 ? data[3] : Buffer.from(decodeURIComponent(data[3]), 'utf8').toString('base64');
    return { inlineData: { mimeType, data: payload } };
  }
  const mimeType = hint?.mimeType ?? guessMime(hint?.filename) ?? guessMime(url);
  const fileData: Json = { fileUri: url };
  if (mimeType) fileData.mimeType = mimeType;
  return { fileData };
}

function contentParts(content: unknown): Part[] {
  if (typeof content === 'string') return [{ text: content }];
  if (!Array.isArray(content)) return [];
  const parts: Part[] = [];
  for (const raw of content) {
    if (!isObject(raw)) continue;
    switch (raw.type) {
      case 'text':
        if (typeof raw.text === 'string') parts.push({ text: raw.text });
        break;
      case 'image_url': {
        const img = raw.image_url as Json | undefined;
        if (typeof img?.url === 'string') parts.push(mediaPart(img.url));
        break;
      }
      case 'file': {
        const f = raw.file as Json | undefined;
        const filename = typeof f?.filename === 'string' ? f.filename : undefined;
        const src = typeof f?.file_data === 'string' ? f.file_data : typeof f?.file_id === 'string' ? f.file_id : undefined;
        if (src) parts.push(mediaPart(src, { filename, mimeType: guessMime(filename) ?? (src.startsWith('data:') ? undefined : 'application/pdf') }));
        break;
      }
      case 'input_audio': {
        const a = raw.input_audio as Json | undefined;
        if (typeof a?.data === 'string') {
          const format = typeof a.format === 'string' ? a.format.toLowerCase() : 'wav';
          parts.push({ inlineData: { mimeType: AUDIO_MIME[format] ?? `audio/${format}`, data: a.data } });
        }
        break;
      }
      case 'video_url':
      case 'input_video': {
        const v = raw.video_url as Json | undefined;
        if (typeof v?.url === 'string') parts.push(mediaPart(v.url, { mimeType: /youtu\.?be/.test(v.url) ? undefined : guessMime(v.url) }));
        break;
      }
      default:
        break;
    }
  }
  return parts;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((p): p is Json => isObject(p) && p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text as string)
    .join('');
}

function parseArgs(args: unknown): Json {
  if (isObject(args)) return args;
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/** A tool result as Gemini's `functionResponse.response` (a JSON object). */
function toolResponse(content: unknown): Json {
  const text = textOf(content);
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed)) return parsed;
  } catch {
    // plain text result
  }
  return { result: text };
}

/** Thought signatures the client sent back: keyed by tool-call id, plus those without an id. */
function signaturesOf(msg: Json): { byId: Map<string, string>; loose: string[] } {
  const byId = new Map<string, string>();
  const loose: string[] = [];
  const details = Array.isArray(msg.reasoning_details) ? msg.reasoning_details : [];
  for (const d of details) {
    if (!isObject(d) || d.type !== 'reasoning.encrypted' || typeof d.data !== 'string') continue;
    // Other providers' blobs (OpenAI rs_…, Anthropic redacted thinking) mean nothing to Gemini.
    if (typeof d.format !== 'string' || !d.format.startsWith('google-gemini')) continue;
    if (typeof d.id === 'string' && d.id !== '') byId.set(d.id, d.data);
    else loose.push(d.data);
  }
  return { byId, loose };
}

/** OpenRouter messages → `systemInstruction` + `contents`. */
export function toContents(messages: Json[], upstreamModel: string): { systemInstruction?: Content; contents: Content[] } {
  const system: Part[] = [];
  const contents: Content[] = [];
  const toolNames = new Map<string, string>();
  let lastWasTool = false;
  const gemini3 = isGemini3(upstreamModel);

  for (const msg of messages) {
    const role = msg.role;
    if (role === 'system' || role === 'developer') {
      system.push(...contentParts(msg.content).filter((p) => typeof p.text === 'string'));
      continue;
    }
    if (role === 'user') {
      const parts = contentParts(msg.content);
      if (parts.length > 0) contents.push({ role: 'user', parts });
      lastWasTool = false;
      continue;
    }
    if (role === 'assistant') {
      const parts: Part[] = contentParts(msg.content ?? null).filter((p) => typeof p.text === 'string' && p.text !== '');
      const { byId, loose } = signaturesOf(msg);
      let firstCall = true;
      for (const tc of Array.isArray(msg.tool_calls) ? (msg.tool_calls as Json[]) : []) {
        const fn = (tc.function ?? {}) as Json;
        const name = typeof fn.name === 'string' ? fn.name : '';
        const id = typeof tc.id === 'string' ? tc.id : undefined;
        if (id) toolNames.set(id, name);
        const functionCall: Json = { name, args: parseArgs(fn.arguments) };
        if (id) functionCall.id = id;
        const part: Part = { functionCall };
        const sig = id ? byId.get(id) : undefined;
        if (sig !== undefined) part.thoughtSignature = sig;
        else if (firstCall && gemini3 && loose.length === 0) part.thoughtSignature = SKIP_SIGNATURE;
        firstCall = false;
        parts.push(part);
      }
      if (loose.length > 0) {
        // A signature without an id belongs to the text it followed (spec §5.4).
        const target = parts.find((p) => typeof p.text === 'string') ?? parts.find((p) => p.functionCall && p.thoughtSignature === undefined);
        if (target) target.thoughtSignature = loose[0];
        else parts.push({ text: '', thoughtSignature: loose[0] });
      }
      if (parts.length > 0) contents.push({ role: 'model', parts });
      lastWasTool = false;
      continue;
    }
    if (role === 'tool') {
      const id = typeof msg.tool_call_id === 'string' ? msg.tool_call_id : '';
      const name = toolNames.get(id) ?? (typeof msg.name === 'string' ? msg.name : '');
      const functionResponse: Json = { name, response: toolResponse(msg.content) };
      if (id) functionResponse.id = id;
      // Images in a tool result travel next to the functionResponse in the same user turn.
      const media = Array.isArray(msg.content) ? contentParts(msg.content).filter((p) => !('text' in p)) : [];
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

export function toTools(tools: ChatRequest['tools']): Json[] | undefined {
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const functionDeclarations = tools.map((t) => {
    const decl: Json = {};
    if (typeof t.function.description === 'string') decl.description = t.function.description;
    decl.name = t.function.name;
    const parameters = toGeminiParameters(t.function.parameters);
    if (parameters) decl.parameters = parameters;
    return decl;
  });
  return [{ functionDeclarations }];
}

export function toToolConfig(choice: ChatRequest['tool_choice']): Json | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  if (typeof choice === 'object' && choice.function?.name) {
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }
  return undefined;
}

function generationConfig(req: ChatRequest, endpoint: Endpoint): Json | undefined {
  const g: Json = {};
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (maxTokens != null) g.maxOutputTokens = maxTokens;
  if (req.temperature != null) g.temperature = req.temperature;
  if (req.top_p != null) g.topP = req.top_p;
  if (req.top_k != null) g.topK = req.top_k;
  if (req.seed != null) g.seed = req.seed;
  if (req.stop != null) {
    const stops = (Array.isArray(req.stop) ? req.stop : [req.stop]).filter((s) => s !== '');
    if (stops.length > 0) g.stopSequences = stops.slice(0, 5);
  }
  const rf = req.response_format as Json | null | undefined;
  if (rf?.type === 'json_object') g.responseMimeType = 'application/json';
  if (rf?.type === 'json_schema') {
    g.responseMimeType = 'application/json';
    const js = rf.json_schema as Json | undefined;
    if (isObject(js?.schema)) g.responseJsonSchema = toResponseJsonSchema(js.schema);
  }
  const thinking = thinkingConfig(req, endpoint);
  if (thinking) g.thinkingConfig = thinking;
  return Object.keys(g).length > 0 ? g : undefined;
}

/** The whole request body. */
export function toGenerateContentRequest(req: ChatRequest, endpoint: Endpoint): Json {
  const { systemInstruction, contents } = toContents(req.messages as Json[], endpoint.upstreamModel);
  const body: Json = { contents };
  const config = generationConfig(req, endpoint);
  if (config) body.generationConfig = config;
  if (systemInstruction) body.systemInstruction = systemInstruction;
  const tools = toTools(req.tools);
  if (tools) {
    const toolConfig = toToolConfig(req.tool_choice);
    if (toolConfig) body.toolConfig = toolConfig;
    body.tools = tools;
  }
  return body;
}
