/**
 * JSON Schema (as OpenAI-style clients send it in `tools[].function.parameters`) → the OpenAPI
 * subset Gemini accepts in `functionDeclarations[].parameters`. Pure functions, no I/O.
 *
 * Gemini rejects schemas that common tool libraries produce every day: `$ref`/`$defs`,
 * `additionalProperties`, `$schema`, type arrays (`["string","null"]`), `anyOf` with a null branch,
 * string formats other than `enum`/`date-time`, non-string enums, `required` names that are not
 * properties, and objects with an empty `properties` map at the root. This module rewrites those
 * into the equivalent Gemini form (or drops what has no equivalent).
 */

type Json = Record<string, unknown>;

export interface GeminiSchema {
  type?: string;
  format?: string;
  title?: string;
  description?: string;
  nullable?: boolean;
  enum?: string[];
  items?: GeminiSchema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, GeminiSchema>;
  required?: string[];
  propertyOrdering?: string[];
  minProperties?: number;
  maxProperties?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  anyOf?: GeminiSchema[];
}

const TYPES: Record<string, string> = {
  string: 'STRING',
  number: 'NUMBER',
  integer: 'INTEGER',
  boolean: 'BOOLEAN',
  array: 'ARRAY',
  object: 'OBJECT',
};

/** Formats Gemini accepts per type; any other format is a 400 INVALID_ARGUMENT upstream. */
const FORMATS: Record<string, ReadonlySet<string>> = {
  STRING: new Set(['enum', 'date-time']),
  NUMBER: new Set(['float', 'double']),
  INTEGER: new Set(['int32', 'int64']),
};

const NUMERIC_KEYS = ['minItems', 'maxItems', 'minProperties', 'maxProperties', 'minLength', 'maxLength', 'minimum', 'maximum'] as const;

/** Beyond this depth (or on a `$ref` cycle) a subschema becomes an untyped placeholder. */
const MAX_DEPTH = 32;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Resolves a local JSON pointer (`#/$defs/Foo`, `#/definitions/Foo`, `#/properties/a/items`). */
function resolvePointer(root: Json, ref: string): Json | undefined {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Json)[key];
  }
  return isObject(node) ? node : undefined;
}

function isNullSchema(s: unknown): boolean {
  return isObject(s) && (s.type === 'null' || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === 'null'));
}

/** Folds `allOf` branches into one schema (properties and required are unioned). */
function mergeAllOf(node: Json, branches: Json[]): Json {
  const { allOf: _drop, ...rest } = node;
  const out: Json = { ...rest };
  for (const b of branches) {
    for (const [k, v] of Object.entries(b)) {
      if (k === 'properties' && isObject(v)) out.properties = { ...(isObject(out.properties) ? out.properties : {}), ...v };
      else if (k === 'required' && Array.isArray(v)) out.required = [...new Set([...(Array.isArray(out.required) ? out.required : []), ...v])];
      else if (!(k in out)) out[k] = v;
    }
  }
  return out;
}

function appendDescription(desc: string | undefined, extra: string): string {
  return desc ? `${desc} (${extra})` : extra;
}

class Converter {
  constructor(private readonly root: Json) {}

