import { createRequire } from 'node:module';

type YamlLibrary = typeof import('yaml');

let library: YamlLibrary | undefined;

/**
 * The YAML library, loaded on first use. A gateway on its embedded defaults reads no YAML (the
 * embedded catalog comes from its JSON snapshot), so it never holds the parser (~1 MiB of heap
 * with its compiled code).
 */
export function yaml(): YamlLibrary {
  return (library ??= createRequire(import.meta.url)('yaml') as YamlLibrary);
}
