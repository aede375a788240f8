/** Generation ids: OpenRouter's shape, unique, and ascending within a process (index-friendly inserts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generationId } from '../src/core/ids.js';

describe('generation ids', () => {
  it('have the shape gen-<seconds>-<20 alnum>, are unique, and ascend in byte order within a second', () => {
    const now = 1_796_000_000_123;
    const ids = Array.from({ length: 50_000 }, () => generationId(now));
    for (const id of ids.slice(0, 100)) assert.match(id, /^gen-1796000000-[A-Za-z0-9]{20}$/);
    assert.equal(new Set(ids).size, ids.length);
    let descents = 0;
    for (let i = 1; i < ids.length; i++) if (!(ids[i - 1]! < ids[i]!)) descents++;
    assert.ok(descents <= 1, `ids ascend, except once where the 4-character sequence wraps (${descents} descents)`);
    const suffixes = new Set(ids.map((id) => id.slice(-16)));
    assert.equal(suffixes.size, ids.length, 'the random part alone is unique too');
  });
});