  convert(input: unknown, depth: number, refs: ReadonlySet<string>): GeminiSchema {
    if (!isObject(input)) return {};
    if (depth > MAX_DEPTH) return { description: typeof input.description === 'string' ? input.description : undefined };
    let node = input;
    let seen = refs;

    // $ref: inline the target; siblings of $ref (description, …) win over the target's.
    while (typeof node.$ref === 'string') {
      const ref = node.$ref;
      const { $ref: _r, ...siblings } = node;
      if (seen.has(ref)) {
        // Recursive schema (a tree, a linked list): Gemini has no references, so stop here.
        const desc = typeof siblings.description === 'string' ? siblings.description : undefined;
        return { type: 'OBJECT', description: appendDescription(desc, 'recursive structure') };
      }
      const target = resolvePointer(this.root, ref);
      if (!target) {
        node = siblings;
        break;
      }
      seen = new Set([...seen, ref]);
      node = { ...target, ...siblings };
    }

    if (Array.isArray(node.allOf) && node.allOf.length > 0) {
      const branches = node.allOf.map((b) => (isObject(b) ? this.deref(b, seen) : {}));
      node = mergeAllOf(node, branches);
    }

    const out: GeminiSchema = {};
    let nullable = node.nullable === true;

    // anyOf / oneOf: null branches become `nullable`; a single remaining branch is inlined.
    const union = Array.isArray(node.anyOf) ? node.anyOf : Array.isArray(node.oneOf) ? node.oneOf : null;
    if (union) {
      const branches = union.filter((b) => {
        if (isNullSchema(b)) {
          nullable = true;
          return false;
        }
        return true;
      });
      const { anyOf: _a, oneOf: _o, ...rest } = node;
      if (branches.length === 1) {
        const inner = this.convert(branches[0], depth + 1, seen);
        const outer = this.convert(rest, depth + 1, seen);
        // The union's own keywords (description, title) describe the property; keep them.
        const merged: GeminiSchema = { ...inner, ...stripEmpty(outer) };
        if (inner.type && outer.type !== inner.type) merged.type = inner.type;
        if (nullable) merged.nullable = true;
        return merged;
      }
      if (branches.length > 1) {
        const converted = this.convert(rest, depth + 1, seen);
        Object.assign(out, stripEmpty(converted));
        out.anyOf = branches.map((b) => this.convert(b, depth + 1, seen));
        delete out.type;
        if (nullable) out.nullable = true;
        return out;
      }
      node = rest;
    }

    // type: a string, or an array such as ["string","null"].
    let types: string[] = [];
    if (typeof node.type === 'string') types = [node.type];
    else if (Array.isArray(node.type)) types = node.type.filter((t): t is string => typeof t === 'string');
    if (types.includes('null')) {
      nullable = true;
      types = types.filter((t) => t !== 'null');
    }
    if (types.length > 1) {
      // ["string","number"]: Gemini's spelling is anyOf with one type per branch.
      const { type: _t, ...rest } = node;
      const base = stripEmpty(this.convert(rest, depth + 1, seen));
      delete base.type;
      const result: GeminiSchema = { ...base, anyOf: types.map((t) => this.convert({ ...rest, type: t, description: undefined }, depth + 1, seen)) };
      if (nullable) result.nullable = true;
      return result;
    }

    let type = types.length === 1 ? TYPES[types[0]] : undefined;
    // No type: infer it from the shape, as Gemini needs one.
    if (!type) {
      if (isObject(node.properties)) type = 'OBJECT';
      else if (node.items !== undefined) type = 'ARRAY';
      else if (Array.isArray(node.enum) || node.const !== undefined) type = enumType(node);
    }
    if (type) out.type = type;

    if (typeof node.title === 'string') out.title = node.title;
    let description = typeof node.description === 'string' ? node.description : undefined;

    // enum / const: Gemini accepts string enums only.
    const values = Array.isArray(node.enum) ? node.enum : node.const !== undefined ? [node.const] : null;
    if (values) {
      if (values.includes(null)) nullable = true;
      const present = values.filter((v) => v !== null);
      if (present.length > 0 && present.every((v) => typeof v === 'string') && (type === 'STRING' || type === undefined)) {
        out.type = 'STRING';
        out.enum = present as string[];
      } else if (present.length > 0) {
        description = appendDescription(description, `one of: ${present.map((v) => JSON.stringify(v)).join(', ')}`);
      }
    }
    if (description !== undefined) out.description = description;

    if (typeof node.format === 'string' && out.type && FORMATS[out.type]?.has(node.format)) out.format = node.format;
    if (typeof node.pattern === 'string') out.pattern = node.pattern;
    for (const k of NUMERIC_KEYS) {
      const v = node[k];
      if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    }
    // exclusiveMinimum/Maximum (draft 6+ numbers) are the closest bounds Gemini can express.
    if (out.minimum === undefined && typeof node.exclusiveMinimum === 'number') out.minimum = node.exclusiveMinimum;
    if (out.maximum === undefined && typeof node.exclusiveMaximum === 'number') out.maximum = node.exclusiveMaximum;

    if (out.type === 'ARRAY') {
      const items = Array.isArray(node.items) ? node.items[0] : node.items; // tuple form: first item type
      out.items = isObject(items) ? this.convert(items, depth + 1, seen) : { type: 'STRING' };
    }

    if (out.type === 'OBJECT' && isObject(node.properties)) {
      const props: Record<string, GeminiSchema> = {};
      for (const [name, sub] of Object.entries(node.properties)) props[name] = this.convert(sub, depth + 1, seen);
      if (Object.keys(props).length > 0) {
        out.properties = props;
        if (Array.isArray(node.required)) {
          // Gemini rejects required names that are not declared properties.
          const required = node.required.filter((r): r is string => typeof r === 'string' && r in props);
          if (required.length > 0) out.required = [...new Set(required)];
        }
        if (Array.isArray(node.propertyOrdering)) {
          const ordering = node.propertyOrdering.filter((r): r is string => typeof r === 'string' && r in props);
          if (ordering.length > 0) out.propertyOrdering = ordering;
        }
      }
    }

    if (nullable) out.nullable = true;
    return out;
  }

