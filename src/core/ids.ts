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

/** OpenRouter generation id: `gen-<unix seconds>-<20 alnum>` (spec §1.5). */
export function generationId(nowMs = Date.now()): string {
  return `gen-${Math.floor(nowMs / 1000)}-${randomAlnum(20)}`;
}
