import { randomFillSync } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// One call into the CSPRNG per 4 KiB of identifiers instead of one per identifier: a generation id
// is made on every request, and randomBytes(20) showed up in the request-path profile.
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** Random [A-Za-z0-9] string. 256 % 62 bias is negligible for identifiers. */
export function randomAlnum(length: number): string {
  if (length > pool.length) throw new RangeError('identifier too long');
  if (offset + length > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[pool[offset + i] % 62];
  offset += length;
  return out;
}

// Generation ids are the primary key of the generation records and the ledger. With a fully
// random suffix every insert lands on a random leaf of the id index within the current second's
// range, so each record flush dirtied (and wrote to the WAL) about one 4 KiB page per record. The
// suffix therefore starts with a per-process sequence in byte order: ids of one process come in
// ascending order and inserts append to the index. The other 16 characters stay random (95 bits).
const SORTED = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SEQUENCE_SPAN = 62 ** 4;
let sequence = Math.floor(Math.random() * SEQUENCE_SPAN);

/** OpenRouter generation id: `gen-<unix seconds>-<20 alnum>` (docs/COMPATIBILITY.md#generation-ids). */
export function generationId(nowMs = Date.now()): string {
  sequence = (sequence + 1) % SEQUENCE_SPAN;
  let n = sequence;
  let prefix = '';
  for (let i = 0; i < 4; i++) {
    prefix = SORTED[n % 62] + prefix;
    n = Math.floor(n / 62);
  }
  return `gen-${Math.floor(nowMs / 1000)}-${prefix}${randomAlnum(16)}`;
}
