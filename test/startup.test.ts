/**
 * What start-up loads and reads. A gateway on its embedded defaults runs the validators compiled at
 * build time and reads the embedded catalog's JSON snapshot: neither Ajv's compiler, TypeBox nor
 * the YAML parser is loaded (bench/README.md, idle memory). The snapshot is used only while it
 * matches the YAML files, which stay the source of truth.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { Catalog, EMBEDDED_CATALOG_DIR, EMBEDDED_SNAPSHOT_FILE, embeddedSnapshot, loadEmbeddedSources } from '../src/catalog/load.js';
import { sqliteDriver } from '../src/storage/sqlite-driver.js';

const PROBE = fileURLToPath(new URL('./fixtures/startup/probe.ts', import.meta.url));

function yamlSources(dir: string) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  return Object.fromEntries(files.map((f) => [`catalog/${f}`, parseYaml(readFileSync(join(dir, f), 'utf8'))]));
}

describe('start-up', () => {
  it('loads neither Ajv’s compiler, TypeBox nor the YAML parser on the embedded defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-startup-'));
    try {
      const run = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), PROBE], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', SWITCHYARD_DATA_DIR: dir, GROQ_API_KEY: 'test-key', SWITCHYARD_SQLITE_DRIVER: sqliteDriver() },
        encoding: 'utf8',
        timeout: 60_000,
      });
      const line = /^MODULES (.*)$/m.exec(run.stdout);
      assert.ok(line, `probe printed no module list (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
      const modules = JSON.parse(line[1]) as string[];
      // The probe saw the gateway's own modules and its runtime libraries: the list is real.
      assert.ok(modules.some((m) => m.includes('/src/validation/compiled.js')), 'compiled validators loaded');
      assert.ok(modules.some((m) => m.includes('/node_modules/undici/')), 'undici loaded');
      // The native addon is loaded only where it is the driver (Node 20, or forced): on node:sqlite it stays on disk.
      const native = modules.some((m) => m.includes('/node_modules/better-sqlite3/'));
      assert.equal(native, sqliteDriver() === 'better-sqlite3', `better-sqlite3 loaded: ${native}, driver ${sqliteDriver()}`);
      for (const pkg of ['/node_modules/yaml/', '/node_modules/@sinclair/typebox/', '/node_modules/ajv/dist/compile/', '/node_modules/ajv/dist/ajv.js']) {
        assert.deepEqual(modules.filter((m) => m.includes(pkg)), [], `${pkg} loaded at start-up`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('embedded catalog snapshot', () => {
  it('holds exactly what the YAML files say', () => {
    const fromSnapshot = loadEmbeddedSources();
    assert.deepEqual(Object.fromEntries(fromSnapshot.map((s) => [s.origin, s.source])), yamlSources(EMBEDDED_CATALOG_DIR));
    // Load order: providers, models, then the family files.
    assert.deepEqual(fromSnapshot.slice(0, 2).map((s) => s.origin), ['catalog/providers.yaml', 'catalog/models.yaml']);
    assert.ok(Catalog.from(fromSnapshot).models.size > 10);
  });

  it('is used while current, and ignored once a YAML file changes or when it is damaged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-catalog-'));
    try {
      mkdirSync(dir, { recursive: true });
      for (const f of readdirSync(EMBEDDED_CATALOG_DIR).filter((f) => f.endsWith('.yaml'))) copyFileSync(join(EMBEDDED_CATALOG_DIR, f), join(dir, f));
      const snapshot = JSON.parse(embeddedSnapshot(dir)) as { fingerprint: string; sources: { origin: string; source: { models?: { id: string }[] } }[] };
      // A marker only the snapshot has: seen only if the loader reads the snapshot.
      snapshot.sources[1].source.models![0].id = 'marker/from-snapshot';
      writeFileSync(join(dir, EMBEDDED_SNAPSHOT_FILE), JSON.stringify(snapshot));
      const firstModel = () => (loadEmbeddedSources(dir)[1].source.models as { id: string }[])[0].id;
      assert.equal(firstModel(), 'marker/from-snapshot');

      // An edited YAML file: the snapshot no longer matches, the YAML wins.
      const models = join(dir, 'models.yaml');
      writeFileSync(models, `${readFileSync(models, 'utf8')}\n# edited\n`);
      assert.notEqual(firstModel(), 'marker/from-snapshot');
      assert.deepEqual(Object.fromEntries(loadEmbeddedSources(dir).map((s) => [s.origin, s.source])), yamlSources(dir));

      // A damaged snapshot is ignored the same way.
      writeFileSync(join(dir, EMBEDDED_SNAPSHOT_FILE), '{"fingerprint":');
      assert.deepEqual(Object.fromEntries(loadEmbeddedSources(dir).map((s) => [s.origin, s.source])), yamlSources(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
