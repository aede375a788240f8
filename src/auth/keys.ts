import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../core/errors.js';
import type { ApiKey } from '../config/load.js';

export interface Caller {
  label: string | null; // null when auth is off
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * Bearer-key check against the configured keys. Keys are held only as SHA-256 digests and compared
 * in constant time, so neither memory dumps nor response timing reveal them.
 */
export class KeyRing {
  private readonly keys: { digest: Buffer; label: string }[];

  constructor(keys: ApiKey[]) {
    this.keys = keys.map((k) => ({ digest: sha256(k.key), label: k.label }));
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  authenticate(req: IncomingMessage): Caller {
    if (!this.enabled) return { label: null };
    const header = req.headers.authorization;
    if (!header) throw new ApiError(401, 'No auth credentials found');
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !match[1].trim()) throw new ApiError(401, 'No auth credentials found');
    const digest = sha256(match[1].trim());
    let found: string | null = null;
    for (const k of this.keys) if (timingSafeEqual(k.digest, digest)) found = k.label;
    if (found === null) throw new ApiError(401, 'User not found.');
    return { label: found };
  }
}
