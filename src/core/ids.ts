import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random [A-Za-z0-9] string. 256 % 62 bias is negligible for identifiers. */
export function randomAlnum(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i] % 62];
  return out;
}

/** OpenRouter generation id: `gen-<unix seconds>-<20 alnum>` (spec §1.5). */
export function generationId(nowMs = Date.now()): string {
  return `gen-${Math.floor(nowMs / 1000)}-${randomAlnum(20)}`;
}