  /** A branch with its `$ref` chain followed (used when merging allOf). */
  private deref(node: Json, refs: ReadonlySet<string>): Json {
    let cur = node;
    const seen = new Set(refs);
    while (typeof cur.$ref === 'string' && !seen.has(cur.$ref)) {
      seen.add(cur.$ref);
      const target = resolvePointer(this.root, cur.$ref);
      const { $ref: _r, ...siblings } = cur;
      if (!target) return siblings;
      cur = { ...target, ...siblings };
    }
    return cur;
  }
}

function enumType(node: Json): string | undefined {
  const values = Array.isArray(node.enum) ? node.enum : [node.const];
  const present = values.filter((v) => v !== null);
  if (present.length === 0) return undefined;
  if (present.every((v) => typeof v === 'string')) return 'STRING';
  if (present.every((v) => typeof v === 'number')) return present.every((v) => Number.isInteger(v)) ? 'INTEGER' : 'NUMBER';
  if (present.every((v) => typeof v === 'boolean')) return 'BOOLEAN';
  return undefined;
}

function stripEmpty(s: GeminiSchema): GeminiSchema {
  const out: GeminiSchema = {};
  for (const [k, v] of Object.entries(s)) if (v !== undefined) (out as Json)[k] = v;
  return out;
}

/** Any JSON Schema node → Gemini's schema dialect (see the module comment for the rules). */
export function toGeminiSchema(schema: unknown): GeminiSchema {
  if (!isObject(schema)) return {};
  return new Converter(schema).convert(schema, 0, new Set());
}

/**
 * `tools[].function.parameters` → `functionDeclarations[].parameters`, or undefined when the tool
 * takes no arguments (Gemini rejects an OBJECT with an empty `properties` map there).
 */
export function toGeminiParameters(schema: unknown): GeminiSchema | undefined {
  if (!isObject(schema)) return undefined;
  const out = toGeminiSchema(schema);
  if (out.type === undefined && out.properties) out.type = 'OBJECT';
  if (out.type === 'OBJECT' && (!out.properties || Object.keys(out.properties).length === 0)) return undefined;
  if (out.type === undefined && !out.anyOf) return undefined;
  return out;
}

/**
 * `response_format.json_schema.schema` → `generationConfig.responseJsonSchema`. That field takes
 * JSON Schema itself ($ref, anyOf, additionalProperties are understood), so only keywords that are
 * metadata for other tools are removed.
 */
export function toResponseJsonSchema(schema: unknown): unknown {
  if (!isObject(schema)) return schema;
  const { $schema: _s, strict: _strict, ...rest } = schema;
  return rest;
}
