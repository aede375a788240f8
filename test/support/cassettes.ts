/* eslint-disable @typescript-eslint/no-explicit-any -- untyped JSON payloads from recordings and HTTP bodies */
/**
 * Test access to the recorded HTTP traffic under test/fixtures/cassettes (go-vcr v2 YAML cassettes,
 * see test/fixtures/cassettes/NOTICE.md). The format code itself lives in src/upstream/replay/cassette.ts.
 */
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCassetteFile, type Interaction } from '../../src/upstream/replay/cassette.js';

export {
  deriveUpstream,
  isStreamBody,
  parseGoDuration,
  parseSse,
  splitSseEvents,
  type DerivedUpstream,
  type Interaction,
  type RecordedRequest,
  type RecordedResponse,
} from '../../src/upstream/replay/cassette.js';

const FIXTURE_ROOT = fileURLToPath(new URL('../fixtures/cassettes/', import.meta.url));

/** Absolute path of a file under test/fixtures/cassettes (e.g. `seeds/simple_streaming.yaml`). */
export function fixturePath(rel: string): string {
  return join(FIXTURE_ROOT, rel);
}

/** Root directory of the cassette fixtures (absolute path, trailing separator). */
export function fixtureRoot(): string {
  return FIXTURE_ROOT;
}

/** Load a cassette (path relative to test/fixtures/cassettes, or absolute) into its interactions, in order. */
export function loadCassette(rel: string): Interaction[] {
  return loadCassetteFile(isAbsolute(rel) ? rel : fixturePath(rel));
}

/**
 * Copy of an OpenRouter chunk (or response) without the per-run `id` and `created` fields, for golden
 * comparisons. Usage chunks are otherwise left untouched.
 */
export function normaliseOpenRouterChunk(json: any): any {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return json;
  const copy = structuredClone(json);
  delete copy.id;
  delete copy.created;
  return copy;
}
