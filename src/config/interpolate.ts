import type { Document, Node, Pair, Scalar, YAMLSeq } from 'yaml';
import { yaml } from '../core/yaml.js';

/**
 * `${VAR}` and `${VAR:-default}` in the values of `switchyard.yaml`, expanded from the environment
 * at load, as Docker Compose does: a secret stays in the environment and the file only names it.
 * The default applies when the variable is unset or empty; `$${` writes a literal `${`. An unquoted
 * value that expands to a number or a boolean becomes one (`port: ${PORT:-8787}`); a quoted one
 * stays a string. Mapping keys are not expanded.
 */

/** One value taken from the environment: the loader keeps these out of its error messages. */
export interface Expansion {
  name: string;
  value: string;
}

export class InterpolationError extends Error {}

const REFERENCE = /\$\$\{|\$\{([^}]*)(\}?)/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Expands the references in one string; `field` names it in errors. */
export function expandString(text: string, env: NodeJS.ProcessEnv, field: string, expansions: Expansion[]): string {
  return text.replace(REFERENCE, (match: string, inner: string | undefined, closed: string | undefined) => {
    if (match === '$${') return '${';
    if (!closed) throw new InterpolationError(`${field}: "\${" without its closing "}" (write $\${ for a literal \${)`);
    const sep = inner!.indexOf(':-');
    const name = sep === -1 ? inner! : inner!.slice(0, sep);
    if (!NAME.test(name)) throw new InterpolationError(`${field}: "\${${name}}" is not a variable reference (\${NAME} or \${NAME:-default})`);
    const value = env[name];
    if (value !== undefined && value !== '') {
      expansions.push({ name, value });
      return value;
    }
    if (sep !== -1) return inner!.slice(sep + 2);
    if (value === '') return '';
    throw new InterpolationError(`${field}: environment variable ${name} is not set (give it a value, or a default with \${${name}:-default})`);
  });
}

/** `server.port`, `providers.groq.keys[1].key`: where a node sits, for error messages. */
function fieldPath(path: readonly unknown[], node: Node): string {
  let out = '';
  const chain = [...path, node];
  for (let i = 0; i < chain.length; i++) {
    const step = chain[i];
    if (yaml().isPair(step)) {
      const key = (step as Pair).key;
      out += `${out ? '.' : ''}${String(yaml().isScalar(key) ? (key as Scalar).value : key)}`;
    } else if (yaml().isSeq(step)) {
      out += `[${(step as YAMLSeq).items.indexOf(chain[i + 1] as never)}]`;
    }
  }
  return out || 'value';
}

/** A plain (unquoted) scalar's expanded text read as YAML would read it: a number or boolean, else the text. */
function plainValue(text: string): unknown {
  if (!/^[-+.\w]+$/.test(text)) return text;
  try {
    const v: unknown = yaml().parse(text);
    return typeof v === 'number' || typeof v === 'boolean' ? v : text;
  } catch {
    return text;
  }
}

/** Expands every string value of a parsed document in place; returns what came from the environment. */
export function interpolateDocument(doc: Document, env: NodeJS.ProcessEnv): Expansion[] {
  const expansions: Expansion[] = [];
  yaml().visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const expanded = expandString(node.value, env, fieldPath(path, node), expansions);
      node.value = node.type === 'PLAIN' ? plainValue(expanded) : expanded;
    },
  });
  return expansions;
}

/** The message with every value that came from the environment replaced by its variable's reference. */
export function maskExpansions(message: string, expansions: readonly Expansion[]): string {
  // Longest first, so a value containing another is masked whole.
  for (const { name, value } of [...expansions].sort((a, b) => b.value.length - a.value.length)) {
    if (value.length >= 3) message = message.split(value).join(`\${${name}}`);
  }
  return message;
}
