import type { ErrorObject } from 'ajv';

/**
 * A JSON-schema validator as Ajv compiles it: true or false, and on false the errors. The process
 * holds only the compiled code (validation/compiled.js, generated at build time), not Ajv itself.
 */
export interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/** `/messages/1/role` -> `messages[1].role` */
export function jsonPath(instancePath: string, root = ''): string {
  let out = root;
  for (const seg of instancePath.split('/').slice(1)) {
    const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(s) ? `[${s}]` : out ? `.${s}` : s;
  }
  return out;
}

/** A single human sentence naming the first offending field. */
export function describeError(err: ErrorObject, root = ''): string {
  let path = jsonPath(err.instancePath, root);
  if (err.keyword === 'required') {
    const field = (err.params as { missingProperty: string }).missingProperty;
    path = path ? `${path}.${field}` : field;
    return `${path} is required`;
  }
  if (err.keyword === 'additionalProperties') {
    const field = (err.params as { additionalProperty: string }).additionalProperty;
    return `${path ? `${path}.` : ''}${field} is not a known field`;
  }
  const where = path || 'body';
  if (err.keyword === 'enum') {
    const allowed = (err.params as { allowedValues: unknown[] }).allowedValues;
    return `${where} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (err.keyword === 'const') {
    return `${where} must be ${JSON.stringify((err.params as { allowedValue: unknown }).allowedValue)}`;
  }
  return `${where} ${err.message ?? 'is invalid'}`;
}

export function firstError(validate: Validator, root = ''): string {
  const errs = validate.errors ?? [];
  // For anyOf/oneOf failures Ajv reports the branch errors first; the most specific one is the most useful.
  const specific = errs.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && e.keyword !== 'type') ?? errs[0];
  return specific ? describeError(specific, root) : 'invalid value';
}
