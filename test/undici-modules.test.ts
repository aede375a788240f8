/**
 * The upstream transport loads undici's agent and errors modules directly instead of the package
 * index (src/upstream/transport.ts). If an undici upgrade moves them, this fails before anything else.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

describe('undici modules loaded by the transport', () => {
  it('are the classes the package index exports', () => {
    const index = require('undici');
    assert.equal(require('undici/lib/dispatcher/agent.js'), index.Agent);
    assert.equal(require('undici/lib/core/errors.js'), index.errors);
    assert.equal(typeof index.errors.RequestAbortedError, 'function');
  });
});
