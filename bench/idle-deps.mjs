#!/usr/bin/env node
// The idle-RSS "dependency floor" (bench/README.md): a process that loads and initialises only
// the pieces Switchyard's request path stands on, then does nothing. An HTTP server listening,
// undici's agent (with its WebAssembly HTTP parser, compiled on first use), SQLite through the
// driver Switchyard picks (node:sqlite where Node has it, else better-sqlite3; the same
// SWITCHYARD_SQLITE_DRIVER forces one) with a database file in WAL mode, and node:crypto's random
// source and SHA-256.
// No routing, schemas, catalog, logging or Switchyard code. Usage: node idle-deps.mjs <port> <dir>
import { createServer } from 'node:http';
import { createHash, randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const Agent = require('undici/lib/dispatcher/agent.js');
const nodeSqlite = process.env.SWITCHYARD_SQLITE_DRIVER === 'better-sqlite3' ? undefined : process.getBuiltinModule?.('node:sqlite');

const [port, dir] = process.argv.slice(2);
randomFillSync(Buffer.alloc(4096));
createHash('sha256').update('floor').digest('hex');
const file = join(dir, 'floor.sqlite');
const db = nodeSqlite ? new nodeSqlite.DatabaseSync(file) : new (require('better-sqlite3'))(file);
db.exec('PRAGMA journal_mode = WAL');
db.exec('CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, v TEXT)');
db.prepare('INSERT OR REPLACE INTO t VALUES (?, ?)').run('a', 'b');
const agent = new Agent({ keepAliveTimeout: 60_000 });
const server = createServer((req, res) => res.end());
server.listen(Number(port), '127.0.0.1', () => {
  // One upstream exchange with itself through the dispatch API (as Switchyard's transport uses it),
  // so that undici's parser is compiled as in a router that has started.
  agent.dispatch(
    { origin: `http://127.0.0.1:${port}`, path: '/', method: 'GET' },
    { onConnect() {}, onHeaders: () => true, onData: () => true, onComplete() {}, onError() {} },
  );
  // With --expose-gc (as the bench starts it), full collections once start-up is over, so the
  // floor is the least these libraries hold rather than whenever V8's memory reducer gets to it.
  if (typeof globalThis.gc === 'function') for (const ms of [2000, 4000]) setTimeout(() => globalThis.gc(), ms).unref();
});
